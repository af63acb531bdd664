"""Checks and normalises what users pass to VideoPrism models.

A video-only model accepts a bare `pixel_values` tensor or a dict; every
model accepts dicts without the optional `frame_padding_mask`. Mistakes get a
`ValueError` (or, for a wrong dtype, a `TypeError`) that names the problem
and the fix before any backend op runs. Pixels follow the contract of
`video_pixels`: `uint8`/`uint16` are rescaled to `[0, 1]`, floats must be in
`[0, 1]`.
"""

import keras
import numpy as np

from keras_videoprism.models import video_pixels

PIXEL_VALUES = "pixel_values"
FRAME_PADDING_MASK = "frame_padding_mask"
TOKEN_IDS = "token_ids"
PADDING_MASK = "padding_mask"
TEXT_INPUTS = (TOKEN_IDS, PADDING_MASK)


def static_shape(x):
    """The known dims of `x` as a tuple (`None` where unknown or no rank)."""
    shape = getattr(x, "shape", None)
    if shape is None:
        shape = np.shape(x)
    if getattr(shape, "rank", 0) is None:
        return None
    # Symbolic dims (e.g. JAX shape polymorphism in `export`) are unknown.
    return tuple(
        int(d) if isinstance(d, (int, np.integer)) else None for d in shape
    )


def _dims_differ(a, b):
    return a is not None and b is not None and a != b


def check_pixel_values(pixel_values, patch_size, channels, data_format):
    """Validates a `(B, T, H, W, C)` (or channels-first) video batch.

    Checks the rank, emptiness, channels, patch divisibility and dtype;
    values are checked by `video_pixels.check_pixel_range`.
    """
    if hasattr(pixel_values, "dtype"):
        video_pixels.pixel_range(pixel_values.dtype)
    shape = static_shape(pixel_values)
    if shape is None:
        return
    layout = "(B, T, H, W, C)"
    if data_format == "channels_first":
        layout = "(B, T, C, H, W)"
    if len(shape) != 5:
        hint = ""
        if len(shape) == 4:
            hint = " For a single video, add a batch axis: `video[None]`."
        raise ValueError(
            f"`pixel_values` must have rank 5, {layout}. Received shape "
            f"{shape}.{hint}"
        )
    if shape[0] == 0:
        raise ValueError(
            f"`pixel_values` is an empty batch (shape {shape}). Pass at least "
            "one video."
        )
    if shape[1] == 0:
        raise ValueError(
            f"The videos have no frames (shape {shape}). Pass clips of at "
            "least one frame."
        )
    if data_format == "channels_first":
        num_channels, height, width = shape[2], shape[3], shape[4]
    else:
        height, width, num_channels = shape[2], shape[3], shape[4]
    if _dims_differ(num_channels, channels):
        raise ValueError(
            f"`pixel_values` must have {channels} channels (RGB) in layout "
            f"{layout}. Received shape {shape}. Convert grayscale or RGBA "
            "frames to RGB first."
        )
    for name, size in (("height", height), ("width", width)):
        if size == 0:
            raise ValueError(
                f"The frames have a {name} of 0 (shape {shape}). Pass "
                "frames of at least one patch."
            )
        if size is not None and size % patch_size:
            raise ValueError(
                f"The frame {name} ({size}) must be a multiple of the patch "
                f"size {patch_size}. Resize or crop the frames, for example "
                "with `VideoPrismVideoConverter`. Received `pixel_values` "
                f"of shape {shape}."
            )


def check_frame_padding_mask(frame_padding_mask, pixel_values):
    if frame_padding_mask is None:
        return
    mask_shape = static_shape(frame_padding_mask)
    video_shape = static_shape(pixel_values)
    if mask_shape is None or video_shape is None:
        return
    if len(mask_shape) != 2 or any(
        _dims_differ(a, b) for a, b in zip(mask_shape, video_shape[:2])
    ):
        raise ValueError(
            "`frame_padding_mask` must have shape (B, T) matching the first "
            f"two axes of `pixel_values` {video_shape}, with 1 for real "
            f"frames and 0 for padding. Received shape {mask_shape}."
        )


def check_text_inputs(token_ids, padding_mask):
    ids_shape = static_shape(token_ids)
    mask_shape = static_shape(padding_mask)
    if ids_shape is None or mask_shape is None:
        return
    if len(ids_shape) != 2:
        raise ValueError(
            "`token_ids` must have shape (B, L). Received shape "
            f"{ids_shape}. Use `VideoPrismTokenizer` to pack texts."
        )
    if len(mask_shape) != 2 or any(
        _dims_differ(a, b) for a, b in zip(ids_shape, mask_shape)
    ):
        raise ValueError(
            "`padding_mask` must have the shape of `token_ids` "
            f"{ids_shape} (1 = real token, 0 = padding). Received shape "
            f"{mask_shape}."
        )


def check_token_ids(token_ids, vocabulary_size):
    """Refuses token ids the text embeddings have no row for.

    Only inputs whose values are known are checked (arrays and eager
    tensors); inside compiled functions the ids are not read. Without this
    check an out-of-range id gives NaN on JAX and backend errors elsewhere.

    Args:
        token_ids: the `(B, L)` token ids.
        vocabulary_size: int. The model's `vocabulary_size`.

    Raises:
        ValueError: an id is negative or `>= vocabulary_size`.

    Example:

    ```python
    check_token_ids(np.array([[5, 3, 0]]), vocabulary_size=32000)
    ```
    """
    if isinstance(token_ids, (list, tuple)):
        token_ids = np.asarray(token_ids)
    values = video_pixels.value_range(token_ids)
    if values is None:
        return
    low, high = int(values[0]), int(values[1])
    if low < 0 or high >= vocabulary_size:
        bad = low if low < 0 else high
        raise ValueError(
            f"`token_ids` holds the id {bad}, outside the model's vocabulary "
            f"of {vocabulary_size:,} ids (0 to {vocabulary_size - 1}). Pack "
            "the texts with this model's tokenizer (`VideoPrismTokenizer."
            "from_preset()` of the same preset)."
        )


def standardize_inputs(
    inputs,
    has_text,
    patch_size,
    channels,
    data_format,
    check=True,
    check_values=True,
):
    """Returns the complete input dict of a VideoPrism model, validated.

    Args:
        inputs: a tensor (video-only models) or a dict of the model inputs.
        has_text: bool. Whether the model has a text tower.
        patch_size: int. The model's patch size.
        channels: int. The expected channel count.
        data_format: str. `"channels_last"` or `"channels_first"`.
        check: bool. Whether to validate shapes, dtypes and, for concrete
            pixels, their values. `call()` passes `False`: inside a JAX
            step an error would cost the model its variables, so inputs are
            checked before the step (in `__call__`, `fit()`, `predict()`,
            ...). Defaults to `True`.
        check_values: bool. Whether `check` also reads the pixel values
            (NaN, range); `False` when they were checked already. Defaults
            to `True`.

    Returns:
        A dict with every input key of the model; an absent
        `frame_padding_mask` is `None` (all frames real).

    Example:

    ```python
    inputs = standardize_inputs(video, False, 18, 3, "channels_last")
    ```
    """
    if not isinstance(inputs, dict):
        if has_text:
            raise ValueError(
                "A video-text VideoPrism model takes a dict with "
                "`pixel_values`, `token_ids` and `padding_mask`. To encode "
                "videos alone call `get_video_embeddings(pixel_values)`; for "
                "texts alone, `get_text_embeddings(token_ids, padding_mask)`."
            )
        inputs = {PIXEL_VALUES: inputs}
    allowed = {PIXEL_VALUES, FRAME_PADDING_MASK}
    required = {PIXEL_VALUES}
    if has_text:
        allowed |= set(TEXT_INPUTS)
        required |= set(TEXT_INPUTS)
    elif any(key in inputs for key in TEXT_INPUTS):
        raise ValueError(
            "This VideoPrism backbone is video-only (`num_text_layers=0`) "
            "and takes no `token_ids` or `padding_mask`. Load a video-text "
            "(LvT) preset to encode text."
        )
    unknown = sorted(set(inputs) - allowed)
    missing = sorted(required - set(inputs))
    if unknown or missing:
        raise ValueError(
            f"Expected the input keys {sorted(allowed)} (`{FRAME_PADDING_MASK}`"
            f" is optional). Missing: {missing}. Unknown: {unknown}."
        )
    inputs = {**inputs}
    inputs.setdefault(FRAME_PADDING_MASK, None)
    if not check:
        return inputs
    video = inputs[PIXEL_VALUES]
    check_pixel_values(video, patch_size, channels, data_format)
    if check_values and hasattr(video, "dtype"):
        video_pixels.check_pixel_range(video)
    check_frame_padding_mask(inputs[FRAME_PADDING_MASK], video)
    if has_text:
        check_text_inputs(inputs[TOKEN_IDS], inputs[PADDING_MASK])
    return inputs


def rescale_pixels(inputs):
    """Rescales integer `pixel_values` of a standardized dict to `[0, 1]`.

    `uint8` and `uint16` pixels become float32 divided by their dtype's
    range (see `video_pixels`); anything else is returned unchanged.

    Args:
        inputs: a dict from `standardize_inputs`.

    Returns:
        The dict, with float `pixel_values`.

    Example:

    ```python
    inputs = rescale_pixels({"pixel_values": uint8_video})
    ```
    """
    video = inputs[PIXEL_VALUES]
    if not video_pixels.is_integer_pixels(video):
        return inputs
    return {**inputs, PIXEL_VALUES: video_pixels.to_unit_range(video)}


def fill_symbolic_frame_mask(inputs):
    """Gives a symbolic call without `frame_padding_mask` an all-ones mask.

    Keras cannot infer output specs through a `None` optional input, so a
    functional graph built on the model gets an explicit mask of real frames
    (numerically the same as no mask). Eager inputs are returned unchanged.
    """
    video = inputs[PIXEL_VALUES]
    if inputs[FRAME_PADDING_MASK] is None and isinstance(
        video, keras.KerasTensor
    ):
        frames = keras.ops.ones_like(video[:, :, 0, 0, 0], dtype="int32")
        inputs = {**inputs, FRAME_PADDING_MASK: frames}
    return inputs


def input_specs(inputs):
    """Standardized inputs as `KerasTensor` specs, with a frame mask.

    `compute_output_spec` of a functional model runs its graph on specs,
    and the graph's optional `frame_padding_mask` input needs one: an
    absent mask becomes a spec of all real frames `(B, T)`.

    Args:
        inputs: a dict from `standardize_inputs`, of tensors, arrays or
            `KerasTensor`s (an absent mask is `None`).

    Returns:
        The same dict with every value a `KerasTensor`.
    """

    def spec(x):
        if isinstance(x, keras.KerasTensor):
            return x
        dtype = getattr(x, "dtype", None) or np.asarray(x).dtype
        return keras.KerasTensor(
            static_shape(x), keras.backend.standardize_dtype(dtype)
        )

    specs = {name: spec(x) for name, x in inputs.items() if x is not None}
    if inputs.get(FRAME_PADDING_MASK) is None:
        video = specs[PIXEL_VALUES]
        specs[FRAME_PADDING_MASK] = keras.KerasTensor(video.shape[:2], "int32")
    return specs


def check_videos(videos, name="videos"):
    """Validates raw videos before a video converter samples and resizes them.

    Any frame count and size is accepted; the checks are those no converter
    can repair: rank, emptiness, RGB channels, dtype and pixel values.

    Args:
        videos: a batch `(B, T, H, W, 3)`, or a list of videos
            `(T, H, W, 3)`.
        name: str. The argument named in errors.

    Example:

    ```python
    check_videos(np.zeros((2, 8, 32, 32, 3), "uint8"))
    ```
    """
    if isinstance(videos, (list, tuple)):
        if not videos:
            raise ValueError(f"`{name}` is empty. Pass at least one video.")
        for video in videos:
            if hasattr(video, "shape"):
                _check_video_shape(static_shape(video), 4, name)
                video_pixels.check_pixel_range(video, name)
        return
    if not hasattr(videos, "shape"):
        return
    shape = static_shape(videos)
    if shape is not None:
        if len(shape) != 5:
            hint = ""
            if len(shape) == 4:
                hint = " For a single video, add a batch axis: `video[None]`."
            raise ValueError(
                f"`{name}` must be a batch of videos of shape (B, T, H, W, "
                f"3). Received shape {shape}.{hint}"
            )
        if shape[0] == 0:
            raise ValueError(
                f"`{name}` is an empty batch (shape {shape}). Pass at least "
                "one video."
            )
        _check_video_shape(shape[1:], 4, name)
    video_pixels.check_pixel_range(videos, name)


def _check_video_shape(shape, rank, name):
    if shape is None:
        return
    if len(shape) != rank:
        raise ValueError(
            f"Each video of `{name}` must have shape (T, H, W, 3). Received "
            f"shape {shape}."
        )
    if shape[0] == 0:
        raise ValueError(
            f"A video of `{name}` has no frames (shape {shape}). Pass clips "
            "of at least one frame."
        )
    if shape[1] == 0 or shape[2] == 0:
        raise ValueError(
            f"A video of `{name}` has frames of zero size (shape {shape})."
        )
    if shape[3] is not None and shape[3] != 3:
        raise ValueError(
            f"Video frames must be RGB, with 3 channels. Received "
            f"{shape[3]} channels (shape {shape}). Convert the frames to RGB "
            "first: repeat grayscale frames with `np.repeat(video, 3, "
            "axis=-1)`, drop the alpha channel of RGBA frames with "
            "`video[..., :3]`."
        )
