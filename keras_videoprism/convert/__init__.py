"""Checkpoint converters into keras-videoprism models."""

from keras_videoprism.convert.keras_hub_preset import from_keras_hub_preset
from keras_videoprism.convert.official_checkpoint import (
    from_official_checkpoint,
)
from keras_videoprism.convert.transformers_checkpoint import (
    from_transformers_checkpoint,
)
from keras_videoprism.convert.transformers_checkpoint import (
    load_classifier_weights,
)

__all__ = [
    "from_keras_hub_preset",
    "from_official_checkpoint",
    "from_transformers_checkpoint",
    "load_classifier_weights",
]
