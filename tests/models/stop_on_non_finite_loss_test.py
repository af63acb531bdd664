"""`StopOnNonFiniteLoss` raises at the first NaN loss, naming the step."""

import keras
import numpy as np

from keras_videoprism.models.stop_on_non_finite_loss import NonFiniteLossError
from keras_videoprism.models.stop_on_non_finite_loss import (
    StopOnNonFiniteLoss,
)
from tests.test_case import TestCase


def dense_model():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


class StopOnNonFiniteLossTest(TestCase):
    def test_names_epoch_and_step(self):
        # A dense model on inputs that turn NaN at the 3rd batch of 2.
        model = dense_model()
        x = np.ones((8, 1), "float32")
        x[5] = np.nan
        with self.assertRaisesRegex(
            NonFiniteLossError, r"became nan at epoch 1, step 3"
        ):
            model.fit(
                x,
                np.ones((8, 1)),
                batch_size=2,
                shuffle=False,
                callbacks=[StopOnNonFiniteLoss()],
                verbose=0,
            )
        # The NaN step left NaN weights; a model with finite ones trains on.
        history = dense_model().fit(
            np.ones((4, 1)),
            np.ones((4, 1)),
            callbacks=[StopOnNonFiniteLoss()],
            verbose=0,
        )
        self.assertEqual(len(history.history["loss"]), 1)
