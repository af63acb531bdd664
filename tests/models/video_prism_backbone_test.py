import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_videoprism.convert import from_official_checkpoint
from keras_videoprism.models import VideoPrismBackbone
from tests.configs import TINY_BACKBONE
from tests.configs import TINY_BACKBONE_TEXT
from tests.configs import TINY_VIDEO
from tests.configs import TINY_VIDEO_TEXT
from tests.configs import random_pixel_values
from tests.test_case import TestCase
from tests.test_case import load_official


# The official configurations and their parameter counts (specification,
# section 1); `None` text layers means video-only.
OFFICIAL_CONFIGS = {
    "videoprism_public_v1_base": (768, 12, 12, 3072, 16, 0, "pre", 114365184),
    "videoprism_public_v1_large": (
        1024,
        16,
        24,
        4096,
        8,
        0,
        "pre",
        353965056,
    ),
    "videoprism_v1_giant": (1408, 16, 40, 6144, 8, 0, "pre", 1112755072),
    "videoprism_lvt_public_v1_base": (
        768,
        12,
        12,
        3072,
        16,
        12,
        "pre",
        247623424,
    ),
    "videoprism_lvt_public_v1_large": (
        1024,
        16,
        24,
        4096,
        8,
        12,
        "pre",
        579877120,
    ),
    "videoprism_lvt_v1_giant": (
        1408,
        16,
        40,
        6144,
        8,
        16,
        "primer_hybrid",
        1621074016,
    ),
}


def random_video(batch=2, frames=4, height=16, width=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((batch, frames, height, width, 3)).astype("float32")


def text_inputs(batch=2, length=5):
    ids = np.arange(batch * length).reshape(batch, length) % 50
    mask = np.ones((batch, length), "int32")
    mask[0, 3:] = 0
    return ids.astype("int32"), mask


class VideoPrismBackboneTest(TestCase):
    def test_video_only_output_shapes(self):
        backbone = VideoPrismBackbone(**TINY_BACKBONE)
        self.assertEqual(backbone(random_video()).shape, (2, 4, 16, 16))
        # Other frame counts and sizes, rectangular frames included.
        video = random_video(frames=6, height=12, width=20)
        self.assertEqual(backbone(video).shape, (2, 6, 15, 16))
        self.assertTrue(backbone.name.startswith("video_prism_backbone"))

    def test_symbolic_batch_none(self):
        backbone = VideoPrismBackbone(**TINY_BACKBONE)
        inputs = keras.Input((4, 16, 16, 3))
        self.assertEqual(tuple(backbone(inputs).shape), (None, 4, 16, 16))

    def test_identical_rows_identical_outputs(self):
        backbone = VideoPrismBackbone(**TINY_BACKBONE_TEXT)
        video = np.repeat(random_video(batch=1), 2, axis=0)
        ids, mask = text_inputs()
        ids[1], mask[1] = ids[0], mask[0]
        out = backbone(
            {"pixel_values": video, "token_ids": ids, "padding_mask": mask}
        )
        for key in ("vision_embeddings", "text_embeddings"):
            value = keras.ops.convert_to_numpy(out[key])
            self.assertAllClose(value[0], value[1], atol=1e-6)
            # L2-normalised, as the official model returns them.
            self.assertAllClose(
                np.linalg.norm(value, axis=-1), np.ones(2), atol=1e-5
            )

    def test_text_padding_is_ignored(self):
        backbone = VideoPrismBackbone(**TINY_BACKBONE_TEXT)
        ids, mask = text_inputs()
        first = keras.ops.convert_to_numpy(
            backbone.get_text_embeddings(ids, mask)
        )
        ids[0, 3:] = 7  # Change only padded tokens.
        second = backbone.get_text_embeddings(ids, mask)
        self.assertAllClose(first, second, atol=1e-6)
        # ...while a real token changes the embedding.
        ids[0, 1] = 9
        third = keras.ops.convert_to_numpy(
            backbone.get_text_embeddings(ids, mask)
        )
        self.assertGreater(np.abs(third[0] - first[0]).max(), 1e-3)

    def test_frame_padding_mask_polarity(self):
        backbone = VideoPrismBackbone(**TINY_BACKBONE)
        video = random_video()
        mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], "int32")
        padded = keras.ops.convert_to_numpy(
            backbone({"pixel_values": video, "frame_padding_mask": mask})
        )
        # Real frames of sample 1 equal those of its two-frame clip alone.
        alone = keras.ops.convert_to_numpy(
            backbone(video[1:, :2]),
        )
        # The temporal table is resized for 2 frames there, so compare the
        # spatial stage, which sees each frame alone.
        spatial_padded = backbone.get_spatial_features(video, mask)
        spatial_alone = backbone.get_spatial_features(video[1:, :2])
        self.assertAllClose(
            keras.ops.convert_to_numpy(spatial_padded)[1, :2],
            keras.ops.convert_to_numpy(spatial_alone)[0],
            atol=1e-5,
        )
        # A full mask equals no mask; a partial one changes real frames.
        full = keras.ops.convert_to_numpy(
            backbone(
                {"pixel_values": video, "frame_padding_mask": np.ones((2, 4))}
            )
        )
        self.assertAllClose(full, backbone(video), atol=1e-6)
        self.assertAllClose(padded[0], full[0], atol=1e-6)
        self.assertGreater(np.abs(padded[1] - full[1]).max(), 1e-3)
        self.assertEqual(alone.shape, (1, 2, 16, 16))

    def test_public_methods_agree_with_graph(self):
        backbone = VideoPrismBackbone(**TINY_BACKBONE_TEXT)
        video = random_video()
        ids, mask = text_inputs()
        out = backbone(
            {"pixel_values": video, "token_ids": ids, "padding_mask": mask}
        )
        self.assertAllClose(
            backbone.get_video_embeddings(video),
            out["vision_embeddings"],
            atol=1e-6,
        )
        self.assertAllClose(
            backbone.get_text_embeddings(ids, mask),
            out["text_embeddings"],
            atol=1e-6,
        )
        self.assertEqual(backbone.get_frame_embeddings(video).shape, (2, 4, 16))
        self.assertEqual(
            backbone.get_video_features(video).shape, (2, 4, 16, 16)
        )

    # A child process; CI checks the preset definitions' parameter counts
    # (`video_prism_presets_test.py`).
    @pytest.mark.large
    def test_official_parameter_counts(self):
        # Built with deferred variables in a child process, so the giants
        # never allocate their weights and leave no global state behind.
        script = (
            "import json, sys, keras\n"
            "from keras_videoprism.models import VideoPrismBackbone\n"
            "counts = {}\n"
            "for name, kwargs in json.loads(sys.argv[1]).items():\n"
            "    with keras.StatelessScope(initialize_variables=False):\n"
            "        model = VideoPrismBackbone(**kwargs)\n"
            "        counts[name] = model.count_params()\n"
            "print(json.dumps(counts))\n"
        )
        configs, expected = {}, {}
        for name, config in OFFICIAL_CONFIGS.items():
            dim, heads, spatial, mlp, frames, text, policy, count = config
            expected[name] = count
            configs[name] = dict(
                num_frames=frames,
                patch_size=18,
                hidden_dim=dim,
                intermediate_dim=mlp,
                num_heads=heads,
                num_spatial_layers=spatial,
                num_temporal_layers=4,
                num_auxiliary_layers=2,
                vocabulary_size=32000 if text else 0,
                num_text_layers=text,
                attention_logit_soft_cap=50.0,
                text_norm_policy=policy,
            )
        result = subprocess.run(
            [sys.executable, "-c", script, json.dumps(configs)],
            capture_output=True,
            text=True,
            check=True,
        )
        counts = json.loads(result.stdout.strip().splitlines()[-1])
        self.assertEqual(counts, expected)


class VideoPrismBackboneErrorsTest(TestCase):
    def setUp(self):
        super().setUp()
        self.backbone = VideoPrismBackbone(**TINY_BACKBONE)

    def test_wrong_rank(self):
        with self.assertRaisesRegex(ValueError, "rank 5.*add a batch axis"):
            self.backbone(random_video()[0])

    def test_wrong_channels(self):
        video = np.zeros((1, 4, 16, 16, 1), "float32")
        with self.assertRaisesRegex(ValueError, "3 channels.*RGB"):
            self.backbone(video)

    def test_frame_side_not_divisible(self):
        with self.assertRaisesRegex(ValueError, "multiple of the patch size"):
            self.backbone(random_video(height=18))
        with self.assertRaisesRegex(ValueError, "multiple of the patch size"):
            self.backbone.get_video_features(random_video(width=10))

    def test_text_inputs_to_video_only(self):
        ids, mask = text_inputs()
        inputs = {
            "pixel_values": random_video(),
            "token_ids": ids,
            "padding_mask": mask,
        }
        with self.assertRaisesRegex(ValueError, "video-only"):
            self.backbone(inputs)
        with self.assertRaisesRegex(ValueError, "video-text"):
            self.backbone.get_text_embeddings(ids, mask)

    def test_mismatched_masks(self):
        backbone = VideoPrismBackbone(**TINY_BACKBONE_TEXT)
        ids, mask = text_inputs()
        inputs = {
            "pixel_values": random_video(),
            "token_ids": ids,
            "padding_mask": mask[:, :3],
        }
        with self.assertRaisesRegex(ValueError, "`padding_mask` must have"):
            backbone(inputs)
        with self.assertRaisesRegex(ValueError, "`frame_padding_mask` must"):
            self.backbone(
                {
                    "pixel_values": random_video(),
                    "frame_padding_mask": np.ones((2, 3)),
                }
            )
        with self.assertRaisesRegex(ValueError, "takes a dict"):
            backbone(random_video())

    def test_token_ids_out_of_vocabulary(self):
        # Without the check: NaN on JAX, backend errors on torch and TF.
        backbone = VideoPrismBackbone(**TINY_BACKBONE_TEXT)
        ids, mask = text_inputs()
        for bad, shown in ((50, "50"), (-1, "-1")):
            wrong = np.array(ids).copy()
            wrong[1, 2] = bad
            message = f"id {shown}, outside the model's vocabulary of 50 ids"
            for token_ids in (wrong, keras.ops.convert_to_tensor(wrong)):
                inputs = {
                    "pixel_values": random_video(),
                    "token_ids": token_ids,
                    "padding_mask": mask,
                }
                with self.assertRaisesRegex(ValueError, message):
                    backbone(inputs)
                with self.assertRaisesRegex(ValueError, message):
                    backbone.get_text_embeddings(token_ids, mask)
        # The largest id of the vocabulary is accepted.
        edge = np.array(ids).copy()
        edge[0, 0] = 49
        embeddings = backbone.get_text_embeddings(edge, mask)
        self.assertFalse(np.isnan(keras.ops.convert_to_numpy(embeddings)).any())

    def test_bad_config(self):
        with self.assertRaisesRegex(ValueError, "multiple of `patch_size`"):
            VideoPrismBackbone(**{**TINY_BACKBONE, "image_shape": (18, 16, 3)})
        with self.assertRaisesRegex(ValueError, "vocabulary_size"):
            VideoPrismBackbone(**{**TINY_BACKBONE, "num_text_layers": 1})


class VideoPrismBackboneSerializationTest(TestCase):
    def assert_round_trip(self, backbone, inputs):
        config = backbone.get_config()
        revived = VideoPrismBackbone.from_config(config)
        self.assertEqual(revived.get_config(), config)
        revived.set_weights(backbone.get_weights())
        keras.tree.map_structure(
            lambda a, b: self.assertAllClose(a, b, atol=1e-6),
            backbone(inputs),
            revived(inputs),
        )
        path = os.path.join(self.get_temp_dir(), "model.keras")
        backbone.save(path)
        restored = keras.saving.load_model(path)
        self.assertIsInstance(restored, VideoPrismBackbone)
        self.assertEqual(restored.get_config(), config)
        keras.tree.map_structure(
            lambda a, b: self.assertAllClose(a, b, atol=1e-6),
            backbone(inputs),
            restored(inputs),
        )

    def test_video_only_round_trip(self):
        self.assert_round_trip(
            VideoPrismBackbone(**TINY_BACKBONE), random_video()
        )

    def test_video_text_round_trip(self):
        ids, mask = text_inputs()
        backbone = VideoPrismBackbone(
            **TINY_BACKBONE_TEXT, text_norm_policy="primer_hybrid"
        )
        self.assert_round_trip(
            backbone,
            {
                "pixel_values": random_video(),
                "token_ids": ids,
                "padding_mask": mask,
            },
        )

    def test_channels_first(self):
        last = VideoPrismBackbone(**TINY_BACKBONE)
        first = VideoPrismBackbone(
            **{**TINY_BACKBONE, "image_shape": (3, 16, 16)},
            data_format="channels_first",
        )
        first.set_weights(last.get_weights())
        video = random_video(width=20)
        expected = last(video)
        self.assertAllClose(
            first(np.transpose(video, (0, 1, 4, 2, 3))), expected, atol=1e-6
        )
        self.assertEqual(first.get_config()["data_format"], "channels_first")
        # keras-hub loses `data_format`; we keep it through a round trip.
        self.assert_round_trip(first, np.transpose(video, (0, 1, 4, 2, 3)))
        with self.assertRaisesRegex(ValueError, r"\(B, T, C, H, W\)"):
            first(video)

    # Slow (the official fixture in two policies): CI checks mixed
    # precision through keras-hub's harness and the classifier's training.
    @pytest.mark.large
    def test_mixed_precision(self):
        # Largest feature error relative to the largest float32 feature
        # (measured on all backends: bfloat16 1.2 to 2.2%, float16 0.2%) and
        # largest error of the L2-normalised video embeddings (bfloat16
        # 0.0036, float16 0.0005).
        bounds = {"mixed_bfloat16": 2.5e-2, "mixed_float16": 5e-3}
        checkpoint, config, io = load_official("lvt_tiny")
        reference = from_official_checkpoint(str(checkpoint), config)
        video = io["video/a_native/inputs"]
        expected = keras.ops.convert_to_numpy(
            reference.get_video_features(video)
        )
        expected_embeddings = reference.get_video_embeddings(video)
        for policy, bound in bounds.items():
            mixed = from_official_checkpoint(
                str(checkpoint), config, dtype=policy
            )
            compute_dtype = policy.removeprefix("mixed_")
            self.assertEqual(mixed.compute_dtype, compute_dtype)
            self.assertEqual(mixed.variable_dtype, "float32")
            for layer in mixed._flatten_layers():
                if isinstance(layer, keras.layers.InputLayer):
                    continue
                self.assertEqual(layer.dtype_policy.name, policy, layer)
            features = mixed.get_video_features(video)
            self.assertEqual(
                keras.backend.standardize_dtype(features.dtype), compute_dtype
            )
            error = np.abs(
                keras.ops.convert_to_numpy(keras.ops.cast(features, "float32"))
                - expected
            )
            self.assertLess(error.max(), bound * np.abs(expected).max())
            embeddings = keras.ops.cast(
                mixed.get_video_embeddings(video), "float32"
            )
            self.assertAllClose(
                embeddings, expected_embeddings, atol=2e-2, rtol=0
            )


@pytest.mark.parametrize("policy", ["pre", "primer_hybrid"])
def test_layer_names_follow_attributes(policy):
    backbone = VideoPrismBackbone(**TINY_BACKBONE_TEXT, text_norm_policy=policy)
    for attribute in (
        "patch_embedding",
        "factorized_encoder",
        "auxiliary_encoder",
        "video_pooler",
        "text_encoder",
    ):
        assert getattr(backbone, attribute).name == attribute


class VideoPrismBackboneHarnessTest(TestCase):
    """keras-hub's backbone checks, on the shared tiny configurations."""

    def test_video_backbone(self):
        self.run_backbone_test(
            cls=VideoPrismBackbone,
            init_kwargs=dict(TINY_VIDEO),
            input_data=random_pixel_values(2),
            expected_output_shape=(2, 2, 16, 16),
        )

    def test_video_text_backbone(self):
        rng = np.random.default_rng(0)
        self.run_backbone_test(
            cls=VideoPrismBackbone,
            init_kwargs=dict(TINY_VIDEO_TEXT),
            input_data={
                "pixel_values": random_pixel_values(2, TINY_VIDEO_TEXT),
                "token_ids": rng.integers(1, 256, (2, 5)).astype("int32"),
                "padding_mask": np.ones((2, 5), "int32"),
            },
            expected_output_shape={
                "vision_embeddings": (2, 16),
                "text_embeddings": (2, 16),
            },
        )

    def test_saved_model(self):
        self.run_model_saving_test(
            cls=VideoPrismBackbone,
            init_kwargs=dict(TINY_VIDEO),
            input_data=random_pixel_values(2),
        )

    def test_demo_preset(self):
        # The bundled demo preset is the official `video_tiny` fixture.
        _, _, io = load_official("video_tiny")
        expected = io["a_native/embeddings"].reshape(2, 4, 16, 32)
        self.run_preset_test(
            cls=VideoPrismBackbone,
            preset="videoprism_demo_tiny",
            input_data=io["a_native/inputs"],
            expected_output_shape=(2, 4, 16, 32),
            expected_partial_output=expected[0, 0, 0, :8],
        )


def _cosine(a, b):
    a = keras.ops.convert_to_numpy(a).astype("float64").reshape(-1)
    b = keras.ops.convert_to_numpy(b).astype("float64").reshape(-1)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


class VideoPrismBackboneQuantizationTest(TestCase):
    """`quantize()` of the video-text backbone, and its round trips."""

    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(0)
        self.inputs = {
            "pixel_values": random_pixel_values(2, TINY_VIDEO_TEXT),
            "token_ids": rng.integers(1, 256, (2, 5)).astype("int32"),
            "padding_mask": np.ones((2, 5), "int32"),
        }

    def test_quantize_and_round_trips_float8(self):
        self.check_quantize_and_round_trips("float8")

    # CI runs the float8 case here and all three modes on the classifier
    # (`video_prism_video_classifier_test.py`), backbone included.
    @pytest.mark.large
    def test_quantize_and_round_trips_int8(self):
        self.check_quantize_and_round_trips("int8")

    @pytest.mark.large
    def test_quantize_and_round_trips_int4(self):
        self.check_quantize_and_round_trips("int4")

    def check_quantize_and_round_trips(self, mode):
        backbone = VideoPrismBackbone(**TINY_VIDEO_TEXT)
        expected = backbone(self.inputs)
        backbone.quantize(mode)
        quantized = [
            layer
            for layer in backbone._flatten_layers()
            if layer.quantization_mode == mode
        ]
        # Every Dense layer of the towers and poolers, at least.
        self.assertGreaterEqual(len(quantized), 20)
        outputs = backbone(self.inputs)
        # int4 keeps 16 levels per weight: a looser bound.
        bound = 0.95 if mode == "int4" else 0.98
        for key in expected:
            self.assertGreater(_cosine(outputs[key], expected[key]), bound)

        # Config: the quantized layers come back quantized.
        revived = VideoPrismBackbone.from_config(backbone.get_config())
        self.assertEqual(revived.get_config(), backbone.get_config())
        self.assertEqual(
            revived.get_layer("patch_embedding").projection.quantization_mode,
            mode,
        )

        # `.keras` file.
        path = os.path.join(self.get_temp_dir(), "model.keras")
        backbone.save(path)
        restored = keras.models.load_model(path)
        self.assertAllClose(restored(self.inputs), outputs, atol=1e-5)

        # Preset: the same quantized weights come back, quantized.
        preset = os.path.join(self.get_temp_dir(), "preset")
        backbone.save_to_preset(preset)
        loaded = VideoPrismBackbone.from_preset(preset)
        self.assertEqual(
            loaded.get_layer("patch_embedding").projection.quantization_mode,
            mode,
        )
        self.assertAllClose(loaded(self.inputs), outputs, atol=1e-5)
