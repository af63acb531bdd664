"""The decoding benchmark runs end to end (no timing is asserted)."""

import subprocess
import sys

from benchmarks import decode_benchmark


def test_decode_benchmark_smoke_run():
    result = subprocess.run(
        [
            sys.executable,
            decode_benchmark.__file__,
            "--memory-size=320x180",
            "--memory-seconds=0.5",
            "--speed-size=320x180",
            "--speed-seconds=0.5",
            "--runs=1",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert any(line.startswith("memory ratio") for line in lines), lines
    assert any(line.startswith("speed load_video_16") for line in lines)
    assert "failed" not in result.stdout
