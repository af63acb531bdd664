"""VideoPrism's video classifier: the official `FactorizedVideoClassifier`."""

import keras

from keras_videoprism.models.video_classifier import VideoClassifier
from keras_videoprism.models.video_prism_backbone import VideoPrismBackbone
from keras_videoprism.models.video_prism_video_classifier_preprocessor import (
    VideoPrismVideoClassifierPreprocessor,
)


@keras.saving.register_keras_serializable(package="keras_videoprism")
class VideoPrismVideoClassifier(VideoClassifier):
    """VideoPrism video classifier: the official `FactorizedVideoClassifier`.

    The head follows the official classifier: an attention pooler (one
    learned query, attention width D, `num_heads` heads) pools all `T * N`
    tokens of the video features into one global embedding `(B, D)`, and a
    `Dense(num_classes)` layer maps it to class scores. Padded frames are
    masked in the encoder but, as in the official model, still reach the
    pooler.

    With a video-text (LvT) backbone the head reads the features of its
    video tower (before the auxiliary encoder), and only `pixel_values` and
    `frame_padding_mask` are inputs: the text tower is unused.

    Inputs are those of the backbone's video tower: `pixel_values`
    `(B, T, H, W, 3)` RGB in `[0, 1]`, as a bare tensor or in a dict with an
    optional `frame_padding_mask` `(B, T)` (1 = real frame). The
    `preprocessor` turns raw videos into `pixel_values` inside `fit()`,
    `evaluate()` and `predict()`.

    Two training recipes:
    - Frozen backbone (the VideoPrism paper's recipe): set
      `classifier.backbone.trainable = False` before compiling; only the
      pooler and the dense layer train. A learning rate around `1e-3`
      suits the new head.
    - Full fine-tuning: leave the backbone trainable and use a small
      learning rate (the `"auto"` optimizer, `Adam(5e-5)`).

    Args:
        backbone: `VideoPrismBackbone`. Video-only or video-text.
        num_classes: int. Number of classes (>= 1).
        preprocessor: `VideoPrismVideoClassifierPreprocessor` or `None`.
            `None` feeds inputs to the model unchanged. Defaults to `None`.
        activation: `None`, `"softmax"` or `"sigmoid"`. `None` returns
            logits (single-label training with integer labels);
            `"softmax"` returns class probabilities; `"sigmoid"` returns
            independent per-class probabilities for multi-label training
            with multi-hot labels `(B, num_classes)`. Defaults to `None`.
        dropout: float. Dropout rate on the global embedding before the
            dense layer. Defaults to `0.0`.
        head_dtype: `None`, str or `keras.DTypePolicy`. The dtype policy
            of the head layers. Defaults to the backbone's.
        pooler_attention_dim: int or None. Attention width of the pooler;
            `None` gives `hidden_dim`, the official classifier's width
            (transformers' classifiers use `intermediate_size`). Defaults
            to `None`.
        **kwargs: other arguments of `keras_hub.models.Task`, e.g.
            `compile=False` or `name`.

    Returns:
        Class scores `(B, num_classes)`: logits, or probabilities with an
        activation.

    Example:

    ```python
    backbone = keras_videoprism.models.VideoPrismBackbone.from_preset(
        "videoprism_public_v1_base"
    )
    converter = keras_videoprism.layers.VideoPrismVideoConverter(
        num_frames=16, image_size=(288, 288)
    )
    classifier = keras_videoprism.models.VideoPrismVideoClassifier(
        backbone=backbone,
        num_classes=4,
        preprocessor=(
            keras_videoprism.models.VideoPrismVideoClassifierPreprocessor(
                converter
            )
        ),
    )
    videos = np.random.randint(0, 256, (8, 32, 240, 320, 3), "uint8")
    labels = np.array([0, 1, 2, 3, 0, 1, 2, 3])

    # Frozen backbone: train the attention pooler and the dense layer.
    classifier.backbone.trainable = False
    classifier.compile(optimizer=keras.optimizers.Adam(1e-3))
    classifier.fit(videos, labels, batch_size=4, epochs=3)

    # Full fine-tuning: everything trains, with a small learning rate.
    classifier.backbone.trainable = True
    classifier.compile()  # Adam(5e-5)
    classifier.fit(videos, labels, batch_size=4)

    logits = classifier.predict(videos)  # (8, 4)
    embeddings = classifier.get_global_embeddings(
        **classifier.preprocessor(videos)
    )  # (8, 768)
    classifier.save_to_preset("./my_classifier")
    restored = keras_videoprism.models.VideoClassifier.from_preset(
        "./my_classifier"
    )
    ```

    References:
        - [VideoPrism](https://arxiv.org/abs/2402.13217)
        - [Official `FactorizedVideoClassifier`](https://github.com/google-deepmind/videoprism/blob/main/videoprism/encoders.py)
    """

    backbone_cls = VideoPrismBackbone
    preprocessor_cls = VideoPrismVideoClassifierPreprocessor
