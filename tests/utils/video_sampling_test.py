"""The frame choice of `keras_videoprism.utils.video_sampling`."""

import numpy as np

from keras_videoprism.utils import video_sampling
from tests.test_case import TestCase

# 30 frames at 30 fps, with Matroska's millisecond rounding.
CFR = np.round(np.arange(30) / 30, 3)
# 50 frames 40 ms apart, then 50 frames 160 ms apart (10 s in all).
VFR = np.concatenate([np.arange(50) * 0.04, 2.0 + np.arange(50) * 0.16])


class VideoSamplingTest(TestCase):
    def test_frame_interval(self):
        self.assertAlmostEqual(
            video_sampling.frame_interval(CFR, 1.0), 1 / 30, delta=1e-3
        )
        self.assertAlmostEqual(video_sampling.frame_interval(VFR, 1.0), 0.04)
        self.assertEqual(video_sampling.frame_interval(CFR[:1], 0.5), 0.5)

    def test_is_constant_rate(self):
        self.assertTrue(video_sampling.is_constant_rate(CFR, 1 / 30))
        self.assertFalse(video_sampling.is_constant_rate(VFR, 0.04))
        # One frame lost from a constant-rate stream makes a gap.
        self.assertFalse(
            video_sampling.is_constant_rate(np.delete(CFR, 10), 1 / 30)
        )

    def test_clip_range(self):
        self.assertEqual(
            video_sampling.clip_range(CFR, 0.2, 0.6, 1 / 30), range(6, 18)
        )
        self.assertEqual(
            video_sampling.clip_range(CFR, 0.5, None, 1 / 30), range(15, 30)
        )
        self.assertEqual(
            video_sampling.clip_range(CFR, 5.0, None, 1 / 30), range(30, 30)
        )

    def test_uniform_indices_constant_rate_is_the_official_rule(self):
        for num_frames in (1, 7, 11, 16, 45):
            indices = video_sampling.uniform_indices(
                CFR, range(30), num_frames, 1 / 30
            )
            expected = np.linspace(0, 30, num_frames, endpoint=False)
            self.assertEqual(indices.tolist(), expected.astype(int).tolist())
        indices = video_sampling.uniform_indices(CFR, range(6, 18), 4, 1 / 30)
        self.assertEqual(indices.tolist(), [6, 9, 12, 15])

    def test_uniform_indices_variable_rate_spans_the_duration(self):
        indices = video_sampling.uniform_indices(VFR, range(100), 5, 0.04)
        # Times 0, 2, 4, 6, 8 s: frame 0; frame 50 at 2.0 s; frame 62 at
        # 3.92 s; 75 at 6.0 s; 87 at 7.92 s.
        self.assertEqual(indices.tolist(), [0, 50, 62, 75, 87])

    def test_rate_times(self):
        np.testing.assert_allclose(
            video_sampling.rate_times(CFR, 0.5, 0.9, 10.0, 1 / 30),
            [0.5, 0.6, 0.7, 0.8],
        )
        # Up to the end of the last frame (1.0 s), not beyond.
        times = video_sampling.rate_times(CFR, 0.0, None, 4.0, 1 / 30)
        np.testing.assert_allclose(times, [0.0, 0.25, 0.5, 0.75])
        self.assertEqual(
            len(video_sampling.rate_times(CFR, 2.0, None, 4.0, 1 / 30)), 0
        )

    def test_shown_at(self):
        indices = video_sampling.shown_at(
            VFR, np.array([-1.0, 1.0, 2.5, 2.957, 100.0]), 0.04
        )
        # 2.957 s: frame 56 starts at 2.96 s, within the tolerance of 4 ms.
        self.assertEqual(indices.tolist(), [0, 25, 53, 56, 99])
