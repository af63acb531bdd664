import keras
import numpy as np

from keras_videoprism.layers.video_prism_position_embedding import (
    VideoPrismPositionEmbedding,
)
from keras_videoprism.layers.video_prism_position_embedding import (
    antialiased_resize_weights,
)
from tests.test_case import TestCase


class VideoPrismPositionEmbeddingTest(TestCase):
    def test_layer_basics(self):
        # A 2x2 table added to a 3x4 grid: resized, then added.
        self.run_layer_test(
            cls=VideoPrismPositionEmbedding,
            init_kwargs={"grid_shape": (2, 2), "hidden_dim": 8},
            input_data=keras.ops.convert_to_tensor(
                np.random.rand(2, 5, 3, 4, 8).astype("float32")
            ),
            expected_output_shape=(2, 5, 3, 4, 8),
            expected_num_trainable_weights=1,
        )


class ResizeWeightsTest(TestCase):
    def weights(self, output_size, input_size):
        return keras.ops.convert_to_numpy(
            antialiased_resize_weights(output_size, input_size)
        )

    def test_specification_examples(self):
        # Growing 4 -> 5: linear interpolation with half-pixel centres.
        grow = self.weights(5, 4)
        self.assertAllClose(grow[0], [1, 0, 0, 0])
        self.assertAllClose(grow[1], [0.3, 0.7, 0, 0])
        self.assertAllClose(grow[2], [0, 0.5, 0.5, 0])
        # Shrinking 4 -> 2 and 16 -> 8: the antialiased (widened) triangle.
        self.assertAllClose(self.weights(2, 4)[0], np.array([3, 3, 1, 0]) / 7)
        self.assertAllClose(self.weights(2, 4)[1], np.array([0, 1, 3, 3]) / 7)
        shrink = self.weights(8, 16)
        self.assertAllClose(shrink[0, :3], np.array([3, 3, 1]) / 7)
        self.assertAllClose(shrink[3, 5:9], np.array([1, 3, 3, 1]) / 8)
        # Equal sizes: exactly the identity.
        np.testing.assert_array_equal(self.weights(6, 6), np.eye(6))

    def test_matches_keras_antialiased_resize(self):
        table = np.random.default_rng(0).normal(size=(4, 4, 8))
        table = table.astype("float32")
        layer = VideoPrismPositionEmbedding((4, 4), 8)
        layer.build((None, 4, 4, 8))
        layer.set_weights([table.reshape(16, 8)])
        for grid in ((3, 3), (5, 7), (2, 6)):
            expected = keras.ops.image.resize(
                table[None], grid, interpolation="bilinear", antialias=True
            )[0]
            self.assertAllClose(layer.resized_table(grid), expected, atol=1e-5)
