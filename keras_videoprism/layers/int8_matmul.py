"""Backend int8 kernels for the inference of int8-quantized dense layers.

After `model.quantize("int8")` every dense layer holds Keras' per-channel
int8 kernel `Wq` (`(in, out)`) and its scale `s_w` (`W ~ Wq / s_w`), and
quantizes its inputs per row with `AbsMaxQuantizer`: `xq = round(x * s_x)`,
`s_x = 127 / max|x|` over the last axis. The output is
`(xq @ Wq) / (s_x * s_w)`. Keras' reference path computes `xq @ Wq` with
`keras.ops.matmul`. XLA on JAX lowers that to a fast int8 dot, but the
TensorFlow graph runtime and PyTorch on CPU run an integer matmul 3 to 10
times slower than a float32 one. This module is the one place where a
backend's own int8 kernel takes over, for inference only (training and
gradients stay on the reference path):

* **tensorflow**: the same computation compiled by XLA
  (`tf.function(jit_compile=True)`), also when the surrounding model runs
  in TensorFlow's graph runtime. Same numbers as the reference.
* **torch**: oneDNN's `qlinear_pointwise` with a pre-packed weight. The
  weights and their scales are Keras' own, and each row of the inputs has
  its own scale, as in Keras (so a clip's output does not depend on the
  rest of the batch). CPUs without VNNI multiply unsigned by signed bytes in
  pairs that saturate at 16 bits, so there the rows are quantized to 7 bits
  (`[-63, 63]`) instead of 8 (see `torch_activation_max`).
* **jax**: Keras' reference path already compiles to XLA's int8 dot.

Example:

```python
from keras_videoprism.layers import int8_matmul

int8_matmul.set_enabled(False)  # Every int8 layer on Keras' own path.
```
"""

import functools

import keras

_settings = {"enabled": True}

# CPU flags of the int8 dot-product instructions that accumulate in 32 bits.
VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


def set_enabled(enabled):
    """Turns the backend int8 kernels on or off for this process.

    Args:
        enabled: bool. `False` sends every int8 dense layer through Keras'
            reference path.
    """
    _settings["enabled"] = bool(enabled)


@functools.cache
def torch_activation_max():
    """Largest quantized input of the torch kernel: 127, or 63 without VNNI.

    Without VNNI, oneDNN adds products of unsigned and signed bytes in pairs
    in 16 bits, which 8-bit inputs overflow (2 x 255 x 127 > 32767).

    Returns:
        int. 127 where the CPU has VNNI (or AMX), else 63.
    """
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(f.read().split())
    except OSError:
        flags = set()
    return 127 if flags.intersection(VNNI_FLAGS) else 63


def int8_dense_matmul(layer, inputs):
    """`(xq @ Wq) / (s_x * s_w)` of an int8 `Dense` in a backend kernel.

    Args:
        layer: an int8-quantized `keras.layers.Dense` with Keras' default
            per-row `AbsMaxQuantizer` for its inputs.
        inputs: float tensor `(..., in)`.

    Returns:
        Float tensor `(..., out)` in the layer's compute dtype, before bias
        and activation; or `None` when no backend kernel applies and the
        caller must run the reference path.
    """
    if not _settings["enabled"]:
        return None
    backend = keras.config.backend()
    if backend == "tensorflow":
        return _tensorflow_int8_matmul(layer, inputs)
    if backend == "torch":
        return _torch_int8_matmul(layer, inputs)
    return None


def _tensorflow_int8_matmul(layer, inputs):
    import tensorflow as tf

    # Tensors, not variables: a traced function keeps the variables it was
    # first called with.
    outputs = _xla_int8_matmul()(
        inputs,
        tf.identity(layer._kernel.value),
        tf.identity(layer.kernel_scale.value),
    )
    return keras.ops.cast(outputs, layer.compute_dtype)


@functools.cache
def _xla_int8_matmul():
    import tensorflow as tf

    @tf.function(jit_compile=True, autograph=False, reduce_retracing=True)
    def matmul(inputs, kernel, kernel_scale):
        inputs = tf.cast(inputs, "float32")
        scale = 127.0 / (
            tf.reduce_max(tf.abs(inputs), axis=-1, keepdims=True)
            + keras.config.epsilon()
        )
        quantized = tf.cast(
            tf.clip_by_value(tf.round(inputs * scale), -127.0, 127.0), "int8"
        )
        rows = tf.reshape(quantized, (-1, tf.shape(quantized)[-1]))
        products = tf.linalg.matmul(rows, kernel, output_type=tf.int32)
        products = tf.reshape(
            products,
            tf.concat([tf.shape(inputs)[:-1], tf.shape(kernel)[-1:]], 0),
        )
        return tf.cast(products, "float32") / (scale * kernel_scale)

    return matmul


def _torch_int8_matmul(layer, inputs):
    import torch

    if inputs.device.type != "cpu" or (
        torch.is_grad_enabled() and inputs.requires_grad
    ):
        return None
    packed = _torch_packed_kernel(layer)
    if packed is None:
        return None
    weight, weight_scale, weight_zero = packed
    limit = torch_activation_max()
    rows = inputs.reshape(-1, inputs.shape[-1]).float()
    scale = limit / (
        rows.abs().amax(dim=-1, keepdim=True) + keras.config.epsilon()
    )
    # Unsigned bytes with zero point `limit + 1`.
    quantized = (rows * scale).round_().clamp_(-limit, limit).add_(limit + 1)
    outputs = torch.ops.onednn.qlinear_pointwise(
        quantized.to(torch.uint8),
        1.0,
        limit + 1,
        weight,
        weight_scale,
        weight_zero,
        None,
        1.0,
        0,
        torch.float32,
        "none",
        [],
        "",
    )
    outputs = outputs.div_(scale).reshape(*inputs.shape[:-1], -1)
    return outputs.to(getattr(torch, layer.compute_dtype))


def _torch_packed_kernel(layer):
    """oneDNN's packed copy of the layer's int8 kernel, made once.

    Rebuilt when the kernel variable is assigned again (its tensor's
    version counter changes), e.g. by `load_weights`.
    """
    import torch

    if not hasattr(torch.ops.onednn, "qlinear_pointwise"):
        return None
    kernel = layer._kernel.value
    kernel_scale = layer.kernel_scale.value
    key = (
        kernel.data_ptr(),
        kernel._version,
        kernel_scale.data_ptr(),
        kernel_scale._version,
    )
    cached = getattr(layer, "_onednn_int8_kernel", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    with torch.no_grad():
        weight = torch.ops.onednn.qlinear_prepack(
            kernel.detach().t().contiguous(), None
        )
        weight_scale = (1.0 / kernel_scale.detach()).float().contiguous()
        weight_zero = torch.zeros(kernel.shape[-1], dtype=torch.int32)
    packed = (weight, weight_scale, weight_zero)
    # Not a tracked attribute: the packed copy is a cache, not a weight.
    object.__setattr__(layer, "_onednn_int8_kernel", (key, packed))
    return packed
