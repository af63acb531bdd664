import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest.mock

import keras
import numpy as np
import pytest

from keras_videoprism.convert import preset_hubs
from keras_videoprism.models import VideoPrismBackbone
from tests.convert.hub_server import hub_endpoint
from tests.convert.hub_server import serve
from tests.test_case import FIXTURE_ATOL
from tests.test_case import TestCase
from tests.test_case import load_official
from tests.test_case import official_path

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

REPO = "google/videoprism-tiny-f4r16"
VISION = dict(
    image_size=16,
    num_frames=4,
    tubelet_size=[1, 4, 4],
    hidden_size=16,
    num_attention_heads=2,
    intermediate_size=32,
    num_spatial_layers=1,
    num_temporal_layers=1,
)
# An unreachable hub answers in well under this (huggingface_hub alone
# retries for about 25 s).
TIME_BOUND = 15.0


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def setUpModule():
    """One repository laid out as google/videoprism-*: the official `.npz`
    on `main`, a transformers checkpoint at `refs/pr/4`."""
    global ROOT, MAIN, PULL_REQUEST, MODEL
    ROOT = tempfile.mkdtemp()
    MAIN = os.path.join(ROOT, "main")
    PULL_REQUEST = os.path.join(ROOT, "pr4")
    os.makedirs(MAIN)
    shutil.copy(
        official_path("video_tiny.checkpoint.npz"),
        os.path.join(MAIN, "flax_tiny_f4r16_repeated.npz"),
    )
    config = transformers.VideoPrismVisionConfig(**VISION)
    MODEL = transformers.VideoPrismVisionModel(config).eval()
    MODEL.save_pretrained(PULL_REQUEST)


def tearDownModule():
    shutil.rmtree(ROOT, ignore_errors=True)


class SplitHandleTest(TestCase):
    def test_revisions(self):
        self.assertEqual(
            preset_hubs.split_hf_handle(f"hf://{REPO}@refs/pr/4"),
            (REPO, "refs/pr/4"),
        )
        self.assertEqual(
            preset_hubs.split_hf_handle(f"hf://{REPO}"), (REPO, None)
        )
        with self.assertRaisesRegex(ValueError, "hf://owner/repo@revision"):
            preset_hubs.split_hf_handle("hf://just-a-name")


class HuggingFaceHubTest(TestCase):
    def setUp(self):
        super().setUp()
        repositories = {REPO: {"main": MAIN, "refs/pr/4": PULL_REQUEST}}
        self.cache = self.get_temp_dir()
        server = serve(repositories)
        self.endpoint = server.__enter__()
        self.addCleanup(server.__exit__, None, None, None)

    def online(self):
        return hub_endpoint(self.endpoint, self.cache)

    def test_main_branch_official_checkpoint(self):
        with self.online():
            backbone = VideoPrismBackbone.from_preset(f"hf://{REPO}")
        _, _, io = load_official("video_tiny")
        features = keras.ops.convert_to_numpy(backbone(io["a_native/inputs"]))
        self.assertAllClose(
            features.reshape(2, 64, 32),
            io["a_native/embeddings"],
            atol=FIXTURE_ATOL,
        )

    def test_pull_request_revision(self):
        with self.online():
            directory = preset_hubs.local_directory(f"hf://{REPO}@refs/pr/4")
            backbone = VideoPrismBackbone.from_preset(f"hf://{REPO}@refs/pr/4")
        # Only the transformers checkpoint is fetched at that revision.
        self.assertEqual(
            sorted(os.listdir(directory)), ["config.json", "model.safetensors"]
        )
        video = np.random.default_rng(0).uniform(size=(1, 4, 16, 16, 3))
        with torch.no_grad():
            pixels = torch.from_numpy(video.transpose(0, 1, 4, 2, 3)).float()
            expected = MODEL(pixel_values_videos=pixels).last_hidden_state
        features = keras.ops.convert_to_numpy(backbone(video.astype("float32")))
        self.assertAllClose(
            features.reshape(1, 64, 16), expected.numpy(), atol=FIXTURE_ATOL
        )

    def test_unknown_revision_and_repository(self):
        with self.online():
            with self.assertRaisesRegex(FileNotFoundError, "no revision 'v9'"):
                VideoPrismBackbone.from_preset(f"hf://{REPO}@v9")
            with self.assertRaisesRegex(
                FileNotFoundError, "No Hugging Face repository 'google/none'"
            ):
                VideoPrismBackbone.from_preset("hf://google/none")

    def test_offline_reads_the_cache_only(self):
        with self.online():
            preset_hubs.local_directory(f"hf://{REPO}@refs/pr/4")
        with hub_endpoint(self.endpoint, self.cache, offline=True):
            backbone = VideoPrismBackbone.from_preset(f"hf://{REPO}@refs/pr/4")
            self.assertEqual(backbone.hidden_dim, 16)
            with self.assertRaisesRegex(
                preset_hubs.PresetDownloadError,
                f"'hf://{REPO}' is not in the Hugging Face cache and "
                "HF_HUB_OFFLINE is set",
            ):
                VideoPrismBackbone.from_preset(f"hf://{REPO}")

    def test_unreachable_endpoint_is_one_clear_error(self):
        endpoint = f"http://127.0.0.1:{closed_port()}"
        start = time.monotonic()
        with hub_endpoint(endpoint, self.cache):
            with self.assertRaises(preset_hubs.PresetDownloadError) as context:
                VideoPrismBackbone.from_preset(f"hf://{REPO}@refs/pr/4")
        self.assertLess(time.monotonic() - start, TIME_BOUND)
        message = str(context.exception)
        self.assertIn(f"'hf://{REPO}@refs/pr/4'", message)
        self.assertIn(f"huggingface_hub at {endpoint}", message)
        self.assertIn("revision 'refs/pr/4'", message)
        self.assertIn("HF_HUB_OFFLINE=1", message)
        self.assertIn("local directory", message)
        # One error: no chained network exception behind it.
        self.assertIsNone(context.exception.__cause__)


class FreshProcessTest(TestCase):
    def test_hf_endpoint_set_before_import(self):
        # As a user runs it: HF_ENDPOINT set before huggingface_hub is
        # imported, in a process that imports nothing else first.
        port = closed_port()
        environment = dict(
            os.environ,
            HF_ENDPOINT=f"http://127.0.0.1:{port}",
            HF_HOME=self.get_temp_dir(),
            PYTHONPATH=str(pathlib.Path(__file__).resolve().parents[2]),
        )
        handle = f"hf://{REPO}@refs/pr/4"
        result = subprocess.run(
            [sys.executable, "-m", "keras_videoprism.cli", "embed"]
            + ["--preset", handle, "--output", os.devnull],
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
        )
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(
            f"Could not fetch the preset '{handle}': huggingface_hub at "
            f"http://127.0.0.1:{port}",
            result.stderr,
        )
        self.assertNotIn("Retrying", result.stderr)


class KaggleTest(TestCase):
    def setUp(self):
        super().setUp()
        environment = {"KAGGLEHUB_CACHE": self.get_temp_dir()}
        patch = unittest.mock.patch.dict(os.environ, environment)
        patch.start()
        self.addCleanup(patch.stop)

    def test_unreachable_kaggle_is_one_clear_error(self):
        # kagglehub's `TEST` environment is http://localhost:7777.
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", 7777)) == 0:
                self.skipTest("something listens on localhost:7777")
        start = time.monotonic()
        with unittest.mock.patch.dict(
            os.environ, {"KAGGLE_API_ENVIRONMENT": "TEST"}
        ):
            with self.assertRaises(preset_hubs.PresetDownloadError) as context:
                VideoPrismBackbone.from_preset("videoprism_public_v1_base")
        self.assertLess(time.monotonic() - start, TIME_BOUND)
        message = str(context.exception)
        self.assertIn("videoprism_public_v1_base/1", message)
        self.assertIn("kagglehub.model_download", message)
        self.assertIn("KAGGLEHUB_OFFLINE=1", message)
        self.assertIn("local directory", message)

    def test_offline_reads_kagglehub_cache_only(self):
        from kagglehub.cache import Cache
        from kagglehub.handle import parse_model_handle

        handle = "keras/videoprism/keras/videoprism_demo/1"
        offline = {preset_hubs.KAGGLE_OFFLINE_VARIABLE: "1"}
        with unittest.mock.patch.dict(os.environ, offline):
            with self.assertRaisesRegex(
                preset_hubs.PresetDownloadError, "not in kagglehub's cache"
            ):
                VideoPrismBackbone.from_preset(f"kaggle://{handle}")
            # A preset kagglehub has cached (its cache's own layout).
            model = parse_model_handle(handle)
            cache = Cache()
            demo = VideoPrismBackbone.from_preset("videoprism_demo_tiny")
            path = cache.get_path(model)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            demo.save_to_preset(path)
            cache.mark_as_complete(model)
            backbone = VideoPrismBackbone.from_preset(f"kaggle://{handle}")
        self.assertEqual(backbone.num_frames, 4)
