"""Parity with the official model on its tiny fixtures, on every backend.

Run as a script to print the max abs error of every fixture output:
`KERAS_BACKEND=torch python -m tests.models.video_prism_fixture_parity_test`.
"""

import keras
import numpy as np
import pytest

from keras_videoprism.convert import from_official_checkpoint
from tests.test_case import FIXTURE_ATOL
from tests.test_case import load_official

VIDEO_CASES = (
    "a_native",
    "b_interp_grow",
    "c_frame_paddings",
    "d_interp_shrink",
)
TEXT_CASES = ("t16", "t64")


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


def _frame_mask(io, prefix):
    """The official `frame_paddings` (1 = pad) as our mask (1 = real)."""
    paddings = io.get(f"{prefix}frame_paddings")
    return None if paddings is None else (1 - paddings).astype("int32")


def _tokens(features):
    """(B, T, N, D) -> the official token layout (B, T*N, D)."""
    batch, frames, patches, dim = features.shape
    return features.reshape(batch, frames * patches, dim)


def video_encoder_outputs(backbone, io, case):
    video = io[f"{case}/inputs"]
    mask = _frame_mask(io, f"{case}/")
    inputs = {"pixel_values": video, "frame_padding_mask": mask}
    if mask is None:
        inputs = video  # The bare tensor form of a video-only backbone.
    return {
        f"{case}/embeddings": _tokens(
            backbone.predict(inputs, verbose=0, batch_size=len(video))
        ),
        f"{case}/spatial_features": _tokens(
            _numpy(backbone.get_spatial_features(video, mask))
        ),
    }


def video_text_outputs(backbone, io, case):
    prefix = f"video/{case}/"
    video = io[f"{prefix}inputs"]
    mask = _frame_mask(io, prefix)
    outputs = {
        f"{prefix}spatial_features": _tokens(
            _numpy(backbone.get_spatial_features(video, mask))
        ),
        f"{prefix}spatiotemporal_features": _tokens(
            _numpy(backbone.get_video_features(video, mask))
        ),
    }
    for normalize, suffix in ((True, "normalized"), (False, "unnormalized")):
        outputs[f"{prefix}video_embeddings_{suffix}"] = _numpy(
            backbone.get_video_embeddings(video, mask, normalize=normalize)
        )
        outputs[f"{prefix}frame_embeddings_{suffix}"] = _numpy(
            backbone.get_frame_embeddings(video, mask, normalize=normalize)
        )
    # The full functional graph (predict) with a dummy text batch.
    batch = len(video)
    full = backbone.predict(
        {
            "pixel_values": video,
            "frame_padding_mask": np.ones((batch, video.shape[1]), "int32")
            if mask is None
            else mask,
            "token_ids": np.ones((batch, 3), "int32"),
            "padding_mask": np.ones((batch, 3), "int32"),
        },
        verbose=0,
        batch_size=batch,
    )
    outputs[f"{prefix}video_embeddings_normalized[predict]"] = full[
        "vision_embeddings"
    ]
    return outputs


def text_outputs(backbone, io, case):
    prefix = f"text/{case}/"
    ids = io[f"{prefix}token_ids"]
    mask = (1 - io[f"{prefix}paddings"]).astype("int32")
    return {
        f"{prefix}text_embeddings_{suffix}": _numpy(
            backbone.get_text_embeddings(ids, mask, normalize=normalize)
        )
        for normalize, suffix in ((True, "normalized"), (False, "unnormalized"))
    }


def fixture_errors(name):
    """`{output: max abs error}` of our outputs against fixture `name`."""
    checkpoint, config, io = load_official(name)
    backbone = from_official_checkpoint(str(checkpoint), config)
    outputs = {}
    if name == "video_tiny":
        for case in VIDEO_CASES:
            outputs.update(video_encoder_outputs(backbone, io, case))
    else:
        for case in config["video_cases"]:
            outputs.update(video_text_outputs(backbone, io, case))
        for case in config["text_cases"]:
            outputs.update(text_outputs(backbone, io, case))
    errors = {}
    for key, value in outputs.items():
        expected = io[key.replace("[predict]", "")]
        assert value.shape == expected.shape, (key, value.shape)
        errors[key] = float(np.max(np.abs(value - expected)))
    return errors


@pytest.mark.parametrize("name", ["video_tiny", "lvt_tiny", "lvt_primer_tiny"])
def test_fixture_parity(name):
    keras.config.set_dtype_policy("float32")
    errors = fixture_errors(name)
    failing = {k: v for k, v in errors.items() if not v <= FIXTURE_ATOL}
    assert not failing, f"max abs errors above {FIXTURE_ATOL}: {failing}"
    # Every case of the fixture was compared.
    _, config, _ = load_official(name)
    cases = config.get("cases") or {
        **config["video_cases"],
        **config["text_cases"],
    }
    for case in cases:
        assert any(f"{case}/" in key for key in errors), case


if __name__ == "__main__":
    print(f"backend: {keras.config.backend()}")
    for fixture in ("video_tiny", "lvt_tiny", "lvt_primer_tiny"):
        for key, error in fixture_errors(fixture).items():
            print(f"{fixture:16s} {key:58s} {error:.2e}")
