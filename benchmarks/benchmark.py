"""Side-by-side forward benchmark of VideoPrism implementations.

Runs each implementation in its own child process (so peak memory is its
own), on the same configuration and the same random input, and prints the
median latency, its spread, throughput, peak resident memory, the fraction
of the machine's matmul peak reached (the model's FLOPs over the latency,
against a 4096-cube float32 matmul timed on the same backend) and the ratio
against ours, all from one run:

* `ours`: `keras_videoprism.models.VideoPrismBackbone` through
  `predict_on_batch` (compiled with XLA on JAX and TensorFlow);
* `ours_compiled` (torch backend only): the same, compiled with
  `torch.compile` through `compile(jit_compile=True)`;
* `keras_hub`: `keras_hub.models.VideoPrismBackbone`, same config and
  input, through `predict_on_batch`;
* `transformers` (torch backend only): `VideoPrismVisionModel` (or the
  video-text model with `--multimodal`) in eager mode, and compiled with
  `torch.compile` as `transformers_compiled`.

With `--quantize MODE` (`int8`, `float8` or `int4`) it compares ours in
float32 with ours quantized by `Model.quantize(MODE)` instead: one child
process builds both, times them alternately on the same input (so both see
the same machine load), and prints the latency ratio and the cosine
similarity of their outputs, on the benchmark's random model and on the
official tiny fixtures (`tests/data/official`: `video_tiny` features,
`lvt_tiny` video and text embeddings, `classifier_tiny` logits).

Every child process first calls `keep_freed_memory` (of
`keras_videoprism.utils.memory_allocator`; `--allocator=default` leaves
glibc's allocator as it is), so all implementations run on the same
allocator.

Usage:

```shell
KERAS_BACKEND=jax python benchmarks/benchmark.py --frames 16 --size 288
KERAS_BACKEND=torch python benchmarks/benchmark.py --frames 8 --size 144 \
    --implementations ours keras_hub transformers
KERAS_BACKEND=jax python benchmarks/benchmark.py --config tiny --frames 4 \
    --size 72 --quantize int8
```
"""

import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

CONFIGS = {
    "base": dict(
        hidden_dim=768,
        intermediate_dim=3072,
        num_heads=12,
        num_spatial_layers=12,
        num_temporal_layers=4,
        num_frames=16,
    ),
    "tiny": dict(
        hidden_dim=32,
        intermediate_dim=64,
        num_heads=4,
        num_spatial_layers=1,
        num_temporal_layers=1,
        num_frames=4,
    ),
}
PATCH_SIZE = 18
TEXT_LENGTH = 64
QUANTIZATION_MODES = ("int8", "float8", "int4")
FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "tests/data/official"


def keras_kwargs(args):
    config = dict(CONFIGS[args.config])
    kwargs = dict(
        patch_size=PATCH_SIZE,
        num_auxiliary_layers=2,
        attention_logit_soft_cap=50.0,
        image_shape=(args.size, args.size, 3),
        **config,
    )
    kwargs["num_frames"] = args.frames
    if args.multimodal:
        kwargs.update(vocabulary_size=32000, num_text_layers=12)
    return kwargs


def make_inputs(args):
    rng = np.random.default_rng(0)
    video = rng.random(
        (args.batch, args.frames, args.size, args.size, 3), dtype="float32"
    )
    if not args.multimodal:
        return video
    ids = rng.integers(1, 32000, (args.batch, TEXT_LENGTH)).astype("int32")
    mask = np.ones((args.batch, TEXT_LENGTH), "int32")
    return {"pixel_values": video, "token_ids": ids, "padding_mask": mask}


def transformer_flops(tokens, sequence, layers, hidden, intermediate):
    """Multiply-adds x 2 of `layers` blocks over `tokens` tokens."""
    dense = 2 * tokens * (4 * hidden * hidden + 2 * hidden * intermediate)
    attention = 4 * tokens * sequence * hidden
    return layers * (dense + attention)


def model_flops(args):
    """Forward FLOPs of one batch (dense layers and attention matmuls)."""
    c = CONFIGS[args.config]
    hidden, mlp = c["hidden_dim"], c["intermediate_dim"]
    patches = (args.size // PATCH_SIZE) ** 2
    tokens = args.batch * args.frames * patches
    flops = 2 * tokens * PATCH_SIZE * PATCH_SIZE * 3 * hidden
    flops += transformer_flops(
        tokens, patches, c["num_spatial_layers"], hidden, mlp
    )
    flops += transformer_flops(
        tokens, args.frames, c["num_temporal_layers"], hidden, mlp
    )
    if args.multimodal:
        flops += transformer_flops(
            tokens, args.frames * patches, 2, hidden, mlp
        )
        text_tokens = args.batch * (TEXT_LENGTH + 1)
        flops += transformer_flops(
            text_tokens, TEXT_LENGTH + 1, 12, hidden, 4 * hidden
        )
    return flops


def matmul_peak():
    """FLOP/s of a 4096-cube float32 matmul through `keras.ops`."""
    import keras

    size = 4096
    a = keras.ops.convert_to_tensor(
        np.random.default_rng(0).random((size, size), dtype="float32")
    )
    matmul = keras.ops.matmul
    if keras.config.backend() == "jax":
        import jax

        matmul = jax.jit(matmul)
    times = []
    for _ in range(4):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(matmul(a, a))
        times.append(time.perf_counter() - start)
    return 2 * size**3 / min(times[1:])


def keras_forward(args):
    if args.implementation.startswith("ours"):
        from keras_videoprism.models import VideoPrismBackbone
    else:
        from keras_hub.models import VideoPrismBackbone
    model = VideoPrismBackbone(**keras_kwargs(args))
    if args.implementation == "ours_compiled":
        # torch.compile of the whole predict step (JAX and TensorFlow
        # already compile `ours` with XLA).
        model.compile(jit_compile=True)
    inputs = make_inputs(args)
    return lambda: model.predict_on_batch(inputs)


def transformers_model(args):
    """transformers' model of the configuration, and its call's inputs."""
    import torch
    import transformers

    dims = CONFIGS[args.config]
    vision = transformers.VideoPrismVisionConfig(
        image_size=args.size,
        num_frames=args.frames,
        hidden_size=dims["hidden_dim"],
        intermediate_size=dims["intermediate_dim"],
        num_attention_heads=dims["num_heads"],
        num_spatial_layers=dims["num_spatial_layers"],
        num_temporal_layers=dims["num_temporal_layers"],
    )
    if args.multimodal:
        text = transformers.VideoPrismTextConfig(
            hidden_size=dims["hidden_dim"],
            intermediate_size=4 * dims["hidden_dim"],
            num_attention_heads=dims["num_heads"],
            num_hidden_layers=12,
            vocab_size=32000,
        )
        config = transformers.VideoPrismConfig(
            vision_config=vision.to_dict(), text_config=text.to_dict()
        )
        model = transformers.VideoPrismClipModel(config)
    else:
        model = transformers.VideoPrismVisionModel(vision)
    model.eval()
    inputs = make_inputs(args)
    video = inputs["pixel_values"] if args.multimodal else inputs
    # transformers takes channels-first frames: (B, T, C, H, W).
    video = torch.from_numpy(
        np.ascontiguousarray(video.transpose(0, 1, 4, 2, 3))
    )
    if args.multimodal:
        kwargs = dict(
            pixel_values_videos=video,
            input_ids=torch.from_numpy(inputs["token_ids"]).long(),
            attention_mask=torch.from_numpy(inputs["padding_mask"]).long(),
        )
    else:
        kwargs = dict(pixel_values_videos=video)
    return model, kwargs


def transformers_forward(args):
    import torch

    model, kwargs = transformers_model(args)
    if args.implementation == "transformers_compiled":
        model = torch.compile(model)

    def forward():
        with torch.no_grad():
            return model(**kwargs)

    return forward


def _cosine(a, b):
    """`(mean, min)` cosine similarity of the rows of `a` and `b`."""
    import keras

    a = keras.ops.convert_to_numpy(a).astype("float64")
    b = keras.ops.convert_to_numpy(b).astype("float64")
    a = a.reshape(-1, a.shape[-1])
    b = b.reshape(-1, b.shape[-1])
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    cosines = np.sum(a * b, axis=-1) / norms
    return float(np.mean(cosines)), float(np.min(cosines))


def _outputs_cosines(float_model, quantized_model, inputs):
    """`{output: cosine}` of a quantized model against its float32 one."""
    expected = float_model.predict_on_batch(inputs)
    actual = quantized_model.predict_on_batch(inputs)
    if not isinstance(expected, dict):
        expected, actual = {"output": expected}, {"output": actual}
    return {key: _cosine(actual[key], expected[key]) for key in expected}


def _quantized_copy(model, mode):
    """A copy of `model` with its weights, quantized to `mode`."""
    copy = model.__class__.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    copy.quantize(mode)
    return copy


def fixture_cosines(mode):
    """Cosines of quantized official tiny fixtures against float32."""
    from keras_videoprism.convert import from_official_checkpoint

    cosines = {}
    cases = {
        "video_tiny": lambda io: io["a_native/inputs"],
        "classifier_tiny": lambda io: io["a_native/inputs"],
        "lvt_tiny": lambda io: {
            "pixel_values": io["video/a_native/inputs"][:1].repeat(3, 0),
            "token_ids": io["text/t64/token_ids"],
            "padding_mask": (1 - io["text/t64/paddings"]).astype("int32"),
        },
    }
    for name, inputs in cases.items():
        with open(FIXTURES / f"{name}.config.json") as file:
            config = json.load(file)
        io = np.load(FIXTURES / f"{name}.io.npz")
        model = from_official_checkpoint(
            str(FIXTURES / f"{name}.checkpoint.npz"), config
        )
        quantized = _quantized_copy(model, mode)
        for key, value in _outputs_cosines(
            model, quantized, inputs(io)
        ).items():
            cosines[f"{name}/{key}"] = value
    return cosines


def _time_alternately(forwards, args):
    """Median seconds of each forward, timed in turn on the same load."""
    for forward in forwards.values():
        for _ in range(1 + args.warmup):
            forward()
    times = {name: [] for name in forwards}
    for _ in range(args.runs):
        for name, forward in forwards.items():
            start = time.perf_counter()
            forward()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def _transformers_dynamic_int8(args):
    """transformers' model in float32 and under `quantize_dynamic` (int8)."""
    import copy

    import torch

    model, kwargs = transformers_model(args)
    quantized = torch.ao.quantization.quantize_dynamic(
        copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8
    )

    def forward(module):
        with torch.no_grad():
            return module(**kwargs).last_hidden_state.numpy()

    return (lambda: forward(model)), (lambda: forward(quantized))


def run_quantize_worker(args):
    """Times float32 and quantized models alternately; prints a JSON line.

    Ours always; on torch with `int8` (video model) also transformers'
    model in float32 and under `torch.ao.quantization.quantize_dynamic`.
    """
    import keras

    from keras_videoprism.models import VideoPrismBackbone

    model = VideoPrismBackbone(**keras_kwargs(args))
    quantized = _quantized_copy(model, args.quantize)
    inputs = make_inputs(args)
    forwards = {
        "ours float32": lambda: model.predict_on_batch(inputs),
        f"ours {args.quantize}": lambda: quantized.predict_on_batch(inputs),
    }
    cosines = {
        f"ours random {args.config}/{key}": value
        for key, value in _outputs_cosines(model, quantized, inputs).items()
    }
    with_transformers = (
        keras.config.backend() == "torch"
        and args.quantize == "int8"
        and not args.multimodal
        and "transformers" in args.implementations
    )
    if with_transformers:
        float32, int8 = _transformers_dynamic_int8(args)
        forwards["transformers float32"] = float32
        forwards["transformers int8 (quantize_dynamic)"] = int8
        cosines[f"transformers random {args.config}/last_hidden_state"] = (
            _cosine(int8(), float32())
        )
    cosines.update(fixture_cosines(args.quantize))
    print(
        json.dumps(
            {
                "mode": args.quantize,
                "median_s": _time_alternately(forwards, args),
                "cosines": cosines,
            }
        )
    )


def print_quantize_table(result, args, backend):
    mode = result["mode"]
    medians = result["median_s"]
    print(
        f"backend={backend} config={args.config} batch={args.batch} "
        f"input={args.frames}x{args.size}x{args.size} runs={args.runs} "
        "(all timed in turn in one process)"
    )
    ours = medians[f"ours {mode}"]
    print(
        f"{'model':38s} {'median s':>9s} {'float32/this':>12s} "
        f"{'this/ours ' + mode:>14s}"
    )
    for name, median in medians.items():
        float32 = medians[name.split()[0] + " float32"]
        print(
            f"{name:38s} {median:9.4f} {float32 / median:12.2f} "
            f"{median / ours:14.2f}"
        )
    print(f"cosine of {mode} outputs against float32 (mean, min over rows):")
    for name, (mean, minimum) in result["cosines"].items():
        print(f"  {name:52s} {mean:.6f} {minimum:.6f}")


def run_worker(args):
    """Times one implementation in this process and prints a JSON line."""
    if args.allocator == "tuned":
        from keras_videoprism.utils.memory_allocator import keep_freed_memory

        keep_freed_memory()
    if args.implementation == "quantize":
        run_quantize_worker(args)
        return
    if args.implementation == "peak":
        print(json.dumps({"peak_flops": matmul_peak()}))
        return
    if args.implementation.startswith("transformers"):
        forward = transformers_forward(args)
    else:
        forward = keras_forward(args)
    start = time.perf_counter()
    forward()
    first_call = time.perf_counter() - start
    for _ in range(args.warmup):
        forward()
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        forward()
        times.append(time.perf_counter() - start)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    median = statistics.median(times)
    print(
        json.dumps(
            {
                "implementation": args.implementation,
                "median_s": median,
                "min_s": min(times),
                "max_s": max(times),
                "clips_per_s": args.batch / median,
                "first_call_s": first_call,
                "peak_rss_mb": peak_mb,
            }
        )
    )


# Implementations that exist only on the torch backend.
TORCH_ONLY = ("transformers", "ours_compiled")


def run_child(implementation, argv):
    """Runs one worker process; returns its JSON result, or `None`."""
    command = [sys.executable, __file__, "--worker", implementation, *argv]
    # As in the tests: with TensorFlow loaded beside torch (keras-hub
    # imports it), torch's OpenMP threads spin against TensorFlow's; passive
    # waiting made ours 3.2x faster on torch at 8x144x144 in one run.
    env = {"OMP_WAIT_POLICY": "PASSIVE", **os.environ}
    completed = subprocess.run(command, capture_output=True, text=True, env=env)
    lines = [
        line for line in completed.stdout.splitlines() if line.startswith("{")
    ]
    if completed.returncode or not lines:
        print(f"{implementation} failed:\n{completed.stderr[-2000:]}")
        return None
    return json.loads(lines[-1])


def run_all(args, argv):
    import keras

    backend = keras.config.backend()
    if args.quantize:
        result = run_child("quantize", argv)
        if result is not None:
            print_quantize_table(result, args, backend)
        return result
    peak = run_child("peak", argv)
    results = []
    for implementation in args.implementations:
        if implementation.startswith(TORCH_ONLY) and backend != "torch":
            continue
        result = run_child(implementation, argv)
        if result is not None:
            results.append(result)
    print_table(results, args, backend, peak and peak["peak_flops"])
    return results


def print_table(results, args, backend, peak_flops):
    mode = "video-text" if args.multimodal else "video"
    flops = model_flops(args)
    print(
        f"backend={backend} config={args.config} {mode} batch={args.batch} "
        f"input={args.frames}x{args.size}x{args.size} runs={args.runs} "
        f"allocator={args.allocator}"
    )
    if peak_flops:
        print(
            f"model {flops / 1e9:.1f} GFLOP per batch; matmul peak "
            f"{peak_flops / 1e9:.0f} GFLOP/s"
        )
    ours = next((r for r in results if r["implementation"] == "ours"), None)
    header = (
        f"{'implementation':24s} {'median s':>9s} {'min-max s':>13s} "
        f"{'clips/s':>8s} {'peak MB':>8s} {'% peak':>6s} {'ours/this':>9s}"
    )
    print(header)
    for r in results:
        ratio = ""
        if ours is not None:
            ratio = f"{ours['median_s'] / r['median_s']:.2f}"
        spread = f"{r['min_s']:.3f}-{r['max_s']:.3f}"
        fraction = ""
        if peak_flops:
            fraction = f"{100 * flops / r['median_s'] / peak_flops:.0f}"
        print(
            f"{r['implementation']:24s} {r['median_s']:9.3f} {spread:>13s} "
            f"{r['clips_per_s']:8.2f} {r['peak_rss_mb']:8.0f} "
            f"{fraction:>6s} {ratio:>9s}"
        )
    print("ours/this < 1 means ours is faster (latency ratio).")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="base")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=288)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--multimodal", action="store_true")
    parser.add_argument(
        "--quantize",
        choices=QUANTIZATION_MODES,
        default=None,
        help="Compare ours in float32 with ours quantized to this mode.",
    )
    parser.add_argument(
        "--allocator", choices=["tuned", "default"], default="tuned"
    )
    parser.add_argument(
        "--implementations",
        nargs="+",
        default=[
            "ours",
            "ours_compiled",
            "keras_hub",
            "transformers",
            "transformers_compiled",
        ],
    )
    parser.add_argument("--worker", dest="implementation", default=None)
    args = parser.parse_args(argv)
    if args.size % PATCH_SIZE:
        parser.error(f"--size must be a multiple of {PATCH_SIZE}")
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.implementation:
        run_worker(args)
    else:
        run_all(args, argv)


if __name__ == "__main__":
    main()
