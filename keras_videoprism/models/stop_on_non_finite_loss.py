"""A callback that ends training when the loss stops being finite."""

import math

import keras


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops `fit()` at the first NaN or infinite loss, naming the step.

    Unlike `keras.callbacks.TerminateOnNaN`, which prints a line and returns
    normally, this raises `NonFiniteLossError` (a `FloatingPointError`) so
    that a script cannot go on to save or use the broken weights silently.
    The step that produced the loss has already updated the weights, so they
    hold non-finite values: reload the last good checkpoint. The tasks add
    this callback to every `fit()` unless one is passed.

    Example:

    ```python
    classifier.fit(videos, labels, callbacks=[StopOnNonFiniteLoss()])
    ```
    """

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(keras.ops.convert_to_numpy(loss))
        if math.isfinite(loss):
            return
        self.model.stop_training = True
        raise NonFiniteLossError(
            f"The training loss became {loss} at epoch {self.epoch + 1}, "
            f"step {batch + 1}; training stopped. That step's update left "
            "non-finite weights, so reload the last good weights before "
            "training again. Usual causes and fixes: NaN or infinite inputs "
            "or labels (check the data), a learning rate too high (lower it "
            "or clip gradients, e.g. `Adam(..., global_clipnorm=1.0)`), or "
            "float16 overflow (use `mixed_bfloat16` or float32)."
        )
