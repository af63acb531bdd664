"""End-to-end indexing speed of `VideoIndex.add` against the model alone.

Makes `--videos` test clips (a `testsrc2` pattern, H.264, by the `ffmpeg`
binary of `imageio-ffmpeg`), then prints, from one run:

* `model_only`: clips/s of `VideoIndex.embed_clips` on ready-made clips of
  the model's shape (batches of `--batch_size`, after a warm-up batch);
* `end_to_end`: clips/s of `VideoIndex.add` on the clips (decoding in
  `--workers` processes, embedding, writing to LanceDB), model load
  excluded (the model is loaded and warmed up first);
* their ratio: how close the pipeline comes to keeping the model busy.

The machine may be shared: compare the ratio from one run.

Usage:

```shell
KERAS_BACKEND=jax python benchmarks/index_benchmark.py \\
    --preset videoprism_lvt_public_v1_base --videos 4 --seconds 8
```
"""

import argparse
import os
import subprocess
import tempfile
import time

import numpy as np


def make_clip(path, size, seconds, rate=24):
    import imageio_ffmpeg

    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-nostdin", "-loglevel",
         "error", "-f", "lavfi", "-i",
         f"testsrc2=size={size}:rate={rate}:duration={seconds}",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", path],
        check=True,
    )


def main(argv=None):
    from keras_videoprism.search import SEARCH_PRESET
    from keras_videoprism.search import VideoIndex

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default=SEARCH_PRESET)
    parser.add_argument("--videos", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        videos = os.path.join(folder, "videos")
        os.mkdir(videos)
        for number in range(args.videos):
            make_clip(
                os.path.join(videos, f"clip_{number}.mp4"),
                args.size,
                args.seconds,
            )
        index = VideoIndex(os.path.join(folder, "index"), preset=args.preset)
        num_frames, image_size = index._frame_settings()
        rng = np.random.default_rng(0)
        clips = rng.integers(
            0, 256, (args.batch_size, num_frames, *image_size, 3), np.uint8
        )
        index.embed_clips(clips, args.batch_size)  # Warm-up (compiles).
        rounds, started = 0, time.perf_counter()
        while rounds < 3 or time.perf_counter() - started < 5:
            index.embed_clips(clips, args.batch_size)
            rounds += 1
        model_rate = rounds * args.batch_size / (time.perf_counter() - started)
        summary = index.add(
            videos,
            batch_size=args.batch_size,
            workers=args.workers,
            progress=False,
        )
        end_to_end = summary["clips_per_second"]
    print(f"model_only  {model_rate:8.2f} clips/s")
    print(
        f"end_to_end  {end_to_end:8.2f} clips/s ({summary['num_clips']} clips, "
        f"{len(summary['indexed'])} files, {summary['seconds']:.1f} s)"
    )
    print(f"ratio       {end_to_end / model_rate:8.2f}")


if __name__ == "__main__":
    main()
