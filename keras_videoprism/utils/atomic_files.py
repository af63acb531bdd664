"""Writing files and directories so that a reader sees all or nothing.

Every writer of the package goes through this module:
- `atomic_file(path)` gives a temporary file beside `path`; when the block
  ends without an error it is renamed to `path`;
- `atomic_directory(path)` does the same for a directory (a preset): the
  directory appears complete, or not at all, and never mixes old and new
  files.

Neither replaces an existing file or a non-empty directory unless
`overwrite=True`. An empty directory counts as absent. With `overwrite`, a
directory is replaced by renaming the old one aside, renaming the new one
in and deleting the old one; a process killed between the two renames
leaves the target absent and the old one in a hidden `.NAME.old-*` sibling.
A process killed while writing leaves only a hidden `.NAME.tmp-*` sibling.
"""

import contextlib
import os
import shutil
import tempfile


class OutputExistsError(FileExistsError):
    """A writer was asked to replace existing data without `overwrite`."""


def _is_empty_directory(path):
    return os.path.isdir(path) and not os.listdir(path)


def check_output(path, overwrite=False, directory=False):
    """Raises if writing `path` would replace a user's data.

    Cheap enough to run before any work, e.g. before loading a model; the
    writers check again when they rename into place.

    Args:
        path: str or path. The file or directory to be written.
        overwrite: bool. Whether existing data may be replaced.
        directory: bool. Whether `path` will be a directory; an existing
            empty directory is then accepted.

    Returns:
        `path` as a `str`.

    Raises:
        OutputExistsError: `path` exists (a non-empty directory, or any
            file) and `overwrite` is `False`.
        ValueError: the parent directory does not exist, or `path` is a
            directory where a file is to be written.

    Example:

    ```python
    check_output("features.npy")  # Raises if features.npy exists.
    ```
    """
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ValueError(
            f"Cannot write '{path}': its folder '{parent}' does not exist. "
            "Create it first."
        )
    if not directory and os.path.isdir(path):
        raise ValueError(
            f"Cannot write the file '{path}': it is a directory. Pass a "
            "file name."
        )
    if overwrite or not os.path.lexists(path):
        return path
    if directory and _is_empty_directory(path):
        return path
    kind = "a non-empty directory" if os.path.isdir(path) else "a file"
    raise OutputExistsError(
        f"'{path}' already exists ({kind}); nothing was written. Pass "
        "overwrite=True (--overwrite on the command line) to replace it, "
        "or choose another path."
    )


def _sibling(path, tag):
    parent, name = os.path.split(os.path.abspath(path))
    return parent, f".{name}.{tag}-"


def _default_mode(directory):
    """The permissions `open` or `mkdir` would give: the umask applied."""
    umask = os.umask(0o022)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def _move_without_replacing(temporary, target, path):
    try:
        # `link` fails if the target appeared meanwhile: never clobbers.
        os.link(temporary, target)
    except FileExistsError:
        check_output(path)
        raise
    except OSError:
        # A file system without hard links: check, then rename.
        check_output(path)
        os.replace(temporary, target)
    else:
        os.remove(temporary)


@contextlib.contextmanager
def atomic_file(path, overwrite=False):
    """A temporary path that becomes `path` when the block succeeds.

    Args:
        path: str or path. The file to write.
        overwrite: bool. Whether an existing file may be replaced.

    Yields:
        str. A path in the same directory as `path` to write to.

    Raises:
        OutputExistsError: `path` exists and `overwrite` is `False` (the
            check is repeated atomically when the file is moved in).

    Example:

    ```python
    with atomic_file("features.npy") as temporary:
        with open(temporary, "wb") as file:
            np.save(file, features)
    ```
    """
    path = check_output(path, overwrite)
    target = os.path.abspath(path)
    parent, prefix = _sibling(path, "tmp")
    handle, temporary = tempfile.mkstemp(prefix=prefix, dir=parent)
    os.close(handle)
    # `mkstemp` makes the file private (0600); give it the usual mode.
    os.chmod(temporary, _default_mode(directory=False))
    try:
        yield temporary
        if overwrite:
            os.replace(temporary, target)
        else:
            _move_without_replacing(temporary, target, path)
    finally:
        if os.path.lexists(temporary):
            os.remove(temporary)


@contextlib.contextmanager
def atomic_directory(path, overwrite=False):
    """A temporary directory that becomes `path` when the block succeeds.

    Args:
        path: str or path. The directory to write.
        overwrite: bool. Whether an existing non-empty directory (or file)
            may be replaced. An empty directory is always replaced.

    Yields:
        str. An empty directory beside `path` to write into.

    Raises:
        OutputExistsError: `path` is a file or a non-empty directory and
            `overwrite` is `False`.

    Example:

    ```python
    with atomic_directory("./my_preset") as temporary:
        backbone.save_weights(os.path.join(temporary, "model.weights.h5"))
    ```
    """
    path = check_output(path, overwrite, directory=True)
    target = os.path.abspath(path)
    parent, prefix = _sibling(path, "tmp")
    temporary = tempfile.mkdtemp(prefix=prefix, dir=parent)
    # `mkdtemp` makes the directory private (0700); give it the usual mode.
    os.chmod(temporary, _default_mode(directory=True))
    try:
        yield temporary
        if os.path.lexists(target) and not _is_empty_directory(target):
            # Re-checked here: the target may have been filled meanwhile.
            check_output(path, overwrite, directory=True)
            _, old_prefix = _sibling(path, "old")
            old = tempfile.mkdtemp(prefix=old_prefix, dir=parent)
            os.replace(target, os.path.join(old, "previous"))
            os.replace(temporary, target)
            _remove(old)
        else:
            # Replaces an empty directory; fails on a non-empty one.
            os.replace(temporary, target)
    finally:
        _remove(temporary)
