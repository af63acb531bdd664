import keras
from keras import ops

from keras_videoprism.layers.fused_attention import fused_attention
from keras_videoprism.layers.video_prism_dense import VideoPrismDense

# The official model replaces masked logits by this value (not -inf), so a
# fully masked row becomes a uniform distribution instead of NaN.
MASKED_LOGIT = -0.7 * 3.4028234663852886e38


# Attention over more (query, key) pairs than this, per batch row and head,
# runs in query chunks: the LvT auxiliary encoder's 4096 x 4096 logits would
# otherwise be materialised whole. Rows of a softmax are independent, so
# chunking changes no number. At 2**19 the base LvT model's peak memory on
# JAX fell from 4.2 GB (2**22) to 3.3 GB with no loss of speed.
MAX_LOGITS_PER_CHUNK = 2**19


def soft_capped_attention(
    query,
    key,
    value,
    mask=None,
    soft_cap=None,
    dropout=None,
    training=None,
    max_logits_per_chunk=MAX_LOGITS_PER_CHUNK,
):
    """Scaled dot-product attention with a tanh soft cap on the logits.

    The query must already carry its scale. The logits are capped as
    `c * tanh(logits / c)` *before* masking, masked logits are replaced by a
    large negative constant, and the softmax runs in float32, as in the
    official VideoPrism attention. Long sequences are processed in query
    chunks of at most `max_logits_per_chunk` logits per batch row and head
    (when the lengths are static). In the einsums `n` is the head axis and
    `h` the head width. Where a backend has a fused kernel for exactly this
    computation (see `fused_attention`), inference runs it instead.

    Args:
        query: tensor of shape `(B, Sq, n, h)`, already scaled.
        key: tensor of shape `(B, Sk, n, h)`.
        value: tensor of shape `(B, Sk, n, h)`.
        mask: optional boolean tensor broadcastable to `(B, n, Sq, Sk)`;
            `True` marks the (query, key) pairs that may attend.
        soft_cap: optional float `c`; `None` or `<= 0` disables the cap.
        dropout: optional `keras.layers.Dropout` applied to the weights.
        training: bool, forwarded to `dropout`.
        max_logits_per_chunk: int. Chunking threshold.

    Returns:
        The context, a tensor of shape `(B, Sq, n, h)` in the query's dtype.
    """
    dropout_active = bool(training) and dropout is not None and dropout.rate
    if not dropout_active:
        context = fused_attention(
            query, key, value, mask, soft_cap, MASKED_LOGIT
        )
        if context is not None:
            return context
    query_length, key_length = query.shape[1], key.shape[1]
    if (
        isinstance(query_length, int)
        and isinstance(key_length, int)
        and query_length * key_length > max_logits_per_chunk
    ):
        chunk = max(1, max_logits_per_chunk // key_length)
        contexts = []
        for start in range(0, query_length, chunk):
            chunk_mask = mask
            if mask is not None and mask.shape[-2] != 1:
                chunk_mask = mask[..., start : start + chunk, :]
            contexts.append(
                _attention(
                    query[:, start : start + chunk],
                    key,
                    value,
                    chunk_mask,
                    soft_cap,
                    dropout,
                    training,
                )
            )
        return ops.concatenate(contexts, axis=1)
    return _attention(query, key, value, mask, soft_cap, dropout, training)


def _attention(query, key, value, mask, soft_cap, dropout, training):
    # Heads-major operands (B, n, S, h): with the batch axes leading, XLA on
    # CPU ran one base spatial layer's attention in 49 ms instead of 126 ms.
    query, key, value = (
        ops.transpose(x, (0, 2, 1, 3)) for x in (query, key, value)
    )
    logits = ops.einsum("bnqh,bnkh->bnqk", query, key)
    logits = ops.cast(logits, "float32")
    if soft_cap is not None and soft_cap > 0:
        logits = soft_cap * ops.tanh(logits / soft_cap)
    if mask is not None:
        logits = ops.where(mask, logits, MASKED_LOGIT)
    weights = ops.cast(ops.softmax(logits, axis=-1), value.dtype)
    if dropout is not None:
        weights = dropout(weights, training=training)
    context = ops.einsum("bnqk,bnkh->bnqh", weights, value)
    return ops.transpose(context, (0, 2, 1, 3))


@keras.saving.register_keras_serializable(package="keras_videoprism")
class VideoPrismAttention(keras.layers.Layer):
    """Multi-head self-attention of the VideoPrism transformer blocks.

    One fused projection computes queries, keys and values (head-major
    features); queries are scaled by `head_dim ** -0.5`; the logits are soft
    capped, masked and normalised in float32 (see `soft_capped_attention`);
    an output projection maps the heads back to `hidden_dim`.

    Args:
        hidden_dim: int. Model width D.
        num_heads: int. Number of heads; the head width is `D // num_heads`.
        attention_logit_soft_cap: float or None. The tanh cap `c` of the
            logits (50.0 in every official model). Defaults to `None`.
        attention_dropout_rate: float. Dropout on the attention weights.
            Defaults to `0.0`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: tensor of shape `(B, S, D)`.
        attention_mask: optional boolean tensor broadcastable to
            `(B, num_heads, S, S)`, `True` where a query may see a key.
        training: bool.

    Returns:
        A tensor of shape `(B, S, D)`.

    Example:

    ```python
    layer = VideoPrismAttention(hidden_dim=64, num_heads=4,
                                attention_logit_soft_cap=50.0)
    y = layer(np.random.rand(2, 10, 64))
    ```
    """

    def __init__(
        self,
        hidden_dim,
        num_heads,
        attention_logit_soft_cap=None,
        attention_dropout_rate=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.attention_logit_soft_cap = attention_logit_soft_cap
        self.attention_dropout_rate = attention_dropout_rate
        self.head_dim = hidden_dim // num_heads
        inner_dim = self.num_heads * self.head_dim
        self.qkv_projection = VideoPrismDense(
            3 * inner_dim, dtype=self.dtype_policy, name="qkv_projection"
        )
        self.output_projection = VideoPrismDense(
            hidden_dim, dtype=self.dtype_policy, name="output_projection"
        )
        self.attention_dropout = keras.layers.Dropout(
            attention_dropout_rate,
            dtype=self.dtype_policy,
            name="attention_dropout",
        )

    def build(self, inputs_shape):
        self.qkv_projection.build(inputs_shape)
        inner_shape = (*inputs_shape[:-1], self.num_heads * self.head_dim)
        self.output_projection.build(inner_shape)
        self.built = True

    def call(self, inputs, attention_mask=None, training=None):
        batch, length = ops.shape(inputs)[0], ops.shape(inputs)[1]
        qkv = self.qkv_projection(inputs)
        # (B, S, 3, n, h): the three projections are stacked head-major.
        qkv = ops.reshape(qkv, (batch, length, 3, self.num_heads, -1))
        query = qkv[:, :, 0] * ops.cast(self.head_dim**-0.5, qkv.dtype)
        context = soft_capped_attention(
            query,
            qkv[:, :, 1],
            qkv[:, :, 2],
            mask=attention_mask,
            soft_cap=self.attention_logit_soft_cap,
            dropout=self.attention_dropout,
            training=training,
        )
        context = ops.reshape(context, (batch, length, -1))
        return self.output_projection(context)

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "num_heads": self.num_heads,
                "attention_logit_soft_cap": self.attention_logit_soft_cap,
                "attention_dropout_rate": self.attention_dropout_rate,
            }
        )
        return config
