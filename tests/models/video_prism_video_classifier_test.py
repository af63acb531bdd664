import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_videoprism.convert.official_checkpoint import (
    from_official_checkpoint,
)
from keras_videoprism.models.video_classifier import VideoClassifier
from keras_videoprism.models.video_prism_backbone import VideoPrismBackbone
from keras_videoprism.models.video_prism_video_classifier import (
    VideoPrismVideoClassifier,
)
from keras_videoprism.models.video_prism_video_classifier_preprocessor import (
    VideoPrismVideoClassifierPreprocessor,
)
from keras_videoprism.models.video_prism_video_converter import (
    VideoPrismVideoConverter,
)
from tests.configs import TINY_CONVERTER
from tests.configs import TINY_VIDEO
from tests.configs import random_pixel_values
from tests.configs import random_videos
from tests.test_case import FIXTURE_ATOL
from tests.test_case import TestCase
from tests.test_case import load_official

NUM_FRAMES = 4
FRAME_SIZE = 16
SQUARE_SIZE = 8
# Pixels the square moves per frame.
SPEED = 2
RED = (1.0, 0.2, 0.2)
BLUE = (0.2, 0.2, 1.0)


def tiny_backbone(**kwargs):
    """A random video-only backbone: 4 frames of 16x16, 2x2 patches."""
    config = {
        "num_frames": NUM_FRAMES,
        "patch_size": 8,
        "hidden_dim": 16,
        "intermediate_dim": 32,
        "num_heads": 2,
        "num_spatial_layers": 1,
        "num_temporal_layers": 1,
        "num_auxiliary_layers": 0,
        "image_shape": (FRAME_SIZE, FRAME_SIZE, 3),
    }
    return VideoPrismBackbone(**{**config, **kwargs})


def moving_squares(num_videos, seed, colours=None):
    """Videos of a square moving left or right on black.

    Every frame of a clip moving right is also a frame of some clip moving
    left (the square's positions and colours are drawn alike), so only the
    order of the frames tells the direction.

    Returns:
        `(videos, directions, colour_ids)`: float32 videos
        `(num_videos, T, 16, 16, 3)`, direction 1 = right, and which of
        `colours` the square has (random colours when `colours` is None).
    """
    rng = np.random.default_rng(seed)
    shape = (num_videos, NUM_FRAMES, FRAME_SIZE, FRAME_SIZE, 3)
    videos = np.zeros(shape, "float32")
    directions = rng.integers(0, 2, num_videos)
    colour_ids = rng.integers(0, 2, num_videos)
    travel = SPEED * (NUM_FRAMES - 1)
    for i in range(num_videos):
        columns = rng.integers(0, FRAME_SIZE - SQUARE_SIZE - travel + 1)
        columns = columns + SPEED * np.arange(NUM_FRAMES)
        if not directions[i]:
            columns = columns[::-1]
        row = rng.integers(0, FRAME_SIZE - SQUARE_SIZE + 1)
        if colours is None:
            colour = rng.uniform(0.3, 1.0, 3)
        else:
            colour = colours[colour_ids[i]]
        for t, column in enumerate(columns):
            rows = slice(row, row + SQUARE_SIZE)
            videos[i, t, rows, column : column + SQUARE_SIZE] = colour
    return videos, directions, colour_ids


def fast_optimizer():
    # Order is only visible through the temporal position table, which
    # starts at 2% of the feature scale: a brisk, clipped Adam gets the
    # tiny model past that plateau in ~100 steps.
    return keras.optimizers.Adam(
        3e-3, beta_1=0.8, beta_2=0.95, global_clipnorm=1.0
    )


def predict(classifier, inputs):
    # Eager calls share JAX's per-op compilation cache across models of
    # one configuration; `predict()` would compile each model anew.
    return keras.ops.convert_to_numpy(classifier(inputs))


def accuracy(classifier, videos, labels):
    predictions = np.argmax(predict(classifier, videos), axis=-1)
    return float(np.mean(predictions == labels))


class VideoPrismVideoClassifierTest(TestCase):
    def test_official_fixture_parity(self):
        checkpoint, config, io = load_official("classifier_tiny")
        classifier = from_official_checkpoint(str(checkpoint), config)
        self.assertIsInstance(classifier, VideoPrismVideoClassifier)
        for case in ("a_native", "b_interp_grow"):
            with self.subTest(case):
                video = io[f"{case}/inputs"]
                self.assertAllClose(
                    classifier.predict(video, verbose=0),
                    io[f"{case}/logits"],
                    atol=FIXTURE_ATOL,
                    rtol=0,
                )
                self.assertAllClose(
                    classifier.get_global_embeddings(video),
                    io[f"{case}/global_embeddings"],
                    atol=FIXTURE_ATOL,
                    rtol=0,
                )

    def train_direction(self, fit):
        """Trains a random tiny classifier with `fit(classifier, x, y)`."""
        classifier = VideoPrismVideoClassifier(tiny_backbone(), num_classes=2)
        classifier.compile(optimizer=fast_optimizer())
        videos, directions, _ = moving_squares(256, seed=0)
        fit(classifier, videos, directions)
        held_out, held_out_directions, _ = moving_squares(128, seed=1)
        self.assertGreaterEqual(
            accuracy(classifier, held_out, held_out_directions), 0.9
        )

    def test_learns_motion_direction_from_arrays(self):
        def fit(classifier, videos, labels):
            classifier.fit(videos, labels, batch_size=16, epochs=20, verbose=0)

        self.train_direction(fit)

    # The same training as from arrays; CI fits from a `tf.data.Dataset`
    # in keras-hub's `run_task_test`.
    @pytest.mark.large
    def test_learns_motion_direction_from_dataset(self):
        def fit(classifier, videos, labels):
            dataset = tf.data.Dataset.from_tensor_slices((videos, labels))
            dataset = dataset.shuffle(256, seed=0).batch(16)
            classifier.fit(dataset, epochs=20, verbose=0)

        self.train_direction(fit)

    def test_frozen_backbone_is_unchanged_and_head_learns(self):
        classifier = VideoPrismVideoClassifier(tiny_backbone(), num_classes=2)
        classifier.backbone.trainable = False
        classifier.compile(optimizer=keras.optimizers.Adam(3e-3))
        self.assertEqual(
            len(classifier.trainable_weights),
            len(classifier.pooler.weights + classifier.output_dense.weights),
        )
        backbone_before = [w.numpy() for w in classifier.backbone.weights]
        dense_before = classifier.output_dense.kernel.numpy()
        videos, _, colours = moving_squares(128, seed=2, colours=(RED, BLUE))
        classifier.fit(videos, colours, batch_size=16, epochs=6, verbose=0)
        for before, after in zip(backbone_before, classifier.backbone.weights):
            np.testing.assert_array_equal(before, after.numpy(), after.path)
        self.assertFalse(
            np.array_equal(dense_before, classifier.output_dense.kernel)
        )
        held_out, _, held_out_colours = moving_squares(
            128, seed=3, colours=(RED, BLUE)
        )
        self.assertGreaterEqual(
            accuracy(classifier, held_out, held_out_colours), 0.9
        )

    def test_mixed_precision_training(self):
        self.addCleanup(keras.config.set_dtype_policy, "float32")
        for policy in ("mixed_bfloat16", "mixed_float16"):
            keras.config.set_dtype_policy(policy)
            classifier = VideoPrismVideoClassifier(
                tiny_backbone(), num_classes=2
            )
            classifier.compile(optimizer=keras.optimizers.Adam(3e-3))
            compute_dtype = policy.removeprefix("mixed_")
            self.assertEqual(
                classifier.output_dense.compute_dtype, compute_dtype
            )
            self.assertEqual(classifier.output_dense.kernel.dtype, "float32")
            videos, _, colours = moving_squares(64, seed=2, colours=(RED, BLUE))
            history = classifier.fit(
                videos, colours, batch_size=16, epochs=4, verbose=0
            )
            losses = history.history["loss"]
            self.assertTrue(np.all(np.isfinite(losses)), (policy, losses))
            self.assertLess(losses[-1], 0.8 * losses[0], policy)

    def test_head_dtype(self):
        classifier = VideoPrismVideoClassifier(
            tiny_backbone(dtype="bfloat16"), num_classes=3, head_dtype="float32"
        )
        self.assertEqual(classifier.backbone.compute_dtype, "bfloat16")
        self.assertEqual(classifier.pooler.compute_dtype, "float32")
        self.assertEqual(classifier.output_dense.compute_dtype, "float32")
        restored = VideoPrismVideoClassifier.from_config(
            {**classifier.get_config()}
        )
        self.assertEqual(restored.output_dense.compute_dtype, "float32")

    def test_inputs_like_the_backbone(self):
        classifier = VideoPrismVideoClassifier(tiny_backbone(), num_classes=3)
        videos, _, _ = moving_squares(2, seed=4)
        logits = predict(classifier, videos)
        self.assertEqual(logits.shape, (2, 3))
        self.assertAllClose(
            predict(classifier, {"pixel_values": videos}), logits
        )
        mask = np.ones((2, NUM_FRAMES), "int32")
        self.assertAllClose(
            classifier.predict(
                {"pixel_values": videos, "frame_padding_mask": mask},
                verbose=0,
            ),
            logits,
            atol=1e-5,
        )
        mask[0, -1] = 0
        masked = predict(
            classifier, {"pixel_values": videos, "frame_padding_mask": mask}
        )
        self.assertAllClose(masked[1], logits[1], atol=1e-5)
        self.assertFalse(np.allclose(masked[0], logits[0], atol=1e-4))
        with self.assertRaisesRegex(ValueError, "rank 5"):
            classifier(videos[0])

    def test_video_text_backbone_uses_video_tower(self):
        backbone = tiny_backbone(
            num_auxiliary_layers=1, vocabulary_size=10, num_text_layers=1
        )
        classifier = VideoPrismVideoClassifier(backbone, num_classes=3)
        self.assertEqual(
            sorted(classifier.input), ["frame_padding_mask", "pixel_values"]
        )
        videos, _, _ = moving_squares(2, seed=5)
        features = backbone.get_video_features(videos)
        embeddings = classifier.pooler(keras.ops.reshape(features, (2, -1, 16)))
        self.assertAllClose(
            classifier.get_global_embeddings(videos), embeddings, atol=1e-6
        )
        self.assertAllClose(
            classifier(videos), classifier.output_dense(embeddings), atol=1e-6
        )

    def test_activations_and_default_losses(self):
        backbone = tiny_backbone()
        videos, _, _ = moving_squares(2, seed=6)
        softmax = VideoPrismVideoClassifier(
            backbone, num_classes=7, activation="softmax"
        )
        self.assertAllClose(
            keras.ops.sum(softmax(videos), axis=-1), np.ones(2), atol=1e-5
        )
        self.assertFalse(softmax.loss.from_logits)
        metrics = softmax.get_compile_config()["metrics"]
        self.assertEqual(
            [metric["config"]["name"] for metric in metrics],
            ["accuracy", "top_5_accuracy"],
        )
        sigmoid = VideoPrismVideoClassifier(
            backbone, num_classes=3, activation="sigmoid"
        )
        self.assertIsInstance(sigmoid.loss, keras.losses.BinaryCrossentropy)
        self.assertFalse(sigmoid.loss.from_logits)
        multi_hot = np.array([[1, 0, 1], [0, 1, 0]], "float32")
        loss = sigmoid.compute_loss(y=multi_hot, y_pred=sigmoid(videos))
        self.assertTrue(np.isfinite(keras.ops.convert_to_numpy(loss)))
        logits = VideoPrismVideoClassifier(backbone, num_classes=3)
        self.assertTrue(logits.loss.from_logits)

    def test_labels_of_the_wrong_shape(self):
        backbone = tiny_backbone()
        videos, _, _ = moving_squares(4, seed=7)
        classifier = VideoPrismVideoClassifier(backbone, num_classes=3)
        one_hot = np.eye(3, dtype="float32")[[0, 1, 2, 0]]
        with self.assertRaisesRegex(ValueError, r"\(batch_size,\)"):
            classifier.fit(videos, one_hot, epochs=1, verbose=0)
        multi_label = VideoPrismVideoClassifier(
            backbone, num_classes=3, activation="sigmoid"
        )
        with self.assertRaisesRegex(ValueError, r"\(batch_size, 3\)"):
            multi_label.fit(videos, np.array([0, 1, 2, 0]), verbose=0)
        # A loss of one's own takes the labels it wants.
        classifier.compile(
            loss=keras.losses.CategoricalCrossentropy(from_logits=True)
        )
        loss = classifier.compute_loss(y=one_hot, y_pred=classifier(videos))
        self.assertTrue(np.isfinite(keras.ops.convert_to_numpy(loss)))

    def test_saved_model_round_trip(self):
        classifier = VideoPrismVideoClassifier(
            tiny_backbone(), num_classes=3, activation="softmax", dropout=0.1
        )
        classifier.compile(optimizer=keras.optimizers.Adam(1e-3))
        videos, _, _ = moving_squares(2, seed=8)
        expected = predict(classifier, videos)
        path = os.path.join(self.get_temp_dir(), "classifier.keras")
        classifier.save(path)
        restored = keras.saving.load_model(path)
        self.assertIsInstance(restored, VideoPrismVideoClassifier)
        self.assertEqual(restored.get_config(), classifier.get_config())
        self.assertAllClose(predict(restored, videos), expected)
        self.assertEqual(
            restored.get_compile_config(), classifier.get_compile_config()
        )

    def test_config_round_trip(self):
        classifier = VideoPrismVideoClassifier(
            tiny_backbone(), num_classes=5, activation="sigmoid", dropout=0.2
        )
        config = classifier.get_config()
        # `from_config` replaces the nested configs by objects: pass a copy.
        restored = VideoPrismVideoClassifier.from_config({**config})
        self.assertEqual(restored.get_config(), config)
        revived = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(classifier)
        )
        self.assertIsInstance(revived, VideoPrismVideoClassifier)
        self.assertEqual(revived.num_classes, 5)

    def test_preset_round_trip(self):
        classifier = VideoPrismVideoClassifier(tiny_backbone(), num_classes=3)
        videos, _, _ = moving_squares(2, seed=9)
        expected = predict(classifier, videos)
        preset = self.get_temp_dir()
        classifier.save_to_preset(preset)
        for cls in (VideoClassifier, VideoPrismVideoClassifier):
            with self.subTest(cls.__name__):
                restored = cls.from_preset(preset)
                self.assertIsInstance(restored, VideoPrismVideoClassifier)
                self.assertAllClose(predict(restored, videos), expected)
        # `num_classes` asks for a new head on the saved backbone.
        new_head = VideoClassifier.from_preset(preset, num_classes=4)
        self.assertEqual(new_head.output_dense.units, 4)
        self.assertAllClose(
            predict(new_head.backbone, videos),
            predict(classifier.backbone, videos),
        )

    def test_invalid_arguments(self):
        backbone = tiny_backbone()
        for num_classes in (0, -1, 2.5):
            with self.assertRaisesRegex(ValueError, "`num_classes` must be"):
                VideoPrismVideoClassifier(backbone, num_classes=num_classes)
        with self.assertRaisesRegex(ValueError, "`activation` must be"):
            VideoPrismVideoClassifier(backbone, 2, activation="relu")
        inputs = keras.Input((None, 16, 16, 3))
        other = keras.Model(inputs, keras.layers.Dense(4)(inputs))
        with self.assertRaisesRegex(ValueError, "VideoPrismBackbone"):
            VideoPrismVideoClassifier(other, num_classes=2)

    def test_preset_without_backbone(self):
        preset = self.get_temp_dir()
        with self.assertRaisesRegex(ValueError, "config.json"):
            VideoClassifier.from_preset(preset, num_classes=2)


class VideoPrismVideoClassifierHarnessTest(TestCase):
    """keras-hub's task checks, on the shared tiny configuration."""

    def setUp(self):
        super().setUp()
        self.init_kwargs = {
            "backbone": VideoPrismBackbone(**TINY_VIDEO),
            "num_classes": 3,
            "preprocessor": VideoPrismVideoClassifierPreprocessor(
                VideoPrismVideoConverter(**TINY_CONVERTER)
            ),
        }
        # Raw videos of another length and size; integer class ids.
        self.train_data = (random_videos((2, 5, 20, 24, 3)), np.array([0, 2]))

    def test_task(self):
        self.run_task_test(
            cls=VideoPrismVideoClassifier,
            init_kwargs=self.init_kwargs,
            train_data=self.train_data,
            expected_output_shape=(2, 3),
        )

    def test_saved_model(self):
        self.run_model_saving_test(
            cls=VideoPrismVideoClassifier,
            init_kwargs={**self.init_kwargs, "preprocessor": None},
            input_data=random_pixel_values(2),
        )


class VideoPrismVideoClassifierQuantizationTest(TestCase):
    """`quantize()` of the whole classifier, and its round trips."""

    def test_quantize_and_round_trips(self):
        for mode in ("int8", "float8", "int4"):
            classifier = VideoPrismVideoClassifier(
                backbone=VideoPrismBackbone(**TINY_VIDEO), num_classes=3
            )
            videos = random_pixel_values(2)
            expected = keras.ops.convert_to_numpy(classifier(videos))
            classifier.quantize(mode)
            self.assertEqual(classifier.output_dense.quantization_mode, mode)
            self.assertEqual(
                classifier.pooler.query_projection.quantization_mode, mode
            )
            outputs = keras.ops.convert_to_numpy(classifier(videos))
            cosine = np.sum(outputs * expected) / (
                np.linalg.norm(outputs) * np.linalg.norm(expected)
            )
            if mode != "int4":
                # int4 of a random 32-wide model moves its 6 logits too far
                # for a bound (cosine 0.66 measured on torch); its accuracy
                # is bounded on the backbone's features instead.
                self.assertGreater(cosine, 0.95, mode)

            revived = VideoPrismVideoClassifier.from_config(
                classifier.get_config()
            )
            self.assertEqual(revived.output_dense.quantization_mode, mode)

            path = os.path.join(self.get_temp_dir(), "classifier.keras")
            classifier.save(path)
            restored = keras.models.load_model(path)
            self.assertAllClose(restored(videos), outputs, atol=1e-5)

            # Preset: backbone and head come back quantized, same logits.
            preset = os.path.join(self.get_temp_dir(), "preset")
            classifier.save_to_preset(preset)
            loaded = VideoPrismVideoClassifier.from_preset(preset)
            self.assertEqual(loaded.output_dense.quantization_mode, mode)
            self.assertEqual(
                loaded.backbone.get_layer(
                    "patch_embedding"
                ).projection.quantization_mode,
                mode,
            )
            self.assertAllClose(loaded(videos), outputs, atol=1e-5)
