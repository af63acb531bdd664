import os

import keras
import pytest

from tests.export.served_inputs import backbone_and_inputs
from tests.test_case import TestCase


@pytest.mark.skipif(
    keras.config.backend() != "tensorflow",
    reason="LiteRT export runs through TensorFlow's converter here (torch "
    "needs the separate litert-torch package).",
)
class LiteRTExportTest(TestCase):
    def test_video_text_backbone_runs_the_same_in_litert(self):
        import tensorflow as tf
        from ai_edge_litert.interpreter import Interpreter

        backbone, inputs = backbone_and_inputs()
        # LiteRT needs static shapes: the served batch and clip size.
        signature = {
            name: tf.TensorSpec(value.shape, tf.as_dtype(value.dtype))
            for name, value in inputs.items()
        }
        path = os.path.join(self.get_temp_dir(), "videoprism.tflite")
        backbone.export(
            path, format="litert", input_signature=[signature], verbose=False
        )
        interpreter = Interpreter(model_path=path)
        runner = interpreter.get_signature_runner()
        # The LiteRT signature names the flattened inputs `inputs`,
        # `inputs_1`, ... in the sorted order of the model's input keys.
        names = ["inputs"] + [f"inputs_{i}" for i in range(1, len(inputs))]
        served = runner(
            **{name: inputs[key] for name, key in zip(names, sorted(inputs))}
        )
        expected = backbone(inputs)
        self.assertEqual(sorted(served), sorted(expected))
        for key in expected:
            self.assertAllClose(served[key], expected[key], atol=1e-4)
