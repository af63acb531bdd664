"""Labels of the classification tasks, checked against the loss."""

import keras
import numpy as np

from keras_videoprism.models.video_labels import check_labels
from tests.test_case import TestCase

SPARSE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
BINARY = keras.losses.BinaryCrossentropy()


class VideoLabelsTest(TestCase):
    def test_good_labels_pass(self):
        check_labels(np.array([0, 2, 1]), SPARSE, 3)
        check_labels(np.array([[0], [2]]), SPARSE, 3)
        check_labels(np.array([0.0, 2.0]), SPARSE, 3)
        check_labels(np.array([[1, 0, 1]], "float32"), BINARY, 3)
        check_labels(np.array([[0.2, 0.9, 0.0]]), BINARY, 3)
        check_labels(None, SPARSE, 3)
        # A loss of one's own reads what it wants.
        check_labels(np.eye(3), keras.losses.CategoricalCrossentropy(), 3)

    def test_out_of_range_class_ids(self):
        for labels in ([0, 3], [-1, 0]):
            with self.assertRaisesRegex(ValueError, r"must be in \[0, 3\)"):
                check_labels(np.array(labels), SPARSE, 3)

    def test_fractional_and_non_finite_class_ids(self):
        with self.assertRaisesRegex(ValueError, "whole numbers.*0.5"):
            check_labels(np.array([0.5, 1.0]), SPARSE, 3)
        with self.assertRaisesRegex(ValueError, "NaN or infinite"):
            check_labels(np.array([np.nan, 1.0]), SPARSE, 3)

    def test_one_hot_against_sparse_loss_and_back(self):
        with self.assertRaisesRegex(ValueError, r"np.argmax"):
            check_labels(np.eye(3)[[0, 1]], SPARSE, 3)
        with self.assertRaisesRegex(ValueError, r"to_categorical"):
            check_labels(np.array([0, 1]), BINARY, 3)
        with self.assertRaisesRegex(ValueError, r"in \[0, 1\]"):
            check_labels(np.array([[0, 2, 0]]), BINARY, 3)

    def test_non_numeric_labels(self):
        with self.assertRaisesRegex(TypeError, "must be numbers"):
            check_labels(np.array(["cat", "dog"]), SPARSE, 3)

    def test_symbolic_labels_check_shapes_only(self):
        check_labels(keras.KerasTensor((None,), "int32"), SPARSE, 3)
        with self.assertRaisesRegex(ValueError, "batch_size"):
            check_labels(keras.KerasTensor((None, 3), "int32"), SPARSE, 3)
