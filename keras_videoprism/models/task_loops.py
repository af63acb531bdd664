"""`fit()`, `evaluate()` and `predict()` of the tasks: checked, shuffled, safe.

Every input and label check of a task runs before Keras' step functions:
array inputs up front, datasets batch by batch in `preprocess_samples`
(which runs in the data pipeline, before the step it feeds) and, for
`tf.data`, also when the pipeline is built. Array inputs given to `fit()`
are shuffled every epoch (`shuffle=True`, the default), which keras-hub's
preprocessing pipeline otherwise prevents. `fit()` stops at the first
non-finite loss. On JAX, a loop that raises all the same leaves the
variables as they were before the failing step (`JaxStateGuardMixin`).
"""

import contextlib

import keras

from keras_videoprism.models import task_data
from keras_videoprism.models import video_pixels
from keras_videoprism.models.jax_state_guard import JaxStateGuardMixin
from keras_videoprism.models.stop_on_non_finite_loss import (
    StopOnNonFiniteLoss,
)
from keras_videoprism.models.video_prism_inputs import PIXEL_VALUES


def _with_stop_on_non_finite_loss(callbacks):
    if isinstance(callbacks, keras.callbacks.CallbackList):
        return callbacks
    callbacks = list(callbacks or [])
    stoppers = (StopOnNonFiniteLoss, keras.callbacks.TerminateOnNaN)
    if not any(isinstance(callback, stoppers) for callback in callbacks):
        callbacks.append(StopOnNonFiniteLoss())
    return callbacks


def _rescale_uint16_pixels(inputs):
    """Batches of NumPy `uint16` pixels, rescaled (PyTorch has no uint16)."""
    if isinstance(inputs, dict):
        video = inputs.get(PIXEL_VALUES)
        rescaled = video_pixels.rescale_uint16_array(video)
        if rescaled is video:
            return inputs
        return {**inputs, PIXEL_VALUES: rescaled}
    return video_pixels.rescale_uint16_array(inputs)


class TaskLoopsMixin(JaxStateGuardMixin):
    """Checked, shuffled and state-safe loops for a keras-hub `Task`.

    Subclasses implement `check_inputs(x)` (what users pass, before the
    preprocessor), `check_model_inputs(x)` (a preprocessed batch) and
    `check_labels(y)`; each raises a `ValueError` or `TypeError` naming the
    problem and the fix.

    Example:

    ```python
    class MyTask(TaskLoopsMixin, keras_hub.models.Task):
        def check_inputs(self, x): ...
        def check_model_inputs(self, x): ...
        def check_labels(self, y): ...
    ```
    """

    def check_inputs(self, x):
        """Validates inputs as given to `fit()`/`predict()` (raw)."""
        raise NotImplementedError

    def check_model_inputs(self, x, check_values=True):
        """Validates a preprocessed batch of model inputs.

        `check_values=False` skips reading the pixel values (the arrays
        they came from were checked up front).
        """
        raise NotImplementedError

    def check_labels(self, y):
        """Validates labels (raw or batched)."""
        raise NotImplementedError

    def _check_up_front(self, x, y=None):
        task_data.check_not_empty(x, y)
        task_data.check_same_length(x, y)
        if task_data.is_array_data(x):
            self.check_inputs(x)
        if y is not None and task_data.is_array_data(y):
            self.check_labels(y)

    @contextlib.contextmanager
    def _values_checked_up_front(self, checked):
        """Batches of arrays checked up front skip the value scan."""
        self._batch_values_checked = checked
        try:
            yield
        finally:
            self._batch_values_checked = False

    def preprocess_samples(self, x, y=None, sample_weight=None):
        data = super().preprocess_samples(x, y, sample_weight)
        inputs, labels, weights = keras.utils.unpack_x_y_sample_weight(data)
        checked = getattr(self, "_batch_values_checked", False)
        self.check_model_inputs(inputs, check_values=not checked)
        self.check_labels(labels)
        rescaled = _rescale_uint16_pixels(inputs)
        if rescaled is inputs:
            return data
        return keras.utils.pack_x_y_sample_weight(rescaled, labels, weights)

    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        sample_weight=None,
        **kwargs,
    ):
        self._check_up_front(x, y)
        checked = task_data.is_array_data(x)
        if validation_data is not None:
            val_x, val_y, _ = keras.utils.unpack_x_y_sample_weight(
                validation_data
            )
            self._check_up_front(val_x, val_y)
            checked = checked and task_data.is_array_data(val_x)
        callbacks = _with_stop_on_non_finite_loss(callbacks)
        # Pixel values are scanned once: up front for arrays (unscaled
        # videos go through the preprocessor, whose output is in range),
        # batch by batch for datasets.
        if shuffle and task_data.is_array_data(x):
            data = (x, y, sample_weight)
            if validation_split and validation_data is None:
                data, validation_data = task_data.split_validation(
                    data, validation_split
                )
                validation_data = task_data.batched_dataset(
                    *validation_data, batch_size=batch_size, shuffle=False
                )
            x = task_data.batched_dataset(*data, batch_size=batch_size)
            y = sample_weight = batch_size = None
            validation_split, shuffle = 0.0, False
        with self.keeping_jax_state(), self._values_checked_up_front(checked):
            return super().fit(
                x=x,
                y=y,
                batch_size=batch_size,
                epochs=epochs,
                callbacks=callbacks,
                validation_split=validation_split,
                validation_data=validation_data,
                shuffle=shuffle,
                sample_weight=sample_weight,
                **kwargs,
            )

    def evaluate(self, x=None, y=None, **kwargs):
        if not kwargs.get("_use_cached_eval_dataset", False):
            self._check_up_front(x, y)
        checked = task_data.is_array_data(x)
        with self.keeping_jax_state(), self._values_checked_up_front(checked):
            return super().evaluate(x=x, y=y, **kwargs)

    def predict(self, x=None, **kwargs):
        self._check_up_front(x)
        checked = task_data.is_array_data(x)
        with self.keeping_jax_state(), self._values_checked_up_front(checked):
            return super().predict(x=x, **kwargs)
