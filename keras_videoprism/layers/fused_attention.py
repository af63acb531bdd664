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

Inputs whose shapes change from call to call (clips of other lengths, other
batch sizes) reuse kernels: the batch is a dynamic dimension (of unmasked
attention; masked kernels are compiled per batch size) and sequence
lengths are zero-padded up to buckets (multiples of 8 up to 64, then of 64;
padding keys get no weight). At most `max_shapes` (32) kernel shapes are
compiled per process, past torch's own `recompile_limit` of 8 (beyond which
it would run FlexAttention eagerly, slower than the reference); further
shapes run on the reference path.

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
# Sequence lengths are padded up to multiples of these (the short step up
# to the long one), so that clips of nearby lengths share one kernel.
_SHORT_STEP = 8
_LONG_STEP = 64
# Dynamo cache entries the probe in `_kernel_agrees` holds.
_PROBE_ENTRIES = 2
_compiled_keys = set()

# Kernel shapes compiled per process at most (seconds and some memory each);
# further shapes run on the reference path.
DEFAULT_MAX_SHAPES = 32

_settings = {
    "enabled": True,
    "min_logits": DEFAULT_MIN_LOGITS,
    "max_shapes": DEFAULT_MAX_SHAPES,
}


def set_enabled(
    enabled, min_logits=DEFAULT_MIN_LOGITS, max_shapes=DEFAULT_MAX_SHAPES
):
    """Turns the fused kernels on or off for this process.

    Args:
        enabled: bool. `False` sends every attention through the reference
            `keras.ops` path.
        min_logits: int. The smallest attention (batch x heads x Sq x Sk)
            that uses a fused kernel. Defaults to `2**18`.
        max_shapes: int. The most kernel shapes compiled in this process;
            attention of further shapes runs on the reference path.
            Defaults to 32.
    """
    _settings["enabled"] = bool(enabled)
    _settings["min_logits"] = int(min_logits)
    _settings["max_shapes"] = int(max_shapes)


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


def _padded_length(length):
    """`length` rounded up to its bucket: a multiple of 8, 64 past 64."""
    step = _SHORT_STEP if length <= _LONG_STEP else _LONG_STEP
    return -(-length // step) * step


def compiled_shapes():
    """The number of kernel shapes the fused dispatch has compiled.

    Returns:
        int. The batch is a dynamic dimension (without a mask) and
        sequence lengths are padded to buckets (multiples of 8 up to 64,
        then of 64), so one shape serves many inputs. Past `max_shapes`,
        new shapes run on the reference path instead of compiling.
    """
    return len(_compiled_keys)


def _torch_flex_attention(query, key, value, mask, soft_cap, masked_logit):
    import torch

    batch, query_length, heads, head_dim = query.shape
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
    padded_query, padded_key = (
        _padded_length(query_length),
        _padded_length(key_length),
    )
    shape_key = (
        # A captured mask with a dynamic batch fails to compile (torch
        # 2.13, CPU), so masked kernels are compiled per batch size.
        None if mask is None else batch,
        padded_query,
        padded_key,
        heads,
        head_dim,
        query.dtype,
        padded_key != key_length,
    )
    if shape_key not in _compiled_keys:
        if len(_compiled_keys) >= _settings["max_shapes"]:
            return None
        _compiled_keys.add(shape_key)
    query, key, value = (
        _pad_sequence(tensor, length)
        for tensor, length in (
            (query, padded_query),
            (key, padded_key),
            (value, padded_key),
        )
    )
    if mask is not None:
        mask = torch.as_tensor(mask, device=query.device).to(torch.bool)
        while mask.ndim < 4:
            mask = mask[None]
        mask = _pad_mask(mask, padded_query, padded_key)
        mask = mask.expand(batch, heads, padded_query, padded_key)
    valid_keys = None
    if padded_key != key_length:
        valid_keys = torch.tensor(key_length, device=query.device)
    score_mod = _score_mod(soft_cap, mask, masked_logit, valid_keys)
    # FlexAttention takes (B, n, S, h); the query carries its scale.
    inputs = [t.transpose(1, 2) for t in (query, key, value)]
    for tensor in inputs:
        # One kernel for every batch size (the batch is frames x clips in
        # the spatial attention); sequence lengths come in buckets.
        torch._dynamo.mark_dynamic(tensor, 0)
    # Dynamo runs a function eagerly once it holds `recompile_limit` (8)
    # compiled variants, several times slower than the reference path; the
    # dispatch keeps its own bound instead, for this call only.
    limit = _settings["max_shapes"] + _PROBE_ENTRIES
    try:
        with torch._dynamo.config.patch(recompile_limit=limit):
            context = kernel(*inputs, score_mod=score_mod, scale=1.0)
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
    return context.transpose(1, 2)[:, :query_length]


def _pad_sequence(tensor, length):
    """Zero-pads `(B, S, n, h)` along `S` to `length`."""
    import torch

    missing = length - tensor.shape[1]
    if not missing:
        return tensor
    return torch.nn.functional.pad(tensor, (0, 0, 0, 0, 0, missing))


def _pad_mask(mask, query_length, key_length):
    """Pads a `(B, n, Sq, Sk)` mask (broadcast dims of 1 stay 1) with False."""
    import torch

    padding = []
    for axis, length in ((3, key_length), (2, query_length)):
        size = mask.shape[axis]
        padding += [0, 0 if size == 1 else length - size]
    if not any(padding):
        return mask
    return torch.nn.functional.pad(mask, padding, value=False)


def _score_mod(soft_cap, mask, masked_logit, valid_keys=None):
    import torch

    capped = soft_cap is not None and soft_cap > 0
    if not capped and mask is None and valid_keys is None:
        return None

    def score_mod(score, b, h, q_index, k_index):
        if capped:
            score = soft_cap * torch.tanh(score / soft_cap)
        if mask is not None:
            score = torch.where(
                mask[b, h, q_index, k_index], score, masked_logit
            )
        if valid_keys is not None:
            # Padding keys weigh nothing, even in a row whose every real
            # key is masked (those average the real values, as the
            # reference does).
            score = torch.where(k_index < valid_keys, score, -float("inf"))
        return score

    return score_mod
