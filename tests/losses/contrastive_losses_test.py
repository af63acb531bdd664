"""The contrastive losses against direct NumPy formulas."""

import keras
import numpy as np

from keras_videoprism.losses import SigmoidContrastiveLoss
from keras_videoprism.losses import SoftmaxContrastiveLoss
from tests.test_case import TestCase


def log_softmax(x, axis):
    x = x - x.max(axis=axis, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def softmax_reference(targets, logits):
    """Mean over pairs of the CLIP loss, targets spread over positives."""
    rows = targets / targets.sum(axis=1, keepdims=True)
    columns = targets / targets.sum(axis=0, keepdims=True)
    video_to_text = -(rows * log_softmax(logits, axis=1)).sum(axis=1)
    text_to_video = -(columns * log_softmax(logits, axis=0)).sum(axis=0)
    return np.mean((video_to_text + text_to_video) / 2)


def sigmoid_reference(targets, logits):
    """SigLIP: -sum log sigmoid(z * logits) / batch size."""
    signs = 2 * targets - 1
    return np.log1p(np.exp(-signs * logits)).sum() / len(logits)


class ContrastiveLossesTest(TestCase):
    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(0)
        self.logits = rng.normal(scale=5.0, size=(5, 5)).astype("float32")
        self.identity = np.eye(5, dtype="float32")
        # Pairs 0 and 3 show the same thing: both match each other's text.
        self.shared = self.identity.copy()
        self.shared[0, 3] = self.shared[3, 0] = 1.0

    def test_softmax_matches_reference(self):
        loss = SoftmaxContrastiveLoss()
        for targets in (self.identity, self.shared):
            self.assertAllClose(
                loss(targets, self.logits),
                softmax_reference(targets, self.logits),
                atol=1e-5,
            )

    def test_sigmoid_matches_reference(self):
        loss = SigmoidContrastiveLoss()
        for targets in (self.identity, self.shared):
            self.assertAllClose(
                loss(targets, self.logits),
                sigmoid_reference(targets, self.logits),
                atol=1e-5,
            )

    def test_softmax_is_symmetric(self):
        loss = SoftmaxContrastiveLoss()
        self.assertAllClose(
            loss(self.identity, self.logits),
            loss(self.identity, self.logits.T),
            atol=1e-6,
        )

    def test_softmax_ignores_a_shared_shift(self):
        loss = SoftmaxContrastiveLoss()
        self.assertAllClose(
            loss(self.identity, self.logits),
            loss(self.identity, self.logits - 7.0),
            atol=1e-5,
        )

    def test_perfect_logits_give_a_small_loss(self):
        logits = 50.0 * self.identity
        for loss in (SoftmaxContrastiveLoss(), SigmoidContrastiveLoss()):
            value = float(
                keras.ops.convert_to_numpy(loss(self.identity, logits - 25))
            )
            self.assertLess(value, 1e-6)

    def test_sample_weight_weights_pairs(self):
        loss = SoftmaxContrastiveLoss(reduction="sum")
        weights = np.array([1.0, 0.0, 0.0, 0.0, 0.0], "float32")
        unreduced = SoftmaxContrastiveLoss(reduction=None)
        per_pair = unreduced(self.identity, self.logits)
        self.assertEqual(tuple(per_pair.shape), (5,))
        self.assertAllClose(
            loss(self.identity, self.logits, sample_weight=weights),
            keras.ops.convert_to_numpy(per_pair)[0],
            atol=1e-6,
        )

    def test_serialization(self):
        for cls in (SoftmaxContrastiveLoss, SigmoidContrastiveLoss):
            loss = cls(reduction="sum")
            revived = keras.losses.deserialize(keras.losses.serialize(loss))
            self.assertIsInstance(revived, cls)
            self.assertEqual(revived.get_config(), loss.get_config())

    def test_non_square_logits_raise(self):
        with self.assertRaisesRegex(ValueError, r"\(B, B\)"):
            SoftmaxContrastiveLoss()(np.eye(3), np.zeros((3, 4), "float32"))
