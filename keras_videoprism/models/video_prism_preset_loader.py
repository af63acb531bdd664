"""Preset names, and the one `from_preset` of every keras-videoprism class.

`from_preset()` of our classes takes a name of `backbone_presets` (resolved
here to its Kaggle handle), the name of the tiny demo preset bundled with
the package, a handle (`kaggle://`, `hf://`, ...) or a local directory.
keras-hub's global preset tables are never read or written: keras-hub
registers the same four names for its own
`keras_hub.models.VideoPrismBackbone`, which keeps working as before.

Every class gets `presets`, `from_preset` and `save_to_preset` from
`VideoPrismPresetMixin`; which format a preset holds and how each kind of
class loads from it is decided in `keras_videoprism.convert.preset_formats`,
and how presets are written, in `video_prism_preset_saver`.
"""

import copy
import importlib.resources
import os

from keras_videoprism.convert import preset_formats
from keras_videoprism.models.video_prism_preset_saver import is_writing
from keras_videoprism.models.video_prism_preset_saver import save_preset
from keras_videoprism.models.video_prism_presets import backbone_presets
from keras_videoprism.utils.keras_hub_compat import classproperty

# The tiny random-weights preset bundled in the package (runs offline).
DEMO_PRESET = "videoprism_demo_tiny"


def demo_preset_path():
    """Path of the tiny random-weights demo preset bundled in the package."""
    return str(
        importlib.resources.files("keras_videoprism") / "data" / DEMO_PRESET
    )


def presets():
    """A copy of the preset table: `{name: {"metadata", "kaggle_handle"}}`."""
    return copy.deepcopy(backbone_presets)


def video_text_presets():
    """The presets of video-text (LvT) models, which have a tokenizer."""
    return {
        name: preset
        for name, preset in presets().items()
        if "vocabulary_size" in preset["metadata"]
    }


def resolve_preset(preset):
    """The handle or directory a preset identifier stands for.

    Args:
        preset: str or path. A preset name of `backbone_presets`, the demo
            preset's name `"videoprism_demo_tiny"`, a handle such as
            `kaggle://...` or `hf://...`, or a local directory.

    Returns:
        A handle or path that keras-hub's file utilities read.

    Raises:
        ValueError: an unknown name; the message lists the known ones.

    Example:

    ```python
    resolve_preset("videoprism_public_v1_base")
    # 'kaggle://keras/videoprism/keras/videoprism_public_v1_base/1'
    ```
    """
    if not isinstance(preset, (str, os.PathLike)):
        raise ValueError(
            "A preset must be a preset name, a handle or a directory path. "
            f"Received: preset={preset!r}"
        )
    preset = os.fspath(preset)
    if preset in backbone_presets:
        return backbone_presets[preset]["kaggle_handle"]
    if preset == DEMO_PRESET:
        return demo_preset_path()
    if "://" in preset or os.path.exists(preset):
        return preset
    raise ValueError(
        f"Unknown preset '{preset}'. Known VideoPrism presets: "
        f"{', '.join(sorted([*backbone_presets, DEMO_PRESET]))}. Or pass a "
        "preset directory, or a handle such as 'kaggle://...' or 'hf://...'."
    )


def from_preset(cls, preset, load_weights=True, **kwargs):
    """Loads a preset into `cls`, the way keras-hub's `from_preset` does.

    Args:
        cls: the class to load, e.g. `VideoPrismBackbone` or a task class.
        preset: str or path. A preset name, handle or directory.
        load_weights: bool. Whether to load the weights (backbones and
            tasks). Defaults to `True`.
        **kwargs: passed to the class, as keras-hub's `from_preset` does.

    Returns:
        An instance of `cls` (or of its subclass for this preset).

    Example:

    ```python
    backbone = from_preset(VideoPrismBackbone, "videoprism_public_v1_base")
    ```
    """
    return preset_formats.load_preset(
        cls, resolve_preset(preset), load_weights=load_weights, **kwargs
    )


class VideoPrismPresetMixin:
    """`presets`, `from_preset` and `save_to_preset` for every class.

    Put it first among the bases, so that it takes over keras-hub's own
    `presets` and `from_preset` (which read keras-hub's global tables) and
    `save_to_preset` (which writes over existing files).
    Classes that need a video-text (LvT) preset set
    `video_text_presets_only = True`.
    """

    video_text_presets_only = False

    @classproperty
    def presets(cls):
        """The VideoPrism presets: `{name: {"metadata", "kaggle_handle"}}`."""
        if cls.video_text_presets_only:
            return video_text_presets()
        return presets()

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Instantiates the class from a preset.

        `preset` is a name of `presets` (resolved to its Kaggle handle),
        `"videoprism_demo_tiny"` (the tiny random-weights preset bundled in
        the package), a `kaggle://` or `hf://` handle, or a directory. It
        may hold a preset of ours (`save_to_preset()`), a keras-hub
        VideoPrism preset or a transformers VideoPrism checkpoint; the last
        two are converted on load. Called on a base class (e.g.
        `VideoClassifier`), it returns the subclass that matches the
        preset's backbone.

        Args:
            preset: str. A preset name, handle or directory.
            load_weights: bool. If `False`, the weights of backbones and
                tasks are randomly initialized. Defaults to `True`.
            **kwargs: constructor arguments to override, e.g. `dtype`,
                `num_classes` (a new classifier head) or `preprocessor`.

        Returns:
            An instance of the class, or of its subclass for the preset.

        Example:

        ```python
        backbone = keras_videoprism.models.VideoPrismBackbone.from_preset(
            "videoprism_public_v1_base"
        )
        ```
        """
        return from_preset(cls, preset, load_weights=load_weights, **kwargs)

    def save_to_preset(self, preset_dir, *, overwrite=False, **kwargs):
        """Saves the object to a preset directory, all or nothing.

        The files are written into a hidden temporary sibling directory,
        renamed to `preset_dir` at the end: the preset is complete or
        absent, even if the process is killed. To save several objects
        into one preset (e.g. a backbone and a tokenizer), use
        `keras_videoprism.models.save_preset`.

        Args:
            preset_dir: str or path. The preset directory to write; it must
                not exist, or be empty, unless `overwrite=True`.
            overwrite: bool. Whether to replace an existing non-empty
                directory as a whole (no old file survives). Defaults to
                `False`.
            **kwargs: keras-hub's `save_to_preset()` arguments, e.g.
                `max_shard_size` for backbones and tasks.

        Raises:
            OutputExistsError: `preset_dir` is a file or a non-empty
                directory and `overwrite` is `False`.

        Example:

        ```python
        classifier.save_to_preset("./my_classifier")
        ```
        """
        if is_writing(preset_dir):
            # Called by keras-hub's saver of a task or preprocessor.
            return super().save_to_preset(preset_dir, **kwargs)
        save_preset(preset_dir, [self], overwrite=overwrite, **kwargs)
