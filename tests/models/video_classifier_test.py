"""The generic `VideoClassifier`: its head, its defaults, its label check."""

import keras
import numpy as np

from keras_videoprism.models.video_classifier import DEFAULT_LEARNING_RATE
from keras_videoprism.models.video_classifier import VideoClassifier
from keras_videoprism.models.video_prism_backbone import VideoPrismBackbone
from tests.configs import TINY_VIDEO
from tests.configs import random_pixel_values
from tests.test_case import TestCase


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


class VideoClassifierHeadTest(TestCase):
    def test_logits_are_the_pooled_tokens_of_every_frame_through_dense(self):
        backbone = VideoPrismBackbone(**TINY_VIDEO)
        classifier = VideoClassifier(backbone, num_classes=3, dropout=0.5)
        self.assertIsNone(VideoClassifier.backbone_cls)
        self.assertEqual(
            sorted(classifier.input), ["frame_padding_mask", "pixel_values"]
        )
        videos = random_pixel_values(2)
        mask = np.array([[1, 1], [1, 0]], "int32")
        features = _numpy(backbone.get_video_features(videos, mask))
        batch, frames, patches, width = features.shape
        # All `T * N` tokens in one sequence, pooled by the one query.
        tokens = features.reshape(batch, frames * patches, width)
        embeddings = _numpy(classifier.pooler(tokens))
        self.assertAllClose(
            classifier.get_global_embeddings(videos, mask),
            embeddings,
            atol=1e-6,
        )
        kernel, bias = classifier.output_dense.get_weights()
        # Dropout is off at inference: a plain affine map of the embedding.
        self.assertAllClose(
            classifier({"pixel_values": videos, "frame_padding_mask": mask}),
            embeddings @ kernel + bias,
            atol=1e-5,
        )

    def test_pooler_attention_dim_and_head_dtype(self):
        backbone = VideoPrismBackbone(**TINY_VIDEO)
        classifier = VideoClassifier(
            backbone,
            num_classes=2,
            pooler_attention_dim=8,
            head_dtype="bfloat16",
        )
        self.assertEqual(classifier.pooler.attention_dim, 8)
        self.assertEqual(classifier.output_dense.compute_dtype, "bfloat16")
        self.assertEqual(classifier.backbone.compute_dtype, "float32")
        config = classifier.get_config()
        self.assertEqual(config["pooler_attention_dim"], 8)
        self.assertEqual(config["head_dtype"]["config"]["name"], "bfloat16")


class VideoClassifierCompileTest(TestCase):
    def setUp(self):
        super().setUp()
        self.backbone = VideoPrismBackbone(**TINY_VIDEO)

    def test_fine_tuning_rate_and_losses_by_activation(self):
        logits = VideoClassifier(self.backbone, num_classes=5)
        self.assertIsInstance(logits.optimizer, keras.optimizers.Adam)
        self.assertAllClose(
            _numpy(logits.optimizer.learning_rate), DEFAULT_LEARNING_RATE
        )
        self.assertIsInstance(
            logits.loss, keras.losses.SparseCategoricalCrossentropy
        )
        self.assertTrue(logits.loss.from_logits)
        # Top-5 accuracy only when there are more than 5 classes.
        names = [m["config"]["name"] for m in logits.get_compile_config()[
            "metrics"
        ]]
        self.assertEqual(names, ["accuracy"])
        sigmoid = VideoClassifier(
            self.backbone, num_classes=5, activation="sigmoid"
        )
        self.assertIsInstance(sigmoid.loss, keras.losses.BinaryCrossentropy)
        self.assertFalse(sigmoid.loss.from_logits)

    def test_explicit_arguments_win(self):
        classifier = VideoClassifier(self.backbone, num_classes=3)
        optimizer = keras.optimizers.SGD(0.1)
        loss = keras.losses.CategoricalCrossentropy(from_logits=True)
        classifier.compile(optimizer=optimizer, loss=loss, metrics=[])
        self.assertIs(classifier.optimizer, optimizer)
        self.assertIs(classifier.loss, loss)
