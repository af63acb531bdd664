"""The tasks' loops: shuffled every epoch, checked before the first step."""

import keras
import numpy as np

from keras_videoprism.models.stop_on_non_finite_loss import NonFiniteLossError
from keras_videoprism.models.video_prism_backbone import VideoPrismBackbone
from keras_videoprism.models.video_prism_video_classifier import (
    VideoPrismVideoClassifier,
)
from tests.configs import TINY_VIDEO
from tests.test_case import TestCase

NUM_VIDEOS = 8


class RecordingClassifier(VideoPrismVideoClassifier):
    """Records the ids of the videos of every batch it preprocesses."""

    def preprocess_samples(self, x, y=None, sample_weight=None):
        ids = np.round(np.asarray(x)[:, 0, 0, 0, 0] * 10).astype(int)
        self.batches.append(frozenset(ids.tolist()))
        return super().preprocess_samples(x, y, sample_weight)


def numbered_videos():
    """Video `i` is filled with `i / 10`, so a batch shows its video ids."""
    values = np.arange(NUM_VIDEOS, dtype="float32") / 10
    shape = (NUM_VIDEOS, 2, 16, 16, 3)
    return np.broadcast_to(values[:, None, None, None, None], shape).copy()


class TaskLoopsTest(TestCase):
    def classifier(self, cls=VideoPrismVideoClassifier, **kwargs):
        classifier = cls(
            VideoPrismBackbone(**TINY_VIDEO), num_classes=3, **kwargs
        )
        classifier.compile(optimizer=keras.optimizers.SGD(1e-3))
        return classifier

    def batch_compositions(self, seed, shuffle=True):
        """The video pairs batched together in a 3-epoch `fit()`.

        Keras and grain read some batches more than once (to infer specs,
        to read ahead), so the pairs are compared as a set.
        """
        keras.utils.set_random_seed(seed)
        classifier = self.classifier(RecordingClassifier)
        classifier.batches = []
        classifier.fit(
            numbered_videos(),
            np.arange(NUM_VIDEOS) % 3,
            batch_size=2,
            epochs=3,
            shuffle=shuffle,
            verbose=0,
        )
        return set(classifier.batches)

    def test_fit_shuffles_arrays_every_epoch(self):
        # Unshuffled, each epoch repeats the same 4 batches.
        unshuffled = self.batch_compositions(seed=1, shuffle=False)
        self.assertEqual(
            unshuffled, {frozenset((i, i + 1)) for i in range(0, 8, 2)}
        )
        # Shuffled anew every epoch: other pairs of videos meet.
        shuffled = self.batch_compositions(seed=1)
        self.assertGreater(len(shuffled), 4)
        # ... in the same orders under the same seed, in others otherwise.
        self.assertEqual(self.batch_compositions(seed=1), shuffled)
        self.assertNotEqual(self.batch_compositions(seed=2), shuffled)

    def test_labels_are_checked_before_training(self):
        classifier = self.classifier()
        videos = numbered_videos()
        weights = [v.numpy() for v in classifier.trainable_variables[:1]]
        for labels, message in (
            (np.array([0, 1, 2, 3] * 2), r"must be in \[0, 3\)"),
            (np.array([0.5] * NUM_VIDEOS), "whole numbers"),
            (np.eye(3)[np.arange(NUM_VIDEOS) % 3], "np.argmax"),
            (np.array([0, 1]), "one entry per video"),
        ):
            with self.assertRaisesRegex(ValueError, message):
                classifier.fit(videos, labels, batch_size=2, verbose=0)
        self.assertAllClose(
            classifier.trainable_variables[0].numpy(), weights[0], atol=0
        )

    def test_inputs_are_checked_before_any_step(self):
        classifier = self.classifier()
        videos = numbered_videos()
        labels = np.arange(NUM_VIDEOS) % 3
        for bad, error, message in (
            (videos * 255, ValueError, r"divide them by 255"),
            (videos[:0], ValueError, r"`x` is empty"),
            (videos[:, :0], ValueError, "no frames"),
            (videos[..., :1], ValueError, "3 channels"),
            (videos[:, :, :15], ValueError, "multiple of the patch size"),
            (videos.astype("int64"), TypeError, "has no pixel range"),
        ):
            with self.assertRaisesRegex(error, message):
                classifier.fit(bad, labels[: len(bad)], verbose=0)
            with self.assertRaisesRegex(error, message):
                classifier.predict(bad, verbose=0)

    def test_integer_pixels_are_rescaled(self):
        classifier = self.classifier()
        pixels = np.random.default_rng(0).integers(
            0, 256, (2, 2, 16, 16, 3), dtype="uint8"
        )
        expected = classifier.predict(pixels.astype("float32") / 255, verbose=0)
        self.assertAllClose(classifier.predict(pixels, verbose=0), expected)
        self.assertAllClose(classifier(pixels), expected, atol=1e-5)
        wide = pixels.astype("uint16") * np.uint16(257)  # v / 255 = 257v / 65535
        self.assertAllClose(
            classifier.predict(wide, verbose=0), expected, atol=1e-5
        )

    def test_non_finite_loss_stops_training(self):
        classifier = self.classifier()
        classifier.compile(optimizer=keras.optimizers.SGD(1e12))
        with self.assertRaisesRegex(
            NonFiniteLossError, r"at epoch \d+, step \d+"
        ):
            classifier.fit(
                numbered_videos(),
                np.arange(NUM_VIDEOS) % 3,
                batch_size=2,
                epochs=20,
                verbose=0,
            )
