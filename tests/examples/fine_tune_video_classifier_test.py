"""The fine-tuning example runs end to end on its generated dataset."""

import json
import os

import matplotlib.image
import numpy as np

from keras_videoprism.models.video_classifier import VideoClassifier
from keras_videoprism.utils.video_io import load_video
from tests.examples.example_runner import load_example
from tests.examples.example_runner import run_main
from tests.test_case import TestCase


class FineTuneVideoClassifierTest(TestCase):
    def setUp(self):
        super().setUp()
        self.example = load_example("fine_tune_video_classifier")

    def test_runs_end_to_end_on_the_demo_data(self):
        data_dir = os.path.join(self.get_temp_dir(), "squares")
        output_dir = self.get_temp_dir()
        run_main(self.example, ["--make_demo_data", data_dir])
        self.assertEqual(
            sorted(os.listdir(data_dir)), ["down", "left", "right"]
        )
        clip = load_video(os.path.join(data_dir, "left", "clip_0.mp4"))
        self.assertEqual(clip.shape, (16, 64, 64, 3))

        results, printed = run_main(
            self.example,
            [
                "--data_dir", data_dir,
                "--tiny",
                "--num_frames", "4",
                "--image_size", "16",
                "--epochs", "2",
                "--batch_size", "4",
                "--output_dir", output_dir,
            ],
        )  # fmt: skip
        # Keras progress bars, then the held-out results.
        self.assertIn("Epoch 2/2", printed)
        self.assertIn("Held-out top-1 accuracy", printed)
        matrix = np.array(results["confusion_matrix"])
        # Two of each class's six clips are held out.
        np.testing.assert_array_equal(matrix.sum(axis=1), [2, 2, 2])
        self.assertAllClose(
            results["top_1_accuracy"], np.trace(matrix) / matrix.sum()
        )
        # Three classes: the top five always hold the true one.
        self.assertEqual(results["top_5_accuracy"], 1.0)
        image = matplotlib.image.imread(
            os.path.join(output_dir, "confusion_matrix.png")
        )
        self.assertEqual(image.ndim, 3)

        preset = os.path.join(output_dir, "preset")
        with open(os.path.join(preset, "class_names.json")) as f:
            self.assertEqual(json.load(f), ["down", "left", "right"])
        classifier = VideoClassifier.from_preset(preset)
        self.assertEqual(classifier.num_classes, 3)
        self.assertEqual(classifier.preprocessor.video_converter.num_frames, 4)
        self.assertFalse(classifier.backbone.trainable)
        scores = classifier.predict(clip[None], verbose=0)
        self.assertEqual(scores.shape, (1, 3))
