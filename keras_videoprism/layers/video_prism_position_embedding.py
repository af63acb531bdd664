import keras
from keras import ops


def antialiased_resize_weights(output_size, input_size):
    """Weights of a 1-D antialiased bilinear resize, as `jax.image.resize`.

    Output `i` samples the input at `s_i = (i + 0.5) * n_in / n_out - 0.5`
    (half-pixel centres) with a triangle kernel widened by the shrink factor
    `k = max(n_in / n_out, 1)`; each row is normalised to sum to one. Growing
    is plain linear interpolation with clamp-to-edge; shrinking averages over
    about `2k` inputs. Equal sizes give the identity matrix exactly.

    Args:
        output_size: int or scalar tensor. The resized length (it may be a
            dynamic dimension inside a traced graph).
        input_size: int. The length of the stored table.

    Returns:
        A float32 tensor of shape `(output_size, input_size)`.

    Example:

    >>> w = antialiased_resize_weights(2, 4)  # rows (3, 3, 1, 0) / 7, ...
    """
    n_in = ops.cast(input_size, "float32")
    n_out = ops.cast(output_size, "float32")
    scale = n_in / n_out
    samples = (ops.cast(ops.arange(output_size), "float32") + 0.5) * scale
    samples = samples - 0.5
    sources = ops.cast(ops.arange(input_size), "float32")
    width = ops.maximum(scale, 1.0)
    distance = ops.abs(samples[:, None] - sources[None, :]) / width
    weights = ops.relu(1.0 - distance)
    return weights / ops.sum(weights, axis=1, keepdims=True)


@keras.saving.register_keras_serializable(package="keras_videoprism")
class VideoPrismPositionEmbedding(keras.layers.Layer):
    """Trainable position table, resized to the input's grid and added.

    The table was trained on `grid_shape` positions (frames for the temporal
    table, `(rows, columns)` of patches for the spatial one). When the input
    grid differs, the table is resized exactly as the official model does
    (`jax.image.resize(..., "bilinear")` with antialiasing, one separable
    resize per grid axis), so any frame count and any frame size work.

    The grid axes are the `len(grid_shape)` axes just before the feature axis
    of the input; all axes before them are batch axes.

    Args:
        grid_shape: tuple of ints. The trained grid: `(num_frames,)` or
            `(rows, columns)`.
        hidden_dim: int. Width D of the embeddings.
        **kwargs: other keyword arguments of `keras.layers.Layer`.

    Returns:
        The input plus the (resized) table, same shape as the input.

    Example:

    ```python
    layer = VideoPrismPositionEmbedding(grid_shape=(16, 16), hidden_dim=768)
    # 20x20 patch grid: the 16x16 table is resized (grown) to 20x20.
    y = layer(np.zeros((2, 8, 20, 20, 768)))
    ```
    """

    def __init__(self, grid_shape, hidden_dim, **kwargs):
        # The table and its resize stay in float32 under mixed precision.
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.grid_shape = tuple(int(n) for n in grid_shape)
        self.hidden_dim = hidden_dim
        if len(self.grid_shape) not in (1, 2):
            raise ValueError(
                "`grid_shape` must have one axis (frames) or two (rows, "
                f"columns). Received: grid_shape={grid_shape}"
            )

    def build(self, input_shape):
        num_positions = 1
        for size in self.grid_shape:
            num_positions *= size
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(num_positions, self.hidden_dim),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )
        self.built = True

    def resized_table(self, target_grid):
        """Returns the table resized to `target_grid`, float32 `(*grid, D)`."""
        table = ops.convert_to_tensor(self.embeddings, "float32")
        if len(self.grid_shape) == 1:
            weights = antialiased_resize_weights(
                target_grid[0], self.grid_shape[0]
            )
            return ops.matmul(weights, table)
        rows, columns = self.grid_shape
        table = ops.reshape(table, (rows, columns, self.hidden_dim))
        row_weights = antialiased_resize_weights(target_grid[0], rows)
        column_weights = antialiased_resize_weights(target_grid[1], columns)
        table = ops.einsum("ir,rcd->icd", row_weights, table)
        return ops.einsum("jc,icd->ijd", column_weights, table)

    def call(self, inputs):
        shape = ops.shape(inputs)
        grid_rank = len(self.grid_shape)
        target_grid = shape[-1 - grid_rank : -1]
        table = self.resized_table(target_grid)
        # The sum is in the compute dtype, like every layer's output.
        inputs = ops.cast(inputs, self.compute_dtype)
        return inputs + ops.cast(table, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {"grid_shape": self.grid_shape, "hidden_dim": self.hidden_dim}
        )
        return config
