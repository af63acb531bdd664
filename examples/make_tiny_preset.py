"""Writes a tiny video-text preset, to smoke-test the examples.

The preset is the official tiny test model `tests/data/official/lvt_tiny`
(random weights: 32-wide towers, 16x16 frames, 4 frames) converted from its
Flax checkpoint, with the 256-piece T5-style test tokenizer
`tests/data/official/videoprism_test_t5style.model`. Its outputs mean
nothing, but it exercises every step of the examples in seconds.

Usage:

```shell
python examples/make_tiny_preset.py --output_dir /tmp/videoprism_tiny
python examples/zero_shot_classification.py --preset /tmp/videoprism_tiny
```
"""

import argparse
import json
import pathlib

from keras_videoprism.convert.official_checkpoint import (
    from_official_checkpoint,
)
from keras_videoprism.models.video_prism_video_converter import (
    VideoPrismVideoConverter,
)
from keras_videoprism.models import VideoPrismPreprocessor
from keras_videoprism.models import VideoPrismTokenizer
from keras_videoprism.models import VideoPrismVideoTextRetriever

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "tests/data/official"


def make_tiny_preset(output_dir, overwrite=False):
    """Saves the tiny video-text task to `output_dir`; returns the task.

    An existing non-empty `output_dir` is replaced only with
    `overwrite=True`.
    """
    with open(FIXTURES / "lvt_tiny.config.json") as f:
        official_config = json.load(f)
    backbone = from_official_checkpoint(
        str(FIXTURES / "lvt_tiny.checkpoint.npz"), official_config
    )
    # The fixture's text tower has 1,000 ids; this tokenizer uses 256.
    tokenizer = VideoPrismTokenizer(
        proto=str(FIXTURES / "videoprism_test_t5style.model")
    )
    converter = VideoPrismVideoConverter(
        num_frames=backbone.num_frames, image_size=backbone.image_shape[:2]
    )
    preprocessor = VideoPrismPreprocessor(tokenizer, converter)
    task = VideoPrismVideoTextRetriever(backbone, preprocessor)
    task.save_to_preset(output_dir, overwrite=overwrite)
    return task


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--output_dir", required=True, help="The preset directory to write."
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="Replace an existing non-empty output directory.",
    )
    args = parser.parse_args(argv)
    make_tiny_preset(args.output_dir, args.overwrite)
    print(f"Wrote a tiny video-text preset to {args.output_dir}")


if __name__ == "__main__":
    main()
