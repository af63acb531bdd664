import contextlib
import io
import os
import shutil
import tempfile
from unittest import mock

import keras
import numpy as np
import pytest

from keras_videoprism import cli
from keras_videoprism.layers import VideoPrismVideoConverter
from keras_videoprism.models import VideoPrismBackbone
from keras_videoprism.models import VideoPrismTokenizer
from keras_videoprism.models import VideoPrismVideoClassifier
from keras_videoprism.models import VideoPrismVideoTextRetriever
from keras_videoprism.utils import load_video
from keras_videoprism.utils import sample_video_path
from tests.configs import TINY_VIDEO
from tests.test_case import SHARED_OFFICIAL_DIR
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

    def test_output_name_existing_file_and_overwrite(self):
        folder = self.get_temp_dir()
        output = os.path.join(folder, "feats")
        code, printed, errors = run_cli(["embed", "--output", output])
        self.assertEqual((code, errors), (0, ""))
        # `np.save` appends `.npy`: the printed name is the file written.
        written = output + ".npy"
        self.assertIn(f"saved {written}: shape (4, 16, 32)", printed)
        self.assertEqual(os.listdir(folder), ["feats.npy"])
        features = np.load(written)

        with open(written, "wb") as file:
            file.write(b"my own data")
        code, _, errors = run_cli(["embed", "--output", output])
        self.assertEqual(code, 2)
        self.assertEqual(
            errors,
            f"keras-videoprism embed: error: '{written}' already exists (a "
            "file); nothing was written. Pass overwrite=True (--overwrite on "
            "the command line) to replace it, or choose another path.\n",
        )
        with open(written, "rb") as file:
            self.assertEqual(file.read(), b"my own data")

        code, _, _ = run_cli(["embed", "--output", output, "--overwrite"])
        self.assertEqual(code, 0)
        self.assertAllClose(np.load(written), features, atol=0)
        self.assertEqual(os.listdir(folder), ["feats.npy"])


def run_cli(argv):
    """Runs the command line; returns `(exit status, stdout, stderr)`."""
    printed, errors = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(printed):
        with contextlib.redirect_stderr(errors):
            try:
                cli.main(argv)
            except SystemExit as exit:
                code = exit.code
    return code, printed.getvalue(), errors.getvalue()


def refuse_to_load(*args, **kwargs):
    raise AssertionError("a model was loaded before the cheap checks")


class UserErrorAssertions:
    def assertUserError(self, argv, expected):
        # Cheap checks come first: no model is loaded for these errors.
        with mock.patch.object(
            VideoPrismBackbone, "from_preset", refuse_to_load
        ), mock.patch.object(
            VideoPrismVideoTextRetriever, "from_preset", refuse_to_load
        ):
            code, printed, errors = run_cli(argv)
        self.assertEqual(code, 2, errors)
        self.assertEqual(printed, "")
        self.assertEqual(len(errors.splitlines()), 1, errors)
        self.assertRegex(errors, f"^keras-videoprism {argv[0]}: error: ")
        self.assertIn(expected, errors)


class UserErrorsTest(UserErrorAssertions, TestCase):
    """Every user error: one line `keras-videoprism CMD: error: ...`, exit 2."""

    def setUp(self):
        super().setUp()
        self.folder = self.get_temp_dir()
        self.video = sample_video_path()
        # A directory that is not a preset, and a user's file.
        self.not_a_preset = os.path.join(self.folder, "not_a_preset")
        os.mkdir(self.not_a_preset)
        self.user_file = os.path.join(self.folder, "notes.npy")
        with open(self.user_file, "w") as file:
            file.write("mine")

    def test_embed(self):
        missing = os.path.join(self.folder, "missing.mp4")
        output = os.path.join(self.folder, "out.npy")
        for argv, expected in [
            (
                ["embed", missing, "--output", output],
                f"The video '{missing}' does not exist.",
            ),
            (
                ["embed", self.folder, "--output", output],
                f"The video '{self.folder}' is a directory.",
            ),
            (
                ["embed", "--num_frames", "0"],
                "argument --num_frames: expected a positive integer, got '0'",
            ),
            (
                ["embed", "--num_frames", "-3"],
                "expected a positive integer, got '-3'",
            ),
            (
                ["embed", "--preset", "videoprism_public_v1_bsae"],
                "Unknown preset 'videoprism_public_v1_bsae'.",
            ),
            (
                ["embed", "--preset", self.not_a_preset, "--output", output],
                f"'{self.not_a_preset}' is not a preset directory: it has "
                "no config.json.",
            ),
            (
                ["embed", "--output", self.user_file],
                f"'{self.user_file}' already exists (a file)",
            ),
            (
                ["embed", "--output", os.path.join(missing, "out.npy")],
                "does not exist. Create it first.",
            ),
            (["embed", "--frames", "3"], "unrecognized arguments: --frames"),
        ]:
            with self.subTest(argv=argv):
                self.assertUserError(argv, expected)
        with open(self.user_file) as file:
            self.assertEqual(file.read(), "mine")
        self.assertFalse(os.path.exists(output))

    def test_classify(self):
        video = ["classify", self.video, "--labels"]
        for argv, expected in [
            (
                ["classify", "missing.mp4", "--labels", "a", "b"],
                "The video 'missing.mp4' does not exist.",
            ),
            (video + ["a", "--template", "{0}"], "exactly one `{}`"),
            (video + ["a", "--template", "{}{x}"], "exactly one `{}`"),
            (video + ["a", "a"], "Labels must differ; repeated: ['a']."),
            (
                video + ["a", "--temperature", "0"],
                "argument --temperature: expected a positive number, got '0'",
            ),
            (video + ["a", "--preset", "nope"], "Unknown preset 'nope'."),
            (["classify", self.video], "the following arguments are required"),
        ]:
            with self.subTest(argv=argv):
                self.assertUserError(argv, expected)

    def test_convert(self):
        checkpoint = str(official_path("video_tiny.checkpoint.npz"))
        config = str(official_path("video_tiny.config.json"))
        broken = os.path.join(self.folder, "broken.json")
        with open(broken, "w") as file:
            file.write('{"official_class": ')
        output = os.path.join(self.folder, "preset")
        for argv, expected in [
            (["convert", checkpoint, output], "needs `--official_config`"),
            (
                ["convert", checkpoint, output, "--official_config", broken],
                f"'{broken}' is not valid JSON: Expecting value at line 1, "
                "column 20. The file is truncated or was edited by hand: "
                "re-download or re-save it.",
            ),
            (
                ["convert", checkpoint, self.folder, "--official_config"]
                + [config],
                f"'{self.folder}' already exists (a non-empty directory)",
            ),
            (
                ["convert", checkpoint, output, "--official_config", config]
                + ["--tokenizer", "missing.model"],
                "The tokenizer model 'missing.model' does not exist.",
            ),
            (
                ["convert", self.not_a_preset, output],
                "is not a preset directory",
            ),
        ]:
            with self.subTest(argv=argv):
                self.assertUserError(argv, expected)
        self.assertFalse(os.path.exists(output))
        self.assertEqual(
            sorted(os.listdir(self.folder)),
            ["broken.json", "not_a_preset", "notes.npy"],
        )

    def test_convert_over_an_older_preset(self):
        checkpoint = str(official_path("video_tiny.checkpoint.npz"))
        config = str(official_path("video_tiny.config.json"))
        # An older preset of another kind, written by a real writer.
        output = os.path.join(self.folder, "preset")
        VideoPrismVideoClassifier(
            VideoPrismBackbone(**TINY_VIDEO), num_classes=3
        ).save_to_preset(output)
        argv = ["convert", checkpoint, output, "--official_config", config]
        code, _, errors = run_cli(argv)
        self.assertEqual(code, 2)
        self.assertIn("(a non-empty directory); nothing was written", errors)
        self.assertIn("task.json", os.listdir(output))

        code, printed, errors = run_cli(argv + ["--overwrite"])
        self.assertEqual((code, errors), (0, ""))
        self.assertIn(f"saved {output}", printed)
        # No file of the older preset is left to be mixed in.
        self.assertEqual(
            sorted(os.listdir(output)),
            [
                "config.json",
                "metadata.json",
                "model.weights.h5",
                "video_converter.json",
            ],
        )
        self.assertEqual(
            sorted(os.listdir(self.folder)),
            ["not_a_preset", "notes.npy", "preset"],
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
        packed = VideoPrismTokenizer(proto=str(TEST_SPM)).pack(texts)
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
        self.assertFails(args, "'missing.model' does not exist")
        self.assertFalse(os.path.exists(output))


class SearchCommandsTest(UserErrorAssertions, TestCase):
    """`index` and `search` on a tiny preset and two real videos."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from tests.search.search_fixtures import make_videos
        from tests.search.search_fixtures import save_tiny_preset

        cls.folder = cls.get_class_temp_dir()
        cls.preset = save_tiny_preset(cls.folder, seed=0)
        cls.other_preset = save_tiny_preset(cls.folder, seed=1)
        cls.videos_dir = os.path.join(cls.folder, "videos")
        cls.videos = make_videos(cls.videos_dir)
        cls.index = os.path.join(cls.folder, "index")
        cls.index_result = run_cli(
            ["index", cls.videos_dir, "--index", cls.index,
             "--preset", cls.preset, "--workers", "1", "--batch_size", "4"]
        )

    def test_index_then_search(self):
        import json

        from keras_videoprism.search import VideoIndex

        code, printed, errors = self.index_result
        self.assertEqual(code, 0, errors)
        self.assertIn("indexed 2 files (9 clips", printed)
        code, printed, errors = run_cli(
            ["search", "a red ball", "--index", self.index, "--json",
             "--top_k", "2"]
        )
        self.assertEqual(code, 0, errors)
        moments = json.loads(printed)
        expected = VideoIndex(self.index).search("a red ball", top_k=2)
        self.assertEqual(
            [m["path"] for m in moments], [m["path"] for m in expected]
        )
        self.assertAllClose(
            [m["score"] for m in moments], [m["score"] for m in expected]
        )
        for moment in moments:
            self.assertEqual(sorted(moment), ["end", "path", "score", "start"])
        scores = [m["score"] for m in moments]
        self.assertEqual(scores, sorted(scores, reverse=True))
        code, printed, errors = run_cli(
            ["search", "--like", self.videos[1], "--end", "0.079",
             "--index", self.index]
        )
        self.assertEqual(code, 0, errors)
        self.assertRegex(printed.splitlines()[0], r"score\s+time\s+file")
        self.assertIn(self.videos[1], printed)
        # A rerun skips both files.
        code, printed, errors = run_cli(
            ["index", self.videos_dir, "--index", self.index,
             "--preset", self.preset]
        )
        self.assertEqual(code, 0, errors)
        self.assertIn("skipped 2 unchanged", printed)

    def test_user_errors(self):
        missing = os.path.join(self.folder, "missing")
        for argv, expected in [
            (["index", missing, "--index", missing, "--preset", self.preset],
             f"'{missing}' is neither a folder"),
            (["index", self.videos_dir, "--index", self.index,
              "--preset", self.other_preset],
             "built with the preset"),
            (["index", self.videos_dir, "--index", self.videos_dir,
              "--preset", self.preset],
             "is not a video index"),
            (["index", self.videos_dir, "--index", missing,
              "--preset", self.preset, "--stride_seconds", "1"],
             "--stride_seconds needs --clip_seconds"),
            (["search", "a dog", "--index", missing], "no video index"),
            (["search", "--index", self.index], "pass a TEXT"),
            (["search", "a dog", "--like", self.videos[0], "--index",
              self.index], "one of the two"),
            (["search", "--like", missing, "--index", self.index],
             "does not exist"),
            (["search", "a dog", "--index", self.index, "--top_k", "0"],
             "expected a positive integer"),
        ]:
            with self.subTest(argv=argv):
                self.assertUserError(argv, expected)
        with mock.patch.dict("sys.modules", {"ray": None}):
            self.assertUserError(
                ["index", self.videos_dir, "--index", missing, "--preset",
                 self.preset, "--ray"],
                "pip install keras-videoprism[ray]",
            )
        self.assertFalse(os.path.exists(missing))
