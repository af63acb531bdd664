"""Cost of the input checks in a compiled `predict()` of the classifier.

Times `VideoPrismVideoClassifier.predict()` (XLA-compiled on JAX and
TensorFlow) on float32 `pixel_values`, alternately with the checks on (the
default: up front on the array, then per batch in the data pipeline) and
with them replaced by no-ops on the instance, and prints the median
latencies and their ratio, all from one run.

Usage:

```shell
KERAS_BACKEND=jax python benchmarks/input_checks_benchmark.py
KERAS_BACKEND=torch python benchmarks/input_checks_benchmark.py \
    --config base --frames 16 --size 288 --batch 2
```
"""

import argparse
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.benchmark import CONFIGS  # noqa: E402
from benchmarks.benchmark import PATCH_SIZE  # noqa: E402

CHECKS = ("check_inputs", "check_model_inputs", "check_labels")


def build(args):
    import numpy as np

    from keras_videoprism.models import VideoPrismBackbone
    from keras_videoprism.models import VideoPrismVideoClassifier

    config = dict(CONFIGS[args.config], num_frames=args.frames)
    backbone = VideoPrismBackbone(
        patch_size=PATCH_SIZE,
        num_auxiliary_layers=0,
        attention_logit_soft_cap=50.0,
        image_shape=(args.size, args.size, 3),
        **config,
    )
    classifier = VideoPrismVideoClassifier(backbone, num_classes=10)
    videos = np.random.default_rng(0).random(
        (args.videos, args.frames, args.size, args.size, 3), dtype="float32"
    )
    return classifier, videos


def set_checks(classifier, enabled):
    for name in CHECKS:
        if enabled:
            classifier.__dict__.pop(name, None)
        else:
            object.__setattr__(classifier, name, lambda *args, **kwargs: None)


def time_predict(classifier, videos, batch):
    start = time.perf_counter()
    classifier.predict(videos, batch_size=batch, verbose=0)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="tiny")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=144)
    parser.add_argument("--videos", type=int, default=16)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)

    import keras

    classifier, videos = build(args)
    times = {True: [], False: []}
    for run in range(args.runs + 1):
        for enabled in (True, False):
            set_checks(classifier, enabled)
            elapsed = time_predict(classifier, videos, args.batch)
            if run:  # The first pass compiles.
                times[enabled].append(elapsed)
    on = statistics.median(times[True])
    off = statistics.median(times[False])
    # The checks alone, as `predict()` runs them on arrays: less noisy on
    # a shared machine than the difference of two latencies.
    set_checks(classifier, True)
    alone = []
    for _ in range(args.runs):
        start = time.perf_counter()
        classifier._check_up_front(videos)
        for begin in range(0, args.videos, args.batch):
            classifier.check_model_inputs(
                videos[begin : begin + args.batch], check_values=False
            )
        alone.append(time.perf_counter() - start)
    checks = statistics.median(alone)
    print(
        f"backend={keras.backend.backend()} config={args.config} "
        f"videos={args.videos}x{args.frames}x{args.size}x{args.size} "
        f"batch={args.batch} runs={args.runs}"
    )
    print(f"checks on  {on * 1e3:9.2f} ms")
    print(f"checks off {off * 1e3:9.2f} ms")
    print(f"checks alone {checks * 1e3:7.2f} ms ({checks / off * 100:.2f}% of off)")
    print(f"ratio on/off {on / off:.4f} ({(on / off - 1) * 100:+.2f}%)")


if __name__ == "__main__":
    main()
