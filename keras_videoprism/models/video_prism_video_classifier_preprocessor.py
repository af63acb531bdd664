import keras
import keras_hub

from keras_videoprism.models import video_prism_inputs as inputs_lib
from keras_videoprism.models.video_prism_backbone import VideoPrismBackbone
from keras_videoprism.models.video_prism_preset_loader import (
    VideoPrismPresetMixin,
)
from keras_videoprism.models.video_prism_video_converter import (
    VideoPrismVideoConverter,
)
from keras_videoprism.utils.keras_hub_compat import in_tf_function
from keras_videoprism.utils.keras_hub_compat import preprocessing_function


@keras.saving.register_keras_serializable(package="keras_videoprism")
class VideoPrismVideoClassifierPreprocessor(
    VideoPrismPresetMixin, keras_hub.models.Preprocessor
):
    """Preprocessor of `VideoPrismVideoClassifier`: raw videos in, frames out.

    Runs a `VideoPrismVideoConverter` over the videos (temporal sampling to
    `num_frames`, scaling of integer pixels to `[0, 1]`, resizing) and
    passes the labels and sample weights through unchanged. The classifier
    calls it inside `fit()`, `evaluate()` and `predict()`; it can also be
    mapped over a `tf.data.Dataset` (batched or not) whatever the Keras
    backend, with the classifier's `preprocessor` set to `None`.

    Loading it from a preset that holds only a backbone (no
    `video_converter.json`) gives a converter to the backbone's trained
    frame count and size.

    Args:
        video_converter: `VideoPrismVideoConverter` or `None`. `None` passes
            the videos through unchanged. Defaults to `None`.
        **kwargs: other arguments of `keras_hub.models.Preprocessor`.

    Call arguments:
        x: one video `(T, H, W, 3)` or a batch `(B, T, H, W, 3)` of any
            frame count and size, `uint8` in `[0, 255]` or float in
            `[0, 1]`; or a dict of classifier inputs, passed through.
        y: labels, passed through. Defaults to `None`.
        sample_weight: sample weights, passed through. Defaults to `None`.

    Returns:
        The classifier's inputs: a dict with `"pixel_values"`
        `(..., num_frames, height, width, 3)` and `"frame_padding_mask"`
        `(..., num_frames)` (ones: every sampled frame is real); or the
        tuple `(x, y)` or `(x, y, sample_weight)` when labels are given.

    Example:

    ```python
    converter = keras_videoprism.layers.VideoPrismVideoConverter(
        num_frames=16, image_size=(288, 288)
    )
    preprocessor = (
        keras_videoprism.models.VideoPrismVideoClassifierPreprocessor(
            video_converter=converter
        )
    )
    videos = np.random.randint(0, 256, (2, 48, 240, 320, 3), "uint8")
    x, labels = preprocessor(videos, np.array([0, 1]))
    x["pixel_values"].shape  # (2, 16, 288, 288, 3)

    # In a `tf.data` pipeline, one clip at a time.
    ds = tf.data.Dataset.from_tensor_slices((videos, [0, 1]))
    ds = ds.map(preprocessor).batch(2)
    ```
    """

    backbone_cls = VideoPrismBackbone
    video_converter_cls = VideoPrismVideoConverter

    def __init__(self, video_converter=None, **kwargs):
        super().__init__(**kwargs)
        self.video_converter = video_converter

    @preprocessing_function
    def call(self, x, y=None, sample_weight=None):
        if not isinstance(x, dict):
            x = self._model_inputs(x)
        return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)

    def _model_inputs(self, videos):
        if self.video_converter is not None:
            videos = self.video_converter(videos)
        # Every sampled frame is real: a mask of ones over `(..., T)`.
        if in_tf_function():
            import tensorflow as tf

            mask = tf.ones(tf.shape(videos)[:-3], "int32")
        else:
            mask = keras.ops.ones(keras.ops.shape(videos)[:-3], "int32")
        return {
            inputs_lib.PIXEL_VALUES: videos,
            inputs_lib.FRAME_PADDING_MASK: mask,
        }
