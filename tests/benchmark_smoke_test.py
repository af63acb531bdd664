"""The benchmark runs end to end (no timing is asserted)."""

import subprocess
import sys

import keras

from benchmarks import benchmark


TINY_RUN = (
    "--config=tiny",
    "--frames=2",
    "--size=36",
    "--runs=1",
    "--warmup=0",
)


def run_benchmark(*flags):
    """Runs the benchmark on a tiny input; returns its output lines."""
    result = subprocess.run(
        [sys.executable, benchmark.__file__, *TINY_RUN, *flags],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.splitlines()


def test_benchmark_smoke_run():
    lines = run_benchmark("--implementations", "ours")
    assert any(line.startswith("ours ") for line in lines), lines
    assert not any("failed" in line for line in lines), lines


def test_benchmark_quantize_smoke_run():
    lines = run_benchmark("--quantize=int8")
    assert any(line.startswith("ours int8 ") for line in lines), lines
    # int8 keeps the fixtures' outputs close to float32 ones (min cosine);
    # on torch transformers' model under quantize_dynamic is compared too.
    cosines = [
        float(line.split()[-1]) for line in lines if "tiny/" in line
    ]
    expected = 6 if keras.config.backend() == "torch" else 5
    assert len(cosines) == expected and min(cosines) > 0.99, lines
