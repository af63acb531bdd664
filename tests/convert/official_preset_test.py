import json
import os
import pathlib
import shutil

import keras
import numpy as np

from keras_videoprism.convert import official_checkpoint
from keras_videoprism.convert import official_preset
from keras_videoprism.models import VideoPrismBackbone
from tests.test_case import FIXTURE_ATOL
from tests.test_case import TestCase
from tests.test_case import load_official
from tests.test_case import official_path

PRESETS_DIR = pathlib.Path(__file__).resolve().parents[2] / "presets"
PUBLIC = (
    "videoprism_public_v1_base",
    "videoprism_public_v1_large",
    "videoprism_lvt_public_v1_base",
    "videoprism_lvt_public_v1_large",
)


def hub_directory(test, fixture, name):
    """A directory laid out as a google/videoprism-* `main` branch."""
    directory = test.get_temp_dir()
    shutil.copy(
        official_path(f"{fixture}.checkpoint.npz"),
        os.path.join(directory, name),
    )
    return directory


class OfficialConfigTest(TestCase):
    def test_published_shapes_give_the_public_presets(self):
        # Key shapes of the four published checkpoints (the official model
        # definitions' `eval_shape`) against the preset definitions.
        with open(official_path("published_checkpoint_key_shapes.json")) as f:
            published = json.load(f)["models"]
        for name in PUBLIC:
            shapes = {
                key: tuple(shape)
                for key, shape in published[name]["keys"].items()
            }
            config = official_preset.official_config(shapes)
            kwargs = official_checkpoint.backbone_kwargs(
                config["official_class"], config["constructor_args"]
            )
            with open(PRESETS_DIR / name / "config.json") as file:
                expected = json.load(file)["config"]
            for key, value in kwargs.items():
                if isinstance(value, tuple):
                    value = list(value)
                self.assertEqual(value, expected[key], f"{name}: {key}")
            self.assertEqual(
                sum(int(np.prod(s)) for s in shapes.values()),
                published[name]["num_params"],
            )

    def test_fixture_configurations(self):
        for fixture in ("video_tiny", "lvt_tiny", "lvt_primer_tiny"):
            checkpoint, config, _ = load_official(fixture)
            found = official_preset.official_config(
                official_preset.read_shapes(str(checkpoint))
            )
            expected = official_checkpoint.backbone_kwargs(
                config["official_class"].split(".")[-1],
                config["constructor_args"],
            )
            kwargs = official_checkpoint.backbone_kwargs(
                found["official_class"], found["constructor_args"]
            )
            self.assertEqual(kwargs, expected, fixture)


class OfficialPresetTest(TestCase):
    def test_video_encoder_matches_the_official_outputs(self):
        directory = hub_directory(
            self, "video_tiny", "flax_base_f16r288_repeated.npz"
        )
        backbone = VideoPrismBackbone.from_preset(directory)
        _, _, io = load_official("video_tiny")
        features = keras.ops.convert_to_numpy(
            backbone(io["a_native/inputs"])
        )
        self.assertAllClose(
            features.reshape(2, 64, 32),
            io["a_native/embeddings"],
            atol=FIXTURE_ATOL,
        )

    def test_video_text_model_matches_the_official_outputs(self):
        directory = hub_directory(
            self, "lvt_primer_tiny", "flax_lvt_base_f16r288_repeated.npz"
        )
        backbone = VideoPrismBackbone.from_preset(directory)
        self.assertEqual(backbone.text_norm_policy, "primer_hybrid")
        _, _, io = load_official("lvt_primer_tiny")
        prefix = "video/a_native/"
        embeddings = backbone.get_video_embeddings(io[f"{prefix}inputs"])
        self.assertAllClose(
            embeddings,
            io[f"{prefix}video_embeddings_normalized"],
            atol=FIXTURE_ATOL,
        )

    def test_classifier_checkpoint_is_a_clear_error(self):
        directory = hub_directory(self, "classifier_tiny", "flax_vc.npz")
        with self.assertRaisesRegex(ValueError, "from_official_checkpoint"):
            VideoPrismBackbone.from_preset(directory)

    def test_two_checkpoints_are_a_clear_error(self):
        directory = hub_directory(self, "video_tiny", "a.npz")
        shutil.copy(os.path.join(directory, "a.npz"), f"{directory}/b.npz")
        with self.assertRaisesRegex(ValueError, "several `.npz` files"):
            VideoPrismBackbone.from_preset(directory)

    def test_damaged_file_is_a_clear_error(self):
        directory = self.get_temp_dir()
        with open(os.path.join(directory, "flax_x.npz"), "wb") as file:
            file.write(b"not a zip archive")
        with self.assertRaisesRegex(ValueError, "truncated or of another"):
            VideoPrismBackbone.from_preset(directory)
