import os
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np

from keras_videoprism.layers import VideoPrismVideoConverter
from keras_videoprism.models import VideoPrismBackbone
from keras_videoprism.models import VideoPrismVideoClassifier
from keras_videoprism.models import save_preset
from keras_videoprism.utils.atomic_files import OutputExistsError
from tests.configs import TINY_CONVERTER
from tests.configs import TINY_VIDEO
from tests.configs import random_pixel_values
from tests.test_case import TestCase

REPO = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
# A backbone of about 85 MB of weights, so that saving takes a moment.
BIG = dict(
    TINY_VIDEO,
    hidden_dim=384,
    intermediate_dim=1536,
    num_heads=4,
    num_spatial_layers=8,
    num_temporal_layers=4,
)
# A child process: refuses to touch a user's folder, then saves the big
# backbone to a new directory and over an existing preset.
CHILD = """
import sys, keras
from keras_videoprism.models import VideoPrismBackbone
from keras_videoprism.utils.atomic_files import OutputExistsError
user, fresh, existing = sys.argv[1:4]
keras.utils.set_random_seed(int(sys.argv[4]))
backbone = VideoPrismBackbone(**{config})
try:
    backbone.save_to_preset(user)
except OutputExistsError:
    pass
print("saving", flush=True)
backbone.save_to_preset(fresh)
backbone.save_to_preset(existing, overwrite=True)
print("saved", flush=True)
""".format(config=repr(BIG))


def features_of(preset, pixels):
    """The features of the backbone a preset loads into, as numpy."""
    backbone = VideoPrismBackbone.from_preset(preset)
    return keras.ops.convert_to_numpy(backbone(pixels))


def files_of(preset):
    return sorted(os.listdir(preset))


class SavePresetTest(TestCase):
    def setUp(self):
        super().setUp()
        self.parent = self.get_temp_dir()
        self.preset = os.path.join(self.parent, "preset")

    def test_task_save_refuses_a_user_folder_and_overwrites_whole(self):
        classifier = VideoPrismVideoClassifier(
            VideoPrismBackbone(**TINY_VIDEO), num_classes=3
        )
        os.mkdir(self.preset)
        with open(os.path.join(self.preset, "config.json"), "w") as file:
            file.write("my notes")
        with self.assertRaisesRegex(OutputExistsError, "preset.*overwrite"):
            classifier.save_to_preset(self.preset)
        self.assertEqual(files_of(self.preset), ["config.json"])
        with open(os.path.join(self.preset, "config.json")) as file:
            self.assertEqual(file.read(), "my notes")

        classifier.save_to_preset(self.preset, overwrite=True)
        # keras-hub's task saver wrote the task and the backbone into the
        # same (temporary) directory.
        self.assertEqual(
            files_of(self.preset),
            [
                "config.json",
                "metadata.json",
                "model.weights.h5",
                "task.json",
                "task.weights.h5",
            ],
        )
        # A backbone over the classifier: no task file is left behind.
        backbone = VideoPrismBackbone(**TINY_VIDEO)
        backbone.save_to_preset(self.preset, overwrite=True)
        self.assertEqual(
            files_of(self.preset),
            ["config.json", "metadata.json", "model.weights.h5"],
        )
        self.assertEqual(files_of(self.parent), ["preset"])
        pixels = random_pixel_values(1)
        self.assertAllClose(
            VideoPrismBackbone.from_preset(self.preset)(pixels),
            backbone(pixels),
        )

    def test_save_preset_writes_several_objects(self):
        backbone = VideoPrismBackbone(**TINY_VIDEO)
        converter = VideoPrismVideoConverter(**TINY_CONVERTER)
        save_preset(self.preset, [backbone, converter])
        self.assertEqual(
            files_of(self.preset),
            [
                "config.json",
                "metadata.json",
                "model.weights.h5",
                "video_converter.json",
            ],
        )
        with self.assertRaises(OutputExistsError):
            save_preset(self.preset, [converter])
        restored = VideoPrismVideoConverter.from_preset(self.preset)
        self.assertEqual(restored.get_config(), converter.get_config())


class KilledWriterTest(TestCase):
    """A writer killed (SIGKILL) at several points loses nothing."""

    def run_child(self, arguments, delay):
        """Runs `CHILD`, killed `delay` s after it starts saving (or not)."""
        env = {**os.environ, "PYTHONPATH": REPO}
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, *arguments],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        self.assertEqual(child.stdout.readline().strip(), "saving")
        if delay is None:
            self.assertEqual(child.stdout.readline().strip(), "saved")
            self.assertEqual(child.wait(), 0)
            return
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()

    def test_killed_while_saving(self):
        parent = self.get_temp_dir()
        user = os.path.join(parent, "user")
        os.mkdir(user)
        with open(os.path.join(user, "thesis.txt"), "w") as file:
            file.write("years of work")
        pixels = random_pixel_values(1, BIG)
        # The model the children save (seed 1) and the preset they
        # overwrite (seed 2), saved here.
        reference = os.path.join(parent, "reference")
        keras.utils.set_random_seed(1)
        VideoPrismBackbone(**BIG).save_to_preset(reference)
        old = os.path.join(parent, "old")
        keras.utils.set_random_seed(2)
        VideoPrismBackbone(**BIG).save_to_preset(old)
        expected = features_of(reference, pixels)
        expected_old = features_of(old, pixels)
        self.assertGreater(np.abs(expected - expected_old).max(), 1e-3)

        for index, delay in enumerate((0.0, 0.3, None)):
            fresh = os.path.join(parent, f"fresh{index}")
            existing = os.path.join(parent, f"existing{index}")
            shutil.copytree(old, existing)
            self.run_child([user, fresh, existing, "1"], delay)
            with self.subTest(delay=delay):
                if delay is None:
                    self.assertTrue(os.path.exists(fresh))
                # The new preset: absent, or complete with the new weights.
                if os.path.exists(fresh):
                    self.assertAllClose(features_of(fresh, pixels), expected)
                # The overwritten preset: the old one or the new one, whole.
                if os.path.exists(existing):
                    actual = features_of(existing, pixels)
                    same_as_old = np.abs(actual - expected_old).max() < 1e-6
                    if delay is None or not same_as_old:
                        self.assertAllClose(actual, expected)
        self.assertEqual(files_of(user), ["thesis.txt"])
        with open(os.path.join(user, "thesis.txt")) as file:
            self.assertEqual(file.read(), "years of work")
