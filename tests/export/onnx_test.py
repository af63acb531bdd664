import os

import keras
import pytest

from tests.export.served_inputs import backbone_and_inputs
from tests.test_case import TestCase


@pytest.mark.skipif(
    keras.config.backend() != "torch",
    reason="TensorFlow writes the exact GELU with `Erfc`, which tf2onnx does "
    "not map; JAX needs jax2onnx (and flax), not installed.",
)
class OnnxExportTest(TestCase):
    def test_video_text_backbone_runs_the_same_in_onnxruntime(self):
        import onnxruntime

        backbone, inputs = backbone_and_inputs()
        signature = {
            name: keras.InputSpec(shape=value.shape, dtype=str(value.dtype))
            for name, value in inputs.items()
        }
        path = os.path.join(self.get_temp_dir(), "videoprism.onnx")
        backbone.export(
            path, format="onnx", input_signature=[signature], verbose=False
        )
        session = onnxruntime.InferenceSession(path)
        # Inputs (`input_0`, ...) and outputs come in the sorted order of
        # the model's keys.
        feeds = {
            node.name: inputs[key]
            for node, key in zip(session.get_inputs(), sorted(inputs))
        }
        served = session.run(None, feeds)
        expected = backbone(inputs)
        self.assertEqual(len(served), len(expected))
        for value, key in zip(served, sorted(expected)):
            self.assertAllClose(value, expected[key], atol=1e-4, msg=key)
