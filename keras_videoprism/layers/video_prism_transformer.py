import keras
from keras import ops

from keras_videoprism.layers.video_prism_attention import VideoPrismAttention
from keras_videoprism.layers.video_prism_dense import VideoPrismDense

NORM_POLICIES = ("pre", "primer_hybrid")
ACTIVATIONS = ("gelu", "relu")


def _activation(x, name):
    if name == "gelu":
        # The official vision stacks use the exact (erf) GELU.
        return ops.gelu(x, approximate=False)
    return ops.relu(x)


@keras.saving.register_keras_serializable(package="keras_videoprism")
class VideoPrismTransformerBlock(keras.layers.Layer):
    """One transformer block of VideoPrism: attention then MLP, residuals.

    With `norm_policy="pre"` (every vision stack and the base and large text
    towers) each branch is `x + f(LN(x))`. With `"primer_hybrid"` (the giant
    text tower) each branch output goes through a second LayerNorm before the
    residual add: `x + LN_post(f(LN_pre(x)))`. The MLP hidden and output
    activations are zeroed at padded tokens, as in the official code.

    Args:
        hidden_dim: int. Model width D.
        intermediate_dim: int. MLP width.
        num_heads: int. Attention heads.
        activation: str. `"gelu"` (exact, vision) or `"relu"` (text).
            Defaults to `"gelu"`.
        norm_policy: str. `"pre"` or `"primer_hybrid"`. Defaults to `"pre"`.
        attention_logit_soft_cap: float or None. Defaults to `None`.
        dropout_rate: float. Dropout on both branch outputs. Defaults to 0.
        attention_dropout_rate: float. Defaults to `0.0`.
        layer_norm_epsilon: float. Defaults to `1e-6`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: tensor of shape `(B, S, D)`.
        padding_mask: optional tensor `(B, S)`, 1 (True) = real token.
        attention_mask: optional boolean tensor broadcastable to
            `(B, heads, S, S)`.
        training: bool.

    Returns:
        A tensor of shape `(B, S, D)`.
    """

    def __init__(
        self,
        hidden_dim,
        intermediate_dim,
        num_heads,
        activation="gelu",
        norm_policy="pre",
        attention_logit_soft_cap=None,
        dropout_rate=0.0,
        attention_dropout_rate=0.0,
        layer_norm_epsilon=1e-6,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if norm_policy not in NORM_POLICIES:
            raise ValueError(
                f"`norm_policy` must be one of {NORM_POLICIES}. "
                f"Received: norm_policy={norm_policy}"
            )
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"`activation` must be one of {ACTIVATIONS}. "
                f"Received: activation={activation}"
            )
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.num_heads = num_heads
        self.activation = activation
        self.norm_policy = norm_policy
        self.attention_logit_soft_cap = attention_logit_soft_cap
        self.dropout_rate = dropout_rate
        self.attention_dropout_rate = attention_dropout_rate
        self.layer_norm_epsilon = layer_norm_epsilon

        def norm(name):
            return keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name=name
            )

        self.attention_norm = norm("attention_norm")
        self.attention = VideoPrismAttention(
            hidden_dim=hidden_dim,
            num_heads=num_heads,
            attention_logit_soft_cap=attention_logit_soft_cap,
            attention_dropout_rate=attention_dropout_rate,
            dtype=self.dtype_policy,
            name="attention",
        )
        self.mlp_norm = norm("mlp_norm")
        self.mlp_intermediate = VideoPrismDense(
            intermediate_dim, dtype=self.dtype_policy, name="mlp_intermediate"
        )
        self.mlp_output = VideoPrismDense(
            hidden_dim, dtype=self.dtype_policy, name="mlp_output"
        )
        self.attention_post_norm = None
        self.mlp_post_norm = None
        if norm_policy == "primer_hybrid":
            self.attention_post_norm = norm("attention_post_norm")
            self.mlp_post_norm = norm("mlp_post_norm")
        self.dropout = keras.layers.Dropout(
            dropout_rate, dtype=self.dtype_policy, name="dropout"
        )

    def build(self, inputs_shape):
        self.attention_norm.build(inputs_shape)
        self.attention.build(inputs_shape)
        self.mlp_norm.build(inputs_shape)
        self.mlp_intermediate.build(inputs_shape)
        self.mlp_output.build((*inputs_shape[:-1], self.intermediate_dim))
        if self.norm_policy == "primer_hybrid":
            self.attention_post_norm.build(inputs_shape)
            self.mlp_post_norm.build(inputs_shape)
        self.built = True

    def call(
        self, inputs, padding_mask=None, attention_mask=None, training=None
    ):
        x = inputs
        h = self.attention(
            self.attention_norm(x),
            attention_mask=attention_mask,
            training=training,
        )
        if self.attention_post_norm is not None:
            h = self.attention_post_norm(h)
        x = x + self.dropout(h, training=training)

        keep = None
        if padding_mask is not None:
            keep = ops.cast(padding_mask, x.dtype)[..., None]
        h = _activation(
            self.mlp_intermediate(self.mlp_norm(x)), self.activation
        )
        if keep is not None:
            h = h * keep
        h = self.mlp_output(h)
        if keep is not None:
            h = h * keep
        if self.mlp_post_norm is not None:
            h = self.mlp_post_norm(h)
        return x + self.dropout(h, training=training)

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "intermediate_dim": self.intermediate_dim,
                "num_heads": self.num_heads,
                "activation": self.activation,
                "norm_policy": self.norm_policy,
                "attention_logit_soft_cap": self.attention_logit_soft_cap,
                "dropout_rate": self.dropout_rate,
                "attention_dropout_rate": self.attention_dropout_rate,
                "layer_norm_epsilon": self.layer_norm_epsilon,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keras_videoprism")
class VideoPrismTransformerStack(keras.layers.Layer):
    """A stack of `VideoPrismTransformerBlock`s over one sequence axis group.

    The input is `(*batch_axes, *sequence_axes, D)`: the last
    `num_sequence_axes` axes before the features form one sequence (for the
    auxiliary encoder, frames and patches together), all earlier axes are
    folded into the batch (for the spatial stack, every frame of every video
    is its own sequence). The mask follows the same layout without `D`.

    Args:
        num_layers: int. Number of blocks.
        hidden_dim: int. Model width D.
        intermediate_dim: int. MLP width.
        num_heads: int. Attention heads.
        num_sequence_axes: int. How many axes before D form the sequence.
            Defaults to `1`.
        use_causal_mask: bool. Let position `i` see only positions `<= i`
            (the text tower). Defaults to `False`.
        activation, norm_policy, attention_logit_soft_cap, dropout_rate,
        attention_dropout_rate, layer_norm_epsilon: as in
            `VideoPrismTransformerBlock`.
        rematerialize: bool. Recompute each block's activations in the
            backward pass instead of keeping them (`keras.remat`): training
            memory no longer grows with depth, at the cost of about one
            more forward pass. Numbers are unchanged. Defaults to `False`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: tensor `(..., *sequence, D)`.
        padding_mask: optional tensor `(..., *sequence)`, 1 = real token;
            padded tokens are never attended to as keys.
        training: bool.

    Returns:
        A tensor of the input's shape.

    Example:

    ```python
    stack = VideoPrismTransformerStack(num_layers=2, hidden_dim=32,
                                       intermediate_dim=64, num_heads=4)
    # (B, T, N, D): attention over the N patches of each frame.
    y = stack(np.random.rand(2, 4, 16, 32))
    ```
    """

    def __init__(
        self,
        num_layers,
        hidden_dim,
        intermediate_dim,
        num_heads,
        num_sequence_axes=1,
        use_causal_mask=False,
        activation="gelu",
        norm_policy="pre",
        attention_logit_soft_cap=None,
        dropout_rate=0.0,
        attention_dropout_rate=0.0,
        layer_norm_epsilon=1e-6,
        rematerialize=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_layers = num_layers
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.num_heads = num_heads
        self.num_sequence_axes = num_sequence_axes
        self.use_causal_mask = use_causal_mask
        self.activation = activation
        self.norm_policy = norm_policy
        self.attention_logit_soft_cap = attention_logit_soft_cap
        self.dropout_rate = dropout_rate
        self.attention_dropout_rate = attention_dropout_rate
        self.layer_norm_epsilon = layer_norm_epsilon
        self.rematerialize = rematerialize
        self.blocks = [
            VideoPrismTransformerBlock(
                hidden_dim=hidden_dim,
                intermediate_dim=intermediate_dim,
                num_heads=num_heads,
                activation=activation,
                norm_policy=norm_policy,
                attention_logit_soft_cap=attention_logit_soft_cap,
                dropout_rate=dropout_rate,
                attention_dropout_rate=attention_dropout_rate,
                layer_norm_epsilon=layer_norm_epsilon,
                dtype=self.dtype_policy,
                name=f"block_{i}",
            )
            for i in range(num_layers)
        ]

    def build(self, inputs_shape):
        for block in self.blocks:
            block.build((None, None, self.hidden_dim))
        self.built = True

    def call(self, inputs, padding_mask=None, training=None):
        shape = ops.shape(inputs)
        split = len(inputs.shape) - 1 - self.num_sequence_axes
        # (prod(batch axes), prod(sequence axes), D)
        x = ops.reshape(inputs, (-1, _product(shape[split:-1]), shape[-1]))
        attention_mask = None
        if padding_mask is not None:
            padding_mask = ops.broadcast_to(padding_mask, shape[:-1])
            padding_mask = ops.reshape(padding_mask, ops.shape(x)[:2])
            padding_mask = ops.cast(padding_mask, "bool")
            # (B, 1, 1, S): padded keys are masked for every query.
            attention_mask = padding_mask[:, None, None, :]
        if self.use_causal_mask:
            length = ops.shape(x)[1]
            positions = ops.arange(length)
            causal = positions[None, :] <= positions[:, None]
            causal = causal[None, None, :, :]
            attention_mask = (
                causal
                if attention_mask is None
                else ops.logical_and(attention_mask, causal)
            )
        for block in self.blocks:

            def run_block(x, block=block):
                return block(
                    x,
                    padding_mask=padding_mask,
                    attention_mask=attention_mask,
                    training=training,
                )

            if self.rematerialize:
                run_block = keras.remat(run_block)
            x = run_block(x)
        return ops.reshape(x, shape)

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_layers": self.num_layers,
                "hidden_dim": self.hidden_dim,
                "intermediate_dim": self.intermediate_dim,
                "num_heads": self.num_heads,
                "num_sequence_axes": self.num_sequence_axes,
                "use_causal_mask": self.use_causal_mask,
                "activation": self.activation,
                "norm_policy": self.norm_policy,
                "attention_logit_soft_cap": self.attention_logit_soft_cap,
                "dropout_rate": self.dropout_rate,
                "attention_dropout_rate": self.attention_dropout_rate,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "rematerialize": self.rematerialize,
            }
        )
        return config


def _product(sizes):
    result = 1
    for size in sizes:
        result = result * size
    return result
