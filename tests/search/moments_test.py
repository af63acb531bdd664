"""`merge_moments`: adjacent clips of a file become one moment."""

from keras_videoprism.search.moments import merge_moments
from tests.test_case import TestCase


def hit(path, start, end, score):
    return {"path": path, "start": start, "end": end, "score": score}


class MergeMomentsTest(TestCase):
    def test_adjacent_and_overlapping_clips_merge(self):
        moments = merge_moments(
            [
                hit("a", 1.0, 2.0, 0.5),
                hit("a", 0.0, 1.0, 0.2),
                hit("a", 1.5, 2.5, 0.9),
                hit("a", 4.0, 5.0, 0.3),
                hit("b", 1.0, 2.0, 0.6),
            ]
        )
        self.assertEqual(
            moments,
            [
                hit("a", 0.0, 2.5, 0.9),
                hit("b", 1.0, 2.0, 0.6),
                hit("a", 4.0, 5.0, 0.3),
            ],
        )

    def test_top_k_and_empty(self):
        hits = [hit("a", 0.0, 1.0, 0.1), hit("b", 0.0, 1.0, 0.2)]
        self.assertEqual(merge_moments(hits, top_k=1), [hit("b", 0, 1, 0.2)])
        self.assertEqual(merge_moments([]), [])
