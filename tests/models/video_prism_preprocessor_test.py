"""`VideoPrismPreprocessor`: outputs, tf.data, presets and errors."""

import json
import os

import keras
import numpy as np
import tensorflow as tf

from keras_videoprism.models.video_prism_video_converter import (
    VideoPrismVideoConverter,
)
from keras_videoprism.models.video_prism_backbone import VideoPrismBackbone
from keras_videoprism.models.video_prism_preprocessor import (
    VideoPrismPreprocessor,
)
from keras_videoprism.models.video_prism_preset_saver import save_preset
from keras_videoprism.models.video_prism_tokenizer import VideoPrismTokenizer
from tests.configs import PROMPTS as CANONICAL_PROMPTS
from tests.configs import TINY_CONVERTER
from tests.configs import TINY_VIDEO_TEXT
from tests.configs import random_videos
from tests.test_case import TestCase
from tests.test_case import official_path

T5STYLE_MODEL = str(official_path("videoprism_test_t5style.model"))
PROMPTS = ["A red square!", "a blue  CIRCLE", "green"]


def tiny_preprocessor(sequence_length=12, num_frames=2, image_size=(16, 16)):
    """The T5-style test tokenizer (vocabulary 256) and a small converter."""
    return VideoPrismPreprocessor(
        tokenizer=VideoPrismTokenizer(proto=T5STYLE_MODEL),
        video_converter=VideoPrismVideoConverter(
            num_frames=num_frames, image_size=image_size
        ),
        sequence_length=sequence_length,
    )


def as_numpy(outputs):
    return {k: keras.ops.convert_to_numpy(v) for k, v in outputs.items()}


class VideoPrismPreprocessorTest(TestCase):
    def setUp(self):
        super().setUp()
        self.preprocessor = tiny_preprocessor()
        self.videos = random_videos((3, 5, 24, 20, 3))

    def assertOutputsEqual(self, actual, expected):
        actual, expected = as_numpy(actual), as_numpy(expected)
        self.assertEqual(sorted(actual), sorted(expected))
        for key in expected:
            self.assertAllClose(actual[key], expected[key], atol=1e-6, msg=key)

    def expected(self, videos, prompts, sequence_length=12):
        """What the converter and the tokenizer give on their own."""
        outputs = {}
        if videos is not None:
            converter = self.preprocessor.video_converter
            outputs["pixel_values"] = converter(videos)
        if prompts is not None:
            tokenizer = self.preprocessor.tokenizer
            outputs.update(tokenizer.pack(prompts, sequence_length))
        return outputs

    def test_videos_and_prompts(self):
        outputs = self.preprocessor({"videos": self.videos, "prompts": PROMPTS})
        self.assertEqual(
            tuple(outputs["pixel_values"].shape), (3, 2, 16, 16, 3)
        )
        self.assertEqual(tuple(outputs["token_ids"].shape), (3, 12))
        self.assertEqual(
            keras.backend.standardize_dtype(outputs["token_ids"].dtype),
            "int32",
        )
        self.assertOutputsEqual(outputs, self.expected(self.videos, PROMPTS))
        mask = keras.ops.convert_to_numpy(outputs["padding_mask"])
        np.testing.assert_array_equal(
            mask.sum(axis=1),
            [len(x) for x in self.preprocessor.tokenizer(PROMPTS)],
        )

    def test_frames_are_sampled_and_scaled(self):
        # Frame k is uniformly 10 * k: 2 of 5 frames are kept, frames 0
        # and 2 as in the official demo, and scaled to [0, 1].
        videos = np.ones((1, 5, 24, 20, 3), "uint8")
        videos *= (10 * np.arange(5, dtype="uint8"))[:, None, None, None]
        pixels = self.preprocessor({"videos": videos})["pixel_values"]
        expected = np.ones((1, 2, 16, 16, 3), "float32")
        expected *= np.array([0.0, 20 / 255])[:, None, None, None]
        self.assertAllClose(pixels, expected, atol=1e-6)

    def test_either_input_alone(self):
        self.assertOutputsEqual(
            self.preprocessor({"prompts": PROMPTS}),
            self.expected(None, PROMPTS),
        )
        self.assertOutputsEqual(
            self.preprocessor({"videos": self.videos}),
            self.expected(self.videos, None),
        )

    def test_single_example(self):
        outputs = self.preprocessor(
            {"videos": self.videos[0], "prompts": PROMPTS[0]}
        )
        self.assertEqual(tuple(outputs["pixel_values"].shape), (2, 16, 16, 3))
        self.assertEqual(tuple(outputs["token_ids"].shape), (12,))

    def test_labels_pass_through(self):
        x, y, sample_weight = self.preprocessor(
            {"prompts": PROMPTS}, y=np.arange(3), sample_weight=np.ones(3)
        )
        self.assertEqual(sorted(x), ["padding_mask", "token_ids"])
        np.testing.assert_array_equal(y, np.arange(3))
        np.testing.assert_array_equal(sample_weight, np.ones(3))

    def test_sequence_length_override(self):
        outputs = self.preprocessor({"prompts": PROMPTS}, sequence_length=4)
        self.assertOutputsEqual(outputs, self.expected(None, PROMPTS, 4))

    def test_without_video_converter_videos_pass_through(self):
        preprocessor = VideoPrismPreprocessor(self.preprocessor.tokenizer)
        pixel_values = np.random.rand(1, 2, 16, 16, 3).astype("float32")
        outputs = preprocessor({"videos": pixel_values})
        np.testing.assert_array_equal(outputs["pixel_values"], pixel_values)

    def test_tf_data_batched_and_unbatched(self):
        x = {"videos": self.videos, "prompts": PROMPTS}
        expected = as_numpy(self.expected(self.videos, PROMPTS))
        batched = tf.data.Dataset.from_tensor_slices(x).batch(3)
        unbatched = tf.data.Dataset.from_tensor_slices(x)
        for ds in (
            batched.map(self.preprocessor),
            unbatched.map(self.preprocessor).batch(3),
        ):
            outputs = next(iter(ds))
            self.assertOutputsEqual(
                {k: v.numpy() for k, v in outputs.items()}, expected
            )

    def test_config_round_trip(self):
        config = json.dumps(
            keras.saving.serialize_keras_object(self.preprocessor)
        )
        revived = keras.saving.deserialize_keras_object(json.loads(config))
        self.assertIsInstance(revived, VideoPrismPreprocessor)
        self.assertEqual(
            json.dumps(keras.saving.serialize_keras_object(revived)), config
        )

    def save_preset(self):
        preset = self.get_temp_dir()
        backbone = VideoPrismBackbone(**TINY_VIDEO_TEXT)
        save_preset(preset, [backbone, self.preprocessor])
        return preset

    def test_preset_round_trip(self):
        preset = self.save_preset()
        for name in ("preprocessor.json", "tokenizer.json"):
            self.assertTrue(os.path.exists(os.path.join(preset, name)), name)
        x = {"videos": self.videos, "prompts": PROMPTS}
        restored = VideoPrismPreprocessor.from_preset(preset)
        self.assertEqual(restored.sequence_length, 12)
        self.assertEqual(restored.video_converter.num_frames, 2)
        self.assertOutputsEqual(restored(x), self.preprocessor(x))
        # Without `preprocessor.json`, the pieces load on their own.
        os.remove(os.path.join(preset, "preprocessor.json"))
        restored = VideoPrismPreprocessor.from_preset(preset)
        self.assertOutputsEqual(
            restored({"prompts": PROMPTS}, sequence_length=12),
            self.preprocessor({"prompts": PROMPTS}),
        )

    def test_preset_without_tokenizer_raises(self):
        preset = self.get_temp_dir()
        VideoPrismBackbone(**TINY_VIDEO_TEXT).save_to_preset(preset)
        with self.assertRaisesRegex(ValueError, "tokenizer.json.*save_to"):
            VideoPrismPreprocessor.from_preset(preset)

    def test_preset_without_tokenizer_asset_raises(self):
        preset = self.save_preset()
        asset = os.path.join(preset, "assets", "tokenizer", "vocabulary.spm")
        os.remove(asset)
        with self.assertRaisesRegex(ValueError, "vocabulary.spm.*tokenizer"):
            VideoPrismPreprocessor.from_preset(preset)

    def test_bad_inputs_raise(self):
        for x in (self.videos, {}, {"images": self.videos}, ["a", "b"]):
            with self.assertRaisesRegex(ValueError, '"videos".*"prompts"'):
                self.preprocessor(x)

    def test_bad_prompts_raise(self):
        with self.assertRaisesRegex(ValueError, "empty"):
            self.preprocessor({"prompts": []})
        with self.assertRaisesRegex(ValueError, "convert it to `str`"):
            self.preprocessor({"prompts": ["a cat", 3]})

    def test_bad_videos_raise(self):
        cases = {
            "shape": random_videos((2, 16, 16)),
            "3 channels": random_videos((1, 2, 16, 16, 1)),
            "RGBA|alpha": random_videos((1, 2, 16, 16, 4)),
            "no frames": random_videos((1, 0, 16, 16, 3)),
        }
        for pattern, videos in cases.items():
            with self.subTest(pattern):
                with self.assertRaisesRegex(ValueError, pattern):
                    self.preprocessor({"videos": videos})


class VideoPrismPreprocessorHarnessTest(TestCase):
    """keras-hub's preprocessor checks: tf.data, Grain, sequence_length."""

    def test_preprocessor_basics(self):
        self.init_kwargs = {
            "tokenizer": VideoPrismTokenizer(proto=T5STYLE_MODEL),
            "video_converter": VideoPrismVideoConverter(**TINY_CONVERTER),
            "sequence_length": 8,
        }
        output = self.run_preprocessor_test(
            cls=VideoPrismPreprocessor,
            init_kwargs=self.init_kwargs,
            input_data={
                "videos": random_videos((2, 3, 20, 24, 3)),
                "prompts": CANONICAL_PROMPTS[:2],
            },
        )
        self.assertEqual(tuple(output["pixel_values"].shape), (2, 2, 16, 16, 3))
