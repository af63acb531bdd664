"""Ray Data indexing: the same rows as the in-process pipeline."""

import os
import unittest.mock

import numpy as np

from keras_videoprism.search import VideoIndex
from keras_videoprism.search import ray_indexing
from tests.search.search_fixtures import make_bad_files
from tests.search.search_fixtures import make_videos
from tests.search.search_fixtures import save_tiny_preset
from tests.test_case import TestCase


class RayIndexingTest(TestCase):
    def tearDown(self):
        import ray

        if ray.is_initialized():
            ray.shutdown()
        super().tearDown()

    def test_same_rows_as_in_process_and_resumable(self):
        folder = self.get_temp_dir()
        preset = save_tiny_preset(folder)
        videos_dir = os.path.join(folder, "videos")
        videos = make_videos(videos_dir, lengths=(6, 3))
        not_video, _ = make_bad_files(videos_dir, videos[0])
        local = VideoIndex(os.path.join(folder, "local"), preset=preset)
        local_summary = local.add(
            videos_dir, batch_size=2, workers=1, progress=False
        )
        with_ray = VideoIndex(os.path.join(folder, "ray"), preset=preset)
        summary = with_ray.add(
            videos_dir, batch_size=2, use_ray=True, ray_num_cpus=2
        )
        print(
            f"Ray: {summary['seconds']:.1f} s, in process: "
            f"{local_summary['seconds']:.1f} s, for {summary['num_clips']} "
            "clips"
        )
        self.assertEqual(summary["indexed"], videos)
        self.assertIn(os.path.abspath(not_video), summary["failed"])
        expected, found = local.clips(), with_ray.clips()
        keys = ("path", "clip_index", "start", "end", "content_hash")
        self.assertEqual(
            [tuple(r[k] for k in keys) for r in found],
            [tuple(r[k] for k in keys) for r in expected],
        )
        self.assertAllClose(
            np.array([r["vector"] for r in found]),
            np.array([r["vector"] for r in expected]),
            atol=1e-5,
        )
        # A rerun skips the indexed files.
        summary = with_ray.add(videos_dir, batch_size=2, use_ray=True)
        self.assertEqual(summary["skipped"], videos)
        self.assertEqual(summary["num_clips"], 0)

    def test_missing_ray_names_the_extra(self):
        with unittest.mock.patch.dict("sys.modules", {"ray": None}):
            with self.assertRaisesRegex(
                ImportError, r"pip install keras-videoprism\[ray\]"
            ):
                ray_indexing.import_ray()
