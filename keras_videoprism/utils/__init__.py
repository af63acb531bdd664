"""Video decoding and runtime helpers."""

from keras_videoprism.utils.memory_allocator import keep_freed_memory
from keras_videoprism.utils.video_io import load_video
from keras_videoprism.utils.video_io import sample_video_path
from keras_videoprism.utils.video_io import sliding_window_clips

__all__ = [
    "keep_freed_memory",
    "load_video",
    "sample_video_path",
    "sliding_window_clips",
]
