import os

import keras
import pytest

from tests.export.served_inputs import backbone_and_inputs
from tests.test_case import TestCase

BACKEND = keras.config.backend()


def _signature(inputs):
    """Static shapes (LiteRT needs them): the served batch and clip size."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return {
            name: tf.TensorSpec(value.shape, tf.as_dtype(value.dtype))
            for name, value in inputs.items()
        }
    return {
        name: keras.InputSpec(shape=value.shape, dtype=str(value.dtype))
        for name, value in inputs.items()
    }


def _served_inputs(runner, inputs):
    """The model's inputs under the names of the LiteRT signature.

    Through torch (`litert-torch`) an input is named `args_0_<key>`;
    through TensorFlow's converter the flattened inputs are `inputs`,
    `inputs_1`, ... in the sorted order of the model's input keys.
    """
    names = set(runner.get_input_details())
    if all(f"args_0_{key}" in names for key in inputs):
        return {f"args_0_{key}": value for key, value in inputs.items()}
    ordered = ["inputs"] + [f"inputs_{i}" for i in range(1, len(inputs))]
    return {name: inputs[key] for name, key in zip(ordered, sorted(inputs))}


@pytest.mark.skipif(
    BACKEND == "jax",
    reason="LiteRT export runs through TensorFlow's converter or, on torch, "
    "through litert-torch; JAX has no LiteRT exporter in Keras.",
)
class LiteRTExportTest(TestCase):
    def test_video_text_backbone_runs_the_same_in_litert(self):
        if BACKEND == "torch":
            # Not in the `test` extra: it pins older typing_extensions and
            # pydantic than the rest of the test environment.
            pytest.importorskip("litert_torch")
        from ai_edge_litert.interpreter import Interpreter

        backbone, inputs = backbone_and_inputs()
        path = os.path.join(self.get_temp_dir(), "videoprism.tflite")
        backbone.export(
            path,
            format="litert",
            input_signature=[_signature(inputs)],
            verbose=False,
        )
        interpreter = Interpreter(model_path=path)
        runner = interpreter.get_signature_runner()
        served = runner(**_served_inputs(runner, inputs))
        expected = backbone(inputs)
        self.assertEqual(sorted(served), sorted(expected))
        for key in expected:
            self.assertAllClose(served[key], expected[key], atol=1e-4)
