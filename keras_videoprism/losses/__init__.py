"""Losses for training VideoPrism tasks."""

from keras_videoprism.losses.contrastive_losses import SigmoidContrastiveLoss
from keras_videoprism.losses.contrastive_losses import SoftmaxContrastiveLoss

__all__ = [
    "SigmoidContrastiveLoss",
    "SoftmaxContrastiveLoss",
]
