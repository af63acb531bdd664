import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_videoprism")
class VideoPrismL2Normalization(keras.layers.Layer):
    """L2-normalises the last axis in float32: `x / sqrt(sum(x**2) + 1e-12)`.

    This is the official embedding normalisation (epsilon inside the square
    root), computed in float32 whatever the compute dtype, then cast back.

    Call arguments:
        inputs: tensor `(..., D)`.

    Returns:
        A tensor of the same shape with unit L2 norm along the last axis.

    Example:

    ```python
    VideoPrismL2Normalization()(np.array([[3.0, 4.0]]))  # [[0.6, 0.8]]
    ```
    """

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        x = x * ops.rsqrt(
            ops.sum(ops.square(x), axis=-1, keepdims=True) + 1e-12
        )
        return ops.cast(x, self.compute_dtype)

    def compute_output_shape(self, inputs_shape):
        return inputs_shape
