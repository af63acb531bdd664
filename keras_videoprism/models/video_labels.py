"""Checks of the labels given to the video classification tasks.

The default losses read labels in one form each: sparse categorical
cross-entropy reads whole class ids in `[0, num_classes)` of shape `(B,)`,
binary cross-entropy reads multi-hot vectors `(B, num_classes)` in `[0, 1]`.
Labels in another form train silently on garbage (out-of-range ids give a
loss of 0 on JAX, fractional ids are truncated), so they are refused before
any step runs. Losses of one's own are not checked.
"""

import keras
import numpy as np

from keras_videoprism.models.video_pixels import value_range
from keras_videoprism.models.video_prism_inputs import static_shape


def _check_sparse_shape(shape):
    if len(shape) == 1 or (len(shape) == 2 and shape[1] in (1, None)):
        return
    raise ValueError(
        "`SparseCategoricalCrossentropy` (the loss of `activation=None` "
        "and `'softmax'`) takes integer class ids of shape "
        f"`(batch_size,)`. Received labels of shape {shape}. Pass "
        "one-hot labels through `np.argmax(labels, axis=-1)`, or "
        "compile with `loss=keras.losses.CategoricalCrossentropy(...)` "
        "and matching metrics."
    )


def _check_binary_shape(shape, num_classes):
    if len(shape) == 2 and shape[1] in (num_classes, None):
        return
    if len(shape) == 1 and num_classes == 1:
        return
    raise ValueError(
        "`BinaryCrossentropy` (the loss of `activation='sigmoid'`, "
        "multi-label) takes multi-hot labels of shape `(batch_size, "
        f"{num_classes})`. Received labels of shape {shape}. Convert class "
        f"ids with `keras.utils.to_categorical(labels, {num_classes})`, or "
        "use `activation='softmax'` for one class per video."
    )


def _check_numeric(y):
    try:
        dtype = keras.backend.standardize_dtype(y.dtype)
    except (TypeError, ValueError):
        dtype = str(y.dtype)
    if dtype == "bool" or "int" in dtype or "float" in dtype:
        return
    raise TypeError(
        f"Labels must be numbers. Received labels of dtype {dtype}. Map "
        "class names to ids first, e.g. `np.array([names.index(n) for n in "
        "labels])`."
    )


def _concrete(y):
    """`y` as a NumPy array when its values are known, else `None`."""
    if value_range(y) is None:
        return None
    return np.asarray(keras.ops.convert_to_numpy(y))


def _check_sparse_values(y, num_classes):
    values = _concrete(y)
    if values is None:
        return
    if not np.all(np.isfinite(values)):
        raise ValueError(
            "Labels contain NaN or infinite values. Every video needs a "
            f"class id in [0, {num_classes})."
        )
    fractional = values[values != np.round(values)]
    if fractional.size:
        raise ValueError(
            "Class ids must be whole numbers. Received fractional labels, "
            f"e.g. {fractional.flat[0]}. Soft or smoothed labels need "
            "one-hot targets: compile with `loss=keras.losses."
            "CategoricalCrossentropy(label_smoothing=...)`."
        )
    outside = values[(values < 0) | (values >= num_classes)]
    if outside.size:
        raise ValueError(
            f"Class ids must be in [0, {num_classes}) for `num_classes="
            f"{num_classes}`. Received label {int(outside.flat[0])} "
            f"(labels range over [{int(values.min())}, "
            f"{int(values.max())}]). Renumber the classes from 0, or build "
            "the task with a larger `num_classes`."
        )


def _check_binary_values(y):
    values = _concrete(y)
    if values is None:
        return
    if not np.all(np.isfinite(values)):
        raise ValueError("Multi-hot labels contain NaN or infinite values.")
    if values.min() < 0 or values.max() > 1:
        raise ValueError(
            "Multi-hot labels of `BinaryCrossentropy` must be in [0, 1] (1 = "
            f"the class is present). Received values in [{values.min()}, "
            f"{values.max()}]."
        )


def check_labels(y, loss, num_classes):
    """Raises when labels `y` cannot be what `loss` reads.

    Shapes are checked whenever they are known; values (range, whole
    numbers, finiteness) whenever `y` is concrete (arrays, eager tensors).

    Args:
        y: the labels, or `None`.
        loss: the compiled loss.
        num_classes: int. The classifier's class count.

    Raises:
        ValueError: labels of the wrong shape, range or kind.
        TypeError: non-numeric labels.

    Example:

    ```python
    check_labels(np.array([0, 2]), classifier.loss, 3)
    ```
    """
    if y is None:
        return
    if isinstance(y, list):
        y = np.asarray(y)
    sparse = isinstance(loss, keras.losses.SparseCategoricalCrossentropy)
    binary = isinstance(loss, keras.losses.BinaryCrossentropy)
    if not (sparse or binary):
        return
    shape = static_shape(y)
    if not shape:
        return
    _check_numeric(y)
    if sparse:
        _check_sparse_shape(shape)
        _check_sparse_values(y, num_classes)
    else:
        _check_binary_shape(shape, num_classes)
        _check_binary_values(y)
