"""What changing clip shapes costs: a run of predicts, each a new frame count.

Users call `predict` on clips of whatever length their files have. Every new
input shape can mean a new compilation (torch's fused FlexAttention kernel,
XLA's executables on JAX and TensorFlow). This benchmark builds one small
backbone at 288x288 (large enough that torch's fused attention applies),
then, in one process:

1. runs `predict` once per frame count in `--frames` (a new shape each
   time), then the same sequence again;
2. on torch, does the same with the fused kernel turned off, so the two
   columns are timed on the same machine load;
3. does it once more with every clip padded to the longest and passed with
   its `frame_padding_mask` (one shape, one compilation: the way to keep
   XLA's cache of compiled executables from growing on JAX and TensorFlow);

and prints, per pass, the seconds spent, the ratio against the reference
(fused off) and the growth of the process' resident memory. On torch it also
prints how many kernels the fused dispatch compiled.

Usage:

```shell
KERAS_BACKEND=torch python benchmarks/shape_change_benchmark.py
KERAS_BACKEND=jax python benchmarks/shape_change_benchmark.py --frames 2 3 4
```
"""

import argparse
import time

import keras
import numpy as np

from keras_videoprism.layers import fused_attention
from keras_videoprism.models import VideoPrismBackbone

CONFIG = dict(
    patch_size=18,
    hidden_dim=64,
    intermediate_dim=128,
    num_heads=4,
    num_spatial_layers=1,
    num_temporal_layers=1,
    num_auxiliary_layers=0,
    attention_logit_soft_cap=50.0,
    image_shape=(288, 288, 3),
)


def resident_megabytes():
    """The process' current resident memory, in MB (Linux)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * 4096 / 2**20


def run_pass(backbone, frame_counts, size, pad_to=None):
    """Predicts one clip per frame count; returns (seconds, MB growth).

    With `pad_to`, each clip is zero-padded to `pad_to` frames and passed
    with its `frame_padding_mask`: one input shape for every clip.
    """
    rng = np.random.default_rng(0)
    before = resident_megabytes()
    start = time.perf_counter()
    for frames in frame_counts:
        clip = rng.uniform(size=(1, frames, size, size, 3)).astype("float32")
        if pad_to is None:
            backbone.predict(clip, verbose=0)
            continue
        padded = np.zeros((1, pad_to, size, size, 3), "float32")
        padded[:, :frames] = clip
        mask = (np.arange(pad_to) < frames)[None].astype("int32")
        backbone.predict(
            {"pixel_values": padded, "frame_padding_mask": mask}, verbose=0
        )
    return time.perf_counter() - start, resident_megabytes() - before


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--frames",
        type=int,
        nargs="+",
        default=list(range(4, 24)),
        help="One predict per frame count (default: 4 to 23, 20 shapes).",
    )
    parser.add_argument("--size", type=int, default=288)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    config = dict(CONFIG, num_frames=max(args.frames))
    config["image_shape"] = (args.size, args.size, 3)
    keras.utils.set_random_seed(0)
    backbone = VideoPrismBackbone(**config)
    modes = ["fused", "reference", "padded"]
    if keras.config.backend() != "torch":
        modes = ["reference", "padded"]
    print(
        f"backend {keras.config.backend()}, {len(args.frames)} frame counts "
        f"{args.frames[0]}..{args.frames[-1]}, {args.size}x{args.size}"
    )
    results = {}
    for mode in modes:
        fused_attention.set_enabled(mode != "reference")
        pad_to = max(args.frames) if mode == "padded" else None
        for repeat in ("first", "again"):
            results[mode, repeat] = run_pass(
                backbone, args.frames, args.size, pad_to
            )
    fused_attention.set_enabled(True)
    print(f"{'pass':<16}{'seconds':>10}{'vs reference':>14}{'RSS +MB':>10}")
    for (mode, repeat), (seconds, growth) in results.items():
        reference = results["reference", repeat][0]
        print(
            f"{mode + ' ' + repeat:<16}{seconds:>10.2f}"
            f"{seconds / reference:>14.2f}{growth:>10.1f}"
        )
    if keras.config.backend() == "torch":
        print(f"fused kernels compiled: {fused_attention.compiled_shapes()}")


if __name__ == "__main__":
    main()
