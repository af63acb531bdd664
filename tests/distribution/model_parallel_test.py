"""`keras.distribution` on JAX with 8 virtual CPU devices (child process)."""

from tests.distribution.virtual_devices import jax_only
from tests.distribution.virtual_devices import run_on_8_devices

SCRIPT = r"""
import numpy as np
import keras
from keras_videoprism.models import VideoPrismBackbone

kwargs = dict(
    num_frames=4, patch_size=4, hidden_dim=16, intermediate_dim=32,
    num_heads=2, num_spatial_layers=1, num_temporal_layers=1,
    num_auxiliary_layers=1, vocabulary_size=40, num_text_layers=1,
    attention_logit_soft_cap=50.0, image_shape=(16, 16, 3),
)
rng = np.random.default_rng(0)
inputs = {
    "pixel_values": rng.random((8, 4, 16, 16, 3), dtype="float32"),
    "token_ids": rng.integers(0, 40, (8, 6)).astype("int32"),
    "padding_mask": np.ones((8, 6), "int32"),
}
reference = VideoPrismBackbone(**kwargs)
expected = reference.predict(inputs, verbose=0)

devices = keras.distribution.list_devices()
assert len(devices) == 8, devices
mesh = keras.distribution.DeviceMesh((2, 4), ["batch", "model"], devices)
layout_map = VideoPrismBackbone.get_layout_map(mesh)
distribution = keras.distribution.ModelParallel(
    layout_map=layout_map, batch_dim_name="batch"
)
keras.distribution.set_distribution(distribution)
sharded = VideoPrismBackbone(**kwargs)
sharded.set_weights(reference.get_weights())
kernels = [
    w for w in sharded.weights if w.path.endswith("qkv_projection/kernel")
]
assert len(kernels) == 4, [w.path for w in kernels]
for kernel in kernels:
    spec = kernel.value.sharding.spec
    assert tuple(spec) == (None, "model"), (kernel.path, spec)
outputs = sharded.predict(inputs, verbose=0, batch_size=8)
for key in expected:
    np.testing.assert_allclose(outputs[key], expected[key], atol=1e-5)

# One training step under the distribution: a contrastive-style objective
# on the sharded model, to show gradients flow through sharded kernels.
video = keras.Input((4, 16, 16, 3))
features = sharded.get_video_features(video)
logits = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(features))
model = keras.Model(video, logits)
model.compile(
    optimizer="sgd",
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
)
before = [np.array(w) for w in sharded.weights]
labels = np.arange(8) % 2
model.fit(inputs["pixel_values"], labels, batch_size=8, epochs=1, verbose=0)
changed = sum(
    not np.array_equal(a, np.array(w)) for a, w in zip(before, sharded.weights)
)
assert changed > 0
print("OK")
"""


@jax_only
def test_model_parallel_matches_unsharded_and_trains():
    run_on_8_devices(SCRIPT)
