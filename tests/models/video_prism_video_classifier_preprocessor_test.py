import os

import keras
import numpy as np
import tensorflow as tf

from keras_videoprism.models.video_prism_video_converter import (
    VideoPrismVideoConverter,
)
from keras_videoprism.models.video_prism_video_classifier import (
    VideoPrismVideoClassifier,
)
from keras_videoprism.models.video_prism_video_classifier_preprocessor import (
    VideoPrismVideoClassifierPreprocessor,
)
from tests.models.video_prism_video_classifier_test import tiny_backbone
from tests.configs import TINY_CONVERTER
from tests.configs import random_videos
from tests.test_case import TestCase


def raw_videos(num_videos=2, num_frames=10, height=24, width=32, seed=0):
    rng = np.random.default_rng(seed)
    shape = (num_videos, num_frames, height, width, 3)
    return rng.integers(0, 256, shape).astype("uint8")


class VideoPrismVideoClassifierPreprocessorTest(TestCase):
    def setUp(self):
        super().setUp()
        self.preprocessor = VideoPrismVideoClassifierPreprocessor(
            VideoPrismVideoConverter(num_frames=4, image_size=(16, 16))
        )

    def test_converts_raw_videos(self):
        videos = raw_videos()
        inputs = self.preprocessor(videos)
        # The classifier's inputs; every sampled frame is real.
        self.assertAllEqual(inputs["frame_padding_mask"], np.ones((2, 4)))
        pixel_values = inputs["pixel_values"]
        self.assertEqual(tuple(pixel_values.shape), (2, 4, 16, 16, 3))
        self.assertEqual(
            keras.backend.standardize_dtype(pixel_values.dtype), "float32"
        )
        pixel_values = keras.ops.convert_to_numpy(pixel_values)
        self.assertGreaterEqual(pixel_values.min(), 0.0)
        self.assertLessEqual(pixel_values.max(), 1.0)
        # The converter's own output, for one video and for floats.
        expected = self.preprocessor.video_converter(videos)
        self.assertAllClose(pixel_values, expected)
        self.assertAllClose(
            self.preprocessor(videos[0])["pixel_values"], expected[0]
        )
        self.assertAllClose(
            self.preprocessor(videos.astype("float32") / 255)["pixel_values"],
            expected,
            atol=1e-6,
        )

    def test_passes_labels_and_sample_weights_through(self):
        videos = raw_videos()
        labels = np.array([1, 0])
        x, y = self.preprocessor(videos, labels)
        self.assertEqual(tuple(x["pixel_values"].shape), (2, 4, 16, 16, 3))
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(y), labels)
        _, _, weights = self.preprocessor(videos, labels, np.array([0.5, 2]))
        self.assertAllClose(weights, [0.5, 2.0])

    def test_in_a_tf_data_pipeline(self):
        videos = raw_videos(num_videos=4)
        labels = np.array([0, 1, 2, 3])
        expected = keras.ops.convert_to_numpy(
            self.preprocessor(videos)["pixel_values"]
        )
        per_clip = tf.data.Dataset.from_tensor_slices((videos, labels))
        per_clip = per_clip.map(self.preprocessor).batch(4)
        batched = tf.data.Dataset.from_tensor_slices((videos, labels))
        batched = batched.batch(4).map(self.preprocessor)
        for dataset in (per_clip, batched):
            x, y = next(iter(dataset))
            x = x["pixel_values"]
            self.assertEqual(tuple(x.shape), (4, 4, 16, 16, 3))
            self.assertAllClose(x, expected, atol=1e-6)
            np.testing.assert_array_equal(y.numpy(), labels)

    def test_classifier_preprocesses_raw_videos(self):
        classifier = VideoPrismVideoClassifier(
            tiny_backbone(), num_classes=2, preprocessor=self.preprocessor
        )
        videos = raw_videos(num_videos=4, num_frames=7, height=20, width=28)
        labels = np.array([0, 1, 0, 1])
        classifier.fit(videos, labels, batch_size=2, epochs=1, verbose=0)
        logits = classifier.predict(videos, verbose=0)
        self.assertEqual(logits.shape, (4, 2))
        # Preprocessing split off: `preprocessor=None` and a mapped dataset.
        classifier.preprocessor = None
        dataset = tf.data.Dataset.from_tensor_slices((videos, labels))
        dataset = dataset.map(self.preprocessor)
        self.assertAllClose(
            classifier.predict(dataset.batch(4), verbose=0), logits, atol=1e-6
        )
        history = classifier.fit(dataset.batch(2), epochs=1, verbose=0)
        self.assertTrue(np.isfinite(history.history["loss"][0]))

    def test_config_round_trip(self):
        config = self.preprocessor.get_config()
        restored = VideoPrismVideoClassifierPreprocessor.from_config({**config})
        self.assertEqual(restored.get_config(), config)
        self.assertIsInstance(
            restored.video_converter, VideoPrismVideoConverter
        )
        self.assertEqual(restored.video_converter.num_frames, 4)

    def test_preset_round_trip(self):
        classifier = VideoPrismVideoClassifier(
            tiny_backbone(), num_classes=2, preprocessor=self.preprocessor
        )
        preset = self.get_temp_dir()
        classifier.save_to_preset(preset)
        self.assertTrue(
            os.path.exists(os.path.join(preset, "video_converter.json"))
        )
        restored = VideoPrismVideoClassifierPreprocessor.from_preset(preset)
        self.assertEqual(restored.get_config(), self.preprocessor.get_config())
        task = VideoPrismVideoClassifier.from_preset(preset)
        self.assertEqual(
            task.preprocessor.get_config(), self.preprocessor.get_config()
        )
        inputs = self.preprocessor(raw_videos())
        self.assertAllClose(task(inputs), classifier(inputs))

    def test_backbone_preset_gets_a_converter_for_the_backbone(self):
        preset = self.get_temp_dir()
        tiny_backbone(num_frames=3, image_shape=(24, 32, 3)).save_to_preset(
            preset
        )
        self.assertFalse(
            os.path.exists(os.path.join(preset, "video_converter.json"))
        )
        preprocessor = VideoPrismVideoClassifierPreprocessor.from_preset(preset)
        converter = preprocessor.video_converter
        self.assertEqual(converter.num_frames, 3)
        self.assertEqual(tuple(converter.image_size), (24, 32))
        inputs = preprocessor(raw_videos(height=48, width=64))
        self.assertEqual(
            tuple(inputs["pixel_values"].shape), (2, 3, 24, 32, 3)
        )
        classifier = VideoPrismVideoClassifier.from_preset(
            preset, num_classes=5
        )
        self.assertEqual(classifier.output_dense.units, 5)
        converter = classifier.preprocessor.video_converter
        self.assertEqual(converter.num_frames, 3)
        self.assertEqual(tuple(converter.image_size), (24, 32))


class VideoPrismVideoClassifierPreprocessorHarnessTest(TestCase):
    """keras-hub's preprocessing checks: tf.data and Grain parity."""

    def test_preprocessing_layer_basics(self):
        videos = random_videos((2, 3, 20, 24, 3))
        output = self.run_preprocessing_layer_test(
            cls=VideoPrismVideoClassifierPreprocessor,
            init_kwargs={
                "video_converter": VideoPrismVideoConverter(**TINY_CONVERTER)
            },
            input_data=videos,
            return_output=True,
        )
        # The classifier's inputs: frames, and a mask of real frames.
        self.assertEqual(
            tuple(output["pixel_values"].shape), (2, 2, 16, 16, 3)
        )
        self.assertAllEqual(output["frame_padding_mask"], np.ones((2, 2)))
