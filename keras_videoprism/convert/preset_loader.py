"""The preset loaders of our format, and the base of the converted ones.

keras-hub reads a preset through a `PresetLoader`, which builds each kind of
class (backbone, task, preprocessor, tokenizer, video converter) from the
preset's files. This module holds the loader of presets of ours (keras-hub's
`KerasPresetLoader` plus checks of the weights file) and the base class of
the loaders of other formats, which convert the source's configuration and
weights on load (`keras_hub_preset.py`, `transformers_checkpoint.py`).
Which loader reads a preset is decided in `preset_formats.py`.

Model classes are never imported here: the backbone class is looked up in
the Keras registry by its serialized name, so the checkpoint readers sit
below the models in the import graph.
"""

import collections
import inspect
import os
import warnings

import h5py
import keras
import numpy as np

from keras_videoprism.convert import official_checkpoint
from keras_videoprism.convert.config_checks import check_serialized
from keras_videoprism.convert.config_checks import read_json
from keras_videoprism.utils.keras_hub_compat import CONFIG_FILE
from keras_videoprism.utils.keras_hub_compat import MODEL_WEIGHTS_FILE
from keras_videoprism.utils.keras_hub_compat import PREPROCESSOR_CONFIG_FILE
from keras_videoprism.utils.keras_hub_compat import (
    SHARDED_MODEL_WEIGHTS_CONFIG_FILE,
)
from keras_videoprism.utils.keras_hub_compat import TASK_CONFIG_FILE
from keras_videoprism.utils.keras_hub_compat import TOKENIZER_ASSET_DIR
from keras_videoprism.utils.keras_hub_compat import TOKENIZER_CONFIG_FILE
from keras_videoprism.utils.keras_hub_compat import VIDEO_CONVERTER_CONFIG_FILE
from keras_videoprism.utils.keras_hub_compat import KerasPresetLoader
from keras_videoprism.utils.keras_hub_compat import PresetLoader
from keras_videoprism.utils.keras_hub_compat import check_file_exists
from keras_videoprism.utils.keras_hub_compat import get_file

PACKAGE_PREFIX = "keras_videoprism>"
KERAS_HUB_BACKBONE = "keras_hub>VideoPrismBackbone"
TRANSFORMERS_MODEL_TYPES = ("videoprism", "videoprism_vision_model")
# The SentencePiece model of keras-hub's tokenizer assets.
TOKENIZER_ASSET = f"{TOKENIZER_ASSET_DIR}/vocabulary.spm"
_PRODUCTION_TOKENIZER = (
    "the public video-text checkpoints use the 32,000-piece T5 `c4_en` "
    "SentencePiece model (gs://t5-data/vocabs/cc_en.32000/"
    "sentencepiece.model), which is not bundled"
)


def backbone_class():
    """Our `VideoPrismBackbone` class, from the Keras registry."""
    return official_checkpoint.registered_class(
        official_checkpoint.BACKBONE_CLASS
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


def read_preset_config(handle):
    """The `config.json` of a preset directory or handle, checked.

    Args:
        handle: str or path. A local directory or a handle (`kaggle://`,
            `hf://`, ...).

    Returns:
        The parsed `config.json`.

    Raises:
        ValueError: `handle` is neither a handle nor a directory, it is a
            directory without a `config.json`, or the file is not JSON
            (the message names its path).
    """
    if not isinstance(handle, (str, os.PathLike)):
        raise ValueError(
            "A preset must be a preset name, a handle or a directory path. "
            f"Received: preset={handle!r}"
        )
    handle = os.fspath(handle)
    if os.path.exists(handle):
        _check_local_preset(handle)
    elif "://" not in handle:
        raise ValueError(
            f"'{handle}' is neither a preset directory nor a handle such as "
            "'kaggle://...' or 'hf://...'."
        )
    return read_json(get_file(handle, CONFIG_FILE))


def read_preset_json(handle, file_name):
    """A JSON file of a preset, parsed; a broken file names its path.

    Args:
        handle: str. A preset directory or handle.
        file_name: str. The file in the preset, e.g. `"tokenizer.json"`.

    Returns:
        `(path, parsed JSON)`: the local path of the file and its content.
    """
    path = get_file(handle, file_name)
    return path, read_json(path)


def missing_tokenizer_error(preset, error, expected=None):
    """A `FileNotFoundError` that says how to give a preset a tokenizer.

    Args:
        preset: str. The preset directory or handle.
        error: the error of the failed read.
        expected: str or None. Where the preset's format keeps its
            tokenizer. Defaults to `None`, keras-hub's asset path.

    Returns:
        The `FileNotFoundError` to raise.
    """
    expected = expected or f"`{TOKENIZER_ASSET}`"
    return FileNotFoundError(
        f"The preset '{preset}' has no tokenizer model ({error}). Only "
        "video-text (LvT) presets have a tokenizer, and its SentencePiece "
        f"model must be in the preset as {expected}; "
        f"{_PRODUCTION_TOKENIZER}. Save it with the model, as "
        "`keras_videoprism.models.save_preset(preset_dir, [model, "
        "VideoPrismTokenizer(proto=path)], overwrite=True)` (a lone "
        "`save_to_preset()` refuses a non-empty directory), or pass "
        "`proto=` to `VideoPrismTokenizer`."
    )


def check_tokenizer_vocabulary(tokenizer_size, model_size, source, exact=True):
    """Refuses a tokenizer that does not fit the model's text embeddings.

    Args:
        tokenizer_size: int. The tokenizer's vocabulary size.
        model_size: int. The backbone's `vocabulary_size` (0: no text
            tower, nothing to check).
        source: str. Where the tokenizer comes from, for the message.
        exact: bool. If `True` the sizes must be equal; if `False` only a
            tokenizer with more ids than the model (ids without an
            embedding) is refused. Defaults to `True`.

    Raises:
        ValueError: the sizes differ; the message names both.

    Example:

    ```python
    check_tokenizer_vocabulary(32000, 32000, "c4_en.model")
    ```
    """
    if not model_size or tokenizer_size == model_size:
        return
    if not exact and tokenizer_size < model_size:
        return
    raise ValueError(
        f"The tokenizer {source} has a vocabulary of {tokenizer_size:,} "
        f"ids, but the model's text embeddings have {model_size:,} "
        "(`vocabulary_size`): it is not this model's tokenizer. Use the "
        "SentencePiece model the checkpoint was trained with; "
        f"{_PRODUCTION_TOKENIZER}."
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
            "truncated or corrupt: re-download / re-save the preset."
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

    Adds checks of every configuration file read (unknown or missing keys,
    broken JSON, all named with the file's path), a check of the weights
    file against the configuration (clear errors for truncated files and
    files of another configuration) and a clear error for a tokenizer
    without its SentencePiece model.
    """

    def _check_config_file(self, file_name):
        """Checks a configuration file of the preset, if it has one."""
        if file_name == CONFIG_FILE:
            check_serialized(self.config, get_file(self.preset, CONFIG_FILE))
        elif check_file_exists(self.preset, file_name):
            path, config = read_preset_json(self.preset, file_name)
            check_serialized(config, path)

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

    def holds_classifier(self):
        """Whether the preset holds a classification head."""
        if not check_file_exists(self.preset, TASK_CONFIG_FILE):
            return False
        _, task_config = read_preset_json(self.preset, TASK_CONFIG_FILE)
        task_class = keras.saving.get_registered_object(
            task_config.get("registered_name", "")
        )
        if task_class is None:
            return "num_classes" in task_config.get("config", {})
        # The task's class, not its keys: a misspelt key is reported by the
        # strict config check when the task loads.
        parameter = inspect.signature(task_class.__init__).parameters
        return "num_classes" in parameter

    def load_backbone(self, cls, load_weights, **kwargs):
        self._check_config_file(CONFIG_FILE)
        if load_weights:
            # Before building: a definition without weights fails at once.
            self._check_weights_exist()
        return super().load_backbone(cls, load_weights, **kwargs)

    def load_preprocessor(
        self, cls, config_file=PREPROCESSOR_CONFIG_FILE, **kwargs
    ):
        self._check_config_file(config_file)
        return super().load_preprocessor(cls, config_file, **kwargs)

    def get_backbone_kwargs(self, **kwargs):
        # keras-hub writes `dtype=None` over the saved one when the caller
        # passes none. A quantized preset's `DTypePolicyMap` must survive
        # that (its weights are int8); a plain policy still gives way to
        # the global one, as before.
        backbone_kwargs, kwargs = super().get_backbone_kwargs(**kwargs)
        saved = self.config["config"].get("dtype")
        quantized = (
            isinstance(saved, dict) and saved["class_name"] == "DTypePolicyMap"
        )
        if backbone_kwargs.get("dtype") is None and quantized:
            del backbone_kwargs["dtype"]
        return backbone_kwargs, kwargs

    def _load_backbone_weights(self, backbone):
        quantized = any(
            layer.quantization_mode is not None
            for layer in backbone._flatten_layers()
        )
        # The check compares float weights by shape; quantized weights
        # (int8, packed int4, float8 and their scales) are checked by
        # Keras' own loader.
        if not quantized and check_file_exists(self.preset, MODEL_WEIGHTS_FILE):
            path = get_file(self.preset, MODEL_WEIGHTS_FILE)
            check_weights_file(path, backbone)
        super()._load_backbone_weights(backbone)

    def _check_tokenizer(self, tokenizer):
        # The pair was saved by the user; only ids without an embedding
        # are refused (presets of tiny test models pair a smaller one).
        check_tokenizer_vocabulary(
            tokenizer.vocabulary_size(),
            self.config.get("config", {}).get("vocabulary_size", 0),
            f"of the preset '{self.preset}'",
            exact=False,
        )
        return tokenizer

    def load_tokenizer(self, cls, config_file=TOKENIZER_CONFIG_FILE, **kwargs):
        self._check_config_file(config_file)
        try:
            tokenizer = super().load_tokenizer(cls, config_file, **kwargs)
        except FileNotFoundError as error:
            raise missing_tokenizer_error(self.preset, error) from error
        return self._check_tokenizer(tokenizer)

    def load_task(self, cls, load_weights, load_task_weights, **kwargs):
        self._check_config_file(CONFIG_FILE)
        self._check_config_file(TASK_CONFIG_FILE)
        task = super().load_task(cls, load_weights, load_task_weights, **kwargs)
        tokenizer = getattr(task.preprocessor, "tokenizer", None)
        if tokenizer is not None and tokenizer.proto is not None:
            self._check_tokenizer(tokenizer)
        return task

    def load_video_converter(self, cls, **kwargs):
        # A backbone-only preset has no `video_converter.json`: it gets a
        # converter to the frame count and size the backbone was trained
        # at, as presets of the other formats do.
        if check_file_exists(self.preset, VIDEO_CONVERTER_CONFIG_FILE):
            self._check_config_file(VIDEO_CONVERTER_CONFIG_FILE)
            return super().load_video_converter(cls, **kwargs)
        config = video_converter_config(self.config["config"])
        return cls(**{**config, **kwargs})


class ConvertedPresetLoader(PresetLoader):
    """Base of the loaders of other formats into our classes.

    `self.config` is the serialized configuration of our backbone, as a
    preset of ours would store it (so that code reading `loader.config`
    works for every format); the source's own configuration is
    `self.source_config`. Subclasses provide `backbone_kwargs()` (from
    the official checkpoint layout, see `convert/official_layout.py`) and
    `tokenizer_proto()` (the tokenizer model's path or bytes).
    """

    def __init__(self, preset, source_config):
        self.preset = preset
        self.source_config = source_config
        config = {
            "registered_name": official_checkpoint.BACKBONE_CLASS,
            "config": self.backbone_kwargs(),
        }
        super().__init__(preset, config)

    def check_backbone_class(self):
        return backbone_class()

    def holds_classifier(self):
        """Whether the source holds a classification head."""
        return False

    def load_backbone(self, cls, load_weights, **kwargs):
        backbone = cls(**{**self.config["config"], **kwargs})
        if load_weights:
            official_class = official_checkpoint.ENCODER
            if backbone.has_text_encoder:
                official_class = official_checkpoint.CLIP
            official_checkpoint.load_official_weights(
                backbone, official_class, self.official_arrays()
            )
        return backbone

    # Where the format keeps its tokenizer, for the error without one.
    tokenizer_files = f"`{TOKENIZER_ASSET}`"

    def tokenizer_proto(self):
        """The SentencePiece model: a path or the serialized bytes.

        Returns:
            A path (str) or the serialized SentencePiece model (bytes).

        Raises:
            FileNotFoundError: the preset has no tokenizer.
        """
        return get_file(self.preset, TOKENIZER_ASSET)

    def load_tokenizer(self, cls, config_file=TOKENIZER_CONFIG_FILE, **kwargs):
        try:
            proto = self.tokenizer_proto()
        except FileNotFoundError as error:
            raise missing_tokenizer_error(
                self.preset, error, self.tokenizer_files
            ) from error
        tokenizer = cls(proto=proto, **kwargs)
        # A converted preset meets its tokenizer file for the first time.
        check_tokenizer_vocabulary(
            tokenizer.vocabulary_size(),
            self.config["config"].get("vocabulary_size", 0),
            f"of '{self.preset}'",
        )
        return tokenizer

    def load_video_converter(self, cls, **kwargs):
        config = video_converter_config(self.config["config"])
        return cls(**{**config, **kwargs})
