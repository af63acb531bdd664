"""Decoding videos into clips, in worker processes.

`decode_clips()` cuts one file into the clips the index stores, decoded
already resized to the model's frame size so that workers ship small
arrays. `start_workers()` runs it in processes of the "spawn" context that
import only NumPy, PyAV and `keras_videoprism.utils.video_io`: never Keras
or a backend (this file is run by path in the worker, with the package's
heavy `__init__` skipped, and the parent's main script is not re-run).
"""

import contextlib
import math
import os
import sys
import warnings

_WORKER_RUN_NAME = "__keras_videoprism_decode_worker__"
# Modules a decoding worker must never import.
HEAVY_MODULES = ("keras", "tensorflow", "torch", "jax", "lancedb", "ray")


def windows_key(windows):
    """A string naming how files are cut, stored with each indexed file."""
    if windows.get("clip_seconds") is not None:
        return (
            f"seconds:{windows['clip_seconds']:g}/"
            f"{windows['stride_seconds']:g}/frames:{windows['num_frames']}"
        )
    return f"frames:{windows['clip_frames']}/{windows['stride_frames']}"


def _video_timing(path):
    """`(frame rate, duration in seconds or inf)` of the first video stream."""
    import av

    with av.open(path, metadata_errors="ignore") as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        rate = float(rate) if rate else None
        duration = math.inf
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / 1e6
    return rate, duration


def decode_clips(path, windows):
    """Cuts one video into the index's clips.

    Args:
        path: str. The video file.
        windows: dict. How to cut it: either `clip_frames` and
            `stride_frames` (in frames of the video), or `clip_seconds`,
            `stride_seconds` and `num_frames` (the video is resampled at
            `num_frames / clip_seconds` frames per second); and
            `image_size`, the `(height, width)` frames are resized to while
            decoding.

    Yields:
        `(clip_index, start, end, frames)`: times in seconds and `uint8`
        frames `(T, height, width, 3)`.

    Raises:
        ValueError: the file is not a readable video, or nothing decodes.
    """
    from keras_videoprism.utils.video_io import sliding_window_clips

    image_size = tuple(windows["image_size"])
    # Opened by `sliding_window_clips` first: a bad file fails there with
    # its clear message.
    if windows.get("clip_seconds") is not None:
        fps = windows["num_frames"] / windows["clip_seconds"]
        size = windows["num_frames"]
        stride = max(1, round(windows["stride_seconds"] * fps))
        clips = sliding_window_clips(
            path, size, stride, fps=fps, image_size=image_size
        )
        _, duration = _video_timing(path)
        rate = fps
    else:
        size, stride = windows["clip_frames"], windows["stride_frames"]
        clips = sliding_window_clips(path, size, stride, image_size=image_size)
        rate, duration = _video_timing(path)
        rate = rate or 1.0
    for number, (start_index, frames) in enumerate(clips):
        start = start_index / rate
        end = min((start_index + size) / rate, duration)
        yield number, start, max(end, start), frames


def estimate_clips(path, windows):
    """About how many clips `decode_clips` gives, from the metadata only.

    For the progress bar's total; 0 when the metadata says nothing.
    """
    try:
        rate, duration = _video_timing(path)
    except Exception:
        return 0
    if not math.isfinite(duration):
        return 0
    if windows.get("clip_seconds") is not None:
        stride = windows["stride_seconds"]
    else:
        stride = windows["stride_frames"] / (rate or 1.0)
    return max(1, math.ceil(duration / stride)) if stride > 0 else 0


def worker_loop(tasks, results):
    """A decoding worker: `(task_id, path, windows)` in, messages out.

    Sends `("clip", task_id, clip_index, start, end, frames)` for each
    clip, then `("done", task_id, num_clips, warnings)`, or
    `("error", task_id, message)`; on the `None` sentinel,
    `("exit", heavy modules imported)`.
    """
    while (task := tasks.get()) is not None:
        task_id, path, windows = task
        count = 0
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                for clip_index, start, end, frames in decode_clips(
                    path, windows
                ):
                    message = ("clip", task_id, clip_index, start, end, frames)
                    results.put(message)
                    count += 1
            if count == 0:
                raise ValueError(f"'{path}' gave no clip.")
            messages = [str(w.message) for w in caught]
            results.put(("done", task_id, count, messages))
        except Exception as error:
            message = " ".join(str(error).split()) or type(error).__name__
            results.put(("error", task_id, message))
    results.put(("exit", [m for m in HEAVY_MODULES if m in sys.modules]))


def _light_package():
    """Makes `keras_videoprism` importable without its heavy `__init__`."""
    if "keras_videoprism" in sys.modules:
        return
    import types

    package = types.ModuleType("keras_videoprism")
    package.__path__ = [os.path.dirname(os.path.dirname(__file__))]
    sys.modules["keras_videoprism"] = package


@contextlib.contextmanager
def _main_script_hidden():
    """Keeps spawned children from re-running the parent's main script.

    A spawned child imports the parent's `__main__` (e.g. the
    `keras-videoprism` script, which imports Keras) unless it has neither
    a module spec nor a file; both are hidden while the workers start.
    """
    main = sys.modules.get("__main__")
    saved = {}
    for name in ("__spec__", "__file__"):
        if main is not None and hasattr(main, name):
            saved[name] = getattr(main, name)
    try:
        if main is not None:
            main.__spec__ = None
            if "__file__" in saved:
                del main.__file__
        yield
    finally:
        for name, value in saved.items():
            setattr(main, name, value)


def start_workers(context, count, tasks, results):
    """Starts `count` decoding workers of a multiprocessing `context`.

    Returns:
        The started `Process` objects.
    """
    import runpy

    processes = []
    with _main_script_hidden():
        for _ in range(count):
            process = context.Process(
                target=runpy.run_path,
                args=(__file__,),
                kwargs={
                    "init_globals": {"_WORKER_QUEUES": (tasks, results)},
                    "run_name": _WORKER_RUN_NAME,
                },
                daemon=True,
            )
            process.start()
            processes.append(process)
    return processes


if __name__ == _WORKER_RUN_NAME:
    _light_package()
    worker_loop(*_WORKER_QUEUES)  # noqa: F821 (given by `start_workers`)
