import os
import shutil
import tempfile
import unittest

import keras
import keras_hub
import numpy as np
import pytest

from keras_videoprism.convert import from_keras_hub_preset
from keras_videoprism.models import VideoPrismBackbone
from keras_videoprism.models import VideoPrismTokenizer
from keras_videoprism.models import video_prism_preset_loader
from keras_videoprism.models.video_prism_preprocessor import (
    VideoPrismPreprocessor,
)
from tests.test_case import FIXTURE_ATOL
from tests.test_case import SHARED_OFFICIAL_DIR
from tests.test_case import TestCase
from tests.test_case import shared_test_spm_path

KERAS_HUB_TINY = dict(
    num_frames=2,
    patch_size=4,
    hidden_dim=16,
    intermediate_dim=64,
    num_heads=2,
    num_spatial_layers=2,
    num_temporal_layers=1,
    num_auxiliary_layers=1,
    attention_logit_soft_cap=50.0,
    image_shape=(8, 12, 3),
)
# Room for exactly the 256 ids of the T5-style test tokenizer.
KERAS_HUB_TINY_TEXT = dict(
    KERAS_HUB_TINY, vocabulary_size=256, num_text_layers=2
)
# keras-hub's extra text LayerNorm, left at its initialization by its
# converter (see `keras_videoprism/convert/keras_hub_preset.py`).
EXTRA_TEXT_NORM = "text_encoder/ln/"
T5_STYLE_SPM = SHARED_OFFICIAL_DIR / "videoprism_test_t5style.model"


def l2_normalize(x):
    x = keras.ops.convert_to_numpy(x)
    return x / np.sqrt(np.sum(x * x, axis=-1, keepdims=True) + 1e-12)


def keras_hub_preset(directory, seed=0, **kwargs):
    """A keras-hub VideoPrism preset with random weights everywhere."""
    backbone = keras_hub.models.VideoPrismBackbone(**kwargs)
    rng = np.random.default_rng(seed)
    for weight in backbone.weights:
        if weight.path.startswith(EXTRA_TEXT_NORM):
            continue
        value = rng.normal(0.0, 0.3, weight.shape)
        if weight.path.endswith("gamma"):
            value += 1.0
        weight.assign(value.astype("float32"))
    backbone.save_to_preset(directory)
    return backbone


def video(frames=2, height=8, width=12, seed=1):
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(2, frames, height, width, 3)).astype("float32")


class KerasHubPresetTestCase(TestCase):
    """Writes one keras-hub preset of `CONFIG` for the class's tests."""

    CONFIG = None

    @classmethod
    def setUpClass(cls):
        if cls.CONFIG is None:
            raise unittest.SkipTest("The base class has no preset to write.")
        cls.preset = tempfile.mkdtemp()
        cls.source = keras_hub_preset(cls.preset, **cls.CONFIG)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.preset, ignore_errors=True)


class KerasHubVideoPresetTest(KerasHubPresetTestCase):
    CONFIG = KERAS_HUB_TINY

    def test_outputs_match(self):
        backbone = VideoPrismBackbone.from_preset(self.preset)
        self.assertIsInstance(backbone, VideoPrismBackbone)
        inputs = video()
        expected = self.source(inputs)
        self.assertEqual(tuple(expected.shape), (2, 2, 6, 16))
        self.assertAllClose(backbone(inputs), expected, atol=FIXTURE_ATOL)

    def test_only_keras_hub_presets(self):
        ours = self.get_temp_dir()
        from_keras_hub_preset(self.preset).save_to_preset(ours)
        with self.assertRaisesRegex(ValueError, "not a keras-hub VideoPrism"):
            from_keras_hub_preset(ours)


class KerasHubVideoTextPresetTest(KerasHubPresetTestCase):
    CONFIG = KERAS_HUB_TINY_TEXT

    def test_normalized_outputs_match(self):
        backbone = VideoPrismBackbone.from_preset(self.preset)
        rng = np.random.default_rng(2)
        inputs = {
            "pixel_values": video(),
            "token_ids": rng.integers(1, 256, (2, 6)).astype("int32"),
            "padding_mask": np.array([[1] * 6, [1] * 4 + [0] * 2], "int32"),
        }
        expected = self.source(inputs)
        outputs = backbone(inputs)
        for key in ("vision_embeddings", "text_embeddings"):
            self.assertAllClose(
                outputs[key], l2_normalize(expected[key]), atol=FIXTURE_ATOL
            )
        # keras-hub leaves its embeddings unnormalized; ours have norm 1.
        norms = np.linalg.norm(
            keras.ops.convert_to_numpy(expected["vision_embeddings"]), axis=-1
        )
        self.assertGreater(np.abs(norms - 1.0).max(), 0.1)

    def test_trained_extra_text_norm_is_refused(self):
        source = keras_hub.models.VideoPrismBackbone.from_preset(self.preset)
        for weight in source.weights:
            if weight.path == f"{EXTRA_TEXT_NORM}gamma":
                weight.assign(np.full(weight.shape, 1.5, "float32"))
        preset = self.get_temp_dir()
        source.save_to_preset(preset)
        with self.assertRaisesRegex(ValueError, "not at its initialization"):
            VideoPrismBackbone.from_preset(preset)

    def test_text_mlp_width_must_be_four_times_hidden(self):
        preset = self.get_temp_dir()
        keras_hub_preset(
            preset, **dict(KERAS_HUB_TINY_TEXT, intermediate_dim=32)
        )
        with self.assertRaisesRegex(ValueError, "4 \\* hidden_dim = 64"):
            VideoPrismBackbone.from_preset(preset)

    @pytest.mark.skipif(
        not T5_STYLE_SPM.exists(), reason="needs ../shared fixtures"
    )
    def test_tokenizer_and_preprocessor(self):
        preset = self.get_temp_dir()
        shutil.copytree(self.preset, preset, dirs_exist_ok=True)
        keras_hub.models.VideoPrismTokenizer(
            proto=str(T5_STYLE_SPM)
        ).save_to_preset(preset)
        tokenizer = video_prism_preset_loader.from_preset(
            VideoPrismTokenizer, preset
        )
        self.assertIsInstance(tokenizer, VideoPrismTokenizer)
        expected = VideoPrismTokenizer(proto=str(T5_STYLE_SPM)).pack(
            ["A dog, running!"]
        )
        packed = tokenizer.pack(["A dog, running!"])
        self.assertAllClose(packed["token_ids"], expected["token_ids"])
        mask = keras.ops.convert_to_numpy(packed["padding_mask"])
        self.assertGreater(int(mask.sum()), 2)
        preprocessor = VideoPrismPreprocessor.from_preset(preset)
        self.assertEqual(preprocessor.video_converter.num_frames, 2)
        self.assertEqual(preprocessor.video_converter.image_size, (8, 12))

    @pytest.mark.skipif(
        shared_test_spm_path() is None, reason="needs ../shared fixtures"
    )
    def test_tokenizer_of_another_vocabulary_is_refused(self):
        preset = self.get_temp_dir()
        shutil.copytree(self.preset, preset, dirs_exist_ok=True)
        keras_hub.models.VideoPrismTokenizer(
            proto=str(shared_test_spm_path())
        ).save_to_preset(preset)
        for cls in (VideoPrismTokenizer, VideoPrismPreprocessor):
            with self.assertRaisesRegex(ValueError, "1,000 ids.* 256"):
                video_prism_preset_loader.from_preset(cls, preset)

    def test_missing_tokenizer_is_a_clear_error(self):
        with self.assertRaisesRegex(FileNotFoundError, "no tokenizer model"):
            video_prism_preset_loader.from_preset(
                VideoPrismTokenizer, self.preset
            )
        self.assertFalse(os.path.exists(os.path.join(self.preset, "assets")))


class KerasHubPresetFaultsTest(TestCase):
    """A keras-hub preset (its own `save_to_preset()`), then damaged."""

    def setUp(self):
        super().setUp()
        self.preset = os.path.join(self.get_temp_dir(), "keras_hub")
        keras_hub_preset(self.preset, **KERAS_HUB_TINY)
        self.config = os.path.join(self.preset, "config.json")

    def test_misspelt_and_missing_keys(self):
        with open(self.config) as file:
            original = file.read()
        misspelt = original.replace(
            '"attention_logit_soft_cap"', '"attention_logit_softcap"'
        )
        missing = original.replace('"num_heads": 2,', "")
        for text, expected in [
            (
                misspelt,
                "has an unknown key 'attention_logit_softcap' \\(did you "
                "mean 'attention_logit_soft_cap'\\?\\)",
            ),
            (missing, "lacks the required key\\(s\\) 'num_heads'"),
        ]:
            self.assertNotEqual(text, original)
            with open(self.config, "w") as file:
                file.write(text)
            with self.subTest(expected):
                with self.assertRaisesRegex(
                    ValueError,
                    f"^{self.config} \\(keras-hub `VideoPrismBackbone` "
                    f"config\\) {expected}",
                ):
                    VideoPrismBackbone.from_preset(self.preset)

    def test_truncated_weights(self):
        weights = os.path.join(self.preset, "model.weights.h5")
        with open(weights, "rb") as file:
            data = file.read()
        with open(weights, "wb") as file:
            file.write(data[: len(data) // 2])
        with self.assertRaisesRegex(
            ValueError,
            f"^Could not read the weights file '{weights}' of the keras-hub "
            "preset .*re-download / re-save the preset",
        ):
            VideoPrismBackbone.from_preset(self.preset)
