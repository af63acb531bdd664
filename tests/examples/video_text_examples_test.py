"""The video-text examples run end to end on the sample video."""

import os
import shutil
import tempfile

import numpy as np

from tests.examples.example_runner import load_example
from tests.examples.example_runner import run_main
from tests.test_case import TestCase


class VideoTextExamplesTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.preset = tempfile.mkdtemp()
        cls.addClassCleanup(shutil.rmtree, cls.preset, True)
        _, printed = run_main(
            load_example("make_tiny_preset"), ["--output_dir", cls.preset]
        )
        assert cls.preset in printed, printed

    def test_tiny_preset(self):
        for name in ("config.json", "task.json", "preprocessor.json"):
            self.assertTrue(os.path.exists(os.path.join(self.preset, name)))

    def test_zero_shot_classification(self):
        labels = ["coloured shapes moving", "a person cooking", "a dog"]
        probabilities, printed = run_main(
            load_example("zero_shot_classification"),
            ["--preset", self.preset, "--labels", *labels],
        )
        self.assertEqual(list(probabilities), labels)
        values = np.array(list(probabilities.values()))
        self.assertTrue(np.all((values >= 0) & (values <= 1)))
        self.assertAllClose(values.sum(), 1.0, atol=1e-5)
        self.assertIn("sample_video.mp4", printed)
        # The most probable label is printed first.
        first_line = printed.splitlines()[1]
        self.assertIn(labels[int(values.argmax())], first_line)

    def test_video_text_retrieval(self):
        queries = ["a red circle", "a blue square"]
        (starts, scores, ids), printed = run_main(
            load_example("video_text_retrieval"),
            ["--preset", self.preset, "--queries", *queries, "--top_k", "2"],
        )
        # The 2 s sample at 8 fps: 1 s clips every 0.5 s.
        self.assertEqual(starts, [0.0, 0.5, 1.0])
        self.assertEqual(scores.shape, (2, 2))
        self.assertEqual(ids.shape, (2, 2))
        self.assertTrue(np.all(np.diff(scores, axis=1) <= 0))
        self.assertTrue(np.all(np.abs(scores) <= 1.0 + 1e-5))
        self.assertIn("Indexed 3 clips", printed)
        for query in queries:
            self.assertIn(repr(query), printed)
