"""Loads transformers' VideoPrism checkpoints into keras-videoprism classes.

transformers has three VideoPrism models whose `save_pretrained()` writes a
`config.json` and `model.safetensors`: `VideoPrismVisionModel` (the video
encoder), `VideoPrismClipModel` (video-text) and
`VideoPrismForVideoClassification`. Their weights are renamed and reshaped
into the official checkpoint layout and assigned by
`load_official_weights`. The safetensors are read with numpy; neither
transformers nor torch is needed.

Where transformers departs from the official model, we keep the official
behaviour:
- its text tower's sinusoidal position table uses `10000^(-2i/D)`, the
  official one `exp(-i ln(1e4) / (D/2 - 1))`. The stored table is never
  loaded: our text encoder computes the official table, so our text
  embeddings follow the official model, not transformers';
- its classification pooler attends with width `intermediate_size`, where
  the official classifier's is `hidden_size`; its weights load only into a
  classifier whose pooler has that width (`load_classifier_weights`).
"""

from keras_videoprism.convert import official_checkpoint
from keras_videoprism.convert import preset_hubs
from keras_videoprism.convert import transformers_tokenizer
from keras_videoprism.convert.official_layout import Section
from keras_videoprism.convert.official_layout import to_official_layout
from keras_videoprism.convert.preset_loader import TRANSFORMERS_MODEL_TYPES
from keras_videoprism.convert.preset_loader import ConvertedPresetLoader
from keras_videoprism.convert.preset_loader import backbone_class
from keras_videoprism.convert.preset_loader import read_preset_config
from keras_videoprism.convert.transformers_config import check_config
from keras_videoprism.utils.keras_hub_compat import CONFIG_FILE
from keras_videoprism.utils.keras_hub_compat import SAFETENSOR_CONFIG_FILE
from keras_videoprism.utils.keras_hub_compat import SAFETENSOR_FILE
from keras_videoprism.utils.keras_hub_compat import check_file_exists
from keras_videoprism.utils.keras_hub_compat import get_file
from keras_videoprism.utils.keras_hub_compat import load_json

VISION_MODEL = "VideoPrismVisionModel"
CLIP_MODEL = "VideoPrismClipModel"
CLASSIFIER_MODEL = "VideoPrismForVideoClassification"
# The SentencePiece model transformers' slow tokenizers keep beside the
# weights; its `VideoPrismTokenizer` writes `tokenizer.json` instead.
TOKENIZER_FILE = "spiece.model"
_EXACT_GELU = ("gelu", "gelu_python")
_SCANNED = "transformers_stack/x_layers"


def _same(value, num_heads):
    return value


def _kernel(value, num_heads):
    # torch Linear weights are [out, in].
    return value.T


def _heads_in(value, num_heads):
    # [n * h, D] -> [D, n, h] (heads are the major part of the features).
    return value.T.reshape(value.shape[1], num_heads, -1)


def _heads_bias(value, num_heads):
    return value.reshape(num_heads, -1)


def _heads_out(value, num_heads):
    # [D, n * h] -> [D, n, h], the official `post/w`.
    return value.reshape(value.shape[0], num_heads, -1)


def _patches(value, num_heads):
    # Conv3d [D, C, 1, P, P] -> Dense [P * P * C, D] over (row, col, C).
    return value[:, :, 0].transpose(2, 3, 1, 0).reshape(-1, value.shape[0])


def _unbatch(value, num_heads):
    return value[0]


def _norm(name, official_name):
    return {
        f"{name}weight": (f"{official_name}/scale", _same),
        f"{name}bias": (f"{official_name}/bias", _same),
    }


def _linear(name, official_name):
    return {
        f"{name}weight": (f"{official_name}/kernel", _kernel),
        f"{name}bias": (f"{official_name}/bias", _same),
    }


def _attention(name, official_name):
    weights = {
        f"{name}o_proj.weight": (f"{official_name}/post/w", _heads_out),
        f"{name}o_proj.bias": (f"{official_name}/post/b", _same),
    }
    for short, full in (("q", "query"), ("k", "key"), ("v", "value")):
        weights[f"{name}{short}_proj.weight"] = (
            f"{official_name}/{full}/w",
            _heads_in,
        )
        weights[f"{name}{short}_proj.bias"] = (
            f"{official_name}/{full}/b",
            _heads_bias,
        )
    return weights


_BLOCK = {
    **_norm("layernorm_before.", "layer_norm"),
    **_attention("attention.", "self_attention"),
    **_norm("layernorm_after.", "ff_layer/layer_norm"),
    **_linear("mlp.fc1.", "ff_layer/ffn_layer1/linear"),
    **_linear("mlp.fc2.", "ff_layer/ffn_layer2/linear"),
}


def _stack(source_prefix, prefix, stack):
    return Section(
        source_prefix,
        prefix,
        {},
        stack=stack,
        block_pattern=r"^(?P<index>\d+)\.(?P<rest>.+)$",
        block_weights=_BLOCK,
    )


def _encoder_sections(source_prefix, prefix):
    """`VideoPrismVisionModel` under `source_prefix`."""
    embeddings = "spatial_embeddings.patch_embeddings.projection"
    weights = {
        f"{embeddings}.weight": ("patch_projection/linear/kernel", _patches),
        f"{embeddings}.bias": ("patch_projection/linear/bias", _same),
        "spatial_embeddings.position_embeddings": (
            "spatial_pos_emb/emb_var",
            _unbatch,
        ),
        "temporal_embeddings.position_embeddings": (
            "temporal_pos_emb/emb_var",
            _unbatch,
        ),
        **_norm("layernorm1.", "spatial_ln"),
        **_norm("layernorm2.", "temporal_ln"),
    }
    return [
        Section(source_prefix, prefix, weights),
        _stack(
            f"{source_prefix}spatial_layers.",
            prefix,
            f"spatial_encoder/{_SCANNED}",
        ),
        _stack(
            f"{source_prefix}temporal_layers.",
            prefix,
            f"temporal_encoder/{_SCANNED}",
        ),
    ]


def _pooler_sections(source_prefix, prefix):
    """The attention pooling `head` and `head_layernorm`."""
    head = {
        "pooling_attention_query": ("pooling_attention_query", _unbatch),
        "per_dim_scale": (
            "pooling_attention/per_dim_scale/per_dim_scale",
            _same,
        ),
        **_attention("", "pooling_attention"),
    }
    return [
        Section(f"{source_prefix}head.", prefix, head),
        Section(
            f"{source_prefix}head_layernorm.",
            prefix,
            _norm("", "pooling_attention_layer_norm"),
        ),
    ]


_TEXT_SECTIONS = [
    Section(
        "text_model.",
        "params/text_encoder/",
        {
            "embeddings.token_embedding.weight": ("token_emb/emb_var", _same),
            "embeddings.cls_emb": ("cls_emb", _same),
            **_norm("layernorm.", "unimodal_ln"),
        },
        # The position table is computed, the official way, never loaded.
        ignored=("embeddings.position_embedding", "embeddings.position_ids"),
    ),
    _stack(
        "text_model.layers.",
        "params/text_encoder/",
        "unimodal_transformer/x_layers",
    ),
]

_CLIP_SECTIONS = [
    *_encoder_sections("video_model.vision_model.", "params/vision_encoder/"),
    _stack(
        "video_model.auxiliary_layers.",
        "params/",
        f"auxiliary_encoder/{_SCANNED}",
    ),
    *_pooler_sections("video_model.", "params/contrastive_vision_pooler/"),
    *_TEXT_SECTIONS,
]

_CLASSIFIER_SECTIONS = [
    *_encoder_sections("vision_model.", "params/encoder/"),
    *_pooler_sections("", "params/atten_pooler/"),
    Section("classifier.", "params/projection/", _linear("", "linear")),
]


def architecture(config):
    """The transformers class a VideoPrism `config.json` was saved from.

    Args:
        config: dict. A transformers `config.json`.

    Returns:
        `"VideoPrismVisionModel"`, `"VideoPrismClipModel"` or
        `"VideoPrismForVideoClassification"`.

    Raises:
        ValueError: another architecture, e.g. `VideoPrismVideoModel` (a
            video tower with a pooler but no text tower), which has no
            counterpart here.
    """
    names = config.get("architectures") or []
    default = CLIP_MODEL if config.get("model_type") == "videoprism" else None
    name = names[0] if names else default or VISION_MODEL
    if name not in (VISION_MODEL, CLIP_MODEL, CLASSIFIER_MODEL):
        raise ValueError(
            f"The transformers architecture `{name}` cannot be converted. "
            f"Supported: {VISION_MODEL}, {CLIP_MODEL} and {CLASSIFIER_MODEL}."
        )
    return name


def _require(condition, message):
    if not condition:
        raise ValueError(
            f"This transformers VideoPrism checkpoint differs from the "
            f"official architecture: {message}."
        )


def _image_shape(vision):
    size = vision["image_size"]
    height, width = (size, size) if isinstance(size, int) else size
    return (height, width, vision.get("num_channels", 3))


def _vision_kwargs(vision):
    tubelet = list(vision.get("tubelet_size", (1, 18, 18)))
    _require(
        tubelet[0] == 1 and tubelet[1] == tubelet[2],
        f"tubelet_size={tubelet} (only single-frame square patches)",
    )
    _require(
        vision.get("hidden_act", "gelu_python") in _EXACT_GELU,
        f"hidden_act={vision.get('hidden_act')!r} (exact GELU only)",
    )
    _require(vision.get("qkv_bias", True), "qkv_bias=False")
    soft_cap = vision.get("attn_logit_softcapping", 50.0)
    return {
        "num_frames": vision["num_frames"],
        "patch_size": tubelet[1],
        "hidden_dim": vision["hidden_size"],
        "intermediate_dim": vision["intermediate_size"],
        "num_heads": vision["num_attention_heads"],
        "num_spatial_layers": vision["num_spatial_layers"],
        "num_temporal_layers": vision["num_temporal_layers"],
        "num_auxiliary_layers": 0,
        "dropout_rate": vision.get("hidden_dropout_prob", 0.0),
        "attention_dropout_rate": vision.get(
            "attention_probs_dropout_prob", 0.0
        ),
        "attention_logit_soft_cap": soft_cap or None,
        "layer_norm_epsilon": vision.get("layer_norm_eps", 1e-6),
        "image_shape": _image_shape(vision),
    }


def _text_kwargs(text, vision, kwargs):
    width = 4 * kwargs["hidden_dim"]
    _require(
        text["hidden_size"] == kwargs["hidden_dim"]
        and text["num_attention_heads"] == kwargs["num_heads"],
        "the text and video towers differ in width or heads",
    )
    _require(
        text["intermediate_size"] == width
        and vision["intermediate_size"] == width,
        f"MLP widths other than 4 * hidden_size = {width}",
    )
    _require(
        text.get("hidden_act", "relu") == "relu",
        f"text hidden_act={text.get('hidden_act')!r} (ReLU only)",
    )
    _require(
        (text.get("attn_logit_softcapping", 50.0) or None)
        == kwargs["attention_logit_soft_cap"],
        "the text and video towers differ in attention soft cap",
    )
    return {
        "num_auxiliary_layers": vision["num_auxiliary_layers"],
        "vocabulary_size": text["vocab_size"],
        "num_text_layers": text["num_hidden_layers"],
    }


def backbone_kwargs(config):
    """Our `VideoPrismBackbone` arguments for a transformers config.

    Args:
        config: dict. A transformers VideoPrism `config.json`.

    Returns:
        A dict of `VideoPrismBackbone` arguments (the video encoder of a
        classifier, the video-text model of a `VideoPrismClipModel`).

    Raises:
        ValueError: a configuration the official architecture (and ours)
            cannot represent; the message says which setting.
    """
    vision = config.get("vision_config", config)
    kwargs = _vision_kwargs(vision)
    if architecture(config) == CLIP_MODEL:
        kwargs.update(_text_kwargs(config["text_config"], vision, kwargs))
    return kwargs


def read_safetensors(preset):
    """All arrays of a transformers checkpoint, `{name: numpy array}`.

    Args:
        preset: str. A directory or handle with `model.safetensors` or a
            sharded `model.safetensors.index.json`.

    Returns:
        The checkpoint's arrays, read with numpy.
    """
    try:
        from safetensors import safe_open
    except ImportError as error:
        raise ImportError(
            "Reading transformers checkpoints needs the `safetensors` "
            "package: `pip install safetensors`."
        ) from error
    files = [SAFETENSOR_FILE]
    if check_file_exists(preset, SAFETENSOR_CONFIG_FILE):
        index = load_json(preset, SAFETENSOR_CONFIG_FILE)
        files = sorted(set(index["weight_map"].values()))
    weights = {}
    for name in files:
        with safe_open(get_file(preset, name), framework="np") as file:
            for key in file.keys():
                weights[key] = file.get_tensor(key)
    return weights


def _encoder_prefix(weights):
    """`vision_model.` when a vision model was saved inside another."""
    if all(name.startswith("vision_model.") for name in weights):
        return "vision_model."
    return ""


def backbone_arrays(weights, config):
    """A checkpoint's backbone weights in the official checkpoint layout.

    Args:
        weights: dict. `{name: array}` of a transformers VideoPrism model.
        config: dict. Its `config.json`.

    Returns:
        A `{official key: array}` dict for `load_official_weights` with
        `FactorizedVideoCLIP` (video-text) or `FactorizedEncoder` (video
        encoder; a classifier's head is left out).
    """
    name = architecture(config)
    num_heads = backbone_kwargs(config)["num_heads"]
    if name == CLIP_MODEL:
        sections = _CLIP_SECTIONS
    else:
        if name == CLASSIFIER_MODEL:
            weights = {
                key: value
                for key, value in weights.items()
                if key.startswith("vision_model.")
            }
        sections = _encoder_sections(_encoder_prefix(weights), "params/")
    return to_official_layout(weights, sections, num_heads, "transformers")


def load_classifier_weights(classifier, weights, config):
    """Assigns a `VideoPrismForVideoClassification` checkpoint's weights.

    Args:
        classifier: a model with `backbone` (a `VideoPrismBackbone`),
            `pooler` (a `VideoPrismAttentionPooler`) and `output_dense`,
            e.g. a `VideoPrismVideoClassifier`, whose pooler's
            `attention_dim` is the checkpoint's `intermediate_size`.
        weights: dict. `{name: array}` of the checkpoint.
        config: dict. Its `config.json`.

    Returns:
        `classifier`, with the weights assigned.

    Raises:
        ValueError: the pooler's width differs from the checkpoint's, or a
            weight does not fit.
    """
    width = config["intermediate_size"]
    if classifier.pooler.attention_dim != width:
        raise ValueError(
            "transformers' VideoPrismForVideoClassification pools with "
            f"attention width intermediate_size={width}, but this "
            f"classifier's pooler has attention_dim="
            f"{classifier.pooler.attention_dim} (the official classifier's "
            "is hidden_size). Build the classifier with a pooler of width "
            f"{width} to load these weights."
        )
    arrays = to_official_layout(
        weights,
        _CLASSIFIER_SECTIONS,
        config["num_attention_heads"],
        "transformers",
    )
    return official_checkpoint.load_official_weights(
        classifier, official_checkpoint.CLASSIFIER, arrays
    )


class TransformersPresetLoader(ConvertedPresetLoader):
    """Reads transformers VideoPrism checkpoints into our classes."""

    tokenizer_files = (
        f"`{transformers_tokenizer.TOKENIZER_JSON}` (with "
        f"`{transformers_tokenizer.TOKENIZER_CONFIG_JSON}`, as transformers' "
        f"`save_pretrained()` writes them) or `{TOKENIZER_FILE}`"
    )

    def backbone_kwargs(self):
        check_config(self.source_config, get_file(self.preset, CONFIG_FILE))
        return backbone_kwargs(self.source_config)

    def tokenizer_proto(self):
        if check_file_exists(self.preset, TOKENIZER_FILE):
            return get_file(self.preset, TOKENIZER_FILE)
        tokenizer_json = load_json(
            self.preset, transformers_tokenizer.TOKENIZER_JSON
        )
        config = None
        if check_file_exists(
            self.preset, transformers_tokenizer.TOKENIZER_CONFIG_JSON
        ):
            config = load_json(
                self.preset, transformers_tokenizer.TOKENIZER_CONFIG_JSON
            )
        return transformers_tokenizer.sentencepiece_proto(
            tokenizer_json, config
        )

    def official_arrays(self):
        weights = read_safetensors(self.preset)
        return backbone_arrays(weights, self.source_config)

    def holds_classifier(self):
        return architecture(self.source_config) == CLASSIFIER_MODEL

    def load_task(self, cls, load_weights, load_task_weights, **kwargs):
        is_classifier = architecture(self.source_config) == CLASSIFIER_MODEL
        if not (is_classifier and load_task_weights) or "backbone" in kwargs:
            return super().load_task(
                cls, load_weights, load_task_weights, **kwargs
            )
        kwargs.setdefault("num_classes", len(self.source_config["id2label"]))
        # transformers' classification pooler is `intermediate_size` wide.
        kwargs.setdefault(
            "pooler_attention_dim", self.source_config["intermediate_size"]
        )
        task = super().load_task(cls, False, load_task_weights, **kwargs)
        if load_weights:
            weights = read_safetensors(self.preset)
            load_classifier_weights(task, weights, self.source_config)
        return task


def from_transformers_checkpoint(preset, load_weights=True, **kwargs):
    """Loads a transformers VideoPrism checkpoint into `VideoPrismBackbone`.

    Same as `VideoPrismBackbone.from_preset(preset)` on such a checkpoint.
    A `VideoPrismForVideoClassification` gives its video encoder; load the
    whole classifier with the classifier task's `from_preset`.

    Args:
        preset: str. A directory written by transformers'
            `save_pretrained()`, or an `hf://` handle of one.
        load_weights: bool. Defaults to `True`.
        **kwargs: other `VideoPrismBackbone` arguments, e.g. `dtype`.

    Returns:
        A `VideoPrismBackbone` with the checkpoint's weights.

    Example:

    ```python
    backbone = keras_videoprism.convert.from_transformers_checkpoint(
        "hf://google/videoprism-lvt-base-f16r288"
    )
    ```
    """
    preset = preset_hubs.local_directory(preset)
    config = read_preset_config(preset)
    if config.get("model_type") not in TRANSFORMERS_MODEL_TYPES:
        raise ValueError(
            f"'{preset}' is not a transformers VideoPrism checkpoint (its "
            "`config.json` has no VideoPrism `model_type`). "
            "`VideoPrismBackbone.from_preset()` reads every format."
        )
    loader = TransformersPresetLoader(preset, config)
    return loader.load_backbone(backbone_class(), load_weights, **kwargs)
