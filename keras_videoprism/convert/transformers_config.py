"""The keys of transformers' VideoPrism `config.json` files, checked.

transformers' `save_pretrained()` writes every attribute of
`VideoPrismVisionConfig`, `VideoPrismTextConfig` and `VideoPrismConfig`
(the tables below, checked against transformers by the tests) plus the
attributes every transformers configuration has. A key outside them (e.g.
a misspelt `attn_logit_softcaping`) is refused, naming the closest known
key; a key the conversion reads is required.
"""

from keras_videoprism.convert.config_checks import check_keys

# Attributes of every transformers configuration (`PretrainedConfig`),
# and `torch_dtype`, the older spelling of `dtype`.
GENERIC_KEYS = (
    "_name_or_path",
    "architectures",
    "chunk_size_feed_forward",
    "dtype",
    "id2label",
    "is_encoder_decoder",
    "label2id",
    "model_type",
    "output_attentions",
    "output_hidden_states",
    "problem_type",
    "return_dict",
    "torch_dtype",
    "transformers_version",
)
# `VideoPrismVisionConfig`, the video tower (and the classifier).
VISION_KEYS = (
    "apply_l2norm",
    "attention_probs_dropout_prob",
    "attn_logit_softcapping",
    "hidden_act",
    "hidden_dropout_prob",
    "hidden_size",
    "image_size",
    "initializer_range",
    "intermediate_size",
    "layer_norm_eps",
    "num_attention_heads",
    "num_auxiliary_layers",
    "num_channels",
    "num_frames",
    "num_spatial_layers",
    "num_temporal_layers",
    "qkv_bias",
    "tubelet_size",
)
VISION_REQUIRED = (
    "hidden_size",
    "image_size",
    "intermediate_size",
    "num_attention_heads",
    "num_frames",
    "num_spatial_layers",
    "num_temporal_layers",
)
# `VideoPrismTextConfig`, the text tower.
TEXT_KEYS = (
    "apply_l2norm",
    "attention_probs_dropout_prob",
    "attn_logit_softcapping",
    "bos_token_id",
    "eos_token_id",
    "hidden_act",
    "hidden_dropout_prob",
    "hidden_size",
    "initializer_range",
    "intermediate_size",
    "layer_norm_eps",
    "max_position_embeddings",
    "num_attention_heads",
    "num_hidden_layers",
    "pad_token_id",
    "qkv_bias",
    "vocab_size",
)
TEXT_REQUIRED = (
    "hidden_size",
    "intermediate_size",
    "num_attention_heads",
    "num_hidden_layers",
    "vocab_size",
)
# `VideoPrismConfig`, the video-text model.
CLIP_KEYS = ("text_config", "vision_config")


def check_config(config, source):
    """Checks a transformers VideoPrism `config.json` key by key.

    Args:
        config: dict. The parsed `config.json`.
        source: str. Its path, for the messages.

    Raises:
        ValueError: an unknown key (named with the closest known one) or a
            missing key the conversion reads.

    Example:

    ```python
    check_config(json.load(open(path)), path)
    ```
    """
    if "vision_config" not in config and "text_config" not in config:
        check_keys(
            config,
            GENERIC_KEYS + VISION_KEYS,
            source,
            required=VISION_REQUIRED,
        )
        return
    check_keys(config, GENERIC_KEYS + CLIP_KEYS, source, required=CLIP_KEYS)
    check_keys(
        config["vision_config"],
        GENERIC_KEYS + VISION_KEYS,
        f"{source} (vision_config)",
        required=VISION_REQUIRED + ("num_auxiliary_layers",),
    )
    check_keys(
        config["text_config"],
        GENERIC_KEYS + TEXT_KEYS,
        f"{source} (text_config)",
        required=TEXT_REQUIRED,
    )
