"""The input checks benchmark runs end to end (no timing is asserted)."""

import subprocess
import sys

from benchmarks import input_checks_benchmark


def test_input_checks_benchmark_smoke_run():
    result = subprocess.run(
        [
            sys.executable,
            input_checks_benchmark.__file__,
            "--frames=2",
            "--size=36",
            "--videos=2",
            "--batch=2",
            "--runs=1",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert any(line.startswith("ratio on/off ") for line in lines), lines
