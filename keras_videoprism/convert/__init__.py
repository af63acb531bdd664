"""Checkpoint converters into keras-videoprism models."""

from keras_videoprism.convert.official_checkpoint import (
    from_official_checkpoint,
)

__all__ = ["from_official_checkpoint"]
