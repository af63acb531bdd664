"""`clip_decoding`: clips as the index cuts them, in light workers."""

import multiprocessing
import os

import numpy as np

from keras_videoprism.search import clip_decoding
from keras_videoprism.utils.video_io import load_video
from tests.search.search_fixtures import IMAGE_SIZE
from tests.search.search_fixtures import make_bad_files
from tests.search.search_fixtures import make_videos
from tests.test_case import TestCase
from tests.utils.video_files import frame_indices

WINDOWS = {"clip_frames": 3, "stride_frames": 2, "image_size": [24, 32]}


class DecodeClipsTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.folder = cls.get_class_temp_dir()
        cls.videos = make_videos(cls.folder, lengths=(10,))

    def test_frame_windows_match_independent_decode(self):
        clips = list(clip_decoding.decode_clips(self.videos[0], WINDOWS))
        self.assertEqual([c[0] for c in clips], [0, 1, 2, 3, 4])
        self.assertAllClose([c[1] for c in clips], [0, 0.08, 0.16, 0.24, 0.32])
        self.assertAllClose([c[2] for c in clips], [0.12, 0.2, 0.28, 0.36, 0.4])
        # The frames: the video's own, resized while decoding; the last
        # window is padded with its last frame.
        self.assertEqual(frame_indices(clips[1][3]), [2, 3, 4])
        self.assertEqual(frame_indices(clips[4][3]), [8, 9, 9])
        expected = load_video(
            self.videos[0], start_time=0.079, end_time=0.199,
            image_size=(24, 32),
        )
        np.testing.assert_array_equal(clips[1][3], expected)

    def test_second_windows(self):
        windows = {
            "clip_seconds": 0.2, "stride_seconds": 0.2, "num_frames": 2,
            "image_size": list(IMAGE_SIZE),
        }
        clips = list(clip_decoding.decode_clips(self.videos[0], windows))
        self.assertAllClose([c[1] for c in clips], [0.0, 0.2])
        self.assertAllClose([c[2] for c in clips], [0.2, 0.4])
        self.assertEqual(clips[0][3].shape, (2, *IMAGE_SIZE, 3))
        self.assertEqual(frame_indices(clips[1][3])[0], 5)

    def test_spawned_workers_stay_light_and_report_bad_files(self):
        not_video, truncated = make_bad_files(self.folder, self.videos[0])
        context = multiprocessing.get_context("spawn")
        tasks, results = context.Queue(), context.Queue(maxsize=4)
        for task_id, path in enumerate([self.videos[0], not_video]):
            tasks.put((task_id, path, WINDOWS))
        tasks.put(None)
        (process,) = clip_decoding.start_workers(context, 1, tasks, results)
        messages = []
        while not messages or messages[-1][0] != "exit":
            messages.append(results.get(timeout=60))
        process.join(30)
        kinds = [m[0] for m in messages]
        self.assertEqual(kinds, ["clip"] * 5 + ["done", "error", "exit"])
        self.assertEqual(messages[5][2], 5)
        self.assertIn("notes.mp4", messages[6][2])
        # The worker imported no Keras, backend, LanceDB or Ray.
        self.assertEqual(messages[-1][1], [])
        self.assertTrue(os.path.exists(truncated))
