"""The argument checks of `VideoTextRetriever`'s methods, one by one."""

import pathlib
import re

import keras
import numpy as np

from keras_videoprism.models import video_text_retriever_inputs as checks
from tests.configs import random_videos
from tests.test_case import TestCase


class CheckPositiveTest(TestCase):
    def test_positive_numbers_pass(self):
        for value in (1, 0.5, np.float32(2.0), np.int64(3)):
            checks.check_positive(value, "temperature")

    def test_other_values_name_the_argument(self):
        for value in (0, -1, -0.5, True, "1", None, float("nan")):
            with self.assertRaisesRegex(
                ValueError, "`temperature` must be a positive number"
            ):
                checks.check_positive(value, "temperature")


class CheckTemplateTest(TestCase):
    def test_one_label_field_passes(self):
        for template in ("a video of {}.", "{}", "{{literal}} {}"):
            checks.check_template(template)

    def test_other_fields_are_refused_before_formatting(self):
        # Each would raise a raw IndexError, KeyError or ValueError in
        # `str.format`, or silently drop the label.
        for template in ("a video.", "{} and {}", "{} in {place}", "{0}",
                         "{label}", "a {", "{}}", "{:>10}x{}", None, 3):
            with self.assertRaisesRegex(ValueError, "exactly one `{}`"):
                checks.check_template(template)


class CheckStringsTest(TestCase):
    def test_returns_a_list(self):
        self.assertEqual(
            checks.check_strings(("cooking", "dancing"), "texts"),
            ["cooking", "dancing"],
        )

    def test_empty_or_not_a_list(self):
        for value in ([], (), "cooking", None, np.array(["cooking"])):
            with self.assertRaisesRegex(ValueError, "`texts` must be a non"):
                checks.check_strings(value, "texts")

    def test_names_the_item_that_is_not_a_string(self):
        with self.assertRaisesRegex(ValueError, "Received 3 of type int"):
            checks.check_strings(["cooking", 3], "labels")
        with self.assertRaisesRegex(ValueError, "of type bytes.*`str\\(\\)`"):
            checks.check_strings([b"cooking"], "labels")


class AsVideoListTest(TestCase):
    def test_one_path_or_one_video_is_a_list_of_one(self):
        path = pathlib.Path("clip.mp4")
        self.assertEqual(checks.as_video_list(path), [path])
        self.assertEqual(checks.as_video_list("clip.mp4"), ["clip.mp4"])
        video = random_videos((2, 8, 8, 3))
        (only,) = checks.as_video_list(video)
        self.assertIs(only, video)

    def test_batches_and_lists_keep_their_items(self):
        batch = random_videos((3, 2, 8, 8, 3))
        self.assertIs(checks.as_video_list(batch), batch)
        tensor = keras.ops.convert_to_tensor(batch)
        self.assertEqual(len(checks.as_video_list(tensor)), 3)
        items = ("a.mp4", batch[0])
        self.assertEqual(len(checks.as_video_list(items)), 2)

    def test_other_ranks_and_empty_inputs(self):
        for shape in ((8, 8, 3), (1, 2, 2, 8, 8, 3)):
            with self.assertRaisesRegex(
                ValueError, re.escape(f"Received an array of shape {shape}")
            ):
                checks.as_video_list(np.zeros(shape, "uint8"))
        with self.assertRaisesRegex(ValueError, "`videos` is empty"):
            checks.as_video_list([])
        with self.assertRaisesRegex(ValueError, "`videos` is empty"):
            checks.as_video_list(np.zeros((0, 2, 8, 8, 3), "uint8"))


class MapBatchesTest(TestCase):
    def test_slices_in_order_and_concatenates(self):
        seen = []

        def fn(items):
            seen.append(list(items))
            return np.asarray(items)[:, None] * 10

        result = checks.map_batches(fn, [1, 2, 3, 4, 5], batch_size=2)
        self.assertEqual(seen, [[1, 2], [3, 4], [5]])
        np.testing.assert_array_equal(result, [[10], [20], [30], [40], [50]])

    def test_batch_size_must_be_a_positive_int(self):
        for batch_size in (0, -2, 2.0, True, None):
            with self.assertRaisesRegex(ValueError, "`batch_size` must be"):
                checks.map_batches(np.asarray, [1, 2], batch_size)
