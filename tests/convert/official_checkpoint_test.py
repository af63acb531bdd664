import json

import numpy as np

from keras_videoprism.convert import from_official_checkpoint
from keras_videoprism.convert.official_checkpoint import read_checkpoint
from keras_videoprism.models import VideoPrismBackbone
from tests.test_case import OFFICIAL_DIR
from tests.test_case import TestCase
from tests.test_case import load_official


class OfficialCheckpointTest(TestCase):
    def setUp(self):
        super().setUp()
        checkpoint, self.config, _ = load_official("video_tiny")
        self.arrays = read_checkpoint(str(checkpoint))

    def test_builds_the_official_configuration(self):
        backbone = from_official_checkpoint(self.arrays, self.config)
        self.assertIsInstance(backbone, VideoPrismBackbone)
        self.assertEqual(backbone.num_frames, 4)
        self.assertEqual(backbone.image_shape, (16, 16, 3))
        self.assertEqual(backbone.attention_logit_soft_cap, 50.0)
        # LayerNorm gains are 1 + the stored offsets.
        scale = self.arrays["params/spatial_ln/scale"]
        gamma = backbone.factorized_encoder.spatial_norm.gamma
        self.assertAllClose(gamma, 1.0 + scale, atol=0)

    def test_video_text_configuration(self):
        checkpoint, config, _ = load_official("lvt_primer_tiny")
        backbone = from_official_checkpoint(str(checkpoint), config)
        self.assertEqual(backbone.num_text_layers, 2)
        self.assertEqual(backbone.text_norm_policy, "primer_hybrid")
        self.assertEqual(backbone.vocabulary_size, 1000)

    def test_missing_key(self):
        del self.arrays["params/temporal_ln/bias"]
        with self.assertRaisesRegex(ValueError, "'params/temporal_ln/bias'"):
            from_official_checkpoint(self.arrays, self.config)

    def test_unused_key(self):
        self.arrays["params/extra/w"] = np.zeros(3, "float32")
        with self.assertRaisesRegex(ValueError, "'params/extra/w'"):
            from_official_checkpoint(self.arrays, self.config)

    def test_wrong_shape(self):
        key = "params/patch_projection/linear/bias"
        self.arrays[key] = np.zeros(31, "float32")
        with self.assertRaisesRegex(ValueError, key):
            from_official_checkpoint(self.arrays, self.config)
        # A per-head weight with heads and width swapped has the same size
        # but not the same layout: it is refused too.
        key = "params/spatial_encoder/transformers_stack/x_layers/"
        key += "self_attention/query/w"
        self.arrays = read_checkpoint(
            str(OFFICIAL_DIR / "video_tiny.checkpoint.npz")
        )
        self.arrays[key] = self.arrays[key].reshape(2, 32, 8, 4)
        with self.assertRaisesRegex(ValueError, "query/w"):
            from_official_checkpoint(self.arrays, self.config)

    def test_layer_count_mismatch(self):
        config = json.loads(json.dumps(self.config))
        config["constructor_args"]["num_spatial_layers"] = 3
        with self.assertRaisesRegex(ValueError, "leading layer axis"):
            from_official_checkpoint(self.arrays, config)

    def test_unknown_class_and_missing_arguments(self):
        with self.assertRaisesRegex(ValueError, "FactorizedEncoder"):
            from_official_checkpoint(
                self.arrays, {**self.config, "official_class": "ViT"}
            )
        config = json.loads(json.dumps(self.config))
        del config["constructor_args"]["model_dim"]
        with self.assertRaisesRegex(ValueError, "'model_dim'"):
            from_official_checkpoint(self.arrays, config)

    def test_unreadable_files(self):
        path = f"{self.get_temp_dir()}/truncated.npz"
        with open(OFFICIAL_DIR / "video_tiny.checkpoint.npz", "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
        with self.assertRaisesRegex(ValueError, "truncated"):
            from_official_checkpoint(path, self.config)
        with self.assertRaises(FileNotFoundError):
            from_official_checkpoint(f"{path}.missing", self.config)
