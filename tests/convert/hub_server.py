"""A Hugging Face Hub on 127.0.0.1, serving local directories as repositories.

It answers the requests `huggingface_hub` makes to download files at a
revision (`repo_info`, the recursive tree listing, `HEAD`/`GET` of
`resolve/` URLs), so the real download code runs against repositories laid
out as the public ones: e.g. the official `.npz` on `main` and a
transformers checkpoint at `refs/pr/4`. `hub_endpoint` points
huggingface_hub at it (and at a fresh cache) for the duration of a test.
"""

import contextlib
import hashlib
import http.server
import json
import os
import threading
import unittest.mock
import urllib.parse


def _sha(text):
    return hashlib.sha1(text.encode()).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    repositories = {}  # {repo_id: {revision: directory}}

    def log_message(self, *args):
        pass

    def _revision(self, repo_id, revision):
        revisions = self.repositories.get(repo_id)
        if revisions is None:
            return None, None
        for name, directory in revisions.items():
            if revision in (name, _sha(f"{repo_id}@{name}")):
                return _sha(f"{repo_id}@{name}"), directory
        return "missing", None

    def _files(self, directory):
        return sorted(
            os.path.relpath(os.path.join(root, name), directory)
            for root, _, names in os.walk(directory)
            for name in names
        )

    def _error(self, status, code):
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("Content-Type", "application/json")
        body = json.dumps({"error": code}).encode()
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, value):
        body = json.dumps(value).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self):
        path = urllib.parse.urlparse(self.path).path
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
        if parts[:2] == ["api", "models"] and len(parts) == 4:
            return "api", "/".join(parts[2:4]), "revision", "main", ""
        if parts[:2] == ["api", "models"] and len(parts) >= 6:
            repo_id = "/".join(parts[2:4])
            return "api", repo_id, parts[4], parts[5], "/".join(parts[6:])
        if len(parts) >= 5 and parts[2] == "resolve":
            repo_id = "/".join(parts[:2])
            return "file", repo_id, None, parts[3], "/".join(parts[4:])
        return None, None, None, None, None

    def _resolve(self, repo_id, revision):
        sha, directory = self._revision(repo_id, revision)
        if sha is None:
            self._error(404, "RepoNotFound")
        elif directory is None:
            self._error(404, "RevisionNotFound")
        return sha, directory

    def do_GET(self):
        self._serve(send_body=True)

    def do_HEAD(self):
        self._serve(send_body=False)

    def _serve(self, send_body):
        kind, repo_id, action, revision, rest = self._route()
        if kind is None:
            return self._error(404, "NotFound")
        sha, directory = self._resolve(repo_id, revision)
        if directory is None:
            return None
        files = self._files(directory)
        if kind == "api" and action == "revision":
            siblings = [{"rfilename": name} for name in files]
            return self._json({"id": repo_id, "sha": sha, "siblings": siblings})
        if kind == "api" and action == "tree":
            return self._json(
                [
                    {
                        "type": "file",
                        "path": name,
                        "oid": _sha(name),
                        "size": os.path.getsize(os.path.join(directory, name)),
                    }
                    for name in files
                ]
            )
        if kind != "file" or rest not in files:
            return self._error(404, "EntryNotFound")
        with open(os.path.join(directory, rest), "rb") as file:
            body = file.read()
        self.send_response(200)
        self.send_header("X-Repo-Commit", sha)
        self.send_header("ETag", f'"{hashlib.sha256(body).hexdigest()}"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)


@contextlib.contextmanager
def serve(repositories):
    """Serves `{repo_id: {revision: directory}}`; yields the endpoint URL."""
    handler = type("Handler", (_Handler,), {"repositories": repositories})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def hub_endpoint(endpoint, cache_dir, offline=False):
    """Points huggingface_hub at `endpoint` and `cache_dir`, in process.

    The same as starting Python with `HF_ENDPOINT`, `HF_HUB_CACHE` (and
    `HF_HUB_OFFLINE`) set, for code that reads huggingface_hub's constants.
    """
    from huggingface_hub import constants

    template = endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    with contextlib.ExitStack() as stack:
        for name, value in (
            ("ENDPOINT", endpoint),
            ("HUGGINGFACE_CO_URL_TEMPLATE", template),
            ("HF_HUB_CACHE", cache_dir),
            ("HF_HUB_OFFLINE", offline),
        ):
            stack.enter_context(
                unittest.mock.patch.object(constants, name, value)
            )
        env = {"HF_HUB_OFFLINE": "1" if offline else "0"}
        stack.enter_context(unittest.mock.patch.dict(os.environ, env))
        yield
