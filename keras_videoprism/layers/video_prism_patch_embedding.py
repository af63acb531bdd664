import keras
from keras import ops

from keras_videoprism.layers.video_prism_dense import VideoPrismDense


@keras.saving.register_keras_serializable(package="keras_videoprism")
class VideoPrismPatchEmbedding(keras.layers.Layer):
    """Cuts every frame into `P x P` patches and projects them to D.

    Patches are taken row-major over the frame grid and flattened in
    (row-in-patch, column-in-patch, channel) order, then projected by a
    Dense layer whose kernel has the official `[P * P * C, D]` layout.

    Args:
        patch_size: int. Patch side P.
        hidden_dim: int. Model width D.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Call arguments:
        inputs: video of shape `(B, T, H, W, C)`, channels last, with `H`
            and `W` multiples of `patch_size`.

    Returns:
        Patch tokens of shape `(B, T, H // P, W // P, D)`.

    Example:

    ```python
    layer = VideoPrismPatchEmbedding(patch_size=18, hidden_dim=768)
    tokens = layer(np.random.rand(1, 16, 288, 288, 3))  # (1, 16, 16, 16, 768)
    ```
    """

    def __init__(self, patch_size, hidden_dim, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.projection = VideoPrismDense(
            hidden_dim, dtype=self.dtype_policy, name="projection"
        )

    def build(self, inputs_shape):
        channels = inputs_shape[-1]
        self.projection.build((None, self.patch_size**2 * channels))
        self.built = True

    def call(self, inputs):
        batch, frames, height, width, channels = ops.shape(inputs)
        p = self.patch_size
        rows, columns = height // p, width // p
        # (B*T, rows, P, columns, P, C) -> (B*T, rows, columns, P, P, C)
        x = ops.reshape(inputs, (-1, rows, p, columns, p, channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        x = ops.reshape(x, (batch, frames, rows, columns, p * p * channels))
        return self.projection(x)

    def compute_output_shape(self, inputs_shape):
        batch, frames, height, width, _ = inputs_shape
        p = self.patch_size
        rows = None if height is None else height // p
        columns = None if width is None else width // p
        return (batch, frames, rows, columns, self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"patch_size": self.patch_size, "hidden_dim": self.hidden_dim}
        )
        return config
