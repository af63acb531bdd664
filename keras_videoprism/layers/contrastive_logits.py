"""Learned temperature and bias of contrastive video-text training."""

import math

import keras
from keras import ops

# The official zero-shot temperature (VideoPrism video-text demo).
DEFAULT_TEMPERATURE = 0.01
# SigLIP initialises its logit bias at -10.
DEFAULT_LOGIT_BIAS = -10.0


@keras.saving.register_keras_serializable(package="keras_videoprism")
class ContrastiveLogits(keras.layers.Layer):
    """Turns similarities into logits with a learned temperature and bias.

    Computes `similarities * exp(log_scale) + bias`, where
    `exp(-log_scale)` is the temperature, in the layer's compute dtype (the
    video-text tasks create it `float32` whatever their backbone's dtype). The bias shifts every logit
    equally, so it only matters to the sigmoid loss: softmax losses and
    probabilities are unchanged by it.

    Args:
        initial_temperature: float. The temperature the layer starts at.
            Defaults to `0.01`.
        initial_logit_bias: float. The bias it starts at. Defaults to
            `-10.0`.
        **kwargs: standard layer arguments, e.g. `name` and `dtype`.
    """

    def __init__(
        self,
        initial_temperature=DEFAULT_TEMPERATURE,
        initial_logit_bias=DEFAULT_LOGIT_BIAS,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.initial_temperature = initial_temperature
        self.initial_logit_bias = initial_logit_bias

    def build(self, input_shape=None):
        self.log_scale = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(
                -math.log(self.initial_temperature)
            ),
            name="log_scale",
        )
        self.bias = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self.initial_logit_bias),
            name="bias",
        )
        self.built = True

    def call(self, similarities):
        similarities = ops.cast(similarities, self.compute_dtype)
        return similarities * ops.exp(self.log_scale) + self.bias

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "initial_temperature": self.initial_temperature,
                "initial_logit_bias": self.initial_logit_bias,
            }
        )
        return config
