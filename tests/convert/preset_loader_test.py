"""The loader of our presets: config reading, dtype, video converter."""

import os

import numpy as np

from keras_videoprism.convert import preset_loader
from keras_videoprism.models.video_prism_backbone import VideoPrismBackbone
from keras_videoprism.models.video_prism_preset_saver import save_preset
from keras_videoprism.models.video_prism_tokenizer import VideoPrismTokenizer
from keras_videoprism.models.video_prism_video_converter import (
    VideoPrismVideoConverter,
)
from tests.configs import TINY_VIDEO
from tests.test_case import TestCase


class ReadPresetConfigTest(TestCase):
    def test_reads_the_saved_config(self):
        preset = self.get_temp_dir()
        VideoPrismBackbone(**TINY_VIDEO).save_to_preset(preset)
        config = preset_loader.read_preset_config(preset)
        self.assertEqual(
            config["registered_name"], "keras_videoprism>VideoPrismBackbone"
        )
        self.assertEqual(config["config"]["hidden_dim"], 16)

    def test_not_a_path_nor_a_handle(self):
        with self.assertRaisesRegex(ValueError, "Received: preset=3"):
            preset_loader.read_preset_config(3)
        missing = os.path.join(self.get_temp_dir(), "missing")
        with self.assertRaisesRegex(
            ValueError, "neither a preset directory nor a handle"
        ):
            preset_loader.read_preset_config(missing)


class VideoConverterConfigTest(TestCase):
    def test_size_from_either_data_format(self):
        last = {"num_frames": 8, "image_shape": (16, 24, 3)}
        first = {
            "num_frames": 8,
            "image_shape": (3, 16, 24),
            "data_format": "channels_first",
        }
        for config in (last, first):
            self.assertEqual(
                preset_loader.video_converter_config(config),
                {
                    "num_frames": 8,
                    "image_size": (16, 24),
                    "crop_to_aspect_ratio": False,
                },
            )


class VideoPrismPresetLoaderTest(TestCase):
    def _loader(self, backbone, *others):
        preset = os.path.join(self.get_temp_dir(), "preset")
        save_preset(preset, [backbone, *others])
        config = preset_loader.read_preset_config(preset)
        return preset, preset_loader.VideoPrismPresetLoader(preset, config)

    def test_float_policy_gives_way_quantized_map_stays(self):
        _, loader = self._loader(
            VideoPrismBackbone(**TINY_VIDEO, dtype="bfloat16")
        )
        kwargs, _ = loader.get_backbone_kwargs()
        # As keras-hub: the global policy (or the caller's) wins.
        self.assertIsNone(kwargs["dtype"])
        self.assertEqual(
            loader.get_backbone_kwargs(dtype="float16")[0]["dtype"], "float16"
        )
        quantized = VideoPrismBackbone(**TINY_VIDEO)
        quantized.quantize("int8")
        _, loader = self._loader(quantized)
        kwargs, _ = loader.get_backbone_kwargs()
        self.assertNotIn("dtype", kwargs)
        backbone = loader.load_backbone(VideoPrismBackbone, load_weights=True)
        self.assertEqual(
            backbone.get_layer("patch_embedding").projection.quantization_mode,
            "int8",
        )

    def test_video_converter_saved_or_from_the_backbone(self):
        _, loader = self._loader(VideoPrismBackbone(**TINY_VIDEO))
        # A backbone-only preset: the backbone's frame count and size.
        converter = loader.load_video_converter(VideoPrismVideoConverter)
        self.assertEqual(converter.num_frames, 2)
        self.assertEqual(tuple(converter.image_size), (16, 16))
        self.assertFalse(converter.crop_to_aspect_ratio)
        # A saved converter is loaded as saved.
        _, loader = self._loader(
            VideoPrismBackbone(**TINY_VIDEO),
            VideoPrismVideoConverter(
                num_frames=2, image_size=(16, 16), crop_to_aspect_ratio=True
            ),
        )
        converter = loader.load_video_converter(VideoPrismVideoConverter)
        self.assertTrue(converter.crop_to_aspect_ratio)
        video = np.zeros((1, 2, 16, 16, 3), "uint8")
        self.assertEqual(tuple(converter(video).shape), (1, 2, 16, 16, 3))

    def test_tokenizer_without_its_model(self):
        _, loader = self._loader(VideoPrismBackbone(**TINY_VIDEO))
        with self.assertRaisesRegex(
            FileNotFoundError,
            "no tokenizer model.*assets/tokenizer/vocabulary.spm.*"
            "VideoPrismTokenizer\\(proto=path\\)",
        ):
            loader.load_tokenizer(VideoPrismTokenizer)
