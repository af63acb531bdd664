"""SentencePiece models rebuilt from transformers' `tokenizer.json` files.

transformers' `VideoPrismTokenizer.save_pretrained()` writes a
`tokenizer.json` (a `tokenizers` Unigram model) and a
`tokenizer_config.json`, never the `spiece.model` it was made from. Its
converter (`T5Converter` in transformers' `convert_slow_tokenizer.py`) copies
every SentencePiece piece and score, in order, into the Unigram vocabulary,
the control and user-defined pieces into `added_tokens`, and the
normalizer's precompiled character map into a `Precompiled` normalizer; then
it appends `<extra_id_N>` tokens (T5's sentinels, 100 by default) that the
SentencePiece model never had.

`sentencepiece_proto` reverses that: it rebuilds the SentencePiece
`ModelProto` from the pieces, scores and character map, without the appended
sentinels, so that `sentencepiece` and `tensorflow_text` tokenize exactly as
the original model did. What the conversion loses is restored thus:
- piece types: the unknown piece is the config's `unk_token` (transformers
  writes `unk_id` 2 whatever the model, the T5 layout); other added tokens
  inside the vocabulary are control pieces (`special`) or user-defined ones;
- BOS, EOS and PAD ids: the control pieces named by the config's
  `bos_token`, `eos_token` and `pad_token` (default `<s>`, `</s>`,
  `<pad>`), else `-1`;
- the algorithm: SentencePiece's BPE trainer scores the i-th normal piece
  exactly `-i`, which no trained Unigram model can (its first score would
  be a log-probability of 0); such models are rebuilt as BPE, all others as
  Unigram;
- the normalizer flags: `add_dummy_prefix` from the `Metaspace`
  pre-tokenizer's `prepend_scheme`, `remove_extra_whitespaces` from a
  `WhitespaceSplit` pre-tokenizer.
"""

import base64
import json
import os
import re

TOKENIZER_JSON = "tokenizer.json"
TOKENIZER_CONFIG_JSON = "tokenizer_config.json"
_SENTINEL = re.compile(r"<extra_id_\d+>")
_DEFAULT_NAMES = {"bos": "<s>", "eos": "</s>", "pad": "<pad>"}


def _model_pb2():
    try:
        from sentencepiece import sentencepiece_model_pb2
    except ImportError as error:
        raise ImportError(
            "Reading a `tokenizer.json` needs the `sentencepiece` package "
            "(with its protobuf module): `pip install sentencepiece`."
        ) from error
    return sentencepiece_model_pb2


def _unsupported(what):
    return ValueError(
        f"This `tokenizer.json` cannot be turned into a SentencePiece model: "
        f"{what}. Supported: the Unigram tokenizers transformers writes for "
        "SentencePiece models (e.g. its `VideoPrismTokenizer`). Pass the "
        "original SentencePiece `.model` file instead."
    )


def _components(spec):
    """The list of a `Sequence` normalizer or pre-tokenizer, or `[spec]`."""
    if not spec:
        return []
    if spec.get("type") == "Sequence":
        key = "normalizers" if "normalizers" in spec else "pretokenizers"
        return spec[key]
    return [spec]


def _charsmap(normalizer):
    """The precompiled character map of a `Precompiled` normalizer."""
    charsmap = b""
    for component in _components(normalizer):
        if component.get("type") != "Precompiled":
            raise _unsupported(f"its `{component.get('type')}` normalizer")
        charsmap = base64.b64decode(component.get("precompiled_charsmap", ""))
    return charsmap


def _whitespace_flags(pre_tokenizer):
    """`(add_dummy_prefix, remove_extra_whitespaces)` of a pre-tokenizer."""
    components = _components(pre_tokenizer)
    types = [component.get("type") for component in components]
    if "Metaspace" not in types:
        raise _unsupported("it has no `Metaspace` pre-tokenizer")
    metaspace = components[types.index("Metaspace")]
    if metaspace.get("replacement", "▁") != "▁":
        raise _unsupported("its `Metaspace` replacement is not '▁'")
    add_dummy_prefix = metaspace.get("prepend_scheme", "always") != "never"
    return add_dummy_prefix, "WhitespaceSplit" in types


def _is_bpe(scores):
    """Whether normal pieces' scores are `0, -1, -2, ...` (BPE's)."""
    return len(scores) > 1 and all(
        score == -i for i, score in enumerate(scores)
    )


def sentencepiece_proto(tokenizer_json, tokenizer_config=None):
    """Rebuilds the SentencePiece model a transformers tokenizer came from.

    Args:
        tokenizer_json: dict. A parsed transformers `tokenizer.json` with a
            Unigram model.
        tokenizer_config: dict or None. Its parsed `tokenizer_config.json`,
            which names the unknown, BOS, EOS and PAD tokens. Defaults to
            `None` (the `<unk>`, `<s>`, `</s>` and `<pad>` names).

    Returns:
        The serialized SentencePiece `ModelProto` (`bytes`).

    Raises:
        ValueError: a tokenizer that is not a SentencePiece Unigram model
            converted by transformers (e.g. BPE or WordPiece vocabularies).

    Example:

    ```python
    with open("tokenizer.json") as f:
        proto = sentencepiece_proto(json.load(f))
    tokenizer = keras_videoprism.models.VideoPrismTokenizer(proto=proto)
    ```
    """
    pb2 = _model_pb2()
    config = tokenizer_config or {}
    model = tokenizer_json.get("model") or {}
    if model.get("type") != "Unigram":
        raise _unsupported(f"its model is `{model.get('type')}`, not Unigram")
    if model.get("byte_fallback"):
        raise _unsupported("it uses byte fallback")
    vocab = [(piece, float(score)) for piece, score in model["vocab"]]
    added = {t["id"]: t for t in tokenizer_json.get("added_tokens", [])}
    # The sentinels transformers appends after the SentencePiece pieces.
    size = len(vocab)
    while size and _SENTINEL.fullmatch(vocab[size - 1][0]):
        if not added.get(size - 1, {}).get("special"):
            break
        size -= 1
    vocab = vocab[:size]
    ids = {piece: i for i, (piece, _) in enumerate(vocab)}
    unk_id = ids.get(config.get("unk_token", "<unk>"), model.get("unk_id"))
    if unk_id is None or not 0 <= unk_id < size:
        raise _unsupported("it has no unknown piece")

    proto = pb2.ModelProto()
    piece_type = pb2.ModelProto.SentencePiece
    normal_scores = []
    for i, (piece, score) in enumerate(vocab):
        entry = proto.pieces.add(piece=piece, score=score)
        if i == unk_id:
            entry.type = piece_type.UNKNOWN
        elif i in added:
            special = added[i].get("special")
            entry.type = (
                piece_type.CONTROL if special else piece_type.USER_DEFINED
            )
        else:
            normal_scores.append(score)

    trainer = proto.trainer_spec
    trainer.model_type = (
        pb2.TrainerSpec.BPE
        if _is_bpe(normal_scores)
        else pb2.TrainerSpec.UNIGRAM
    )
    trainer.vocab_size = size
    trainer.unk_id = unk_id
    trainer.unk_piece = vocab[unk_id][0]
    for role, default in _DEFAULT_NAMES.items():
        name = config.get(f"{role}_token") or default
        if not isinstance(name, str):
            name = name.get("content", default)
        index = ids.get(name, -1)
        if index >= 0 and proto.pieces[index].type != piece_type.CONTROL:
            index = -1
        setattr(trainer, f"{role}_id", index)
        setattr(trainer, f"{role}_piece", name)

    charsmap = _charsmap(tokenizer_json.get("normalizer"))
    add_prefix, remove_spaces = _whitespace_flags(
        tokenizer_json.get("pre_tokenizer")
    )
    normalizer = proto.normalizer_spec
    normalizer.name = "nmt_nfkc" if charsmap else "identity"
    normalizer.precompiled_charsmap = charsmap
    normalizer.add_dummy_prefix = add_prefix
    normalizer.remove_extra_whitespaces = remove_spaces
    normalizer.escape_whitespaces = True
    return proto.SerializeToString()


def read_sentencepiece_proto(path):
    """`sentencepiece_proto` of a `tokenizer.json` file and its config.

    Args:
        path: str. A transformers `tokenizer.json`; the
            `tokenizer_config.json` beside it is read when present.

    Returns:
        The serialized SentencePiece `ModelProto` (`bytes`).

    Example:

    ```python
    proto = read_sentencepiece_proto("checkpoint/tokenizer.json")
    ```
    """
    path = os.fspath(path)
    with open(path, encoding="utf-8") as file:
        tokenizer_json = json.load(file)
    config_path = os.path.join(os.path.dirname(path), TOKENIZER_CONFIG_JSON)
    config = None
    if os.path.exists(config_path):
        with open(config_path, encoding="utf-8") as file:
            config = json.load(file)
    return sentencepiece_proto(tokenizer_json, config)
