"""Video files as real tools write them, and their frames as FFmpeg sees them.

Test clips are made with PyAV and with the `ffmpeg` binary that
`imageio-ffmpeg` ships. Every frame spells its own index in two large gray
blocks (high and low base-16 digits) that survive compression, and has a
red top-left corner that shows which way it is turned. `ffmpeg_frames`
decodes a file with the ffmpeg command line, independently of the code
under test, and returns each frame's presentation time and index.
"""

import re
import subprocess

import av
import numpy as np

HEIGHT, WIDTH = 48, 64


def ffmpeg_exe():
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg(*args):
    """Runs the ffmpeg command line, raising on failure."""
    subprocess.run(
        [ffmpeg_exe(), "-y", "-nostdin", "-loglevel", "error", *args],
        check=True,
        capture_output=True,
    )


def draw_frame(index, height=HEIGHT, width=WIDTH):
    frame = np.empty((height, width, 3), np.uint8)
    frame[:, : width // 2] = (index // 16) * 16 + 8
    frame[:, width // 2 :] = (index % 16) * 16 + 8
    frame[: height // 4, : width // 4] = (255, 0, 0)
    return frame


def frame_index(frame):
    """The index a frame spells, read away from its red corner."""
    height, width = frame.shape[:2]
    high = frame[height // 4 :, : width // 2].astype(np.float64).mean()
    low = frame[height // 4 :, width // 2 :].astype(np.float64).mean()
    return int(round((high - 8) / 16) * 16 + round((low - 8) / 16))


def frame_indices(frames):
    return [frame_index(frame) for frame in frames]


def encode(path, num_frames, rate=25, codec="libx264", pts=None, options=None):
    """Writes a clip with PyAV; `pts` in milliseconds makes it VFR."""
    options = {"g": "25"} if options is None else options
    with av.open(path, "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = HEIGHT, WIDTH
        stream.pix_fmt = "yuv420p"
        stream.options = options
        if pts is not None:
            from fractions import Fraction

            stream.time_base = Fraction(1, 1000)
        for index in range(num_frames):
            frame = av.VideoFrame.from_ndarray(
                draw_frame(index), format="rgb24"
            )
            if pts is not None:
                frame.pts = pts[index]
                frame.time_base = stream.time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def ffmpeg_frames(path, autorotate=True, select=None):
    """Decodes `path` with the ffmpeg command line, every frame as is.

    Args:
        path: the video file.
        autorotate: bool. Whether ffmpeg turns frames upright.
        select: list of ints or `None`. When given, only the frames with
            these numbers (in display order) are returned.

    Returns:
        `(times, frames)`: the presentation times in seconds (from the
        stream start, as ffmpeg shifts them) and the `uint8` RGB frames,
        in display order, one per decoded frame (no frame-rate
        conversion).
    """
    rotate = [] if autorotate else ["-noautorotate"]
    filters = "showinfo"
    if select is not None:
        terms = "+".join(f"eq(n\\,{int(n)})" for n in sorted(set(select)))
        filters = f"select={terms},showinfo"
    result = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-hide_banner", "-nostats", *rotate,
         "-i", path, "-vf", filters, "-fps_mode", "passthrough",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True,
        check=True,
    )
    log = result.stderr.decode(errors="replace")
    times = [float(t) for t in re.findall(r"pts_time:\s*([-0-9.e+]+)", log)]
    width, height = map(int, re.search(r" s:(\d+)x(\d+)", log).groups())
    frames = np.frombuffer(result.stdout, np.uint8)
    return np.array(times), frames.reshape(-1, height, width, 3)


def official_indices(times, num_frames):
    """The sampling rule, applied to a reference decode's frame times.

    The official `linspace(0, T, n, endpoint=False)` rule over frame
    numbers when the frames are evenly spaced; else the frames on screen at
    `n` evenly spaced times over the decoded duration.
    """
    gaps = np.diff(times)
    interval = np.median(gaps)
    if np.all(np.abs(gaps - interval) <= 0.1 * interval):
        count = len(times)
        return np.linspace(0, count, num_frames, endpoint=False).astype(int)
    duration = times[-1] + gaps[-1] - times[0]
    wanted = times[0] + np.arange(num_frames) * duration / num_frames
    indices = np.searchsorted(times, wanted + 0.1 * interval, "right") - 1
    return np.maximum(indices, 0)


def ffmpeg_times(path):
    """The presentation times of every frame of `path`, by the ffmpeg CLI."""
    result = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-hide_banner", "-nostats", "-i", path,
         "-vf", "showinfo", "-fps_mode", "passthrough", "-f", "null", "-"],
        capture_output=True,
        check=True,
    )
    log = result.stderr.decode(errors="replace")
    return np.array(
        [float(t) for t in re.findall(r"pts_time:\s*([-0-9.e+]+)", log)]
    )
