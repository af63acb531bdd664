import json
import os

from keras_videoprism.convert.config_checks import check_keys
from keras_videoprism.convert.config_checks import read_json
from keras_videoprism.models import VideoClassifier
from keras_videoprism.models import VideoPrismBackbone
from keras_videoprism.models import VideoPrismVideoClassifier
from tests.configs import TINY_VIDEO
from tests.test_case import TestCase


def edit_json(path, edit):
    """Applies `edit` to the JSON of `path`: a user's hand edit."""
    with open(path) as file:
        config = json.load(file)
    edit(config)
    with open(path, "w") as file:
        json.dump(config, file)


class CheckKeysTest(TestCase):
    def test_unknown_key_names_the_closest(self):
        with self.assertRaisesRegex(
            ValueError,
            "^my.json has an unknown key 'num_frame' \\(did you mean "
            "'num_frames'\\?\\)\\. Known keys: num_frames, patch_size\\.",
        ):
            check_keys(
                {"num_frame": 8}, ["patch_size", "num_frames"], "my.json"
            )
        with self.assertRaisesRegex(ValueError, "'zzz' \\(no close key\\)"):
            check_keys({"zzz": 8}, ["num_frames"], "my.json")

    def test_missing_key_and_not_an_object(self):
        with self.assertRaisesRegex(
            ValueError, "^my.json lacks the required key\\(s\\) 'patch_size'"
        ):
            check_keys({}, ["patch_size"], "my.json", required=["patch_size"])
        with self.assertRaisesRegex(ValueError, "must hold a JSON object"):
            check_keys([1], ["patch_size"], "my.json")

    def test_broken_json_names_the_file(self):
        path = os.path.join(self.get_temp_dir(), "config.json")
        with open(path, "w") as file:
            file.write('{"a": 1,')
        with self.assertRaisesRegex(
            ValueError,
            f"^'{path}' is not valid JSON: Expecting property name enclosed "
            "in double quotes at line 1, column 9.*re-download or re-save",
        ):
            read_json(path)


class StrictPresetTest(TestCase):
    """Presets of ours, written by `save_to_preset()`, then hand-edited."""

    def setUp(self):
        super().setUp()
        self.preset = os.path.join(self.get_temp_dir(), "preset")
        VideoPrismVideoClassifier(
            VideoPrismBackbone(**TINY_VIDEO), num_classes=3
        ).save_to_preset(self.preset)
        self.config = os.path.join(self.preset, "config.json")
        self.task = os.path.join(self.preset, "task.json")

    def test_written_presets_load(self):
        restored = VideoClassifier.from_preset(self.preset)
        self.assertEqual(restored.num_classes, 3)

    def test_misspelt_backbone_key(self):
        def misspell(config):
            inner = config["config"]
            inner["attention_logit_softcap"] = inner.pop(
                "attention_logit_soft_cap"
            )

        edit_json(self.config, misspell)
        for cls in (VideoPrismBackbone, VideoClassifier):
            with self.subTest(cls.__name__):
                with self.assertRaisesRegex(
                    ValueError,
                    f"^{self.config} \\(`VideoPrismBackbone` config\\) has an "
                    "unknown key 'attention_logit_softcap' \\(did you mean "
                    "'attention_logit_soft_cap'\\?\\)",
                ):
                    cls.from_preset(self.preset)

    def test_misspelt_task_key(self):
        def misspell(config):
            config["config"]["num_clases"] = config["config"].pop(
                "num_classes"
            )

        edit_json(self.task, misspell)
        with self.assertRaisesRegex(
            ValueError,
            f"^{self.task} \\(`VideoPrismVideoClassifier` config\\) has an "
            "unknown key 'num_clases' \\(did you mean 'num_classes'\\?\\)",
        ):
            VideoClassifier.from_preset(self.preset)

    def test_missing_key(self):
        edit_json(self.config, lambda config: config["config"].pop("num_heads"))
        with self.assertRaisesRegex(
            ValueError,
            f"^{self.config} \\(`VideoPrismBackbone` config\\) lacks the "
            "required key\\(s\\) 'num_heads'",
        ):
            VideoPrismBackbone.from_preset(self.preset)

    def test_truncated_config(self):
        with open(self.config) as file:
            text = file.read()
        with open(self.config, "w") as file:
            file.write(text[: len(text) // 2])
        with self.assertRaisesRegex(
            ValueError, f"^'{self.config}' is not valid JSON: "
        ):
            VideoPrismBackbone.from_preset(self.preset)
