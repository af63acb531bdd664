"""The in-process pipeline: workers decode, this process embeds and writes."""

import os

import numpy as np

from keras_videoprism.search import fingerprints
from keras_videoprism.search.clip_store import ClipStore
from keras_videoprism.search.indexing_pipeline import index_files
from tests.search.search_fixtures import make_bad_files
from tests.search.search_fixtures import make_videos
from tests.test_case import TestCase
from tests.utils.video_files import frame_indices

WINDOWS = {"clip_frames": 2, "stride_frames": 3, "image_size": [48, 64]}
META = {"preset": "p", "preset_handle": "/p", "preset_id": "id", "dim": 2}


def fake_embed(clips):
    """A stand-in model: each clip's first frame index, on the circle."""
    angles = np.array([frame_indices(clip)[0] for clip in clips], float)
    return np.stack([np.cos(angles), np.sin(angles)], 1).astype(np.float32)


class IndexFilesTest(TestCase):
    def test_clips_written_files_recorded_bad_files_skipped(self):
        for context in ("spawn", "forkserver"):
            with self.subTest(context=context):
                folder = self.get_temp_dir()
                videos = make_videos(folder, lengths=(10, 4))
                bad = make_bad_files(folder, videos[0])
                store = ClipStore.open_or_create(
                    os.path.join(folder, "index"), META
                )
                paths = [*videos, *bad]
                jobs = [(p, fingerprints.file_fingerprint(p)) for p in paths]
                summary = index_files(
                    jobs, WINDOWS, fake_embed, store, workers=2,
                    batch_size=3, progress=False, context=context,
                )
                self.assertEqual(summary["indexed"], videos)
                self.assertEqual(sorted(summary["failed"]), sorted(bad))
                self.assertEqual(summary["worker_heavy_modules"], [])
                rows = store.all_clips()
                # Clips start every 3 frames: 0, 3, 6, 9 and 0, 3.
                starts = [0, 3, 6, 9]
                self.assertEqual(
                    [(r["path"], r["clip_index"]) for r in rows],
                    [(videos[0], i) for i in range(4)]
                    + [(videos[1], i) for i in range(2)],
                )
                self.assertAllClose(
                    [r["start"] for r in rows],
                    [s / 25 for s in starts] + [0.0, 0.12],
                )
                self.assertAllClose(
                    [r["vector"] for r in rows],
                    fake_embed_from_starts(starts + [0, 3]),
                )
                done = store.indexed_files()
                self.assertEqual(sorted(done), videos)
                self.assertEqual(done[videos[0]]["num_clips"], 4)
                self.assertEqual(
                    done[videos[0]]["content_hash"], jobs[0][1]["content_hash"]
                )


def fake_embed_from_starts(starts):
    angles = np.array(starts, float)
    return np.stack([np.cos(angles), np.sin(angles)], 1)
