"""Text-to-video retrieval over the clips of a video with VideoPrism.

The video is cut into overlapping clips, each clip is embedded once by the
video tower (the retrieval index), and each text query, embedded by the
text tower alone, is matched against the index by cosine similarity.

Usage:

```shell
python examples/video_text_retrieval.py \
    --preset videoprism_lvt_public_v1_base \
    --queries "a red circle" "a blue square"
```

Without `--video`, the sample video bundled with the package is used. For
a quick run with random weights, make a tiny preset with
`python examples/make_tiny_preset.py --output_dir /tmp/videoprism_tiny`.
"""

import argparse

from keras_videoprism.models import VideoPrismVideoTextRetriever
from keras_videoprism.utils.video_io import sample_video_path
from keras_videoprism.utils.video_io import sliding_window_clips

DEFAULT_QUERIES = ["a red circle moving", "a blue square", "a person talking"]


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
        "--queries", nargs="+", default=DEFAULT_QUERIES, help="Text queries."
    )
    parser.add_argument(
        "--fps",
        type=float,
        default=8.0,
        help="The rate the video is sampled at, in frames per second.",
    )
    parser.add_argument(
        "--clip_seconds", type=float, default=1.0, help="Clip length."
    )
    parser.add_argument(
        "--stride_seconds",
        type=float,
        default=0.5,
        help="Time between the starts of consecutive clips.",
    )
    parser.add_argument(
        "--top_k", type=int, default=3, help="Clips shown per query."
    )
    return parser.parse_args(argv)


def clip_index(retriever, path, fps, clip_seconds, stride_seconds):
    """Embeds the clips of a video; returns `(start_times, embeddings)`."""
    clips = sliding_window_clips(
        path,
        clip_num_frames=max(1, round(clip_seconds * fps)),
        stride_frames=max(1, round(stride_seconds * fps)),
        fps=fps,
    )
    # All clips are held in memory: for long videos, embed them in batches
    # as they come instead.
    starts, frames = zip(*clips)
    # The video converter samples each clip to the model's frame count.
    embeddings = retriever.embed_videos(list(frames))
    return [start / fps for start in starts], embeddings


def main(argv=None):
    """Prints the best clips per query; returns `(start_times, scores, ids)`."""
    args = parse_args(argv)
    retriever = VideoPrismVideoTextRetriever.from_preset(args.preset)
    start_times, index = clip_index(
        retriever, args.video, args.fps, args.clip_seconds, args.stride_seconds
    )
    print(f"Indexed {len(start_times)} clips of {args.video}.")
    queries = retriever.embed_texts(args.queries)
    scores, ids = retriever.retrieve(queries, index, top_k=args.top_k)
    for query, query_scores, query_ids in zip(args.queries, scores, ids):
        print(f"{query!r}:")
        for score, clip in zip(query_scores, query_ids):
            start = start_times[clip]
            end = start + args.clip_seconds
            print(f"  {start:5.2f}s-{end:5.2f}s  similarity {score:+.3f}")
    return start_times, scores, ids


if __name__ == "__main__":
    main()
