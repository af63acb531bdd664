"""VideoPrism models and tasks."""

from keras_videoprism.models.video_prism_backbone import VideoPrismBackbone
from keras_videoprism.models.video_prism_tokenizer import VideoPrismTokenizer

__all__ = [
    "VideoPrismBackbone",
    "VideoPrismTokenizer",
]
