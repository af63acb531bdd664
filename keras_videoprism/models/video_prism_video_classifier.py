import numbers

import keras

from keras_videoprism.layers.video_prism_attention_pooler import (
    VideoPrismAttentionPooler,
)
from keras_videoprism.models import video_prism_inputs as inputs_lib
from keras_videoprism.models.video_classifier import ACTIVATIONS
from keras_videoprism.models.video_classifier import VideoClassifier
from keras_videoprism.models.video_prism_backbone import VideoPrismBackbone
from keras_videoprism.models.video_prism_video_classifier_preprocessor import (
    VideoPrismVideoClassifierPreprocessor,
)

VIDEO_INPUTS = (inputs_lib.PIXEL_VALUES, inputs_lib.FRAME_PADDING_MASK)


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
        classifier.preprocessor(videos)
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

    def __init__(
        self,
        backbone,
        num_classes,
        preprocessor=None,
        activation=None,
        dropout=0.0,
        head_dtype=None,
        pooler_attention_dim=None,
        **kwargs,
    ):
        if not isinstance(backbone, VideoPrismBackbone):
            raise ValueError(
                "`backbone` must be a `VideoPrismBackbone`. Received: "
                f"backbone of type {type(backbone).__name__}."
            )
        is_integer = isinstance(num_classes, numbers.Integral)
        if isinstance(num_classes, bool) or not is_integer or num_classes < 1:
            raise ValueError(
                "`num_classes` must be an integer >= 1. Received: "
                f"num_classes={num_classes!r}"
            )
        num_classes = int(num_classes)
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"`activation` must be one of {ACTIVATIONS}. Received: "
                f"activation={activation!r}"
            )
        if head_dtype is not None:
            head_dtype = keras.dtype_policies.get(head_dtype)
        policy = head_dtype or backbone.dtype_policy
        hidden_dim = backbone.hidden_dim

        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.flatten_tokens = keras.layers.Reshape(
            (-1, hidden_dim), dtype=policy, name="flatten_tokens"
        )
        self.pooler = VideoPrismAttentionPooler(
            hidden_dim=hidden_dim,
            num_heads=backbone.num_heads,
            attention_dim=pooler_attention_dim or hidden_dim,
            layer_norm_epsilon=backbone.layer_norm_epsilon,
            dtype=policy,
            name="pooler",
        )
        self.output_dropout = keras.layers.Dropout(
            dropout, dtype=policy, name="output_dropout"
        )
        self.output_dense = keras.layers.Dense(
            num_classes,
            activation=activation,
            dtype=policy,
            name="output_dense",
        )

        # === Config ===
        # Set before `Task.__init__`, whose default `compile()` reads them.
        self.num_classes = num_classes
        self.activation = activation
        self.dropout = dropout
        self.head_dtype = head_dtype
        self.pooler_attention_dim = pooler_attention_dim

        # === Functional Model ===
        inputs = {name: backbone.input[name] for name in VIDEO_INPUTS}
        features = _video_encoder(backbone)(inputs)  # (B, T, N, D)
        embeddings = self.pooler(self.flatten_tokens(features))  # (B, D)
        outputs = self.output_dense(self.output_dropout(embeddings))
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

    # --- Input handling shared by `__call__` and `call` -------------------
    def standardize_inputs(self, inputs):
        """Completes and validates the inputs (see `video_prism_inputs`)."""
        return inputs_lib.standardize_inputs(
            inputs,
            has_text=False,
            patch_size=self.backbone.patch_size,
            channels=self.backbone.num_channels,
            data_format=self.backbone.data_format,
        )

    def __call__(self, inputs, *args, **kwargs):
        return super().__call__(
            self.standardize_inputs(inputs), *args, **kwargs
        )

    def call(self, inputs, *args, **kwargs):
        # JAX's `predict`/`fit` reach `call` through `stateless_call`.
        return super().call(self.standardize_inputs(inputs), *args, **kwargs)

    def get_global_embeddings(self, pixel_values, frame_padding_mask=None):
        """The pooled video embedding the dense layer classifies.

        Args:
            pixel_values: video `(B, T, H, W, 3)`, RGB in `[0, 1]`.
            frame_padding_mask: optional `(B, T)`, 1 = real frame.

        Returns:
            Embeddings `(B, D)`: the official `global_embeddings`.

        Example:

        ```python
        embeddings = classifier.get_global_embeddings(pixel_values)
        ```
        """
        features = self.backbone.get_video_features(
            pixel_values, frame_padding_mask
        )
        return self.pooler(self.flatten_tokens(features))

    def get_config(self):
        # The backbone and preprocessor are serialized by `Task`.
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "activation": self.activation,
                "dropout": self.dropout,
                "head_dtype": _serialize_policy(self.head_dtype),
                "pooler_attention_dim": self.pooler_attention_dim,
            }
        )
        return config


def _video_encoder(backbone):
    """The part of `backbone` from its video inputs to its video features.

    A video-only backbone is all video encoder. Of a video-text backbone,
    this is the sub-graph from `pixel_values` and `frame_padding_mask` to
    the output of its factorized encoder, sharing the backbone's layers.
    """
    if not backbone.has_text_encoder:
        return backbone
    inputs = {name: backbone.input[name] for name in VIDEO_INPUTS}
    # The first call of `factorized_encoder` is the one in the backbone
    # graph, whose output is the (B, T, N, D) video features.
    features = backbone.factorized_encoder.output
    return keras.Model(inputs, features, name="video_encoder")


def _serialize_policy(policy):
    if policy is None:
        return None
    return keras.dtype_policies.serialize(policy)
