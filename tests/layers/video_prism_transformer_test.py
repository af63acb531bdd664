import keras
import numpy as np

from keras_videoprism.layers.video_prism_transformer import (
    VideoPrismTransformerBlock,
)
from keras_videoprism.layers.video_prism_transformer import (
    VideoPrismTransformerStack,
)
from tests.test_case import TestCase


class VideoPrismTransformerTest(TestCase):
    def test_block_basics(self):
        # Attention (4), two LayerNorms (4), the MLP's two Dense layers (4).
        self.run_layer_test(
            cls=VideoPrismTransformerBlock,
            init_kwargs={
                "hidden_dim": 8,
                "intermediate_dim": 16,
                "num_heads": 2,
            },
            input_data=keras.ops.convert_to_tensor(
                np.random.rand(2, 5, 8).astype("float32")
            ),
            expected_output_shape=(2, 5, 8),
            expected_num_trainable_weights=12,
        )

    def test_stack_basics(self):
        # Two primer_hybrid blocks (12 weights, 4 more of their extra
        # LayerNorms) over the frames and patches of (B, T, N, D).
        self.run_layer_test(
            cls=VideoPrismTransformerStack,
            init_kwargs={
                "num_layers": 2,
                "hidden_dim": 8,
                "intermediate_dim": 16,
                "num_heads": 2,
                "num_sequence_axes": 2,
                "norm_policy": "primer_hybrid",
            },
            input_data=keras.ops.convert_to_tensor(
                np.random.rand(2, 3, 4, 8).astype("float32")
            ),
            expected_output_shape=(2, 3, 4, 8),
            expected_num_trainable_weights=32,
        )
