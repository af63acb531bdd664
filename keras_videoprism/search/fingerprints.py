"""Fingerprints of video files and identities of presets.

A file's fingerprint (size, modification time, BLAKE2b hash of its bytes)
tells a rerun which files are already indexed as they are now. A preset's
identity (a BLAKE2b hash of its `config.json` and weight files) tells an
index which model made its embeddings, so that it never mixes two.
"""

import hashlib
import os

_CHUNK = 1 << 20
# The files of a local preset that decide its embeddings.
_PRESET_SUFFIXES = (".json", ".h5", ".safetensors", ".model", ".npz")
_IGNORED_PRESET_FILES = ("metadata.json",)


def _hash_file(path, digest):
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)


def file_fingerprint(path):
    """The size, mtime and content hash of a file.

    Args:
        path: str or `os.PathLike`. The file.

    Returns:
        A dict with `size` (bytes), `mtime_ns` (int) and `content_hash`
        (the hex BLAKE2b digest of the bytes).

    Example:

    ```python
    file_fingerprint("clip.mp4")["content_hash"]
    ```
    """
    path = os.fspath(path)
    stat = os.stat(path)
    digest = hashlib.blake2b(digest_size=20)
    _hash_file(path, digest)
    return {
        "size": int(stat.st_size),
        "mtime_ns": int(stat.st_mtime_ns),
        "content_hash": digest.hexdigest(),
    }


def same_fingerprint(a, b):
    """Whether two fingerprints (dicts, extra keys ignored) are equal."""
    keys = ("size", "mtime_ns", "content_hash")
    return all(a.get(key) == b.get(key) for key in keys)


def preset_identity(handle):
    """A hash naming the weights and config of a preset.

    A local preset folder is hashed from the bytes of its config and weight
    files (`config.json`, `*.weights.h5`, tokenizer assets...; its
    `metadata.json`, which holds no weights, is left out), so that two
    folders holding the same model get the same identity and a retrained
    one a new one. A remote handle (e.g. `kaggle://...` with a version)
    names immutable weights: its identity is the hash of the handle.

    Args:
        handle: str. A resolved preset handle or folder.

    Returns:
        A hex string.

    Example:

    ```python
    preset_identity("./my_preset")
    ```
    """
    digest = hashlib.blake2b(digest_size=20)
    if not os.path.isdir(handle):
        digest.update(f"handle:{handle}".encode())
        return digest.hexdigest()
    for root, folders, files in os.walk(handle):
        folders.sort()
        for name in sorted(files):
            if name in _IGNORED_PRESET_FILES or name.startswith("."):
                continue
            if not name.endswith(_PRESET_SUFFIXES):
                continue
            path = os.path.join(root, name)
            digest.update(os.path.relpath(path, handle).encode() + b"\0")
            _hash_file(path, digest)
    return digest.hexdigest()
