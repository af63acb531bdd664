"""VideoPrism text tokenizer: canonicalization, SentencePiece and packing.

Reproduces `tokenize_texts` of the official implementation
(https://github.com/google-deepmind/videoprism/blob/main/videoprism/models.py)
and the canonicalization of its SentencePiece tokenizer
(https://github.com/google-deepmind/videoprism/blob/main/videoprism/tokenizers.py).
"""

import os
import string

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from keras_videoprism.convert import transformers_tokenizer
from keras_videoprism.models.video_prism_backbone import VideoPrismBackbone
from keras_videoprism.models.video_prism_preset_loader import (
    VideoPrismPresetMixin,
)
from keras_videoprism.utils.keras_hub_compat import (
    convert_preprocessing_outputs_python,
)
from keras_videoprism.utils.keras_hub_compat import preprocessing_function

# The official `tokenize_texts` pads with id 0 whatever the vocabulary.
PAD_ID = 0

_PUNCTUATION_TO_SPACE = str.maketrans(
    string.punctuation, " " * len(string.punctuation)
)
# RE2 classes: the 32 ASCII punctuation characters, and exactly the characters
# for which Python's `str.isspace()` is true (checked on every code point).
_PUNCTUATION_PATTERN = "[" + "".join("\\" + c for c in string.punctuation) + "]"
_WHITESPACE_PATTERN = r"[\t-\r\x{1c}-\x{20}\x{85}\pZ]+"


def canonicalize_text(text):
    """Canonicalizes a text the way the official VideoPrism tokenizer does.

    In order: each ASCII punctuation character (`string.punctuation`) becomes
    a space, the text is lowercased (`str.lower()`), runs of whitespace are
    collapsed to one space and both ends stripped (`str.split()`), and a
    single `"."` is appended. Non-ASCII punctuation such as `"—"` is kept.

    Args:
        text: str. The text to canonicalize.

    Returns:
        The canonical string.

    Example:

    >>> canonicalize_text("  A dog's  frisbee-catch!")
    'a dog s frisbee catch.'
    """
    if not isinstance(text, str):
        raise ValueError(
            "`canonicalize_text` expects a Python `str`. "
            f"Received: {text!r} of type {type(text).__name__}."
        )
    return " ".join(text.translate(_PUNCTUATION_TO_SPACE).lower().split()) + "."


def canonicalize_text_tf(inputs):
    """TensorFlow-graph version of `canonicalize_text` (for `tf.data`).

    Built from `tf.strings` ops only, so it runs inside `tf.data` pipelines
    and `tf.function`s and can be saved in a graph. Its whitespace class is
    exactly Python's `str.isspace()` and its lowercasing is ICU's full
    Unicode mapping (final sigma and `"İ"` included), equal to `str.lower()`
    on every fixture string. Known differences from `canonicalize_text`:
    TensorFlow's lowercasing cuts a string at a NUL character, and it does
    not lowercase the ~40 capitals first cased in Unicode 14 (e.g. Vithkuqi).
    Eager calls of `VideoPrismTokenizer` use `canonicalize_text` itself.

    Args:
        inputs: A string `tf.Tensor` of any shape.

    Returns:
        A string `tf.Tensor` of the same shape, canonicalized.

    Example:

    >>> canonicalize_text_tf(tf.constant(["Hello, World!"])).numpy()
    array([b'hello world.'], dtype=object)
    """
    text = tf.strings.regex_replace(inputs, _PUNCTUATION_PATTERN, " ")
    text = tf.strings.lower(text, encoding="utf-8")
    text = tf.strings.strip(
        tf.strings.regex_replace(text, _WHITESPACE_PATTERN, " ")
    )
    return tf.strings.join([text, "."])


def _check_sequence_length(sequence_length):
    is_int = isinstance(sequence_length, (int, np.integer))
    if not is_int or isinstance(sequence_length, bool) or sequence_length < 1:
        raise ValueError(
            "`sequence_length` must be an integer >= 1 (the official default "
            f"is 64). Received: sequence_length={sequence_length!r}"
        )


def _as_text_list(inputs):
    """Returns `(texts, batched)`: the inputs as a list of Python `str`."""
    if isinstance(inputs, (np.ndarray, tf.Tensor)):
        inputs = np.asarray(inputs)
        if inputs.ndim > 1:
            raise ValueError(
                "Pass a string or a 1D batch of strings. "
                f"Received an array of shape {inputs.shape}."
            )
        inputs = inputs.tolist() if inputs.ndim else inputs.item()
    batched = isinstance(inputs, (list, tuple))
    texts = list(inputs) if batched else [inputs]
    if not texts:
        raise ValueError(
            "Received an empty list of texts. Pass at least one string."
        )
    for i, text in enumerate(texts):
        if isinstance(text, bytes):
            texts[i] = text.decode("utf-8")
        elif not isinstance(text, str):
            raise ValueError(
                "VideoPrismTokenizer expects a string or a list of strings. "
                f"Received {text!r} of type {type(text).__name__}; convert "
                "it to `str` first."
            )
    return texts, batched


@keras.saving.register_keras_serializable(package="keras_videoprism")
class VideoPrismTokenizer(
    VideoPrismPresetMixin, keras_hub.tokenizers.SentencePieceTokenizer
):
    """VideoPrism SentencePiece tokenizer with the official text packing.

    Calling the layer (or `tokenize()`) canonicalizes the texts when
    `canonicalize=True` (see `canonicalize_text`) and returns their
    SentencePiece ids, ragged and without any special token. `pack()` then
    gives the fixed-length model inputs exactly like the official
    `tokenize_texts`: the BOS id is prepended only if the SentencePiece model
    defines one (the T5-style `c4_en` model of the public checkpoints does
    not), no EOS is added, sequences are truncated to `sequence_length`
    keeping their first tokens, and right padded with id 0.

    Eager calls run in Python (`sentencepiece` and `canonicalize_text`) and
    return backend tensors; inside `tf.data` or a `tf.function` the
    TensorFlow path (`tensorflow_text` and `canonicalize_text_tf`) runs.

    Upstream: `tokenize_texts` in
    https://github.com/google-deepmind/videoprism/blob/main/videoprism/models.py
    and
    https://github.com/google-deepmind/videoprism/blob/main/videoprism/tokenizers.py

    Args:
        proto: Either a `string` path to a SentencePiece proto file or to a
            transformers `tokenizer.json` (its SentencePiece model is
            rebuilt, see `convert/transformers_tokenizer.py`; the
            `tokenizer_config.json` beside it is read), or a `bytes` object
            with a serialized SentencePiece proto. May be `None` until
            assets are loaded, e.g. by `from_preset()`.
        sequence_length: int. The length `pack()` pads and truncates to.
            Defaults to `64`, the official `max_length`.
        canonicalize: bool. Whether to canonicalize texts before tokenizing,
            as the official code does by default. Defaults to `True`.
        **kwargs: Passed to `keras_hub.tokenizers.SentencePieceTokenizer`
            (e.g. `dtype`). `add_bos` and `add_eos` must stay `False`.

    Example:

    ```python
    tokenizer = VideoPrismTokenizer(proto="c4_en.model")
    # Or from the `tokenizer.json` of a transformers checkpoint.
    tokenizer = VideoPrismTokenizer(proto="checkpoint/tokenizer.json")
    # Ragged ids of the canonical texts ("a dog.", "a cat playing.").
    tokenizer(["A dog!", "A cat, playing"])
    # Model inputs: {"token_ids": (2, 64) int32, "padding_mask": (2, 64) bool}.
    tokenizer.pack(["A dog!", "A cat, playing"])
    # In a `tf.data` pipeline.
    ds = tf.data.Dataset.from_tensor_slices(["A dog!", "A cat, playing"])
    ds = ds.batch(2).map(tokenizer.pack)
    ```
    """

    backbone_cls = VideoPrismBackbone

    def __init__(
        self, proto=None, sequence_length=64, canonicalize=True, **kwargs
    ):
        _check_sequence_length(sequence_length)
        if kwargs.get("add_bos") or kwargs.get("add_eos"):
            raise ValueError(
                "VideoPrismTokenizer does not take `add_bos` or `add_eos`: "
                "`pack()` adds BOS when the SentencePiece model defines one "
                "and never adds EOS, like the official `tokenize_texts`."
            )
        super().__init__(proto=proto, **kwargs)
        # `tokenize()` stays ragged; this is the length of `pack()`.
        self.sequence_length = sequence_length
        self.canonicalize = canonicalize

    def set_proto(self, proto):
        if isinstance(proto, os.PathLike):
            proto = os.fspath(proto)
        if isinstance(proto, str) and proto.endswith(".json"):
            proto = transformers_tokenizer.read_sentencepiece_proto(proto)
        super().set_proto(proto)
        self.start_token_id = None
        if self.proto is not None:
            bos_id = self._sentence_piece_spm.bos_id()
            self.start_token_id = bos_id if bos_id >= 0 else None

    def _check_vocabulary(self):
        if self.proto is None:
            raise ValueError(
                "VideoPrismTokenizer has no SentencePiece model yet. Pass "
                "`proto=` (a path or the serialized bytes) when creating it, "
                "or load it with `VideoPrismTokenizer.from_preset()` from a "
                "preset that has a tokenizer asset."
            )

    def tokenize(self, inputs):
        """Canonicalizes (if enabled) and tokenizes texts, without BOS/EOS.

        Args:
            inputs: A string, a list of strings, or a string tensor/array.

        Returns:
            The ids of each text (pieces with a string `dtype`): a list of
            lists for a batch, a 1D NumPy array for one string; inside
            `tf.data`, a `tf.RaggedTensor` or a 1D `tf.Tensor`.
        """
        self._check_vocabulary()
        if self._use_tf_workflow():
            return self._tokenize_tf(inputs)
        texts, batched = _as_text_list(inputs)
        ids = self._encode(texts)
        if batched:
            return ids
        if "int" in self.compute_dtype:
            return np.array(ids[0], dtype=self.compute_dtype)
        return ids[0]

    def pack(self, inputs, sequence_length=None):
        """Turns texts into model inputs, like the official `tokenize_texts`.

        Args:
            inputs: A string, a list of strings, or a string tensor/array.
            sequence_length: int. Overrides the layer's `sequence_length`.

        Returns:
            A dict with `"token_ids"` (int32, `(batch, sequence_length)`, or
            `(sequence_length,)` for one string) and `"padding_mask"` (bool,
            same shape, `True` at real tokens; the official `paddings` are
            `1 - padding_mask`).
        """
        self._check_vocabulary()
        if "int" not in self.compute_dtype:
            raise ValueError(
                "`pack()` returns token ids: create the tokenizer with an "
                "integer `dtype` (the default is `'int32'`). "
                f"Received: dtype={self.compute_dtype}"
            )
        if sequence_length is None:
            sequence_length = self.sequence_length
        _check_sequence_length(sequence_length)
        if self._use_tf_workflow():
            return self._pack_tf(inputs, sequence_length=sequence_length)
        texts, batched = _as_text_list(inputs)
        prefix = [] if self.start_token_id is None else [self.start_token_id]
        ids = [(prefix + x)[:sequence_length] for x in self._encode(texts)]
        token_ids = np.full((len(ids), sequence_length), PAD_ID, "int32")
        for row, x in zip(token_ids, ids):
            row[: len(x)] = x
        lengths = np.array([len(x) for x in ids])
        padding_mask = np.arange(sequence_length) < lengths[:, None]
        outputs = {"token_ids": token_ids, "padding_mask": padding_mask}
        if not batched:
            outputs = {key: value[0] for key, value in outputs.items()}
        return convert_preprocessing_outputs_python(outputs)

    def _encode(self, texts):
        self._maybe_initialized_spm()
        if self.canonicalize:
            texts = [canonicalize_text(text) for text in texts]
        return self._sentence_piece_spm.Encode(texts)

    @preprocessing_function
    def _tokenize_tf(self, inputs):
        inputs = tf.convert_to_tensor(inputs)
        if inputs.dtype != tf.string:
            raise ValueError(
                "VideoPrismTokenizer expects string inputs. "
                f"Received a tensor of dtype {inputs.dtype.name}."
            )
        if inputs.shape.rank == 1 and inputs.shape[0] == 0:
            raise ValueError(
                "Received an empty batch of texts. Pass at least one string."
            )
        if self.canonicalize:
            inputs = canonicalize_text_tf(inputs)
        self._maybe_initialized_tf()
        return self._sentence_piece.tokenize(inputs)

    @preprocessing_function
    def _pack_tf(self, inputs, sequence_length):
        inputs = tf.convert_to_tensor(inputs)
        unbatched = inputs.shape.rank == 0
        if unbatched:
            inputs = inputs[tf.newaxis]
        ids = self._tokenize_tf(inputs)
        if self.start_token_id is not None:
            bos = tf.constant(self.start_token_id, ids.dtype)
            ids = tf.concat([tf.fill([ids.nrows(), 1], bos), ids], axis=1)
        token_ids = ids.to_tensor(
            default_value=PAD_ID, shape=[None, sequence_length]
        )
        lengths = tf.minimum(ids.row_lengths(), sequence_length)
        outputs = {
            "token_ids": tf.cast(token_ids, "int32"),
            "padding_mask": tf.sequence_mask(lengths, sequence_length),
        }
        if unbatched:
            outputs = {key: value[0] for key, value in outputs.items()}
        return outputs

    def compute_output_spec(self, input_spec):
        return keras.KerasTensor(
            input_spec.shape + (None,), dtype=self.compute_dtype
        )

    def get_config(self):
        config = super().get_config()
        config.update({"canonicalize": self.canonicalize})
        return config
