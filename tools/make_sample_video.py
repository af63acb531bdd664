"""Writes the sample video bundled as `keras_videoprism/data/sample_video.mp4`.

Two seconds of 320x240 video at 24 frames per second (48 frames): a red
disc, a green square and a blue bar moving over a colour gradient. The
frames are drawn and converted to YUV with numpy, so the file is identical
from run to run. It is encoded with H.264 (`libx264`) when PyAV provides
it, else with MPEG-4 part 2.

Usage:
```shell
python tools/make_sample_video.py [--output PATH] [--overwrite]
```
"""

import argparse
import pathlib

import av
import numpy as np

from keras_videoprism.utils.atomic_files import atomic_file

WIDTH = 320
HEIGHT = 240
FPS = 24
NUM_FRAMES = 48
DEFAULT_OUTPUT = (
    pathlib.Path(__file__).resolve().parents[1]
    / "keras_videoprism"
    / "data"
    / "sample_video.mp4"
)


def background():
    """A gradient: red grows to the right, blue downwards."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    red = 40 + 120 * x / (WIDTH - 1)
    green = np.full_like(x, 60.0)
    blue = 40 + 120 * y / (HEIGHT - 1)
    return np.stack([red, green, blue], axis=-1).astype(np.uint8)


def draw_frame(base, index):
    """The frame at `index`: three shapes at positions linear in time."""
    frame = base.copy()
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    progress = index / (NUM_FRAMES - 1)
    # A red disc crossing left to right.
    cx, cy = 30 + progress * (WIDTH - 60), HEIGHT / 3
    frame[(x - cx) ** 2 + (y - cy) ** 2 <= 24**2] = (230, 40, 40)
    # A green square falling diagonally.
    left, top = int(20 + progress * 200), int(20 + progress * 150)
    frame[top : top + 50, left : left + 50] = (40, 220, 60)
    # A blue bar rising along the right edge.
    top = int(HEIGHT - 70 - progress * (HEIGHT - 90))
    frame[top : top + 60, WIDTH - 60 : WIDTH - 30] = (40, 70, 235)
    return frame


def to_yuv420p(rgb):
    """BT.601 limited-range YUV 4:2:0 planes, stacked as PyAV expects.

    Converting here rather than in FFmpeg's `swscale` keeps the encoder
    input, hence the file, identical from run to run: `swscale` picks SIMD
    paths by memory alignment and they round differently.
    """
    rgb = rgb.astype(np.float64)
    matrix = np.array(
        [
            [65.481, 128.553, 24.966],
            [-37.797, -74.203, 112.0],
            [112.0, -93.786, -18.214],
        ]
    )
    yuv = rgb @ matrix.T / 255 + np.array([16.0, 128.0, 128.0])
    luma = yuv[..., 0]
    chroma = yuv[..., 1:].reshape(HEIGHT // 2, 2, WIDTH // 2, 2, 2)
    chroma = chroma.mean(axis=(1, 3))
    planes = [
        luma,
        chroma[..., 0].reshape(HEIGHT // 4, WIDTH),
        chroma[..., 1].reshape(HEIGHT // 4, WIDTH),
    ]
    planes = np.concatenate(planes, axis=0)
    return np.clip(np.round(planes), 0, 255).astype(np.uint8)


def add_video_stream(container):
    if "libx264" in av.codecs_available:
        stream = container.add_stream("libx264", rate=FPS)
        # One thread keeps the bitstream identical from run to run.
        stream.options = {"crf": "20", "preset": "medium", "threads": "1"}
    else:
        stream = container.add_stream("mpeg4", rate=FPS)
        stream.options = {"qscale": "5"}
    stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    return stream


def write_sample_video(path, overwrite=False):
    """Encodes the sample video to `path` and returns the codec name.

    The file appears whole; an existing one is replaced only with
    `overwrite=True`.
    """
    base = background()
    container_format = pathlib.Path(path).suffix[1:] or "mp4"
    with atomic_file(path, overwrite) as temporary:
        with av.open(temporary, "w", format=container_format) as container:
            stream = add_video_stream(container)
            for index in range(NUM_FRAMES):
                pixels = to_yuv420p(draw_frame(base, index))
                frame = av.VideoFrame.from_ndarray(pixels, format="yuv420p")
                container.mux(stream.encode(frame))
            container.mux(stream.encode())
            codec = stream.codec_context.name
    return codec


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=pathlib.Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--overwrite", action="store_true", help="Replace an existing file."
    )
    args = parser.parse_args()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    codec = write_sample_video(args.output, args.overwrite)
    size = args.output.stat().st_size
    print(f"Wrote {args.output} ({codec}, {NUM_FRAMES} frames, {size} bytes)")


if __name__ == "__main__":
    main()
