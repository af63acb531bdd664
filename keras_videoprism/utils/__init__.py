"""Video decoding helpers."""

from keras_videoprism.utils.video_io import load_video
from keras_videoprism.utils.video_io import sample_video_path
from keras_videoprism.utils.video_io import sliding_window_clips

__all__ = ["load_video", "sample_video_path", "sliding_window_clips"]
