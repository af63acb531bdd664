"""VideoPrism models and tasks."""

from keras_videoprism.models.video_classifier import VideoClassifier
from keras_videoprism.models.video_prism_backbone import VideoPrismBackbone
from keras_videoprism.models.video_prism_preprocessor import (
    VideoPrismPreprocessor,
)
from keras_videoprism.models.video_prism_preset_saver import save_preset
from keras_videoprism.models.video_prism_tokenizer import VideoPrismTokenizer
from keras_videoprism.models.video_prism_video_classifier import (
    VideoPrismVideoClassifier,
)
from keras_videoprism.models.video_prism_video_classifier_preprocessor import (
    VideoPrismVideoClassifierPreprocessor,
)
from keras_videoprism.models.video_prism_video_text_retriever import (
    VideoPrismVideoTextRetriever,
)
from keras_videoprism.models.video_text_retriever import VideoTextRetriever

__all__ = [
    "VideoClassifier",
    "VideoPrismBackbone",
    "VideoPrismPreprocessor",
    "VideoPrismTokenizer",
    "VideoPrismVideoClassifier",
    "VideoPrismVideoClassifierPreprocessor",
    "VideoPrismVideoTextRetriever",
    "VideoTextRetriever",
    "save_preset",
]
