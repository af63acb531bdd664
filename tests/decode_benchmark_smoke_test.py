"""The decoding benchmark runs end to end (no timing is asserted).

The speed half only: the memory half starts three child processes that
each import Keras (about 100 s in all on a 2-core machine).
"""

import json
import subprocess
import sys

from benchmarks import decode_benchmark


def test_decode_benchmark_smoke_run():
    result = subprocess.run(
        [
            sys.executable,
            decode_benchmark.__file__,
            "--skip-memory",
            "--speed-size=320x180",
            "--speed-seconds=0.5",
            "--runs=1",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert any(line.startswith("speed load_video_16") for line in lines), lines
    assert "failed" not in result.stdout


def test_decode_benchmark_memory_measure(tmp_path, capsys):
    # The memory half's measurement, in this process (Keras is loaded).
    path = str(tmp_path / "clip.mp4")
    decode_benchmark.make_clip(path, "320x180", 0.5)
    for variant in ("pyav_decode_only", "full_size", "resized_while_decoding"):
        decode_benchmark._memory_child(path, variant, 4)
        result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert result["shape"] == [4, 288, 288, 3]
        assert result["added_peak_mib"] >= 0
