import keras
import numpy as np

from keras_videoprism.layers.video_prism_text_encoder import (
    VideoPrismTextEncoder,
)
from keras_videoprism.layers.video_prism_text_encoder import (
    sinusoidal_positions,
)
from tests.test_case import TestCase


class VideoPrismTextEncoderTest(TestCase):
    def test_layer_basics(self):
        self.run_layer_test(
            cls=VideoPrismTextEncoder,
            init_kwargs={
                "vocabulary_size": 20,
                "hidden_dim": 8,
                "num_layers": 1,
                "num_heads": 2,
            },
            input_data={
                "token_ids": keras.ops.convert_to_tensor(
                    np.array([[1, 2, 3], [4, 5, 0]], "int32")
                ),
                "padding_mask": keras.ops.convert_to_tensor(
                    np.array([[1, 1, 1], [1, 1, 0]], "int32")
                ),
            },
            expected_output_shape=(2, 8),
            expected_num_trainable_weights=16,
        )


def test_sinusoidal_positions_official_layout():
    table = keras.ops.convert_to_numpy(sinusoidal_positions(5, 8))
    inverse = np.exp(-np.arange(4) * np.log(1e4) / 3)
    angles = np.arange(5)[:, None] * inverse[None]
    expected = np.concatenate([np.sin(angles), np.cos(angles)], axis=1)
    np.testing.assert_allclose(table, expected, atol=1e-6)
    odd = keras.ops.convert_to_numpy(sinusoidal_positions(3, 7))
    np.testing.assert_array_equal(odd[:, -1], 0)
