"""Loads the official VideoPrism Flax checkpoints (`.npz`) into Keras models.

The published files are flat `.npz` archives keyed by the Flax variable path
(`params/spatial_encoder/transformers_stack/x_layers/...`), with one leading
layer axis on every scanned stack, Dense kernels stored `[in, out]`,
attention weights stored per head `[D, heads, head_dim]` and LayerNorm scales
stored as offsets from 1. Everything here is numpy: no jax or flax needed.
"""

import os

import keras
import numpy as np

ENCODER = "FactorizedEncoder"
CLIP = "FactorizedVideoCLIP"
CLASSIFIER = "FactorizedVideoClassifier"
# The serialized names of the classes the checkpoints load into.
BACKBONE_CLASS = "keras_videoprism>VideoPrismBackbone"
CLASSIFIER_CLASS = "keras_videoprism>VideoPrismVideoClassifier"


def registered_class(name):
    """A class of ours, looked up in the Keras registry by serialized name.

    The checkpoint readers sit below the models in the import graph and
    never import them; `import keras_videoprism` registers every class.

    Args:
        name: str. A serialized name, e.g. `"keras_videoprism>X"`.

    Returns:
        The registered class.

    Example:

    ```python
    backbone_cls = registered_class(BACKBONE_CLASS)
    ```
    """
    cls = keras.saving.get_registered_object(name)
    if cls is None:
        raise ValueError(
            f"No class is registered as '{name}'. Import `keras_videoprism` "
            "(which registers its classes) before loading checkpoints."
        )
    return cls


class _Checkpoint:
    """The flat arrays of a checkpoint, with bookkeeping of what was read."""

    def __init__(self, arrays):
        self.arrays = arrays
        self.used = set()

    def get(self, key, layer=None, num_layers=None, shape=None):
        if key not in self.arrays:
            raise ValueError(
                f"The checkpoint has no key '{key}', which the configuration "
                "needs. Check that the checkpoint and the official config "
                "describe the same model."
            )
        self.used.add(key)
        value = np.asarray(self.arrays[key], dtype="float32")
        if layer is not None:
            if value.ndim == 0 or value.shape[0] != num_layers:
                raise ValueError(
                    f"Checkpoint key '{key}' has shape {value.shape}: its "
                    f"leading layer axis should be {num_layers} long, as the "
                    "configuration says."
                )
            value = value[layer]
        if shape is not None and value.shape != tuple(shape):
            raise ValueError(
                f"Checkpoint key '{key}' has shape {value.shape} (per layer)"
                f", but the configuration needs {tuple(shape)}."
            )
        return value

    def check_all_used(self):
        unused = sorted(set(self.arrays) - self.used)
        if unused:
            raise ValueError(
                f"The checkpoint has {len(unused)} key(s) the configuration "
                f"does not use, first '{unused[0]}'. Check the official "
                "config (e.g. layer counts, text tower, auxiliary layers)."
            )


class _Assigner:
    """Assigns numpy values to Keras variables and checks full coverage."""

    def __init__(self, model):
        self.model = model
        self.assigned = set()

    def __call__(self, variable, value, keys):
        if tuple(variable.shape) != value.shape:
            raise ValueError(
                f"Checkpoint key(s) {keys} give shape {value.shape}, but "
                f"'{variable.path}' has shape {tuple(variable.shape)}: the "
                "checkpoint does not fit the configuration."
            )
        variable.assign(value)
        self.assigned.add(id(variable))

    def check_all_assigned(self):
        missed = [
            v.path for v in self.model.weights if id(v) not in self.assigned
        ]
        if missed:
            raise ValueError(f"No checkpoint value for {missed}.")


def _load_norm(assign, ckpt, norm, key, layer=None, num_layers=None):
    scale = ckpt.get(f"{key}/scale", layer, num_layers)
    bias = ckpt.get(f"{key}/bias", layer, num_layers)
    # The stored scale is an offset: the effective gain is 1 + scale.
    assign(norm.gamma, 1.0 + scale, [f"{key}/scale"])
    assign(norm.beta, bias, [f"{key}/bias"])


def _load_dense(assign, ckpt, dense, key, layer=None, num_layers=None):
    for name in ("kernel", "bias"):
        full_key = f"{key}/{name}"
        value = ckpt.get(full_key, layer, num_layers)
        assign(getattr(dense, name), value, [full_key])


def _heads(ckpt, key, dims, layer=None, num_layers=None):
    """Per-head `w [D, n, h]` and `b [n, h]` of one projection, flattened."""
    hidden, heads, width = dims
    w = ckpt.get(f"{key}/w", layer, num_layers, (hidden, heads, width))
    b = ckpt.get(f"{key}/b", layer, num_layers, (heads, width))
    return w.reshape(hidden, heads * width), b.reshape(heads * width)


def _load_output(assign, ckpt, dense, key, dims, layer=None, num_layers=None):
    hidden, heads, width = dims
    w = ckpt.get(f"{key}/w", layer, num_layers, (hidden, heads, width))
    # `post/w` is [D, n, h] but maps heads to D: transpose, never reshape.
    assign(dense.kernel, w.reshape(hidden, heads * width).T, [f"{key}/w"])
    assign(dense.bias, ckpt.get(f"{key}/b", layer, num_layers), [f"{key}/b"])


def _load_stack(assign, ckpt, stack, key):
    """A scanned `x_layers` stack: index `i` of the leading axis is block i."""
    n = stack.num_layers
    dims = (
        stack.hidden_dim,
        stack.num_heads,
        stack.hidden_dim // stack.num_heads,
    )
    primer = stack.norm_policy == "primer_hybrid"
    for i, block in enumerate(stack.blocks):
        attention = f"{key}/self_attention"
        projections = [
            _heads(ckpt, f"{attention}/{name}", dims, i, n)
            for name in ("query", "key", "value")
        ]
        assign(
            block.attention.qkv_projection.kernel,
            np.concatenate([w for w, _ in projections], axis=1),
            [f"{attention}/{{query,key,value}}/w"],
        )
        assign(
            block.attention.qkv_projection.bias,
            np.concatenate([b for _, b in projections]),
            [f"{attention}/{{query,key,value}}/b"],
        )
        _load_output(
            assign,
            ckpt,
            block.attention.output_projection,
            f"{attention}/post",
            dims,
            i,
            n,
        )
        ff = f"{key}/ff_layer"
        if primer:
            norms = [
                (block.attention_norm, f"{key}/pre_layer_norm"),
                (block.attention_post_norm, f"{key}/post_layer_norm"),
                (block.mlp_norm, f"{ff}/pre_layer_norm"),
                (block.mlp_post_norm, f"{ff}/post_layer_norm"),
            ]
        else:
            norms = [
                (block.attention_norm, f"{key}/layer_norm"),
                (block.mlp_norm, f"{ff}/layer_norm"),
            ]
        for norm, norm_key in norms:
            _load_norm(assign, ckpt, norm, norm_key, i, n)
        _load_dense(
            assign,
            ckpt,
            block.mlp_intermediate,
            f"{ff}/ffn_layer1/linear",
            i,
            n,
        )
        _load_dense(
            assign, ckpt, block.mlp_output, f"{ff}/ffn_layer2/linear", i, n
        )


def load_video_encoder(assign, ckpt, backbone, prefix):
    """The `FactorizedEncoder` weights under `prefix` (e.g. `params/`)."""
    _load_dense(
        assign,
        ckpt,
        backbone.patch_embedding.projection,
        f"{prefix}patch_projection/linear",
    )
    encoder = backbone.factorized_encoder
    for name in ("spatial", "temporal"):
        embedding = getattr(encoder, f"{name}_position_embedding")
        key = f"{prefix}{name}_pos_emb/emb_var"
        assign(embedding.embeddings, ckpt.get(key), [key])
        _load_stack(
            assign,
            ckpt,
            getattr(encoder, f"{name}_encoder"),
            f"{prefix}{name}_encoder/transformers_stack/x_layers",
        )
        _load_norm(
            assign, ckpt, getattr(encoder, f"{name}_norm"), f"{prefix}{name}_ln"
        )


def load_attention_pooler(assign, ckpt, pooler, prefix):
    """An `AttenTokenPoolingLayer` under `prefix` (with a trailing `/`)."""
    dims = (pooler.hidden_dim, pooler.num_heads, pooler.head_dim)
    attention = f"{prefix}pooling_attention"
    query_key = f"{prefix}pooling_attention_query"
    assign(pooler.query, ckpt.get(query_key), [query_key])
    w, b = _heads(ckpt, f"{attention}/query", dims)
    assign(pooler.query_projection.kernel, w, [f"{attention}/query/w"])
    assign(pooler.query_projection.bias, b, [f"{attention}/query/b"])
    key_w, key_b = _heads(ckpt, f"{attention}/key", dims)
    value_w, value_b = _heads(ckpt, f"{attention}/value", dims)
    assign(
        pooler.key_value_projection.kernel,
        np.concatenate([key_w, value_w], axis=1),
        [f"{attention}/{{key,value}}/w"],
    )
    assign(
        pooler.key_value_projection.bias,
        np.concatenate([key_b, value_b]),
        [f"{attention}/{{key,value}}/b"],
    )
    _load_output(
        assign, ckpt, pooler.output_projection, f"{attention}/post", dims
    )
    scale_key = f"{attention}/per_dim_scale/per_dim_scale"
    assign(pooler.per_dim_scale, ckpt.get(scale_key), [scale_key])
    _load_norm(
        assign,
        ckpt,
        pooler.output_norm,
        f"{prefix}pooling_attention_layer_norm",
    )


def _load_text_encoder(assign, ckpt, text_encoder, prefix):
    key = f"{prefix}token_emb/emb_var"
    assign(text_encoder.token_embedding.embeddings, ckpt.get(key), [key])
    key = f"{prefix}cls_emb"
    cls = ckpt.get(key, shape=(1, 1, text_encoder.hidden_dim))
    assign(text_encoder.class_token, cls.reshape(-1), [key])
    _load_stack(
        assign,
        ckpt,
        text_encoder.encoder,
        f"{prefix}unimodal_transformer/x_layers",
    )
    _load_norm(assign, ckpt, text_encoder.final_norm, f"{prefix}unimodal_ln")


def _required(args, name, official_class):
    if name not in args:
        raise ValueError(
            f"The official config of `{official_class}` lacks the "
            f"constructor argument '{name}'."
        )
    return args[name]


def backbone_kwargs(official_class, constructor_args):
    """`VideoPrismBackbone` arguments of an official model description."""
    args = constructor_args
    if official_class == CLASSIFIER:
        args = _required(args, "encoder_params", official_class)

    def arg(name):
        return _required(args, name, official_class)

    patch_size = arg("patch_size")
    frames, rows, columns = arg("pos_emb_shape")
    soft_cap = args.get("atten_logit_cap", 0.0)
    kwargs = {
        "num_frames": frames,
        "patch_size": patch_size,
        "hidden_dim": arg("model_dim"),
        "intermediate_dim": arg("mlp_dim"),
        "num_heads": arg("num_heads"),
        "num_spatial_layers": arg("num_spatial_layers"),
        "num_temporal_layers": arg("num_temporal_layers"),
        "num_auxiliary_layers": 0,
        "attention_logit_soft_cap": soft_cap if soft_cap > 0 else None,
        "image_shape": (rows * patch_size, columns * patch_size, 3),
    }
    if official_class == CLIP:
        kwargs.update(
            num_auxiliary_layers=arg("num_auxiliary_layers"),
            vocabulary_size=arg("vocabulary_size"),
            num_text_layers=arg("num_unimodal_layers"),
            text_norm_policy=args.get("norm_policy", "pre"),
        )
    return kwargs


def _official_class(official_config):
    name = str(official_config.get("official_class", "")).split(".")[-1]
    if name not in (ENCODER, CLIP, CLASSIFIER):
        raise ValueError(
            "`official_config['official_class']` must name one of "
            f"{[ENCODER, CLIP, CLASSIFIER]}. Received: "
            f"{official_config.get('official_class')!r}"
        )
    return name


def read_checkpoint(path):
    """The flat `{key: array}` mapping of an official `.npz` checkpoint."""
    if isinstance(path, dict):
        return dict(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No checkpoint file at '{path}'.")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except Exception as error:
        raise ValueError(
            f"Could not read '{path}' as an official VideoPrism `.npz` "
            f"checkpoint ({type(error).__name__}: {error}). The file may be "
            "truncated or of another format."
        ) from error


def load_official_weights(model, official_class, arrays):
    """Assigns official checkpoint arrays to a model built for them."""
    ckpt = _Checkpoint(arrays)
    assign = _Assigner(model)
    if official_class == CLASSIFIER:
        backbone = model.backbone
        load_video_encoder(assign, ckpt, backbone, "params/encoder/")
        load_attention_pooler(
            assign, ckpt, model.pooler, "params/atten_pooler/"
        )
        _load_dense(
            assign, ckpt, model.output_dense, "params/projection/linear"
        )
    elif official_class == CLIP:
        load_video_encoder(assign, ckpt, model, "params/vision_encoder/")
        if model.auxiliary_encoder is not None:
            _load_stack(
                assign,
                ckpt,
                model.auxiliary_encoder,
                "params/auxiliary_encoder/transformers_stack/x_layers",
            )
        load_attention_pooler(
            assign,
            ckpt,
            model.video_pooler,
            "params/contrastive_vision_pooler/",
        )
        _load_text_encoder(
            assign, ckpt, model.text_encoder, "params/text_encoder/"
        )
    else:
        load_video_encoder(assign, ckpt, model, "params/")
    ckpt.check_all_used()
    assign.check_all_assigned()
    return model


def from_official_checkpoint(path, official_config, dtype=None):
    """Builds the Keras model of an official checkpoint and loads it.

    Args:
        path: str or dict. An official `.npz` checkpoint (the published
            `flax_*_repeated.npz` layout), or its `{key: array}` mapping.
        official_config: dict. The official model description, with
            `official_class` (`FactorizedEncoder`, `FactorizedVideoCLIP` or
            `FactorizedVideoClassifier`, optionally module-qualified) and
            `constructor_args` (the official constructor's arguments, e.g.
            `model_dim`, `pos_emb_shape`, `atten_logit_cap`). Other keys are
            ignored.
        dtype: optional dtype policy of the returned model.

    Returns:
        A `VideoPrismBackbone` (video-only for `FactorizedEncoder`,
        video-text for `FactorizedVideoCLIP`) or, for
        `FactorizedVideoClassifier`, a `VideoPrismVideoClassifier`, with the
        checkpoint's weights.

    Raises:
        ValueError: a key the configuration needs is missing, a key is left
            unused, or a shape does not match; the message names the key.

    Example:

    ```python
    config = {
        "official_class": "FactorizedEncoder",
        "constructor_args": {
            "patch_size": 18, "pos_emb_shape": [16, 16, 16],
            "model_dim": 768, "num_spatial_layers": 12,
            "num_temporal_layers": 4, "num_heads": 12, "mlp_dim": 3072,
            "atten_logit_cap": 50.0,
        },
    }
    backbone = keras_videoprism.convert.from_official_checkpoint(
        "flax_base_f16r288_repeated.npz", config
    )
    ```
    """
    official_class = _official_class(official_config)
    constructor_args = official_config.get("constructor_args")
    if not isinstance(constructor_args, dict):
        raise ValueError(
            "`official_config['constructor_args']` must be a dict of the "
            "official constructor arguments."
        )
    arrays = read_checkpoint(path)
    kwargs = backbone_kwargs(official_class, constructor_args)
    backbone = registered_class(BACKBONE_CLASS)(**kwargs, dtype=dtype)
    model = backbone
    if official_class == CLASSIFIER:
        num_classes = _required(constructor_args, "num_classes", CLASSIFIER)
        model = registered_class(CLASSIFIER_CLASS)(
            backbone=backbone, num_classes=num_classes, preprocessor=None
        )
    return load_official_weights(model, official_class, arrays)
