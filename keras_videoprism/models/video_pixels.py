"""The pixel contract of VideoPrism: which pixel values the models take.

VideoPrism reads RGB frames in `[0, 1]`. Every entry point (the backbone,
the tasks and `VideoPrismVideoConverter`) applies the same rule:

- Integer pixels are rescaled by their dtype's range: `uint8` is divided
  by 255 and `uint16` by 65535. Other integer dtypes (signed, 32 or 64 bit)
  have no pixel range and are refused with a `TypeError`, since guessing
  one (255? 2**31?) would turn a mistake into silent garbage.
- Float pixels must already be in `[0, 1]`. Values clearly outside it
  (below `-RANGE_TOLERANCE` or above `1 + RANGE_TOLERANCE`, e.g. floats in
  `[0, 255]` or `[-1, 1]`) and NaN or infinite values raise a `ValueError`
  naming the fix, wherever the values are concrete (NumPy arrays, eager
  tensors). Inside a compiled graph only the dtype rule applies.
"""

import keras
import numpy as np

from keras_videoprism.utils.keras_hub_compat import in_tf_function

# The value integer pixels of each dtype are divided by.
INTEGER_PIXEL_RANGES = {"uint8": 255, "uint16": 65535}
# How far outside [0, 1] float pixels may stray (rounding of resized
# frames) before they are taken for a mistake.
RANGE_TOLERANCE = 0.05
# Elements per chunk of a NumPy range scan (1 MiB of float32).
_CHUNK = 2**18


def pixel_range(dtype, name="pixel_values"):
    """The number integer pixels of `dtype` are divided by.

    Args:
        dtype: a dtype, or anything `keras.backend.standardize_dtype` reads.
        name: str. The argument named in the error.

    Returns:
        255 for `uint8`, 65535 for `uint16`, `None` for float dtypes.

    Example:

    ```python
    pixel_range("uint8")  # 255
    ```
    """
    dtype = keras.backend.standardize_dtype(dtype)
    if dtype in INTEGER_PIXEL_RANGES:
        return INTEGER_PIXEL_RANGES[dtype]
    if "float" in dtype:
        return None
    raise TypeError(
        f"`{name}` of dtype {dtype} has no pixel range. Pass `uint8` "
        "pixels in [0, 255] or `uint16` in [0, 65535] (they are rescaled "
        "to [0, 1]), or floats in [0, 1]: e.g. `video.astype('uint8')` for "
        "integer values in [0, 255], or `video / 255.0`."
    )


def is_integer_pixels(x):
    """Whether `x` holds integer pixels of a dtype with a pixel range."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return False
    return keras.backend.standardize_dtype(dtype) in INTEGER_PIXEL_RANGES


def to_unit_range(pixels, dtype="float32", name="pixel_values"):
    """Casts pixels to `dtype`, integer pixels divided by their range.

    Works on NumPy arrays, backend tensors and, inside `tf.data` or a
    `tf.function`, TensorFlow tensors.

    Args:
        pixels: integer or float pixels.
        dtype: str. The float dtype of the result. Defaults to `"float32"`.
        name: str. The argument named in errors.

    Returns:
        The pixels in `dtype`; float inputs are only cast.

    Example:

    ```python
    to_unit_range(np.full((1, 2, 4, 4, 3), 255, "uint8"))  # all 1.0
    ```
    """
    scale = pixel_range(pixels.dtype, name)
    if isinstance(pixels, np.ndarray):
        pixels = pixels.astype(dtype)
    elif in_tf_function():
        import tensorflow as tf

        pixels = tf.cast(pixels, dtype)
    else:
        pixels = keras.ops.cast(pixels, dtype)
    if scale is None:
        return pixels
    if isinstance(pixels, np.ndarray):
        return pixels / pixels.dtype.type(scale)
    return pixels / scale


def rescale_uint16_array(pixels):
    """Rescales a NumPy `uint16` array to float32 `[0, 1]`; else unchanged.

    PyTorch has no `uint16` tensors (Keras converts them to `int32`, which
    has no pixel range), so `uint16` pixels are rescaled before they become
    backend tensors.

    Args:
        pixels: anything; only NumPy `uint16` arrays are changed.

    Returns:
        The pixels, float32 in `[0, 1]` if they were a `uint16` array.

    Example:

    ```python
    rescale_uint16_array(np.array([65535], "uint16"))  # [1.0]
    ```
    """
    if isinstance(pixels, np.ndarray) and pixels.dtype == np.uint16:
        return to_unit_range(pixels)
    return pixels


def _is_symbolic(x):
    """Whether `x` has no values yet (traced, symbolic or on `meta`)."""
    if isinstance(x, keras.KerasTensor):
        return True
    module = type(x).__module__
    if module.startswith("tensorflow"):
        import tensorflow as tf

        return tf.is_symbolic_tensor(x)
    if module.startswith("jax"):
        import jax

        return isinstance(x, jax.core.Tracer)
    if module.startswith("torch"):
        import torch

        return torch.compiler.is_compiling() or x.device.type == "meta"
    return False


def value_range(x):
    """`(min, max)` of concrete values as floats; `None` if symbolic/empty.

    Args:
        x: a NumPy array, an eager tensor of any backend, or a symbolic one.

    Returns:
        A pair of Python floats (NaN when `x` holds a NaN), or `None`.

    Example:

    ```python
    value_range(np.array([0.0, 0.5]))  # (0.0, 0.5)
    ```
    """
    if _is_symbolic(x) or 0 in tuple(x.shape):
        return None
    if isinstance(x, np.ndarray):
        return _numpy_range(x)
    if type(x).__module__.startswith("tensorflow"):
        import tensorflow as tf

        return float(tf.reduce_min(x)), float(tf.reduce_max(x))
    ops = keras.ops
    return (
        float(ops.convert_to_numpy(ops.min(x))),
        float(ops.convert_to_numpy(ops.max(x))),
    )


def _numpy_range(x):
    """`(min, max)` in one pass over memory: chunks that stay in cache."""
    flat = x.reshape(-1)
    lows, highs = [], []
    for start in range(0, flat.size, _CHUNK):
        chunk = flat[start : start + _CHUNK]
        lows.append(chunk.min())
        highs.append(chunk.max())
    return float(np.min(lows)), float(np.max(highs))


def check_pixel_range(pixels, name="pixel_values"):
    """Refuses non-finite pixels and floats clearly outside `[0, 1]`.

    Integer pixels of a dtype with a pixel range always pass; symbolic
    tensors pass (their values are unknown).

    Args:
        pixels: the pixels, integer or float.
        name: str. The argument named in errors.

    Raises:
        TypeError: integer pixels of a dtype without a pixel range.
        ValueError: NaN or infinite values, or floats outside `[0, 1]`.

    Example:

    ```python
    check_pixel_range(np.full((1, 2, 4, 4, 3), 0.5, "float32"))
    ```
    """
    if pixel_range(pixels.dtype, name) is not None:
        return
    bounds = value_range(pixels)
    if bounds is None:
        return
    low, high = bounds
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(
            f"`{name}` contains NaN or infinite values (range [{low}, "
            f"{high}]). Replace or drop the broken frames first, e.g. with "
            "`np.nan_to_num(video, nan=0.0, posinf=1.0, neginf=0.0)`; "
            "VideoPrism takes finite RGB values in [0, 1]."
        )
    if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise ValueError(
            f"`{name}` must be RGB in [0, 1]. Received float values in "
            f"[{low:.4g}, {high:.4g}]. For 8-bit pixels pass them as `uint8` "
            "(they are rescaled) or divide them by 255 (`video / 255.0`); "
            "for values in [-1, 1] use `(video + 1) / 2`."
        )
