"""Decoding and frame sampling of `keras_videoprism.utils.video_io`."""

import importlib.util
import os
import sys
import unittest.mock

import av
import numpy as np

from keras_videoprism.utils import video_io
from keras_videoprism.utils.video_io import load_video
from keras_videoprism.utils.video_io import sample_video_path
from keras_videoprism.utils.video_io import sliding_window_clips
from tests.test_case import TestCase

# The test clips: 30 frames at 30 fps of a red square moving right by
# `STEP` pixels a frame over a flat blue background, so that a decoded
# frame's index can be read off the square's position.
RATE = 30
NUM_FRAMES = 30
HEIGHT, WIDTH = 64, 112
STEP, SIZE = 3, 12
SQUARE_ROWS = slice(16, 40)
FLAT_ROWS = slice(48, 64)
BACKGROUND = (30, 90, 200)
SQUARE = (230, 40, 30)
# 12 seconds of a 64x32 clip whose two halves spell the frame index in
# base 20: long enough to seek over.
LONG_RATE, LONG_NUM_FRAMES = 30, 360


def draw_frame(index):
    frame = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    frame[:] = BACKGROUND
    left = index * STEP
    frame[SQUARE_ROWS, left : left + SIZE] = SQUARE
    return frame


def draw_long_frame(index):
    frame = np.empty((32, 64, 3), np.uint8)
    frame[:, :32] = (index // 20) * 12 + 6
    frame[:, 32:] = (index % 20) * 12 + 6
    return frame


def frame_index(frame):
    """The index of a test clip frame, from its square's centre column."""
    red = frame[SQUARE_ROWS, :, 0].astype(np.float64) > 128
    columns = np.nonzero(red.any(axis=0))[0]
    centre = columns.mean() - (SIZE - 1) / 2
    return int(round(centre / STEP))


def frame_indices(frames):
    return [frame_index(frame) for frame in frames]


def long_frame_index(frame):
    high = round((frame[:, :32].mean() - 6) / 12)
    low = round((frame[:, 32:].mean() - 6) / 12)
    return int(high * 20 + low)


def encode(path, codec, frames, rate, options):
    """Encodes RGB `frames`; MPEG-4 gets a bit rate high enough to be clean."""
    with av.open(path, "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = options
        if codec == "mpeg4":
            stream.bit_rate = 2_000_000
        for pixels in frames:
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


class VideoFixtures(TestCase):
    """Encodes the test clips once per class, in a temporary folder."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp_dir = cls.get_class_temp_dir()
        frames = [draw_frame(i) for i in range(NUM_FRAMES)]
        h264 = {"g": "10", "crf": "18"}
        cls.clips = {
            # H.264 with B-frames: decode order differs from display order.
            "h264.mp4": ("libx264", h264),
            "mpeg4.mp4": ("mpeg4", {"g": "12"}),
            # Matroska stores no frame count: exercises the counting pass.
            "h264.mkv": ("libx264", h264),
        }
        for name, (codec, options) in cls.clips.items():
            encode(cls.path(name), codec, frames, RATE, options)
        long_frames = [draw_long_frame(i) for i in range(LONG_NUM_FRAMES)]
        encode(cls.path("long.mp4"), "libx264", long_frames, LONG_RATE, h264)

    @classmethod
    def path(cls, name):
        return os.path.join(cls.tmp_dir, name)

    def clip_paths(self):
        return [self.path(name) for name in self.clips]


class LoadVideoTest(VideoFixtures):
    def test_all_frames_in_order(self):
        for path in self.clip_paths():
            with self.subTest(path=os.path.basename(path)):
                frames = load_video(path)
                self.assertEqual(frames.shape, (NUM_FRAMES, HEIGHT, WIDTH, 3))
                self.assertEqual(frames.dtype, np.uint8)
                self.assertEqual(frame_indices(frames), list(range(NUM_FRAMES)))

    def test_pixel_content(self):
        for path in self.clip_paths():
            with self.subTest(path=os.path.basename(path)):
                frame = load_video(path)[12]
                expected = draw_frame(12).astype(np.float64)
                flat_error = np.abs(frame[FLAT_ROWS] - expected[FLAT_ROWS])
                self.assertLess(flat_error.mean(), 8)
                # The inside of the square, away from its chroma-blurred edges.
                inside = frame[20:36, 12 * STEP + 2 : 12 * STEP + SIZE - 2]
                square_error = np.abs(inside - np.array(SQUARE))
                self.assertLess(square_error.mean(), 8)

    def test_uniform_sampling(self):
        for path in self.clip_paths():
            with self.subTest(path=os.path.basename(path)):
                for num_frames in (1, 7, 8, NUM_FRAMES, 45):
                    frames = load_video(path, num_frames=num_frames)
                    expected = np.linspace(
                        0, NUM_FRAMES, num_frames, endpoint=False
                    ).astype(int)
                    self.assertEqual(len(frames), num_frames)
                    self.assertEqual(frame_indices(frames), expected.tolist())

    def test_fps_sampling(self):
        for path in self.clip_paths():
            with self.subTest(path=os.path.basename(path)):
                for fps in (7, 10, 30, 45):
                    frames = load_video(path, fps=fps)
                    # One frame per 1 / fps seconds of the 1 second clip, each
                    # the frame on screen at that time.
                    times = np.arange(fps) / fps
                    expected = np.floor(times * RATE + 1e-6).astype(int)
                    self.assertEqual(frame_indices(frames), expected.tolist())

    def test_fps_sampling_of_a_clip(self):
        for path in self.clip_paths():
            with self.subTest(path=os.path.basename(path)):
                frames = load_video(path, fps=10, start_time=0.5, end_time=0.9)
                self.assertEqual(frame_indices(frames), [15, 18, 21, 24])

    def test_start_time_seeks(self):
        for path in self.clip_paths():
            with self.subTest(path=os.path.basename(path)):
                frames = load_video(path, num_frames=5, start_time=0.5)
                self.assertEqual(frame_indices(frames), [15, 18, 21, 24, 27])

    def test_clip_between_start_and_end_time(self):
        for path in self.clip_paths():
            with self.subTest(path=os.path.basename(path)):
                frames = load_video(path, start_time=0.2, end_time=0.6)
                self.assertEqual(frame_indices(frames), list(range(6, 18)))
                frames = load_video(
                    path, num_frames=4, start_time=0.2, end_time=0.6
                )
                self.assertEqual(frame_indices(frames), [6, 9, 12, 15])

    def load_counting_decoded(self, path, **kwargs):
        """`load_video` that also returns how many frames it decoded."""
        decoded = []
        decode = video_io._VideoReader.decode

        def counting_decode(reader, start=0.0):
            for time, frame in decode(reader, start):
                decoded.append(time)
                yield time, frame

        with unittest.mock.patch.object(
            video_io._VideoReader, "decode", counting_decode
        ):
            frames = load_video(path, **kwargs)
        return [long_frame_index(f) for f in frames], len(decoded)

    def test_seeks_over_long_gaps(self):
        path = self.path("long.mp4")
        self.assertEqual(
            self.load_counting_decoded(path)[0], list(range(LONG_NUM_FRAMES))
        )
        # Frames 0 and 180 (6 s apart), 0 and 300 (10 s apart): a few key
        # frame intervals are decoded, not the 360 frames.
        indices, decoded = self.load_counting_decoded(path, num_frames=2)
        self.assertEqual(indices, [0, 180])
        self.assertLess(decoded, 40)
        indices, decoded = self.load_counting_decoded(path, fps=0.1)
        self.assertEqual(indices, [0, 300])
        self.assertLess(decoded, 40)

    def test_seeks_to_start_time(self):
        path = self.path("long.mp4")
        indices, decoded = self.load_counting_decoded(
            path, num_frames=2, start_time=11.0
        )
        self.assertEqual(indices, [330, 345])
        self.assertLess(decoded, 40)

    def test_stops_after_last_needed_frame(self):
        path = self.path("long.mp4")
        indices, decoded = self.load_counting_decoded(
            path, num_frames=3, end_time=1.0
        )
        self.assertEqual(indices, [0, 10, 20])
        self.assertLess(decoded, 40)

    def test_sample_video(self):
        self.assertLess(os.path.getsize(sample_video_path()), 300_000)
        frames = load_video(sample_video_path())
        self.assertEqual(frames.shape, (48, 240, 320, 3))
        frames = load_video(sample_video_path(), num_frames=8)
        self.assertEqual(frames.shape, (8, 240, 320, 3))

    def test_errors(self):
        path = self.path("h264.mp4")
        missing = self.path("missing.mp4")
        with self.assertRaisesRegex(FileNotFoundError, "missing.mp4"):
            load_video(missing)
        corrupt = self.path("corrupt.mp4")
        with open(corrupt, "wb") as f:
            f.write(np.random.default_rng(0).bytes(4096))
        with self.assertRaisesRegex(ValueError, "Could not decode"):
            load_video(corrupt)
        with self.assertRaisesRegex(ValueError, "num_frames"):
            load_video(path, num_frames=0)
        for fps in (0, -2.0):
            with self.assertRaisesRegex(ValueError, "fps"):
                load_video(path, fps=fps)
        with self.assertRaisesRegex(ValueError, "only one of"):
            load_video(path, num_frames=4, fps=2)
        with self.assertRaisesRegex(ValueError, "no frames between"):
            load_video(path, num_frames=4, start_time=5.0)
        with self.assertRaisesRegex(ValueError, "end_time"):
            load_video(path, start_time=0.5, end_time=0.2)

    def test_no_video_stream(self):
        path = self.path("audio.wav")
        with av.open(path, "w") as container:
            stream = container.add_stream("pcm_s16le", rate=8000)
            samples = np.zeros((1, 800), np.int16)
            frame = av.AudioFrame.from_ndarray(samples, layout="mono")
            frame.sample_rate = 8000
            container.mux(stream.encode(frame))
            container.mux(stream.encode())
        with self.assertRaisesRegex(ValueError, "no video stream"):
            load_video(path)


class LazyImportTest(TestCase):
    def test_importing_video_io_does_not_import_av(self):
        # PyAV loads FFmpeg's libraries: only decoding should pay for that.
        # A fresh copy of the module is run with PyAV unloaded (then
        # restored), in this process: a new interpreter would take seconds.
        saved = {
            name: sys.modules.pop(name)
            for name in list(sys.modules)
            if name == "av" or name.startswith("av.")
        }
        try:
            spec = importlib.util.find_spec(video_io.__name__)
            spec.loader.exec_module(importlib.util.module_from_spec(spec))
            self.assertNotIn("av", sys.modules)
        finally:
            sys.modules.update(saved)


class SlidingWindowClipsTest(VideoFixtures):
    def windows(self, path, *args, **kwargs):
        windows = list(sliding_window_clips(path, *args, **kwargs))
        for _, clip in windows:
            self.assertEqual(clip.shape[1:], (HEIGHT, WIDTH, 3))
            self.assertEqual(clip.dtype, np.uint8)
        return [(start, frame_indices(clip)) for start, clip in windows]

    def test_adjacent_windows_pad_the_last(self):
        for path in self.clip_paths():
            with self.subTest(path=os.path.basename(path)):
                windows = self.windows(path, 8)
                self.assertEqual(
                    [start for start, _ in windows], [0, 8, 16, 24]
                )
                self.assertEqual(windows[1][1], list(range(8, 16)))
                # Frames 24 to 29, then the last frame repeated.
                self.assertEqual(
                    windows[3][1], [24, 25, 26, 27, 28, 29, 29, 29]
                )

    def test_overlapping_windows(self):
        for path in self.clip_paths():
            with self.subTest(path=os.path.basename(path)):
                windows = self.windows(path, 8, stride_frames=5)
                starts = [start for start, _ in windows]
                self.assertEqual(starts, [0, 5, 10, 15, 20, 25])
                for start, indices in windows[:-1]:
                    self.assertEqual(indices, list(range(start, start + 8)))
                self.assertEqual(
                    windows[-1][1], [25, 26, 27, 28, 29, 29, 29, 29]
                )
                windows = self.windows(
                    path, 8, stride_frames=5, drop_remainder=True
                )
                self.assertEqual([start for start, _ in windows], starts[:-1])

    def test_windows_with_gaps(self):
        for path in self.clip_paths():
            with self.subTest(path=os.path.basename(path)):
                windows = self.windows(path, 4, stride_frames=12)
                self.assertEqual(
                    windows,
                    [
                        (0, [0, 1, 2, 3]),
                        (12, [12, 13, 14, 15]),
                        (24, [24, 25, 26, 27]),
                    ],
                )

    def test_windows_of_a_resampled_video(self):
        for path in self.clip_paths():
            with self.subTest(path=os.path.basename(path)):
                windows = self.windows(path, 4, fps=10)
                self.assertEqual(
                    windows,
                    [
                        (0, [0, 3, 6, 9]),
                        (4, [12, 15, 18, 21]),
                        (8, [24, 27, 27, 27]),
                    ],
                )

    def test_video_shorter_than_a_window(self):
        windows = self.windows(self.path("h264.mp4"), 32)
        self.assertEqual(windows, [(0, list(range(30)) + [29, 29])])

    def test_errors(self):
        with self.assertRaisesRegex(FileNotFoundError, "missing.mp4"):
            sliding_window_clips(self.path("missing.mp4"), 8)
        path = self.path("h264.mp4")
        with self.assertRaisesRegex(ValueError, "clip_num_frames"):
            sliding_window_clips(path, 0)
        with self.assertRaisesRegex(ValueError, "stride_frames"):
            sliding_window_clips(path, 8, stride_frames=0)
        with self.assertRaisesRegex(ValueError, "fps"):
            sliding_window_clips(path, 8, fps=-1)
