import json
import os

import pytest

from keras_videoprism.convert import transformers_config
from keras_videoprism.models import VideoPrismBackbone
from tests.configs import TRANSFORMERS_TEXT as TEXT
from tests.configs import TRANSFORMERS_VISION as VISION
from tests.test_case import TestCase

transformers = pytest.importorskip("transformers")
pytest.importorskip("torch")


def rewrite(path, old, new):
    with open(path) as file:
        text = file.read()
    assert old in text, old
    with open(path, "w") as file:
        file.write(text.replace(old, new, 1))


class KeyTablesTest(TestCase):
    def test_tables_hold_what_transformers_writes(self):
        generic = set(transformers_config.GENERIC_KEYS)
        for config, keys in [
            (
                transformers.VideoPrismVisionConfig(),
                transformers_config.VISION_KEYS,
            ),
            (
                transformers.VideoPrismTextConfig(),
                transformers_config.TEXT_KEYS,
            ),
            (transformers.VideoPrismConfig(), transformers_config.CLIP_KEYS),
        ]:
            with self.subTest(type(config).__name__):
                written = set(config.to_dict())
                self.assertEqual(written - generic - set(keys), set())


class StrictTransformersConfigTest(TestCase):
    """Checkpoints written by transformers' `save_pretrained()`, edited."""

    def test_vision_model(self):
        directory = os.path.join(self.get_temp_dir(), "vision")
        config = transformers.VideoPrismVisionConfig(**VISION)
        transformers.VideoPrismVisionModel(config).save_pretrained(directory)
        path = os.path.join(directory, "config.json")
        VideoPrismBackbone.from_preset(directory, load_weights=False)
        rewrite(path, '"attn_logit_softcapping"', '"attn_logit_softcaping"')
        with self.assertRaisesRegex(
            ValueError,
            f"^{path} has an unknown key 'attn_logit_softcaping' \\(did you "
            "mean 'attn_logit_softcapping'\\?\\)",
        ):
            VideoPrismBackbone.from_preset(directory)

    def test_clip_model(self):
        directory = os.path.join(self.get_temp_dir(), "clip")
        config = transformers.VideoPrismConfig(
            vision_config=VISION, text_config=TEXT
        )
        transformers.VideoPrismClipModel(config).save_pretrained(directory)
        path = os.path.join(directory, "config.json")
        with open(path) as file:
            saved = json.load(file)
        del saved["text_config"]["vocab_size"]
        with open(path, "w") as file:
            json.dump(saved, file)
        with self.assertRaisesRegex(
            ValueError,
            f"^{path} \\(text_config\\) lacks the required key\\(s\\) "
            "'vocab_size'",
        ):
            VideoPrismBackbone.from_preset(directory)
