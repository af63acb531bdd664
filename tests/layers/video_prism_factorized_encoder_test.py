import keras
import numpy as np

from keras_videoprism.layers.video_prism_factorized_encoder import (
    VideoPrismFactorizedEncoder,
)
from tests.test_case import TestCase


class VideoPrismFactorizedEncoderTest(TestCase):
    def test_layer_basics(self):
        # A 2x3 patch grid on 3 frames; the tables are resized from 2x2, 2.
        # Two position tables, a block and a LayerNorm per stage: 30.
        self.run_layer_test(
            cls=VideoPrismFactorizedEncoder,
            init_kwargs={
                "num_frames": 2,
                "grid_size": (2, 2),
                "hidden_dim": 8,
                "intermediate_dim": 16,
                "num_heads": 2,
                "num_spatial_layers": 1,
                "num_temporal_layers": 1,
            },
            input_data=keras.ops.convert_to_tensor(
                np.random.rand(2, 3, 2, 3, 8).astype("float32")
            ),
            expected_output_shape=(2, 3, 6, 8),
            expected_num_trainable_weights=30,
        )
