"""A failed `fit()`/`predict()` leaves the model whole, on every backend.

Keras' JAX trainer detaches the variables during its loops; the tasks'
`JaxStateGuardMixin` writes the last good state back when a loop raises.
"""

import os

import grain
import keras
import numpy as np

from keras_videoprism.models.video_classifier import VideoClassifier
from keras_videoprism.models.video_prism_backbone import VideoPrismBackbone
from keras_videoprism.models.video_prism_video_classifier import (
    VideoPrismVideoClassifier,
)
from tests.configs import TINY_VIDEO
from tests.configs import random_pixel_values
from tests.test_case import TestCase


class _RaiseAtBatch(keras.callbacks.Callback):
    """Raises in the loop after `batch` steps, as a broken callback would."""

    def __init__(self, batch):
        super().__init__()
        self.batch = batch

    def on_predict_batch_end(self, batch, logs=None):
        if batch == self.batch:
            raise RuntimeError("callback failed")

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.batch:
            raise RuntimeError("callback failed")


def _batches(videos, labels=None):
    """A grain dataset of batches of 2; keeps NaNs the arrays may hold."""

    class Source:
        def __len__(self):
            return len(videos) // 2

        def __getitem__(self, index):
            x = videos[2 * index : 2 * index + 2]
            if labels is None:
                return (x,)
            return x, labels[2 * index : 2 * index + 2]

    return grain.MapDataset.source(Source())


class JaxStateGuardTest(TestCase):
    def setUp(self):
        super().setUp()
        self.classifier = VideoPrismVideoClassifier(
            VideoPrismBackbone(**TINY_VIDEO), num_classes=3
        )
        # Steps of rate 0 leave the weights as they are, so the last good
        # state is the one before `fit()`.
        self.classifier.compile(optimizer=keras.optimizers.SGD(0.0))
        self.videos = random_pixel_values(6, seed=1)
        self.labels = np.array([0, 1, 2, 0, 1, 2])
        self.classifier.fit(
            self.videos, self.labels, batch_size=2, verbose=0
        )
        self.expected = self.classifier.predict(self.videos, verbose=0)

    def assert_model_whole(self):
        classifier = self.classifier
        self.assertTrue(
            all(v._value is not None for v in classifier.variables)
        )
        self.assertAllClose(
            classifier.predict(self.videos, verbose=0), self.expected, atol=0
        )
        preset = os.path.join(self.get_temp_dir(), "preset")
        classifier.save_to_preset(preset)
        restored = VideoClassifier.from_preset(preset)
        self.assertAllClose(
            restored.predict(self.videos, verbose=0), self.expected, atol=0
        )

    def test_error_inside_the_jax_step_keeps_weights(self):
        # Keras' own check of a loss of one's own raises while the step is
        # traced, after the variables were detached: a second `fit()` with
        # class ids where the first had one-hot labels.
        self.classifier.compile(
            optimizer=keras.optimizers.SGD(0.0),
            loss=keras.losses.CategoricalCrossentropy(from_logits=True),
            metrics=[],
        )
        one_hot = np.eye(3, dtype="float32")[self.labels]
        self.classifier.fit(self.videos, one_hot, batch_size=2, verbose=0)
        with self.assertRaisesRegex(ValueError, "must have the same"):
            self.classifier.fit(
                self.videos, self.labels, batch_size=2, verbose=0
            )
        self.assert_model_whole()

    def test_failed_fit_keeps_weights(self):
        # A bad batch of a dataset is refused in the data pipeline, which
        # Keras runs inside its loop: at the first step, before Keras
        # holds any state of its own to write back, or at a later one.
        for bad_video in (1, 3):
            broken = self.videos.copy()
            broken[bad_video, 0, 0, 0, 0] = np.nan
            with self.assertRaisesRegex(ValueError, "NaN or infinite"):
                self.classifier.fit(_batches(broken, self.labels), verbose=0)
            self.assert_model_whole()
        with self.assertRaisesRegex(RuntimeError, "callback failed"):
            self.classifier.fit(
                self.videos,
                self.labels,
                batch_size=2,
                callbacks=[_RaiseAtBatch(1)],
                verbose=0,
            )
        self.assert_model_whole()

    def test_failed_predict_keeps_weights(self):
        broken = self.videos.copy()
        broken[3, 0, 0, 0, 0] = np.nan
        with self.assertRaisesRegex(ValueError, "NaN or infinite"):
            self.classifier.predict(_batches(broken), verbose=0)
        self.assert_model_whole()
        with self.assertRaisesRegex(RuntimeError, "callback failed"):
            self.classifier.predict(
                self.videos,
                batch_size=2,
                callbacks=[_RaiseAtBatch(1)],
                verbose=0,
            )
        self.assert_model_whole()

    def test_backbone_failed_predict_keeps_weights(self):
        backbone = self.classifier.backbone
        expected = backbone.predict(self.videos, verbose=0)
        with self.assertRaisesRegex(RuntimeError, "callback failed"):
            backbone.predict(
                self.videos,
                batch_size=2,
                callbacks=[_RaiseAtBatch(1)],
                verbose=0,
            )
        self.assertAllClose(
            backbone.predict(self.videos, verbose=0), expected, atol=0
        )
