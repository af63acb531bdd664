import keras
import numpy as np

from keras_videoprism.layers.video_prism_attention import VideoPrismAttention
from keras_videoprism.layers.video_prism_attention import soft_capped_attention
from tests.test_case import TestCase


class VideoPrismAttentionTest(TestCase):
    def test_layer_basics(self):
        # Fused QKV and output projections: two kernels, two biases.
        self.run_layer_test(
            cls=VideoPrismAttention,
            init_kwargs={
                "hidden_dim": 8,
                "num_heads": 2,
                "attention_logit_soft_cap": 5.0,
            },
            input_data=keras.ops.convert_to_tensor(
                np.random.rand(2, 5, 8).astype("float32")
            ),
            expected_output_shape=(2, 5, 8),
            expected_num_trainable_weights=4,
        )

    def test_query_chunked_attention_is_exact(self):
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
