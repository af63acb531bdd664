import keras
import numpy as np

from keras_videoprism.layers.video_prism_patch_embedding import (
    VideoPrismPatchEmbedding,
)
from tests.test_case import TestCase


class VideoPrismPatchEmbeddingTest(TestCase):
    def test_layer_basics(self):
        # 8x12 frames in 4x4 patches: a 2x3 grid; a kernel and a bias.
        self.run_layer_test(
            cls=VideoPrismPatchEmbedding,
            init_kwargs={"patch_size": 4, "hidden_dim": 8},
            input_data=keras.ops.convert_to_tensor(
                np.random.rand(2, 3, 8, 12, 3).astype("float32")
            ),
            expected_output_shape=(2, 3, 2, 3, 8),
            expected_num_trainable_weights=2,
        )
