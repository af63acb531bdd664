"""Video files as task inputs: decoded on demand, with PyAV.

Decoding needs PyAV, which `import keras_videoprism` does not load: it is
imported when the first file is read.
"""

import os


def read_video(video, video_converter):
    """Decodes a video file path; returns any other video unchanged.

    Args:
        video: a video file path (str or `os.PathLike`), or a video array
            `(T, H, W, 3)`, which is returned as it is.
        video_converter: the `VideoPrismVideoConverter` the frames are for
            (its `num_frames` sets how many frames are decoded), or `None`.

    Returns:
        The decoded `uint8` frames `(num_frames, H, W, 3)`, or `video`.

    Raises:
        ValueError: a path is given but `video_converter` is `None`.

    Example:

    ```python
    frames = read_video("clip.mp4", preprocessor.video_converter)
    ```
    """
    if not isinstance(video, (str, os.PathLike)):
        return video
    if video_converter is None:
        raise ValueError(
            "Reading video files needs the preprocessor's video "
            "converter (it sets the frame count and the pixel range). "
            "Pass a `preprocessor` with a `video_converter`, or decode "
            "and convert the videos to `pixel_values` yourself."
        )
    from keras_videoprism.utils.video_io import load_video

    return load_video(video, num_frames=video_converter.num_frames)
