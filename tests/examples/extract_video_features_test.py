import os

import matplotlib.image
import numpy as np

from tests.examples.example_runner import load_example
from tests.test_case import TestCase


class ExtractVideoFeaturesTest(TestCase):
    def setUp(self):
        super().setUp()
        self.example = load_example("extract_video_features")

    def test_runs_with_the_demo_preset(self):
        output = os.path.join(self.get_temp_dir(), "pca.png")
        features, pca = self.example.main(["--output", output])
        # The demo preset: 4 frames of 4x4 patches, width 32.
        self.assertEqual(features.shape, (4, 16, 32))
        self.assertEqual(pca.shape, (4, 4, 4, 3))
        self.assertAllClose(pca.min(axis=(0, 1, 2)), np.zeros(3))
        self.assertAllClose(pca.max(axis=(0, 1, 2)), np.ones(3))
        image = matplotlib.image.imread(output)
        self.assertEqual(image.shape[-1], 4)
        self.assertGreater(image.shape[1], image.shape[0])

    def test_pca_recovers_the_main_direction(self):
        # Features that vary mostly along one direction: the first channel
        # follows that variation (up to sign).
        rng = np.random.default_rng(0)
        amount = rng.normal(size=(2, 6))
        direction = rng.normal(size=8)
        features = amount[..., None] * direction
        features += 0.01 * rng.normal(size=(2, 6, 8))
        pca = self.example.pca_rgb(features, (2, 3))
        first = pca[..., 0].reshape(-1)
        correlation = np.corrcoef(first, amount.reshape(-1))[0, 1]
        self.assertGreater(abs(correlation), 0.999)
