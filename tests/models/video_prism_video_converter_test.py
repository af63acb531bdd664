"""`VideoPrismVideoConverter`: sampling, scaling, resizing, serialization."""

import json
import os

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_videoprism.models.video_prism_video_converter import (
    VideoPrismVideoConverter,
)
from keras_videoprism.models.video_prism_backbone import VideoPrismBackbone
from keras_videoprism.utils.video_io import load_video
from keras_videoprism.utils.video_io import sample_video_path
from tests.configs import TINY_CONVERTER
from tests.configs import random_videos
from tests.test_case import TestCase


def indexed_video(num_frames, height=4, width=6):
    """A uint8 video whose frame `k` is filled with the value `k`."""
    values = np.arange(num_frames, dtype=np.uint8)
    return np.broadcast_to(
        values[:, None, None, None], (num_frames, height, width, 3)
    ).copy()


def official_indices(total, num_frames):
    """The official demos' rule, written out independently."""
    return [int(np.floor(k * total / num_frames)) for k in range(num_frames)]


def random_video(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def to_numpy(x):
    return (
        np.asarray(x) if isinstance(x, tf.Tensor) else ops.convert_to_numpy(x)
    )


class VideoPrismVideoConverterTest(TestCase):
    def test_temporal_sampling(self):
        for total in (1, 5, 8, 16, 30, 47):
            for num_frames in (1, 8, 16):
                converter = VideoPrismVideoConverter(
                    num_frames=num_frames, image_size=None
                )
                outputs = to_numpy(converter(indexed_video(total)))
                expected = official_indices(total, num_frames)
                # Frame `k` holds `k / 255`.
                sampled = np.round(outputs[:, 0, 0, 0] * 255).astype(int)
                self.assertEqual(sampled.tolist(), expected)
                self.assertAllClose(
                    outputs, indexed_video(total)[expected] / np.float32(255)
                )

    def test_scaling(self):
        converter = VideoPrismVideoConverter(num_frames=4, image_size=None)
        video = random_video((4, 5, 7, 3))
        scaled = video.astype(np.float32) / np.float32(255)
        # uint8 pixels are divided by 255 (XLA may multiply by 1 / 255
        # instead: one ulp apart), float pixels kept as they are.
        self.assertAllClose(converter(video), scaled)
        np.testing.assert_array_equal(to_numpy(converter(scaled)), scaled)
        # uint16 pixels by their own range, 65535: 257 * v is v / 255.
        self.assertAllClose(
            converter(video.astype("uint16") * np.uint16(257)), scaled
        )

    def test_pixel_contract_errors(self):
        converter = VideoPrismVideoConverter(num_frames=4, image_size=(8, 8))
        video = random_video((4, 16, 16, 3))
        # Integers without a pixel range are refused, not guessed at.
        for dtype in ("int32", "int64", "int8"):
            with self.assertRaisesRegex(TypeError, "has no pixel range"):
                converter(video.astype(dtype))
        with self.assertRaisesRegex(ValueError, r"divide them by 255"):
            converter(video.astype("float32"))
        broken = video.astype("float32") / 255
        broken[1, 2, 3, 0] = np.nan
        with self.assertRaisesRegex(ValueError, "NaN or infinite"):
            converter(broken)
        broken[1, 2, 3, 0] = np.inf
        with self.assertRaisesRegex(ValueError, "NaN or infinite"):
            converter(broken)
        with self.assertRaisesRegex(ValueError, "empty"):
            converter(random_video((0, 4, 16, 16, 3)))

    def test_overshooting_filters_are_clipped(self):
        # A hard edge upsampled bicubically rings past [0, 1]; the
        # converter's output stays in the range the models take.
        edge = np.zeros((1, 8, 8, 3), "uint8")
        edge[:, :, 4:] = 255
        converter = VideoPrismVideoConverter(
            num_frames=1, image_size=(32, 32), interpolation="bicubic"
        )
        raw = to_numpy(
            keras.ops.image.resize(
                edge.astype("float32") / 255,
                (32, 32),
                "bicubic",
                antialias=True,
            )
        )
        self.assertGreater(raw.max(), 1.01)
        self.assertLess(raw.min(), -0.01)
        outputs = to_numpy(converter(edge))
        self.assertAllClose(outputs, np.clip(raw, 0, 1), atol=1e-6)

    def test_scale_and_offset_apply_to_unit_range(self):
        converter = VideoPrismVideoConverter(
            num_frames=4, image_size=None, scale=2.0, offset=-1.0
        )
        video = random_video((4, 5, 7, 3))
        expected = video.astype(np.float32) / np.float32(255) * 2 - 1
        self.assertAllClose(converter(video), expected)

    def test_output_shape_and_dtype(self):
        converter = VideoPrismVideoConverter()
        outputs = converter(random_video((20, 24, 32, 3)))
        self.assertEqual(tuple(outputs.shape), (16, 288, 288, 3))
        self.assertEqual(
            keras.backend.standardize_dtype(outputs.dtype), "float32"
        )
        outputs = converter(random_video((2, 20, 24, 32, 3)))
        self.assertEqual(tuple(outputs.shape), (2, 16, 288, 288, 3))

    def test_resize_matches_keras_resize(self):
        converter = VideoPrismVideoConverter(num_frames=4, image_size=(12, 10))
        video = random_video((10, 40, 56, 3))
        indices = official_indices(10, 4)
        frames = video[indices].astype(np.float32) / np.float32(255)
        expected = ops.image.resize(
            frames, (12, 10), interpolation="bilinear", antialias=True
        )
        self.assertAllClose(converter(video), expected)

    def test_crop_to_aspect_ratio(self):
        video = random_video((3, 30, 40, 3))
        frames = video.astype(np.float32) / np.float32(255)
        cropping = VideoPrismVideoConverter(
            num_frames=3, image_size=(15, 15), crop_to_aspect_ratio=True
        )
        # The centre 30x30 square of each 30x40 frame, then resized.
        expected = ops.image.resize(
            frames[:, :, 5:35], (15, 15), antialias=True
        )
        self.assertAllClose(cropping(video), expected, atol=1e-5)
        stretching = VideoPrismVideoConverter(num_frames=3, image_size=(15, 15))
        stretched = ops.image.resize(frames, (15, 15), antialias=True)
        self.assertAllClose(stretching(video), stretched)

    def test_batched_and_list_inputs(self):
        converter = VideoPrismVideoConverter(num_frames=4, image_size=(8, 8))
        first = random_video((6, 16, 20, 3), seed=1)
        second = random_video((9, 16, 20, 3), seed=2)
        batched = converter(np.stack([first, second[:6]]))
        self.assertAllClose(batched[0], converter(first))
        self.assertAllClose(batched[1], converter(second[:6]))
        # A list of videos of different lengths and sizes.
        ragged = converter([first, second[:, :12]])
        self.assertEqual(tuple(ragged.shape), (2, 4, 8, 8, 3))
        self.assertAllClose(ragged[1], converter(second[:, :12]))

    def test_tf_data(self):
        converter = VideoPrismVideoConverter(num_frames=4, image_size=(12, 10))
        videos = random_video((3, 7, 20, 24, 3))
        expected = to_numpy(converter(videos))
        unbatched = tf.data.Dataset.from_tensor_slices(videos).map(converter)
        outputs = next(iter(unbatched.batch(3)))
        self.assertIsInstance(outputs, tf.Tensor)
        self.assertEqual(outputs.shape, (3, 4, 12, 10, 3))
        # TensorFlow's resize may round differently from the backend's.
        self.assertAllClose(outputs, expected, atol=1e-5)
        batched = tf.data.Dataset.from_tensor_slices(videos).batch(3)
        outputs = next(iter(batched.map(converter)))
        self.assertAllClose(outputs, expected, atol=1e-5)

    def test_tf_data_with_unknown_frame_count(self):
        converter = VideoPrismVideoConverter(num_frames=16, image_size=None)
        spec = tf.TensorSpec((None, None, None, 3), tf.uint8)
        for total in (7, 33):
            dataset = tf.data.Dataset.from_generator(
                lambda total=total: iter([indexed_video(total)]),
                output_signature=spec,
            ).map(converter)
            self.assertEqual(
                tuple(dataset.element_spec.shape), (16, None, None, 3)
            )
            outputs = np.asarray(next(iter(dataset)))
            sampled = np.round(outputs[:, 0, 0, 0] * 255).astype(int)
            self.assertEqual(sampled.tolist(), official_indices(total, 16))

    def test_config_round_trip(self):
        converter = VideoPrismVideoConverter(
            num_frames=8,
            image_size=(64, 48),
            scale=2.0,
            offset=-1.0,
            crop_to_aspect_ratio=True,
            interpolation="nearest",
            antialias=False,
            name="converter",
        )
        config = converter.get_config()
        for key, value in {
            "num_frames": 8,
            "image_size": (64, 48),
            "scale": 2.0,
            "offset": -1.0,
            "crop_to_aspect_ratio": True,
            "interpolation": "nearest",
            "antialias": False,
        }.items():
            self.assertEqual(config[key], value)
        restored = VideoPrismVideoConverter.from_config(config)
        self.assertEqual(restored.get_config(), config)
        # Through JSON, as in a saved preset.
        serialized = json.loads(
            json.dumps(keras.saving.serialize_keras_object(converter))
        )
        restored = keras.saving.deserialize_keras_object(serialized)
        self.assertIsInstance(restored, VideoPrismVideoConverter)
        self.assertEqual(restored.get_config(), config)

    def test_save_to_preset(self):
        converter = VideoPrismVideoConverter(num_frames=8, image_size=(32, 24))
        preset_dir = self.get_temp_dir()
        converter.save_to_preset(preset_dir)
        path = os.path.join(preset_dir, "video_converter.json")
        with open(path) as f:
            restored = keras.saving.deserialize_keras_object(json.load(f))
        self.assertIsInstance(restored, VideoPrismVideoConverter)
        self.assertEqual(restored.get_config(), converter.get_config())
        video = random_video((10, 20, 30, 3))
        self.assertAllClose(restored(video), converter(video))

    def test_backbone_class(self):
        self.assertIs(VideoPrismVideoConverter.backbone_cls, VideoPrismBackbone)

    def test_errors(self):
        converter = VideoPrismVideoConverter(num_frames=4, image_size=(8, 8))
        with self.assertRaisesRegex(ValueError, r"\(num_frames, height"):
            converter(random_video((16, 16, 3)))
        with self.assertRaisesRegex(ValueError, r"\(num_frames, height"):
            converter(random_video((1, 2, 4, 16, 16, 3)))
        for channels in (1, 4):
            with self.assertRaisesRegex(
                ValueError, "Convert the frames to RGB"
            ):
                converter(random_video((4, 16, 16, channels)))
        with self.assertRaisesRegex(ValueError, "no frames"):
            converter(random_video((0, 16, 16, 3)))
        for num_frames in (0, -1):
            with self.assertRaisesRegex(ValueError, "num_frames"):
                VideoPrismVideoConverter(num_frames=num_frames)

    def test_sample_video(self):
        frames = load_video(sample_video_path(), num_frames=16)
        pixel_values = to_numpy(VideoPrismVideoConverter()(frames))
        self.assertEqual(pixel_values.shape, (16, 288, 288, 3))
        self.assertGreaterEqual(pixel_values.min(), 0.0)
        self.assertLessEqual(pixel_values.max(), 1.0)
        # The converter's own sampling of all 48 frames picks the same 16.
        all_frames = load_video(sample_video_path())
        self.assertAllClose(
            VideoPrismVideoConverter()(all_frames), pixel_values
        )


class VideoPrismVideoConverterHarnessTest(TestCase):
    """keras-hub's preprocessing checks: tf.data and Grain parity."""

    def test_preprocessing_layer_basics(self):
        videos = random_videos((2, 3, 20, 24, 3))
        self.run_preprocessing_layer_test(
            cls=VideoPrismVideoConverter,
            init_kwargs=dict(TINY_CONVERTER),
            input_data=videos,
        )

    def test_preset(self):
        # The demo preset's converter: its backbone's 4 frames of 16x16.
        self.run_preset_test(
            cls=VideoPrismVideoConverter,
            preset="videoprism_demo_tiny",
            input_data=random_videos((1, 8, 20, 24, 3)),
            expected_output_shape=(1, 4, 16, 16, 3),
        )
