"""Keeps freed activation buffers in the process (glibc's allocator).

A VideoPrism forward pass allocates and frees buffers of tens of megabytes
(a base model's MLP activations for one clip are 4096 x 3072 floats). By
default glibc serves such buffers with `mmap` and returns them to the
operating system when they are freed, so every pass faults in fresh zeroed
pages again. On the 2-core CPU we measure on, JAX and PyTorch spent 0.7 to
1.4 s of a 5.6 to 7.1 s base clip on that. Keeping freed memory in the heap
removes the cost; the price is that the process's resident memory stays at
its peak.

It changes the whole process, so the library never calls it and
`import keras_videoprism` does not import it: programs do (the
`keras-videoprism` command line and `benchmarks/benchmark.py`).
"""

import ctypes
import ctypes.util
import sys

# `mallopt` parameter numbers, from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
# Freed heap memory above this many bytes would be returned to the system.
_NEVER_TRIM = 2**31 - 1


def keep_freed_memory():
    """Makes glibc keep freed buffers for reuse instead of unmapping them.

    Call it once, early; it applies to the whole process and to every
    framework in it. It does nothing outside Linux with glibc.

    Returns:
        bool. Whether the allocator was reconfigured.

    Example:

    ```python
    from keras_videoprism.utils.memory_allocator import keep_freed_memory

    keep_freed_memory()
    embeddings = backbone.predict(videos)
    ```
    """
    if not sys.platform.startswith("linux"):
        return False
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name)
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    # Serve every allocation from the heap, and never shrink the heap.
    return bool(
        mallopt(_M_MMAP_MAX, 0) and mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM)
    )
