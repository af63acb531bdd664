"""Brings a preset handle (`hf://`, `kaggle://`) to a local directory.

Every `from_preset` reads its preset through `local_directory` first, so
the format routing (`preset_formats.py`) and the loaders only ever read
local files, and hub trouble surfaces once, here, as one clear error:

- `hf://owner/repo` and `hf://owner/repo@revision` (a branch, tag, commit
  or pull-request ref such as `refs/pr/4`) are fetched with
  `huggingface_hub.snapshot_download` at that revision. A repository with
  a `config.json` (a preset, a transformers checkpoint) is fetched without
  its `.npz` files; one without (the google/videoprism-* `main` branches,
  which hold the official `flax_*.npz` checkpoint) gets its `.npz` file.
  `HF_HUB_OFFLINE=1` reads huggingface_hub's cache only.
- `kaggle://owner/model/framework/variation[/version]` is fetched with
  `kagglehub.model_download`. kagglehub serves a versioned handle from its
  cache; `KAGGLEHUB_OFFLINE=1` (read by this module; kagglehub has no
  offline switch) never goes to the network.
- local directories and other schemes (`gs://`, `modelscope://`) pass
  through to keras-hub's file utilities.
"""

import os

HF_SCHEME = "hf://"
KAGGLE_SCHEME = "kaggle://"
# Set to a true value, Kaggle handles are read from kagglehub's cache only.
KAGGLE_OFFLINE_VARIABLE = "KAGGLEHUB_OFFLINE"
_TRUE = ("1", "on", "yes", "true")
# Files a preset or transformers checkpoint never needs from a repository
# that also holds other formats (an official `.npz` is gigabytes).
_NOT_PRESET_FILES = ["*.npz", "*.msgpack", "*.bin", "*.pt", "*.pth", "*.onnx"]
_OFFICIAL_FILES = ["*.npz"]


class PresetDownloadError(ConnectionError):
    """A handle whose files could not be fetched; the message says why."""


def _flag(name):
    return os.environ.get(name, "").strip().lower() in _TRUE


def split_hf_handle(handle):
    """`(repo_id, revision)` of `hf://owner/repo[@revision]`.

    Args:
        handle: str. An `hf://` handle, e.g.
            `hf://google/videoprism-base-f16r288@refs/pr/4`.

    Returns:
        The repository id and the revision (`None` for the default branch).

    Raises:
        ValueError: the handle names no `owner/repo`.

    Example:

    ```python
    split_hf_handle("hf://google/videoprism-base-f16r288@refs/pr/4")
    # ('google/videoprism-base-f16r288', 'refs/pr/4')
    ```
    """
    body = handle[len(HF_SCHEME) :]
    repo_id, _, revision = body.partition("@")
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ValueError(
            "A Hugging Face handle has the form 'hf://owner/repo' or "
            "'hf://owner/repo@revision' (a branch, tag, commit or ref such as "
            f"'refs/pr/4'). Received: '{handle}'"
        )
    return repo_id, revision or None


def _unreachable(handle, tried, error, offline_hint):
    cause = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
    return PresetDownloadError(
        f"Could not fetch the preset '{handle}': {tried} failed ({cause}). "
        f"{offline_hint}To load without a network, download the preset's "
        "files once (on a machine with access) and pass their local "
        "directory to `from_preset()`, e.g. "
        "`VideoPrismBackbone.from_preset('/path/to/preset_dir')`."
    )


def _hf_offline():
    from huggingface_hub import constants

    return constants.HF_HUB_OFFLINE or _flag("HF_HUB_OFFLINE")


def _hf_patterns(api, repo_id, revision):
    """`(ignore_patterns, allow_patterns)` of the files its format needs.

    One `repo_info` request, without retries: an unreachable hub fails
    here at once, before `snapshot_download` (which retries its listing
    for about 25 s).
    """
    info = api.repo_info(repo_id, revision=revision)
    files = [sibling.rfilename for sibling in info.siblings or []]
    if "config.json" in files:
        return _NOT_PRESET_FILES, None
    if any(name.endswith(".npz") for name in files):
        return None, _OFFICIAL_FILES
    raise FileNotFoundError(
        f"The Hugging Face repository '{repo_id}' (revision "
        f"{revision or 'main'}) holds neither a preset or transformers "
        "checkpoint (`config.json`) nor an official VideoPrism `.npz` "
        f"checkpoint. Its files: {sorted(files)[:10]}. The google/videoprism-*"
        " repositories keep the transformers weights at a pull-request "
        "revision: pass e.g. 'hf://google/videoprism-base-f16r288@refs/pr/4'."
    )


def _cached_hf_snapshot(repo_id, revision):
    import huggingface_hub

    for ignore, allow in ((_NOT_PRESET_FILES, None), (None, _OFFICIAL_FILES)):
        try:
            return huggingface_hub.snapshot_download(
                repo_id,
                revision=revision,
                local_files_only=True,
                ignore_patterns=ignore,
                allow_patterns=allow,
            )
        except FileNotFoundError:
            continue
    return None


def _hf_directory(handle):
    import huggingface_hub
    from huggingface_hub import constants
    from huggingface_hub import errors

    repo_id, revision = split_hf_handle(handle)
    where = f"revision '{revision}'" if revision else "the main branch"
    if _hf_offline():
        directory = _cached_hf_snapshot(repo_id, revision)
        if directory is None:
            raise PresetDownloadError(
                f"The preset '{handle}' is not in the Hugging Face cache and "
                "HF_HUB_OFFLINE is set, so it was not downloaded. Unset "
                "HF_HUB_OFFLINE to download it, or pass the local directory "
                "of its files to `from_preset()`."
            )
        return directory
    tried = (
        f"huggingface_hub at {constants.ENDPOINT} "
        f"(repository '{repo_id}', {where})"
    )
    try:
        api = huggingface_hub.HfApi()
        ignore, allow = _hf_patterns(api, repo_id, revision)
        return huggingface_hub.snapshot_download(
            repo_id,
            revision=revision,
            ignore_patterns=ignore,
            allow_patterns=allow,
        )
    except errors.RevisionNotFoundError as error:
        raise FileNotFoundError(
            f"The Hugging Face repository '{repo_id}' has no revision "
            f"'{revision}' (handle '{handle}'). Pass a branch, tag, commit "
            "or ref such as 'refs/pr/4'."
        ) from error
    except errors.RepositoryNotFoundError as error:
        raise FileNotFoundError(
            f"No Hugging Face repository '{repo_id}' (handle '{handle}'), or "
            "it is private or gated: check the name, or log in with "
            "`hf auth login` for a gated repository."
        ) from error
    except errors.LocalEntryNotFoundError as error:
        # huggingface_hub's own "not reachable and not cached".
        hint = "Set HF_HUB_OFFLINE=1 to use a cached copy only. "
        raise _unreachable(handle, tried, error, hint) from None
    except FileNotFoundError:
        raise
    except Exception as error:
        hint = "Set HF_HUB_OFFLINE=1 to use a cached copy only. "
        raise _unreachable(handle, tried, error, hint) from None


def _kaggle_directory(handle):
    import kagglehub

    body = handle[len(KAGGLE_SCHEME) :]
    if _flag(KAGGLE_OFFLINE_VARIABLE):
        from kagglehub.cache import Cache
        from kagglehub.handle import parse_model_handle

        model = parse_model_handle(body)
        directory = model.is_versioned() and Cache().load_from_cache(model)
        if not directory:
            raise PresetDownloadError(
                f"The preset '{handle}' is not in kagglehub's cache and "
                f"{KAGGLE_OFFLINE_VARIABLE} is set, so it was not downloaded"
                " (only handles with a version are looked up in the cache). "
                f"Unset {KAGGLE_OFFLINE_VARIABLE} to download it, or pass the"
                " local directory of its files to `from_preset()`."
            )
        return directory
    try:
        return kagglehub.model_download(body)
    except Exception as error:
        hint = (
            f"Set {KAGGLE_OFFLINE_VARIABLE}=1 to use kagglehub's cached copy "
            "only. "
        )
        tried = f"kagglehub.model_download('{body}')"
        raise _unreachable(handle, tried, error, hint) from None


def local_directory(handle):
    """The local directory holding the files of a preset handle.

    Args:
        handle: str. A local directory, an `hf://owner/repo[@revision]` or
            `kaggle://...` handle (downloaded, or read from the cache), or
            another handle keras-hub reads (returned unchanged).

    Returns:
        A local directory for `hf://` and `kaggle://` handles, else
        `handle`.

    Raises:
        PresetDownloadError: the hub could not be reached (or offline mode
            is set and the files are not cached); the message names the
            handle, what was tried and how to load from a local directory.
        FileNotFoundError: the repository or revision does not exist, or
            holds no VideoPrism checkpoint.

    Example:

    ```python
    directory = local_directory(
        "hf://google/videoprism-base-f16r288@refs/pr/4"
    )
    ```
    """
    if handle.startswith(HF_SCHEME):
        return _hf_directory(handle)
    if handle.startswith(KAGGLE_SCHEME):
        return _kaggle_directory(handle)
    return handle
