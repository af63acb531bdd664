"""Preset names, and the one `from_preset` of every keras-videoprism class.

`from_preset()` of our classes takes a name of `backbone_presets` (resolved
here to its Kaggle handle), the name of the tiny demo preset bundled with
the package, a handle (`kaggle://`, `hf://`, ...) or a local directory.
keras-hub's global preset tables are never read or written: keras-hub
registers the same four names for its own
`keras_hub.models.VideoPrismBackbone`, which keeps working as before.

Every class gets `presets` and `from_preset` from `VideoPrismPresetMixin`;
which format a preset holds and how each kind of class loads from it is
decided in `keras_videoprism.convert.preset_formats`.
"""

import copy
import importlib.resources
import os

from keras_videoprism.convert import preset_formats
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
    """`presets` and `from_preset` for every class of the package.

    Put it first among the bases, so that it takes over keras-hub's own
    `presets` and `from_preset` (which read keras-hub's global tables).
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
