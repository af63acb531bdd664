"""Which loader reads a preset, and `load_preset` for each kind of class.

Each format is written by its own tool: our `save_to_preset`, keras-hub's
`save_to_preset` and transformers' `save_pretrained`.
"""

import json
import os

import keras_hub
import numpy as np
import pytest

from keras_videoprism.convert import preset_formats
from keras_videoprism.convert.keras_hub_preset import KerasHubPresetLoader
from keras_videoprism.convert.preset_loader import VideoPrismPresetLoader
from keras_videoprism.convert.transformers_checkpoint import (
    TransformersPresetLoader,
)
from keras_videoprism.models.video_classifier import VideoClassifier
from keras_videoprism.models.video_prism_backbone import VideoPrismBackbone
from keras_videoprism.models.video_prism_video_classifier import (
    VideoPrismVideoClassifier,
)
from keras_videoprism.models.video_prism_video_converter import (
    VideoPrismVideoConverter,
)
from tests.configs import TINY_VIDEO
from tests.configs import random_pixel_values
from tests.test_case import TestCase

transformers = pytest.importorskip("transformers")


class PresetFormatsTest(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = cls.get_class_temp_dir()
        cls.ours = os.path.join(cls.root, "ours")
        VideoPrismBackbone(**TINY_VIDEO).save_to_preset(cls.ours)
        cls.keras_hub = os.path.join(cls.root, "keras_hub")
        keras_hub.models.VideoPrismBackbone(**TINY_VIDEO).save_to_preset(
            cls.keras_hub
        )
        cls.transformers = os.path.join(cls.root, "transformers")
        config = transformers.VideoPrismVisionConfig(
            image_size=[16, 16],
            num_frames=2,
            tubelet_size=[1, 4, 4],
            hidden_size=16,
            num_attention_heads=2,
            intermediate_size=32,
            num_spatial_layers=1,
            num_temporal_layers=1,
            num_auxiliary_layers=0,
        )
        transformers.VideoPrismVisionModel(config).save_pretrained(
            cls.transformers
        )

    def test_each_format_gets_its_loader(self):
        expected = {
            self.ours: VideoPrismPresetLoader,
            self.keras_hub: KerasHubPresetLoader,
            self.transformers: TransformersPresetLoader,
        }
        for preset, loader_cls in expected.items():
            with self.subTest(loader_cls.__name__):
                loader = preset_formats.get_preset_loader(preset)
                self.assertIsInstance(loader, loader_cls)
                # Every loader builds our backbone, of the saved size.
                self.assertIs(loader.check_backbone_class(), VideoPrismBackbone)
                config = loader.config["config"]
                self.assertEqual(config["num_frames"], 2)
                self.assertEqual(tuple(config["image_shape"]), (16, 16, 3))

    def test_a_preset_of_another_model(self):
        directory = self.get_temp_dir()
        with open(os.path.join(directory, "config.json"), "w") as file:
            json.dump({"registered_name": "keras_hub>BertBackbone"}, file)
        with self.assertRaisesRegex(
            ValueError, "not a VideoPrism preset.*keras_hub>BertBackbone"
        ):
            preset_formats.get_preset_loader(directory)

    def test_backbone_classes(self):
        # Any base class of ours loads it; another backbone class does not.
        for cls in (VideoPrismBackbone, keras_hub.models.Backbone):
            backbone = preset_formats.load_preset(cls, self.ours)
            self.assertIsInstance(backbone, VideoPrismBackbone)
        with self.assertRaisesRegex(
            ValueError, "holds a `VideoPrismBackbone`.*not a `BertBackbone`"
        ):
            preset_formats.load_preset(keras_hub.models.BertBackbone, self.ours)

    def test_task_base_class_from_a_converted_preset(self):
        """The generic task resolves to our subclass, with a new head."""
        classifier = preset_formats.load_preset(
            VideoClassifier, self.transformers, num_classes=3
        )
        self.assertIsInstance(classifier, VideoPrismVideoClassifier)
        backbone = preset_formats.load_preset(
            VideoPrismBackbone, self.transformers
        )
        videos = random_pixel_values(2)
        # The converted weights, the same through the task's backbone.
        self.assertAllClose(
            classifier.backbone(videos), backbone(videos), atol=1e-6
        )
        self.assertEqual(classifier(videos).shape, (2, 3))

    def test_video_converter_of_every_format(self):
        for preset in (self.ours, self.keras_hub, self.transformers):
            converter = preset_formats.load_preset(
                VideoPrismVideoConverter, preset
            )
            self.assertEqual(converter.num_frames, 2)
            self.assertEqual(tuple(converter.image_size), (16, 16))
            video = np.zeros((1, 3, 24, 20, 3), "uint8")
            self.assertEqual(
                tuple(converter(video).shape), (1, 2, 16, 16, 3)
            )
