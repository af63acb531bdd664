"""Array inputs of the tasks: recognised, split and shuffled per epoch."""

import grain
import keras
import numpy as np
import tensorflow as tf

from keras_videoprism.models import task_data
from tests.test_case import TestCase


def epochs_of(dataset, epochs):
    """Sample ids per epoch, read as keras-hub repeats the dataset."""
    batches = list(dataset.repeat(epochs))
    ids = np.concatenate([batch[0] for batch in batches])
    return ids.reshape(epochs, -1).tolist()


class TaskDataTest(TestCase):
    def test_array_data(self):
        self.assertTrue(task_data.is_array_data(np.zeros((2, 3))))
        self.assertTrue(
            task_data.is_array_data({"videos": np.zeros(2), "prompts": ["a"]})
        )
        dataset = tf.data.Dataset.range(3)
        self.assertFalse(task_data.is_array_data(dataset))
        self.assertFalse(task_data.is_array_data(iter([1, 2])))
        self.assertFalse(task_data.is_array_data(None))

    def test_shuffles_every_epoch_reproducibly(self):
        ids = np.arange(10)
        keras.utils.set_random_seed(3)
        orders = epochs_of(
            task_data.batched_dataset(ids, ids, batch_size=4), 3
        )
        for order in orders:
            self.assertEqual(sorted(order), ids.tolist())
        self.assertNotEqual(orders[0], orders[1])
        self.assertNotEqual(orders[1], orders[2])
        keras.utils.set_random_seed(3)
        again = epochs_of(task_data.batched_dataset(ids, ids, batch_size=4), 3)
        self.assertEqual(orders, again)
        keras.utils.set_random_seed(4)
        other = epochs_of(task_data.batched_dataset(ids, ids, batch_size=4), 3)
        self.assertNotEqual(orders, other)
        unshuffled = task_data.batched_dataset(
            ids, ids, batch_size=4, shuffle=False
        )
        self.assertEqual(epochs_of(unshuffled, 2), [ids.tolist()] * 2)

    def test_split_validation_keeps_the_last_samples(self):
        ids = np.arange(10)
        train, validation = task_data.split_validation((ids, ids, None), 0.2)
        self.assertEqual(train[0].tolist(), list(range(8)))
        self.assertEqual(validation[1].tolist(), [8, 9])
        self.assertIsNone(validation[2])
        with self.assertRaisesRegex(ValueError, "leaves no samples"):
            task_data.split_validation((ids[:1], None, None), 0.5)

    def test_empty_inputs_and_datasets(self):
        with self.assertRaisesRegex(ValueError, r"`x` is empty \(0 samples\)"):
            task_data.check_not_empty(np.zeros((0, 2, 16, 16, 3)))
        with self.assertRaisesRegex(ValueError, r"`y` is empty"):
            task_data.check_not_empty(np.zeros((1, 2)), np.zeros((0,)))
        for empty in (
            tf.data.Dataset.range(0),
            tf.data.Dataset.range(4).filter(lambda x: x > 9),
            grain.MapDataset.range(0),
        ):
            with self.assertRaisesRegex(ValueError, "dataset is empty"):
                task_data.check_not_empty(empty)
        task_data.check_not_empty(tf.data.Dataset.range(2))

    def test_inputs_and_labels_of_different_lengths(self):
        videos = np.zeros((4, 2, 16, 16, 3))
        task_data.check_same_length(videos, np.zeros(4), np.ones(4))
        task_data.check_same_length(
            {"videos": videos, "prompts": ["a"] * 4}, None
        )
        task_data.check_same_length(tf.data.Dataset.range(3), np.zeros(4))
        with self.assertRaisesRegex(
            ValueError, r"one entry per video.*`x` \[4\], `y` \[2\]"
        ):
            task_data.check_same_length(videos, np.zeros(2))
        with self.assertRaisesRegex(ValueError, r"`x` \[3, 4\]"):
            task_data.check_same_length(
                {"videos": videos, "prompts": ["a"] * 3}
            )
        with self.assertRaisesRegex(ValueError, r"`sample_weight` \[5\]"):
            task_data.check_same_length(videos, np.zeros(4), np.ones(5))
