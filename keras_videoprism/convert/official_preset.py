"""Reads a directory holding an official `.npz` checkpoint as a preset.

The google/videoprism-* Hugging Face repositories keep the official Flax
checkpoint on their `main` branch as one file, e.g.
`flax_base_f16r288_repeated.npz`, without any configuration. The model's
configuration is read off the array shapes of the official layout (layer
counts from the leading axis of the scanned stacks, widths and heads from
the attention weights, frames and patch grid from the position tables).
For the shapes of the four published checkpoints this gives exactly the
public preset definitions in `presets/` (checked by the tests).

The one setting the arrays cannot show is the attention logit soft cap: it
is 50.0 in every official configuration (`videoprism/models.py`), which is
what is used.
"""

import math
import os
import zipfile

import numpy as np

from keras_videoprism.convert import official_checkpoint
from keras_videoprism.convert.preset_loader import ConvertedPresetLoader

# The soft cap of every official VideoPrism configuration.
OFFICIAL_SOFT_CAP = 50.0
_STACK = "transformers_stack/x_layers"


def find_official_checkpoint(directory):
    """The official `.npz` checkpoint of a directory without `config.json`.

    Args:
        directory: str. A local directory.

    Returns:
        The path of its one `.npz` file, or `None` when it has none.

    Raises:
        ValueError: the directory holds several `.npz` files.
    """
    names = sorted(n for n in os.listdir(directory) if n.endswith(".npz"))
    if len(names) > 1:
        raise ValueError(
            f"'{directory}' holds several `.npz` files ({names}); pass the "
            "directory of one official checkpoint, or load one file with "
            "`keras_videoprism.convert.from_official_checkpoint`."
        )
    return os.path.join(directory, names[0]) if names else None


def read_shapes(path):
    """`{key: shape}` of an `.npz` file, read from the array headers only."""
    shapes = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                with archive.open(name) as file:
                    version = np.lib.format.read_magic(file)
                    read_header = np.lib.format.read_array_header_1_0
                    if version != (1, 0):
                        read_header = np.lib.format.read_array_header_2_0
                    shape = read_header(file)[0]
                shapes[name.removesuffix(".npy")] = tuple(shape)
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise ValueError(
            f"Could not read '{path}' as an official VideoPrism `.npz` "
            f"checkpoint ({type(error).__name__}: {error}). The file may be "
            "truncated or of another format."
        ) from error
    return shapes


def _shape(shapes, key):
    if key not in shapes:
        raise ValueError(
            f"This `.npz` file has no '{key}': it is not an official "
            "VideoPrism video encoder or video-text checkpoint."
        )
    return shapes[key]


def _encoder_args(shapes, prefix):
    rows, width = _shape(shapes, f"{prefix}patch_projection/linear/kernel")
    patch_size = math.isqrt(rows // 3)
    patches = _shape(shapes, f"{prefix}spatial_pos_emb/emb_var")[0]
    side = math.isqrt(patches)
    spatial = f"{prefix}spatial_encoder/{_STACK}"
    temporal = f"{prefix}temporal_encoder/{_STACK}"
    query = _shape(shapes, f"{spatial}/self_attention/query/w")
    return {
        "patch_size": patch_size,
        "pos_emb_shape": [
            _shape(shapes, f"{prefix}temporal_pos_emb/emb_var")[0],
            side,
            side,
        ],
        "model_dim": width,
        "num_spatial_layers": query[0],
        "num_temporal_layers": _shape(
            shapes, f"{temporal}/self_attention/query/w"
        )[0],
        "num_heads": query[2],
        "mlp_dim": _shape(shapes, f"{spatial}/ff_layer/ffn_layer1/linear/bias")[
            1
        ],
        "atten_logit_cap": OFFICIAL_SOFT_CAP,
    }


def official_config(shapes):
    """The official model description of a checkpoint, from its shapes.

    Args:
        shapes: dict. `{key: shape}` of an official checkpoint.

    Returns:
        `{"official_class", "constructor_args"}`, as
        `from_official_checkpoint` takes it: `FactorizedEncoder` or
        `FactorizedVideoCLIP`.

    Raises:
        ValueError: the keys are not those of an official video encoder or
            video-text checkpoint (e.g. a classifier's).
    """
    if any(key.startswith("params/encoder/") for key in shapes):
        raise ValueError(
            "This `.npz` file is an official video classifier checkpoint; "
            "load it with `keras_videoprism.convert.from_official_checkpoint"
            "` and its `official_config`."
        )
    text = "params/text_encoder/"
    if not any(key.startswith(text) for key in shapes):
        args = _encoder_args(shapes, "params/")
        return {
            "official_class": official_checkpoint.ENCODER,
            "constructor_args": args,
        }
    args = _encoder_args(shapes, "params/vision_encoder/")
    auxiliary = f"params/auxiliary_encoder/{_STACK}/self_attention/query/w"
    unimodal = f"{text}unimodal_transformer/x_layers"
    primer = f"{unimodal}/pre_layer_norm/scale" in shapes
    args.update(
        num_auxiliary_layers=shapes.get(auxiliary, (0,))[0],
        vocabulary_size=_shape(shapes, f"{text}token_emb/emb_var")[0],
        num_unimodal_layers=_shape(
            shapes, f"{unimodal}/self_attention/query/w"
        )[0],
        norm_policy="primer_hybrid" if primer else "pre",
    )
    return {
        "official_class": official_checkpoint.CLIP,
        "constructor_args": args,
    }


class OfficialPresetLoader(ConvertedPresetLoader):
    """Reads a directory with an official `.npz` checkpoint into our classes.

    Args:
        preset: str. The local directory.
        path: str. Its `.npz` checkpoint (see `find_official_checkpoint`).
    """

    def __init__(self, preset, path):
        self.path = path
        self.shapes = read_shapes(path)
        super().__init__(preset, official_config(self.shapes))

    def backbone_kwargs(self):
        return official_checkpoint.backbone_kwargs(
            self.source_config["official_class"],
            self.source_config["constructor_args"],
        )

    def official_arrays(self):
        return official_checkpoint.read_checkpoint(self.path)

    def load_tokenizer(self, cls, config_file=None, **kwargs):
        raise FileNotFoundError(
            f"The preset '{self.preset}' is an official `.npz` checkpoint, "
            "which holds no tokenizer. Pass one: "
            "`VideoPrismTokenizer(proto='spm.model')` (the public video-text "
            "models use the 32,000-piece T5 `c4_en` SentencePiece model), "
            "e.g. as `tokenizer=` of `VideoPrismPreprocessor.from_preset()`."
        )
