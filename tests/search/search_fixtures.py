"""A tiny video-text preset and real encoded videos for the search tests."""

import os

from keras_videoprism.models.video_prism_backbone import VideoPrismBackbone
from keras_videoprism.models.video_prism_video_text_retriever import (
    VideoPrismVideoTextRetriever,
)
from tests.configs import TINY_VIDEO_TEXT
from tests.models.video_prism_preprocessor_test import tiny_preprocessor
from tests.utils.video_files import encode

# The tiny preset's frames: 2 of 16x16.
IMAGE_SIZE = (16, 16)


def save_tiny_preset(folder, seed=0):
    """Saves a tiny random video-text retriever preset; returns its path."""
    import keras

    keras.utils.set_random_seed(seed)
    retriever = VideoPrismVideoTextRetriever(
        VideoPrismBackbone(**TINY_VIDEO_TEXT), tiny_preprocessor()
    )
    path = os.path.join(folder, f"tiny_preset_{seed}")
    retriever.save_to_preset(path)
    return path


def make_videos(folder, lengths=(10, 7)):
    """Encodes one H.264 MP4 per length (frames at 25 fps) into `folder`.

    Returns:
        The sorted absolute paths.
    """
    os.makedirs(folder, exist_ok=True)
    paths = []
    for number, length in enumerate(lengths):
        path = os.path.abspath(os.path.join(folder, f"video_{number}.mp4"))
        encode(path, length)
        paths.append(path)
    return sorted(paths)


def make_bad_files(folder, good_video):
    """A text file named `.mp4` and a truncated copy of `good_video`."""
    not_video = os.path.join(folder, "notes.mp4")
    with open(not_video, "w") as file:
        file.write("not a video\n")
    truncated = os.path.join(folder, "truncated.mp4")
    with open(good_video, "rb") as file:
        data = file.read()
    with open(truncated, "wb") as file:
        file.write(data[: len(data) // 20])
    return not_video, truncated
