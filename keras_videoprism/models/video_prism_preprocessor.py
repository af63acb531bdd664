"""Preprocessing of videos and text prompts for video-text VideoPrism."""

import contextlib

import keras
import keras_hub

from keras_videoprism.models import video_prism_inputs as inputs_lib
from keras_videoprism.models.video_prism_backbone import VideoPrismBackbone
from keras_videoprism.models.video_prism_preset_loader import (
    VideoPrismPresetMixin,
)
from keras_videoprism.models.video_prism_tokenizer import VideoPrismTokenizer
from keras_videoprism.models.video_prism_video_converter import (
    VideoPrismVideoConverter,
)
from keras_videoprism.utils.keras_hub_compat import (
    convert_preprocessing_outputs_grain,
)
from keras_videoprism.utils.keras_hub_compat import in_grain_data_pipeline

VIDEOS = "videos"
PROMPTS = "prompts"


@contextlib.contextmanager
def _preset_files_required(preset):
    """Turns a missing preset file into an error that says what to do."""
    try:
        yield
    except FileNotFoundError as error:
        raise ValueError(
            f"{error} Video-text tasks need the tokenizer (`tokenizer.json` "
            "and `assets/tokenizer/`) and the video converter "
            "(`video_converter.json`) of a video-text (LvT) preset, and "
            f"'{preset}' lacks one. Video-only presets have no tokenizer: "
            "use `VideoPrismBackbone` or `VideoPrismVideoClassifier` with "
            "them. To add a tokenizer to a preset, save it with the model: "
            "`keras_videoprism.models.save_preset(preset_dir, [model, "
            "VideoPrismTokenizer(proto=...)], overwrite=True)` (a lone "
            "`save_to_preset()` refuses a non-empty directory), or pass "
            "`tokenizer=` to `from_preset()`."
        ) from error


def _check_inputs(x):
    if not isinstance(x, dict) or not x or set(x) - {VIDEOS, PROMPTS}:
        received = sorted(x) if isinstance(x, dict) else type(x).__name__
        raise ValueError(
            f'`VideoPrismPreprocessor` takes a dict with "{VIDEOS}" (raw '
            f'videos), "{PROMPTS}" (strings) or both, e.g. '
            f'`{{"{VIDEOS}": videos, "{PROMPTS}": ["a dog."]}}`. '
            f"Received: {received}"
        )


@keras.saving.register_keras_serializable(package="keras_videoprism")
class VideoPrismPreprocessor(
    VideoPrismPresetMixin, keras_hub.models.Preprocessor
):
    """Turns raw videos and text prompts into video-text VideoPrism inputs.

    Videos go through the video converter (frame sampling, resizing and
    scaling to `[0, 1]`) and become `"pixel_values"`; prompts go through
    the tokenizer's `pack()`, which canonicalizes, tokenizes, adds the BOS
    id when the SentencePiece model has one and pads exactly like the
    official `tokenize_texts`, and become `"token_ids"` and
    `"padding_mask"`. Either input may be left out, to encode videos or
    texts alone. Inputs may be batched or single examples, and the layer
    runs eagerly on every backend and inside `tf.data.Dataset.map`.

    Upstream: `tokenize_texts` in
    https://github.com/google-deepmind/videoprism/blob/main/videoprism/models.py

    Args:
        tokenizer: a `VideoPrismTokenizer`.
        video_converter: a `VideoPrismVideoConverter`, or `None` to pass
            `"videos"` through unchanged (they must then already be
            `pixel_values`). Defaults to `None`.
        sequence_length: int. The length prompts are padded or truncated
            to. Defaults to `64`, the official `max_length`.
        **kwargs: standard layer arguments, e.g. `name`.

    Call arguments:
        x: a dict with `"videos"`, `"prompts"` or both. `"videos"`: one
            video `(T, H, W, 3)`, a batch `(B, T, H, W, 3)` or a list of
            videos, `uint8` in `[0, 255]` or float in `[0, 1]`.
            `"prompts"`: a string, a list of strings or a string tensor.
        y: labels, passed through. Defaults to `None`.
        sample_weight: sample weights, passed through. Defaults to `None`.
        sequence_length: int. Overrides the layer's `sequence_length`.

    Returns:
        A dict with `"pixel_values"` for videos and `"token_ids"` (int32)
        and `"padding_mask"` (bool, `True` at real tokens) for prompts,
        packed with `y` and `sample_weight` as
        `keras.utils.pack_x_y_sample_weight` does.

    Example:

    ```python
    preprocessor = keras_videoprism.models.VideoPrismPreprocessor.from_preset(
        "videoprism_lvt_public_v1_base"
    )
    frames = keras_videoprism.utils.load_video(
        keras_videoprism.utils.sample_video_path()
    )
    inputs = preprocessor(
        {"videos": frames[None], "prompts": ["a video of shapes."]}
    )
    # {"pixel_values": (1, 16, 288, 288, 3), "token_ids": (1, 64),
    #  "padding_mask": (1, 64)}

    # Prompts alone, in a `tf.data` pipeline.
    ds = tf.data.Dataset.from_tensor_slices({"prompts": ["a cat.", "a dog."]})
    ds = ds.map(preprocessor).batch(2)
    ```
    """

    backbone_cls = VideoPrismBackbone
    video_text_presets_only = True
    tokenizer_cls = VideoPrismTokenizer
    video_converter_cls = VideoPrismVideoConverter

    def __init__(
        self, tokenizer, video_converter=None, sequence_length=64, **kwargs
    ):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.video_converter = video_converter
        self.sequence_length = sequence_length

    def build(self, input_shape):
        # The tokenizer and the video converter have no weights to build.
        self.built = True

    def call(self, x, y=None, sample_weight=None, sequence_length=None):
        _check_inputs(x)
        outputs = {}
        if VIDEOS in x:
            outputs[inputs_lib.PIXEL_VALUES] = self.convert_videos(x[VIDEOS])
        if PROMPTS in x:
            outputs.update(
                self.tokenizer.pack(
                    x[PROMPTS],
                    sequence_length=sequence_length or self.sequence_length,
                )
            )
        outputs = keras.utils.pack_x_y_sample_weight(outputs, y, sample_weight)
        if in_grain_data_pipeline():
            # Grain pickles outputs across worker processes: NumPy arrays.
            return convert_preprocessing_outputs_grain(outputs)
        return outputs

    def convert_videos(self, videos):
        """Converts raw videos to `pixel_values` with the video converter.

        Args:
            videos: one video `(T, H, W, 3)`, a batch `(B, T, H, W, 3)` or
                a list of videos.

        Returns:
            The `pixel_values`, or `videos` unchanged when the preprocessor
            has no video converter.
        """
        if self.video_converter is None:
            return videos
        return self.video_converter(videos)

    @classmethod
    def _add_missing_kwargs(cls, loader, kwargs):
        with _preset_files_required(loader.preset):
            return super()._add_missing_kwargs(loader, kwargs)

    def load_preset_assets(self, preset):
        with _preset_files_required(preset):
            super().load_preset_assets(preset)

    def get_config(self):
        config = super().get_config()
        config.update({"sequence_length": self.sequence_length})
        return config
