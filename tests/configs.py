"""The tiny configurations the tests share, in one place.

Random weights, seconds per test on a CPU: 2 frames of 16x16 pixels in 4x4
patches (16 patches per frame), 16-wide towers with 2 heads.
"""

import numpy as np

# A video-only backbone.
TINY_VIDEO = dict(
    num_frames=2,
    patch_size=4,
    hidden_dim=16,
    intermediate_dim=32,
    num_heads=2,
    num_spatial_layers=1,
    num_temporal_layers=1,
    num_auxiliary_layers=0,
    attention_logit_soft_cap=50.0,
    image_shape=(16, 16, 3),
)
# A video-text backbone, with room for the 256 ids of the T5-style test
# tokenizer (`tests/data/official/videoprism_test_t5style.model`).
TINY_VIDEO_TEXT = dict(
    TINY_VIDEO,
    num_auxiliary_layers=1,
    vocabulary_size=256,
    num_text_layers=1,
)
# The backbone tests' variant: 4 frames (their interpolation tests feed 6)
# and an auxiliary layer; its text tower takes 50 ids.
TINY_BACKBONE = dict(TINY_VIDEO, num_frames=4, num_auxiliary_layers=1)
TINY_BACKBONE_TEXT = dict(TINY_BACKBONE, vocabulary_size=50, num_text_layers=1)
# transformers' VideoPrism configs of a tiny checkpoint (8x12 frames, two
# spatial layers); its text tower has the 256 ids of the T5-style tokenizer.
TRANSFORMERS_VISION = dict(
    image_size=[8, 12],
    num_frames=2,
    tubelet_size=[1, 4, 4],
    hidden_size=16,
    num_attention_heads=2,
    intermediate_size=64,
    num_spatial_layers=2,
    num_temporal_layers=1,
    num_auxiliary_layers=1,
)
TRANSFORMERS_TEXT = dict(
    vocab_size=256,
    hidden_size=16,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=2,
)
# The video converter for both: 2 frames of 16x16.
TINY_CONVERTER = dict(num_frames=2, image_size=(16, 16))
# Prompts the T5-style tokenizer turns back into themselves (canonical:
# lower case, no punctuation).
PROMPTS = ["a video of a dog", "people dancing", "a red ball", "cooking"]


def random_videos(shape, seed=0):
    """`uint8` RGB videos of `shape`, e.g. `(B, T, H, W, 3)`."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, shape).astype("uint8")


def random_pixel_values(batch_size, config=TINY_VIDEO, seed=0):
    """`pixel_values` in `[0, 1]` for a backbone of `config`."""
    shape = (batch_size, config["num_frames"], *config["image_shape"])
    rng = np.random.default_rng(seed)
    return rng.uniform(size=shape).astype("float32")
