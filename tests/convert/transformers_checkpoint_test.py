import contextlib
import io
import json
import os
import shutil
import tempfile

import keras
import numpy as np
import pytest

from keras_videoprism import cli
from keras_videoprism.convert import from_transformers_checkpoint
from keras_videoprism.convert import load_classifier_weights
from keras_videoprism.convert import transformers_checkpoint
from keras_videoprism.layers import VideoPrismAttentionPooler
from keras_videoprism.models import VideoPrismBackbone
from keras_videoprism.models import VideoPrismPreprocessor
from keras_videoprism.models import VideoPrismTokenizer
from keras_videoprism.models import video_prism_preset_loader
from keras_videoprism.models.video_prism_video_classifier import (
    VideoPrismVideoClassifier,
)
from keras_videoprism.models.video_prism_video_text_retriever import (
    VideoPrismVideoTextRetriever,
)
from tests.configs import TRANSFORMERS_TEXT as TEXT
from tests.configs import TRANSFORMERS_VISION as VISION
from tests.convert.transformers_tokenizer_test import (
    save_transformers_tokenizer,
)
from tests.test_case import FIXTURE_ATOL
from tests.test_case import TestCase
from tests.test_case import official_path
from tests.test_case import shared_test_spm_path

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

T5_STYLE_SPM = official_path("videoprism_test_t5style.model")


def official_position_table(length, dim):
    """The official sinusoidal table (specification, section 9)."""
    half = dim // 2
    inverse = np.exp(-np.arange(half) * np.log(1e4) / max(half - 1, 1))
    angles = np.arange(length)[:, None] * inverse[None, :]
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=-1)


def transformers_position_table(length, dim):
    """transformers' `create_sinusoidal_positions`, in numpy."""
    inverse = 1.0 / 10000 ** (np.arange(0, dim, 2) / dim)
    angles = np.arange(length)[:, None] * inverse[None, :]
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=-1)


def save_random(model, directory, seed=0):
    """Randomizes every parameter (LayerNorms too) and saves the model."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            parameter.copy_(0.3 * noise)
    model.eval().save_pretrained(directory)
    return model


def videos(seed=1):
    rng = np.random.default_rng(seed)
    ours = rng.uniform(size=(2, 2, 8, 12, 3)).astype("float32")
    theirs = torch.from_numpy(ours.transpose(0, 1, 4, 2, 3).copy())
    return ours, theirs


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


class TransformersVisionModelTest(TestCase):
    def test_features_match(self):
        directory = self.get_temp_dir()
        config = transformers.VideoPrismVisionConfig(**VISION)
        model = save_random(
            transformers.VideoPrismVisionModel(config), directory
        )
        backbone = VideoPrismBackbone.from_preset(directory)
        self.assertFalse(backbone.has_text_encoder)
        ours, theirs = videos()
        with torch.no_grad():
            expected = model(pixel_values_videos=theirs).last_hidden_state
        features = to_numpy(backbone(ours))
        self.assertEqual(features.shape, (2, 2, 6, 16))
        self.assertAllClose(
            features.reshape(2, 12, 16), expected.numpy(), atol=FIXTURE_ATOL
        )
        self.assertGreater(float(expected.std()), 0.5)

    def test_unsupported_configurations(self):
        tanh = dict(VISION, hidden_act="gelu_pytorch_tanh")
        with self.assertRaisesRegex(ValueError, "exact GELU only"):
            transformers_checkpoint.backbone_kwargs(tanh)
        video_model = dict(VISION, architectures=["VideoPrismVideoModel"])
        with self.assertRaisesRegex(ValueError, "VideoPrismVideoModel"):
            transformers_checkpoint.backbone_kwargs(video_model)


class TransformersClipModelTest(TestCase):
    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.mkdtemp()
        config = transformers.VideoPrismConfig(
            vision_config=VISION, text_config=TEXT
        )
        cls.model = save_random(
            transformers.VideoPrismClipModel(config), cls.directory
        )
        # Its tokenizer, as transformers saves it: `tokenizer.json` and
        # `tokenizer_config.json`, no `spiece.model`.
        save_transformers_tokenizer(T5_STYLE_SPM, cls.directory)
        rng = np.random.default_rng(2)
        cls.token_ids = rng.integers(1, 50, (2, 6))
        cls.mask = np.array([[1] * 6, [1] * 4 + [0] * 2])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.directory, ignore_errors=True)

    def run_transformers(self, theirs):
        with torch.no_grad():
            return self.model(
                pixel_values_videos=theirs,
                input_ids=torch.from_numpy(self.token_ids),
                attention_mask=torch.from_numpy(self.mask),
            )

    def test_embeddings(self):
        backbone = from_transformers_checkpoint(self.directory)
        ours, theirs = videos()
        outputs = backbone(
            {
                "pixel_values": ours,
                "token_ids": self.token_ids.astype("int32"),
                "padding_mask": self.mask.astype("int32"),
            }
        )
        expected = self.run_transformers(theirs)
        self.assertAllClose(
            outputs["vision_embeddings"],
            expected.video_embeds.numpy(),
            atol=FIXTURE_ATOL,
        )
        # Our text tower follows the official position table: compare with
        # transformers running on that table.
        embeddings = self.model.text_model.embeddings
        stock = embeddings.position_embedding.clone()
        official = official_position_table(stock.shape[0], 16)
        with torch.no_grad():
            embeddings.position_embedding.copy_(torch.from_numpy(official))
        try:
            reference = self.run_transformers(theirs).text_embeds.numpy()
        finally:
            with torch.no_grad():
                embeddings.position_embedding.copy_(stock)
        text = to_numpy(outputs["text_embeddings"])
        self.assertAllClose(text, reference, atol=FIXTURE_ATOL)
        # transformers' own table moves its text embeddings away from the
        # official ones (by 0.013 on this model).
        deviation = np.abs(expected.text_embeds.numpy() - text).max()
        self.assertGreater(deviation, 1e-3)
        self.assertLess(deviation, 0.05)

    def test_position_tables_differ(self):
        # At the production width the tables differ by up to 0.060.
        official = official_position_table(64, 768)
        theirs = transformers_position_table(64, 768)
        self.assertAllClose(
            np.abs(official - theirs).max(), 0.0604, atol=5e-4, rtol=0
        )

    def test_tokenizer_from_tokenizer_json(self):
        self.assertNotIn("spiece.model", os.listdir(self.directory))
        tokenizer = video_prism_preset_loader.from_preset(
            VideoPrismTokenizer, self.directory
        )
        with open(official_path("tokenizer_t5style.config.json")) as f:
            strings = json.load(f)["strings"]
        expected = np.load(official_path("tokenizer_t5style.io.npz"))
        self.assertAllEqual(
            tokenizer.pack(strings)["token_ids"], expected["ids_64"]
        )

    def test_preprocessor_and_retriever(self):
        preprocessor = VideoPrismPreprocessor.from_preset(self.directory)
        retriever = VideoPrismVideoTextRetriever.from_preset(self.directory)
        packed = preprocessor.tokenizer.pack(["Two cats."])
        expected = retriever.backbone.get_text_embeddings(
            packed["token_ids"], packed["padding_mask"]
        )
        self.assertAllClose(retriever.embed_texts(["Two cats."]), expected)

    @pytest.mark.skipif(
        shared_test_spm_path() is None, reason="needs ../shared fixtures"
    )
    def test_tokenizer_of_another_vocabulary_is_refused(self):
        directory = self.get_temp_dir()
        shutil.copytree(self.directory, directory, dirs_exist_ok=True)
        save_transformers_tokenizer(shared_test_spm_path(), directory)
        for load in (
            lambda: VideoPrismTokenizer.from_preset(directory),
            lambda: VideoPrismPreprocessor.from_preset(directory),
            lambda: VideoPrismVideoTextRetriever.from_preset(directory),
        ):
            with self.assertRaisesRegex(ValueError, "1,000 ids.* 256"):
                load()

    def test_missing_tokenizer(self):
        directory = self.get_temp_dir()
        for name in ("config.json", "model.safetensors"):
            shutil.copy(os.path.join(self.directory, name), directory)
        with self.assertRaisesRegex(FileNotFoundError, "tokenizer.json"):
            video_prism_preset_loader.from_preset(
                VideoPrismTokenizer, directory
            )
        # `convert` refuses to write a preset without it, unless told.
        output = os.path.join(self.get_temp_dir(), "preset")
        stderr = io.StringIO()
        with (
            contextlib.redirect_stderr(stderr),
            contextlib.redirect_stdout(io.StringIO()),
            self.assertRaises(SystemExit) as context,
        ):
            cli.main(["convert", directory, output])
        self.assertEqual(context.exception.code, 2)
        self.assertRegex(
            stderr.getvalue(),
            "^keras-videoprism convert: error: .*tokenizer.json.*"
            "--no-tokenizer.*\n$",
        )
        self.assertFalse(os.path.exists(output))
        with contextlib.redirect_stdout(io.StringIO()):
            cli.main(["convert", directory, output, "--no-tokenizer"])
        self.assertNotIn("tokenizer.json", os.listdir(output))

    def test_convert_writes_the_tokenizer(self):
        output = os.path.join(self.get_temp_dir(), "preset")
        with contextlib.redirect_stdout(io.StringIO()):
            cli.main(["convert", self.directory, output])
        tokenizer = VideoPrismTokenizer.from_preset(output)
        with open(official_path("tokenizer_t5style.config.json")) as f:
            strings = json.load(f)["strings"]
        expected = np.load(official_path("tokenizer_t5style.io.npz"))
        self.assertAllEqual(
            tokenizer.pack(strings)["token_ids"], expected["ids_64"]
        )


def classifier_checkpoint(directory, **overrides):
    config = transformers.VideoPrismVisionConfig(
        **dict(VISION, **overrides), num_labels=3
    )
    return save_random(
        transformers.VideoPrismForVideoClassification(config), directory
    )


def logits_of(model, theirs):
    with torch.no_grad():
        return model(pixel_values_videos=theirs).logits.numpy()[:, 0]


class TransformersClassifierTest(TestCase):
    def test_weights_with_transformers_pooler_width(self):
        # transformers' pooler is `intermediate_size` (64) wide.
        directory = self.get_temp_dir()
        model = classifier_checkpoint(directory)
        with open(os.path.join(directory, "config.json")) as file:
            config = json.load(file)
        backbone = VideoPrismBackbone(
            **transformers_checkpoint.backbone_kwargs(config)
        )
        pooler = VideoPrismAttentionPooler(
            hidden_dim=16, num_heads=2, attention_dim=64
        )
        output_dense = keras.layers.Dense(3)
        tokens = keras.layers.Reshape((-1, 16))(backbone.output)
        classifier = keras.Model(backbone.input, output_dense(pooler(tokens)))
        classifier.backbone = backbone
        classifier.pooler = pooler
        classifier.output_dense = output_dense
        weights = transformers_checkpoint.read_safetensors(directory)
        load_classifier_weights(classifier, weights, config)
        ours, theirs = videos()
        mask = np.ones((2, 2), "int32")
        logits = classifier({"pixel_values": ours, "frame_padding_mask": mask})
        self.assertAllClose(logits, logits_of(model, theirs), atol=FIXTURE_ATOL)

    def test_into_video_classifier_task(self):
        # transformers' pooler is `intermediate_size` (64) wide where the
        # official one is hidden_size (16) wide: the task takes either.
        directory = self.get_temp_dir()
        model = classifier_checkpoint(directory)
        classifier = VideoPrismVideoClassifier.from_preset(directory)
        self.assertEqual(classifier.num_classes, 3)
        self.assertEqual(classifier.pooler.attention_dim, 64)
        ours, theirs = videos()
        self.assertAllClose(
            classifier(ours), logits_of(model, theirs), atol=FIXTURE_ATOL
        )
        # The backbone alone: the video encoder, head left out.
        backbone = VideoPrismBackbone.from_preset(directory)
        self.assertAllClose(backbone(ours), classifier.backbone(ours), atol=0)

    def test_pooler_width_mismatch_is_explained(self):
        directory = self.get_temp_dir()
        classifier_checkpoint(directory)
        with self.assertRaisesRegex(
            ValueError, "intermediate_size=64.*attention_dim=16"
        ):
            VideoPrismVideoClassifier.from_preset(
                directory, pooler_attention_dim=16
            )
