"""The VideoPrism video converter: frame sampling, scaling and resizing."""

import keras
import keras_hub
import numpy as np
from keras import ops

from keras_videoprism.models import video_pixels
from keras_videoprism.models.video_prism_backbone import VideoPrismBackbone
from keras_videoprism.models.video_prism_preset_loader import (
    VideoPrismPresetMixin,
)
from keras_videoprism.utils.keras_hub_compat import (
    convert_preprocessing_outputs_grain,
)
from keras_videoprism.utils.keras_hub_compat import in_grain_data_pipeline
from keras_videoprism.utils.keras_hub_compat import in_tf_function
from keras_videoprism.utils.keras_hub_compat import preprocessing_function


@keras.saving.register_keras_serializable(package="keras_videoprism")
class VideoPrismVideoConverter(
    VideoPrismPresetMixin, keras_hub.layers.VideoConverter
):
    """Turns raw videos into VideoPrism `pixel_values`.

    VideoPrism takes `float32` RGB frames in `[0, 1]` (no mean or standard
    deviation normalisation), 288x288 pixels, 16 frames for the base models
    and 8 for the large ones. This layer gets any video there in three
    steps, following the official VideoPrism demos:

    1. Temporal sampling: of the `T` input frames, the frames
       `floor(np.linspace(0, T, num_frames, endpoint=False))` are kept, so
       a video shorter than `num_frames` repeats frames.
    2. Scaling, the pixel contract of every VideoPrism model: `uint8`
       pixels are divided by 255 and `uint16` by 65535; other integer
       dtypes raise a `TypeError`; float inputs must be in `[0, 1]`
       already, and floats clearly outside it (e.g. `[0, 255]`) or NaN and
       infinite values raise a `ValueError` when the values are concrete
       (eager calls, not inside `tf.data`).
    3. Spatial resizing of every frame to `image_size` with
       `keras.ops.image.resize` (bilinear with antialiasing by default),
       after a centre crop to the target aspect ratio when
       `crop_to_aspect_ratio=True`. The result is clipped to `[0, 1]`:
       bicubic and Lanczos filters overshoot at sharp edges.

    `scale` and `offset`, when given, are then applied as `x * scale +
    offset` to the `[0, 1]` frames (unlike `keras_hub.layers.ImageConverter`,
    where they apply to the raw pixels), e.g. `scale=2.0, offset=-1.0` for
    `[-1, 1]`. VideoPrism itself needs neither.

    The layer runs eagerly on every Keras backend and inside
    `tf.data.Dataset.map`, where it runs in TensorFlow whatever the backend.

    Args:
        num_frames: int. The number of frames to sample. Defaults to `16`.
        image_size: `(int, int)` tuple or `None`. The output `(height,
            width)` of the frames. `None` keeps the input size. Defaults to
            `(288, 288)`.
        scale: float, tuple of per-channel floats, or `None`. Multiplies the
            `[0, 1]` frames. Defaults to `None`.
        offset: float, tuple of per-channel floats, or `None`. Is added to
            the frames after `scale`. Defaults to `None`.
        crop_to_aspect_ratio: bool. Whether to centre crop each frame to
            the aspect ratio of `image_size` before resizing it, instead of
            stretching it. Defaults to `False`.
        interpolation: string. The resize interpolation, one of
            `"bilinear"`, `"nearest"`, `"bicubic"`, `"lanczos3"`,
            `"lanczos5"`. Defaults to `"bilinear"`.
        antialias: bool. Whether to filter frames when shrinking them.
            Defaults to `True`.
        **kwargs: standard layer arguments, e.g. `name` and `dtype`.

    Call arguments:
        inputs: one video of shape `(T, H, W, 3)`, a batch of shape
            `(B, T, H, W, 3)`, or a list of videos (of any lengths, and
            any frame sizes when `image_size` is set). `uint8`
            (`[0, 255]`), `uint16` (`[0, 65535]`) or float (`[0, 1]`)
            pixels.

    Returns:
        `pixel_values` in the layer's compute dtype, of shape
        `(num_frames, height, width, 3)`, with a leading batch axis when
        the input had one or was a list.

    Example:
    ```python
    converter = keras_videoprism.layers.VideoPrismVideoConverter(
        num_frames=16, image_size=(288, 288)
    )
    # One decoded video: 48 frames of 240x320 uint8 RGB.
    frames = keras_videoprism.utils.load_video(
        keras_videoprism.utils.sample_video_path()
    )
    pixel_values = converter(frames)  # (16, 288, 288, 3), in [0, 1]

    # Preprocess in a `tf.data` pipeline.
    dataset = tf.data.Dataset.from_tensor_slices(np.stack([frames] * 4))
    dataset = dataset.map(converter).batch(2)
    ```
    """

    backbone_cls = VideoPrismBackbone

    def __init__(
        self,
        num_frames=16,
        image_size=(288, 288),
        scale=None,
        offset=None,
        crop_to_aspect_ratio=False,
        interpolation="bilinear",
        antialias=True,
        **kwargs,
    ):
        if isinstance(num_frames, bool) or not isinstance(
            num_frames, (int, np.integer)
        ):
            raise ValueError(
                f"`num_frames` must be an int. Received: {num_frames!r}"
            )
        if num_frames < 1:
            raise ValueError(
                f"`num_frames` must be >= 1. Received: num_frames={num_frames}"
            )
        image_size = None if image_size is None else tuple(image_size)
        super().__init__(
            image_size=image_size, scale=scale, offset=offset, **kwargs
        )
        self.num_frames = int(num_frames)
        self.crop_to_aspect_ratio = crop_to_aspect_ratio
        self.interpolation = interpolation
        self.antialias = antialias
        # The base class builds its frame converter from `image_size`,
        # `scale` and `offset` only; this one also gets our resize options.
        # `scale` and `offset` apply after the frames are clipped to
        # [0, 1], by a second converter that does not resize.
        self.image_converter = keras_hub.layers.ImageConverter(
            image_size=image_size,
            crop_to_aspect_ratio=crop_to_aspect_ratio,
            interpolation=interpolation,
            antialias=antialias,
            dtype=self.dtype_policy,
            name="image_converter",
        )
        self.rescaling = None
        if scale is not None or offset is not None:
            self.rescaling = keras_hub.layers.ImageConverter(
                scale=scale,
                offset=offset,
                dtype=self.dtype_policy,
                name="rescaling",
            )

    def call(self, inputs):
        outputs = self._call_any(inputs)
        if in_grain_data_pipeline():
            # Grain pickles outputs across worker processes: NumPy arrays.
            return convert_preprocessing_outputs_grain(outputs)
        return outputs

    def _call_any(self, inputs):
        if isinstance(inputs, (list, tuple)):
            try:
                inputs = np.asarray(inputs)
            except (ValueError, TypeError):
                # Videos of different sizes (or on a GPU): one by one.
                return ops.stack([self._call_any(video) for video in inputs])
        if self._use_tf_workflow():
            return self._call_tf(inputs)
        return self._call_python(inputs)

    @preprocessing_function
    def _call_tf(self, inputs):
        return self._call_python(inputs)

    def _call_python(self, inputs):
        if in_tf_function():
            # Inside `tf.data` or a `tf.function`: TensorFlow tensors.
            return self._convert_tf(inputs)
        return self._convert(inputs)

    def _convert(self, videos):
        # PyTorch has no uint16 tensors (Keras would make them int32):
        # such pixels are rescaled while still NumPy.
        videos = video_pixels.rescale_uint16_array(videos)
        videos = ops.convert_to_tensor(videos)
        shape = _check_video_shape(videos.shape)
        video_pixels.check_pixel_range(videos, "videos")
        indices = _frame_indices(shape[-4], self.num_frames)
        videos = ops.take(videos, indices, axis=-4)
        videos = video_pixels.to_unit_range(
            videos, self.compute_dtype, "videos"
        )
        frames = ops.reshape(videos, (-1, *shape[-3:]))
        frames = self._resize(frames)
        batch_shape = (*shape[:-4], self.num_frames)
        return ops.reshape(frames, (*batch_shape, *ops.shape(frames)[1:]))

    def _convert_tf(self, videos):
        import tensorflow as tf

        videos = tf.convert_to_tensor(videos)
        static_shape = _check_video_shape(tuple(videos.shape))
        indices = _frame_indices_tf(tf.shape(videos)[-4], self.num_frames)
        videos = tf.gather(videos, indices, axis=-4)
        videos = video_pixels.to_unit_range(
            videos, self.compute_dtype, "videos"
        )
        shape = tf.shape(videos)
        frames = tf.reshape(videos, tf.concat([[-1], shape[-3:]], axis=0))
        frames = self._resize(frames)
        outputs = tf.reshape(
            frames, tf.concat([shape[:-3], tf.shape(frames)[1:]], axis=0)
        )
        height, width = self.image_size or static_shape[-3:-1]
        outputs.set_shape(
            (*static_shape[:-4], self.num_frames, height, width, 3)
        )
        return outputs

    def _resize(self, frames):
        """Resizes `[0, 1]` frames, clips them, applies scale and offset."""
        frames = self.image_converter(frames)
        if in_tf_function():
            import tensorflow as tf

            frames = tf.clip_by_value(frames, 0, 1)
        else:
            frames = ops.clip(frames, 0, 1)
        if self.rescaling is not None:
            frames = self.rescaling(frames)
        return frames

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_frames": self.num_frames,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "interpolation": self.interpolation,
                "antialias": self.antialias,
            }
        )
        return config


def _check_video_shape(shape):
    """Checks a static video shape; returns it as a tuple."""
    shape = tuple(shape)
    if len(shape) not in (4, 5):
        raise ValueError(
            "`VideoPrismVideoConverter` expects one video of shape "
            "`(num_frames, height, width, 3)` or a batch of shape "
            f"`(batch, num_frames, height, width, 3)`. Received shape {shape}."
        )
    if shape[-1] is not None and shape[-1] != 3:
        raise ValueError(
            f"Video frames must be RGB, with 3 channels. Received {shape[-1]} "
            f"channels (shape {shape}). Convert the frames to RGB first: "
            "repeat grayscale frames with `np.repeat(video, 3, axis=-1)`, "
            "drop the alpha channel of RGBA frames with `video[..., :3]`."
        )
    if shape[-4] == 0:
        raise ValueError(
            f"The video has no frames (shape {shape}). Pass at least one."
        )
    if len(shape) == 5 and shape[0] == 0:
        raise ValueError(
            f"The batch of videos is empty (shape {shape}). Pass at least "
            "one video."
        )
    return shape


def _frame_indices(total, num_frames):
    """The official sampling rule, `linspace(0, T, n, endpoint=False)`."""
    return np.linspace(0, total, num_frames, endpoint=False).astype("int32")


def _frame_indices_tf(total, num_frames):
    """`_frame_indices` for a frame count known only when the graph runs.

    The float64 arithmetic is numpy's: `k * (T / n)`, then truncation.
    """
    import tensorflow as tf

    step = tf.cast(total, "float64") / num_frames
    indices = tf.range(num_frames, dtype="float64") * step
    return tf.cast(tf.floor(indices), "int32")
