"""Keeps a model's variables when a JAX `fit`/`evaluate`/`predict` fails.

Keras' JAX trainer detaches every variable's value (`_purge_model_variables`)
before its first step and keeps the live state in a local of its loop; only
a successful loop writes it back. When anything raises in the loop (a data
pipeline, a callback, an error at trace time, Ctrl-C) the variables are
left `None`: trained weights are lost, `save_to_preset()` fails and every
later call raises. This mixin remembers the state each step function was
last called with or returned, and writes it back into the purged variables
when the loop raises. On TensorFlow and PyTorch it changes nothing.
"""

import contextlib
import functools

import keras


def _train_variables(model):
    return (
        model.trainable_variables,
        model.non_trainable_variables,
        model.optimizer.variables,
        model.metrics_variables,
    )


def _test_variables(model):
    return (
        model.trainable_variables,
        model.non_trainable_variables,
        model.metrics_variables,
    )


def _predict_variables(model):
    return (model.trainable_variables, model.non_trainable_variables)


class _LastState:
    """The variables a step function reads, and its latest state."""

    def __init__(self):
        self.variables = None
        self.state = None


def _is_deleted(value):
    is_deleted = getattr(value, "is_deleted", None)
    return is_deleted is not None and is_deleted()


class JaxStateGuardMixin:
    """Restores variables purged by a failed JAX training/inference loop.

    Mix into a `keras.Model` subclass (before the Keras class) and run the
    loops inside `self.keeping_jax_state()`; the tasks and the backbone do
    this in their `fit()`, `evaluate()` and `predict()`.

    Example:

    ```python
    class MyModel(JaxStateGuardMixin, keras.Model):
        def predict(self, *args, **kwargs):
            with self.keeping_jax_state():
                return super().predict(*args, **kwargs)
    ```
    """

    def make_train_function(self, force=False):
        result = super().make_train_function(force)
        self.train_function = self._guard(self.train_function, _train_variables)
        return result

    def make_test_function(self, force=False):
        result = super().make_test_function(force)
        self.test_function = self._guard(self.test_function, _test_variables)
        return result

    def make_predict_function(self, force=False):
        result = super().make_predict_function(force)
        self.predict_function = self._guard(
            self.predict_function, _predict_variables
        )
        return None if result is None else self.predict_function

    def _guard(self, function, variables):
        is_jax = keras.backend.backend() == "jax"
        if not is_jax or function is None or hasattr(function, "last_state"):
            return function
        last_state = _LastState()

        @functools.wraps(function)
        def guarded(state, iterator):
            self._jax_last_state = last_state
            last_state.variables, last_state.state = variables, state
            outputs, state = function(state, iterator)
            last_state.state = state
            return outputs, state

        guarded.last_state = last_state
        return guarded

    @contextlib.contextmanager
    def keeping_jax_state(self):
        """Runs a Keras loop; if it raises, restores purged variables.

        Returns:
            A context manager.

        Example:

        ```python
        with model.keeping_jax_state():
            keras.Model.fit(model, x, y)
        ```
        """
        try:
            yield
        except BaseException:
            self._restore_purged_variables()
            raise
        finally:
            last_state = getattr(self, "_jax_last_state", None)
            if last_state is not None:
                last_state.state = None

    def _restore_purged_variables(self):
        last_state = getattr(self, "_jax_last_state", None)
        if last_state is None or last_state.state is None:
            return
        groups = last_state.variables(self)
        for variables, values in zip(groups, last_state.state):
            for variable, value in zip(variables, values):
                if variable._value is None and not _is_deleted(value):
                    variable.assign(value)
        self._jax_state = None
        self._jax_state_synced = True
