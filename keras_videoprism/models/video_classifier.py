import keras
import keras_hub

from keras_videoprism.models import video_prism_preset_loader
from keras_videoprism.models.video_prism_inputs import static_shape
from keras_videoprism.utils.keras_hub_compat import classproperty

ACTIVATIONS = (None, "softmax", "sigmoid")
# keras-hub's fine-tuning rate, safe for training the whole model. The new
# head of a frozen backbone trains faster with ~1e-3.
DEFAULT_LEARNING_RATE = 5e-5


@keras.saving.register_keras_serializable(package="keras_videoprism")
class VideoClassifier(keras_hub.models.Task):
    """Base class for all video classification tasks.

    `VideoClassifier` tasks wrap a video backbone and a preprocessor to
    predict one of `num_classes` classes per video (or, with
    `activation="sigmoid"`, any subset of them). Subclasses build the head
    and set `num_classes` and `activation` before `Task.__init__` (whose
    default `compile()` reads them); this class gives them `compile()`
    defaults and checks that labels have the shape the loss reads: a
    `ValueError` at the first step, not a silent broadcast.

    To fine-tune with `fit()`, pass `(x, y)` where `x` is a batch of videos
    and `y` holds integer class ids in `[0, num_classes)` of shape `(B,)`,
    or, for `activation="sigmoid"`, multi-hot vectors of shape
    `(B, num_classes)`.

    Calling `from_preset()` on this base class returns the model-specific
    subclass that matches the backbone saved in the preset.

    Args:
        *args: positional arguments of `keras_hub.models.Task`.
        **kwargs: keyword arguments of `keras_hub.models.Task`.

    Example:

    ```python
    classifier = keras_videoprism.models.VideoClassifier.from_preset(
        "./my_video_classifier", num_classes=10
    )
    videos = np.random.randint(0, 256, (2, 16, 288, 288, 3), "uint8")
    classifier.fit(x=videos, y=np.array([0, 3]), batch_size=2)
    ```
    """

    @classproperty
    def presets(cls):
        """The VideoPrism presets: `{name: {"metadata", "kaggle_handle"}}`."""
        return video_prism_preset_loader.presets()

    @classmethod
    def from_preset(cls, preset, load_weights=True, **kwargs):
        """Instantiates a video classifier from a preset.

        Called on `VideoClassifier`, this returns the subclass that matches
        the preset's backbone (e.g. `VideoPrismVideoClassifier`). A preset
        saved from a classifier restores it whole; a backbone preset gives
        a new head, so pass `num_classes`. Passing `num_classes` always
        gives a new, randomly initialized head.

        Args:
            preset: str. A preset name of `VideoClassifier.presets`, a
                handle (`kaggle://`, `hf://`) or a preset directory.
            load_weights: bool. If `False`, all weights are randomly
                initialized. Defaults to `True`.
            **kwargs: constructor arguments, e.g. `num_classes`,
                `activation` or `preprocessor`.

        Returns:
            A `VideoClassifier` subclass instance.

        Example:

        ```python
        classifier = keras_videoprism.models.VideoClassifier.from_preset(
            "videoprism_public_v1_base", num_classes=10
        )
        ```
        """
        return video_prism_preset_loader.from_preset(
            cls, preset, load_weights=load_weights, **kwargs
        )

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

    # Labels reach `compute_metrics` first (when Keras builds the metrics),
    # then `compute_loss` in every train and test step, on every backend.
    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        check_labels(y, self.loss, self.num_classes)
        return super().compute_loss(
            x=x,
            y=y,
            y_pred=y_pred,
            sample_weight=sample_weight,
            training=training,
        )

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        check_labels(y, self.loss, self.num_classes)
        return super().compute_metrics(x, y, y_pred, sample_weight)


def check_labels(y, loss, num_classes):
    """Raises a `ValueError` when labels `y` cannot be what `loss` reads.

    `SparseCategoricalCrossentropy` reads class ids `(B,)`, one-hot labels
    would be misread; `BinaryCrossentropy` reads multi-hot labels
    `(B, num_classes)`, class ids `(B,)` would be broadcast silently.
    Other losses are not checked.
    """
    shape = static_shape(y)
    if not shape:
        return
    if isinstance(loss, keras.losses.SparseCategoricalCrossentropy):
        if len(shape) == 1 or (len(shape) == 2 and shape[1] in (1, None)):
            return
        raise ValueError(
            "`SparseCategoricalCrossentropy` (the loss of `activation=None` "
            "and `'softmax'`) takes integer class ids of shape "
            f"`(batch_size,)`. Received labels of shape {shape}. Pass "
            "one-hot labels through `np.argmax(labels, axis=-1)`, or "
            "compile with `loss=keras.losses.CategoricalCrossentropy(...)` "
            "and matching metrics."
        )
    if not isinstance(loss, keras.losses.BinaryCrossentropy):
        return
    if len(shape) == 2 and shape[1] in (num_classes, None):
        return
    if len(shape) == 1 and num_classes == 1:
        return
    raise ValueError(
        "`BinaryCrossentropy` (the loss of `activation='sigmoid'`, "
        "multi-label) takes multi-hot labels of shape `(batch_size, "
        f"{num_classes})`. Received labels of shape {shape}. Convert class "
        f"ids with `keras.utils.to_categorical(labels, {num_classes})`, or "
        "use `activation='softmax'` for one class per video."
    )
