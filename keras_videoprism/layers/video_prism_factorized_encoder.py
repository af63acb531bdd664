import keras
from keras import ops

from keras_videoprism.layers.video_prism_position_embedding import (
    VideoPrismPositionEmbedding,
)
from keras_videoprism.layers.video_prism_transformer import (
    VideoPrismTransformerStack,
)


@keras.saving.register_keras_serializable(package="keras_videoprism")
class VideoPrismFactorizedEncoder(keras.layers.Layer):
    """The factorized space-time encoder of VideoPrism (ViViT model 2).

    Spatial stage: the spatial position table (resized to the patch grid) is
    added, then a transformer stack runs over the patches of each frame
    separately, then a LayerNorm. Temporal stage: the temporal table (resized
    to the frame count) is added, then a stack runs over the frames of each
    patch position, then a LayerNorm. A frame padding mask masks padded
    frames as keys in both stages and zeroes their MLP branches; outputs are
    still produced at padded frames (official `frame_paddings` semantics).

    Args:
        num_frames: int. Frames the temporal table was trained with.
        grid_size: tuple `(rows, columns)`. Patch grid the spatial table was
            trained with.
        hidden_dim, intermediate_dim, num_heads: ints, as in the blocks.
        num_spatial_layers: int. Depth of the spatial stack.
        num_temporal_layers: int. Depth of the temporal stack.
        attention_logit_soft_cap, dropout_rate, attention_dropout_rate,
        layer_norm_epsilon: as in `VideoPrismTransformerBlock`.
        rematerialize: bool. Recompute transformer activations in the
            backward pass (see `VideoPrismTransformerStack`). Defaults to
            `False`.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: patch tokens `(B, T, rows, columns, D)`.
        frame_padding_mask: optional `(B, T)`, 1 = real frame.
        return_spatial_features: bool. Also return the spatial stage output.
        training: bool.

    Returns:
        Features `(B, T, N, D)` with `N = rows * columns` (token `n` of frame
        `t` is patch `n` in row-major order), or the tuple
        `(spatial_features, features)` when `return_spatial_features`.

    Example:

    ```python
    encoder = VideoPrismFactorizedEncoder(
        num_frames=16, grid_size=(16, 16), hidden_dim=768,
        intermediate_dim=3072, num_heads=12, num_spatial_layers=12,
        num_temporal_layers=4, attention_logit_soft_cap=50.0)
    features = encoder(np.zeros((1, 16, 16, 16, 768)))  # (1, 16, 256, 768)
    ```
    """

    def __init__(
        self,
        num_frames,
        grid_size,
        hidden_dim,
        intermediate_dim,
        num_heads,
        num_spatial_layers,
        num_temporal_layers,
        attention_logit_soft_cap=None,
        dropout_rate=0.0,
        attention_dropout_rate=0.0,
        layer_norm_epsilon=1e-6,
        rematerialize=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_frames = num_frames
        self.grid_size = tuple(grid_size)
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.num_heads = num_heads
        self.num_spatial_layers = num_spatial_layers
        self.num_temporal_layers = num_temporal_layers
        self.attention_logit_soft_cap = attention_logit_soft_cap
        self.dropout_rate = dropout_rate
        self.attention_dropout_rate = attention_dropout_rate
        self.layer_norm_epsilon = layer_norm_epsilon
        self.rematerialize = rematerialize

        def stack(num_layers, name):
            return VideoPrismTransformerStack(
                num_layers=num_layers,
                hidden_dim=hidden_dim,
                intermediate_dim=intermediate_dim,
                num_heads=num_heads,
                attention_logit_soft_cap=attention_logit_soft_cap,
                dropout_rate=dropout_rate,
                attention_dropout_rate=attention_dropout_rate,
                layer_norm_epsilon=layer_norm_epsilon,
                rematerialize=rematerialize,
                dtype=self.dtype_policy,
                name=name,
            )

        def norm(name):
            return keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name=name
            )

        self.spatial_position_embedding = VideoPrismPositionEmbedding(
            grid_shape=self.grid_size,
            hidden_dim=hidden_dim,
            dtype=self.dtype_policy,
            name="spatial_position_embedding",
        )
        self.spatial_encoder = stack(num_spatial_layers, "spatial_encoder")
        self.spatial_norm = norm("spatial_norm")
        self.temporal_position_embedding = VideoPrismPositionEmbedding(
            grid_shape=(num_frames,),
            hidden_dim=hidden_dim,
            dtype=self.dtype_policy,
            name="temporal_position_embedding",
        )
        self.temporal_encoder = stack(num_temporal_layers, "temporal_encoder")
        self.temporal_norm = norm("temporal_norm")

    def build(self, inputs_shape):
        tokens_shape = (None, None, None, self.hidden_dim)
        self.spatial_position_embedding.build(inputs_shape)
        self.spatial_encoder.build(tokens_shape)
        self.spatial_norm.build(tokens_shape)
        self.temporal_position_embedding.build(tokens_shape)
        self.temporal_encoder.build(tokens_shape)
        self.temporal_norm.build(tokens_shape)
        self.built = True

    def call(
        self,
        inputs,
        frame_padding_mask=None,
        return_spatial_features=False,
        training=None,
    ):
        x = self.spatial_position_embedding(inputs)
        batch, frames, rows, columns, dim = ops.shape(x)
        x = ops.reshape(x, (batch, frames, rows * columns, dim))  # (B,T,N,D)
        spatial_mask = temporal_mask = None
        if frame_padding_mask is not None:
            spatial_mask = frame_padding_mask[:, :, None]  # (B, T, 1)
            temporal_mask = frame_padding_mask[:, None, :]  # (B, 1, T)
        x = self.spatial_encoder(
            x, padding_mask=spatial_mask, training=training
        )
        spatial_features = self.spatial_norm(x)
        x = ops.transpose(spatial_features, (0, 2, 1, 3))  # (B, N, T, D)
        x = self.temporal_position_embedding(x)
        x = self.temporal_encoder(
            x, padding_mask=temporal_mask, training=training
        )
        x = self.temporal_norm(x)
        features = ops.transpose(x, (0, 2, 1, 3))  # (B, T, N, D)
        if return_spatial_features:
            return spatial_features, features
        return features

    def compute_output_shape(self, inputs_shape, frame_padding_mask_shape=None):
        batch, frames, rows, columns, _ = inputs_shape
        num_patches = None
        if rows is not None and columns is not None:
            num_patches = rows * columns
        return (batch, frames, num_patches, self.hidden_dim)

    def compute_output_spec(
        self,
        inputs,
        frame_padding_mask=None,
        return_spatial_features=False,
        training=None,
    ):
        spec = keras.KerasTensor(
            self.compute_output_shape(inputs.shape), dtype=self.compute_dtype
        )
        if return_spatial_features:
            return spec, keras.KerasTensor(spec.shape, spec.dtype)
        return spec

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_frames": self.num_frames,
                "grid_size": self.grid_size,
                "hidden_dim": self.hidden_dim,
                "intermediate_dim": self.intermediate_dim,
                "num_heads": self.num_heads,
                "num_spatial_layers": self.num_spatial_layers,
                "num_temporal_layers": self.num_temporal_layers,
                "attention_logit_soft_cap": self.attention_logit_soft_cap,
                "dropout_rate": self.dropout_rate,
                "attention_dropout_rate": self.attention_dropout_rate,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "rematerialize": self.rematerialize,
            }
        )
        return config
