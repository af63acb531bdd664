"""Shared helpers for the test suite: fixture paths and a small TestCase."""

import json
import pathlib
import shutil
import tempfile
import unittest

import keras
import numpy as np

DATA_DIR = pathlib.Path(__file__).parent / "data"
OFFICIAL_DIR = DATA_DIR / "official"
# The official test SentencePiece model may not be committed: it is read from
# the shared folder beside the checkout when there is one.
SHARED_OFFICIAL_DIR = (
    pathlib.Path(__file__).resolve().parents[2]
    / "shared"
    / "fixtures"
    / "videoprism_official"
)
# Tolerance of the fixture parity tests (issue #2).
FIXTURE_ATOL = 5e-5


def official_path(name):
    """Path of a copied official fixture file, e.g. `video_tiny.io.npz`."""
    return OFFICIAL_DIR / name


def load_official(name):
    """Returns `(checkpoint_path, config_dict, io_arrays)` of a fixture."""
    checkpoint = official_path(f"{name}.checkpoint.npz")
    with open(official_path(f"{name}.config.json")) as f:
        config = json.load(f)
    io = dict(np.load(official_path(f"{name}.io.npz")))
    return checkpoint, config, io


def shared_test_spm_path():
    """The official `test_spm.model`, or `None` when `../shared` is absent."""
    path = SHARED_OFFICIAL_DIR / "test_spm.model"
    return path if path.exists() else None


class TestCase(unittest.TestCase):
    """Base class: a fixed seed and numpy-friendly assertions."""

    def setUp(self):
        super().setUp()
        keras.utils.set_random_seed(1337)
        keras.config.set_image_data_format("channels_last")
        keras.config.set_dtype_policy("float32")

    def assertAllClose(self, actual, expected, atol=1e-6, rtol=1e-6, msg=""):
        actual = keras.ops.convert_to_numpy(actual)
        expected = keras.ops.convert_to_numpy(expected)
        self.assertEqual(actual.shape, expected.shape, msg)
        np.testing.assert_allclose(
            actual, expected, atol=atol, rtol=rtol, err_msg=msg
        )

    def get_temp_dir(self):
        path = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, path, True)
        return path
