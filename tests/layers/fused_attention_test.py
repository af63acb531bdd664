"""The fused attention dispatch against the `keras.ops` reference."""

import keras
import numpy as np
import pytest

from keras_videoprism.convert import from_official_checkpoint
from keras_videoprism.layers import fused_attention
from keras_videoprism.layers.video_prism_attention import MASKED_LOGIT
from keras_videoprism.layers.video_prism_attention import soft_capped_attention
from tests.test_case import FIXTURE_ATOL
from tests.test_case import TestCase
from tests.test_case import load_official

TORCH_ONLY = pytest.mark.skipif(
    keras.config.backend() != "torch",
    reason="FlexAttention is the torch backend's kernel.",
)
BATCH, LENGTH, HEADS, HEAD_DIM = 2, 24, 3, 8


def _qkv(seed=0):
    rng = np.random.default_rng(seed)
    shape = (BATCH, LENGTH, HEADS, HEAD_DIM)
    # Large logits, so that the soft cap changes them.
    return [
        keras.ops.convert_to_tensor(rng.normal(size=shape).astype("float32"))
        * scale
        for scale in (4.0, 4.0, 1.0)
    ]


def _masks():
    rng = np.random.default_rng(1)
    causal = np.tril(np.ones((LENGTH, LENGTH), bool))[None, None]
    keys = rng.random((BATCH, 1, 1, LENGTH)) > 0.4
    none_real = np.zeros((BATCH, 1, 1, LENGTH), bool)
    return {"none": None, "causal": causal, "keys": keys, "empty": none_real}


class FusedAttentionTest(TestCase):
    def setUp(self):
        super().setUp()
        fused_attention.set_enabled(True, min_logits=1)

    def tearDown(self):
        fused_attention.set_enabled(True)
        super().tearDown()

    def _fused(self, query, key, value, mask):
        if mask is not None:
            mask = keras.ops.convert_to_tensor(mask)
        return fused_attention.fused_attention(
            query, key, value, mask, 5.0, MASKED_LOGIT
        )

    def test_other_backends_keep_the_reference_path(self):
        if keras.config.backend() == "torch":
            self.skipTest("torch has a fused kernel.")
        self.assertIsNone(self._fused(*_qkv(), None))

    @TORCH_ONLY
    def test_fused_kernel_matches_reference(self):
        import torch

        query, key, value = _qkv()
        # Where the compiled kernel fails its probe it must never be used.
        usable = fused_attention._compiled_flex_attention() is not None
        for name, mask in _masks().items():
            with torch.no_grad():
                fused = self._fused(query, key, value, mask)
            if not usable:
                self.assertIsNone(fused, name)
                continue
            self.assertIsNotNone(fused, name)
            fused_attention.set_enabled(False)
            reference = soft_capped_attention(
                query, key, value, mask, soft_cap=5.0
            )
            fused_attention.set_enabled(True, min_logits=1)
            self.assertAllClose(fused, reference, atol=2e-6, msg=name)

    @TORCH_ONLY
    def test_changing_shapes_share_padded_kernels(self):
        import torch

        if fused_attention._compiled_flex_attention() is None:
            self.skipTest("The compiled kernel failed its probe here.")
        rng = np.random.default_rng(2)
        before = fused_attention.compiled_shapes()
        # Lengths 9..15 share one bucket (16), batches one dynamic axis.
        for batch, length in ((1, 9), (3, 13), (2, 15)):
            query, key, value = (
                keras.ops.convert_to_tensor(
                    rng.normal(size=(batch, length, HEADS, HEAD_DIM))
                    .astype("float32")
                    * scale
                )
                for scale in (4.0, 4.0, 1.0)
            )
            keys = rng.random((batch, 1, 1, length)) > 0.4
            keys[0] = False  # A row with no real key: the mean of values.
            for mask in (None, keys):
                with torch.no_grad():
                    fused = self._fused(query, key, value, mask)
                self.assertIsNotNone(fused)
                fused_attention.set_enabled(False)
                reference = soft_capped_attention(
                    query, key, value, mask, soft_cap=5.0
                )
                fused_attention.set_enabled(True, min_logits=1)
                self.assertAllClose(fused, reference, atol=2e-6)
        # One unmasked kernel; masked ones per batch size.
        self.assertLessEqual(fused_attention.compiled_shapes() - before, 4)

    @TORCH_ONLY
    def test_shapes_past_the_limit_use_the_reference(self):
        import torch

        limit = fused_attention.compiled_shapes()
        fused_attention.set_enabled(True, min_logits=1, max_shapes=limit)
        query, key, value = (
            keras.ops.convert_to_tensor(
                np.ones((1, 200 + HEAD_DIM, HEADS, HEAD_DIM), "float32")
            )
            for _ in range(3)
        )
        with torch.no_grad():
            self.assertIsNone(self._fused(query, key, value, None))
        self.assertEqual(fused_attention.compiled_shapes(), limit)

    def test_lengths_are_padded_to_buckets(self):
        padded = [fused_attention._padded_length(n) for n in (1, 8, 9, 64)]
        self.assertEqual(padded, [8, 8, 16, 64])
        padded = [fused_attention._padded_length(n) for n in (65, 256, 257)]
        self.assertEqual(padded, [128, 256, 320])

    @TORCH_ONLY
    def test_training_and_small_inputs_use_the_reference(self):
        import torch

        query, key, value = _qkv()
        # Recording a gradient: FlexAttention has no CPU backward pass.
        query = query.clone().requires_grad_(True)
        self.assertIsNone(self._fused(query, key, value, None))
        with torch.no_grad():
            fused_attention.set_enabled(True, min_logits=10**9)
            self.assertIsNone(self._fused(query, key, value, None))
            fused_attention.set_enabled(False)
            self.assertIsNone(self._fused(query, key, value, None))

    @TORCH_ONLY
    def test_a_failing_kernel_warns_and_falls_back(self):
        import torch

        def broken(*args, **kwargs):
            raise RuntimeError("no C++ compiler")

        original = fused_attention._compiled_flex_attention
        fused_attention._compiled_flex_attention = lambda: broken
        self.addCleanup(
            setattr, fused_attention, "_compiled_flex_attention", original
        )
        query, key, value = _qkv()
        with torch.no_grad():
            with self.assertWarnsRegex(UserWarning, "no C\\+\\+ compiler"):
                self.assertIsNone(self._fused(query, key, value, None))
            # Disabled for the rest of the process: no second attempt.
            self.assertIsNone(self._fused(query, key, value, None))
        self.assertFalse(fused_attention._settings["enabled"])

    @TORCH_ONLY
    def test_active_dropout_uses_the_reference(self):
        import torch

        query, key, value = _qkv()
        dropout = keras.layers.Dropout(0.5, seed=0)
        with torch.no_grad():
            outputs = [
                soft_capped_attention(
                    query, key, value, dropout=dropout, training=True
                )
                for _ in range(2)
            ]
        # Dropout ran, so two calls differ; the fused kernel has none.
        self.assertFalse(np.allclose(*map(keras.ops.convert_to_numpy, outputs)))

    @TORCH_ONLY
    def test_backbone_with_fused_kernel_matches_official(self):
        checkpoint, config, io = load_official("video_tiny")
        backbone = from_official_checkpoint(checkpoint, config)
        for case in ("a_native", "c_frame_paddings"):
            video = io[f"{case}/inputs"]
            inputs = {"pixel_values": video}
            if f"{case}/frame_paddings" in io:
                paddings = io[f"{case}/frame_paddings"]
                inputs["frame_padding_mask"] = (1 - paddings).astype("int32")
            features = backbone.predict(inputs, verbose=0)
            self.assertAllClose(
                features.reshape(io[f"{case}/embeddings"].shape),
                io[f"{case}/embeddings"],
                atol=FIXTURE_ATOL,
                rtol=0,
                msg=case,
            )
