"""Which format a preset holds, and how each kind of class loads from it.

A preset may hold one of three formats, told apart by its `config.json`:
- ours, written by `save_to_preset()` (`registered_name`
  `keras_videoprism>...`), loaded by keras-hub's machinery with checks of
  the weights file;
- keras-hub's own VideoPrism preset (`keras_hub>VideoPrismBackbone`, the
  format of the Kaggle handles), converted on load;
- a transformers VideoPrism checkpoint (`model_type` `videoprism...`, the
  format of `hf://` handles of transformers models), converted on load.

`load_preset` is the one implementation of `from_preset` behind every class
of the package (backbones, tasks, preprocessors, tokenizers, video
converters). Preset names are resolved to handles one level up, in
`keras_videoprism.models.video_prism_preset_loader`.
"""

import keras_hub

from keras_videoprism.convert.keras_hub_preset import KerasHubPresetLoader
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
            `hf://`, ...); names are resolved before, by
            `video_prism_preset_loader.resolve_preset`.

    Returns:
        A `keras_hub` preset loader whose `check_backbone_class()` is our
        `VideoPrismBackbone` (or the class a preset of ours names).

    Raises:
        ValueError: a directory that is not a preset, or a preset of
            another model.

    Example:

    ```python
    loader = get_preset_loader("./my_preset")
    backbone = loader.load_backbone(VideoPrismBackbone, load_weights=True)
    ```
    """
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
        "VideoPrism presets and transformers VideoPrism checkpoints."
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
