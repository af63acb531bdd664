import contextlib
import io
import os
import shutil
import tempfile

import keras
import numpy as np
import pytest

from keras_videoprism import cli
from keras_videoprism.layers import VideoPrismVideoConverter
from keras_videoprism.models import VideoPrismBackbone
from keras_videoprism.models import VideoPrismTokenizer
from keras_videoprism.utils import load_video
from keras_videoprism.utils import sample_video_path
from tests.test_case import TestCase
from tests.test_case import official_path
from tests.test_case import shared_test_spm_path

T5_STYLE_SPM = official_path("videoprism_test_t5style.model")
# The tokenizer of the `lvt_tiny` fixture's 1,000 text ids.
TEST_SPM = shared_test_spm_path()


class EmbedCommandTest(TestCase):
    def test_embed_sample_video_with_demo_preset(self):
        output = os.path.join(self.get_temp_dir(), "features.npy")
        cli.main(["embed", "--output", output])
        saved = np.load(output)
        # The same computation done by hand through the public API.
        backbone = VideoPrismBackbone.from_preset(cli.DEMO_PRESET)
        frames = load_video(sample_video_path(), num_frames=4)
        video = keras.ops.image.resize(
            frames.astype("float32") / 255.0,
            (16, 16),
            antialias=True,
            crop_to_aspect_ratio=False,
        )
        expected = keras.ops.convert_to_numpy(backbone(video[None]))[0]
        self.assertEqual(saved.shape, (4, 16, 32))
        self.assertAllClose(saved, expected, atol=1e-4)

    def test_missing_video_is_a_clear_error(self):
        with self.assertRaisesRegex(FileNotFoundError, "missing.mp4"):
            cli.main(["embed", "missing.mp4", "--output", "unused.npy"])


class ClassifyCommandTest(TestCase):
    def test_missing_video_fails_before_loading_the_preset(self):
        # The preset does not exist either: the video is checked first.
        with self.assertRaisesRegex(FileNotFoundError, "missing.mp4"):
            cli.main(
                ["classify", "missing.mp4", "--labels", "a", "b"]
                + ["--preset", os.path.join(self.get_temp_dir(), "none")]
            )


class PresetsCommandTest(TestCase):
    def test_lists_names_and_metadata(self):
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            cli.main(["presets"])
        text = output.getvalue()
        self.assertIn("videoprism_lvt_public_v1_large\n", text)
        self.assertIn("parameters: 114,365,184", text)
        self.assertIn("frames: 8, frame size: 288x288", text)
        self.assertIn(
            "kaggle://keras/videoprism/keras/videoprism_public_v1_base/1",
            text,
        )


@pytest.mark.skipif(TEST_SPM is None, reason="needs the ../shared fixtures")
class ConvertAndClassifyTest(TestCase):
    @classmethod
    def setUpClass(cls):
        # A tiny video-text preset: the official `lvt_tiny` checkpoint with
        # the official test SentencePiece model its token ids come from.
        cls.preset = tempfile.mkdtemp()
        cls.log = io.StringIO()
        with contextlib.redirect_stdout(cls.log):
            cli.main(
                [
                    "convert",
                    str(official_path("lvt_tiny.checkpoint.npz")),
                    cls.preset,
                    "--official_config",
                    str(official_path("lvt_tiny.config.json")),
                    "--tokenizer",
                    str(TEST_SPM),
                ]
            )

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.preset, ignore_errors=True)

    def test_convert_writes_a_complete_preset(self):
        files = set(os.listdir(self.preset))
        self.assertTrue(
            {"config.json", "model.weights.h5", "tokenizer.json"} <= files
        )
        self.assertIn("video_converter.json", files)
        log = self.log.getvalue()
        self.assertIn("VideoPrismBackbone: 119,488 parameters", log)
        self.assertIn("vision_embeddings: max abs diff 0, mean 0", log)
        self.assertIn("text_embeddings: max abs diff 0, mean 0", log)

    def test_classify_sample_video(self):
        labels = ["cooking", "shapes moving", "a dog"]
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            cli.main(
                ["classify", sample_video_path(), "--preset", self.preset]
                + ["--labels", *labels, "--temperature", "0.05"]
            )
        printed = {}
        for line in output.getvalue().splitlines()[2:]:
            percent, label = line.split("%  ")
            printed[label] = float(percent) / 100
        # The same computation by hand: the softmax over the prompts
        # "a video of {label}." of similarity / temperature.
        backbone = VideoPrismBackbone.from_preset(self.preset)
        tokenizer = VideoPrismTokenizer(proto=str(TEST_SPM))
        converter = VideoPrismVideoConverter(
            num_frames=4, image_size=(16, 16), crop_to_aspect_ratio=False
        )
        frames = load_video(sample_video_path(), num_frames=4)
        video = backbone.get_video_embeddings(converter(frames[None]))
        prompts = tokenizer.pack([f"a video of {label}." for label in labels])
        text = backbone.get_text_embeddings(
            prompts["token_ids"], prompts["padding_mask"]
        )
        logits = keras.ops.matmul(video, keras.ops.transpose(text)) / 0.05
        expected = keras.ops.convert_to_numpy(keras.ops.softmax(logits))[0]
        self.assertAllClose(
            [printed[label] for label in labels], expected, atol=1e-4
        )
        self.assertGreater(expected.min(), 1e-3)

    def test_embed_video_and_texts(self):
        backbone = VideoPrismBackbone.from_preset(self.preset)
        video_output = os.path.join(self.get_temp_dir(), "video.npy")
        cli.main(["embed", "--preset", self.preset, "--output", video_output])
        converter = VideoPrismVideoConverter(
            num_frames=4, image_size=(16, 16), crop_to_aspect_ratio=False
        )
        frames = load_video(sample_video_path(), num_frames=4)
        expected = backbone.get_video_embeddings(converter(frames[None]))
        self.assertAllClose(np.load(video_output), expected[0], atol=1e-5)
        texts = ["a dog", "people cooking."]
        text_output = os.path.join(self.get_temp_dir(), "texts.npy")
        cli.main(
            ["embed", "--preset", self.preset, "--output", text_output]
            + ["--text", *texts]
        )
        packed = VideoPrismTokenizer(proto=str(T5_STYLE_SPM)).pack(texts)
        expected = backbone.get_text_embeddings(
            packed["token_ids"], packed["padding_mask"]
        )
        saved = np.load(text_output)
        self.assertEqual(saved.shape, (2, 32))
        self.assertAllClose(saved, expected, atol=1e-5)

    def test_classify_defaults(self):
        args = cli.build_parser().parse_args(
            ["classify", "clip.mp4", "--labels", "a", "b"]
        )
        self.assertEqual(args.template, "a video of {}.")
        self.assertEqual(args.temperature, 0.01)
        self.assertEqual(args.preset, "videoprism_lvt_public_v1_base")


def run_convert(args):
    """`(exit status, stderr)` of `keras-videoprism convert ARGS`."""
    stderr = io.StringIO()
    with (
        contextlib.redirect_stderr(stderr),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        try:
            cli.main(["convert", *args])
        except SystemExit as exit:
            return exit.code, stderr.getvalue()
    return 0, stderr.getvalue()


class ConvertCommandErrorsTest(TestCase):
    def assertFails(self, args, *patterns):
        code, stderr = run_convert(args)
        self.assertEqual(code, 2)
        self.assertEqual(len(stderr.splitlines()), 1, stderr)
        self.assertTrue(stderr.startswith("keras-videoprism convert: error: "))
        for pattern in patterns:
            self.assertRegex(stderr, pattern)

    def test_official_checkpoint_needs_its_config(self):
        output = os.path.join(self.get_temp_dir(), "preset")
        self.assertFails(
            [str(official_path("video_tiny.checkpoint.npz")), output],
            "needs `--official_config`",
        )
        self.assertFalse(os.path.exists(output))

    def lvt_tiny_args(self, output):
        return [
            str(official_path("lvt_tiny.checkpoint.npz")),
            output,
            "--official_config",
            str(official_path("lvt_tiny.config.json")),
        ]

    def test_video_text_checkpoint_needs_a_tokenizer(self):
        output = os.path.join(self.get_temp_dir(), "preset")
        self.assertFails(
            self.lvt_tiny_args(output), "holds no tokenizer", "--no-tokenizer"
        )
        self.assertFalse(os.path.exists(output))

    def test_no_tokenizer_writes_a_preset_without_one(self):
        output = os.path.join(self.get_temp_dir(), "preset")
        code, _ = run_convert([*self.lvt_tiny_args(output), "--no-tokenizer"])
        self.assertEqual(code, 0)
        files = set(os.listdir(output))
        self.assertIn("model.weights.h5", files)
        self.assertNotIn("tokenizer.json", files)

    def test_tokenizer_of_another_vocabulary_is_refused(self):
        # The T5-style model has 256 pieces; `lvt_tiny` has 1,000 ids.
        output = os.path.join(self.get_temp_dir(), "preset")
        args = [*self.lvt_tiny_args(output), "--tokenizer", str(T5_STYLE_SPM)]
        self.assertFails(args, "256 ids", "1,000")
        self.assertFalse(os.path.exists(output))

    def test_tokenizer_for_a_video_only_model_is_refused(self):
        output = os.path.join(self.get_temp_dir(), "preset")
        args = [
            str(official_path("video_tiny.checkpoint.npz")),
            output,
            "--official_config",
            str(official_path("video_tiny.config.json")),
            "--tokenizer",
            str(T5_STYLE_SPM),
        ]
        self.assertFails(args, "video-only")
        self.assertFalse(os.path.exists(output))

    def test_unreadable_tokenizer_is_refused(self):
        output = os.path.join(self.get_temp_dir(), "preset")
        args = [*self.lvt_tiny_args(output), "--tokenizer", "missing.model"]
        self.assertFails(args, "no such file 'missing.model'")
        self.assertFalse(os.path.exists(output))
