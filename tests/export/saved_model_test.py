import os

import keras
import pytest

from tests.export.served_inputs import backbone_and_inputs
from tests.test_case import TestCase


@pytest.mark.skipif(
    keras.config.backend() not in ("tensorflow", "jax"),
    reason="Keras exports TF SavedModels from the TensorFlow and JAX "
    "backends only.",
)
class SavedModelExportTest(TestCase):
    def test_video_text_backbone_serves_the_same_outputs(self):
        import tensorflow as tf

        backbone, inputs = backbone_and_inputs()
        # A serving signature without the optional frame mask, at the
        # served clip size; the batch stays dynamic.
        signature = {
            "pixel_values": tf.TensorSpec((None, 4, 16, 16, 3), tf.float32),
            "token_ids": tf.TensorSpec((None, 8), tf.int32),
            "padding_mask": tf.TensorSpec((None, 8), tf.int32),
        }
        path = os.path.join(self.get_temp_dir(), "saved_model")
        backbone.export(
            path,
            format="tf_saved_model",
            input_signature=[signature],
            verbose=False,
        )
        # Keep the loaded object alive: its variables die with it.
        reloaded = tf.saved_model.load(path)
        served = reloaded.serve(inputs)
        expected = backbone(inputs)
        for key in ("vision_embeddings", "text_embeddings"):
            self.assertAllClose(served[key], expected[key], atol=1e-4)
