"""The generic video classification task: a backbone and a pooled head."""

import numbers

import keras
import keras_hub

from keras_videoprism.layers.video_prism_attention_pooler import (
    VideoPrismAttentionPooler,
)
from keras_videoprism.models import video_labels
from keras_videoprism.models import video_prism_inputs as inputs_lib
from keras_videoprism.models.task_loops import TaskLoopsMixin
from keras_videoprism.models.video_prism_preset_loader import (
    VideoPrismPresetMixin,
)

ACTIVATIONS = (None, "softmax", "sigmoid")
VIDEO_INPUTS = (inputs_lib.PIXEL_VALUES, inputs_lib.FRAME_PADDING_MASK)
# keras-hub's fine-tuning rate, safe for training the whole model. The new
# head of a frozen backbone trains faster with ~1e-3.
DEFAULT_LEARNING_RATE = 5e-5


@keras.saving.register_keras_serializable(package="keras_videoprism")
class VideoClassifier(
    TaskLoopsMixin, VideoPrismPresetMixin, keras_hub.models.Task
):
    """Base class for all video classification tasks.

    `VideoClassifier` tasks wrap a video backbone and a preprocessor to
    predict one of `num_classes` classes per video (or, with
    `activation="sigmoid"`, any subset of them). The head is built here,
    as keras-hub's `ImageClassifier` builds its own: the backbone's video
    features `(B, T, N, D)` are flattened into `T * N` tokens, an attention
    pooler (one learned query) pools them into one global embedding
    `(B, D)`, and a `Dense(num_classes)` layer maps it to class scores.
    Model-specific subclasses set `backbone_cls` and `preprocessor_cls`.

    The backbone must give `get_video_features(pixel_values,
    frame_padding_mask)` and have `hidden_dim`, `num_heads`,
    `layer_norm_epsilon`, `patch_size`, `num_channels` and `data_format`,
    as `VideoPrismBackbone` does. With a video-text backbone the head reads
    the features of its video tower, and the text tower is unused.

    Videos are RGB: `uint8` (divided by 255) or `uint16` (divided by
    65535) pixels, or floats in `[0, 1]`; floats clearly outside `[0, 1]`,
    NaN and infinite values raise a `ValueError`, other integer dtypes a
    `TypeError` (see `video_pixels`).

    To fine-tune with `fit()`, pass `(x, y)` where `x` is a batch of videos
    and `y` holds integer class ids in `[0, num_classes)` of shape `(B,)`,
    or, for `activation="sigmoid"`, multi-hot vectors of shape
    `(B, num_classes)` in `[0, 1]`. Labels of another shape, out of range or
    fractional raise a `ValueError` before training starts (arrays) or
    before the step they belong to (datasets), never silently. Array inputs
    are shuffled every epoch unless `shuffle=False`, with a seed from
    `keras.utils.set_random_seed`; training stops with a
    `NonFiniteLossError` at the first NaN or infinite loss. On JAX, a
    `fit()` or `predict()` that fails keeps the model's weights.

    Calling `from_preset()` on this base class returns the model-specific
    subclass that matches the backbone saved in the preset.

    Args:
        backbone: a video backbone, e.g. `VideoPrismBackbone`.
        num_classes: int. Number of classes (>= 1).
        preprocessor: a preprocessor of raw videos, or `None` to feed
            inputs to the model unchanged. Defaults to `None`.
        activation: `None`, `"softmax"` or `"sigmoid"`. `None` returns
            logits. Defaults to `None`.
        dropout: float. Dropout rate on the global embedding before the
            dense layer. Defaults to `0.0`.
        head_dtype: `None`, str or `keras.DTypePolicy`. The dtype policy
            of the head layers. Defaults to the backbone's.
        pooler_attention_dim: int or None. Attention width of the pooler;
            `None` gives the backbone's `hidden_dim`. Defaults to `None`.
        **kwargs: other arguments of `keras_hub.models.Task`, e.g.
            `compile=False` or `name`.

    Example:

    ```python
    classifier = keras_videoprism.models.VideoClassifier.from_preset(
        "./my_video_classifier", num_classes=10
    )
    videos = np.random.randint(0, 256, (2, 16, 288, 288, 3), "uint8")
    classifier.fit(x=videos, y=np.array([0, 3]), batch_size=2)
    ```
    """

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
        backbone_cls = getattr(type(self), "backbone_cls", None)
        if backbone_cls is not None and not isinstance(backbone, backbone_cls):
            raise ValueError(
                f"`backbone` must be a `{backbone_cls.__name__}`. Received: "
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
        # The video tower through the backbone's public method: its layers,
        # called on the backbone's own video inputs.
        inputs = {name: backbone.input[name] for name in VIDEO_INPUTS}
        features = backbone.get_video_features(
            inputs[inputs_lib.PIXEL_VALUES],
            inputs[inputs_lib.FRAME_PADDING_MASK],
        )  # (B, T, N, D)
        embeddings = self.pooler(self.flatten_tokens(features))  # (B, D)
        outputs = self.output_dense(self.output_dropout(embeddings))
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

    # --- Input handling shared by `__call__` and `call` -------------------
    def standardize_inputs(self, inputs, check=True, check_values=True):
        """Completes and validates the inputs (see `video_prism_inputs`).

        Args:
            inputs: a video batch or a dict of the classifier's inputs.
            check: bool. Whether to validate them. Defaults to `True`.
            check_values: bool. Whether the checks read pixel values.
                Defaults to `True`.

        Returns:
            The dict of every input, `frame_padding_mask` `None` if absent.
        """
        return inputs_lib.standardize_inputs(
            inputs,
            has_text=False,
            patch_size=self.backbone.patch_size,
            channels=self.backbone.num_channels,
            data_format=self.backbone.data_format,
            check=check,
            check_values=check_values,
        )

    def __call__(self, inputs, *args, **kwargs):
        inputs = inputs_lib.rescale_pixels(self.standardize_inputs(inputs))
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, *args, **kwargs):
        # JAX's `predict`/`fit` reach `call` through `stateless_call`, inside
        # the step: inputs were checked before it, and nothing may raise.
        inputs = self.standardize_inputs(inputs, check=False)
        inputs = inputs_lib.rescale_pixels(inputs)
        return super().call(inputs, *args, **kwargs)

    def compute_output_spec(self, inputs, *args, **kwargs):
        # A bare video, or a dict without `frame_padding_mask`, as `call`.
        inputs = self.standardize_inputs(inputs, check=False)
        inputs = inputs_lib.input_specs(inputs_lib.rescale_pixels(inputs))
        return super().compute_output_spec(inputs, *args, **kwargs)

    # --- Checks of `TaskLoopsMixin`, before any step runs -----------------
    def check_inputs(self, x):
        if self.preprocessor is None or isinstance(x, dict):
            self.check_model_inputs(x)
        else:
            inputs_lib.check_videos(x, name="x")

    def check_model_inputs(self, x, check_values=True):
        self.standardize_inputs(x, check_values=check_values)

    def check_labels(self, y):
        video_labels.check_labels(y, self.loss, self.num_classes)

    def get_global_embeddings(self, pixel_values, frame_padding_mask=None):
        """The pooled video embedding the dense layer classifies.

        Args:
            pixel_values: video `(B, T, H, W, 3)`, RGB in `[0, 1]`.
            frame_padding_mask: optional `(B, T)`, 1 = real frame.

        Returns:
            Embeddings `(B, D)` (for VideoPrism, the official
            `global_embeddings`).

        Example:

        ```python
        embeddings = classifier.get_global_embeddings(pixel_values)
        ```
        """
        features = self.backbone.get_video_features(
            pixel_values, frame_padding_mask
        )
        return self.pooler(self.flatten_tokens(features))

    def _head_policy(self):
        """`head_dtype`, as a `DTypePolicyMap` once the head is quantized.

        `quantize()` changes the policies of the head's layers; like
        keras-hub's `Backbone.get_config`, the config then records them by
        layer path, so that `from_config` builds the head quantized.
        """
        if isinstance(self.head_dtype, keras.dtype_policies.DTypePolicyMap):
            return self.head_dtype
        head = (self.pooler, self.output_dense)
        quantized = [
            layer
            for root in head
            for layer in root._flatten_layers()
            if layer.quantization_mode is not None
        ]
        if not quantized:
            return self.head_dtype
        default = self.head_dtype or self.backbone.dtype_policy
        default = getattr(default, "default_policy", default)
        policy_map = keras.dtype_policies.DTypePolicyMap(default)
        for layer in quantized:
            policy_map[layer.path] = layer.dtype_policy
        return policy_map

    def get_config(self):
        # The backbone and preprocessor are serialized by `Task`.
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "activation": self.activation,
                "dropout": self.dropout,
                "head_dtype": _serialize_policy(self._head_policy()),
                "pooler_attention_dim": self.pooler_attention_dim,
            }
        )
        return config

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        *,
        metrics="auto",
        **kwargs,
    ):
        """Configures the task for training.

        Args:
            optimizer: `"auto"`, an optimizer name, or a `keras.Optimizer`.
                `"auto"` gives `keras.optimizers.Adam(5e-5)`, a rate meant
                for fine-tuning the whole model; to train only the head of
                a frozen backbone pass a larger one, e.g. `Adam(1e-3)`.
                Defaults to `"auto"`.
            loss: `"auto"`, a loss name, or a `keras.losses.Loss`. `"auto"`
                gives `SparseCategoricalCrossentropy` (integer labels of
                shape `(B,)`) for `activation=None` or `"softmax"`, and
                `BinaryCrossentropy` (multi-hot labels of shape
                `(B, num_classes)`) for `"sigmoid"`, with
                `from_logits=True` when `activation=None`. Defaults to
                `"auto"`.
            metrics: `"auto"` or a list of metrics. `"auto"` gives
                sparse categorical accuracy, plus top-5 accuracy when
                `num_classes > 5`, or binary accuracy for `"sigmoid"`.
                Defaults to `"auto"`.
            **kwargs: other arguments of `keras.Model.compile`.
        """
        multi_label = self.activation == "sigmoid"
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(DEFAULT_LEARNING_RATE)
        if loss == "auto":
            loss = self._default_loss(multi_label)
        if metrics == "auto":
            metrics = self._default_metrics(multi_label)
        super().compile(
            optimizer=optimizer, loss=loss, metrics=metrics, **kwargs
        )

    def compile_from_config(self, config):
        # `compile()` takes Keras' own arguments, so a `.keras` file's
        # compile configuration (and optimizer state) restores as usual.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def _default_loss(self, multi_label):
        from_logits = self.activation is None
        if multi_label:
            return keras.losses.BinaryCrossentropy(from_logits=from_logits)
        return keras.losses.SparseCategoricalCrossentropy(
            from_logits=from_logits
        )

    def _default_metrics(self, multi_label):
        if multi_label:
            return [keras.metrics.BinaryAccuracy(name="accuracy")]
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        if self.num_classes > 5:
            metrics.append(
                keras.metrics.SparseTopKCategoricalAccuracy(
                    k=5, name="top_5_accuracy"
                )
            )
        return metrics


def _serialize_policy(policy):
    if policy is None:
        return None
    return keras.dtype_policies.serialize(policy)
