"""The benchmark runs end to end (no timing is asserted)."""

import subprocess
import sys

import keras

from benchmarks import benchmark


def test_benchmark_smoke_run():
    result = subprocess.run(
        [
            sys.executable,
            benchmark.__file__,
            "--config=tiny",
            "--frames=2",
            "--size=36",
            "--runs=1",
            "--warmup=0",
            "--implementations",
            "ours",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert any(line.startswith("ours ") for line in lines), result.stdout
    assert "failed" not in result.stdout


def test_benchmark_quantize_smoke_run():
    result = subprocess.run(
        [
            sys.executable,
            benchmark.__file__,
            "--config=tiny",
            "--frames=2",
            "--size=36",
            "--runs=1",
            "--warmup=0",
            "--quantize=int8",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert any(line.startswith("ours int8 ") for line in lines), result.stdout
    # int8 keeps the fixtures' outputs close to float32 ones (min cosine);
    # on torch transformers' model under quantize_dynamic is compared too.
    cosines = [
        float(line.split()[-1]) for line in lines if "tiny/" in line
    ]
    expected = 6 if keras.config.backend() == "torch" else 5
    assert len(cosines) == expected and min(cosines) > 0.99, result.stdout
