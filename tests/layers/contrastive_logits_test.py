import math

import keras
import numpy as np

from keras_videoprism.layers.contrastive_logits import ContrastiveLogits
from tests.test_case import TestCase


class ContrastiveLogitsTest(TestCase):
    def test_layer_basics(self):
        similarities = np.random.uniform(-1, 1, (3, 3)).astype("float32")
        # similarity / temperature + bias, at the initial values.
        self.run_layer_test(
            cls=ContrastiveLogits,
            init_kwargs={
                "initial_temperature": 0.5,
                "initial_logit_bias": -1.0,
            },
            input_data=keras.ops.convert_to_tensor(similarities),
            expected_output_shape=(3, 3),
            expected_output_data=similarities / 0.5 - 1.0,
            expected_num_trainable_weights=2,
        )

    def test_initial_temperature(self):
        layer = ContrastiveLogits(initial_temperature=0.01)
        layer.build()
        self.assertAllClose(layer.log_scale, math.log(100.0), atol=1e-5)
