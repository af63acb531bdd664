"""`VideoPrismVideoTextRetriever`: official parity, training and errors."""

import json
import os
import unittest

import keras
import numpy as np

from keras_videoprism.convert.official_checkpoint import (
    from_official_checkpoint,
)
from keras_videoprism.models.video_prism_video_converter import (
    VideoPrismVideoConverter,
)
from keras_videoprism.losses import SigmoidContrastiveLoss
from keras_videoprism.losses import SoftmaxContrastiveLoss
from keras_videoprism.models.video_prism_backbone import VideoPrismBackbone
from keras_videoprism.models.video_prism_preprocessor import (
    VideoPrismPreprocessor,
)
from keras_videoprism.models.video_prism_tokenizer import VideoPrismTokenizer
from keras_videoprism.models.video_prism_video_text_retriever import (
    VideoPrismVideoTextRetriever,
)
from keras_videoprism.models.video_text_retriever import VideoTextRetriever
from keras_videoprism.utils.video_io import sample_video_path
from tests.models.video_prism_preprocessor_test import T5STYLE_MODEL
from tests.models.video_prism_preprocessor_test import tiny_preprocessor
from tests.configs import PROMPTS
from tests.configs import TINY_CONVERTER
from tests.configs import TINY_VIDEO
from tests.configs import TINY_VIDEO_TEXT
from tests.configs import random_pixel_values
from tests.configs import random_videos
from tests.test_case import FIXTURE_ATOL
from tests.test_case import TestCase
from tests.test_case import load_official
from tests.test_case import shared_test_spm_path

# Every case without padded frames: the task samples a fixed frame count.
VIDEO_CASES = ("a_native", "b_interp_grow", "d_interp_shrink")
TEXT_CASES = ("t16", "t64")

COLOURS = {
    "red": (230, 30, 30),
    "green": (30, 200, 30),
    "blue": (30, 30, 230),
    "yellow": (230, 230, 30),
    "white": (240, 240, 240),
    "purple": (150, 30, 200),
}


def colour_videos(repeats, seed):
    """Noisy videos of each colour, and captions naming the colour.

    Each run of `len(COLOURS)` videos holds every colour once, so batches
    of that size hold no two pairs that match each other.
    """
    rng = np.random.default_rng(seed)
    videos, captions = [], []
    for _ in range(repeats):
        for name, colour in COLOURS.items():
            noise = rng.integers(-30, 30, (2, 16, 16, 3))
            videos.append(np.clip(noise + colour, 0, 255).astype("uint8"))
            captions.append(f"a {name} video")
    return np.stack(videos), captions


@unittest.skipIf(
    shared_test_spm_path() is None,
    "The official `test_spm.model` (which the lvt_tiny token ids come from) "
    "is read from ../shared/fixtures/videoprism_official and is absent.",
)
class OfficialParityTest(TestCase):
    """Embeddings and similarities of the official `lvt_tiny` model."""

    def setUp(self):
        super().setUp()
        checkpoint, self.config, self.io = load_official("lvt_tiny")
        self.backbone = from_official_checkpoint(checkpoint, self.config)
        self.tokenizer = VideoPrismTokenizer(proto=str(shared_test_spm_path()))

    def make_task(self, video_shape, sequence_length=64):
        """A task whose converter is the identity on fixture-sized videos."""
        _, num_frames, height, width, _ = video_shape
        converter = VideoPrismVideoConverter(
            num_frames=num_frames, image_size=(height, width)
        )
        preprocessor = VideoPrismPreprocessor(
            self.tokenizer, converter, sequence_length=sequence_length
        )
        return VideoPrismVideoTextRetriever(self.backbone, preprocessor)

    def official_videos(self, case):
        return self.io[f"video/{case}/inputs"]

    def official_texts(self, case):
        return self.config["text_cases"][case]["texts"]

    def test_video_embeddings(self):
        for case in VIDEO_CASES:
            with self.subTest(case):
                videos = self.official_videos(case)
                task = self.make_task(videos.shape)
                self.assertAllClose(
                    task.embed_videos(videos),
                    self.io[f"video/{case}/video_embeddings_normalized"],
                    atol=FIXTURE_ATOL,
                )

    def test_text_embeddings_from_raw_texts(self):
        for case in TEXT_CASES:
            with self.subTest(case):
                length = self.config["text_cases"][case]["max_length"]
                task = self.make_task((1, 4, 16, 16, 3), length)
                texts = self.official_texts(case)
                tokens = task.preprocessor({"prompts": texts})
                np.testing.assert_array_equal(
                    tokens["token_ids"], self.io[f"text/{case}/token_ids"]
                )
                self.assertAllClose(
                    task.embed_texts(texts, batch_size=2),
                    self.io[f"text/{case}/text_embeddings_normalized"],
                    atol=FIXTURE_ATOL,
                )

    def test_similarities_classify_and_retrieve(self):
        videos = self.official_videos("a_native")
        texts = self.official_texts("t64")
        task = self.make_task(videos.shape)
        official = (
            self.io["video/a_native/video_embeddings_normalized"]
            @ self.io["text/t64/text_embeddings_normalized"].T
        )
        similarities = task.similarity(
            task.embed_videos(videos), task.embed_texts(texts)
        )
        self.assertAllClose(similarities, official, atol=FIXTURE_ATOL)

        # Zero-shot: softmax over prompts of similarity / 0.01; with the
        # template "{}" the labels are the prompts themselves.
        expected = keras.ops.convert_to_numpy(
            keras.ops.softmax(official / 0.01, axis=-1)
        )
        probabilities = task.classify(videos, texts, template="{}")
        self.assertAllClose(probabilities, expected, atol=5e-3)
        np.testing.assert_array_equal(
            probabilities.argmax(axis=1), expected.argmax(axis=1)
        )
        self.assertAllClose(probabilities.sum(axis=1), np.ones(2), atol=1e-5)

        scores, indices = task.retrieve(
            task.embed_texts(texts), task.embed_videos(videos), top_k=5
        )
        self.assertEqual(indices.shape, (3, 2))
        np.testing.assert_array_equal(indices, np.argsort(-official.T, 1))
        self.assertAllClose(scores, -np.sort(-official.T, 1), atol=5e-5)


class ContrastiveTrainingTest(TestCase):
    def make_task(self, **kwargs):
        return VideoPrismVideoTextRetriever(
            VideoPrismBackbone(**TINY_VIDEO_TEXT), tiny_preprocessor(), **kwargs
        )

    def recall_at_1(self, task):
        """Held-out text-to-video recall@1 among 2 videos per colour."""
        videos, captions = colour_videos(repeats=2, seed=99)
        queries = task.embed_texts(captions[: len(COLOURS)])
        index = task.embed_videos(videos, batch_size=len(COLOURS))
        _, indices = task.retrieve(queries, index, top_k=1)
        found = indices[:, 0] % len(COLOURS)
        return np.mean(found == np.arange(len(COLOURS)))

    def test_fit_lowers_loss_and_lifts_recall(self):
        # A random backbone starts with near-identical embeddings: a
        # warmer start than the official 0.01 lets it train in seconds.
        task = self.make_task(initial_temperature=0.1)
        task.compile(optimizer=keras.optimizers.Adam(3e-3))
        videos, captions = colour_videos(repeats=8, seed=0)
        history = task.fit(
            {"videos": videos, "prompts": captions},
            batch_size=len(COLOURS),
            epochs=6,
            shuffle=False,
            verbose=0,
        )
        losses = history.history["loss"]
        # Over 15 runs (seeds x backends), the loss fell to at most 0.31
        # of its start and recall@1 reached at least 4 / 6.
        self.assertLess(losses[-1], 0.7 * losses[0])
        # Chance is 1 / 6.
        self.assertGreaterEqual(self.recall_at_1(task), 0.5)
        self.assertNotEqual(task.temperature, 0.1)

    def test_compute_loss(self):
        task = self.make_task()
        rng = np.random.default_rng(0)
        y_pred = {
            "vision_embeddings": rng.normal(size=(4, 16)).astype("float32"),
            "text_embeddings": rng.normal(size=(4, 16)).astype("float32"),
        }
        task.logits.log_scale.assign(np.log(20.0))
        task.logits.bias.assign(-3.0)
        logits = (
            20.0 * y_pred["vision_embeddings"] @ y_pred["text_embeddings"].T
            - 3.0
        )
        ids = np.array([0, 1, 0, 2])
        same_id = (ids[:, None] == ids[None, :]).astype("float32")
        for name, loss in (
            ("softmax", SoftmaxContrastiveLoss()),
            ("sigmoid", SigmoidContrastiveLoss()),
        ):
            with self.subTest(name):
                task.compile(loss=name)
                # By default pair i matches only pair i; with ids, pairs
                # of equal ids match.
                self.assertAllClose(
                    task.compute_loss(y_pred=y_pred),
                    loss(np.eye(4), logits),
                    atol=1e-4,
                )
                self.assertAllClose(
                    task.compute_loss(y=ids, y_pred=y_pred),
                    loss(same_id, logits),
                    atol=1e-4,
                )

    def test_metrics_see_similarities(self):
        task = self.make_task()
        task.compile(metrics=[keras.metrics.CategoricalAccuracy()])
        videos, captions = colour_videos(repeats=1, seed=0)
        logs = task.evaluate(
            {"videos": videos, "prompts": captions},
            batch_size=6,
            verbose=0,
            return_dict=True,
        )
        self.assertIn("categorical_accuracy", logs)
        self.assertGreaterEqual(logs["categorical_accuracy"], 0.0)
        self.assertGreater(logs["loss"], 0.0)


class RetrieverTest(TestCase):
    @classmethod
    def setUpClass(cls):
        # Shared, so that its compiled towers are reused; tests that change
        # a task make their own.
        super().setUpClass()
        keras.utils.set_random_seed(1337)
        cls.task = VideoPrismVideoTextRetriever(
            VideoPrismBackbone(**TINY_VIDEO_TEXT), tiny_preprocessor()
        )

    def test_embedding_shapes_and_norms(self):
        videos = random_videos((2, 5, 24, 20, 3))
        embeddings = self.task.embed_videos(videos)
        self.assertEqual(embeddings.shape, (2, 16))
        self.assertAllClose(
            np.linalg.norm(embeddings, axis=1), np.ones(2), atol=1e-5
        )
        # One video, a list of videos and a batch agree.
        self.assertAllClose(
            self.task.embed_videos(videos[1]), embeddings[1:2], atol=1e-5
        )
        self.assertAllClose(
            self.task.embed_videos(list(videos)), embeddings, atol=1e-5
        )
        texts = self.task.embed_texts(["a dog", "a cat"], batch_size=1)
        self.assertEqual(texts.shape, (2, 16))
        self.assertAllClose(
            self.task.embed_texts("a cat"), texts[1:2], atol=1e-5
        )

    def test_video_file_paths(self):
        path = sample_video_path()
        embeddings = self.task.embed_videos([path, path])
        self.assertEqual(embeddings.shape, (2, 16))
        self.assertAllClose(embeddings[0], embeddings[1], atol=1e-6)
        probabilities = self.task.classify(path, ["shapes", "a dog"])
        self.assertEqual(probabilities.shape, (1, 2))
        self.assertAllClose(probabilities.sum(), 1.0, atol=1e-5)

    def test_classify_uses_template_and_temperature(self):
        videos = random_videos((2, 2, 16, 16, 3))
        labels = ["cat", "dog"]
        similarities = self.task.similarity(
            self.task.embed_videos(videos),
            self.task.embed_texts([f"a video of {x}." for x in labels]),
        )
        for temperature in (None, 0.5):
            expected = keras.ops.softmax(
                similarities / (temperature or 0.01), axis=-1
            )
            self.assertAllClose(
                self.task.classify(videos, labels, temperature=temperature),
                expected,
                atol=1e-4,
            )

    def test_preset_round_trip(self):
        task = VideoPrismVideoTextRetriever(
            VideoPrismBackbone(**TINY_VIDEO_TEXT), tiny_preprocessor()
        )
        preset = self.get_temp_dir()
        task.logits.log_scale.assign(3.0)
        task.save_to_preset(preset)
        restored = VideoTextRetriever.from_preset(preset)
        self.assertIsInstance(restored, VideoPrismVideoTextRetriever)
        self.assertAllClose(restored.temperature, np.exp(-3.0), atol=1e-6)
        videos = random_videos((2, 3, 16, 16, 3))
        labels = ["a cat", "a dog"]
        self.assertAllClose(
            restored.classify(videos, labels),
            task.classify(videos, labels),
            atol=1e-6,
        )

    def test_config_round_trip(self):
        task = VideoPrismVideoTextRetriever(
            VideoPrismBackbone(**TINY_VIDEO_TEXT),
            tiny_preprocessor(),
            initial_temperature=0.07,
            initial_logit_bias=-3.0,
        )
        config = json.dumps(task.get_config())
        revived = VideoPrismVideoTextRetriever.from_config(json.loads(config))
        self.assertAllClose(revived.temperature, 0.07, atol=1e-6)
        self.assertEqual(json.dumps(revived.get_config()), config)


class RetrieverErrorsTest(TestCase):
    def setUp(self):
        super().setUp()
        self.task = VideoPrismVideoTextRetriever(
            VideoPrismBackbone(**TINY_VIDEO_TEXT), tiny_preprocessor()
        )
        self.video = random_videos((2, 16, 16, 3))

    def test_bad_labels(self):
        with self.assertRaisesRegex(ValueError, "non-empty list of strings"):
            self.task.classify(self.video, [])
        with self.assertRaisesRegex(ValueError, "non-empty list of strings"):
            self.task.classify(self.video, "cat")
        with self.assertRaisesRegex(ValueError, r"only strings.*`str\(\)`"):
            self.task.classify(self.video, ["cat", 3])
        for template in ("a video.", "{} in {place}", "{} and {}", "{0}"):
            with self.assertRaisesRegex(ValueError, "exactly one `{}`"):
                self.task.classify(self.video, ["cat"], template=template)
        with self.assertRaisesRegex(ValueError, "positive number"):
            self.task.classify(self.video, ["cat"], temperature=0.0)
        with self.assertRaisesRegex(ValueError, "non-empty list of strings"):
            self.task.embed_texts([])

    def test_bad_video_rank(self):
        for shape in ((16, 16, 3), (1, 1, 2, 16, 16, 3)):
            with self.assertRaisesRegex(ValueError, r"\(B, T, H, W, 3\)"):
                self.task.embed_videos(random_videos(shape))
        with self.assertRaisesRegex(ValueError, "empty"):
            self.task.embed_videos([])

    def test_bad_channels_and_frames(self):
        cases = {
            "3 channels.*np.repeat": (2, 16, 16, 1),
            "3 channels.*alpha": (2, 16, 16, 4),
            "no frames": (0, 16, 16, 3),
        }
        for pattern, shape in cases.items():
            with self.subTest(pattern):
                with self.assertRaisesRegex(ValueError, pattern):
                    self.task.classify(random_videos(shape), ["cat"])

    def test_bad_video_files(self):
        missing = os.path.join(self.get_temp_dir(), "missing.mp4")
        with self.assertRaisesRegex(FileNotFoundError, "Check the path"):
            self.task.classify(missing, ["cat"])
        corrupt = os.path.join(self.get_temp_dir(), "corrupt.mp4")
        with open(corrupt, "wb") as f:
            f.write(b"not a video" * 100)
        with self.assertRaisesRegex(ValueError, "Could not decode"):
            self.task.embed_videos([corrupt])

    def test_bad_batch_size(self):
        with self.assertRaisesRegex(ValueError, "batch_size"):
            self.task.embed_videos(self.video, batch_size=0)
        with self.assertRaisesRegex(ValueError, "batch_size"):
            self.task.embed_texts("a cat", batch_size=1.5)

    def test_without_preprocessor(self):
        task = VideoPrismVideoTextRetriever(
            VideoPrismBackbone(**TINY_VIDEO_TEXT)
        )
        # Videos must then be `pixel_values` already.
        pixel_values = np.random.rand(2, 2, 16, 16, 3).astype("float32")
        self.assertAllClose(
            task.embed_videos(list(pixel_values)),
            task.embed_videos(pixel_values),
            atol=1e-6,
        )
        with self.assertRaisesRegex(ValueError, "preprocessor"):
            task.embed_texts(["a cat"])
        with self.assertRaisesRegex(ValueError, "video converter"):
            task.embed_videos(sample_video_path())

    def test_video_only_backbone(self):
        backbone = VideoPrismBackbone(**TINY_VIDEO)
        with self.assertRaisesRegex(ValueError, "num_text_layers > 0"):
            VideoPrismVideoTextRetriever(backbone)

    def test_unknown_loss(self):
        with self.assertRaisesRegex(ValueError, "'softmax', 'sigmoid'"):
            self.task.compile(loss="clip")

    def test_preset_without_tokenizer(self):
        preset = self.get_temp_dir()
        VideoPrismBackbone(**TINY_VIDEO_TEXT).save_to_preset(preset)
        with self.assertRaisesRegex(ValueError, "tokenizer.*save_to_preset"):
            VideoPrismVideoTextRetriever.from_preset(preset)


class VideoPrismVideoTextRetrieverHarnessTest(TestCase):
    """keras-hub's task checks, on the shared tiny configuration."""

    def setUp(self):
        super().setUp()
        tokenizer = VideoPrismTokenizer(proto=T5STYLE_MODEL)
        self.init_kwargs = {
            "backbone": VideoPrismBackbone(**TINY_VIDEO_TEXT),
            "preprocessor": VideoPrismPreprocessor(
                tokenizer,
                VideoPrismVideoConverter(**TINY_CONVERTER),
                sequence_length=8,
            ),
        }
        # Raw videos with captions; labels are pair ids (equal ids match).
        x = {"videos": random_videos((2, 3, 20, 24, 3)), "prompts": PROMPTS[:2]}
        self.train_data = (x, np.array([0, 1]))

    def test_task(self):
        self.run_task_test(
            cls=VideoPrismVideoTextRetriever,
            init_kwargs=self.init_kwargs,
            train_data=self.train_data,
            expected_output_shape={
                "vision_embeddings": (2, 16),
                "text_embeddings": (2, 16),
            },
        )

    def test_saved_model(self):
        rng = np.random.default_rng(0)
        self.run_model_saving_test(
            cls=VideoPrismVideoTextRetriever,
            init_kwargs={**self.init_kwargs, "preprocessor": None},
            input_data={
                "pixel_values": random_pixel_values(2, TINY_VIDEO_TEXT),
                "token_ids": rng.integers(1, 256, (2, 8)).astype("int32"),
                "padding_mask": np.ones((2, 8), "int32"),
            },
        )
