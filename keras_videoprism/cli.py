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
- `keras-videoprism index DIR --index INDEX` embeds the clips of every
  video under `DIR` into a searchable index (resumable; `--ray` builds it
  with Ray Data), and `keras-videoprism search "TEXT" --index INDEX`
  prints the best matching moments (`--like CLIP` searches by a clip,
  `--json` prints JSON).
- `keras-videoprism convert SOURCE OUTPUT_DIR` converts an official `.npz`
  checkpoint, a keras-hub preset or a transformers checkpoint into a preset
  of ours.

No command replaces an existing output (a file, or a non-empty directory)
without `--overwrite`, and outputs appear whole or not at all. A user error
(a missing file, a bad preset or argument, an existing output) prints one
line, `keras-videoprism <command>: error: ...`, and exits with status 2;
the cheap checks run before any model is loaded.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

from keras_videoprism.convert.config_checks import read_json
from keras_videoprism.convert.preset_loader import read_preset_config
from keras_videoprism.models.video_prism_preset_loader import DEMO_PRESET
from keras_videoprism.models.video_prism_preset_loader import resolve_preset
from keras_videoprism.models.video_text_retriever_inputs import check_template
from keras_videoprism.utils.atomic_files import atomic_directory
from keras_videoprism.utils.atomic_files import atomic_file
from keras_videoprism.utils.atomic_files import check_output

# The errors of a user's input (files, presets, arguments), printed as one
# line; any other exception is a bug and keeps its traceback.
USER_ERRORS = (ValueError, OSError)


def npy_path(output):
    """The file `np.save` writes for `output`: `.npy` is appended if absent."""
    output = os.fspath(output)
    return output if output.endswith(".npy") else f"{output}.npy"


def _check_file(path, what):
    if not os.path.isfile(path):
        found = "is a directory" if os.path.isdir(path) else "does not exist"
        raise FileNotFoundError(f"{what} '{path}' {found}.")


def _check_preset(preset):
    """Resolves a preset and reads a local one's `config.json`: cheap."""
    handle = resolve_preset(preset)
    if os.path.exists(handle):
        read_preset_config(handle)
    return handle


def embed(video, preset, output, num_frames=None, overwrite=False):
    """Embeds one video file with a preset and saves the result.

    Args:
        video: str. Path of a video file PyAV can decode.
        preset: str. A preset directory or handle, or `DEMO_PRESET`.
        output: str. Where to save the result; `.npy` is appended if the
            name lacks it, as `np.save` does.
        num_frames: int or None. Frames to sample (at least 1); defaults to
            the frame count the preset was trained with.
        overwrite: bool. Whether an existing output file may be replaced.

    Returns:
        `(path, array)`: the file written and the saved array.

    Raises:
        ValueError: a bad argument or preset; checked, with the output and
            the video, before the model is loaded.
        FileNotFoundError: the video does not exist.
        OutputExistsError: the output exists and `overwrite` is `False`.

    Example:

    ```python
    path, features = embed("clip.mp4", "videoprism_demo_tiny", "feats")
    # path == "feats.npy"
    ```
    """
    import keras

    from keras_videoprism.layers import VideoPrismVideoConverter
    from keras_videoprism.models import VideoPrismBackbone
    from keras_videoprism.utils import load_video

    if num_frames is not None and (
        isinstance(num_frames, bool)
        or not isinstance(num_frames, (int, np.integer))
        or num_frames < 1
    ):
        raise ValueError(
            f"`num_frames` must be a positive integer. Received: {num_frames}"
        )
    output = check_output(npy_path(output), overwrite)
    _check_file(video, "The video")
    handle = _check_preset(preset)
    backbone = VideoPrismBackbone.from_preset(handle)
    if num_frames is None:
        num_frames = backbone.num_frames
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
    _save_array(output, result, overwrite)
    return output, result


def embed_texts(texts, preset, output, overwrite=False):
    """Embeds texts with a video-text preset and saves the result.

    Args:
        texts: list of str. The texts, canonicalized and tokenized as the
            official VideoPrism text tower expects.
        preset: str. A video-text (LvT) preset name, directory or handle.
        output: str. Where to save the result; `.npy` is appended if the
            name lacks it, as `np.save` does.
        overwrite: bool. Whether an existing output file may be replaced.

    Returns:
        `(path, array)`: the file written and the saved L2-normalized text
        embeddings, `(len(texts), D)`.

    Example:

    ```python
    path, embeddings = embed_texts(["a dog"], "my_lvt_preset", "texts")
    ```
    """
    import keras

    from keras_videoprism.models import VideoPrismVideoTextRetriever

    output = check_output(npy_path(output), overwrite)
    handle = _check_preset(preset)
    retriever = VideoPrismVideoTextRetriever.from_preset(handle)
    result = keras.ops.convert_to_numpy(retriever.embed_texts(texts))
    _save_array(output, result, overwrite)
    return output, result


def _save_array(output, array, overwrite):
    """Writes `array` to the `.npy` file `output`, whole or not at all."""
    with atomic_file(output, overwrite) as temporary:
        with open(temporary, "wb") as file:
            np.save(file, array)


def _embed_command(args):
    from keras_videoprism.utils import sample_video_path

    if args.text:
        output, result = embed_texts(
            args.text, args.preset, args.output, args.overwrite
        )
        print(f"texts:  {len(args.text)}")
        print(f"preset: {args.preset}")
        print(f"saved {output}: shape {result.shape}")
        return
    video = args.video or sample_video_path()
    output, result = embed(
        video, args.preset, args.output, args.num_frames, args.overwrite
    )
    print(f"video:  {video}")
    print(f"preset: {args.preset}")
    print(
        f"saved {output}: shape {result.shape}, mean "
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

    Raises:
        ValueError: bad labels, template or temperature, or a bad preset;
            checked, with the video, before the model is loaded.
        FileNotFoundError: the video does not exist.
    """
    from keras_videoprism.models.video_prism_video_text_retriever import (
        VideoPrismVideoTextRetriever,
    )

    _check_classify_arguments(labels, template, temperature)
    _check_file(video, "The video")
    handle = _check_preset(preset)
    retriever = VideoPrismVideoTextRetriever.from_preset(handle)
    probabilities = retriever.classify(
        [video], labels, template=template, temperature=temperature
    )[0]
    return dict(zip(labels, probabilities.tolist()))


def _check_classify_arguments(labels, template, temperature):
    if not labels or any(not label.strip() for label in labels):
        raise ValueError(f"Labels must be non-empty texts. Received: {labels}")
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise ValueError(f"Labels must differ; repeated: {duplicates}.")
    check_template(template)
    if not temperature > 0 or not np.isfinite(temperature):
        raise ValueError(
            f"The temperature must be positive. Received: {temperature}"
        )


def _read_official_config(path):
    _check_file(path, "The official config")
    config = read_json(path)
    missing = [
        key
        for key in ("official_class", "constructor_args")
        if not isinstance(config, dict) or key not in config
    ]
    if missing:
        raise ValueError(
            f"The official config '{path}' lacks {', '.join(missing)}: it "
            "must describe the official model as `official_class` and "
            "`constructor_args`."
        )
    return config


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
        return from_official_checkpoint(
            source, _read_official_config(official_config)
        )
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
    """`VideoPrismTokenizer` of a `--tokenizer` file, or a clear error.

    The file's existence is checked before any model loads, with the other
    arguments (`_check_convert_arguments`).
    """
    from keras_videoprism.models import VideoPrismTokenizer

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


def _check_convert_arguments(
    source, output, official_config, tokenizer, overwrite
):
    check_output(output, overwrite, directory=True)
    if tokenizer is not None:
        _check_file(tokenizer, "The tokenizer model")
    if source.endswith(".npz"):
        _check_file(source, "The checkpoint")
        if official_config is None:
            raise ValueError(
                "An official `.npz` checkpoint needs `--official_config`, "
                "the JSON description of its model (`official_class` and "
                "`constructor_args`)."
            )
        _read_official_config(official_config)
    else:
        _check_preset(source)


def convert(
    source,
    output,
    official_config=None,
    tokenizer=None,
    log=print,
    no_tokenizer=False,
    overwrite=False,
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
        overwrite: bool. Whether an existing non-empty `output` directory
            may be replaced (as a whole).

    Returns:
        `{output name: (max, mean absolute difference)}` between the
        converted model and the preset written.

    Raises:
        ValueError: a bad argument or source (checked before any model is
            loaded), a video-text model without a fitting tokenizer (unless
            `no_tokenizer`), or the written preset does not reproduce the
            model (then nothing is written).
        FileNotFoundError: a missing input file.
        OutputExistsError: `output` is a non-empty directory (or a file)
            and `overwrite` is `False`.

    Example:

    ```python
    convert("videoprism_public_v1_base", "./my_preset")
    ```
    """
    from keras_videoprism.convert.preset_loader import video_converter_config
    from keras_videoprism.layers import VideoPrismVideoConverter
    from keras_videoprism.models import save_preset

    _check_convert_arguments(
        source, output, official_config, tokenizer, overwrite
    )
    start = time.time()

    def step(message):
        log(f"[{time.time() - start:7.1f}s] {message}")

    step(f"reading {source}")
    model = _load_source(source, official_config)
    backbone = getattr(model, "backbone", model)
    step(f"{type(model).__name__}: {model.count_params():,} parameters")
    converter = VideoPrismVideoConverter(
        **video_converter_config(backbone.get_config())
    )
    objects = [model, converter]
    text_tokenizer = _tokenizer_for(backbone, source, tokenizer, no_tokenizer)
    if text_tokenizer is not None:
        objects.append(text_tokenizer)
    # Written and checked in a temporary sibling, renamed into place only
    # when it reproduces the model.
    with atomic_directory(output, overwrite) as temporary:
        save_preset(temporary, objects)
        step("wrote the preset; checking it")
        differences = _compare(backbone, temporary)
        for key, (largest, mean) in differences.items():
            step(f"{key}: max abs diff {largest:.3g}, mean {mean:.3g}")
        if any(largest > 1e-5 for largest, _ in differences.values()):
            raise ValueError(
                f"The converted preset differs from the model it was "
                f"converted from; nothing was written to {output}."
            )
    step(f"saved {output}")
    return differences


def index_videos(
    videos,
    index,
    preset,
    use_ray=False,
    ray_address=None,
    clip_seconds=None,
    stride_seconds=None,
    batch_size=8,
    workers=2,
    overwrite=False,
):
    """Adds the clips of the videos under `videos` to the index `index`.

    The cheap checks (the videos, the preset, the index folder and, with
    `use_ray`, Ray itself) run before the model loads.

    Returns:
        The summary dict of `VideoIndex.add()`.

    Example:

    ```python
    index_videos("videos/", "my_index", "videoprism_lvt_public_v1_base")
    ```
    """
    from keras_videoprism.search.video_index import VideoIndex
    from keras_videoprism.search.video_index import find_videos

    find_videos(videos)
    _check_preset(preset)
    if stride_seconds is not None and clip_seconds is None:
        raise ValueError("--stride_seconds needs --clip_seconds.")
    if use_ray:
        from keras_videoprism.search.ray_indexing import import_ray

        try:
            import_ray()
        except ImportError as error:
            raise ValueError(str(error)) from error
    video_index = VideoIndex(index, preset=preset, overwrite=overwrite)
    return video_index.add(
        videos,
        clip_seconds=clip_seconds,
        stride_seconds=stride_seconds,
        batch_size=batch_size,
        workers=workers,
        use_ray=use_ray,
        ray_address=ray_address,
    )


def _index_command(args):
    summary = index_videos(
        args.videos,
        args.index,
        args.preset,
        use_ray=args.ray,
        ray_address=args.ray_address,
        clip_seconds=args.clip_seconds,
        stride_seconds=args.stride_seconds,
        batch_size=args.batch_size,
        workers=args.workers,
        overwrite=args.overwrite,
    )
    print(f"index:   {args.index}")
    print(f"preset:  {args.preset}")
    print(
        f"indexed {len(summary['indexed'])} files ({summary['num_clips']} "
        f"clips, {summary['clips_per_second']:.1f} clips/s), skipped "
        f"{len(summary['skipped'])} unchanged, failed "
        f"{len(summary['failed'])}; {summary['total_clips']} clips in the "
        "index"
    )
    for path, message in summary["failed"].items():
        print(f"failed: {path}: {message}")


def search_index(index, text=None, like=None, start=None, end=None, top_k=5):
    """The best matching moments of an index, for a text or a clip.

    The index's own preset is used. Checks the arguments and the index
    before the model loads.

    Returns:
        A list of `{"path", "start", "end", "score"}` dicts, best first.

    Example:

    ```python
    search_index("my_index", text="a red ball", top_k=3)
    ```
    """
    from keras_videoprism.search.clip_store import read_meta
    from keras_videoprism.search.video_index import VideoIndex

    if (text is None) == (like is None):
        raise ValueError(
            "pass a TEXT to search for, or --like CLIP to search by a "
            "video clip (one of the two)."
        )
    if text is not None and not text.strip():
        raise ValueError("the search text is empty.")
    if like is None and (start is not None or end is not None):
        raise ValueError("--start and --end go with --like CLIP.")
    if start is not None and end is not None and end <= start:
        raise ValueError(f"--end ({end}) must be after --start ({start}).")
    if like is not None:
        _check_file(like, "The query video")
    if read_meta(index) is None:
        raise ValueError(
            f"there is no video index at '{index}'. Build one with "
            f"`keras-videoprism index DIR --index {index}`."
        )
    video_index = VideoIndex(index)
    if like is not None:
        return video_index.search_clip(like, start, end, top_k=top_k)
    return video_index.search(text, top_k=top_k)


def _search_command(args):
    moments = search_index(
        args.index, args.text, args.like, args.start, args.end, args.top_k
    )
    if args.json:
        json.dump(moments, sys.stdout)
        sys.stdout.write("\n")
        return
    if not moments:
        print("no clips in the index.")
        return
    width = max(len(f"{m['start']:.2f}-{m['end']:.2f}s") for m in moments)
    print(f"{'score':>7}  {'time':<{width}}  file")
    for moment in moments:
        span = f"{moment['start']:.2f}-{moment['end']:.2f}s"
        print(f"{moment['score']:7.4f}  {span:<{width}}  {moment['path']}")


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


def _convert_command(args):
    convert(
        args.source,
        args.output,
        args.official_config,
        args.tokenizer,
        no_tokenizer=args.no_tokenizer,
        overwrite=args.overwrite,
    )


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer, got {text!r}"
        )
    return value


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(
            f"expected a positive number, got {text!r}"
        )
    return value


def _add_overwrite_argument(parser, what):
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help=f"Replace an existing {what} (default: refuse).",
    )


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
    embed_parser.add_argument(
        "--output",
        default="video_features.npy",
        help="File to write; `.npy` is appended if the name lacks it.",
    )
    embed_parser.add_argument("--num_frames", type=_positive_int)
    _add_overwrite_argument(embed_parser, "output file")
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
    classify_parser.add_argument(
        "--temperature", type=_positive_float, default=0.01
    )
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
    _add_overwrite_argument(convert_parser, "non-empty output directory")
    convert_parser.set_defaults(run=_convert_command)


def _non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds >= 0, got {text!r}"
        )
    return value


def _add_index_parser(commands):
    from keras_videoprism.search import SEARCH_PRESET

    index_parser = commands.add_parser(
        "index", help="Embed the clips of a folder of videos for search."
    )
    index_parser.add_argument(
        "videos",
        metavar="DIR",
        help="Folder of videos (searched recursively), a video or a glob.",
    )
    index_parser.add_argument(
        "--index", required=True, help="Index folder (created if absent)."
    )
    index_parser.add_argument(
        "--preset",
        default=SEARCH_PRESET,
        help=f"Video-text preset (default: {SEARCH_PRESET}).",
    )
    index_parser.add_argument(
        "--ray", action="store_true", help="Build the index with Ray Data."
    )
    index_parser.add_argument(
        "--ray-address",
        dest="ray_address",
        help="Ray cluster address (default: a local Ray instance).",
    )
    index_parser.add_argument(
        "--clip_seconds",
        type=_positive_float,
        help="Clip length in seconds (default: the model's frame count).",
    )
    index_parser.add_argument(
        "--stride_seconds",
        type=_positive_float,
        help="Seconds between clip starts (default: the clip length).",
    )
    index_parser.add_argument("--batch_size", type=_positive_int, default=8)
    index_parser.add_argument(
        "--workers", type=_positive_int, default=2, help="Decoding processes."
    )
    _add_overwrite_argument(index_parser, "index of another preset")
    index_parser.set_defaults(run=_index_command)


def _add_search_parser(commands):
    search_parser = commands.add_parser(
        "search", help="Find the moments of an index matching a text."
    )
    search_parser.add_argument(
        "text", nargs="?", metavar="TEXT", help="What to look for."
    )
    search_parser.add_argument("--index", required=True, help="Index folder.")
    search_parser.add_argument("--top_k", type=_positive_int, default=5)
    search_parser.add_argument(
        "--like", metavar="CLIP", help="Search by this video clip instead."
    )
    search_parser.add_argument(
        "--start", type=_non_negative_float, help="Start of the --like clip."
    )
    search_parser.add_argument(
        "--end", type=_positive_float, help="End of the --like clip."
    )
    search_parser.add_argument(
        "--json",
        action="store_true",
        help="Print a JSON list of {path, start, end, score}, best first.",
    )
    search_parser.set_defaults(run=_search_command)


class _Parser(argparse.ArgumentParser):
    """Reports argument errors in one line, `PROG: error: ...`, status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser():
    """The `keras-videoprism` argument parser, with its six commands."""
    parser = _Parser(
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
    _add_index_parser(commands)
    _add_search_parser(commands)
    return parser


def main(argv=None):
    """Runs the command line; a user error exits 2 with one line.

    Args:
        argv: list of str or None. The arguments (default: `sys.argv`).

    Example:

    ```python
    main(["embed", "clip.mp4", "--output", "features.npy"])
    ```
    """
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        parser.exit(
            2,
            f"{parser.prog} {args.command}: error: unrecognized arguments: "
            f"{' '.join(extras)}\n",
        )
    # A command-line run owns its process: keep activation buffers mapped.
    from keras_videoprism.utils.memory_allocator import keep_freed_memory

    keep_freed_memory()
    try:
        args.run(args)
    except USER_ERRORS as error:
        message = " ".join(str(error).split()) or type(error).__name__
        parser.exit(
            2, f"{parser.prog} {args.command}: error: {message}\n"
        )


if __name__ == "__main__":
    main()
