"""Checks of the arguments of `VideoTextRetriever`'s methods.

Each check turns a wrong argument into a `ValueError` that names the
argument and the fix, before any model runs.
"""

import os
import string

import numpy as np

from keras_videoprism.models import video_prism_inputs as inputs_lib


def check_positive(value, name):
    is_number = isinstance(value, (int, float, np.number))
    if isinstance(value, bool) or not is_number or not value > 0:
        raise ValueError(
            f"`{name}` must be a positive number. Received: {name}={value!r}"
        )


def check_strings(values, name):
    """Checks a non-empty list of Python strings; returns it as a list."""
    if not isinstance(values, (list, tuple)) or not values:
        raise ValueError(
            f"`{name}` must be a non-empty list of strings, e.g. "
            f'`["cooking", "dancing"]`. Received: {name}={values!r}'
        )
    for value in values:
        if not isinstance(value, str):
            raise ValueError(
                f"`{name}` must hold only strings. Received {value!r} of "
                f"type {type(value).__name__}; convert it with `str()`."
            )
    return list(values)


def check_template(template):
    """Checks a prompt template: one `{}` for the label, no other field."""
    try:
        fields = [
            field
            for _, field, _, _ in string.Formatter().parse(template)
            if field is not None
        ]
    except (TypeError, ValueError):
        fields = None
    if fields != [""]:
        raise ValueError(
            "`template` must hold exactly one `{}`, where the label goes, "
            "and no other braces (write a literal brace as `{{` or `}}`), "
            f"e.g. 'a video of {{}}.'. Received: template={template!r}"
        )


def as_video_list(videos):
    """Returns something `len()`-able and sliceable, one item per video."""
    if isinstance(videos, (str, os.PathLike)):
        return [videos]
    if isinstance(videos, (list, tuple)):
        videos = list(videos)
    else:
        shape = inputs_lib.static_shape(videos)
        rank = None if shape is None else len(shape)
        if rank == 4:
            return [videos]
        if rank != 5:
            raise ValueError(
                "`videos` must be one video of shape (T, H, W, 3), a batch "
                "of shape (B, T, H, W, 3), a list of videos or of video "
                f"file paths. Received an array of shape {shape}. For "
                "grayscale videos add a channel axis and repeat it 3 times."
            )
    if len(videos) == 0:
        raise ValueError(
            "`videos` is empty. Pass at least one video or video file path."
        )
    return videos


def map_batches(fn, items, batch_size):
    """Applies `fn` to consecutive slices of `items`; concatenates results."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise ValueError(
            f"`batch_size` must be an int. Received: batch_size={batch_size!r}"
        )
    check_positive(batch_size, "batch_size")
    return np.concatenate(
        [
            fn(items[start : start + batch_size])
            for start in range(0, len(items), batch_size)
        ]
    )
