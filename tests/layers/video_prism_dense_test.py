"""`VideoPrismDense`: Keras' Dense in float, int8 presets on every backend."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_videoprism.layers import int8_matmul
from keras_videoprism.layers.video_prism_dense import VideoPrismDense
from keras_videoprism.models import VideoPrismBackbone
from tests.test_case import TestCase

BACKENDS = ("jax", "tensorflow", "torch")
DEMO_PRESET = os.path.join(
    os.path.dirname(__file__),
    "..",
    "..",
    "keras_videoprism",
    "data",
    "videoprism_demo_tiny",
)

# Run on one backend: quantizes the float preset (argv[1]), loads the int8
# preset (argv[2]) and writes its kernels and outputs to argv[3].
CHILD = """
import sys
import numpy as np
import keras
from keras_videoprism.layers import int8_matmul
from keras_videoprism.models import VideoPrismBackbone

float_preset, int8_preset, output = sys.argv[1:4]
video = np.load(output + ".in.npy")
quantized_here = VideoPrismBackbone.from_preset(float_preset)
quantized_here.quantize("int8")
loaded = VideoPrismBackbone.from_preset(int8_preset)
arrays = {
    w.path: keras.ops.convert_to_numpy(w)
    for w in quantized_here.weights if w.dtype == "int8"
}
arrays["kernel"] = loaded.predict(video, verbose=0)
int8_matmul.set_enabled(False)
reference = VideoPrismBackbone.from_preset(int8_preset)
arrays["reference"] = reference.predict(video, verbose=0)
np.savez(output, **arrays)
"""


def _cosine(a, b):
    a = a.reshape(-1, a.shape[-1])
    b = b.reshape(-1, b.shape[-1])
    return np.sum(a * b, -1) / (
        np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    )


class VideoPrismDenseTest(TestCase):
    def test_layer_basics(self):
        self.run_layer_test(
            cls=VideoPrismDense,
            init_kwargs={"units": 5, "activation": "gelu"},
            input_data=keras.ops.convert_to_tensor(
                np.random.default_rng(0).random((2, 3, 4)).astype("float32")
            ),
            expected_output_shape=(2, 3, 5),
            expected_num_trainable_weights=2,
        )

    def test_config_is_dense_config(self):
        layer = VideoPrismDense(7, activation="relu", name="projection")
        dense = keras.layers.Dense.from_config(layer.get_config())
        self.assertEqual(dense.get_config(), layer.get_config())
        revived = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(layer)
        )
        self.assertIsInstance(revived, VideoPrismDense)
        self.assertEqual(revived.get_config(), layer.get_config())

    def test_float_outputs_are_dense_outputs(self):
        layer = VideoPrismDense(5, activation="gelu")
        dense = keras.layers.Dense(5, activation="gelu")
        inputs = np.random.default_rng(0).random((3, 4, 6)).astype("float32")
        layer.build(inputs.shape)
        dense.build(inputs.shape)
        dense.set_weights(layer.get_weights())
        self.assertAllClose(layer(inputs), dense(inputs), atol=0)
        self.assertEqual(layer.compute_output_shape((3, 4, 6)), (3, 4, 5))

    def test_quantizes_in_a_model(self):
        backbone = VideoPrismBackbone.from_preset(DEMO_PRESET)
        backbone.quantize("int8")
        modes = {
            layer.path: layer.quantization_mode
            for layer in backbone._flatten_layers()
            if isinstance(layer, VideoPrismDense)
        }
        self.assertTrue(modes)
        self.assertEqual(set(modes.values()), {"int8"})

    @pytest.mark.skipif(
        keras.config.backend() != "jax",
        reason="Runs every backend in child processes: once is enough.",
    )
    def test_int8_preset_loads_on_every_backend(self):
        """Same int8 weights from every backend; the same outputs."""
        temp = self.get_temp_dir()
        backbone = VideoPrismBackbone.from_preset(DEMO_PRESET)
        video = np.random.default_rng(0).random(
            (2, backbone.num_frames, *backbone.image_shape)
        )
        video = video.astype("float32")
        backbone.quantize("int8")
        int8_preset = os.path.join(temp, "int8")
        backbone.save_to_preset(int8_preset)
        self.assertEqual(
            json.load(open(os.path.join(int8_preset, "config.json")))[
                "config"
            ]["dtype"]["class_name"],
            "DTypePolicyMap",
        )
        results = {}
        for backend in BACKENDS:
            output = os.path.join(temp, backend)
            np.save(output + ".in.npy", video)
            subprocess.run(
                [sys.executable, "-c", CHILD, DEMO_PRESET, int8_preset, output],
                env={**os.environ, "KERAS_BACKEND": backend},
                check=True,
                capture_output=True,
            )
            results[backend] = dict(np.load(output + ".npz"))
        kernels = [k for k in results["jax"] if k not in ("kernel", "reference")]
        for backend in BACKENDS:
            for name in kernels:
                # Bit-identical int8 weights and scales on every backend.
                np.testing.assert_array_equal(
                    results[backend][name], results["jax"][name], name
                )
            # Keras' own int8 path: the same numbers everywhere.
            self.assertAllClose(
                results[backend]["reference"],
                results["jax"]["reference"],
                atol=1e-5,
            )
        self.assertAllClose(
            results["tensorflow"]["kernel"], results["jax"]["kernel"], atol=1e-5
        )
        # torch's kernel may quantize its inputs to 7 bits (no VNNI):
        # measured 0.9979 here.
        cosine = _cosine(results["torch"]["kernel"], results["jax"]["kernel"])
        self.assertGreater(cosine.min(), 0.997)
        # And the loaded model here, this process' backend.
        loaded = VideoPrismBackbone.from_preset(int8_preset)
        self.assertAllClose(
            loaded.predict(video, verbose=0),
            results[keras.config.backend()]["kernel"],
            atol=1e-5,
        )

    def tearDown(self):
        int8_matmul.set_enabled(True)
        super().tearDown()
