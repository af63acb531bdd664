"""The pixel contract: integer pixels rescaled, bad floats refused."""

import keras
import numpy as np

from keras_videoprism.models import video_pixels
from tests.test_case import TestCase


class VideoPixelsTest(TestCase):
    def test_integer_pixels_are_rescaled_by_their_dtype_range(self):
        values = np.array([0, 51, 255], "uint8")
        self.assertAllClose(
            video_pixels.to_unit_range(values), [0.0, 0.2, 1.0], atol=0
        )
        wide = np.array([0, 13107, 65535], "uint16")
        self.assertAllClose(
            video_pixels.to_unit_range(wide), [0.0, 0.2, 1.0], atol=0
        )
        floats = np.array([0.0, 0.5], "float32")
        np.testing.assert_array_equal(video_pixels.to_unit_range(floats), floats)
        tensor = video_pixels.to_unit_range(keras.ops.convert_to_tensor(values))
        self.assertAllClose(tensor, [0.0, 0.2, 1.0])

    def test_integers_without_a_pixel_range_are_refused(self):
        for dtype in ("int8", "int32", "int64", "uint32", "bool"):
            with self.assertRaisesRegex(TypeError, f"dtype {dtype} has no"):
                video_pixels.pixel_range(dtype)
        self.assertIsNone(video_pixels.pixel_range("bfloat16"))

    def test_float_range(self):
        tolerance = video_pixels.RANGE_TOLERANCE
        inside = np.array([-tolerance, 1 + tolerance], "float64")
        video_pixels.check_pixel_range(inside)
        for values in ([0.0, 255.0], [-1.0, 1.0], [0.0, 1.0 + 2 * tolerance]):
            with self.assertRaisesRegex(ValueError, "must be RGB in"):
                video_pixels.check_pixel_range(np.array(values, "float32"))
        for bad in (np.nan, np.inf, -np.inf):
            with self.assertRaisesRegex(ValueError, "NaN or infinite"):
                video_pixels.check_pixel_range(
                    keras.ops.convert_to_tensor(np.array([0.5, bad]))
                )
        # uint8 pixels are in range by their dtype.
        video_pixels.check_pixel_range(np.array([0, 255], "uint8"))

    def test_symbolic_and_empty_values_are_not_read(self):
        symbolic = keras.KerasTensor((None, 2), "float32")
        self.assertIsNone(video_pixels.value_range(symbolic))
        video_pixels.check_pixel_range(symbolic)
        self.assertIsNone(video_pixels.value_range(np.zeros((0, 3))))
        self.assertEqual(
            video_pixels.value_range(np.array([0.25, 0.75])), (0.25, 0.75)
        )
