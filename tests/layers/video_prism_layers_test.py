import keras
import numpy as np
import pytest

from keras_videoprism import layers
from keras_videoprism.layers.video_prism_attention import soft_capped_attention
from keras_videoprism.layers.video_prism_position_embedding import (
    antialiased_resize_weights,
)
from keras_videoprism.layers.video_prism_text_encoder import (
    sinusoidal_positions,
)
from tests.test_case import TestCase


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
        layer = layers.VideoPrismPositionEmbedding((4, 4), 8)
        layer.build((None, 4, 4, 8))
        layer.set_weights([table.reshape(16, 8)])
        for grid in ((3, 3), (5, 7), (2, 6)):
            expected = keras.ops.image.resize(
                table[None], grid, interpolation="bilinear", antialias=True
            )[0]
            self.assertAllClose(layer.resized_table(grid), expected, atol=1e-5)


def test_sinusoidal_positions_official_layout():
    table = keras.ops.convert_to_numpy(sinusoidal_positions(5, 8))
    inverse = np.exp(-np.arange(4) * np.log(1e4) / 3)
    angles = np.arange(5)[:, None] * inverse[None]
    expected = np.concatenate([np.sin(angles), np.cos(angles)], axis=1)
    np.testing.assert_allclose(table, expected, atol=1e-6)
    odd = keras.ops.convert_to_numpy(sinusoidal_positions(3, 7))
    np.testing.assert_array_equal(odd[:, -1], 0)


LAYER_CASES = [
    (
        layers.VideoPrismPatchEmbedding,
        dict(patch_size=4, hidden_dim=8),
        [np.random.rand(1, 2, 8, 12, 3)],
    ),
    (
        layers.VideoPrismAttention,
        dict(hidden_dim=8, num_heads=2, attention_logit_soft_cap=5.0),
        [np.random.rand(2, 5, 8)],
    ),
    (
        layers.VideoPrismTransformerStack,
        dict(
            num_layers=2,
            hidden_dim=8,
            intermediate_dim=16,
            num_heads=2,
            num_sequence_axes=2,
            norm_policy="primer_hybrid",
        ),
        [np.random.rand(2, 3, 4, 8)],
    ),
    (
        layers.VideoPrismAttentionPooler,
        dict(hidden_dim=8, num_heads=2, attention_dim=16),
        [np.random.rand(2, 3, 5, 8)],
    ),
    (
        layers.VideoPrismFactorizedEncoder,
        dict(
            num_frames=2,
            grid_size=(2, 2),
            hidden_dim=8,
            intermediate_dim=16,
            num_heads=2,
            num_spatial_layers=1,
            num_temporal_layers=1,
        ),
        [np.random.rand(2, 3, 2, 3, 8)],
    ),
    (
        layers.VideoPrismTextEncoder,
        dict(vocabulary_size=20, hidden_dim=8, num_layers=1, num_heads=2),
        [np.array([[1, 2, 3], [4, 5, 0]]), np.array([[1, 1, 1], [1, 1, 0]])],
    ),
    (layers.VideoPrismL2Normalization, {}, [np.random.rand(2, 4)]),
]


@pytest.mark.parametrize(
    "cls,kwargs,inputs", LAYER_CASES, ids=[c[0].__name__ for c in LAYER_CASES]
)
def test_layer_config_round_trip(cls, kwargs, inputs):
    layer = cls(**kwargs)
    output = keras.ops.convert_to_numpy(layer(*inputs))
    config = layer.get_config()
    revived = cls.from_config(config)
    assert revived.get_config() == config
    revived(*inputs)
    revived.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(revived(*inputs)), output, atol=1e-6
    )
    shape = layer.compute_output_shape(*[np.shape(x) for x in inputs])
    assert tuple(shape) == output.shape
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == f"keras_videoprism>{cls.__name__}"


def test_query_chunked_attention_is_exact():
    rng = np.random.default_rng(0)
    query, key, value = (
        rng.normal(size=(2, 37, 3, 4)).astype("float32") for _ in range(3)
    )
    causal = np.tril(np.ones((37, 37), bool))[None, None]
    for mask in (None, causal):
        whole = soft_capped_attention(query, key, value, mask, soft_cap=5.0)
        chunked = soft_capped_attention(
            query, key, value, mask, soft_cap=5.0, max_logits_per_chunk=300
        )
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(chunked),
            keras.ops.convert_to_numpy(whole),
            atol=1e-6,
        )
