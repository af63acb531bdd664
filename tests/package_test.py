"""`import keras_videoprism`: what it loads, and what it leaves out."""

import subprocess
import sys
import textwrap
import unittest

SCRIPT = textwrap.dedent(
    """
    import sys
    import keras_videoprism
    print("av" in sys.modules)
    print("keras_videoprism.utils.memory_allocator" in sys.modules)
    from keras_videoprism.utils import load_video
    print(load_video.__module__, "av" in sys.modules)
    """
)


class PackageTest(unittest.TestCase):
    def test_import_loads_neither_pyav_nor_the_allocator_helper(self):
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT], capture_output=True, text=True
        )
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        av_loaded, allocator_loaded, last = result.stdout.splitlines()[-3:]
        self.assertEqual(av_loaded, "False")
        self.assertEqual(allocator_loaded, "False")
        # The decoding functions are still exported, loaded on first use;
        # PyAV itself only when a video is decoded.
        self.assertEqual(last, "keras_videoprism.utils.video_io False")
