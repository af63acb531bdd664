"""`read_video`: file paths decoded to the converter's frame count."""

import os
import pathlib

import numpy as np

from keras_videoprism.models.video_files import read_video
from keras_videoprism.models.video_prism_video_converter import (
    VideoPrismVideoConverter,
)
from tests.configs import random_videos
from tests.test_case import TestCase
from tests.utils import video_files


class ReadVideoTest(TestCase):
    def test_arrays_pass_through_unchanged(self):
        video = random_videos((3, 8, 8, 3))
        self.assertIs(read_video(video, None), video)
        converter = VideoPrismVideoConverter(num_frames=2, image_size=(8, 8))
        self.assertIs(read_video(video, converter), video)

    def test_a_path_without_a_converter(self):
        with self.assertRaisesRegex(ValueError, "video converter.*`prepro"):
            read_video("clip.mp4", None)

    def test_decodes_the_converters_frame_count(self):
        """The frames the official sampling rule picks, as ffmpeg sees them."""
        path = os.path.join(self.get_temp_dir(), "clip.mp4")
        video_files.encode(path, num_frames=10)
        converter = VideoPrismVideoConverter(num_frames=4, image_size=(8, 8))
        times, reference = video_files.ffmpeg_frames(path)
        expected = video_files.official_indices(times, 4)
        for given in (path, pathlib.Path(path)):
            frames = read_video(given, converter)
            self.assertEqual(frames.dtype, np.uint8)
            # Full-size frames: resizing is the converter's job.
            self.assertEqual(
                frames.shape, (4, video_files.HEIGHT, video_files.WIDTH, 3)
            )
            self.assertEqual(
                video_files.frame_indices(frames),
                video_files.frame_indices(reference[expected]),
            )
