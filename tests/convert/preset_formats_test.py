"""Every preset format through every entry point, on the current backend.

Each format is written once per module by the library that writes it:
`save_to_preset` of our classes and of keras-hub's VideoPrism classes,
transformers' `save_pretrained` of its three VideoPrism models (and of its
tokenizer), and the official `.npz` checkpoints (the fixtures the official
code wrote) served from a local Hugging Face Hub as the google/videoprism-*
`main` branches hold them. Every cell either works, checked against the
format's own backbone, or raises the clear error `EXPECTED` names.

`PresetFormatsTest` checks the routing itself: which loader reads each
format, and `load_preset` for base classes of ours and keras-hub's.
"""

import contextlib
import io
import os
import re
import shutil
import tempfile

import keras
import keras_hub
import numpy as np
import pytest

from keras_videoprism import cli
from keras_videoprism.convert import preset_formats
from keras_videoprism.convert.keras_hub_preset import KerasHubPresetLoader
from keras_videoprism.convert.preset_loader import VideoPrismPresetLoader
from keras_videoprism.convert.transformers_checkpoint import (
    TransformersPresetLoader,
)
from keras_videoprism.layers import VideoPrismVideoConverter
from keras_videoprism.models import VideoPrismBackbone
from keras_videoprism.models import VideoPrismPreprocessor
from keras_videoprism.models import VideoPrismTokenizer
from keras_videoprism.models import VideoPrismVideoClassifier
from keras_videoprism.models import VideoPrismVideoClassifierPreprocessor
from keras_videoprism.models import VideoPrismVideoTextRetriever
from keras_videoprism.models.video_classifier import VideoClassifier
from keras_videoprism.utils import load_video
from keras_videoprism.utils import sample_video_path
from tests.configs import PROMPTS
from tests.configs import TINY_VIDEO
from tests.configs import random_pixel_values
from tests.convert.hub_server import hub_endpoint
from tests.convert.hub_server import serve
from tests.test_case import TestCase
from tests.test_case import official_path

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

SPM = str(official_path("videoprism_test_t5style.model"))
# Tiny models: 2 frames of 8x8 in 4x4 patches; the text tower has room for
# the 256 ids of the T5-style test tokenizer.
KERAS = dict(
    num_frames=2,
    patch_size=4,
    hidden_dim=16,
    intermediate_dim=64,
    num_heads=2,
    num_spatial_layers=1,
    num_temporal_layers=1,
    num_auxiliary_layers=0,
    attention_logit_soft_cap=50.0,
    image_shape=(8, 8, 3),
)
KERAS_TEXT = dict(
    KERAS, num_auxiliary_layers=1, vocabulary_size=256, num_text_layers=1
)
VISION = dict(
    image_size=8,
    num_frames=2,
    tubelet_size=[1, 4, 4],
    hidden_size=16,
    num_attention_heads=2,
    intermediate_size=64,
    num_spatial_layers=1,
    num_temporal_layers=1,
    num_auxiliary_layers=1,
)
TEXT = dict(
    vocab_size=256,
    hidden_size=16,
    intermediate_size=64,
    num_hidden_layers=1,
    num_attention_heads=2,
)
NUM_CLASSES = 3

FORMATS = (
    "ours_video",
    "ours_video_text",
    "ours_classifier",
    "keras_hub_video",
    "keras_hub_video_text",
    "transformers_vision",
    "transformers_video_text",
    "transformers_classifier",
    "hub_official_video",
    "hub_official_video_text",
)
ENTRIES = (
    "backbone",
    "tokenizer",
    "video_converter",
    "preprocessor",
    "classifier_preprocessor",
    "video_text_retriever",
    "video_classifier",
    "video_classifier_new_head",
    "cli_embed",
    "cli_embed_text",
    "cli_classify",
    "cli_convert",
)
VIDEO_ONLY = (
    "ours_video",
    "ours_classifier",
    "keras_hub_video",
    "transformers_vision",
    "transformers_classifier",
    "hub_official_video",
)
TEXT_ENTRIES = (
    "tokenizer",
    "preprocessor",
    "video_text_retriever",
    "cli_embed_text",
    "cli_classify",
)
VIDEO_ONLY_ERROR = "holds a video-only VideoPrism model.*video-text \\(LvT\\)"
NO_HEAD_ERROR = "without a classification head.*needs `num_classes=`"
NPZ_TOKENIZER_ERROR = "official `.npz` checkpoint, which holds no tokenizer"
# `convert` writes nothing without a tokenizer unless told not to want one.
NPZ_CONVERT_ERROR = NPZ_TOKENIZER_ERROR + ".*--no-tokenizer"


def expected_outcome(fmt, entry):
    """`"ok"` or the regex of the clear error of one cell."""
    if entry in TEXT_ENTRIES:
        if fmt in VIDEO_ONLY:
            return VIDEO_ONLY_ERROR
        if fmt == "hub_official_video_text":
            return NPZ_TOKENIZER_ERROR
    if (fmt, entry) == ("hub_official_video_text", "cli_convert"):
        return NPZ_CONVERT_ERROR
    classifiers = ("ours_classifier", "transformers_classifier")
    if entry == "video_classifier" and fmt not in classifiers:
        return NO_HEAD_ERROR
    return "ok"


def _randomize(model, seed):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            parameter.copy_(0.3 * noise)
    return model.eval()


def _keras_hub_backbone(config, seed):
    backbone = keras_hub.models.VideoPrismBackbone(**config)
    rng = np.random.default_rng(seed)
    for weight in backbone.weights:
        # keras-hub's extra text LayerNorm stays at its initialization (the
        # official model has none; see keras_hub_preset.py).
        if weight.path.startswith("text_encoder/ln/"):
            continue
        value = rng.normal(0.0, 0.3, weight.shape)
        if weight.path.endswith("gamma"):
            value += 1.0
        weight.assign(value.astype("float32"))
    return backbone


def _write_formats(root):
    """`{format: local directory}`; the hub formats are served later."""
    paths = {fmt: os.path.join(root, fmt) for fmt in FORMATS}
    converter = VideoPrismVideoConverter(num_frames=2, image_size=(8, 8))
    tokenizer = VideoPrismTokenizer(proto=SPM)
    VideoPrismBackbone(**KERAS).save_to_preset(paths["ours_video"])
    VideoPrismVideoTextRetriever(
        backbone=VideoPrismBackbone(**KERAS_TEXT),
        preprocessor=VideoPrismPreprocessor(tokenizer, converter),
    ).save_to_preset(paths["ours_video_text"])
    VideoPrismVideoClassifier(
        backbone=VideoPrismBackbone(**KERAS),
        num_classes=NUM_CLASSES,
        preprocessor=VideoPrismVideoClassifierPreprocessor(converter),
    ).save_to_preset(paths["ours_classifier"])
    _keras_hub_backbone(KERAS, 1).save_to_preset(paths["keras_hub_video"])
    path = paths["keras_hub_video_text"]
    _keras_hub_backbone(KERAS_TEXT, 2).save_to_preset(path)
    keras_hub.models.VideoPrismTokenizer(proto=SPM).save_to_preset(path)
    vision = transformers.VideoPrismVisionConfig(**VISION)
    _randomize(transformers.VideoPrismVisionModel(vision), 3).save_pretrained(
        paths["transformers_vision"]
    )
    path = paths["transformers_video_text"]
    clip = transformers.VideoPrismConfig(vision_config=VISION, text_config=TEXT)
    _randomize(transformers.VideoPrismClipModel(clip), 4).save_pretrained(path)
    tokenizer_class = transformers.VideoPrismTokenizer
    native = tokenizer_class.convert_to_native_format(vocab_file=SPM)
    tokenizer_class(**native).save_pretrained(path)
    labelled = transformers.VideoPrismVisionConfig(
        **VISION, num_labels=NUM_CLASSES
    )
    _randomize(
        transformers.VideoPrismForVideoClassification(labelled), 5
    ).save_pretrained(paths["transformers_classifier"])
    for fmt, fixture in (
        ("hub_official_video", "video_tiny"),
        ("hub_official_video_text", "lvt_tiny"),
    ):
        os.makedirs(paths[fmt])
        shutil.copy(
            official_path(f"{fixture}.checkpoint.npz"),
            os.path.join(paths[fmt], f"flax_{fixture}_repeated.npz"),
        )
    return paths


@pytest.fixture(scope="module")
def presets():
    """`{format: handle or directory}`, with the hub up for the module."""
    root = tempfile.mkdtemp()
    paths = _write_formats(root)
    handles = dict(paths)
    repositories = {}
    for fmt in ("hub_official_video", "hub_official_video_text"):
        repo_id = f"google/videoprism-{fmt.replace('_', '-')}"
        repositories[repo_id] = {"main": paths[fmt]}
        handles[fmt] = f"hf://{repo_id}"
    with serve(repositories) as endpoint:
        with hub_endpoint(endpoint, os.path.join(root, "hf_cache")):
            yield handles
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def backbones(presets):
    """The reference of each format: its backbone."""
    return {
        fmt: VideoPrismBackbone.from_preset(handle)
        for fmt, handle in presets.items()
    }


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


def _video(backbone):
    rng = np.random.default_rng(0)
    shape = (1, backbone.num_frames, *backbone.image_shape)
    return rng.uniform(size=shape).astype("float32")


def _assert_same_backbone(backbone, reference):
    video = _video(reference)
    if reference.has_text_encoder:
        actual = backbone.get_video_embeddings(video)
        expected = reference.get_video_embeddings(video)
    else:
        actual, expected = backbone(video), reference(video)
    np.testing.assert_allclose(_numpy(actual), _numpy(expected), atol=1e-6)


def _cli(arguments):
    """Runs the command line; returns its printed output."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        cli.main(arguments)
    return output.getvalue()


def _embedded_sample(reference):
    converter = VideoPrismVideoConverter(
        num_frames=reference.num_frames,
        image_size=reference.image_shape[:2],
        crop_to_aspect_ratio=False,
    )
    frames = load_video(sample_video_path(), num_frames=reference.num_frames)
    pixel_values = converter(frames[None])
    if reference.has_text_encoder:
        return _numpy(reference.get_video_embeddings(pixel_values))[0]
    return _numpy(reference(pixel_values))[0]


def _check_ok(entry, handle, reference, tmp_path):
    frames, size = reference.num_frames, reference.image_shape[:2]
    if entry == "backbone":
        backbone = VideoPrismBackbone.from_preset(handle)
        _assert_same_backbone(backbone, reference)
    elif entry == "tokenizer":
        tokenizer = VideoPrismTokenizer.from_preset(handle)
        expected = VideoPrismTokenizer(proto=SPM)
        np.testing.assert_array_equal(
            _numpy(tokenizer.pack(PROMPTS)["token_ids"]),
            _numpy(expected.pack(PROMPTS)["token_ids"]),
        )
    elif entry == "video_converter":
        converter = VideoPrismVideoConverter.from_preset(handle)
        assert (converter.num_frames, converter.image_size) == (frames, size)
    elif entry == "preprocessor":
        preprocessor = VideoPrismPreprocessor.from_preset(handle)
        packed = VideoPrismTokenizer(proto=SPM).pack(PROMPTS[:1])
        videos = np.zeros((1, 5, 20, 24, 3), "uint8")
        outputs = preprocessor({"videos": videos, "prompts": PROMPTS[:1]})
        assert tuple(outputs["pixel_values"].shape) == (1, frames, *size, 3)
        np.testing.assert_array_equal(
            _numpy(outputs["token_ids"]), _numpy(packed["token_ids"])
        )
    elif entry == "classifier_preprocessor":
        preprocessor = VideoPrismVideoClassifierPreprocessor.from_preset(
            handle
        )
        videos = np.zeros((1, 5, 20, 24, 3), "uint8")
        pixel_values = preprocessor(videos)["pixel_values"]
        assert tuple(pixel_values.shape) == (1, frames, *size, 3)
    elif entry == "video_text_retriever":
        retriever = VideoPrismVideoTextRetriever.from_preset(handle)
        _assert_same_backbone(retriever.backbone, reference)
    elif entry in ("video_classifier", "video_classifier_new_head"):
        kwargs = {} if entry == "video_classifier" else {"num_classes": 5}
        classifier = VideoPrismVideoClassifier.from_preset(handle, **kwargs)
        assert classifier.num_classes == kwargs.get("num_classes", NUM_CLASSES)
        _assert_same_backbone(classifier.backbone, reference)
    elif entry == "cli_embed":
        output = str(tmp_path / "embedding.npy")
        _cli(["embed", "--preset", handle, "--output", output])
        np.testing.assert_allclose(
            np.load(output), _embedded_sample(reference), atol=1e-5
        )
    elif entry == "cli_embed_text":
        output = str(tmp_path / "texts.npy")
        texts = ["--text", *PROMPTS[:2]]
        _cli(["embed", "--preset", handle, "--output", output, *texts])
        packed = VideoPrismTokenizer(proto=SPM).pack(PROMPTS[:2])
        expected = reference.get_text_embeddings(
            packed["token_ids"], packed["padding_mask"]
        )
        np.testing.assert_allclose(
            np.load(output), _numpy(expected), atol=1e-5
        )
    elif entry == "cli_classify":
        printed = _cli(
            ["classify", sample_video_path(), "--preset", handle]
            + ["--labels", "a dog", "cooking"]
        )
        lines = printed.splitlines()[2:]
        percents = [float(line.split("%")[0]) for line in lines]
        assert len(percents) == 2 and abs(sum(percents) - 100) < 0.02
    elif entry == "cli_convert":
        output = str(tmp_path / "converted")
        _cli(["convert", handle, output])
        converted = VideoPrismBackbone.from_preset(output)
        _assert_same_backbone(converted, reference)
    else:
        raise ValueError(entry)


def _run_cell(entry, handle, reference, tmp_path):
    """The cell's error message, or `None` when it works."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            _check_ok(entry, handle, reference, tmp_path)
    except AssertionError:
        raise
    except (Exception, SystemExit) as error:
        return f"{type(error).__name__}: {error} {stderr.getvalue()}"
    return None


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_matrix(fmt, entry, presets, backbones, tmp_path):
    expected = expected_outcome(fmt, entry)
    error = _run_cell(entry, presets[fmt], backbones[fmt], tmp_path)
    if expected == "ok":
        assert error is None, f"{fmt} x {entry}: {error}"
    else:
        assert error is not None, f"{fmt} x {entry} should fail"
        # One clear error, never a bare TypeError or a traceback of internals.
        assert not error.startswith(
            ("TypeError", "AttributeError", "KeyError")
        )
        assert re.search(expected, error, re.S), f"{fmt} x {entry}: {error}"


class PresetFormatsTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = cls.get_class_temp_dir()
        cls.ours = os.path.join(cls.root, "ours")
        VideoPrismBackbone(**TINY_VIDEO).save_to_preset(cls.ours)
        cls.keras_hub = os.path.join(cls.root, "keras_hub")
        keras_hub.models.VideoPrismBackbone(**TINY_VIDEO).save_to_preset(
            cls.keras_hub
        )
        cls.transformers = os.path.join(cls.root, "transformers")
        config = transformers.VideoPrismVisionConfig(
            image_size=[16, 16],
            num_frames=2,
            tubelet_size=[1, 4, 4],
            hidden_size=16,
            num_attention_heads=2,
            intermediate_size=32,
            num_spatial_layers=1,
            num_temporal_layers=1,
            num_auxiliary_layers=0,
        )
        transformers.VideoPrismVisionModel(config).save_pretrained(
            cls.transformers
        )

    def test_each_format_gets_its_loader(self):
        expected = {
            self.ours: VideoPrismPresetLoader,
            self.keras_hub: KerasHubPresetLoader,
            self.transformers: TransformersPresetLoader,
        }
        for preset, loader_cls in expected.items():
            with self.subTest(loader_cls.__name__):
                loader = preset_formats.get_preset_loader(preset)
                self.assertIsInstance(loader, loader_cls)
                # Every loader builds our backbone, of the saved size.
                self.assertIs(loader.check_backbone_class(), VideoPrismBackbone)
                config = loader.config["config"]
                self.assertEqual(config["num_frames"], 2)
                self.assertEqual(tuple(config["image_shape"]), (16, 16, 3))

    def test_a_preset_of_another_model(self):
        directory = os.path.join(self.get_temp_dir(), "bert")
        keras_hub.models.BertBackbone(
            vocabulary_size=10,
            num_layers=1,
            num_heads=1,
            hidden_dim=2,
            intermediate_dim=2,
            max_sequence_length=4,
        ).save_to_preset(directory)
        with self.assertRaisesRegex(
            ValueError, "not a VideoPrism preset.*keras_hub>BertBackbone"
        ):
            preset_formats.get_preset_loader(directory)

    def test_backbone_classes(self):
        # Any base class of ours loads it; another backbone class does not.
        for cls in (VideoPrismBackbone, keras_hub.models.Backbone):
            backbone = preset_formats.load_preset(cls, self.ours)
            self.assertIsInstance(backbone, VideoPrismBackbone)
        with self.assertRaisesRegex(
            ValueError, "holds a `VideoPrismBackbone`.*not a `BertBackbone`"
        ):
            preset_formats.load_preset(keras_hub.models.BertBackbone, self.ours)

    def test_task_base_class_from_a_converted_preset(self):
        """The generic task resolves to our subclass, with a new head."""
        classifier = preset_formats.load_preset(
            VideoClassifier, self.transformers, num_classes=3
        )
        self.assertIsInstance(classifier, VideoPrismVideoClassifier)
        backbone = preset_formats.load_preset(
            VideoPrismBackbone, self.transformers
        )
        videos = random_pixel_values(2)
        # The converted weights, the same through the task's backbone.
        self.assertAllClose(
            classifier.backbone(videos), backbone(videos), atol=1e-6
        )
        self.assertEqual(classifier(videos).shape, (2, 3))

    def test_video_converter_of_every_format(self):
        for preset in (self.ours, self.keras_hub, self.transformers):
            converter = preset_formats.load_preset(
                VideoPrismVideoConverter, preset
            )
            self.assertEqual(converter.num_frames, 2)
            self.assertEqual(tuple(converter.image_size), (16, 16))
            video = np.zeros((1, 3, 24, 20, 3), "uint8")
            self.assertEqual(
                tuple(converter(video).shape), (1, 2, 16, 16, 3)
            )
