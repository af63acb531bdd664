"""The `keras-videoprism` command line.

`keras-videoprism embed [VIDEO]` decodes a video, samples and resizes its
frames for the model, and saves the model's output to a `.npy` file: the
per-patch features `(T, N, D)` of a video-only preset, or the L2-normalised
video embedding `(D,)` of a video-text preset. With no video it runs on the
sample clip shipped in the package; with no preset, on the bundled tiny
demo preset (random weights, runs offline) — pass `--preset` with a real
preset directory or handle for real features.
"""

import argparse
import importlib.resources

import numpy as np

DEMO_PRESET = "videoprism_demo_tiny"


def demo_preset_path():
    """Path of the tiny random-weights demo preset bundled in the package."""
    return str(importlib.resources.files("keras_videoprism") / "data" / DEMO_PRESET)


def resolve_preset(preset):
    return demo_preset_path() if preset == DEMO_PRESET else preset


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
        crop_to_aspect_ratio=True,
    )
    frames = load_video(video, num_frames=num_frames)
    pixel_values = converter(frames[None])
    if backbone.has_text_encoder:
        result = backbone.get_video_embeddings(pixel_values)
    else:
        result = backbone.predict(pixel_values, verbose=0)
    result = np.asarray(result)[0]
    np.save(output, result)
    return result


def _embed_command(args):
    from keras_videoprism.utils import sample_video_path

    video = args.video or sample_video_path()
    result = embed(video, args.preset, args.output, args.num_frames)
    print(f"video:  {video}")
    print(f"preset: {args.preset}")
    print(
        f"saved {args.output}: shape {result.shape}, mean "
        f"{result.mean():.4f}, std {result.std():.4f}"
    )


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-videoprism",
        description="VideoPrism video features from the command line.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    embed_parser = commands.add_parser(
        "embed", help="Save the features or embedding of a video as .npy."
    )
    embed_parser.add_argument(
        "video", nargs="?", help="Video file (default: bundled sample)."
    )
    embed_parser.add_argument(
        "--preset",
        default=DEMO_PRESET,
        help=f"Preset directory or handle (default: {DEMO_PRESET}, random "
        "weights for an offline smoke run).",
    )
    embed_parser.add_argument("--output", default="video_features.npy")
    embed_parser.add_argument("--num_frames", type=int, default=None)
    embed_parser.set_defaults(run=_embed_command)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
