import math

import keras
from keras import ops

from keras_videoprism.layers.video_prism_attention import soft_capped_attention
from keras_videoprism.layers.video_prism_dense import VideoPrismDense

# 1 / softplus(0): a zero `per_dim_scale` leaves the query scale at Ha^-0.5.
_INV_SOFTPLUS_ZERO = 1.442695041


@keras.saving.register_keras_serializable(package="keras_videoprism")
class VideoPrismAttentionPooler(keras.layers.Layer):
    """Pools a token sequence with one learned query (AttenTokenPoolingLayer).

    A learned query attends over all tokens (no mask, no logit cap) with
    `num_heads` heads of width `attention_dim // num_heads`; the query is
    scaled per dimension by `softplus(per_dim_scale) / (ln 2 * sqrt(Ha))`.
    The output projection maps back to D and a LayerNorm follows. There is no
    MLP and no residual. The video-text models use `attention_dim = 4 * D`,
    the official classifier `attention_dim = D`; any width is accepted.

    Args:
        hidden_dim: int. Model width D.
        num_heads: int. Attention heads.
        attention_dim: int. Total attention width A. Defaults to `hidden_dim`.
        layer_norm_epsilon: float. Defaults to `1e-6`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: tokens `(..., S, D)`; leading axes are batch axes.

    Returns:
        Pooled embeddings of shape `(..., D)`.

    Example:

    ```python
    pooler = VideoPrismAttentionPooler(hidden_dim=768, num_heads=12,
                                       attention_dim=3072)
    embedding = pooler(np.random.rand(2, 4096, 768))  # (2, 768)
    ```
    """

    def __init__(
        self,
        hidden_dim,
        num_heads,
        attention_dim=None,
        layer_norm_epsilon=1e-6,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.attention_dim = attention_dim or hidden_dim
        self.layer_norm_epsilon = layer_norm_epsilon
        if self.attention_dim % num_heads:
            raise ValueError(
                "`attention_dim` must be divisible by `num_heads`. Received: "
                f"attention_dim={self.attention_dim}, num_heads={num_heads}"
            )
        self.head_dim = self.attention_dim // num_heads
        self.query_projection = VideoPrismDense(
            self.attention_dim, dtype=self.dtype_policy, name="query_projection"
        )
        self.key_value_projection = VideoPrismDense(
            2 * self.attention_dim,
            dtype=self.dtype_policy,
            name="key_value_projection",
        )
        self.output_projection = VideoPrismDense(
            hidden_dim, dtype=self.dtype_policy, name="output_projection"
        )
        self.output_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon,
            dtype=self.dtype_policy,
            name="output_norm",
        )

    def build(self, inputs_shape):
        self.query = self.add_weight(
            name="query",
            shape=(1, self.hidden_dim),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )
        self.per_dim_scale = self.add_weight(
            name="per_dim_scale", shape=(self.head_dim,), initializer="zeros"
        )
        self.query_projection.build((1, self.hidden_dim))
        self.key_value_projection.build((None, None, self.hidden_dim))
        self.output_projection.build((None, self.attention_dim))
        self.output_norm.build((None, self.hidden_dim))
        self.built = True

    def call(self, inputs):
        shape = ops.shape(inputs)
        # (B, S, D) with every leading axis folded into B.
        tokens = ops.reshape(inputs, (-1, shape[-2], shape[-1]))
        batch, length = ops.shape(tokens)[0], ops.shape(tokens)[1]
        key_value = self.key_value_projection(tokens)
        key_value = ops.reshape(
            key_value, (batch, length, 2, self.num_heads, self.head_dim)
        )
        # A tensor, not the variable: a quantized `Dense` takes tensors.
        query = self.query_projection(
            ops.cast(self.query, self.compute_dtype)
        )  # (1, A)
        scale = ops.softplus(ops.cast(self.per_dim_scale, "float32"))
        scale = scale * (_INV_SOFTPLUS_ZERO / math.sqrt(self.head_dim))
        query = ops.reshape(query, (1, 1, self.num_heads, self.head_dim))
        query = query * ops.cast(scale, query.dtype)
        # A tile (LiteRT has no `BROADCAST_TO` from torch exports).
        query = ops.tile(query, (batch, 1, 1, 1))
        context = soft_capped_attention(
            query, key_value[:, :, 0], key_value[:, :, 1]
        )
        context = ops.reshape(context, (batch, self.attention_dim))
        pooled = self.output_norm(self.output_projection(context))
        return ops.reshape(pooled, (*shape[:-2], self.hidden_dim))

    def compute_output_shape(self, inputs_shape):
        return (*inputs_shape[:-2], self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "num_heads": self.num_heads,
                "attention_dim": self.attention_dim,
                "layer_norm_epsilon": self.layer_norm_epsilon,
            }
        )
        return config
