"""Presets saved by an earlier version of the package keep loading.

`tests/data/presets_0fafc0a/` was written by `tools/make_legacy_presets.py`
with the code of commit 0fafc0a, before the package's modules were laid out
again. Loaded by today's code, the models must give the official fixture
outputs, and the preprocessors the official token ids.
"""

import json

import keras
import numpy as np

from keras_videoprism.models import VideoClassifier
from keras_videoprism.models import VideoPrismBackbone
from keras_videoprism.models import VideoPrismPreprocessor
from keras_videoprism.models import VideoPrismVideoClassifierPreprocessor
from keras_videoprism.models import VideoTextRetriever
from tests.test_case import DATA_DIR
from tests.test_case import FIXTURE_ATOL
from tests.test_case import TestCase
from tests.test_case import load_official
from tests.test_case import official_path

LEGACY_DIR = DATA_DIR / "presets_0fafc0a"
CLASSIFIER = str(LEGACY_DIR / "video_classifier")
RETRIEVER = str(LEGACY_DIR / "video_text_retriever")


class LegacyPresetsTest(TestCase):
    def test_video_classifier_preset(self):
        _, _, io = load_official("classifier_tiny")
        video = io["a_native/inputs"]
        classifier = VideoClassifier.from_preset(CLASSIFIER)
        self.assertAllClose(
            classifier.predict(video, verbose=0),
            io["a_native/logits"],
            atol=FIXTURE_ATOL,
        )
        backbone = VideoPrismBackbone.from_preset(CLASSIFIER)
        features = keras.ops.convert_to_numpy(backbone(video))
        self.assertAllClose(
            features.reshape(io["a_native/spatiotemporal_features"].shape),
            io["a_native/spatiotemporal_features"],
            atol=FIXTURE_ATOL,
        )
        # The saved preprocessor samples frames like the official rule.
        preprocessor = VideoPrismVideoClassifierPreprocessor.from_preset(
            CLASSIFIER
        )
        frames = np.broadcast_to(
            np.arange(8, dtype="uint8")[:, None, None, None], (8, 16, 16, 3)
        )
        pixel_values = keras.ops.convert_to_numpy(
            preprocessor(frames)["pixel_values"]
        )
        self.assertAllClose(pixel_values[:, 0, 0, 0], np.array([0, 2, 4, 6]) / 255.0)

    def test_video_text_retriever_preset(self):
        _, _, io = load_official("lvt_tiny")
        retriever = VideoTextRetriever.from_preset(RETRIEVER)
        video = io["video/a_native/inputs"]
        self.assertAllClose(
            retriever.backbone.get_video_embeddings(video),
            io["video/a_native/video_embeddings_normalized"],
            atol=FIXTURE_ATOL,
        )
        ids = io["text/t16/token_ids"]
        mask = (1 - io["text/t16/paddings"]).astype("int32")
        self.assertAllClose(
            retriever.backbone.get_text_embeddings(ids, mask),
            io["text/t16/text_embeddings_normalized"],
            atol=FIXTURE_ATOL,
        )
        # The saved tokenizer gives the official token ids.
        with open(official_path("tokenizer_t5style.config.json")) as f:
            strings = json.load(f)["strings"]
        expected = np.load(official_path("tokenizer_t5style.io.npz"))
        preprocessor = VideoPrismPreprocessor.from_preset(RETRIEVER)
        packed = preprocessor({"prompts": strings}, sequence_length=16)
        self.assertAllClose(packed["token_ids"], expected["ids_16"])
