"""Writes the presets of `tests/data/presets_0fafc0a/` (run once, at 0fafc0a).

They were saved by the code of commit 0fafc0a (before the package was laid
out again for issue 13) and are committed so that the tests prove presets
saved by that code keep loading. Rerunning this script with newer code
writes presets of the newer code; do that only to add a new generation in a
new folder.

- `video_classifier/`: the official tiny classifier fixture
  (`tests/data/official/classifier_tiny`) with its preprocessor and video
  converter: a video-only backbone, the classifier head, both saved whole.
- `video_text_retriever/`: the official tiny video-text fixture
  (`lvt_tiny`) with the 256-piece T5-style test tokenizer and a video
  converter.

Each preset is written whole; existing ones are replaced only with
`--overwrite`.

Usage: python tools/make_legacy_presets.py OUTPUT_DIR [--overwrite]
"""

import argparse
import json
import pathlib

from keras_videoprism.convert import from_official_checkpoint
from keras_videoprism.layers import VideoPrismVideoConverter
from keras_videoprism.models import VideoPrismPreprocessor
from keras_videoprism.models import VideoPrismTokenizer
from keras_videoprism.models import VideoPrismVideoClassifierPreprocessor
from keras_videoprism.models import VideoPrismVideoTextRetriever

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "tests/data/official"


def _official(name):
    with open(FIXTURES / f"{name}.config.json") as f:
        config = json.load(f)
    return from_official_checkpoint(
        str(FIXTURES / f"{name}.checkpoint.npz"), config
    )


def main(output_dir, overwrite=False):
    output_dir = pathlib.Path(output_dir)
    classifier = _official("classifier_tiny")
    backbone = classifier.backbone
    converter = VideoPrismVideoConverter(
        num_frames=backbone.num_frames, image_size=backbone.image_shape[:2]
    )
    classifier.preprocessor = VideoPrismVideoClassifierPreprocessor(converter)
    classifier.save_to_preset(
        str(output_dir / "video_classifier"), overwrite=overwrite
    )

    backbone = _official("lvt_tiny")
    tokenizer = VideoPrismTokenizer(
        proto=str(FIXTURES / "videoprism_test_t5style.model")
    )
    converter = VideoPrismVideoConverter(
        num_frames=backbone.num_frames, image_size=backbone.image_shape[:2]
    )
    retriever = VideoPrismVideoTextRetriever(
        backbone, VideoPrismPreprocessor(tokenizer, converter)
    )
    retriever.save_to_preset(
        str(output_dir / "video_text_retriever"), overwrite=overwrite
    )
    print(f"Wrote {output_dir}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output_dir")
    parser.add_argument(
        "--overwrite", action="store_true", help="Replace existing presets."
    )
    args = parser.parse_args()
    main(args.output_dir, args.overwrite)
