"""Peak memory and decoding speed of `keras_videoprism.utils.load_video`.

Makes its test clips with the `ffmpeg` binary of `imageio-ffmpeg` (a
`testsrc2` pattern, H.264 with B-frames), then prints, from one run:

* memory: the peak resident memory added by turning `--num-frames` frames
  of a large clip (4K by default) into `VideoPrismVideoConverter`
  `pixel_values` of 288x288, (a) decoding frames at full size then
  converting them, (b) resizing each frame while decoding
  (`load_video(..., image_size=(288, 288))`), against the floor of
  PyAV decoding the whole clip and keeping nothing (the decoder's own
  reference and threading buffers). Each variant runs in its own
  child process, whose peak (`VmHWM`) is reset after start-up, and the
  ratio b / a is printed;
* speed: frames decoded per second on a 1080p clip by PyAV without
  threads and with FFmpeg's frame and slice threading (`thread_type`
  `"NONE"` and `"AUTO"`, decoding only), and by `load_video` returning
  every frame as RGB and sampling 16 frames, interleaved over `--runs`
  rounds (medians, with ratios against the unthreaded decode). For
  `load_video` the rate counts the frames returned, so sampling 16 frames
  gets a low rate that still measures the whole call.

The machine may be shared: compare ratios from one run, not absolute
numbers across runs.

Usage:

```shell
KERAS_BACKEND=jax python benchmarks/decode_benchmark.py
python benchmarks/decode_benchmark.py --memory-size 640x360 \
    --speed-size 640x360 --speed-seconds 1 --runs 1
```
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def make_clip(path, size, seconds, rate=30):
    """A `testsrc2` H.264 clip (with B-frames), made by the ffmpeg CLI."""
    import imageio_ffmpeg

    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-nostdin", "-loglevel",
         "error", "-f", "lavfi", "-i",
         f"testsrc2=size={size}:rate={rate}:duration={seconds}",
         "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
         path],
        check=True,
    )


def _memory_child(path, variant, num_frames):
    """Runs in a child: one conversion, then prints its peak as JSON."""
    import numpy as np

    from keras_videoprism.models.video_prism_video_converter import (
        VideoPrismVideoConverter,
    )
    from keras_videoprism.utils.video_io import load_video

    converter = VideoPrismVideoConverter(num_frames=num_frames)
    # Warm the converter up, so that start-up costs are not counted.
    converter(np.zeros((num_frames, 300, 300, 3), np.uint8))
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # Resets the peak resident memory (VmHWM).
    base = _status_kib("VmRSS")
    if variant == "pyav_decode_only":
        _pyav_decode(path, "AUTO")
        frames = np.zeros((num_frames, 288, 288, 3), np.uint8)
    elif variant == "full_size":
        frames = load_video(path, num_frames=num_frames)
    else:
        frames = load_video(path, num_frames=num_frames, image_size=(288, 288))
    decode_peak = _status_kib("VmHWM")
    pixel_values = np.asarray(converter(frames))
    peak = _status_kib("VmHWM")
    print(
        json.dumps(
            {
                "added_peak_mib": (peak - base) / 1024,
                "decode_peak_mib": (decode_peak - base) / 1024,
                "frames_mib": frames.nbytes / 2**20,
                "output_mib": pixel_values.nbytes / 2**20,
                "shape": list(pixel_values.shape),
            }
        )
    )


def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"No {field} in /proc/self/status")


def measure_memory(path, num_frames):
    results = {}
    for variant in ("pyav_decode_only", "full_size", "resized_while_decoding"):
        child = subprocess.run(
            [sys.executable, __file__, "--child", variant, path,
             str(num_frames)],
            capture_output=True,
            text=True,
        )
        if child.returncode:
            print(f"{variant}: failed\n{child.stderr[-2000:]}")
            continue
        results[variant] = json.loads(child.stdout.strip().splitlines()[-1])
    return results


def _pyav_decode(path, thread_type):
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = thread_type
        return sum(1 for _ in container.decode(stream))


def measure_speed(path, runs):
    from keras_videoprism.utils.video_io import load_video

    variants = {
        "pyav_no_threads": lambda: _pyav_decode(path, "NONE"),
        "pyav_frame_threads": lambda: _pyav_decode(path, "AUTO"),
        "load_video_all_rgb": lambda: len(load_video(path)),
        "load_video_16_frames": lambda: len(load_video(path, num_frames=16)),
    }
    seconds = {name: [] for name in variants}
    counts = {}
    for _ in range(runs):
        for name, run in variants.items():
            start = time.perf_counter()
            counts[name] = run()
            seconds[name].append(time.perf_counter() - start)
    return {
        name: counts[name] / statistics.median(times)
        for name, times in seconds.items()
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-size", default="3840x2160")
    parser.add_argument("--memory-seconds", type=float, default=2.0)
    parser.add_argument("--num-frames", type=int, default=16)
    parser.add_argument("--speed-size", default="1920x1080")
    parser.add_argument("--speed-seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--skip-memory",
        action="store_true",
        help="Only measure speed (the memory children each import Keras).",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        memory = {}
        if not args.skip_memory:
            big = os.path.join(tmp_dir, "memory.mp4")
            make_clip(big, args.memory_size, args.memory_seconds)
            memory = measure_memory(big, args.num_frames)
        for variant, result in memory.items():
            print(
                f"memory {variant}: +{result['added_peak_mib']:.0f} MiB peak "
                f"(+{result['decode_peak_mib']:.0f} MiB in load_video) for "
                f"{args.num_frames} frames of {args.memory_size} to "
                f"{result['shape']} (decoded frames "
                f"{result['frames_mib']:.1f} MiB, output "
                f"{result['output_mib']:.1f} MiB)"
            )
        if len(memory) == 3:
            ratio = (
                memory["resized_while_decoding"]["added_peak_mib"]
                / memory["full_size"]["added_peak_mib"]
            )
            print(f"memory ratio resized / full size: {ratio:.3f}")
        clip = os.path.join(tmp_dir, "speed.mp4")
        make_clip(clip, args.speed_size, args.speed_seconds)
        speed = measure_speed(clip, args.runs)
        unthreaded = speed["pyav_no_threads"]
        for name, fps in speed.items():
            print(
                f"speed {name}: {fps:.1f} frames/s on {args.speed_size} "
                f"({fps / unthreaded:.2f}x pyav_no_threads)"
            )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _memory_child(sys.argv[3], sys.argv[2], int(sys.argv[4]))
    else:
        main()
