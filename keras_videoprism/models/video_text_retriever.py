"""A task for zero-shot classification and retrieval with video-text models."""

import keras
import keras_hub
import numpy as np
from keras import ops

from keras_videoprism.layers.contrastive_logits import DEFAULT_LOGIT_BIAS
from keras_videoprism.layers.contrastive_logits import DEFAULT_TEMPERATURE
from keras_videoprism.layers.contrastive_logits import ContrastiveLogits
from keras_videoprism.losses.contrastive_losses import SigmoidContrastiveLoss
from keras_videoprism.losses.contrastive_losses import SoftmaxContrastiveLoss
from keras_videoprism.models import video_prism_inputs as inputs_lib
from keras_videoprism.models import video_text_retriever_inputs as checks
from keras_videoprism.models.task_loops import TaskLoopsMixin
from keras_videoprism.models.video_files import read_video
from keras_videoprism.models.video_prism_preset_loader import (
    VideoPrismPresetMixin,
)

# The official zero-shot prompt (VideoPrism video-text demo).
DEFAULT_TEMPLATE = "a video of {}."

_LOSSES = {
    "softmax": SoftmaxContrastiveLoss,
    "sigmoid": SigmoidContrastiveLoss,
}


def _similarities(video_embeddings, text_embeddings):
    """`(V, P)` dot products of `(V, D)` and `(P, D)` embeddings, float32."""
    video_embeddings = ops.cast(video_embeddings, "float32")
    text_embeddings = ops.cast(text_embeddings, "float32")
    return ops.matmul(video_embeddings, ops.transpose(text_embeddings))


def _pair_similarities_and_targets(y, y_pred):
    """The `(B, B)` similarities and targets of a batch of `B` pairs.

    Pair `i` matches only pair `i` when `y` is `None`; otherwise pairs
    with equal ids in `y` `(B,)` match.
    """
    similarities = _similarities(
        y_pred["vision_embeddings"], y_pred["text_embeddings"]
    )
    if y is None:
        targets = ops.eye(ops.shape(similarities)[0], dtype="float32")
    else:
        y = ops.reshape(y, (-1,))
        targets = ops.cast(ops.equal(y[:, None], y[None, :]), "float32")
    return similarities, targets


@keras.saving.register_keras_serializable(package="keras_videoprism")
class VideoTextRetriever(
    TaskLoopsMixin, VideoPrismPresetMixin, keras_hub.models.Task
):
    """Zero-shot classification and retrieval with a video-text model.

    The task pairs a video-text backbone, whose two towers embed videos and
    texts into one space, with a preprocessor for raw videos and prompts.
    It covers the uses of such a model:

    - `classify(videos, labels)`: zero-shot classification, the softmax
      over labels of `similarity / temperature`, each label written into a
      prompt template (the official `"a video of {}."` and temperature
      `0.01` by default).
    - `embed_videos(videos)` and `embed_texts(texts)`: L2-normalised
      embeddings from one tower only, to build a retrieval index, and
      `similarity()` and `retrieve()` to search it.
    - `fit()` on `{"videos", "prompts"}` pairs: contrastive fine-tuning
      with a learned temperature, the symmetric softmax loss of CLIP by
      default or the sigmoid loss of SigLIP (`compile(loss="sigmoid")`).

    The model maps the backbone inputs (`pixel_values`, `token_ids`,
    `padding_mask`) to `{"vision_embeddings", "text_embeddings"}`, one row
    per video-text pair, so `predict()` embeds pairs. Training turns a
    batch of `B` pairs into `(B, B)` logits, `similarity * exp(log_scale)
    + bias`, whose `log_scale` (the log inverse temperature) and `bias` are
    the task's only weights of its own. Labels are optional: by default
    pair `i` matches only text `i`; pass `y`, one id per pair, to make all
    pairs with equal ids match (e.g. captions of the same class).

    Videos follow the pixel contract of every VideoPrism model: `uint8`
    (divided by 255) or `uint16` (divided by 65535) pixels, or floats in
    `[0, 1]`; floats clearly outside `[0, 1]`, NaN and infinite values
    raise a `ValueError`, other integer dtypes a `TypeError`. Inputs and
    labels are checked before any step runs, array inputs to `fit()` are
    shuffled every epoch (`shuffle=True`, seeded by
    `keras.utils.set_random_seed`), training stops with a
    `NonFiniteLossError` at the first non-finite loss, and on JAX a failed
    `fit()` or `predict()` keeps the model's weights.

    Args:
        backbone: a video-text backbone, e.g. a `VideoPrismBackbone` with
            `num_text_layers > 0`, with `get_video_embeddings()` and
            `get_text_embeddings()`.
        preprocessor: a preprocessor for `{"videos", "prompts"}`, e.g. a
            `VideoPrismPreprocessor`, or `None` if inputs come
            preprocessed. Defaults to `None`.
        initial_temperature: float. The temperature the learned one starts
            at. Defaults to `0.01`, the official zero-shot temperature.
        initial_logit_bias: float. The learned logit bias (used by the
            sigmoid loss only) starts here. Defaults to `-10.0`, as SigLIP.
        **kwargs: passed to `keras_hub.models.Task`, e.g. `compile=False`.

    Example:

    ```python
    retriever = keras_videoprism.models.VideoTextRetriever.from_preset(
        "videoprism_lvt_public_v1_base"
    )
    video = keras_videoprism.utils.sample_video_path()

    # Zero-shot classification: (1, 3) probabilities.
    retriever.classify([video], ["cooking", "shapes moving", "a dog"])

    # Text-to-video retrieval over an index of videos.
    index = retriever.embed_videos([path_a, path_b, path_c])  # (3, D)
    queries = retriever.embed_texts(["a person cooking."])  # (1, D)
    scores, ids = retriever.retrieve(queries, index, top_k=2)

    # Contrastive fine-tuning on (video, caption) pairs.
    retriever.fit({"videos": videos, "prompts": captions}, batch_size=8)
    ```

    References:
        - [VideoPrism](https://arxiv.org/abs/2402.13217)
        - [CLIP](https://arxiv.org/abs/2103.00020)
        - [SigLIP](https://arxiv.org/abs/2303.15343)
    """

    video_text_presets_only = True

    def __init__(
        self,
        backbone,
        preprocessor=None,
        initial_temperature=DEFAULT_TEMPERATURE,
        initial_logit_bias=DEFAULT_LOGIT_BIAS,
        **kwargs,
    ):
        if not getattr(backbone, "has_text_encoder", False):
            raise ValueError(
                f"`{type(self).__name__}` needs a video-text backbone with a "
                "text tower, e.g. a `VideoPrismBackbone` with "
                "`num_text_layers > 0` from an LvT preset such as "
                "`videoprism_lvt_public_v1_base`. This backbone is "
                "video-only; use `VideoPrismVideoClassifier` for it."
            )
        checks.check_positive(initial_temperature, "initial_temperature")
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor

        # === Functional Model ===
        # The two towers, each through the backbone's public method. Videos
        # come preprocessed to a fixed frame count, so the backbone's
        # optional `frame_padding_mask` is left out.
        inputs = {
            name: backbone.input[name]
            for name in (inputs_lib.PIXEL_VALUES, *inputs_lib.TEXT_INPUTS)
        }
        outputs = {
            "vision_embeddings": backbone.get_video_embeddings(
                inputs[inputs_lib.PIXEL_VALUES]
            ),
            "text_embeddings": backbone.get_text_embeddings(
                inputs[inputs_lib.TOKEN_IDS], inputs[inputs_lib.PADDING_MASK]
            ),
        }
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        # Assigned after `super().__init__()` so that every backend tracks
        # them. Each tower as a model of its own, for `embed_videos()` and
        # `embed_texts()`: compiled, and running only that tower.
        self.video_tower = keras.Model(
            inputs[inputs_lib.PIXEL_VALUES],
            outputs["vision_embeddings"],
            name="video_tower",
        )
        self.text_tower = keras.Model(
            {name: inputs[name] for name in inputs_lib.TEXT_INPUTS},
            outputs["text_embeddings"],
            name="text_tower",
        )
        # Not part of the graph: the training logits.
        self.logits = ContrastiveLogits(
            initial_temperature=initial_temperature,
            initial_logit_bias=initial_logit_bias,
            # float32 whatever the backbone's policy: the loss reads logits
            # of tens, and its temperature is learned in small steps.
            dtype="float32",
            name="logits",
        )
        self.logits.build()

        # === Config ===
        self.initial_temperature = initial_temperature
        self.initial_logit_bias = initial_logit_bias

    # --- Inputs: checked in `__call__`, completed in `call` ---------------
    def _model_inputs(self, inputs, check=True, check_values=True):
        backbone = self.backbone
        inputs = inputs_lib.standardize_inputs(
            inputs,
            has_text=True,
            patch_size=backbone.patch_size,
            channels=backbone.num_channels,
            data_format=backbone.data_format,
            check=check,
            check_values=check_values,
        )
        inputs = inputs_lib.rescale_pixels(inputs)
        if inputs[inputs_lib.FRAME_PADDING_MASK] is None:
            del inputs[inputs_lib.FRAME_PADDING_MASK]
        return inputs

    def __call__(self, inputs, *args, **kwargs):
        return super().__call__(self._model_inputs(inputs), *args, **kwargs)

    def call(self, inputs, *args, **kwargs):
        # Inside a JAX step nothing may raise: inputs were checked before.
        inputs = self._model_inputs(inputs, check=False)
        return super().call(inputs, *args, **kwargs)

    # --- Checks of `TaskLoopsMixin`, before any step runs -----------------
    def check_inputs(self, x):
        if not isinstance(x, dict):
            raise ValueError(
                f"`{type(self).__name__}` takes a dict of videos and "
                'prompts, e.g. `{"videos": videos, "prompts": captions}`, '
                "or of preprocessed `pixel_values`, `token_ids` and "
                f"`padding_mask`. Received: {type(x).__name__}."
            )
        if self.preprocessor is not None and "videos" in x:
            inputs_lib.check_videos(x["videos"], name="videos")
        elif inputs_lib.PIXEL_VALUES in x:
            self.check_model_inputs(x)

    def check_model_inputs(self, x, check_values=True):
        self._model_inputs(x, check_values=check_values)

    def check_labels(self, y):
        if y is None:
            return
        shape = inputs_lib.static_shape(y)
        if shape is not None and not (
            len(shape) == 1 or (len(shape) == 2 and shape[1] in (1, None))
        ):
            raise ValueError(
                "Labels of a video-text task are optional pair ids of shape "
                f"`(batch_size,)` (pairs with equal ids match). Received "
                f"labels of shape {shape}. Leave `y` out to match pair `i` "
                "with text `i` only."
            )

    @property
    def temperature(self):
        """The current (learned) temperature, as a Python float."""
        return float(np.exp(-ops.convert_to_numpy(self.logits.log_scale)))

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        *,
        metrics="auto",
        **kwargs,
    ):
        """Configures the task for contrastive training.

        Args:
            optimizer: `"auto"`, an optimizer name, or a `keras.Optimizer`
                instance. Defaults to `"auto"`, which uses
                `keras.optimizers.Adam(5e-5)`.
            loss: `"auto"` or `"softmax"` (the symmetric softmax
                cross-entropy of CLIP, `SoftmaxContrastiveLoss`),
                `"sigmoid"` (the pairwise sigmoid loss of SigLIP,
                `SigmoidContrastiveLoss`), or a `keras.losses.Loss` taking
                `(B, B)` targets and logits. Defaults to `"auto"`.
            metrics: `"auto"` (no metrics) or a list of metrics. Metrics
                receive the `(B, B)` targets and cosine similarities of the
                batch (videos along the rows), e.g.
                `keras.metrics.CategoricalAccuracy()` gives in-batch
                video-to-text accuracy. Defaults to `"auto"`.
            **kwargs: see `keras.Model.compile`.
        """
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(5e-5)
        if loss == "auto":
            loss = "softmax"
        if isinstance(loss, str):
            if loss not in _LOSSES:
                raise ValueError(
                    "`loss` must be 'auto', 'softmax', 'sigmoid' or a "
                    f"`keras.losses.Loss`. Received: loss={loss!r}"
                )
            loss = _LOSSES[loss]()
        if metrics == "auto":
            metrics = None
        super().compile(
            optimizer=optimizer, loss=loss, metrics=metrics, **kwargs
        )

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        similarities, targets = _pair_similarities_and_targets(y, y_pred)
        return super().compute_loss(
            x, targets, self.logits(similarities), sample_weight, training
        )

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        # The plain similarities: on JAX, metrics run where the task's
        # weights cannot be read.
        similarities, targets = _pair_similarities_and_targets(y, y_pred)
        return super().compute_metrics(x, targets, similarities, sample_weight)

    def _require_preprocessor(self, method):
        if self.preprocessor is None:
            raise ValueError(
                f"`{method}()` needs the task's preprocessor to tokenize "
                "texts, but `preprocessor` is `None`. Load the task with "
                "`from_preset()` or pass `preprocessor=`."
            )

    def _embed_video_batch(self, videos):
        if isinstance(videos, list):
            converter = getattr(self.preprocessor, "video_converter", None)
            videos = [read_video(video, converter) for video in videos]
        if self.preprocessor is not None:
            videos = self.preprocessor.convert_videos(videos)
        if isinstance(videos, list):
            # Already `pixel_values`: one array per video.
            videos = ops.stack(videos)
        return self.video_tower.predict_on_batch(videos)

    def _embed_text_batch(self, texts):
        inputs = self.preprocessor({"prompts": texts})
        return self.text_tower.predict_on_batch(inputs)

    def embed_videos(self, videos, batch_size=8):
        """L2-normalised video embeddings; runs only the video tower.

        Args:
            videos: a video file path, one video `(T, H, W, 3)`, a batch
                `(B, T, H, W, 3)`, or a list of videos or paths. Videos are
                `uint8` in `[0, 255]` or float in `[0, 1]`; the
                preprocessor's video converter samples and resizes them
                (without a preprocessor they must be `pixel_values`).
            batch_size: int. Videos encoded at once. Defaults to `8`.

        Returns:
            A float32 NumPy array `(num_videos, D)`.

        Example:

        ```python
        index = retriever.embed_videos(["a.mp4", "b.mp4"])  # (2, D)
        ```
        """
        videos = checks.as_video_list(videos)
        return checks.map_batches(self._embed_video_batch, videos, batch_size)

    def embed_texts(self, texts, batch_size=64):
        """L2-normalised text embeddings; runs only the text tower.

        Texts are canonicalized and tokenized by the preprocessor exactly
        as the official `tokenize_texts` does.

        Args:
            texts: a string or a list of strings.
            batch_size: int. Texts encoded at once. Defaults to `64`.

        Returns:
            A float32 NumPy array `(num_texts, D)`.

        Example:

        ```python
        queries = retriever.embed_texts(["a person cooking."])  # (1, D)
        ```
        """
        self._require_preprocessor("embed_texts")
        if isinstance(texts, str):
            texts = [texts]
        texts = checks.check_strings(texts, "texts")
        return checks.map_batches(self._embed_text_batch, texts, batch_size)

    @staticmethod
    def similarity(video_embeddings, text_embeddings):
        """Cosine similarities of normalised video and text embeddings.

        Args:
            video_embeddings: `(V, D)`, e.g. from `embed_videos()`.
            text_embeddings: `(P, D)`, e.g. from `embed_texts()`.

        Returns:
            A float32 NumPy array `(V, P)`.

        Example:

        ```python
        scores = retriever.similarity(index, queries)  # (num_videos, 1)
        ```
        """
        return ops.convert_to_numpy(
            _similarities(video_embeddings, text_embeddings)
        )

    @staticmethod
    def retrieve(query_embeddings, index_embeddings, top_k=5):
        """The `top_k` index entries most similar to each query.

        Works both ways: text queries over a video index, or video queries
        over a text index.

        Args:
            query_embeddings: `(Q, D)` normalised embeddings.
            index_embeddings: `(N, D)` normalised embeddings.
            top_k: int. Results per query, at most `N`. Defaults to `5`.

        Returns:
            `(scores, indices)`, NumPy arrays `(Q, min(top_k, N))`: the
            similarities, best first, and the index rows they belong to.

        Example:

        ```python
        scores, ids = retriever.retrieve(queries, index, top_k=3)
        ```
        """
        checks.check_positive(top_k, "top_k")
        scores = VideoTextRetriever.similarity(
            query_embeddings, index_embeddings
        )
        scores, indices = ops.top_k(scores, k=min(int(top_k), scores.shape[1]))
        return ops.convert_to_numpy(scores), ops.convert_to_numpy(indices)

    def classify(
        self,
        videos,
        labels,
        template=DEFAULT_TEMPLATE,
        temperature=None,
        batch_size=8,
    ):
        """Zero-shot classification: probabilities of labels per video.

        Each label is written into `template`, the prompts and videos are
        embedded, and each video's similarities to the prompts, divided by
        the temperature, go through a softmax, as in the official
        VideoPrism zero-shot demo.

        Args:
            videos: as for `embed_videos()`.
            labels: a non-empty list of strings, e.g. class names.
            template: str. A prompt template with one `{}`. Defaults to
                `"a video of {}."`; pass `"{}"` to use labels as prompts.
            temperature: float or `None`. `None` uses the task's learned
                temperature, which starts at the official `0.01`.
            batch_size: int. Videos encoded at once. Defaults to `8`.

        Returns:
            A float32 NumPy array `(num_videos, num_labels)` whose rows sum
            to 1.

        Example:

        ```python
        labels = ["cooking", "dancing", "swimming"]
        probabilities = retriever.classify(["clip.mp4"], labels)
        labels[probabilities[0].argmax()]
        ```
        """
        labels = checks.check_strings(labels, "labels")
        checks.check_template(template)
        if temperature is None:
            temperature = self.temperature
        checks.check_positive(temperature, "temperature")
        prompts = [template.format(label) for label in labels]
        similarities = self.similarity(
            self.embed_videos(videos, batch_size=batch_size),
            self.embed_texts(prompts),
        )
        return ops.convert_to_numpy(
            ops.softmax(similarities / temperature, axis=-1)
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "initial_temperature": self.initial_temperature,
                "initial_logit_bias": self.initial_logit_bias,
            }
        )
        return config
