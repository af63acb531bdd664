"""Tokenizers from the `tokenizer.json` transformers' `save_pretrained` writes.

Every `tokenizer.json` here is written by transformers' own
`VideoPrismTokenizer`, built from a SentencePiece model the way its
`from_pretrained` builds one (`convert_to_native_format(vocab_file=...)`),
then saved with `save_pretrained`. The ids are checked against the official
fixtures by `OfficialParityMixin` (every fixture string, canonicalized or
not, eagerly and in `tf.data`).
"""

import json
import os
import shutil
import tempfile
import unittest

import pytest
from sentencepiece import sentencepiece_model_pb2

from keras_videoprism.convert import transformers_tokenizer
from tests.models.video_prism_tokenizer_test import T5STYLE_MODEL
from tests.models.video_prism_tokenizer_test import OfficialParityMixin
from tests.test_case import TestCase
from tests.test_case import shared_test_spm_path

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")


def save_transformers_tokenizer(spm_path, directory):
    """Writes transformers' VideoPrism tokenizer of `spm_path` to `directory`.

    Args:
        spm_path: str. A SentencePiece `.model` file.
        directory: str. Where `save_pretrained` writes `tokenizer.json` and
            `tokenizer_config.json`.

    Returns:
        The path of the `tokenizer.json` written.
    """
    cls = transformers.VideoPrismTokenizer
    kwargs = cls.convert_to_native_format(vocab_file=str(spm_path))
    cls(**kwargs).save_pretrained(directory)
    return os.path.join(directory, transformers_tokenizer.TOKENIZER_JSON)


def read_model(proto):
    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(proto)
    return model


class TransformersTokenizerMixin(OfficialParityMixin):
    """`OfficialParityMixin` on a transformers-saved `tokenizer.json`."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.directory = tempfile.mkdtemp()
        cls.tokenizer_json = save_transformers_tokenizer(
            cls.spm_path(), cls.directory
        )

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.directory, ignore_errors=True)
        super().tearDownClass()

    def model_path(self):
        return self.tokenizer_json

    def test_saved_files_have_no_sentencepiece_model(self):
        self.assertEqual(
            sorted(os.listdir(self.directory)),
            ["tokenizer.json", "tokenizer_config.json"],
        )

    def test_rebuilt_model_equals_the_original(self):
        # An independent check: every piece, score and type, the special
        # ids, the algorithm and the normalizer of the original model.
        rebuilt = read_model(
            transformers_tokenizer.read_sentencepiece_proto(self.tokenizer_json)
        )
        with open(self.spm_path(), "rb") as file:
            original = read_model(file.read())

        def pieces(model):
            return [(p.piece, p.score, p.type) for p in model.pieces]

        self.assertEqual(pieces(rebuilt), pieces(original))
        for field in ("model_type", "unk_id", "bos_id", "eos_id", "pad_id"):
            self.assertEqual(
                getattr(rebuilt.trainer_spec, field),
                getattr(original.trainer_spec, field),
                field,
            )
        for field in (
            "precompiled_charsmap",
            "add_dummy_prefix",
            "remove_extra_whitespaces",
            "escape_whitespaces",
        ):
            self.assertEqual(
                getattr(rebuilt.normalizer_spec, field),
                getattr(original.normalizer_spec, field),
                field,
            )


class T5StyleTokenizerJsonTest(TransformersTokenizerMixin, TestCase):
    """The T5-style fixture model (a BPE model: pad 0, eos 1, unk 2)."""

    fixture = "tokenizer_t5style"

    @classmethod
    def spm_path(cls):
        return T5STYLE_MODEL


@unittest.skipIf(
    shared_test_spm_path() is None,
    "the official test_spm.model is not in ../shared/fixtures",
)
class OfficialTestSpmTokenizerJsonTest(TransformersTokenizerMixin, TestCase):
    """The official `test_spm.model` (Unigram: unk 0, bos 1, eos 2).

    transformers writes `unk_id` 2 into its `tokenizer.json` whatever the
    model; the unknown piece is read from `tokenizer_config.json`.
    """

    fixture = "tokenizer"

    @classmethod
    def spm_path(cls):
        return str(shared_test_spm_path())

    def test_transformers_unk_id_is_not_the_models(self):
        with open(self.tokenizer_json, encoding="utf-8") as file:
            self.assertEqual(json.load(file)["model"]["unk_id"], 2)
        self.assertEqual(self.make_tokenizer().token_to_id("<unk>"), 0)


class UnsupportedTokenizerJsonTest(TestCase):
    def test_bpe_tokenizer_json_is_refused(self):
        # A `tokenizers` BPE model, saved by `tokenizers` itself.
        model = tokenizers.models.BPE(
            vocab={"a": 0, "b": 1, "ab": 2, "<unk>": 3},
            merges=[("a", "b")],
            unk_token="<unk>",
        )
        path = os.path.join(self.get_temp_dir(), "tokenizer.json")
        tokenizers.Tokenizer(model).save(path)
        with self.assertRaisesRegex(ValueError, "`BPE`, not Unigram"):
            transformers_tokenizer.read_sentencepiece_proto(path)
