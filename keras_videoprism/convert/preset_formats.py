"""Which format a preset holds, and how each kind of class loads from it.

A handle (`hf://owner/repo[@revision]`, `kaggle://...`) is first brought
to a local directory by `preset_hubs.local_directory`. A preset may hold
one of four formats, told apart by its `config.json`:
- ours, written by `save_to_preset()` (`registered_name`
  `keras_videoprism>...`), loaded by keras-hub's machinery with checks of
  the weights file;
- keras-hub's own VideoPrism preset (`keras_hub>VideoPrismBackbone`, the
  format of the Kaggle handles), converted on load;
- a transformers VideoPrism checkpoint (`model_type` `videoprism...`, the
  format of `hf://` handles of transformers models), converted on load;
- no `config.json` but one official `flax_*.npz` checkpoint (the `main`
  branches of the google/videoprism-* repositories), converted on load
  with the configuration its array shapes give (`official_preset.py`).

`load_preset` is the one implementation of `from_preset` behind every class
of the package (backbones, tasks, preprocessors, tokenizers, video
converters). Preset names are resolved to handles one level up, in
`keras_videoprism.models.video_prism_preset_loader`.
"""

import inspect
import os

import keras_hub

from keras_videoprism.convert import preset_hubs
from keras_videoprism.convert.keras_hub_preset import KerasHubPresetLoader
from keras_videoprism.convert.official_preset import OfficialPresetLoader
from keras_videoprism.convert.official_preset import find_official_checkpoint
from keras_videoprism.convert.preset_loader import CONFIG_FILE
from keras_videoprism.convert.preset_loader import KERAS_HUB_BACKBONE
from keras_videoprism.convert.preset_loader import PACKAGE_PREFIX
from keras_videoprism.convert.preset_loader import TRANSFORMERS_MODEL_TYPES
from keras_videoprism.convert.preset_loader import VideoPrismPresetLoader
from keras_videoprism.convert.preset_loader import read_preset_config
from keras_videoprism.convert.transformers_checkpoint import (
    TransformersPresetLoader,
)
from keras_videoprism.utils.keras_hub_compat import find_subclass


def get_preset_loader(handle):
    """The keras-hub `PresetLoader` that reads `handle` into our classes.

    Args:
        handle: str or path. A preset directory or a handle (`kaggle://`,
            `hf://owner/repo[@revision]`, ...), downloaded first; names are
            resolved before, by `video_prism_preset_loader.resolve_preset`.

    Returns:
        A `keras_hub` preset loader whose `check_backbone_class()` is our
        `VideoPrismBackbone` (or the class a preset of ours names), reading
        local files.

    Raises:
        ValueError: a directory that is not a preset, or a preset of
            another model.
        preset_hubs.PresetDownloadError: a hub that cannot be reached.

    Example:

    ```python
    loader = get_preset_loader("./my_preset")
    backbone = loader.load_backbone(VideoPrismBackbone, load_weights=True)
    ```
    """
    if isinstance(handle, str):
        handle = preset_hubs.local_directory(handle)
    if os.path.isdir(handle) and not os.path.exists(
        os.path.join(handle, CONFIG_FILE)
    ):
        checkpoint = find_official_checkpoint(handle)
        if checkpoint is not None:
            return OfficialPresetLoader(handle, checkpoint)
    config = read_preset_config(handle)
    registered_name = str(config.get("registered_name", ""))
    if registered_name.startswith(PACKAGE_PREFIX):
        return VideoPrismPresetLoader(handle, config)
    if registered_name == KERAS_HUB_BACKBONE:
        return KerasHubPresetLoader(handle, config)
    if config.get("model_type") in TRANSFORMERS_MODEL_TYPES:
        return TransformersPresetLoader(handle, config)
    found = registered_name or config.get("model_type") or "an unknown model"
    raise ValueError(
        f"'{handle}' is not a VideoPrism preset: its {CONFIG_FILE} describes "
        f"{found}. Supported: presets of keras-videoprism, keras-hub's "
        "VideoPrism presets, transformers VideoPrism checkpoints and "
        "directories with an official VideoPrism `.npz` checkpoint."
    )


def _needs_text_tower(cls):
    return getattr(cls, "video_text_presets_only", False) or issubclass(
        cls, keras_hub.tokenizers.Tokenizer
    )


def _needs_num_classes(cls):
    parameter = inspect.signature(cls.__init__).parameters.get("num_classes")
    required = inspect.Parameter.empty
    return parameter is not None and parameter.default is required


def _check_class_fits(cls, loader, handle, kwargs):
    """Clear errors for a class the preset's model cannot give."""
    backbone_config = loader.config.get("config")
    video_only = isinstance(backbone_config, dict) and not (
        backbone_config.get("num_text_layers")
    )
    if _needs_text_tower(cls) and video_only:
        raise ValueError(
            f"The preset '{handle}' holds a video-only VideoPrism model (no "
            f"text tower), so it has no tokenizer: `{cls.__name__}` needs a "
            "video-text (LvT) preset, e.g. 'videoprism_lvt_public_v1_base'. "
            "For video features, use `VideoPrismBackbone` (and "
            "`VideoPrismVideoClassifierPreprocessor`) with this preset."
        )
    if (
        issubclass(cls, keras_hub.models.Task)
        and _needs_num_classes(cls)
        and "num_classes" not in kwargs
        and not loader.holds_classifier()
    ):
        raise ValueError(
            f"The preset '{handle}' holds a backbone without a "
            f"classification head, so `{cls.__name__}.from_preset()` needs "
            "`num_classes=` (the number of classes of a new, untrained "
            "head), e.g. `from_preset(preset, num_classes=10)`."
        )


def load_preset(cls, handle, load_weights=True, **kwargs):
    """Loads a preset into `cls`, the way keras-hub's `from_preset` does.

    The preset is read by `get_preset_loader`, then the class-specific
    steps follow keras-hub's `from_preset` of the matching base class.

    Args:
        cls: the class to load, e.g. `VideoPrismBackbone` or a task class.
        handle: str or path. A preset directory or handle.
        load_weights: bool. Whether to load the weights (backbones and
            tasks). Defaults to `True`.
        **kwargs: passed to the class, as keras-hub's `from_preset` does.

    Returns:
        An instance of `cls` (or of its subclass for this preset).

    Example:

    ```python
    backbone = load_preset(VideoPrismBackbone, "./my_preset")
    ```
    """
    loader = get_preset_loader(handle)
    _check_class_fits(cls, loader, handle, kwargs)
    backbone_cls = loader.check_backbone_class()
    if issubclass(cls, keras_hub.models.Backbone):
        if not issubclass(backbone_cls, cls):
            raise ValueError(
                f"The preset '{handle}' holds a `{backbone_cls.__name__}`, "
                f"which is not a `{cls.__name__}`."
            )
        return loader.load_backbone(backbone_cls, load_weights, **kwargs)
    if getattr(cls, "backbone_cls", None) is not backbone_cls:
        cls = find_subclass(handle, cls, backbone_cls)
    if issubclass(cls, keras_hub.models.Task):
        load_task_weights = "num_classes" not in kwargs
        return loader.load_task(cls, load_weights, load_task_weights, **kwargs)
    if issubclass(cls, keras_hub.models.Preprocessor):
        return loader.load_preprocessor(cls, **kwargs)
    if issubclass(cls, keras_hub.tokenizers.Tokenizer):
        return loader.load_tokenizer(cls, **kwargs)
    return loader.load_video_converter(cls, **kwargs)
