import keras
from keras.src.quantizers import AbsMaxQuantizer

from keras_videoprism.layers import int8_matmul


@keras.saving.register_keras_serializable(package="keras_videoprism")
class VideoPrismDense(keras.layers.Dense):
    """`keras.layers.Dense` whose int8 inference runs a backend int8 kernel.

    In float it is `keras.layers.Dense`, with the same weights and config.
    After `quantize("int8")` with Keras' default scheme (per-channel int8
    kernel, per-row dynamic int8 inputs), inference runs in
    `keras_videoprism.layers.int8_matmul`'s kernel for the backend where one
    applies; training, LoRA, other quantization modes and other input
    quantizers stay on Keras' own path.

    Args:
        units: int. Output width.
        **kwargs: the other arguments of `keras.layers.Dense`.

    Example:

    ```python
    import numpy as np
    from keras_videoprism.layers.video_prism_dense import VideoPrismDense

    layer = VideoPrismDense(8)
    layer.build((None, 16))
    layer.quantize("int8")
    outputs = layer(np.random.rand(2, 16).astype("float32"))  # (2, 8)
    ```
    """

    def quantize(self, mode=None, type_check=True, config=None):
        # Keras refuses to quantize subclasses of `Dense` whose `call` may
        # differ; this one's float `call` is `Dense.call` itself.
        super().quantize(mode, type_check=False, config=config)

    def _int8_call(self, inputs, training=None):
        if training or self.lora_enabled or not _is_default_quantizer(
            self.inputs_quantizer
        ):
            return super()._int8_call(inputs, training=training)
        outputs = int8_matmul.int8_dense_matmul(self, inputs)
        if outputs is None:
            return super()._int8_call(inputs, training=training)
        if self.bias is not None:
            outputs = keras.ops.add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs


def _is_default_quantizer(quantizer):
    """Keras' default input quantizer: per row, symmetric, 8 bits."""
    return (
        isinstance(quantizer, AbsMaxQuantizer)
        and quantizer.axis in (None, (-1,))
        and tuple(quantizer.value_range) == (-127, 127)
        and quantizer.output_dtype == "int8"
    )
