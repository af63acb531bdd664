import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
from unittest import mock

import keras_hub
import numpy as np

from keras_videoprism.models import VideoPrismBackbone
from keras_videoprism.models import VideoPrismTokenizer
from keras_videoprism.models import video_prism_preset_loader
from keras_videoprism.models.video_prism_presets import backbone_presets
from keras_videoprism.utils.atomic_files import OutputExistsError
from tests.test_case import TestCase

ROOT = pathlib.Path(__file__).resolve().parents[2]
PRESETS_DIR = ROOT / "presets"
EXPECTED = {
    # name: (parameters, frames, vocabulary)
    "videoprism_public_v1_base": (114365184, 16, 0),
    "videoprism_public_v1_large": (353965056, 8, 0),
    "videoprism_lvt_public_v1_base": (247623424, 16, 32000),
    "videoprism_lvt_public_v1_large": (579877120, 8, 32000),
}
TINY_TEXT = dict(
    num_frames=2,
    patch_size=4,
    hidden_dim=16,
    intermediate_dim=64,
    num_heads=2,
    num_spatial_layers=1,
    num_temporal_layers=1,
    num_auxiliary_layers=1,
    vocabulary_size=40,
    num_text_layers=1,
    attention_logit_soft_cap=50.0,
    image_shape=(8, 12, 3),
)


def load_tool(name):
    spec = importlib.util.spec_from_file_location(
        name, ROOT / "tools" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_inputs(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "pixel_values": rng.uniform(size=(2, 2, 8, 12, 3)).astype("float32"),
        "token_ids": rng.integers(1, 40, (2, 6)).astype("int32"),
        "padding_mask": np.array([[1] * 6, [1] * 4 + [0] * 2], "int32"),
    }


class PresetRegistryTest(TestCase):
    def test_metadata(self):
        self.assertEqual(set(backbone_presets), set(EXPECTED))
        for name, (params, frames, vocabulary) in EXPECTED.items():
            entry = backbone_presets[name]
            metadata = entry["metadata"]
            self.assertEqual(metadata["params"], params)
            self.assertEqual(metadata["num_frames"], frames)
            self.assertEqual(metadata["resolution"], 288)
            self.assertEqual(metadata["patch_size"], 18)
            self.assertEqual(metadata.get("vocabulary_size", 0), vocabulary)
            self.assertEqual(
                entry["kaggle_handle"],
                f"kaggle://keras/videoprism/keras/{name}/1",
            )

    def test_presets_property_is_a_copy(self):
        presets = VideoPrismBackbone.presets
        self.assertEqual(list(presets), list(backbone_presets))
        presets["videoprism_public_v1_base"]["metadata"]["params"] = 0
        self.assertEqual(
            VideoPrismBackbone.presets["videoprism_public_v1_base"]["metadata"][
                "params"
            ],
            114365184,
        )

    def test_names_resolve_to_our_handles(self):
        for name, entry in backbone_presets.items():
            self.assertEqual(
                video_prism_preset_loader.resolve_preset(name),
                entry["kaggle_handle"],
            )
        handle = "hf://someone/videoprism"
        self.assertEqual(
            video_prism_preset_loader.resolve_preset(handle), handle
        )

    def test_unknown_name_lists_known_names(self):
        with self.assertRaisesRegex(
            ValueError,
            "Unknown preset 'videoprism_base'.*videoprism_lvt_public_v1_base"
            ".*videoprism_public_v1_large",
        ):
            VideoPrismBackbone.from_preset("videoprism_base")

    def test_directory_that_is_not_a_preset(self):
        directory = self.get_temp_dir()
        open(os.path.join(directory, "notes.txt"), "w").close()
        with self.assertRaisesRegex(
            ValueError,
            "not a preset directory: it has no config.json.*notes.txt",
        ):
            VideoPrismBackbone.from_preset(directory)

    def test_checkpoint_file_instead_of_directory(self):
        path = os.path.join(self.get_temp_dir(), "flax.npz")
        np.savez(path, a=np.zeros(1))
        with self.assertRaisesRegex(ValueError, "is a file.*convert"):
            VideoPrismBackbone.from_preset(path)

    def test_preset_of_another_model(self):
        directory = self.get_temp_dir()
        with open(os.path.join(directory, "config.json"), "w") as file:
            json.dump({"model_type": "bert"}, file)
        with self.assertRaisesRegex(ValueError, "not a VideoPrism.*bert"):
            VideoPrismBackbone.from_preset(directory)


# One child process for the checks that need a fresh interpreter or must
# not allocate: keras-hub's tables before and after using ours, and the
# preset definitions built with deferred variables (and regenerated).
CHILD_SCRIPT = """
import json, sys, keras
import keras_hub
from keras_hub.src.utils import preset_utils

def snapshot():
    cls = keras_hub.models.VideoPrismBackbone
    return json.dumps([
        cls.presets,
        {name: preset_utils.BUILTIN_PRESETS[name] for name in cls.presets},
        sorted(preset_utils.BUILTIN_PRESETS),
        sorted(map(str, preset_utils.BUILTIN_PRESETS_FOR_BACKBONE)),
    ], sort_keys=True)

before = snapshot()
from keras_videoprism.models.video_prism_preset_loader import demo_preset_path
from keras_videoprism.models import VideoPrismBackbone
ours = sorted(VideoPrismBackbone.presets)
VideoPrismBackbone.from_preset(demo_preset_path())
sys.path.insert(0, "tools")
import make_preset_definitions as tool
definitions = {}
for name in tool.backbone_presets:
    tool.write_definition(name, sys.argv[1])
    with keras.StatelessScope(initialize_variables=False):
        b = VideoPrismBackbone.from_preset(
            f"presets/{name}", load_weights=False
        )
        definitions[name] = [
            b.count_params(), b.num_frames, list(b.image_shape),
            b.vocabulary_size,
        ]
print(json.dumps({
    "keras_hub_unchanged": before == snapshot(),
    "keras_hub_large": json.loads(before)[0]["videoprism_public_v1_large"],
    "ours": ours,
    "definitions": definitions,
}))
"""


class ChildProcessTest(TestCase):
    @classmethod
    def setUpClass(cls):
        cls.regenerated = tempfile.mkdtemp()
        result = subprocess.run(
            [sys.executable, "-c", CHILD_SCRIPT, cls.regenerated],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        cls.report = json.loads(result.stdout.strip().splitlines()[-1])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.regenerated, ignore_errors=True)

    def test_keras_hub_tables_untouched(self):
        self.assertTrue(self.report["keras_hub_unchanged"])
        self.assertEqual(self.report["ours"], sorted(EXPECTED))
        # keras-hub's entry keeps its own (16-frame) description.
        large = self.report["keras_hub_large"]
        self.assertIn("16-frame", large["metadata"]["description"])

    def test_definitions_build_to_their_metadata(self):
        for name, (params, frames, vocabulary) in EXPECTED.items():
            with open(PRESETS_DIR / name / "metadata.json") as file:
                metadata = json.load(file)
            count, num_frames, image_shape, vocabulary_size = self.report[
                "definitions"
            ][name]
            self.assertEqual(count, params)
            self.assertEqual(metadata["parameter_count"], params)
            self.assertEqual(num_frames, metadata["num_frames"])
            self.assertEqual(num_frames, frames)
            resolution = metadata["resolution"]
            self.assertEqual(image_shape, [resolution, resolution, 3])
            self.assertEqual(vocabulary_size, vocabulary)
            # The committed definition is what the tool writes today.
            for file_name in os.listdir(PRESETS_DIR / name):
                fresh = os.path.join(self.regenerated, name, file_name)
                with open(fresh) as file:
                    expected = file.read()
                with open(PRESETS_DIR / name / file_name) as file:
                    self.assertEqual(file.read(), expected, file_name)


class PresetDefinitionsTest(TestCase):
    def test_definition_without_weights(self):
        definition = PRESETS_DIR / "videoprism_public_v1_base"
        with self.assertRaisesRegex(
            FileNotFoundError, "no weights.*load_weights=False"
        ):
            VideoPrismBackbone.from_preset(str(definition))

    def test_tokenizer_without_its_model(self):
        definition = PRESETS_DIR / "videoprism_lvt_public_v1_base"
        with self.assertRaisesRegex(
            FileNotFoundError,
            "no tokenizer model.*assets/tokenizer/vocabulary.spm.*c4_en",
        ):
            video_prism_preset_loader.from_preset(
                VideoPrismTokenizer, str(definition)
            )

    def test_tool_writes_whole_definitions_and_keeps_existing_ones(self):
        tool = load_tool("make_preset_definitions")
        name = "videoprism_public_v1_base"
        output = self.get_temp_dir()
        directory = tool.write_definition(name, output)
        # The same files as the committed definition.
        self.assertEqual(
            sorted(os.listdir(directory)),
            sorted(os.listdir(PRESETS_DIR / name)),
        )
        with open(directory / "config.json", "w") as file:
            file.write("edited by hand")
        with self.assertRaises(OutputExistsError):
            tool.write_definition(name, output)
        with open(directory / "config.json") as file:
            self.assertEqual(file.read(), "edited by hand")
        tool.write_definition(name, output, overwrite=True)
        with open(directory / "config.json") as file:
            written = file.read()
        with open(PRESETS_DIR / name / "config.json") as file:
            self.assertEqual(written, file.read())
        self.assertEqual(os.listdir(output), [name])


class OwnPresetTest(TestCase):
    def setUp(self):
        super().setUp()
        self.backbone = VideoPrismBackbone(**TINY_TEXT)
        self.preset = self.get_temp_dir()
        self.backbone.save_to_preset(self.preset)
        self.weights = os.path.join(self.preset, "model.weights.h5")

    def test_round_trip(self):
        inputs = tiny_inputs()
        expected = self.backbone(inputs)
        for loaded in (
            VideoPrismBackbone.from_preset(self.preset),
            keras_hub.models.Backbone.from_preset(self.preset),
        ):
            self.assertIsInstance(loaded, VideoPrismBackbone)
            outputs = loaded(inputs)
            for key in expected:
                self.assertAllClose(outputs[key], expected[key], atol=0)

    def test_definition_config_is_what_save_to_preset_writes(self):
        tool = load_tool("make_preset_definitions")
        with open(os.path.join(self.preset, "config.json")) as file:
            self.assertEqual(tool.serialized_config(self.backbone), file.read())

    def test_weights_of_another_configuration(self):
        other = VideoPrismBackbone(**dict(TINY_TEXT, intermediate_dim=32))
        other.save_weights(self.weights)
        with self.assertRaisesRegex(
            ValueError,
            "another configuration.*shape \\(16, 64\\) for "
            "'factorized_encoder/spatial_encoder/block_0/mlp_intermediate/"
            "kernel' \\(the first mismatched variable\\)",
        ):
            VideoPrismBackbone.from_preset(self.preset)

    def test_weights_with_more_variables(self):
        # A video-only configuration with the weights of a video-text model.
        config = dict(TINY_TEXT, num_text_layers=0, vocabulary_size=0)
        video_only = VideoPrismBackbone(**config)
        video_only.save_to_preset(self.preset, overwrite=True)
        self.backbone.save_weights(self.weights)
        extra = len(self.backbone.weights) - len(video_only.weights)
        self.assertEqual(extra, 38)
        with self.assertRaisesRegex(
            ValueError, "holds 38 weight\\(s\\) that the preset's config"
        ):
            VideoPrismBackbone.from_preset(self.preset)

    def test_truncated_weights(self):
        with open(self.weights, "rb") as file:
            data = file.read()
        with open(self.weights, "wb") as file:
            file.write(data[: len(data) // 2])
        with self.assertRaisesRegex(ValueError, "truncated or corrupt"):
            VideoPrismBackbone.from_preset(self.preset)


class UploadPresetToolTest(TestCase):
    def setUp(self):
        super().setUp()
        self.tool = load_tool("upload_preset")
        self.preset = self.get_temp_dir()
        VideoPrismBackbone(**TINY_TEXT).save_to_preset(self.preset)

    def test_arguments(self):
        args = self.tool.build_parser().parse_args(
            [self.preset, "hf://me/videoprism", "--skip_check"]
        )
        self.assertEqual(args.preset_dir, self.preset)
        self.assertEqual(args.uri, "hf://me/videoprism")
        self.assertTrue(args.skip_check)

    def test_upload_calls_keras_hub(self):
        uri = "kaggle://me/videoprism/keras/tiny"
        with mock.patch.object(keras_hub, "upload_preset") as upload:
            self.tool.main([self.preset, uri])
        upload.assert_called_once_with(uri, self.preset)

    def test_bad_uri(self):
        with (
            mock.patch.object(keras_hub, "upload_preset") as upload,
            self.assertRaisesRegex(ValueError, "must start with"),
        ):
            self.tool.main([self.preset, "s3://bucket/videoprism"])
        upload.assert_not_called()
