"""Fine-tunes a VideoPrism video classifier on a folder of labelled videos.

The data directory holds one folder of video files per class:

    data_dir/
        class_a/clip_0.mp4 clip_1.mp4 ...
        class_b/...

Videos are decoded with `keras_videoprism.utils.load_video` inside a
`tf.data` pipeline, which also runs the classifier's preprocessor (frame
sampling and resizing) clip by clip. The backbone stays frozen and only the
attention-pooling head trains: the VideoPrism paper's recipe. A share of
each class is held out to report top-1 and top-5 accuracy and to draw a
confusion matrix; the trained classifier is saved as a preset, with its
class names in `class_names.json`.

Usage:

```shell
# A tiny generated dataset (squares moving left, right or down).
python examples/fine_tune_video_classifier.py --make_demo_data /tmp/squares
python examples/fine_tune_video_classifier.py --data_dir /tmp/squares \
    --preset videoprism_public_v1_base --epochs 5 --output_dir /tmp/run
# Offline smoke test with a tiny random backbone.
python examples/fine_tune_video_classifier.py --data_dir /tmp/squares \
    --tiny --num_frames 4 --image_size 16 --output_dir /tmp/run
```

Load the result with
`keras_videoprism.models.VideoClassifier.from_preset("/tmp/run/preset")`.
"""

import argparse
import json
import os
import sys

import av
import keras
import matplotlib
import numpy as np
import tensorflow as tf

from keras_videoprism.models.video_prism_video_converter import (
    VideoPrismVideoConverter,
)
from keras_videoprism.models import VideoPrismBackbone
from keras_videoprism.models import VideoPrismVideoClassifier
from keras_videoprism.models import VideoPrismVideoClassifierPreprocessor
from keras_videoprism.utils.atomic_files import atomic_directory
from keras_videoprism.utils.atomic_files import check_output
from keras_videoprism.utils.video_io import load_video

matplotlib.use("Agg")
from matplotlib import pyplot  # noqa: E402

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
# Directions of the demo squares, in pixels per frame: (down, right).
DEMO_MOTIONS = {"left": (0, -1), "right": (0, 1), "down": (1, 0)}


# --- The demo dataset --------------------------------------------------------
def write_video(path, frames, fps=8):
    """Encodes uint8 RGB frames `(T, H, W, 3)` as MPEG-4 in an `.mp4`."""
    with av.open(path, mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            image = av.VideoFrame.from_ndarray(frame, format="rgb24")
            container.mux(stream.encode(image))
        container.mux(stream.encode())


def square_clip(rng, motion, num_frames=16, size=64, square=16):
    """A square of random colour moving `motion` pixels per frame."""
    speed = 2
    travel = speed * (num_frames - 1)
    start = rng.integers(0, size - square + 1, 2)
    for axis in (0, 1):
        if motion[axis]:
            start[axis] = rng.integers(0, size - square - travel + 1)
            if motion[axis] < 0:
                start[axis] += travel
    background = rng.integers(0, 80, 3)
    colour = rng.integers(120, 256, 3)
    frames = np.empty((num_frames, size, size, 3), "uint8")
    frames[:] = background
    for t in range(num_frames):
        top, left = start + speed * t * np.array(motion)
        frames[t, top : top + square, left : left + square] = colour
    return frames


def make_demo_data(directory, clips_per_class=6, seed=0, overwrite=False):
    """Writes `directory/<left|right|down>/clip_<i>.mp4`; returns the dir.

    The dataset appears whole; an existing non-empty `directory` is
    replaced only with `overwrite=True`.
    """
    rng = np.random.default_rng(seed)
    with atomic_directory(directory, overwrite) as temporary:
        for name, motion in DEMO_MOTIONS.items():
            os.makedirs(os.path.join(temporary, name))
            for i in range(clips_per_class):
                path = os.path.join(temporary, name, f"clip_{i}.mp4")
                write_video(path, square_clip(rng, motion))
    return directory


# --- Data --------------------------------------------------------------------
def list_videos(data_dir):
    """Returns `(class_names, paths, labels)` of a folder-per-class tree."""
    class_names = sorted(
        entry.name for entry in os.scandir(data_dir) if entry.is_dir()
    )
    paths, labels = [], []
    for label, name in enumerate(class_names):
        folder = os.path.join(data_dir, name)
        for file in sorted(os.listdir(folder)):
            if file.lower().endswith(VIDEO_EXTENSIONS):
                paths.append(os.path.join(folder, file))
                labels.append(label)
    if len(class_names) < 2 or not paths:
        raise ValueError(
            f"'{data_dir}' must hold one folder of videos per class, at "
            f"least two classes. Found classes {class_names} and "
            f"{len(paths)} videos."
        )
    return class_names, np.array(paths), np.array(labels)


def split_per_class(labels, validation_fraction, seed):
    """Indices `(train, validation)`; every class keeps clips on each side."""
    rng = np.random.default_rng(seed)
    train, validation = [], []
    for label in np.unique(labels):
        indices = rng.permutation(np.flatnonzero(labels == label))
        count = round(validation_fraction * len(indices))
        count = min(max(count, 1), len(indices) - 1)
        validation.extend(indices[:count])
        train.extend(indices[count:])
    return np.array(train), np.array(validation)


def make_dataset(paths, labels, preprocessor, batch_size, shuffle_seed=None):
    """Decodes and preprocesses clips in a batched `tf.data.Dataset`."""
    num_frames = preprocessor.video_converter.num_frames

    def decode(path):
        return load_video(path.decode(), num_frames=num_frames)

    def load(path, label):
        frames = tf.numpy_function(decode, [path], tf.uint8)
        frames.set_shape((num_frames, None, None, 3))
        return frames, label

    dataset = tf.data.Dataset.from_tensor_slices((paths, labels))
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(paths), seed=shuffle_seed)
    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    # Clip by clip, so that videos of any size can share a batch.
    dataset = dataset.map(preprocessor, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


# --- Model -------------------------------------------------------------------
def tiny_backbone(num_frames, image_size):
    """A small random backbone, for smoke tests without a download."""
    return VideoPrismBackbone(
        num_frames=num_frames,
        patch_size=4,
        hidden_dim=32,
        intermediate_dim=64,
        num_heads=2,
        num_spatial_layers=1,
        num_temporal_layers=1,
        num_auxiliary_layers=0,
        image_shape=(image_size, image_size, 3),
    )


def build_classifier(args, num_classes):
    """The classifier to train, with a preprocessor for `args`' frames."""
    if args.tiny:
        backbone = tiny_backbone(args.num_frames or 4, args.image_size or 16)
        classifier = VideoPrismVideoClassifier(backbone, num_classes)
    else:
        classifier = VideoPrismVideoClassifier.from_preset(
            args.preset, num_classes=num_classes
        )
    backbone = classifier.backbone
    image_size = backbone.image_shape[:2]
    if args.image_size:
        image_size = (args.image_size, args.image_size)
    converter = VideoPrismVideoConverter(
        num_frames=args.num_frames or backbone.num_frames,
        image_size=image_size,
        crop_to_aspect_ratio=True,
    )
    classifier.preprocessor = VideoPrismVideoClassifierPreprocessor(converter)
    return classifier


# --- Evaluation --------------------------------------------------------------
def top_k_accuracy(scores, labels, k):
    top_k = np.argsort(-scores, axis=-1)[:, :k]
    return float(np.mean(np.any(top_k == labels[:, None], axis=-1)))


def confusion_matrix(predictions, labels, num_classes):
    """Counts `[true class, predicted class]`."""
    matrix = np.zeros((num_classes, num_classes), "int64")
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def save_confusion_matrix(matrix, class_names, path):
    figure, axes = pyplot.subplots(figsize=(1 + len(class_names),) * 2)
    axes.imshow(matrix, cmap="Blues")
    ticks = np.arange(len(class_names))
    axes.set_xticks(ticks, class_names, rotation=45, ha="right")
    axes.set_yticks(ticks, class_names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(column, row, str(count), ha="center", va="center")
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)


def evaluate(classifier, dataset, labels, class_names, output_dir):
    """Top-1/top-5 accuracy and a confusion-matrix PNG of held-out clips."""
    scores = classifier.predict(dataset.map(lambda x, y: x))
    predictions = np.argmax(scores, axis=-1)
    matrix = confusion_matrix(predictions, labels, len(class_names))
    path = os.path.join(output_dir, "confusion_matrix.png")
    save_confusion_matrix(matrix, class_names, path)
    results = {
        "top_1_accuracy": top_k_accuracy(scores, labels, 1),
        "top_5_accuracy": top_k_accuracy(scores, labels, 5),
        "confusion_matrix": matrix.tolist(),
    }
    print(
        f"Held-out top-1 accuracy {results['top_1_accuracy']:.3f}, "
        f"top-5 accuracy {results['top_5_accuracy']:.3f}."
    )
    return results


# --- Main --------------------------------------------------------------------
def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--make_demo_data",
        metavar="DIR",
        help="Write a tiny dataset of moving squares to DIR and exit.",
    )
    parser.add_argument("--data_dir", help="One folder of videos per class.")
    parser.add_argument(
        "--preset",
        default="videoprism_public_v1_base",
        help="A VideoPrism preset name, handle or directory.",
    )
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="Use a tiny random backbone instead of --preset (smoke test).",
    )
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument(
        "--num_frames",
        type=int,
        help="Frames per clip; defaults to the backbone's.",
    )
    parser.add_argument(
        "--image_size",
        type=int,
        help="Frame side in pixels; defaults to the backbone's.",
    )
    parser.add_argument("--validation_fraction", type=float, default=0.25)
    parser.add_argument("--output_dir", default="video_classifier_output")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="Replace an existing (non-empty) output or demo data folder.",
    )
    args = parser.parse_args(argv)
    if not args.make_demo_data and not args.data_dir:
        parser.error("pass --data_dir (or --make_demo_data DIR)")
    return args


def main(argv=None):
    """Runs the example; returns the held-out results (or the demo dir)."""
    args = parse_args(argv)
    if args.make_demo_data:
        directory = make_demo_data(
            args.make_demo_data, overwrite=args.overwrite
        )
        print(f"Wrote the demo dataset to {directory}")
        return directory
    # Before training: an existing output is refused at once.
    check_output(args.output_dir, args.overwrite, directory=True)
    keras.utils.set_random_seed(args.seed)
    class_names, paths, labels = list_videos(args.data_dir)
    train, validation = split_per_class(
        labels, args.validation_fraction, args.seed
    )
    classifier = build_classifier(args, len(class_names))
    preprocessor = classifier.preprocessor
    train_data = make_dataset(
        paths[train], labels[train], preprocessor, args.batch_size, args.seed
    )
    validation_data = make_dataset(
        paths[validation], labels[validation], preprocessor, args.batch_size
    )
    # The pipelines preprocess clip by clip: the model takes their output.
    classifier.preprocessor = None
    classifier.backbone.trainable = False
    classifier.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    classifier.fit(
        train_data, validation_data=validation_data, epochs=args.epochs
    )
    # The results and the preset appear together, whole, at the end.
    with atomic_directory(args.output_dir, args.overwrite) as temporary:
        results = evaluate(
            classifier,
            validation_data,
            labels[validation],
            class_names,
            temporary,
        )
        classifier.preprocessor = preprocessor
        preset_dir = os.path.join(temporary, "preset")
        classifier.save_to_preset(preset_dir)
        with open(os.path.join(preset_dir, "class_names.json"), "w") as f:
            json.dump(class_names, f)
    print(
        "Saved the confusion matrix and the classifier to "
        f"{os.path.join(args.output_dir, 'confusion_matrix.png')} and "
        f"{os.path.join(args.output_dir, 'preset')}"
    )
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
