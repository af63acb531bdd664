"""`keras_videoprism.search`: exports, loaded without LanceDB, Ray or PyAV."""

import subprocess
import sys
import textwrap
import unittest

SCRIPT = textwrap.dedent(
    """
    import sys
    import keras_videoprism
    import keras_videoprism.cli
    import keras_videoprism.search
    print([m for m in ("lancedb", "ray", "av") if m in sys.modules])
    print(keras_videoprism.search.SEARCH_PRESET)
    print(keras_videoprism.search.VideoIndex.__module__)
    """
)


class SearchPackageTest(unittest.TestCase):
    def test_import_is_light_and_exports_video_index(self):
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT], capture_output=True, text=True
        )
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        loaded, preset, module = result.stdout.splitlines()[-3:]
        self.assertEqual(loaded, "[]")
        self.assertEqual(preset, "videoprism_lvt_public_v1_base")
        self.assertEqual(module, "keras_videoprism.search.video_index")
