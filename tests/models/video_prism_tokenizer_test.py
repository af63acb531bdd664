"""Parity of `VideoPrismTokenizer` with the official `tokenize_texts`."""

import json
import os
import unittest

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from keras_videoprism.models import save_preset
from keras_videoprism.models.video_prism_backbone import VideoPrismBackbone
from keras_videoprism.models.video_prism_tokenizer import VideoPrismTokenizer
from keras_videoprism.models.video_prism_tokenizer import canonicalize_text
from keras_videoprism.models.video_prism_tokenizer import canonicalize_text_tf
from tests.configs import PROMPTS as CANONICAL_PROMPTS
from tests.configs import TINY_VIDEO_TEXT
from tests.test_case import TestCase
from tests.test_case import official_path
from tests.test_case import shared_test_spm_path

T5STYLE_MODEL = str(official_path("videoprism_test_t5style.model"))


def load_fixture(name):
    """Returns `(config, io)` of a tokenizer fixture."""
    with open(official_path(f"{name}.config.json")) as f:
        config = json.load(f)
    return config, dict(np.load(official_path(f"{name}.io.npz")))


def as_numpy(outputs):
    return {k: keras.ops.convert_to_numpy(v) for k, v in outputs.items()}


class OfficialParityMixin:
    """Checks one SentencePiece model against its official fixture.

    Subclasses set `fixture` and `model_path()`.
    """

    fixture = None

    def model_path(self):
        raise NotImplementedError

    def setUp(self):
        super().setUp()
        self.config, self.io = load_fixture(self.fixture)
        self.strings = self.config["strings"]

    def make_tokenizer(self, **kwargs):
        return VideoPrismTokenizer(proto=self.model_path(), **kwargs)

    def assertMatchesOfficial(self, outputs, length, prefix=""):
        outputs = as_numpy(outputs)
        self.assertEqual(outputs["token_ids"].dtype, np.int32)
        self.assertEqual(outputs["padding_mask"].dtype, np.bool_)
        np.testing.assert_array_equal(
            outputs["token_ids"], self.io[f"{prefix}ids_{length}"]
        )
        np.testing.assert_array_equal(
            outputs["padding_mask"].astype("float32"),
            1.0 - self.io[f"{prefix}paddings_{length}"],
        )

    def test_special_ids(self):
        tokenizer = self.make_tokenizer()
        bos_id = self.config["bos_id"]
        self.assertEqual(
            tokenizer.start_token_id, bos_id if bos_id >= 0 else None
        )
        self.assertEqual(tokenizer.vocabulary_size(), self.config["vocab_size"])

    def test_pack_canonicalized(self):
        tokenizer = self.make_tokenizer()
        for length in self.config["max_lengths"]:
            with self.subTest(length=length):
                outputs = tokenizer.pack(self.strings, sequence_length=length)
                self.assertMatchesOfficial(outputs, length)
        # The default length is the official default, 64.
        self.assertMatchesOfficial(tokenizer.pack(self.strings), 64)

    def test_pack_not_canonicalized(self):
        tokenizer = self.make_tokenizer(canonicalize=False)
        outputs = tokenizer.pack(self.strings)
        self.assertMatchesOfficial(outputs, 64, prefix="nocanon_")

    def test_pack_one_string(self):
        tokenizer = self.make_tokenizer(sequence_length=16)
        for i, text in enumerate(self.strings):
            outputs = as_numpy(tokenizer.pack(text))
            self.assertEqual(outputs["token_ids"].shape, (16,))
            np.testing.assert_array_equal(
                outputs["token_ids"], self.io["ids_16"][i]
            )
            np.testing.assert_array_equal(
                outputs["padding_mask"], self.io["paddings_16"][i] == 0
            )

    def test_pack_numpy_and_tensor_inputs(self):
        tokenizer = self.make_tokenizer()
        for inputs in (np.array(self.strings), tf.constant(self.strings)):
            self.assertMatchesOfficial(tokenizer.pack(inputs), 64)

    def test_tokenize_is_ragged_without_special_tokens(self):
        tokenizer = self.make_tokenizer()
        tokens = tokenizer(self.strings)
        self.assertEqual(len(tokens), len(self.strings))
        prefix = (
            [tokenizer.start_token_id] if self.config["bos_id"] >= 0 else []
        )
        for i, row in enumerate(tokens):
            expected = self.io["ids_64"][i][self.io["paddings_64"][i] == 0]
            self.assertEqual((prefix + list(row))[:64], expected.tolist())

    def test_tf_data_pack(self):
        tokenizer = self.make_tokenizer()
        ds = tf.data.Dataset.from_tensor_slices(self.strings)
        # Batched strings, then one string per element.
        batched = ds.batch(20).map(lambda x: tokenizer.pack(x, 16))
        self.assertMatchesOfficial(next(batched.as_numpy_iterator()), 16)
        unbatched = ds.map(tokenizer.pack).batch(20)
        self.assertMatchesOfficial(next(unbatched.as_numpy_iterator()), 64)

    def test_tf_data_pack_not_canonicalized(self):
        tokenizer = self.make_tokenizer(canonicalize=False)
        ds = tf.data.Dataset.from_tensor_slices(self.strings).batch(20)
        outputs = next(ds.map(tokenizer.pack).as_numpy_iterator())
        self.assertMatchesOfficial(outputs, 64, prefix="nocanon_")

    def test_tf_data_tokenize(self):
        tokenizer = self.make_tokenizer()
        ds = tf.data.Dataset.from_tensor_slices(self.strings)
        ds = ds.batch(20).map(tokenizer)
        self.assertEqual(next(iter(ds)).to_list(), tokenizer(self.strings))


class T5StyleParityTest(OfficialParityMixin, TestCase):
    """The T5-style model of the public checkpoints' kind: no BOS."""

    fixture = "tokenizer_t5style"

    def model_path(self):
        return T5STYLE_MODEL


@unittest.skipIf(
    shared_test_spm_path() is None,
    "the official test_spm.model is not in ../shared/fixtures (it may not be "
    "copied into the repository)",
)
class OfficialTestSpmParityTest(OfficialParityMixin, TestCase):
    """The official repository's `test_spm.model`: UNK 0, BOS 1, EOS 2."""

    fixture = "tokenizer"

    def model_path(self):
        return str(shared_test_spm_path())

    def test_unk_id_zero_inside_text_is_not_padding(self):
        # Id 0 is UNK here: the mask must come from the lengths, not ids.
        outputs = as_numpy(self.make_tokenizer().pack(self.strings))
        inside = (self.io["ids_64"] == 0) & (self.io["paddings_64"] == 0)
        self.assertGreater(inside.sum(), 0)
        self.assertTrue(outputs["padding_mask"][inside].all())


class CanonicalizeTextTest(TestCase):
    def test_matches_official(self):
        for name in ("tokenizer", "tokenizer_t5style"):
            config, _ = load_fixture(name)
            canonical = [canonicalize_text(s) for s in config["strings"]]
            self.assertEqual(canonical, config["canonicalized"])

    def test_examples(self):
        examples = {
            "Hello, World!": "hello world.",
            "": ".",
            "!!!???": ".",
            "it's": "it s.",
            "4.5": "4 5.",
            "¿Qué… “tal”?": "¿qué… “tal”.",
        }
        for text, expected in examples.items():
            self.assertEqual(canonicalize_text(text), expected)

    def test_tf_matches_python_on_fixtures(self):
        config, _ = load_fixture("tokenizer_t5style")
        strings = tf.constant(config["strings"])
        graph = tf.function(canonicalize_text_tf)
        for outputs in (canonicalize_text_tf(strings), graph(strings)):
            decoded = [x.decode("utf-8") for x in outputs.numpy()]
            self.assertEqual(decoded, config["canonicalized"])

    def test_tf_matches_python_on_code_points(self):
        # Every whitespace, punctuation and cased character below U+2C00,
        # plus the ideographic space. Documented exceptions (not tested):
        # NUL, and the capitals first cased in Unicode 14, e.g. U+2C2F.
        chars = [chr(c) for c in range(1, 0x2C00)] + ["\u3000", "\ufeff"]
        texts = [f"A{c}b" for c in chars]
        outputs = canonicalize_text_tf(tf.constant(texts)).numpy()
        decoded = [x.decode("utf-8") for x in outputs]
        self.assertEqual(decoded, [canonicalize_text(t) for t in texts])

    def test_non_string_raises(self):
        for value in (3, None, b"bytes"):
            with self.assertRaisesRegex(ValueError, "Python `str`"):
                canonicalize_text(value)


class VideoPrismTokenizerTest(TestCase):
    def make_tokenizer(self, **kwargs):
        return VideoPrismTokenizer(proto=T5STYLE_MODEL, **kwargs)

    def assertSamePack(self, tokenizer, other, texts):
        expected, actual = (
            as_numpy(tokenizer.pack(texts)),
            as_numpy(other.pack(texts)),
        )
        for key in ("token_ids", "padding_mask"):
            np.testing.assert_array_equal(actual[key], expected[key])

    def test_get_config_round_trip(self):
        tokenizer = self.make_tokenizer(sequence_length=16, canonicalize=False)
        config = tokenizer.get_config()
        self.assertEqual(config["sequence_length"], 16)
        self.assertFalse(config["canonicalize"])
        restored = VideoPrismTokenizer.from_config(config)
        self.assertEqual(restored.get_config(), config)
        restored.set_proto(T5STYLE_MODEL)
        self.assertSamePack(tokenizer, restored, ["Hello, World!", "x"])

    def test_assets_round_trip(self):
        tokenizer = self.make_tokenizer()
        asset_dir = self.get_temp_dir()
        tokenizer.save_assets(asset_dir)
        restored = VideoPrismTokenizer.from_config(tokenizer.get_config())
        restored.load_assets(asset_dir)
        self.assertSamePack(tokenizer, restored, ["Hello, World!", "über"])

    def test_preset_round_trip(self):
        tokenizer = self.make_tokenizer(sequence_length=16)
        preset_dir = os.path.join(self.get_temp_dir(), "preset")
        backbone = VideoPrismBackbone(**TINY_VIDEO_TEXT)
        save_preset(preset_dir, [backbone, tokenizer])
        for cls in (VideoPrismTokenizer, keras_hub.tokenizers.Tokenizer):
            restored = cls.from_preset(preset_dir)
            self.assertIsInstance(restored, VideoPrismTokenizer)
            self.assertEqual(restored.sequence_length, 16)
            self.assertSamePack(tokenizer, restored, ["A dog!", "a cat."])

    def test_preset_tokenizer_larger_than_the_model_is_refused(self):
        # Ids 100 to 255 of this tokenizer would have no text embedding.
        preset_dir = os.path.join(self.get_temp_dir(), "preset")
        backbone = VideoPrismBackbone(
            **dict(TINY_VIDEO_TEXT, vocabulary_size=100)
        )
        save_preset(preset_dir, [backbone, self.make_tokenizer()])
        with self.assertRaisesRegex(ValueError, "256 ids.* 100 "):
            VideoPrismTokenizer.from_preset(preset_dir)

    def test_missing_proto_raises(self):
        tokenizer = VideoPrismTokenizer()
        for call in (tokenizer, tokenizer.pack, tokenizer.tokenize):
            with self.assertRaisesRegex(ValueError, "proto=.*from_preset"):
                call("a dog")

    def test_invalid_texts_raise(self):
        tokenizer = self.make_tokenizer()
        cases = [
            ("empty", []),
            ("type int", 3),
            ("type NoneType", None),
            ("type int", ["a dog", 3]),
            ("1D batch", np.array([["a", "b"]])),
        ]
        for pattern, inputs in cases:
            for call in (tokenizer, tokenizer.pack):
                with self.assertRaisesRegex(ValueError, pattern):
                    call(inputs)

    def test_invalid_sequence_length_raises(self):
        with self.assertRaisesRegex(ValueError, "sequence_length"):
            self.make_tokenizer(sequence_length=0)
        with self.assertRaisesRegex(ValueError, "sequence_length"):
            self.make_tokenizer().pack("a dog", sequence_length=-1)

    def test_add_bos_or_eos_raises(self):
        for kwargs in ({"add_bos": True}, {"add_eos": True}):
            with self.assertRaisesRegex(ValueError, "pack"):
                self.make_tokenizer(**kwargs)

    def test_pack_string_dtype_raises(self):
        tokenizer = self.make_tokenizer(dtype="string")
        self.assertEqual(tokenizer("a")[:1], ["▁a"])
        with self.assertRaisesRegex(ValueError, "integer `dtype`"):
            tokenizer.pack("a")

    def test_truncation_keeps_first_tokens(self):
        tokenizer = self.make_tokenizer()
        text = "a video of a dog " * 20
        ids = tokenizer(text).tolist()
        outputs = as_numpy(tokenizer.pack(text, sequence_length=5))
        self.assertEqual(outputs["token_ids"].tolist(), ids[:5])
        self.assertTrue(outputs["padding_mask"].all())


class VideoPrismTokenizerHarnessTest(TestCase):
    """keras-hub's tokenizer checks: tf.data, Grain, detokenize."""

    def test_tokenizer_basics(self):
        # Lower-case prompts without punctuation detokenize to themselves
        # with the full stop the official canonicalization appends.
        self.run_preprocessing_layer_test(
            cls=VideoPrismTokenizer,
            init_kwargs={"proto": T5STYLE_MODEL},
            input_data=CANONICAL_PROMPTS,
            expected_detokenize_output=[f"{p}." for p in CANONICAL_PROMPTS],
        )
