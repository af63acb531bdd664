"""Shared helpers for the test suite: fixture paths and the `TestCase`.

`TestCase` is keras-hub's own test harness (`run_backbone_test`,
`run_task_test`, `run_layer_test`, `run_preprocessor_test`,
`run_preset_test`, ...), with a fixed seed and fresh temporary folders.
"""

import json
import pathlib
import shutil
import tempfile

import keras
import numpy as np
from keras_hub.src.tests import test_case as keras_hub_test_case

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


class TestCase(keras_hub_test_case.TestCase):
    """keras-hub's `TestCase`: a fixed seed, float32, channels_last."""

    def setUp(self):
        super().setUp()
        keras.utils.set_random_seed(1337)
        keras.config.set_image_data_format("channels_last")
        keras.config.set_dtype_policy("float32")

    def get_temp_dir(self):
        """A new temporary folder on every call, removed after the test."""
        path = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, path, True)
        return path

    @classmethod
    def get_class_temp_dir(cls):
        """A new temporary folder, removed after the tests of the class."""
        path = tempfile.mkdtemp()
        cls.addClassCleanup(shutil.rmtree, path, True)
        return path
