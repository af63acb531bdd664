"""Writes presets whole: `save_preset` and the `save_to_preset` of our classes.

keras-hub's `save_to_preset()` writes file after file into the target
directory, over whatever is there. Ours writes every file into a hidden
temporary sibling, which is renamed into place at the end (see
`keras_videoprism.utils.atomic_files`): a preset directory is complete or
absent, an existing non-empty directory is replaced only with
`overwrite=True`, and files of an older preset are never mixed in.

keras-hub's task saver calls `save_to_preset()` of the backbone and the
preprocessor, which calls it for the tokenizer and the video converter;
those nested calls write straight into the temporary directory.
"""

import contextvars
import os

import keras_hub

from keras_videoprism.utils.atomic_files import atomic_directory

# The temporary directory a `save_preset` call is writing, if any.
_WRITING = contextvars.ContextVar("keras_videoprism_preset_dir", default=None)


def is_writing(preset_dir):
    """Whether `preset_dir` is the temporary directory being written now."""
    writing = _WRITING.get()
    return writing is not None and os.path.abspath(preset_dir) == writing


def save_preset(preset_dir, objects, overwrite=False, max_shard_size=10):
    """Saves several objects into one preset directory, all or nothing.

    Args:
        preset_dir: str or path. The preset directory to write. It must not
            exist, or be empty, unless `overwrite=True`.
        objects: list. Objects with keras-hub's `save_to_preset()`: a
            backbone or task, and e.g. a tokenizer and a video converter.
        overwrite: bool. Whether to replace an existing non-empty
            directory (the whole directory: no old file survives).
        max_shard_size: float or None. Maximum size in GB of a weights
            shard of a backbone or task, as in keras-hub.

    Returns:
        `preset_dir` as a `str`.

    Raises:
        OutputExistsError: `preset_dir` is a file or a non-empty directory
            and `overwrite` is `False`.

    Example:

    ```python
    save_preset(
        "./my_preset",
        [backbone, VideoPrismTokenizer(proto="spiece.model")],
    )
    ```
    """
    preset_dir = os.fspath(preset_dir)
    with atomic_directory(preset_dir, overwrite) as temporary:
        token = _WRITING.set(os.path.abspath(temporary))
        try:
            for item in objects:
                kwargs = {}
                if isinstance(
                    item, (keras_hub.models.Backbone, keras_hub.models.Task)
                ):
                    kwargs["max_shard_size"] = max_shard_size
                item.save_to_preset(temporary, **kwargs)
        finally:
            _WRITING.reset(token)
    return preset_dir
