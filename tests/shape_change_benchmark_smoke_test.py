"""The shape-change benchmark runs end to end (no timing is asserted)."""

import subprocess
import sys

import keras

from benchmarks import shape_change_benchmark


def test_shape_change_benchmark_smoke_run():
    result = subprocess.run(
        [
            sys.executable,
            shape_change_benchmark.__file__,
            "--frames",
            "2",
            "3",
            "--size",
            "36",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    # One row per pass after the header: "<mode> <first|again> ...".
    rows = {tuple(line.split()[:2]) for line in lines[2:]}
    modes = ["reference", "padded"]
    if keras.config.backend() == "torch":
        modes.append("fused")
    for mode in modes:
        assert {(mode, "first"), (mode, "again")} <= rows, lines
