"""Tokenizers of keras-videoprism."""

from keras_videoprism.models.video_prism_tokenizer import VideoPrismTokenizer
from keras_videoprism.models.video_prism_tokenizer import canonicalize_text
from keras_videoprism.models.video_prism_tokenizer import canonicalize_text_tf

__all__ = ["VideoPrismTokenizer", "canonicalize_text", "canonicalize_text_tf"]
