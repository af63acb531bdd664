"""Writes the weight-free definitions of the public presets to `presets/`.

For each preset of `backbone_presets`, `presets/<name>/` gets the files of
a preset without its weights:
- `config.json`, the backbone configuration as `save_to_preset()` writes it;
- `metadata.json`, the parameter count and the registry's metadata;
- `video_converter.json`, the video preprocessing (frames and frame size);
- for video-text presets, `tokenizer.json`, the tokenizer configuration.
  Its SentencePiece model (the 32,000-piece T5 `c4_en` model) cannot be
  bundled; loading the tokenizer says so;
- `README.md`, a short model card.

The backbones are built with deferred variables, so no weights of the real
size are ever allocated. `VideoPrismBackbone.from_preset(dir,
load_weights=False)` builds a randomly initialized model from a definition.

Each definition directory is written whole (a temporary sibling renamed
into place); an existing one is replaced only with `--overwrite`.

Usage: python tools/make_preset_definitions.py [--output DIR] [--overwrite]
"""

import argparse
import json
import os
import pathlib

import keras

from keras_videoprism.layers import VideoPrismVideoConverter
from keras_videoprism.models import VideoPrismBackbone
from keras_videoprism.models import VideoPrismTokenizer
from keras_videoprism.convert.preset_loader import video_converter_config
from keras_videoprism.models.video_prism_presets import backbone_presets
from keras_videoprism.utils.atomic_files import atomic_directory

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Width, heads, spatial depth and MLP width of the official configurations
# (videoprism/models.py); everything else is shared.
ARCHITECTURES = {
    "videoprism_public_v1_base": (768, 12, 12, 3072),
    "videoprism_public_v1_large": (1024, 16, 24, 4096),
    "videoprism_lvt_public_v1_base": (768, 12, 12, 3072),
    "videoprism_lvt_public_v1_large": (1024, 16, 24, 4096),
}
NUM_TEXT_LAYERS = 12
NUM_AUXILIARY_LAYERS = 2
# Keys of a serialized object that `save_to_preset()` leaves out.
_SKIPPED_KEYS = ("compile_config", "build_config")


def backbone_kwargs(name):
    """`VideoPrismBackbone` arguments of a public preset."""
    hidden_dim, num_heads, num_spatial_layers, mlp_dim = ARCHITECTURES[name]
    metadata = backbone_presets[name]["metadata"]
    resolution = metadata["resolution"]
    vocabulary_size = metadata.get("vocabulary_size", 0)
    return {
        "num_frames": metadata["num_frames"],
        "patch_size": metadata["patch_size"],
        "hidden_dim": hidden_dim,
        "intermediate_dim": mlp_dim,
        "num_heads": num_heads,
        "num_spatial_layers": num_spatial_layers,
        "num_temporal_layers": 4,
        "num_auxiliary_layers": NUM_AUXILIARY_LAYERS if vocabulary_size else 0,
        "vocabulary_size": vocabulary_size,
        "num_text_layers": NUM_TEXT_LAYERS if vocabulary_size else 0,
        "attention_logit_soft_cap": 50.0,
        "image_shape": (resolution, resolution, 3),
        "data_format": "channels_last",
    }


def _without_skipped_keys(config):
    if not isinstance(config, dict):
        return config
    return {
        key: _without_skipped_keys(value)
        for key, value in config.items()
        if key not in _SKIPPED_KEYS
    }


def serialized_config(obj):
    """The JSON text `save_to_preset()` writes for a Keras object."""
    config = keras.saving.serialize_keras_object(obj)
    return json.dumps(_without_skipped_keys(config), indent=4)


def model_card(name, parameter_count):
    """A short README for a preset definition."""
    entry = backbone_presets[name]
    metadata = entry["metadata"]
    resolution = metadata["resolution"]
    lines = [
        f"# {name}",
        "",
        metadata["description"],
        "",
        f"- Parameters: {parameter_count:,}",
        f"- Frames: {metadata['num_frames']}, frame size: "
        f"{resolution}x{resolution}, patch size: {metadata['patch_size']}",
        f"- Weights: `{entry['kaggle_handle']}` (official checkpoint "
        f"`{metadata['official_checkpoint']}`)",
        "",
        "This directory holds the preset's definition without weights.",
        "",
        "```python",
        "from keras_videoprism.models import VideoPrismBackbone",
        "",
        "# Pretrained weights (downloads from Kaggle).",
        f'backbone = VideoPrismBackbone.from_preset("{name}")',
        "# The architecture with random weights, offline.",
        "backbone = VideoPrismBackbone.from_preset(",
        f'    "presets/{name}", load_weights=False',
        ")",
        "```",
    ]
    if "vocabulary_size" in metadata:
        lines += [
            "",
            "The tokenizer needs its SentencePiece model, the 32,000-piece "
            "T5 `c4_en` model (`gs://t5-data/vocabs/cc_en.32000/"
            "sentencepiece.model`), which is not included here.",
        ]
    return "\n".join(lines) + "\n"


def write_definition(name, output_dir, overwrite=False):
    """Writes the definition of preset `name` to `output_dir/name`.

    The directory appears whole; an existing non-empty one is replaced only
    with `overwrite=True`.
    """
    directory = pathlib.Path(output_dir) / name
    directory.parent.mkdir(parents=True, exist_ok=True)
    with keras.StatelessScope(initialize_variables=False):
        backbone = VideoPrismBackbone(
            **backbone_kwargs(name), name="video_prism_backbone"
        )
        parameter_count = backbone.count_params()
    entry = backbone_presets[name]
    files = {
        "config.json": serialized_config(backbone),
        "metadata.json": json.dumps(
            {
                "parameter_count": parameter_count,
                **entry["metadata"],
                "kaggle_handle": entry["kaggle_handle"],
            },
            indent=4,
        ),
        "video_converter.json": serialized_config(
            VideoPrismVideoConverter(
                **video_converter_config(backbone.get_config()),
                name="video_prism_video_converter",
            )
        ),
        "README.md": model_card(name, parameter_count),
    }
    if backbone.has_text_encoder:
        files["tokenizer.json"] = serialized_config(
            VideoPrismTokenizer(name="video_prism_tokenizer")
        )
    with atomic_directory(directory, overwrite) as temporary:
        for file_name, text in files.items():
            with open(os.path.join(temporary, file_name), "w") as file:
                file.write(text)
    return directory


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default=str(ROOT / "presets"))
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="Replace existing definition directories.",
    )
    args = parser.parse_args(argv)
    for name in backbone_presets:
        directory = write_definition(name, args.output, args.overwrite)
        print(f"Wrote {directory}")


if __name__ == "__main__":
    main()
