"""Contrastive losses over a batch of paired video and text embeddings.

Both losses take the `(B, B)` similarity logits of a batch of `B` pairs,
videos along the rows and texts along the columns, and a `(B, B)` target
matrix with 1 where video `i` and text `j` match (the identity for a batch
of distinct pairs). They return one loss per pair, so that the usual Keras
reduction averages them over the batch and `sample_weight` weights pairs.
"""

import keras
from keras import ops


def _as_float32(y_true, y_pred):
    """Casts targets and logits to float32 and checks they are square."""
    logits = ops.cast(ops.convert_to_tensor(y_pred), "float32")
    targets = ops.cast(ops.convert_to_tensor(y_true), "float32")
    shape = tuple(logits.shape)
    if len(shape) != 2 or (None not in shape and shape[0] != shape[1]):
        raise ValueError(
            "Contrastive losses take the `(B, B)` similarity logits of a "
            "batch of `B` video-text pairs, videos along the rows. Received "
            f"logits of shape {shape}."
        )
    return targets, logits


def _cross_entropy(targets, logits):
    """Cross-entropy of each row's softmax against its normalised targets."""
    # Rows with several positives share the target mass; rows with none
    # contribute zero.
    total = ops.maximum(ops.sum(targets, axis=-1, keepdims=True), 1.0)
    log_probs = ops.log_softmax(logits, axis=-1)
    return -ops.sum(targets / total * log_probs, axis=-1)


@keras.saving.register_keras_serializable(package="keras_videoprism")
class SoftmaxContrastiveLoss(keras.losses.Loss):
    """Symmetric softmax cross-entropy of CLIP, for video-text pairs.

    Each video is classified among the texts of the batch (a softmax over
    its row of logits) and each text among the videos (a softmax over its
    column), and the two cross-entropies are averaged. The logits are
    usually the cosine similarities divided by a learned temperature, as
    `VideoTextRetriever` computes them.

    Args:
        name: str. Name of the loss. Defaults to
            `"softmax_contrastive_loss"`.
        **kwargs: other `keras.losses.Loss` arguments, e.g. `reduction`.

    Call arguments:
        y_true: `(B, B)` targets, 1 where video `i` matches text `j`, else
            0. A row with several ones spreads the target over them.
        y_pred: `(B, B)` logits, videos along the rows.

    Returns:
        The loss of each pair, `(B,)` before reduction: the mean of the
        video-to-text loss of row `i` and the text-to-video loss of
        column `i`.

    Example:

    ```python
    loss = keras_videoprism.losses.SoftmaxContrastiveLoss()
    logits = 100.0 * video_embeddings @ text_embeddings.T  # (B, B)
    loss(np.eye(len(logits)), logits)
    ```

    References:
        - [CLIP](https://arxiv.org/abs/2103.00020)
    """

    def __init__(self, name="softmax_contrastive_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        targets, logits = _as_float32(y_true, y_pred)
        video_to_text = _cross_entropy(targets, logits)
        text_to_video = _cross_entropy(
            ops.transpose(targets), ops.transpose(logits)
        )
        return (video_to_text + text_to_video) / 2.0


@keras.saving.register_keras_serializable(package="keras_videoprism")
class SigmoidContrastiveLoss(keras.losses.Loss):
    """Pairwise sigmoid loss of SigLIP, for video-text pairs.

    Every video-text pair of the batch is an independent binary
    classification: matching pairs should get a large logit and all others
    a small one, `-log sigmoid(z * logit)` with `z = +1` for a match and
    `-1` otherwise. No softmax normalises over the batch. The logits are
    usually `similarity / temperature + bias` with a learned bias, as
    `VideoTextRetriever` computes them.

    Args:
        name: str. Name of the loss. Defaults to
            `"sigmoid_contrastive_loss"`.
        **kwargs: other `keras.losses.Loss` arguments, e.g. `reduction`.

    Call arguments:
        y_true: `(B, B)` targets, 1 where video `i` matches text `j`, else
            0.
        y_pred: `(B, B)` logits, videos along the rows.

    Returns:
        The loss of each video, `(B,)` before reduction: the sum over its
        row, so that the mean over the batch is SigLIP's normalisation by
        the batch size.

    Example:

    ```python
    loss = keras_videoprism.losses.SigmoidContrastiveLoss()
    logits = 10.0 * video_embeddings @ text_embeddings.T - 10.0  # (B, B)
    loss(np.eye(len(logits)), logits)
    ```

    References:
        - [SigLIP](https://arxiv.org/abs/2303.15343)
    """

    def __init__(self, name="sigmoid_contrastive_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        targets, logits = _as_float32(y_true, y_pred)
        signs = 2.0 * targets - 1.0
        return -ops.sum(ops.log_sigmoid(signs * logits), axis=-1)
