import os

import keras
import numpy as np

from keras_videoprism import cli
from keras_videoprism.models import VideoPrismBackbone
from keras_videoprism.utils import load_video
from keras_videoprism.utils import sample_video_path
from tests.test_case import TestCase


class EmbedCommandTest(TestCase):
    def test_embed_sample_video_with_demo_preset(self):
        output = os.path.join(self.get_temp_dir(), "features.npy")
        cli.main(["embed", "--output", output])
        saved = np.load(output)
        # The same computation done by hand through the public API.
        backbone = VideoPrismBackbone.from_preset(cli.demo_preset_path())
        frames = load_video(sample_video_path(), num_frames=4)
        video = keras.ops.image.resize(
            frames.astype("float32") / 255.0,
            (16, 16),
            antialias=True,
            crop_to_aspect_ratio=True,
        )
        expected = keras.ops.convert_to_numpy(backbone(video[None]))[0]
        self.assertEqual(saved.shape, (4, 16, 32))
        self.assertAllClose(saved, expected, atol=1e-4)

    def test_missing_video_is_a_clear_error(self):
        with self.assertRaisesRegex(FileNotFoundError, "missing.mp4"):
            cli.main(["embed", "missing.mp4", "--output", "unused.npy"])
