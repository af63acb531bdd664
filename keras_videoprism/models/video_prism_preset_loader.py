"""Preset names and preset formats for keras-videoprism classes.

`from_preset()` of our classes takes a name of `backbone_presets`, resolved
here to its Kaggle handle, or a handle (`kaggle://`, `hf://`, ...) or a
local directory. keras-hub's global preset tables are never read or written:
keras-hub registers the same four names for its own
`keras_hub.models.VideoPrismBackbone`, which keeps working as before.

A preset may hold one of three formats, told apart by its `config.json`:
- ours, written by `save_to_preset()` (`registered_name`
  `keras_videoprism>...`), loaded by keras-hub's machinery with checks of
  the weights file;
- keras-hub's own VideoPrism preset (`keras_hub>VideoPrismBackbone`, the
  format of the Kaggle handles), converted on load;
- a transformers VideoPrism checkpoint (`model_type` `videoprism...`, the
  format of `hf://` handles of transformers models), converted on load.
"""

import collections
import copy
import os
import warnings

import h5py
import keras
import keras_hub
import numpy as np

from keras_videoprism.models.video_prism_presets import backbone_presets
from keras_videoprism.utils.keras_hub_compat import CONFIG_FILE
from keras_videoprism.utils.keras_hub_compat import MODEL_WEIGHTS_FILE
from keras_videoprism.utils.keras_hub_compat import (
    SHARDED_MODEL_WEIGHTS_CONFIG_FILE,
)
from keras_videoprism.utils.keras_hub_compat import TOKENIZER_ASSET_DIR
from keras_videoprism.utils.keras_hub_compat import TOKENIZER_CONFIG_FILE
from keras_videoprism.utils.keras_hub_compat import KerasPresetLoader
from keras_videoprism.utils.keras_hub_compat import PresetLoader
from keras_videoprism.utils.keras_hub_compat import check_file_exists
from keras_videoprism.utils.keras_hub_compat import find_subclass
from keras_videoprism.utils.keras_hub_compat import get_file
from keras_videoprism.utils.keras_hub_compat import load_json

PACKAGE_PREFIX = "keras_videoprism>"
KERAS_HUB_BACKBONE = "keras_hub>VideoPrismBackbone"
TRANSFORMERS_MODEL_TYPES = ("videoprism", "videoprism_vision_model")
BACKBONE_REGISTERED_NAME = "keras_videoprism>VideoPrismBackbone"
# The SentencePiece model of keras-hub's tokenizer assets.
TOKENIZER_ASSET = f"{TOKENIZER_ASSET_DIR}/vocabulary.spm"
_PRODUCTION_TOKENIZER = (
    "the public video-text checkpoints use the 32,000-piece T5 `c4_en` "
    "SentencePiece model (gs://t5-data/vocabs/cc_en.32000/"
    "sentencepiece.model), which is not bundled"
)


def presets():
    """A copy of the preset table: `{name: {"metadata", "kaggle_handle"}}`."""
    return copy.deepcopy(backbone_presets)


def resolve_preset(preset):
    """The handle or directory a preset identifier stands for.

    Args:
        preset: str or path. A preset name of `backbone_presets`, a handle
            such as `kaggle://...` or `hf://...`, or a local directory.

    Returns:
        A handle or path that keras-hub's file utilities read.

    Raises:
        ValueError: an unknown name; the message lists the known ones.
    """
    if not isinstance(preset, (str, os.PathLike)):
        raise ValueError(
            "A preset must be a preset name, a handle or a directory path. "
            f"Received: preset={preset!r}"
        )
    preset = os.fspath(preset)
    if preset in backbone_presets:
        return backbone_presets[preset]["kaggle_handle"]
    if "://" in preset or os.path.exists(preset):
        return preset
    raise ValueError(
        f"Unknown preset '{preset}'. Known VideoPrism presets: "
        f"{', '.join(sorted(backbone_presets))}. Or pass a preset "
        "directory, or a handle such as 'kaggle://...' or 'hf://...'."
    )


def _check_local_preset(path):
    if os.path.isfile(path):
        hint = ""
        if path.endswith(".npz"):
            hint = (
                " An official `.npz` checkpoint loads with "
                "`keras_videoprism.convert.from_official_checkpoint` or "
                "`keras-videoprism convert`."
            )
        raise ValueError(f"'{path}' is a file, not a preset directory.{hint}")
    if not os.path.exists(os.path.join(path, CONFIG_FILE)):
        raise ValueError(
            f"'{path}' is not a preset directory: it has no {CONFIG_FILE}. "
            "A preset directory is written by `save_to_preset()` (our "
            "format or keras-hub's) or by transformers' `save_pretrained()`"
            f". Found: {sorted(os.listdir(path))[:10]}"
        )


def get_preset_loader(preset):
    """The keras-hub `PresetLoader` that reads `preset` into our classes.

    Args:
        preset: str or path. As for `resolve_preset`.

    Returns:
        A `keras_hub` preset loader whose `check_backbone_class()` is our
        `VideoPrismBackbone` (or the class a preset of ours names).

    Raises:
        ValueError: an unknown name, a directory that is not a preset, or
            a preset of another model.
    """
    handle = resolve_preset(preset)
    if os.path.exists(handle):
        _check_local_preset(handle)
    config = load_json(handle, CONFIG_FILE)
    registered_name = str(config.get("registered_name", ""))
    if registered_name.startswith(PACKAGE_PREFIX):
        return VideoPrismPresetLoader(handle, config)
    if registered_name == KERAS_HUB_BACKBONE:
        from keras_videoprism.convert.keras_hub_preset import (
            KerasHubPresetLoader,
        )

        return KerasHubPresetLoader(handle, config)
    if config.get("model_type") in TRANSFORMERS_MODEL_TYPES:
        from keras_videoprism.convert.transformers_checkpoint import (
            TransformersPresetLoader,
        )

        return TransformersPresetLoader(handle, config)
    found = registered_name or config.get("model_type") or "an unknown model"
    raise ValueError(
        f"'{preset}' is not a VideoPrism preset: its {CONFIG_FILE} describes "
        f"{found}. Supported: presets of keras-videoprism, keras-hub's "
        "VideoPrism presets and transformers VideoPrism checkpoints."
    )


def _check_backbone_compatible(cls, backbone_cls, preset):
    if not issubclass(backbone_cls, cls):
        raise ValueError(
            f"The preset '{preset}' holds a `{backbone_cls.__name__}`, "
            f"which is not a `{cls.__name__}`."
        )


def from_preset(cls, preset, load_weights=True, **kwargs):
    """Loads a preset into `cls`, the way keras-hub's `from_preset` does.

    One entry point for every kind of our classes: backbones, tasks,
    preprocessors, tokenizers and video converters. The preset is read by
    `get_preset_loader`, then the class-specific steps follow keras-hub's
    `from_preset` of the matching base class.

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
    backbone = video_prism_preset_loader.from_preset(
        VideoPrismBackbone, "videoprism_public_v1_base"
    )
    ```
    """
    loader = get_preset_loader(preset)
    backbone_cls = loader.check_backbone_class()
    if issubclass(cls, keras_hub.models.Backbone):
        _check_backbone_compatible(cls, backbone_cls, preset)
        return loader.load_backbone(backbone_cls, load_weights, **kwargs)
    if getattr(cls, "backbone_cls", None) is not backbone_cls:
        cls = find_subclass(preset, cls, backbone_cls)
    if issubclass(cls, keras_hub.models.Task):
        load_task_weights = "num_classes" not in kwargs
        return loader.load_task(cls, load_weights, load_task_weights, **kwargs)
    if issubclass(cls, keras_hub.models.Preprocessor):
        return loader.load_preprocessor(cls, **kwargs)
    if issubclass(cls, keras_hub.tokenizers.Tokenizer):
        return loader.load_tokenizer(cls, **kwargs)
    return loader.load_video_converter(cls, **kwargs)


def missing_tokenizer_error(preset, error):
    """A `FileNotFoundError` that says how to give a preset a tokenizer."""
    return FileNotFoundError(
        f"The preset '{preset}' has no tokenizer model ({error}). Only "
        "video-text (LvT) presets have a tokenizer, and its SentencePiece "
        f"model must be in the preset as `{TOKENIZER_ASSET}`; "
        f"{_PRODUCTION_TOKENIZER}. Add it with "
        "`VideoPrismTokenizer(proto=path).save_to_preset(preset_dir)`, or "
        "pass `proto=` to `VideoPrismTokenizer`."
    )


def video_converter_config(backbone_config):
    """`VideoPrismVideoConverter` arguments for a backbone configuration."""
    image_shape = backbone_config["image_shape"]
    if backbone_config.get("data_format") == "channels_first":
        image_size = image_shape[1:]
    else:
        image_size = image_shape[:2]
    return {
        "num_frames": backbone_config["num_frames"],
        "image_size": tuple(image_size),
        # The official demos resize whole frames, without cropping.
        "crop_to_aspect_ratio": False,
    }


# --- Checks of our own weights files ---------------------------------------
def _weights_file_shapes(path):
    """The shapes of the arrays in a `.weights.h5` file."""
    shapes = []

    def visit(name, item):
        if isinstance(item, h5py.Dataset):
            shapes.append(tuple(item.shape))

    try:
        with h5py.File(path, "r") as file:
            file.visititems(visit)
    except OSError as error:
        raise ValueError(
            f"Could not read the weights file '{path}' ({error}). It is "
            "truncated or corrupt: download or save the preset again."
        ) from error
    return shapes


def _first_unloaded_variable(path, model):
    """Loads what fits; returns the first variable the file did not set."""
    for variable in model.weights:
        variable.assign(np.full(variable.shape, np.nan, variable.dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.load_weights(path, skip_mismatch=True)
    for variable in model.weights:
        if np.isnan(keras.ops.convert_to_numpy(variable)).any():
            return variable
    return None


def check_weights_file(path, model):
    """Checks that a `.weights.h5` file fits `model`, variable for variable.

    Args:
        path: str. The weights file.
        model: the model built from the preset's configuration.

    Raises:
        ValueError: the file is truncated or unreadable, or it was saved
            from another configuration; the message names the first
            variable of `model` the file has no weight for.
    """
    found = collections.Counter(_weights_file_shapes(path))
    expected = collections.Counter(tuple(v.shape) for v in model.weights)
    if found == expected:
        return
    variable = _first_unloaded_variable(path, model)
    if variable is not None:
        raise ValueError(
            f"The weights file '{path}' was saved from another configuration"
            f" than the preset's {CONFIG_FILE}: it has no weight of shape "
            f"{tuple(variable.shape)} for '{variable.path}' (the first "
            "mismatched variable). Save the preset again, or check that "
            f"the {CONFIG_FILE} and the weights come from the same model."
        )
    extra = sum((found - expected).values())
    raise ValueError(
        f"The weights file '{path}' holds {extra} weight(s) that the "
        f"preset's {CONFIG_FILE} has no variable for (e.g. a text tower or "
        "more layers): it was saved from another configuration."
    )


class VideoPrismPresetLoader(KerasPresetLoader):
    """keras-hub's loader of Keras presets, for presets of ours.

    Adds a check of the weights file against the configuration (clear
    errors for truncated files and files of another configuration) and a
    clear error for a tokenizer without its SentencePiece model.
    """

    def _check_weights_exist(self):
        has_weights = check_file_exists(self.preset, MODEL_WEIGHTS_FILE)
        if not has_weights and not check_file_exists(
            self.preset, SHARDED_MODEL_WEIGHTS_CONFIG_FILE
        ):
            raise FileNotFoundError(
                f"The preset '{self.preset}' has a {CONFIG_FILE} but no "
                f"weights ({MODEL_WEIGHTS_FILE}). Pass `load_weights=False` "
                "for a randomly initialized model of its configuration."
            )

    def load_backbone(self, cls, load_weights, **kwargs):
        if load_weights:
            # Before building: a definition without weights fails at once.
            self._check_weights_exist()
        return super().load_backbone(cls, load_weights, **kwargs)

    def _load_backbone_weights(self, backbone):
        if check_file_exists(self.preset, MODEL_WEIGHTS_FILE):
            path = get_file(self.preset, MODEL_WEIGHTS_FILE)
            check_weights_file(path, backbone)
        super()._load_backbone_weights(backbone)

    def load_tokenizer(self, cls, config_file=TOKENIZER_CONFIG_FILE, **kwargs):
        try:
            return super().load_tokenizer(cls, config_file, **kwargs)
        except FileNotFoundError as error:
            raise missing_tokenizer_error(self.preset, error) from error


class ConvertedPresetLoader(PresetLoader):
    """Base of the loaders of other formats into our classes.

    `self.config` is the serialized configuration of our backbone, as a
    preset of ours would store it (so that code reading `loader.config`
    works for every format); the source's own configuration is
    `self.source_config`. Subclasses provide `backbone_kwargs()` (from
    `self.source_config`), `official_arrays()` (the backbone's weights in
    the official checkpoint layout, see `convert/official_layout.py`) and
    `tokenizer_file` (the SentencePiece model's path in the preset).
    """

    tokenizer_file = None

    def __init__(self, preset, source_config):
        self.source_config = source_config
        config = {
            "registered_name": BACKBONE_REGISTERED_NAME,
            "config": self.backbone_kwargs(),
        }
        super().__init__(preset, config)

    def check_backbone_class(self):
        from keras_videoprism.models.video_prism_backbone import (
            VideoPrismBackbone,
        )

        return VideoPrismBackbone

    def load_backbone(self, cls, load_weights, **kwargs):
        from keras_videoprism.convert import official_checkpoint

        backbone = cls(**{**self.config["config"], **kwargs})
        if load_weights:
            official_class = official_checkpoint.ENCODER
            if backbone.has_text_encoder:
                official_class = official_checkpoint.CLIP
            official_checkpoint.load_official_weights(
                backbone, official_class, self.official_arrays()
            )
        return backbone

    def load_tokenizer(self, cls, config_file=TOKENIZER_CONFIG_FILE, **kwargs):
        try:
            proto = get_file(self.preset, self.tokenizer_file)
        except FileNotFoundError as error:
            raise missing_tokenizer_error(self.preset, error) from error
        return cls(proto=proto, **kwargs)

    def load_video_converter(self, cls, **kwargs):
        config = video_converter_config(self.config["config"])
        return cls(**{**config, **kwargs})
