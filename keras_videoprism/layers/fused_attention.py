"""Backend-specific fused kernels for soft-capped attention.

`keras_videoprism.layers.video_prism_attention.soft_capped_attention` is the
reference: plain `keras.ops` that every backend's compiler fuses as it can.
This module is the one place where a backend's own faster kernel may take
over. Today that is PyTorch's FlexAttention, compiled by `torch.compile`,
which applies the tanh soft cap and the mask inside one fused kernel instead
of writing the `(Sq, Sk)` logits to memory four times. It runs only where it
gives the same numbers as the reference and is supported:

* the torch backend, with a FlexAttention that compiles on this machine;
* inference (no gradient is being recorded: FlexAttention has no backward
  pass on CPU, and this keeps training on the reference path everywhere);
* no active attention dropout;
* at least `min_logits` logits per call, so that tiny models do not pay the
  one-off compilation (seconds per new shape).

Example:

```python
from keras_videoprism.layers import fused_attention

fused_attention.set_enabled(False)  # Everything on the keras.ops path.
```
"""

import functools
import warnings

import keras

# Below this many logits (batch x heads x Sq x Sk) a call stays on the
# reference path: compiling a kernel costs seconds, a tiny attention
# microseconds. One 288x288 frame's spatial attention in a base model has
# 12 x 256 x 256 = 786,432.
DEFAULT_MIN_LOGITS = 2**18

_settings = {"enabled": True, "min_logits": DEFAULT_MIN_LOGITS}


def set_enabled(enabled, min_logits=DEFAULT_MIN_LOGITS):
    """Turns the fused kernels on or off for this process.

    Args:
        enabled: bool. `False` sends every attention through the reference
            `keras.ops` path.
        min_logits: int. The smallest attention (batch x heads x Sq x Sk)
            that uses a fused kernel. Defaults to `2**18`.
    """
    _settings["enabled"] = bool(enabled)
    _settings["min_logits"] = int(min_logits)


def fused_attention(query, key, value, mask, soft_cap, masked_logit):
    """Runs soft-capped attention in a fused kernel, if one applies.

    Same contract as `soft_capped_attention` (query already scaled, logits
    capped before masking, masked logits set to `masked_logit`).

    Args:
        query: tensor `(B, Sq, n, h)`.
        key: tensor `(B, Sk, n, h)`.
        value: tensor `(B, Sk, n, h)`.
        mask: optional boolean tensor broadcastable to `(B, n, Sq, Sk)`.
        soft_cap: optional float.
        masked_logit: float. The value of masked logits.

    Returns:
        The context `(B, Sq, n, h)`, or `None` when no fused kernel applies
        and the caller must run the reference path.
    """
    if not _settings["enabled"] or keras.config.backend() != "torch":
        return None
    return _torch_flex_attention(
        query, key, value, mask, soft_cap, masked_logit
    )


@functools.cache
def _compiled_flex_attention():
    """`torch.compile(flex_attention)`, or `None` where it is unavailable."""
    try:
        import torch
        from torch.nn.attention.flex_attention import flex_attention
    except ImportError:
        return None
    kernel = torch.compile(flex_attention, dynamic=False)
    if not _kernel_agrees(kernel):
        warnings.warn(
            "The fused FlexAttention kernel gave other numbers than the "
            "reference on a probe on this machine; VideoPrism attention "
            "runs on the keras.ops path for this process.",
            stacklevel=3,
        )
        return None
    return kernel


def _kernel_agrees(kernel, atol=1e-4):
    """Runs `kernel` on a small soft-capped probe, with and without a mask.

    FlexAttention's compiled CPU kernel returned zero rows for some
    unmasked inputs on an AVX2-only CPU (torch 2.13.0), so the kernel is
    checked against plain torch before it is used.
    """
    import torch

    generator = torch.Generator().manual_seed(0)
    query, key, value = (
        torch.randn(2, 3, 24, 8, generator=generator) * scale
        for scale in (4.0, 4.0, 1.0)
    )
    keys = torch.rand(2, 1, 1, 24, generator=generator) > 0.4
    for mask in (None, keys.expand(2, 3, 24, 24)):
        logits = 5.0 * torch.tanh(query @ key.transpose(-1, -2) / 5.0)
        if mask is not None:
            logits = torch.where(mask, logits, -1e30)
        expected = torch.softmax(logits, dim=-1) @ value
        try:
            with torch.no_grad():
                actual = kernel(
                    query,
                    key,
                    value,
                    score_mod=_score_mod(5.0, mask, -1e30),
                    scale=1.0,
                )
        except Exception:  # A compiler missing or failing: not usable.
            return False
        if not torch.allclose(actual, expected, atol=atol, rtol=0):
            return False
    return True


def _torch_flex_attention(query, key, value, mask, soft_cap, masked_logit):
    import torch

    batch, query_length, heads, _ = query.shape
    key_length = key.shape[1]
    if batch * heads * query_length * key_length < _settings["min_logits"]:
        return None
    if query.device.type == "meta":
        # Keras traces shapes on the meta device; nothing to compute.
        return None
    if torch.is_grad_enabled() and any(
        t.requires_grad for t in (query, key, value)
    ):
        return None
    kernel = _compiled_flex_attention()
    if kernel is None:
        return None
    if mask is not None:
        mask = torch.as_tensor(mask, device=query.device).to(torch.bool)
        while mask.ndim < 4:
            mask = mask[None]
        mask = mask.expand(batch, heads, query_length, key_length)
    score_mod = _score_mod(soft_cap, mask, masked_logit)
    try:
        # FlexAttention takes (B, n, S, h); the query carries its scale.
        context = kernel(
            query.transpose(1, 2),
            key.transpose(1, 2),
            value.transpose(1, 2),
            score_mod=score_mod,
            scale=1.0,
        )
    except Exception as error:  # A compiler missing or failing here.
        _settings["enabled"] = False
        warnings.warn(
            "The fused FlexAttention kernel could not run on this machine "
            f"({type(error).__name__}: {str(error)[:200]}); VideoPrism "
            "attention falls back to the keras.ops path for this process. "
            "Call `keras_videoprism.layers.fused_attention.set_enabled(False)`"
            " to skip the attempt.",
            stacklevel=2,
        )
        return None
    return context.transpose(1, 2)


def _score_mod(soft_cap, mask, masked_logit):
    import torch

    capped = soft_cap is not None and soft_cap > 0
    if not capped and mask is None:
        return None

    def score_mod(score, b, h, q_index, k_index):
        if capped:
            score = soft_cap * torch.tanh(score / soft_cap)
        if mask is not None:
            score = torch.where(
                mask[b, h, q_index, k_index], score, masked_logit
            )
        return score

    return score_mod
