"""`VideoIndex`: end to end against independent computations."""

import os
import signal
import subprocess
import sys
import textwrap
import unittest.mock

import numpy as np
import pytest

from keras_videoprism.models.video_prism_video_text_retriever import (
    VideoPrismVideoTextRetriever,
)
from keras_videoprism.search import VideoIndex
from keras_videoprism.search.video_index import find_videos
from keras_videoprism.utils.video_io import load_video
from tests.search.search_fixtures import IMAGE_SIZE
from tests.search.search_fixtures import make_bad_files
from tests.search.search_fixtures import make_videos
from tests.search.search_fixtures import save_tiny_preset
from tests.test_case import TestCase

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def clip_frames(row):
    """A stored clip's frames, decoded independently from its times."""
    return load_video(
        row["path"],
        start_time=max(row["start"] - 1e-3, 0.0),
        end_time=row["end"] - 1e-3,
        num_frames=2,
        image_size=IMAGE_SIZE,
    )


class VideoIndexTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.folder = cls.get_class_temp_dir()
        cls.preset = save_tiny_preset(cls.folder, seed=0)
        cls.other_preset = save_tiny_preset(cls.folder, seed=1)
        cls.videos_dir = os.path.join(cls.folder, "videos")
        cls.videos = make_videos(os.path.join(cls.videos_dir, "sub"))
        cls.bad = make_bad_files(cls.videos_dir, cls.videos[0])
        cls.retriever = VideoPrismVideoTextRetriever.from_preset(cls.preset)

    def test_index_search_and_rerun(self):
        path = os.path.join(self.get_temp_dir(), "index")
        index = VideoIndex(path, preset=self.preset)
        summary = index.add(self.videos_dir, batch_size=4, progress=False)
        self.assertEqual(summary["indexed"], self.videos)
        self.assertEqual(
            sorted(summary["failed"]),
            sorted(os.path.abspath(p) for p in self.bad),
        )
        self.assertEqual(summary["worker_heavy_modules"], [])
        rows = index.clips()
        # 10 frames in 5 clips of 2, 7 frames in 4 (the last padded).
        self.assertEqual(summary["num_clips"], 9)
        self.assertEqual(
            [(r["path"], r["clip_index"]) for r in rows],
            [(self.videos[0], i) for i in range(5)]
            + [(self.videos[1], i) for i in range(4)],
        )
        self.assertAllClose(rows[-1]["start"], 0.24)
        self.assertAllClose(rows[-1]["end"], 0.28)
        # Each stored embedding is the model's embedding of that window.
        frames = np.stack([clip_frames(r) for r in rows])
        expected = self.retriever.embed_videos(frames)
        stored = np.array([r["vector"] for r in rows])
        self.assertAllClose(stored, expected, atol=1e-5)

        # Text search: moments best first, by scores computed here.
        query = self.retriever.embed_texts(["a red ball"])[0]
        scores = expected @ query
        results = index.search("a red ball", top_k=2)
        best = {}
        for row, score in zip(rows, scores):
            best[row["path"]] = max(best.get(row["path"], -2.0), score)
        order = sorted(best, key=lambda p: -best[p])
        self.assertEqual([r["path"] for r in results], order)
        self.assertAllClose(
            [r["score"] for r in results], [best[p] for p in order], atol=1e-5
        )
        # Every clip of a file matches and touches the next: one moment.
        moment = [r for r in results if r["path"] == self.videos[0]][0]
        self.assertAllClose((moment["start"], moment["end"]), (0.0, 0.4))

        # Search by a clip and by an embedding.
        clip = load_video(
            self.videos[1], num_frames=2, start_time=0.0, end_time=0.079,
            image_size=IMAGE_SIZE,
        )
        clip_query = self.retriever.embed_videos(clip[None])[0]
        by_clip = index.search_clip(self.videos[1], 0.0, 0.079, top_k=1)
        self.assertAllClose(
            by_clip[0]["score"], (expected @ clip_query).max(), atol=1e-5
        )
        self.assertEqual(index.search_embedding(clip_query, top_k=1), by_clip)

        # A rerun embeds nothing; a touched file is indexed again, alone.
        reopened = index
        with unittest.mock.patch.object(
            reopened.retriever,
            "embed_videos",
            wraps=reopened.retriever.embed_videos,
        ) as embed:
            summary = reopened.add(
                self.videos_dir, batch_size=4, progress=False
            )
            self.assertEqual(embed.call_count, 0)
            self.assertEqual(summary["skipped"], self.videos)
            os.utime(self.videos[1])
            summary = reopened.add(
                self.videos_dir, batch_size=4, progress=False
            )
            self.assertEqual(summary["indexed"], [self.videos[1]])
            self.assertEqual(summary["num_clips"], 4)
            self.assertEqual(embed.call_count, 1)
        again = reopened.clips()
        self.assertEqual(
            [(r["path"], r["clip_index"]) for r in again],
            [(r["path"], r["clip_index"]) for r in rows],
        )
        self.assertAllClose(
            np.array([r["vector"] for r in again]), stored, atol=1e-5
        )

        # Another preset is refused, naming both, before any model loads.
        with self.assertRaisesRegex(ValueError, "tiny_preset_0.*tiny_preset_1"):
            VideoIndex(path, preset=self.other_preset)

    def test_argument_checks(self):
        path = os.path.join(self.get_temp_dir(), "i")
        index = VideoIndex(path, preset=self.preset)
        with self.assertRaisesRegex(ValueError, "batch_size"):
            index.add(self.videos_dir, batch_size=0)
        with self.assertRaisesRegex(ValueError, "not both"):
            index.add(self.videos_dir, clip_frames=2, clip_seconds=1.0)
        with self.assertRaisesRegex(ValueError, "no video index"):
            index.search("a dog")
        with self.assertRaisesRegex(ValueError, "No video file"):
            find_videos(os.path.join(self.folder, "tiny_preset_0"))
        self.assertEqual(
            find_videos(os.path.join(self.videos_dir, "**", "*.mp4")),
            sorted([*self.videos, *(os.path.abspath(p) for p in self.bad)]),
        )

    # A fresh process loads Keras, the backends and the model: ~45 s on
    # two cores.
    @pytest.mark.large
    def test_killed_run_resumes_without_duplicates_or_gaps(self):
        path = os.path.join(self.get_temp_dir(), "index")
        script = textwrap.dedent(
            """
            import sys
            from keras_videoprism.search import VideoIndex, clip_store
            add_clips = clip_store.ClipStore.add_clips
            def traced(self, rows):
                add_clips(self, rows)
                print("WROTE", flush=True)
            clip_store.ClipStore.add_clips = traced
            VideoIndex(sys.argv[1], preset=sys.argv[2]).add(
                sys.argv[3], batch_size=1, workers=1, progress=False
            )
            print("FINISHED", flush=True)
            """
        )
        process = subprocess.Popen(
            [sys.executable, "-c", script, path, self.preset, *self.videos],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
            text=True,
        )
        lines = []
        try:
            for line in process.stdout:
                lines.append(line.strip())
                if lines.count("WROTE") == 3:
                    os.kill(process.pid, signal.SIGKILL)
                    break
        finally:
            process.wait(60)
        self.assertNotIn("FINISHED", lines)
        index = VideoIndex(path)
        self.assertEqual(len(index.clips()), 3)
        summary = index.add(self.videos, batch_size=1, progress=False)
        self.assertEqual(summary["indexed"], self.videos)
        rows = index.clips()
        self.assertEqual(
            [(r["path"], r["clip_index"]) for r in rows],
            [(self.videos[0], i) for i in range(5)]
            + [(self.videos[1], i) for i in range(4)],
        )
