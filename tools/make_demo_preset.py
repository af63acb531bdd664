"""Writes the tiny demo preset bundled with the package.

The demo preset is the official `video_tiny` test checkpoint (random weights
made with the official implementation, see tests/data/official) converted to
a Keras preset, so that the command line and examples run offline on any
machine. Its features mean nothing; use a real preset for real features.

The preset is written whole; the bundled one is replaced only with
`--overwrite`.

Usage: python tools/make_demo_preset.py [--overwrite]
"""

import argparse
import json
import pathlib

from keras_videoprism.convert import from_official_checkpoint
from keras_videoprism.layers import VideoPrismVideoConverter
from keras_videoprism.models import save_preset

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "data" / "official"
OUTPUT = ROOT / "keras_videoprism" / "data" / "videoprism_demo_tiny"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="Replace the bundled demo preset.",
    )
    args = parser.parse_args(argv)
    with open(FIXTURES / "video_tiny.config.json") as f:
        config = json.load(f)
    backbone = from_official_checkpoint(
        str(FIXTURES / "video_tiny.checkpoint.npz"), config
    )
    converter = VideoPrismVideoConverter(
        num_frames=backbone.num_frames,
        image_size=backbone.image_shape[:2],
        crop_to_aspect_ratio=False,
    )
    save_preset(str(OUTPUT), [backbone, converter], overwrite=args.overwrite)
    print(f"Wrote {OUTPUT}")


if __name__ == "__main__":
    main()
