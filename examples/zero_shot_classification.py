"""Zero-shot video classification with a VideoPrism video-text model.

Each label is written into the official prompt template ("a video of
{}."), the prompts and the video are embedded, and the probabilities are
the softmax over labels of the similarities divided by the temperature
(the official 0.01).

Usage:

```shell
python examples/zero_shot_classification.py \
    --preset videoprism_lvt_public_v1_base \
    --labels "cooking" "playing football" "coloured shapes moving"
```

Without `--video`, the sample video bundled with the package is used. For
a quick run with random weights, make a tiny preset with
`python examples/make_tiny_preset.py --output_dir /tmp/videoprism_tiny`.
"""

import argparse

import numpy as np

from keras_videoprism.models import VideoPrismVideoTextRetriever
from keras_videoprism.utils.video_io import sample_video_path

DEFAULT_LABELS = [
    "coloured shapes moving",
    "a person cooking",
    "a dog running on a beach",
    "people dancing",
]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--preset",
        required=True,
        help="A video-text preset name or directory.",
    )
    parser.add_argument(
        "--video",
        default=sample_video_path(),
        help="A video file. Defaults to the bundled sample video.",
    )
    parser.add_argument(
        "--labels",
        nargs="+",
        default=DEFAULT_LABELS,
        help="The class names to choose from.",
    )
    return parser.parse_args(argv)


def main(argv=None):
    """Prints the labels, most probable first; returns `{label: prob}`."""
    args = parse_args(argv)
    retriever = VideoPrismVideoTextRetriever.from_preset(args.preset)
    # (1, num_labels): one video.
    probabilities = retriever.classify(args.video, args.labels)[0]
    print(f"Zero-shot labels for {args.video}:")
    for index in np.argsort(-probabilities):
        print(f"  {probabilities[index]:6.1%}  {args.labels[index]}")
    return dict(zip(args.labels, probabilities))


if __name__ == "__main__":
    main()
