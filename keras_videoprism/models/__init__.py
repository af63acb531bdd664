"""VideoPrism models and tasks."""

from keras_videoprism.models.video_prism_backbone import VideoPrismBackbone

__all__ = [
    "VideoPrismBackbone",
]
