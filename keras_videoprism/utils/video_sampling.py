"""Which frames to sample, from the frames' own presentation times.

These functions pick frames from a sorted array of presentation times in
seconds (one per decodable frame, as `video_io` reads them from the file)
and know nothing of decoding. The frame shown at time `t` is the last frame
whose presentation time is at most `t`, give or take a tenth of a frame
interval that absorbs timestamp rounding (e.g. Matroska's milliseconds).
"""

import numpy as np

# Timestamps within this fraction of a frame interval count as equal.
TOLERANCE_IN_FRAMES = 0.1


def frame_interval(times, default):
    """The typical time between frames: the median gap, else `default`.

    Args:
        times: sorted 1D array of presentation times in seconds.
        default: float. The interval to use when `times` has fewer than 2
            entries, e.g. `1 / average_rate` from the container.

    Returns:
        A positive float, in seconds.

    Example:
    ```python
    frame_interval(np.array([0.0, 0.04, 0.08]), default=0.1)  # 0.04
    ```
    """
    gaps = np.diff(times)
    gaps = gaps[gaps > 0]
    return float(np.median(gaps)) if len(gaps) else float(default)


def is_constant_rate(times, interval):
    """Whether every gap between `times` is `interval`, within tolerance.

    Args:
        times: sorted 1D array of presentation times in seconds.
        interval: float. The frame interval, from `frame_interval`.

    Returns:
        bool. `True` for fewer than 3 frames.

    Example:
    ```python
    is_constant_rate(np.array([0.0, 0.04, 0.08]), 0.04)  # True
    is_constant_rate(np.array([0.0, 0.04, 0.2]), 0.04)  # False
    ```
    """
    gaps = np.diff(times)
    tolerance = TOLERANCE_IN_FRAMES * interval
    return bool(np.all(np.abs(gaps - interval) <= tolerance))


def clip_range(times, start, end, interval):
    """The frames that start in `[start, end)`, as a `range` of indices.

    Args:
        times: sorted 1D array of presentation times in seconds.
        start: float. The clip start in seconds.
        end: float or `None`. The clip end in seconds (excluded); `None`
            for the end of the video.
        interval: float. The frame interval, from `frame_interval`.

    Returns:
        A `range` of indices into `times`, possibly empty.

    Example:
    ```python
    times = np.arange(30) / 30
    clip_range(times, 0.2, 0.6, 1 / 30)  # range(6, 18)
    ```
    """
    tolerance = TOLERANCE_IN_FRAMES * interval
    first = int(np.searchsorted(times, start - tolerance, side="left"))
    stop = len(times)
    if end is not None:
        stop = int(np.searchsorted(times, end - tolerance, side="left"))
    return range(first, max(first, stop))


def uniform_indices(times, clip, num_frames, interval):
    """`num_frames` frames spread uniformly over the frames of `clip`.

    For a constant-rate clip this is exactly the official VideoPrism rule:
    of its `T` frames, `np.linspace(0, T, num_frames, endpoint=False)`
    (truncated) are kept, so a clip shorter than `num_frames` repeats
    frames. For a variable-rate clip, the same rule is applied to time:
    the frames shown at `first + k * duration / num_frames`, where the
    duration runs from the first frame's start to the last frame's end
    (its start plus the last gap between frames).

    Args:
        times: sorted 1D array of presentation times in seconds.
        clip: non-empty `range` of indices into `times`, from `clip_range`.
        num_frames: int. The number of frames to sample.
        interval: float. The frame interval, from `frame_interval`.

    Returns:
        A 1D int64 array of `num_frames` non-decreasing indices into
        `times`, all in `clip`.

    Example:
    ```python
    times = np.arange(30) / 30
    uniform_indices(times, range(30), 4, 1 / 30)  # [0, 7, 15, 22]
    ```
    """
    count = len(clip)
    clip_times = times[clip.start : clip.stop]
    if is_constant_rate(clip_times, interval):
        offsets = np.linspace(0, count, num_frames, endpoint=False)
        return clip.start + offsets.astype(np.int64)
    last_gap = clip_times[-1] - clip_times[-2]
    duration = clip_times[-1] + last_gap - clip_times[0]
    sample_times = clip_times[0] + np.arange(num_frames) * (
        duration / num_frames
    )
    return shown_at(times, sample_times, interval).clip(clip.start, clip[-1])


def rate_times(times, clip_start, end, fps, interval):
    """The sample times `clip_start + k / fps` before the clip's end.

    The clip ends at `end`, or at the end of the last frame (its start plus
    one frame interval), whichever is earlier.

    Args:
        times: sorted 1D array of presentation times in seconds.
        clip_start: float. The first sample time in seconds.
        end: float or `None`. The clip end in seconds (excluded).
        fps: float. The sampling rate in frames per second.
        interval: float. The frame interval, from `frame_interval`.

    Returns:
        A 1D float64 array of sample times, possibly empty.

    Example:
    ```python
    rate_times(np.arange(30) / 30, 0.5, 0.9, 10.0, 1 / 30)
    # [0.5, 0.6, 0.7, 0.8]
    ```
    """
    stop = times[-1] + interval
    if end is not None:
        stop = min(stop, end)
    tolerance = TOLERANCE_IN_FRAMES * interval
    count = int(np.ceil((stop - tolerance - clip_start) * fps))
    sample_times = clip_start + np.arange(max(count, 0)) / fps
    return sample_times[sample_times < stop - tolerance]


def shown_at(times, sample_times, interval):
    """The index of the frame on screen at each of `sample_times`.

    That is the last frame whose presentation time is at most the sample
    time (plus the tolerance); a time before the first frame gets the first
    frame.

    Args:
        times: sorted 1D array of presentation times in seconds.
        sample_times: 1D array of times in seconds.
        interval: float. The frame interval, from `frame_interval`.

    Returns:
        A 1D int64 array of indices into `times`.

    Example:
    ```python
    shown_at(np.array([0.0, 0.5, 2.0]), np.array([0.4, 1.0, 3.0]), 0.5)
    # [0, 1, 2]
    ```
    """
    tolerance = TOLERANCE_IN_FRAMES * interval
    after = np.searchsorted(times, sample_times + tolerance, side="right")
    return np.maximum(after - 1, 0).astype(np.int64)
