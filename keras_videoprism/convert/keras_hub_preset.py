"""Loads keras-hub's own VideoPrism presets into keras-videoprism classes.

keras-hub ships `keras_hub.models.VideoPrismBackbone` (registered
`keras_hub>VideoPrismBackbone`); its presets (the Kaggle handles of
`backbone_presets`) hold its `config.json`, `model.weights.h5` and, for the
video-text models, a SentencePiece tokenizer asset. Its layers and weight
names differ from ours, and its embeddings lack the official L2
normalization. The conversion reads the preset with keras-hub's own class,
renames its variables into the official checkpoint layout and assigns them
with `load_official_weights`, so the result has our layers, accepts any
frame count and size, and returns normalized embeddings.

keras-hub's text tower applies two LayerNorms where the official model has
one: the official `unimodal_ln` lives in `text_layer_normalization`, and
the text stack's own final `ln` stays at its initialization (gain 1, bias
0). The conversion checks that it does, and drops it; applying such a
LayerNorm before another changes the result by about `1e-6` relative.
"""

import keras
import keras_hub
import numpy as np

from keras_videoprism.convert import preset_hubs
from keras_videoprism.convert.config_checks import SERIALIZED_KEYS
from keras_videoprism.convert.config_checks import accepted_arguments
from keras_videoprism.convert.config_checks import check_keys
from keras_videoprism.convert.official_layout import Section
from keras_videoprism.convert.official_layout import to_official_layout
from keras_videoprism.convert.preset_loader import KERAS_HUB_BACKBONE
from keras_videoprism.convert.preset_loader import ConvertedPresetLoader
from keras_videoprism.convert.preset_loader import backbone_class
from keras_videoprism.convert.preset_loader import read_preset_config
from keras_videoprism.utils.keras_hub_compat import CONFIG_FILE
from keras_videoprism.utils.keras_hub_compat import MODEL_WEIGHTS_FILE
from keras_videoprism.utils.keras_hub_compat import get_file

# Arguments shared by keras-hub's backbone and ours, with the same meaning.
_SHARED_ARGUMENTS = (
    "num_frames",
    "patch_size",
    "hidden_dim",
    "intermediate_dim",
    "num_heads",
    "num_spatial_layers",
    "num_temporal_layers",
    "num_auxiliary_layers",
    "vocabulary_size",
    "num_text_layers",
    "dropout_rate",
    "attention_dropout_rate",
    "attention_logit_soft_cap",
    "layer_norm_epsilon",
    "image_shape",
)
# keras-hub's extra text LayerNorm, which the official model does not have,
# and the values it keeps when untrained.
_EXTRA_TEXT_NORM = {"text_encoder/ln/gamma": 1.0, "text_encoder/ln/beta": 0.0}


def _same(value, num_heads):
    return value


def _gain(value, num_heads):
    # The official checkpoints store LayerNorm gains as offsets from 1.
    return value - 1.0


def _post(value, num_heads):
    # keras-hub's output kernel is [n, h, D]; the official `post/w` [D, n, h].
    return value.transpose(2, 0, 1)


def _norm(keras_hub_name, official_name):
    return {
        f"{keras_hub_name}/gamma": (f"{official_name}/scale", _gain),
        f"{keras_hub_name}/beta": (f"{official_name}/bias", _same),
    }


def _attention(keras_hub_name, official_name):
    weights = {
        f"{keras_hub_name}/output/kernel": (f"{official_name}/post/w", _post),
        f"{keras_hub_name}/output/bias": (f"{official_name}/post/b", _same),
    }
    for name in ("query", "key", "value"):
        weights[f"{keras_hub_name}/{name}/kernel"] = (
            f"{official_name}/{name}/w",
            _same,
        )
        weights[f"{keras_hub_name}/{name}/bias"] = (
            f"{official_name}/{name}/b",
            _same,
        )
    return weights


def _dense(keras_hub_name, official_name):
    return {
        f"{keras_hub_name}/kernel": (f"{official_name}/kernel", _same),
        f"{keras_hub_name}/bias": (f"{official_name}/bias", _same),
    }


_BLOCK_PATTERN = r"^transformer_block_(?P<index>\d+)/(?P<rest>.+)$"
_BLOCK = {
    **_norm("ln_1", "layer_norm"),
    **_attention("mha", "self_attention"),
    **_norm("ln_2", "ff_layer/layer_norm"),
    **_dense("mlp/dense_1", "ff_layer/ffn_layer1/linear"),
    **_dense("mlp/dense_2", "ff_layer/ffn_layer2/linear"),
}


def _stack(keras_hub_name, prefix, stack, weights=None, ignored=()):
    return Section(
        f"{keras_hub_name}/",
        prefix,
        weights or {},
        stack=stack,
        block_pattern=_BLOCK_PATTERN,
        block_weights=_BLOCK,
        ignored=ignored,
    )


def _video_sections(prefix):
    """keras-hub's video encoder, official keys under `prefix`."""
    scanned = "transformers_stack/x_layers"
    return [
        Section(
            "spatial_patching_and_embedding/",
            prefix,
            {
                **_dense("patch_embedding", "patch_projection/linear"),
                "position_embedding/embeddings": (
                    "spatial_pos_emb/emb_var",
                    _same,
                ),
            },
        ),
        _stack(
            "spatial_encoder",
            prefix,
            f"spatial_encoder/{scanned}",
            _norm("ln", "spatial_ln"),
        ),
        Section(
            "temporal_embedding/",
            prefix,
            {
                "temporal_position_embedding/embeddings": (
                    "temporal_pos_emb/emb_var",
                    _same,
                )
            },
        ),
        _stack(
            "temporal_encoder",
            prefix,
            f"temporal_encoder/{scanned}",
            _norm("ln", "temporal_ln"),
        ),
    ]


_TEXT_SECTIONS = [
    _stack(
        "auxiliary_encoder",
        "params/",
        "auxiliary_encoder/transformers_stack/x_layers",
    ),
    Section(
        "video_pooler/",
        "params/contrastive_vision_pooler/",
        {
            "pooling_attention_query": ("pooling_attention_query", _same),
            "pooling_attention/per_dim_scale/per_dim_scale": (
                "pooling_attention/per_dim_scale/per_dim_scale",
                _same,
            ),
            **_attention("pooling_attention", "pooling_attention"),
            **_norm(
                "pooling_attention_layer_norm", "pooling_attention_layer_norm"
            ),
        },
    ),
    Section(
        "text_embedding/",
        "params/text_encoder/",
        {
            "token_embedding/embeddings": ("token_emb/emb_var", _same),
            "class_token/cls_token": ("cls_emb", _same),
        },
    ),
    _stack(
        "text_encoder",
        "params/text_encoder/",
        "unimodal_transformer/x_layers",
        ignored=("ln/gamma", "ln/beta"),
    ),
    Section(
        "text_layer_normalization/",
        "params/text_encoder/",
        {
            "gamma": ("unimodal_ln/scale", _gain),
            "beta": ("unimodal_ln/bias", _same),
        },
    ),
]


def check_config(config, source):
    """Checks a keras-hub VideoPrism `config.json` key by key.

    Keys are those keras-hub's `VideoPrismBackbone` writes and accepts; the
    ones the conversion reads are required.

    Args:
        config: dict. The whole `config.json`.
        source: str. Its path, for the messages.

    Raises:
        ValueError: an unknown key (named with the closest known one) or a
            missing one.
    """
    check_keys(config, SERIALIZED_KEYS, source, required=SERIALIZED_KEYS)
    accepted, _ = accepted_arguments(keras_hub.models.VideoPrismBackbone)
    check_keys(
        config["config"],
        accepted,
        f"{source} (keras-hub `VideoPrismBackbone` config)",
        required=_SHARED_ARGUMENTS,
    )


def backbone_kwargs(keras_hub_config):
    """Our `VideoPrismBackbone` arguments for a keras-hub backbone config.

    Args:
        keras_hub_config: dict. The `config` entry of a keras-hub
            `VideoPrismBackbone` `config.json`, checked by `check_config`.

    Returns:
        A dict of `VideoPrismBackbone` arguments.

    Raises:
        ValueError: a text tower whose MLP width is not `4 * hidden_dim`,
            which the official model (and ours) requires.
    """
    kwargs = {name: keras_hub_config[name] for name in _SHARED_ARGUMENTS}
    kwargs["image_shape"] = tuple(kwargs["image_shape"])
    width = 4 * kwargs["hidden_dim"]
    if kwargs["num_text_layers"] > 0 and kwargs["intermediate_dim"] != width:
        raise ValueError(
            "keras-hub's text tower uses `intermediate_dim` as its MLP width"
            f"; VideoPrism's is 4 * hidden_dim = {width}. This preset has "
            f"intermediate_dim={kwargs['intermediate_dim']}, which our "
            "backbone cannot represent."
        )
    return kwargs


def _check_extra_text_norm(weights):
    for name, identity in _EXTRA_TEXT_NORM.items():
        if name in weights and not np.all(weights[name] == identity):
            raise ValueError(
                f"keras-hub's '{name}' is not at its initialization (gain 1, "
                "bias 0): this text tower was trained with a LayerNorm the "
                "official VideoPrism model does not have, so it cannot be "
                "converted exactly."
            )


def official_arrays(keras_hub_backbone):
    """The weights of a keras-hub VideoPrism backbone, official layout.

    Args:
        keras_hub_backbone: a `keras_hub.models.VideoPrismBackbone`.

    Returns:
        A `{official key: array}` dict for `load_official_weights`.
    """
    weights = {
        w.path: keras.ops.convert_to_numpy(w)
        for w in keras_hub_backbone.weights
    }
    _check_extra_text_norm(weights)
    sections = _video_sections("params/")
    if keras_hub_backbone.num_text_layers > 0:
        sections = _video_sections("params/vision_encoder/") + _TEXT_SECTIONS
    return to_official_layout(
        weights, sections, keras_hub_backbone.num_heads, "keras-hub"
    )


class KerasHubPresetLoader(ConvertedPresetLoader):
    """Reads keras-hub's VideoPrism presets into our classes."""

    def backbone_kwargs(self):
        check_config(self.source_config, get_file(self.preset, CONFIG_FILE))
        return backbone_kwargs(self.source_config["config"])

    def official_arrays(self):
        try:
            source = keras_hub.models.VideoPrismBackbone.from_preset(
                self.preset
            )
        except OSError as error:
            path = get_file(self.preset, MODEL_WEIGHTS_FILE)
            raise ValueError(
                f"Could not read the weights file '{path}' of the keras-hub "
                f"preset ({error}). It is truncated or corrupt: re-download "
                "/ re-save the preset."
            ) from error
        return official_arrays(source)


def from_keras_hub_preset(preset, load_weights=True, **kwargs):
    """Loads a keras-hub VideoPrism preset into our `VideoPrismBackbone`.

    Same as `VideoPrismBackbone.from_preset(preset)` on such a preset.

    Args:
        preset: str. A preset directory or handle written by keras-hub's
            `VideoPrismBackbone.save_to_preset()` (e.g. its Kaggle handles).
        load_weights: bool. Defaults to `True`.
        **kwargs: other `VideoPrismBackbone` arguments, e.g. `dtype`.

    Returns:
        A `VideoPrismBackbone` with the preset's weights.

    Example:

    ```python
    backbone = keras_videoprism.convert.from_keras_hub_preset(
        "kaggle://keras/videoprism/keras/videoprism_public_v1_base/1"
    )
    ```
    """
    preset = preset_hubs.local_directory(preset)
    config = read_preset_config(preset)
    if config.get("registered_name") != KERAS_HUB_BACKBONE:
        raise ValueError(
            f"'{preset}' is not a keras-hub VideoPrism preset (its "
            "`config.json` is not registered `keras_hub>VideoPrismBackbone`)"
            ". `VideoPrismBackbone.from_preset()` reads every format."
        )
    loader = KerasHubPresetLoader(preset, config)
    return loader.load_backbone(backbone_class(), load_weights, **kwargs)
