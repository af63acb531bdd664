"""Video decoding helpers.

The decoding functions live in `video_io`, which needs PyAV; they are
imported on first use, so that `import keras_videoprism` does not load
PyAV. (`memory_allocator`, which reconfigures the process's allocator, is
for command-line programs and is not exported here.)
"""

_VIDEO_IO = ("load_video", "sample_video_path", "sliding_window_clips")

__all__ = list(_VIDEO_IO)


def __getattr__(name):
    if name in _VIDEO_IO:
        from keras_videoprism.utils import video_io

        return getattr(video_io, name)
    raise AttributeError(
        f"module 'keras_videoprism.utils' has no attribute '{name}'"
    )


def __dir__():
    return sorted([*globals(), *_VIDEO_IO])
