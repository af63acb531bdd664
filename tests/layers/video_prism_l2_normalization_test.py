import keras
import numpy as np

from keras_videoprism.layers.video_prism_l2_normalization import (
    VideoPrismL2Normalization,
)
from tests.test_case import TestCase


class VideoPrismL2NormalizationTest(TestCase):
    def test_layer_basics(self):
        inputs = np.random.rand(2, 4).astype("float32")
        self.run_layer_test(
            cls=VideoPrismL2Normalization,
            init_kwargs={},
            input_data=keras.ops.convert_to_tensor(inputs),
            expected_output_shape=(2, 4),
            expected_output_data=inputs
            / np.linalg.norm(inputs, axis=-1, keepdims=True),
            run_training_check=False,
        )
