"""The data the tasks' `fit()`, `evaluate()` and `predict()` receive.

keras-hub's `PipelineModel` turns array inputs into a batched dataset and
maps the preprocessing over it; Keras then ignores `shuffle`, which it
applies only to arrays. These helpers recognise array inputs, split off the
validation data as Keras does, and build the dataset themselves, shuffled
anew every epoch with a seed drawn from NumPy's global generator (which
`keras.utils.set_random_seed` seeds).
"""

import keras
import numpy as np

try:
    import grain
except ImportError:
    grain = None

try:
    import tensorflow as tf
except ImportError:
    tf = None


def _leaves(data):
    """Leaves of `data`: tuples and dicts are structure, lists are leaves."""
    if isinstance(data, tuple):
        return [leaf for item in data for leaf in _leaves(item)]
    if isinstance(data, dict):
        return [leaf for item in data.values() for leaf in _leaves(item)]
    return [data]


def _map_leaves(data, fn):
    if isinstance(data, tuple):
        return tuple(_map_leaves(item, fn) for item in data)
    if isinstance(data, dict):
        return {key: _map_leaves(item, fn) for key, item in data.items()}
    return fn(data)


def is_dataset(x):
    """Whether `x` is a `tf.data.Dataset` or a grain dataset."""
    if tf is not None and isinstance(x, tf.data.Dataset):
        return True
    return grain is not None and isinstance(
        x, (grain.MapDataset, grain.IterDataset)
    )


def is_array_data(x):
    """Whether `x` is arrays (or tensors) that Keras would slice itself.

    Args:
        x: what was passed to `fit()`, e.g. an array, a dict of arrays and
            lists of strings, a dataset or a generator.

    Returns:
        bool. `False` for datasets, generators and `PyDataset`s.

    Example:

    ```python
    is_array_data({"videos": videos, "prompts": ["a", "b"]})  # True
    ```
    """
    if x is None or is_dataset(x):
        return False
    for leaf in _leaves(x):
        if leaf is None:
            continue
        if isinstance(leaf, list):
            continue
        if not hasattr(leaf, "shape") or not hasattr(leaf, "dtype"):
            return False
        if tf is not None and isinstance(leaf, tf.RaggedTensor):
            return False
    return True


def num_samples(data):
    """The length of the first axis of the leaves of `data` (or `None`)."""
    for leaf in _leaves(data):
        if leaf is None:
            continue
        shape = getattr(leaf, "shape", None)
        if shape is None:
            return len(leaf)
        return None if not len(shape) else shape[0]
    return None


def check_not_empty(x, y=None):
    """Raises a `ValueError` for an empty array input or dataset.

    Args:
        x: inputs: arrays, a dataset, or anything else (not checked).
        y: labels, or `None`.

    Example:

    ```python
    check_not_empty(videos, labels)
    ```
    """
    if is_dataset(x):
        if tf is not None and isinstance(x, tf.data.Dataset):
            cardinality = int(x.cardinality())
            if cardinality == tf.data.UNKNOWN_CARDINALITY:
                # After `filter()`: read one element to know.
                cardinality = len(list(x.take(1)))
            empty = cardinality == 0
        else:
            try:
                empty = len(x) == 0
            except TypeError:
                empty = False
        if empty:
            raise ValueError(
                "The dataset is empty: it yields no batches. Check the "
                "files or filters it is built from (and that `take()` or "
                "`filter()` keep at least one element)."
            )
        return
    for data, name in ((x, "x"), (y, "y")):
        if data is not None and is_array_data(data) and num_samples(data) == 0:
            raise ValueError(
                f"`{name}` is empty (0 samples). Pass at least one video "
                "(and one label per video)."
            )


def check_same_length(x, y=None, sample_weight=None):
    """Raises a `ValueError` when array inputs and labels differ in length.

    Args:
        x: inputs, e.g. an array or a dict of arrays and lists of strings.
        y: labels or `None`.
        sample_weight: sample weights or `None`.

    Example:

    ```python
    check_same_length(videos, labels)
    ```
    """
    counts = {}
    for data, name in ((x, "x"), (y, "y"), (sample_weight, "sample_weight")):
        if data is None or not is_array_data(data):
            continue
        for leaf in _leaves(data):
            if leaf is not None:
                counts.setdefault(name, set()).add(num_samples(leaf))
    lengths = set().union(*counts.values()) - {None}
    if len(lengths) > 1:
        found = ", ".join(
            f"`{name}` {sorted(n for n in found if n is not None)}"
            for name, found in counts.items()
        )
        raise ValueError(
            "Inputs, labels and sample weights must hold one entry per "
            f"video. Received first-axis lengths {found}. Pass as many "
            "labels (and weights) as videos."
        )


def split_validation(data, validation_split):
    """Splits arrays into the first and last samples, as Keras does.

    Args:
        data: a tuple `(x, y, sample_weight)` of arrays (or `None`).
        validation_split: float in `(0, 1)`.

    Returns:
        `(train, validation)`, two tuples of the same structure.

    Example:

    ```python
    train, validation = split_validation((x, y, None), 0.2)
    ```
    """
    total = num_samples(data)
    split_at = int(np.floor(total * (1.0 - validation_split)))
    if split_at in (0, total):
        raise ValueError(
            f"`validation_split={validation_split}` leaves no samples for "
            f"training or validation out of {total}. Pass more samples or "
            "another split."
        )

    def part(start, stop):
        return _map_leaves(
            data, lambda leaf: None if leaf is None else leaf[start:stop]
        )

    return part(0, split_at), part(split_at, total)


class _Samples:
    """A grain source: sample `i` of every leaf of a nested structure."""

    def __init__(self, data):
        self.data = data
        self.length = num_samples(data)

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        return _map_leaves(
            self.data, lambda leaf: None if leaf is None else leaf[index]
        )


def _as_numpy(leaf):
    if leaf is None:
        return None
    if isinstance(leaf, list):
        return np.asarray(leaf)
    return keras.ops.convert_to_numpy(leaf)


def batched_dataset(
    x, y=None, sample_weight=None, batch_size=None, shuffle=True
):
    """Batches arrays, in a new random order every epoch when `shuffle`.

    With grain (keras-hub's default pipeline) the dataset is a
    `grain.MapDataset` whose shuffle is reseeded every epoch when keras-hub
    repeats it; without grain a `tf.data.Dataset` reshuffled on every
    iteration. The seed comes from NumPy's global generator, so
    `keras.utils.set_random_seed(seed)` makes the orders reproducible.

    Args:
        x: inputs (arrays, or dicts of arrays and lists of strings).
        y: labels or `None`.
        sample_weight: sample weights or `None`.
        batch_size: int or `None` (32, as Keras).
        shuffle: bool. Whether to shuffle. Defaults to `True`.

    Returns:
        A batched grain or `tf.data` dataset of `(x, y, sample_weight)`.

    Example:

    ```python
    dataset = batched_dataset(videos, labels, batch_size=8)
    ```
    """
    data = keras.utils.pack_x_y_sample_weight(x, y, sample_weight)
    data = _map_leaves(data, _as_numpy)
    batch_size = batch_size or 32
    seed = int(np.random.randint(0, 2**31 - 1)) if shuffle else None
    if grain is not None:
        dataset = grain.MapDataset.source(_Samples(data))
        if shuffle:
            dataset = dataset.shuffle(seed=seed)
        return dataset.batch(batch_size)
    dataset = tf.data.Dataset.from_tensor_slices(data)
    if shuffle:
        dataset = dataset.shuffle(
            num_samples(data), seed=seed, reshuffle_each_iteration=True
        )
    return dataset.batch(batch_size)
