"""`DataParallel` fine-tuning of the classifier on 8 virtual CPU devices."""

from tests.distribution.virtual_devices import jax_only
from tests.distribution.virtual_devices import run_on_8_devices

# One SGD step on a global batch of 8 split over 8 devices must leave the
# same weights as the same step on one device: the gradients are averaged
# over the global batch either way.
SCRIPT = r"""
import numpy as np
import keras
from keras_videoprism.models import VideoPrismBackbone
from keras_videoprism.models import VideoPrismVideoClassifier


def classifier():
    backbone = VideoPrismBackbone(
        num_frames=4, patch_size=8, hidden_dim=16, intermediate_dim=32,
        num_heads=2, num_spatial_layers=1, num_temporal_layers=1,
        num_auxiliary_layers=0, attention_logit_soft_cap=50.0,
        image_shape=(16, 16, 3),
    )
    model = VideoPrismVideoClassifier(backbone, num_classes=3)
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


rng = np.random.default_rng(0)
videos = rng.random((8, 4, 16, 16, 3), dtype="float32")
labels = np.arange(8) % 3

single = classifier()
initial = single.get_weights()
expected_logits = single.predict(videos, verbose=0)
single.fit(videos, labels, batch_size=8, epochs=1, shuffle=False, verbose=0)

devices = keras.distribution.list_devices()
assert len(devices) == 8, devices
keras.distribution.set_distribution(
    keras.distribution.DataParallel(devices=devices)
)
parallel = classifier()
parallel.set_weights(initial)
kernel = parallel.backbone.weights[0].value
assert len(kernel.sharding.device_set) == 8, kernel.sharding
logits = parallel.predict(videos, verbose=0, batch_size=8)
np.testing.assert_allclose(logits, expected_logits, atol=1e-5)
parallel.fit(videos, labels, batch_size=8, epochs=1, shuffle=False, verbose=0)
moved = 0
for a, b, before in zip(
    single.get_weights(), parallel.get_weights(), initial
):
    np.testing.assert_allclose(b, a, atol=1e-5)
    moved += not np.array_equal(a, before)
assert moved > 10, moved
print("OK")
"""


@jax_only
def test_data_parallel_fit_step_matches_one_device():
    run_on_8_devices(SCRIPT)
