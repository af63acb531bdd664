"""`ClipStore`: the LanceDB tables of an index."""

import os

import numpy as np

from keras_videoprism.search.clip_store import ClipStore
from keras_videoprism.search.clip_store import read_meta
from keras_videoprism.search.indexing_pipeline import clip_row
from tests.test_case import TestCase

META = {"preset": "p", "preset_handle": "/p", "preset_id": "id0", "dim": 4}
PRINT = {"size": 1, "mtime_ns": 2, "content_hash": "h"}


def unit_vectors(count, seed=0):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(count, 4)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class ClipStoreTest(TestCase):
    def test_write_query_and_forget(self):
        path = os.path.join(self.get_temp_dir(), "index")
        store = ClipStore.open_or_create(path, META)
        self.assertEqual(read_meta(path)["preset_id"], "id0")
        vectors = unit_vectors(6)
        names = ["a'quote.mp4", "b.mp4"]
        store.add_clips(
            [
                clip_row(names[i % 2], PRINT, "id0", i, i, i + 1, v)
                for i, v in enumerate(vectors)
            ]
        )
        store.mark_done(names[0], PRINT, "frames:2/2", 3)
        self.assertEqual(list(store.indexed_files()), [names[0]])
        query = unit_vectors(1, seed=5)[0]
        scores = vectors @ query
        hits = store.nearest(query, 3)
        np.testing.assert_array_equal(
            [h["clip_index"] for h in hits], np.argsort(-scores)[:3]
        )
        self.assertAllClose(
            [h["score"] for h in hits], np.sort(scores)[::-1][:3], atol=1e-5
        )
        # Reopened: the same rows.
        reopened = ClipStore.open_or_create(path, META)
        self.assertEqual(reopened.num_clips(), 6)
        reopened.forget_file(names[0])
        self.assertEqual(reopened.indexed_files(), {})
        self.assertEqual(
            [r["clip_index"] for r in reopened.all_clips()], [1, 3, 5]
        )

    def test_refuses_another_preset_and_other_folders(self):
        folder = self.get_temp_dir()
        path = os.path.join(folder, "index")
        ClipStore.open_or_create(path, META)
        other = dict(META, preset="q", preset_id="id1")
        with self.assertRaisesRegex(ValueError, "'p', not 'q'.*overwrite"):
            ClipStore.open_or_create(path, other)
        # The same preset with overwrite: kept, not emptied.
        kept = ClipStore.open_or_create(path, META, overwrite=True)
        kept.mark_done("a.mp4", PRINT, "frames:2/2", 0)
        kept = ClipStore.open_or_create(path, META, overwrite=True)
        self.assertEqual(list(kept.indexed_files()), ["a.mp4"])
        replaced = ClipStore.open_or_create(path, other, overwrite=True)
        self.assertEqual(replaced.meta["preset_id"], "id1")
        self.assertEqual(replaced.indexed_files(), {})
        self.assertEqual(read_meta(path)["preset_id"], "id1")
        with open(os.path.join(folder, "mine.txt"), "w") as file:
            file.write("user data")
        with self.assertRaisesRegex(ValueError, "not a video index"):
            ClipStore.open_or_create(folder, META)
        self.assertTrue(os.path.exists(os.path.join(folder, "mine.txt")))
