"""The `keras-videoprism` command line.

- `keras-videoprism embed [VIDEO]` decodes a video, samples and resizes its
  frames for the model, and saves the model's output to a `.npy` file: the
  per-patch features `(T, N, D)` of a video-only preset, or the
  L2-normalised video embedding `(D,)` of a video-text preset. With no video
  it runs on the sample clip shipped in the package; with no preset, on the
  bundled tiny demo preset (random weights, runs offline) — pass `--preset`
  with a real preset name, directory or handle for real features. With
  `--text T ...` it saves the L2-normalised text embeddings `(n, D)` of a
  video-text preset instead.
- `keras-videoprism presets` lists the preset names and their metadata.
- `keras-videoprism classify VIDEO --labels ... --preset P` classifies a
  video zero-shot with a video-text preset.
- `keras-videoprism convert SOURCE OUTPUT_DIR` converts an official `.npz`
  checkpoint, a keras-hub preset or a transformers checkpoint into a preset
  of ours.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

from keras_videoprism.models.video_prism_preset_loader import DEMO_PRESET
from keras_videoprism.models.video_prism_preset_loader import resolve_preset


def embed(video, preset, output, num_frames=None):
    """Embeds one video file with a preset and saves the result.

    Args:
        video: str. Path of a video file PyAV can decode.
        preset: str. A preset directory or handle, or `DEMO_PRESET`.
        output: str. Where to save the `.npy` result.
        num_frames: int or None. Frames to sample; defaults to the frame
            count the preset was trained with.

    Returns:
        The saved numpy array.
    """
    import keras

    from keras_videoprism.layers import VideoPrismVideoConverter
    from keras_videoprism.models import VideoPrismBackbone
    from keras_videoprism.utils import load_video

    backbone = VideoPrismBackbone.from_preset(resolve_preset(preset))
    num_frames = num_frames or backbone.num_frames
    if backbone.data_format == "channels_first":
        raise ValueError(
            "The command line feeds channels_last frames; load the preset "
            "with `data_format='channels_last'` in Python instead."
        )
    converter = VideoPrismVideoConverter(
        num_frames=num_frames,
        image_size=backbone.image_shape[:2],
        crop_to_aspect_ratio=False,
    )
    frames = load_video(video, num_frames=num_frames)
    pixel_values = converter(frames[None])
    if backbone.has_text_encoder:
        result = backbone.get_video_embeddings(pixel_values)
    else:
        result = backbone.predict(pixel_values, verbose=0)
    # `convert_to_numpy`, not `np.asarray`: a torch tensor that requires
    # grad cannot be turned into numpy directly.
    result = keras.ops.convert_to_numpy(result)[0]
    np.save(output, result)
    return result


def embed_texts(texts, preset, output):
    """Embeds texts with a video-text preset and saves the result.

    Args:
        texts: list of str. The texts, canonicalized and tokenized as the
            official VideoPrism text tower expects.
        preset: str. A video-text (LvT) preset name, directory or handle.
        output: str. Where to save the `.npy` result.

    Returns:
        The saved L2-normalized text embeddings, `(len(texts), D)`.
    """
    import keras

    from keras_videoprism.models import VideoPrismVideoTextRetriever

    retriever = VideoPrismVideoTextRetriever.from_preset(resolve_preset(preset))
    result = keras.ops.convert_to_numpy(retriever.embed_texts(texts))
    np.save(output, result)
    return result


def _embed_command(args):
    from keras_videoprism.utils import sample_video_path

    if args.text:
        result = embed_texts(args.text, args.preset, args.output)
        print(f"texts:  {len(args.text)}")
        print(f"preset: {args.preset}")
        print(f"saved {args.output}: shape {result.shape}")
        return
    video = args.video or sample_video_path()
    result = embed(video, args.preset, args.output, args.num_frames)
    print(f"video:  {video}")
    print(f"preset: {args.preset}")
    print(
        f"saved {args.output}: shape {result.shape}, mean "
        f"{result.mean():.4f}, std {result.std():.4f}"
    )


def list_presets():
    """Prints the preset names and metadata; returns the preset table."""
    from keras_videoprism.models import VideoPrismBackbone

    presets = VideoPrismBackbone.presets
    for name, preset in presets.items():
        metadata = preset["metadata"]
        resolution = metadata["resolution"]
        print(name)
        print(f"  parameters: {metadata['params']:,}")
        print(
            f"  frames: {metadata['num_frames']}, frame size: "
            f"{resolution}x{resolution}"
        )
        print(f"  handle: {preset['kaggle_handle']}")
        print(f"  {metadata['description']}")
    return presets


def classify(video, labels, preset, template, temperature):
    """Zero-shot probabilities of `labels` for one video file.

    Each label is written into `template`, and the softmax over labels of
    the video-prompt similarities divided by `temperature` is returned, as
    in the official VideoPrism zero-shot demo.

    Args:
        video: str. Path of a video file PyAV can decode.
        labels: list of str. The candidate labels.
        preset: str. A video-text preset with a tokenizer.
        template: str. Prompt template with one `{}`.
        temperature: float. Softmax temperature.

    Returns:
        A `{label: probability}` dict.
    """
    from keras_videoprism.models.video_prism_video_text_retriever import (
        VideoPrismVideoTextRetriever,
    )

    # Before the (possibly large) download of the preset.
    if not os.path.isfile(video):
        raise FileNotFoundError(f"No video file at '{video}'.")
    retriever = VideoPrismVideoTextRetriever.from_preset(resolve_preset(preset))
    probabilities = retriever.classify(
        [video], labels, template=template, temperature=temperature
    )[0]
    return dict(zip(labels, probabilities.tolist()))


def _load_source(source, official_config):
    """The model of an official checkpoint, or of a preset of any format."""
    from keras_videoprism.convert import from_official_checkpoint
    from keras_videoprism.convert import preset_formats
    from keras_videoprism.convert import transformers_checkpoint
    from keras_videoprism.models import VideoPrismBackbone
    from keras_videoprism.models.video_prism_video_classifier import (
        VideoPrismVideoClassifier,
    )

    if source.endswith(".npz"):
        if official_config is None:
            raise ValueError(
                "An official `.npz` checkpoint needs `--official_config`, "
                "the JSON description of its model (`official_class` and "
                "`constructor_args`)."
            )
        with open(official_config) as file:
            return from_official_checkpoint(source, json.load(file))
    loader = preset_formats.get_preset_loader(resolve_preset(source))
    is_classifier = isinstance(
        loader, transformers_checkpoint.TransformersPresetLoader
    ) and (
        transformers_checkpoint.architecture(loader.source_config)
        == transformers_checkpoint.CLASSIFIER_MODEL
    )
    if is_classifier:
        return VideoPrismVideoClassifier.from_preset(source)
    return VideoPrismBackbone.from_preset(source)


def _read_tokenizer(proto):
    """`VideoPrismTokenizer` of a `--tokenizer` file, or a clear error."""
    import os

    from keras_videoprism.models import VideoPrismTokenizer

    if not os.path.isfile(proto):
        raise ValueError(f"--tokenizer: no such file '{proto}'.")
    try:
        return VideoPrismTokenizer(proto=proto)
    except Exception as error:
        raise ValueError(
            f"--tokenizer: could not read '{proto}' as a SentencePiece model "
            f"or a transformers tokenizer.json ({error})."
        ) from error


def _tokenizer_for(backbone, source, proto, no_tokenizer=False):
    """The tokenizer to save with a converted backbone, or `None`.

    A video-text model gets `proto` if given, else the source's tokenizer;
    without either the conversion fails unless `no_tokenizer`.

    Raises:
        ValueError: no tokenizer for a video-text model, a tokenizer for a
            video-only one, or one whose vocabulary size differs from the
            model's.
    """
    from keras_videoprism.convert.preset_loader import (
        check_tokenizer_vocabulary,
    )
    from keras_videoprism.models import VideoPrismTokenizer
    from keras_videoprism.models import video_prism_preset_loader

    if no_tokenizer and proto is not None:
        raise ValueError("pass either --tokenizer or --no-tokenizer, not both.")
    if no_tokenizer:
        return None
    if not backbone.has_text_encoder:
        if proto is not None:
            raise ValueError(
                "--tokenizer was given, but the model is video-only (it has "
                "no text tower): leave --tokenizer out."
            )
        return None
    how = (
        "Pass --tokenizer with its SentencePiece .model (or a transformers "
        "tokenizer.json), or --no-tokenizer to write a preset without one."
    )
    if proto is not None:
        tokenizer, where = _read_tokenizer(proto), f"'{proto}'"
    elif source.endswith(".npz"):
        raise ValueError(
            "an official video-text checkpoint holds no tokenizer. " + how
        )
    else:
        try:
            tokenizer = video_prism_preset_loader.from_preset(
                VideoPrismTokenizer, source
            )
        except (FileNotFoundError, ValueError) as error:
            raise ValueError(f"{error} {how}") from error
        where = f"of '{source}'"
    check_tokenizer_vocabulary(
        tokenizer.vocabulary_size(), backbone.vocabulary_size, where
    )
    return tokenizer


def _probe_inputs(backbone):
    """A random input of the trained size, for the written-preset check."""
    from keras_videoprism.convert.preset_loader import video_converter_config

    rng = np.random.default_rng(0)
    config = video_converter_config(backbone.get_config())
    shape = (1, backbone.num_frames, *config["image_size"], 3)
    video = rng.uniform(size=shape).astype("float32")
    if backbone.data_format == "channels_first":
        video = video.transpose(0, 1, 4, 2, 3)
    if not backbone.has_text_encoder:
        return video
    ids = rng.integers(0, backbone.vocabulary_size, (1, 64))
    return {
        "pixel_values": video,
        "token_ids": ids.astype("int32"),
        "padding_mask": np.ones((1, 64), "int32"),
    }


def _compare(backbone, output):
    """Max and mean absolute differences of the written preset, per output."""
    import keras

    from keras_videoprism.models import VideoPrismBackbone

    inputs = _probe_inputs(backbone)
    expected = backbone(inputs)
    actual = VideoPrismBackbone.from_preset(output)(inputs)
    if not isinstance(expected, dict):
        expected, actual = {"features": expected}, {"features": actual}
    differences = {}
    for key in expected:
        difference = np.abs(
            keras.ops.convert_to_numpy(expected[key])
            - keras.ops.convert_to_numpy(actual[key])
        )
        differences[key] = (float(difference.max()), float(difference.mean()))
    return differences


def convert(
    source,
    output,
    official_config=None,
    tokenizer=None,
    log=print,
    no_tokenizer=False,
):
    """Converts a checkpoint or preset of any format into a preset of ours.

    Args:
        source: str. An official `.npz` checkpoint (with
            `official_config`), or a preset name, directory or handle in our
            format, keras-hub's or transformers'.
        output: str. The preset directory to write.
        official_config: str or None. JSON file describing the official
            model (`official_class`, `constructor_args`).
        tokenizer: str or None. A SentencePiece model (or a transformers
            `tokenizer.json`) for a video-text preset; by default the
            source's tokenizer. Its vocabulary must match the model's.
        log: callable. Receives the progress lines.
        no_tokenizer: bool. Write a video-text preset without a tokenizer
            instead of failing when there is none. Defaults to `False`.

    Returns:
        `{output name: (max, mean absolute difference)}` between the
        converted model and the preset written.

    Raises:
        ValueError: a video-text model without a fitting tokenizer (unless
            `no_tokenizer`), checked before anything is written; or the
            written preset does not reproduce the model.
    """
    from keras_videoprism.layers import VideoPrismVideoConverter
    from keras_videoprism.convert.preset_loader import video_converter_config

    start = time.time()

    def step(message):
        log(f"[{time.time() - start:7.1f}s] {message}")

    step(f"reading {source}")
    model = _load_source(source, official_config)
    backbone = getattr(model, "backbone", model)
    step(f"{type(model).__name__}: {model.count_params():,} parameters")
    # Before writing: a preset without its tokenizer is not written.
    text_tokenizer = _tokenizer_for(backbone, source, tokenizer, no_tokenizer)
    model.save_to_preset(output)
    converter = VideoPrismVideoConverter(
        **video_converter_config(backbone.get_config())
    )
    converter.save_to_preset(output)
    if text_tokenizer is not None:
        text_tokenizer.save_to_preset(output)
    step(f"wrote {output}; checking it")
    differences = _compare(backbone, output)
    for key, (largest, mean) in differences.items():
        step(f"{key}: max abs diff {largest:.3g}, mean {mean:.3g}")
    if any(largest > 1e-5 for largest, _ in differences.values()):
        raise ValueError(f"The preset written to {output} differs.")
    return differences


def _presets_command(args):
    list_presets()


def _classify_command(args):
    probabilities = classify(
        args.video, args.labels, args.preset, args.template, args.temperature
    )
    print(f"video:  {args.video}")
    print(f"preset: {args.preset}")
    ranked = sorted(probabilities.items(), key=lambda item: -item[1])
    for label, probability in ranked:
        print(f"{probability:7.2%}  {label}")


def _fail(command, error):
    """Prints `keras-videoprism COMMAND: error: ...` on one line; exit 2."""
    message = " ".join(str(error).split())
    print(f"keras-videoprism {command}: error: {message}", file=sys.stderr)
    sys.exit(2)


def _convert_command(args):
    try:
        convert(
            args.source,
            args.output,
            args.official_config,
            args.tokenizer,
            no_tokenizer=args.no_tokenizer,
        )
    except (ValueError, FileNotFoundError) as error:
        _fail("convert", error)


def _add_embed_parser(commands):
    embed_parser = commands.add_parser(
        "embed", help="Save the features or embedding of a video as .npy."
    )
    embed_parser.add_argument(
        "video", nargs="?", help="Video file (default: bundled sample)."
    )
    embed_parser.add_argument(
        "--preset",
        default=DEMO_PRESET,
        help=f"Preset name, directory or handle (default: {DEMO_PRESET}, "
        "random weights for an offline smoke run).",
    )
    embed_parser.add_argument("--output", default="video_features.npy")
    embed_parser.add_argument("--num_frames", type=int, default=None)
    embed_parser.add_argument(
        "--text",
        nargs="+",
        help="Embed these texts instead of a video (video-text presets).",
    )
    embed_parser.set_defaults(run=_embed_command)


def _add_classify_parser(commands):
    classify_parser = commands.add_parser(
        "classify", help="Zero-shot classification with a video-text preset."
    )
    classify_parser.add_argument("video", help="Video file.")
    classify_parser.add_argument(
        "--labels", nargs="+", required=True, help="Candidate labels."
    )
    classify_parser.add_argument(
        "--preset",
        default="videoprism_lvt_public_v1_base",
        help="Video-text preset name, directory or handle.",
    )
    classify_parser.add_argument("--template", default="a video of {}.")
    classify_parser.add_argument("--temperature", type=float, default=0.01)
    classify_parser.set_defaults(run=_classify_command)


def _add_convert_parser(commands):
    convert_parser = commands.add_parser(
        "convert",
        help="Convert an official .npz, a keras-hub preset or a "
        "transformers checkpoint into a keras-videoprism preset.",
    )
    convert_parser.add_argument(
        "source",
        help="Official .npz checkpoint, or preset name, directory or handle.",
    )
    convert_parser.add_argument("output", help="Preset directory to write.")
    convert_parser.add_argument(
        "--official_config",
        help="JSON description of an official checkpoint's model.",
    )
    convert_parser.add_argument(
        "--tokenizer",
        help="SentencePiece .model or transformers tokenizer.json for a "
        "video-text preset (default: the source's own tokenizer).",
    )
    convert_parser.add_argument(
        "--no-tokenizer",
        action="store_true",
        help="Write a video-text preset without a tokenizer.",
    )
    convert_parser.set_defaults(run=_convert_command)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-videoprism",
        description="VideoPrism from the command line.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _add_embed_parser(commands)
    presets_parser = commands.add_parser(
        "presets", help="List the presets and their metadata."
    )
    presets_parser.set_defaults(run=_presets_command)
    _add_classify_parser(commands)
    _add_convert_parser(commands)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    # A command-line run owns its process: keep activation buffers mapped.
    from keras_videoprism.utils.memory_allocator import keep_freed_memory

    keep_freed_memory()
    args.run(args)


if __name__ == "__main__":
    main()
