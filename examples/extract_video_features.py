"""Extracts VideoPrism features from a video and draws a PCA of them.

Runs a preset's video encoder on a video, prints the shapes of its
spatiotemporal features and of the spatial-only features, and saves a
picture of the patch features: the first three principal components of all
patches of the clip, shown as RGB, one map per frame under the frame.

Usage:
    python examples/extract_video_features.py \
        [--video VIDEO] [--preset PRESET] [--output pca.png]

With no arguments it runs on the sample video bundled with the package and
on the bundled tiny demo preset, offline. The demo's weights are random, so
its picture shows the pipeline, not meaningful features: pass e.g.
`--preset videoprism_public_v1_base` for real ones.
"""

import argparse
import os

import keras
import matplotlib
import numpy as np

from keras_videoprism.models.video_prism_preset_loader import demo_preset_path
from keras_videoprism.layers import VideoPrismVideoConverter
from keras_videoprism.models import VideoPrismBackbone
from keras_videoprism.utils import load_video
from keras_videoprism.utils import sample_video_path
from keras_videoprism.utils.atomic_files import atomic_file
from keras_videoprism.utils.atomic_files import check_output

matplotlib.use("Agg")
from matplotlib import pyplot  # noqa: E402


def extract_features(video, preset):
    """Decodes `video` and runs the video encoder of `preset` on it.

    Args:
        video: str. Path of a video file.
        preset: str. A preset name, directory or handle.

    Returns:
        `(pixel_values, features, grid)`: the model input `(T, H, W, 3)`,
        the spatiotemporal features `(T, N, D)` and the patch grid
        `(rows, cols)` with `N = rows * cols`.
    """
    backbone = VideoPrismBackbone.from_preset(preset)
    height, width = backbone.image_shape[:2]
    converter = VideoPrismVideoConverter(
        num_frames=backbone.num_frames,
        image_size=(height, width),
        crop_to_aspect_ratio=True,
    )
    frames = load_video(video, num_frames=backbone.num_frames)
    pixel_values = converter(frames[None])
    features = backbone.get_video_features(pixel_values)
    spatial = backbone.get_spatial_features(pixel_values)
    print(f"pixel values:          {tuple(pixel_values.shape)}")
    print(f"spatiotemporal feats:  {tuple(features.shape)}")
    print(f"spatial-only features: {tuple(spatial.shape)}")
    grid = (height // backbone.patch_size, width // backbone.patch_size)
    return (
        keras.ops.convert_to_numpy(pixel_values)[0],
        keras.ops.convert_to_numpy(features)[0],
        grid,
    )


def pca_rgb(features, grid):
    """The first three principal components of patch features, as RGB.

    Args:
        features: array `(T, N, D)`.
        grid: `(rows, cols)`, the patch grid with `N = rows * cols`.

    Returns:
        `(T, rows, cols, 3)` in `[0, 1]`: each channel is one component,
        scaled by its minimum and maximum over the clip.
    """
    frames, patches, dim = features.shape
    flat = features.reshape(-1, dim).astype("float64")
    flat = flat - flat.mean(axis=0)
    _, _, components = np.linalg.svd(flat, full_matrices=False)
    projected = flat @ components[:3].T
    low, high = projected.min(axis=0), projected.max(axis=0)
    scaled = (projected - low) / np.maximum(high - low, 1e-12)
    return scaled.reshape(frames, *grid, 3)


def save_figure(pixel_values, pca, path, overwrite=False):
    """Saves the frames (top row) above their PCA maps (bottom row).

    An existing `path` is replaced only with `overwrite=True`.
    """
    frames = len(pixel_values)
    figure, axes = pyplot.subplots(
        2, frames, figsize=(1.5 * frames, 3.2), squeeze=False
    )
    for i in range(frames):
        axes[0, i].imshow(np.clip(pixel_values[i], 0.0, 1.0))
        axes[1, i].imshow(pca[i], interpolation="nearest")
        axes[0, i].set_title(f"frame {i}", fontsize=8)
        for axis in axes[:, i]:
            axis.axis("off")
    figure.suptitle("VideoPrism patch features: first 3 PCA components")
    image_format = os.path.splitext(path)[1][1:] or "png"
    with atomic_file(path, overwrite) as temporary:
        figure.savefig(temporary, dpi=100, format=image_format)
    pyplot.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--video", default=sample_video_path())
    parser.add_argument("--preset", default=demo_preset_path())
    parser.add_argument("--output", default="video_features_pca.png")
    parser.add_argument(
        "--overwrite", action="store_true", help="Replace an existing output."
    )
    args = parser.parse_args(argv)
    # Before the model runs: an existing output is refused at once.
    check_output(args.output, args.overwrite)
    pixel_values, features, grid = extract_features(args.video, args.preset)
    pca = pca_rgb(features, grid)
    save_figure(pixel_values, pca, args.output, args.overwrite)
    print(f"saved {args.output}")
    return features, pca


if __name__ == "__main__":
    main()
