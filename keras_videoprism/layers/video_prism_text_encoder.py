import math

import keras
from keras import ops

from keras_videoprism.layers.video_prism_transformer import (
    VideoPrismTransformerStack,
)


def sinusoidal_positions(length, dim):
    """The official text position table, `(length, dim)` float32.

    For `i < dim // 2`: `inv_i = exp(-i * ln(1e4) / max(dim // 2 - 1, 1))`,
    column `i` holds `sin(p * inv_i)` and column `dim // 2 + i` holds
    `cos(p * inv_i)` (sines then cosines, not interleaved); an odd `dim`
    gets a zero last column. This is not the table transformers uses.

    Args:
        length: int or scalar tensor. Number of positions, starting at 0.
        dim: int. Embedding width.

    Returns:
        A float32 tensor of shape `(length, dim)`.
    """
    half = dim // 2
    increment = math.log(1e4) / max(half - 1, 1)
    inverse = ops.exp(ops.cast(ops.arange(half), "float32") * -increment)
    positions = ops.cast(ops.arange(length), "float32")
    angles = positions[:, None] * inverse[None, :]
    table = ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)
    if dim % 2:
        table = ops.pad(table, ((0, 0), (0, 1)))
    return table


@keras.saving.register_keras_serializable(package="keras_videoprism")
class VideoPrismTextEncoder(keras.layers.Layer):
    """The CoCa-style unimodal text tower of the VideoPrism LvT models.

    Token embeddings are scaled by `sqrt(D)` and get the sinusoidal position
    table; a learned class token (also scaled by `sqrt(D)`, no position) is
    appended *after* the last token; a causal transformer stack (ReLU, MLP
    width `4 * D`) with the padding mask runs over the sequence; a final
    LayerNorm follows and the class token is returned. With right padding,
    the class token sees every real token and no padded one.

    Args:
        vocabulary_size: int. Number of token ids.
        hidden_dim: int. Model width D.
        num_layers: int. Depth of the stack.
        num_heads: int. Attention heads.
        norm_policy: str. `"pre"` (base, large) or `"primer_hybrid"`
            (giant). Defaults to `"pre"`.
        attention_logit_soft_cap, dropout_rate, attention_dropout_rate,
        layer_norm_epsilon: as in `VideoPrismTransformerBlock`.
        rematerialize: bool. Recompute transformer activations in the
            backward pass (see `VideoPrismTransformerStack`). Defaults to
            `False`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        token_ids: int tensor `(B, L)`.
        padding_mask: tensor `(B, L)`, 1 = real token.
        training: bool.

    Returns:
        Unnormalized text embeddings `(B, D)`.

    Example:

    ```python
    encoder = VideoPrismTextEncoder(vocabulary_size=32000, hidden_dim=768,
                                    num_layers=12, num_heads=12)
    ids = np.array([[5, 6, 7, 0]])
    embeddings = encoder(ids, np.array([[1, 1, 1, 0]]))  # (1, 768)
    ```
    """

    def __init__(
        self,
        vocabulary_size,
        hidden_dim,
        num_layers,
        num_heads,
        norm_policy="pre",
        attention_logit_soft_cap=None,
        dropout_rate=0.0,
        attention_dropout_rate=0.0,
        layer_norm_epsilon=1e-6,
        rematerialize=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.norm_policy = norm_policy
        self.attention_logit_soft_cap = attention_logit_soft_cap
        self.dropout_rate = dropout_rate
        self.attention_dropout_rate = attention_dropout_rate
        self.layer_norm_epsilon = layer_norm_epsilon
        self.rematerialize = rematerialize
        self.token_embedding = keras.layers.Embedding(
            vocabulary_size,
            hidden_dim,
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.encoder = VideoPrismTransformerStack(
            num_layers=num_layers,
            hidden_dim=hidden_dim,
            intermediate_dim=4 * hidden_dim,
            num_heads=num_heads,
            use_causal_mask=True,
            activation="relu",
            norm_policy=norm_policy,
            attention_logit_soft_cap=attention_logit_soft_cap,
            dropout_rate=dropout_rate,
            attention_dropout_rate=attention_dropout_rate,
            layer_norm_epsilon=layer_norm_epsilon,
            rematerialize=rematerialize,
            dtype=self.dtype_policy,
            name="encoder",
        )
        self.final_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon,
            dtype=self.dtype_policy,
            name="final_norm",
        )

    def build(self, token_ids_shape, padding_mask_shape=None):
        self.class_token = self.add_weight(
            name="class_token",
            shape=(self.hidden_dim,),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )
        self.token_embedding.build(token_ids_shape)
        self.encoder.build((None, None, self.hidden_dim))
        self.final_norm.build((None, self.hidden_dim))
        self.built = True

    def call(self, token_ids, padding_mask, training=None):
        batch, length = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
        scale = math.sqrt(self.hidden_dim)
        x = self.token_embedding(token_ids) * ops.cast(
            scale, self.compute_dtype
        )
        positions = sinusoidal_positions(length, self.hidden_dim)
        x = x + ops.cast(positions, x.dtype)[None]
        class_token = ops.cast(self.class_token * scale, x.dtype)
        class_token = ops.broadcast_to(
            class_token[None, None, :], (batch, 1, self.hidden_dim)
        )
        x = ops.concatenate([x, class_token], axis=1)  # (B, L + 1, D)
        padding_mask = ops.cast(padding_mask, "bool")
        class_mask = ops.ones((batch, 1), dtype="bool")
        padding_mask = ops.concatenate([padding_mask, class_mask], axis=1)
        x = self.encoder(x, padding_mask=padding_mask, training=training)
        return self.final_norm(x[:, -1, :])

    def compute_output_shape(self, token_ids_shape, padding_mask_shape=None):
        return (token_ids_shape[0], self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "norm_policy": self.norm_policy,
                "attention_logit_soft_cap": self.attention_logit_soft_cap,
                "dropout_rate": self.dropout_rate,
                "attention_dropout_rate": self.attention_dropout_rate,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "rematerialize": self.rematerialize,
            }
        )
        return config
