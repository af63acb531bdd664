"""`keep_freed_memory` stops the page faults of reallocated buffers."""

import subprocess
import sys
import textwrap

import pytest

# Counts the page faults of allocating, touching and freeing a 64 MB buffer
# three times, after `keep_freed_memory()`.
SCRIPT = textwrap.dedent(
    """
    import resource
    import numpy as np
    from keras_videoprism.utils.memory_allocator import keep_freed_memory

    print(keep_freed_memory())
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        buffer = np.ones(16 * 2**20, "float32")
        del buffer
        print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """
)


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="glibc's allocator only."
)
def test_freed_buffers_are_reused_without_page_faults():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    applied, first, second, third = result.stdout.split()[-4:]
    assert applied == "True"
    # The first buffer is faulted in once; its reuses fault almost nothing.
    assert int(first) > 100
    assert int(second) < 10 and int(third) < 10
