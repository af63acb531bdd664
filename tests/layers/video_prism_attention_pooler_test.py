import keras
import numpy as np

from keras_videoprism.layers.video_prism_attention_pooler import (
    VideoPrismAttentionPooler,
)
from tests.test_case import TestCase


class VideoPrismAttentionPoolerTest(TestCase):
    def test_layer_basics(self):
        # The query, its per-dim scale, three Dense layers and a LayerNorm.
        self.run_layer_test(
            cls=VideoPrismAttentionPooler,
            init_kwargs={"hidden_dim": 8, "num_heads": 2, "attention_dim": 16},
            input_data=keras.ops.convert_to_tensor(
                np.random.rand(2, 3, 5, 8).astype("float32")
            ),
            expected_output_shape=(2, 3, 8),
            expected_num_trainable_weights=10,
        )
