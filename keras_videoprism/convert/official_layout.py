"""Translates other formats' weights into the official checkpoint layout.

The keras-hub and transformers converters rename and reshape each source
weight into the flat official layout (`params/...`, one leading layer axis
per scanned stack, see `official_checkpoint.py`), then hand the result to
`load_official_weights`. The assignment to our layers and its checks (every
key used, every variable set, every shape right) thus exist once, whatever
the source format.

A converter describes its format as data: sections of weight names
(`Section`), each with a table of single weights and a table of per-block
weights for its transformer stacks.
"""

import collections
import dataclasses
import re

import numpy as np

# What `_translate` returns for a name its section does not describe.
_UNKNOWN = object()


@dataclasses.dataclass(frozen=True)
class Section:
    """Source weights under `source_prefix`, official keys under `prefix`.

    Attributes:
        source_prefix: str. Prefix of the source weight names.
        prefix: str. Prefix of the official keys, e.g. `params/`.
        weights: dict. `{name: (official_key, transform)}` for the names
            (without `source_prefix`) of single weights; `transform(value,
            num_heads)` returns the official array.
        stack: str or None. Official key of the scanned transformer stack
            whose blocks live in this section.
        block_pattern: str or None. Regex with groups `index` and `rest`
            that splits a block weight name (without `source_prefix`).
        block_weights: dict or None. `{rest: (official_suffix, transform)}`
            for the weights of one block.
        ignored: tuple. Names to skip on purpose (e.g. stored tables that
            the model computes itself).
    """

    source_prefix: str
    prefix: str
    weights: dict
    stack: str = None
    block_pattern: str = None
    block_weights: dict = None
    ignored: tuple = ()


def _section_of(name, sections):
    """The section with the longest prefix of `name`, or `None`."""
    matches = [s for s in sections if name.startswith(s.source_prefix)]
    return max(matches, key=lambda s: len(s.source_prefix), default=None)


def _translate(name, section):
    """Where a source weight goes in the official layout.

    Returns `(official_key, layer index or None, transform)`, `None` for a
    weight to skip, or `_UNKNOWN` for a name the section does not describe.
    """
    rest = name[len(section.source_prefix) :]
    if rest in section.ignored:
        return None
    if rest in section.weights:
        key, transform = section.weights[rest]
        return section.prefix + key, None, transform
    match = section.stack and re.match(section.block_pattern, rest)
    if not match or match["rest"] not in section.block_weights:
        return _UNKNOWN
    suffix, transform = section.block_weights[match["rest"]]
    key = f"{section.prefix}{section.stack}/{suffix}"
    return key, int(match["index"]), transform


def _stack(key, layers):
    indices = sorted(layers)
    if indices != list(range(len(indices))):
        raise ValueError(
            f"The blocks of '{key}' have indices {indices}; expected 0 to "
            f"{len(indices) - 1} without gaps."
        )
    return np.stack([layers[i] for i in indices])


def to_official_layout(weights, sections, num_heads, source):
    """Renames and reshapes source weights into the official layout.

    Args:
        weights: dict. `{source name: numpy array}`.
        sections: list of `Section`, the format's description.
        num_heads: int. Attention heads, passed to every transform as
            `transform(value, num_heads)` to split head-major projections.
        source: str. The format's name, for error messages.

    Returns:
        A `{official key: float32 array}` dict for `load_official_weights`.

    Raises:
        ValueError: a weight no section describes, or a stack with missing
            blocks.
    """
    arrays = {}
    stacked = collections.defaultdict(dict)
    for name, value in weights.items():
        section = _section_of(name, sections)
        target = _UNKNOWN if section is None else _translate(name, section)
        if target is _UNKNOWN:
            raise ValueError(
                f"The {source} weight '{name}' has no place in VideoPrism: "
                "the checkpoint is not a VideoPrism model of a supported "
                "architecture."
            )
        if target is None:
            continue
        key, layer, transform = target
        value = transform(np.asarray(value, dtype="float32"), num_heads)
        if layer is None:
            arrays[key] = value
        else:
            stacked[key][layer] = value
    for key, layers in stacked.items():
        arrays[key] = _stack(key, layers)
    return arrays
