"""The tiny video-text backbone and the batch both export tests serve."""

import numpy as np

from keras_videoprism.models import VideoPrismBackbone
from tests.configs import TINY_BACKBONE_TEXT


def backbone_and_inputs():
    """A random tiny LvT backbone and a batch of 2 (one padded text)."""
    rng = np.random.default_rng(0)
    inputs = {
        "pixel_values": rng.random((2, 4, 16, 16, 3), dtype="float32"),
        "token_ids": rng.integers(0, 50, (2, 8)).astype("int32"),
        "padding_mask": np.array([[1] * 8, [1] * 5 + [0] * 3], "int32"),
    }
    return VideoPrismBackbone(**TINY_BACKBONE_TEXT), inputs
