"""VideoPrism's video-text (LvT) model as a zero-shot and retrieval task."""

import keras

from keras_videoprism.models.video_prism_backbone import VideoPrismBackbone
from keras_videoprism.models.video_prism_preprocessor import (
    VideoPrismPreprocessor,
)
from keras_videoprism.models.video_text_retriever import VideoTextRetriever


@keras.saving.register_keras_serializable(package="keras_videoprism")
class VideoPrismVideoTextRetriever(VideoTextRetriever):
    """Zero-shot classification and video-text retrieval with VideoPrism.

    A `VideoTextRetriever` for a video-text (LvT) `VideoPrismBackbone`,
    with a `VideoPrismPreprocessor`; see `VideoTextRetriever` for the
    methods. Embeddings and similarities equal the official
    `FactorizedVideoCLIP` ones, and the zero-shot defaults (prompt
    `"a video of {}."`, temperature `0.01`) are the official demo's.

    Args:
        backbone: a `VideoPrismBackbone` with `num_text_layers > 0`.
        preprocessor: a `VideoPrismPreprocessor` or `None`. Defaults to
            `None`.
        initial_temperature: float. Defaults to `0.01`.
        initial_logit_bias: float. Defaults to `-10.0`.
        **kwargs: passed to `VideoTextRetriever`.

    Example:

    ```python
    retriever = (
        keras_videoprism.models.VideoPrismVideoTextRetriever.from_preset(
            "videoprism_lvt_public_v1_base"
        )
    )
    video = keras_videoprism.utils.sample_video_path()
    retriever.classify([video], ["cooking", "shapes moving", "a dog"])
    ```

    References:
        - [VideoPrism](https://arxiv.org/abs/2402.13217)
    """

    backbone_cls = VideoPrismBackbone
    preprocessor_cls = VideoPrismPreprocessor
