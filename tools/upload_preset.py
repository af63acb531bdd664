"""Publishes a preset directory to Kaggle Models or the Hugging Face Hub.

The directory is checked first (it must load into `VideoPrismBackbone`
with its weights), then uploaded with keras-hub's `upload_preset`, which
reads the credentials of `kagglehub` or `huggingface_hub`.

Usage:
    python tools/upload_preset.py PRESET_DIR \
        kaggle://<user>/<model>/keras/<variation>
    python tools/upload_preset.py PRESET_DIR hf://<user>/<model>
"""

import argparse
import os

import keras_hub

from keras_videoprism.models import VideoPrismBackbone

SCHEMES = ("kaggle://", "hf://")


def build_parser():
    parser = argparse.ArgumentParser(
        description="Upload a preset directory to Kaggle or Hugging Face."
    )
    parser.add_argument("preset_dir", help="Directory from save_to_preset().")
    parser.add_argument(
        "uri",
        help="kaggle://<user>/<model>/keras/<variation> or hf://<user>/<model>",
    )
    parser.add_argument(
        "--skip_check",
        action="store_true",
        help="Upload without loading the preset first.",
    )
    return parser


def check_arguments(preset_dir, uri):
    """Raises `ValueError` for a missing directory or an unknown hub."""
    if not os.path.isdir(preset_dir):
        raise ValueError(f"'{preset_dir}' is not a directory.")
    if not uri.startswith(SCHEMES):
        raise ValueError(
            f"The URI must start with one of {SCHEMES}. Received: '{uri}'"
        )


def upload(preset_dir, uri, check=True):
    """Checks a preset directory, then uploads it.

    Args:
        preset_dir: str. A preset directory (`save_to_preset()`).
        uri: str. `kaggle://<user>/<model>/keras/<variation>` or
            `hf://<user>/<model>`.
        check: bool. Load the preset with its weights before uploading.
            Defaults to `True`.
    """
    check_arguments(preset_dir, uri)
    if check:
        VideoPrismBackbone.from_preset(preset_dir)
    keras_hub.upload_preset(uri, preset_dir)


def main(argv=None):
    args = build_parser().parse_args(argv)
    upload(args.preset_dir, args.uri, check=not args.skip_check)
    print(f"Uploaded {args.preset_dir} to {args.uri}")


if __name__ == "__main__":
    main()
