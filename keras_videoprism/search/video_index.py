"""`VideoIndex`: embed the clips of your videos, then search them."""

import glob
import math
import os

import numpy as np

from keras_videoprism.search import SEARCH_PRESET
from keras_videoprism.search import clip_decoding
from keras_videoprism.search import fingerprints
from keras_videoprism.search.clip_store import ClipStore
from keras_videoprism.search.clip_store import read_meta
from keras_videoprism.search.moments import merge_moments

VIDEO_EXTENSIONS = (
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg",
    ".ts", ".mts", ".m2ts", ".wmv", ".flv", ".3gp", ".ogv", ".h264",
    ".hevc",
)
# Clips fetched from LanceDB per moment asked for: neighbouring clips of a
# match often match too and merge into it.
_CANDIDATES_PER_RESULT = 8


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(
            f"`{name}` must be an integer >= 1. Received: {value!r}"
        )
    if value < 1:
        raise ValueError(
            f"`{name}` must be an integer >= 1. Received: {value}"
        )
    return int(value)


def _check_seconds(value, name):
    if value is None:
        return None
    number = (int, float, np.number)
    if isinstance(value, bool) or not isinstance(value, number):
        raise ValueError(
            f"`{name}` must be a positive number of seconds. Received: "
            f"{value!r}"
        )
    if not (math.isfinite(value) and value > 0):
        raise ValueError(
            f"`{name}` must be a positive number of seconds. Received: {value}"
        )
    return float(value)


def find_videos(source):
    """The video files of a folder (recursively), a glob or a list of paths.

    Args:
        source: str or `os.PathLike` (a folder, a file or a glob pattern),
            or a list of file paths.

    Returns:
        A sorted list of absolute paths.

    Raises:
        ValueError: a folder or glob matches no video file.
        FileNotFoundError: a listed path (or `source`) does not exist.
    """
    if isinstance(source, (list, tuple)):
        paths = []
        for path in source:
            path = os.fspath(path)
            if not os.path.isfile(path):
                raise FileNotFoundError(f"No video file at '{path}'.")
            paths.append(os.path.abspath(path))
        return sorted(set(paths))
    source = os.fspath(source)
    if os.path.isdir(source):
        paths = [
            os.path.join(root, name)
            for root, _, names in os.walk(source)
            for name in names
            if name.lower().endswith(VIDEO_EXTENSIONS)
        ]
        where = f"the folder '{source}' (searched recursively)"
    elif os.path.isfile(source):
        paths = [source]
    elif glob.has_magic(source):
        matches = glob.glob(source, recursive=True)
        paths = [p for p in matches if os.path.isfile(p)]
        where = f"the pattern '{source}'"
    else:
        raise FileNotFoundError(
            f"'{source}' is neither a folder, a file nor a glob pattern "
            "that matches files."
        )
    if not paths:
        raise ValueError(
            f"No video file in {where}: looked for the extensions "
            f"{', '.join(VIDEO_EXTENSIONS)}."
        )
    return sorted({os.path.abspath(p) for p in paths})


class VideoIndex:
    """A searchable index of the clips of your videos.

    Videos are cut into sliding windows of frames, each embedded by the
    video tower of a video-text preset; the L2-normalised embeddings are
    stored in a LanceDB database in the index folder, with the file path,
    start and end time of each clip, the preset's identity and the file's
    fingerprint. Searching by text, by a clip or by an embedding returns the
    best matching moments: adjacent or overlapping matching clips of a file
    merge into one moment (the best score of its clips).

    Adding is resumable: a file already indexed with the same preset,
    unchanged (same size, modification time and content hash) and cut the
    same way is skipped; a changed file is indexed again (its old clips
    deleted); a file is recorded as done only once all its clips are
    written, so an interrupted run loses at most the files in flight. A
    file that is not a video or does not decode is skipped with a warning
    and listed in the summary.

    Args:
        path: str. The index folder. Created (whole or not at all) on the
            first `add()`.
        preset: str or `None`. A video-text preset name, folder or handle.
            Defaults to the preset the index was built with, or
            `SEARCH_PRESET` for a new index.
        overwrite: bool. Whether an index built with another preset (or a
            non-empty folder that is not an index) may be replaced by a new
            one; an index of the same preset is always kept and added to.
            Defaults to `False`: such a folder raises a `ValueError`.

    Example:

    ```python
    index = keras_videoprism.search.VideoIndex(
        "my_index", preset="videoprism_lvt_public_v1_base"
    )
    summary = index.add("~/Videos", clip_seconds=2.0)
    for moment in index.search("a dog catching a ball", top_k=5):
        print(moment["path"], moment["start"], moment["end"], moment["score"])
    index.search_clip("query.mp4", start=3.0, end=5.0)
    ```
    """

    def __init__(self, path, preset=None, overwrite=False):
        from keras_videoprism.models.video_prism_preset_loader import (
            resolve_preset,
        )

        self.path = os.fspath(path)
        meta = read_meta(self.path)
        if preset is None:
            if meta is not None:
                preset, handle = meta["preset"], meta["preset_handle"]
            else:
                preset = SEARCH_PRESET
                handle = resolve_preset(preset)
        else:
            handle = resolve_preset(preset)
        if os.path.exists(handle):
            handle = os.path.abspath(handle)
        self.preset = os.fspath(preset)
        self.preset_handle = handle
        self.preset_id = fingerprints.preset_identity(handle)
        self._overwrite = bool(overwrite)
        # The cheap checks, before any model loads.
        if not overwrite and meta is not None:
            if meta.get("preset_id") != self.preset_id:
                raise ValueError(
                    f"The index '{self.path}' was built with the preset "
                    f"'{meta.get('preset')}', not '{self.preset}' "
                    "(different weights): its embeddings cannot be mixed. "
                    "Use its own preset, another index folder, or "
                    "overwrite=True (--overwrite) to rebuild it."
                )
        elif not overwrite and os.path.lexists(self.path):
            if not os.path.isdir(self.path) or os.listdir(self.path):
                raise ValueError(
                    f"'{self.path}' exists and is not a video index; "
                    "nothing was written. Choose another index folder, or "
                    "pass overwrite=True (--overwrite) to replace it."
                )
        self._retriever = None
        self._store = None

    # --- The model and the store ---------------------------------------
    @property
    def retriever(self):
        """The `VideoPrismVideoTextRetriever` of the preset (loaded once)."""
        if self._retriever is None:
            from keras_videoprism.models import VideoPrismVideoTextRetriever

            self._retriever = VideoPrismVideoTextRetriever.from_preset(
                self.preset_handle
            )
        return self._retriever

    def _frame_settings(self):
        converter = self.retriever.preprocessor.video_converter
        backbone = self.retriever.backbone
        image_size = tuple(converter.image_size or backbone.image_shape[:2])
        return int(converter.num_frames), image_size

    def _open_store(self, create):
        if self._store is not None:
            return self._store
        if read_meta(self.path) is None and not create:
            raise ValueError(
                f"There is no video index at '{self.path}'. Build one first "
                "with `VideoIndex.add()` (`keras-videoprism index`)."
            )
        dim = int(self.retriever.embed_texts(["a video"]).shape[-1])
        meta = {
            "preset": self.preset,
            "preset_handle": self.preset_handle,
            "preset_id": self.preset_id,
            "dim": dim,
        }
        self._store = ClipStore.open_or_create(
            self.path, meta, overwrite=self._overwrite
        )
        self._overwrite = False
        return self._store

    def embed_clips(self, clips, batch_size=8):
        """L2-normalised embeddings of `uint8` clips `(N, T, H, W, 3)`.

        A last, short batch is padded to `batch_size` (and the padding's
        embeddings dropped), so that the model runs on one shape only and
        compiles once.
        """
        clips = np.asarray(clips)
        count = len(clips)
        padded = -count % batch_size if count > 0 else 0
        if padded:
            clips = np.concatenate([clips, np.repeat(clips[-1:], padded, 0)])
        embeddings = self.retriever.embed_videos(clips, batch_size=batch_size)
        return np.asarray(embeddings, np.float32)[:count]

    # --- Adding --------------------------------------------------------
    def windows(
        self,
        clip_frames=None,
        stride_frames=None,
        clip_seconds=None,
        stride_seconds=None,
    ):
        """How `add()` cuts videos: a dict for `clip_decoding.decode_clips`.

        Frames by default: clips of the backbone's `num_frames` frames,
        strided by the clip length. With `clip_seconds`, each clip spans
        that many seconds, resampled to `num_frames` frames.
        """
        clip_seconds = _check_seconds(clip_seconds, "clip_seconds")
        stride_seconds = _check_seconds(stride_seconds, "stride_seconds")
        if clip_frames is not None:
            clip_frames = _check_positive_int(clip_frames, "clip_frames")
        if stride_frames is not None:
            stride_frames = _check_positive_int(stride_frames, "stride_frames")
        seconds = clip_seconds is not None or stride_seconds is not None
        frames = clip_frames is not None or stride_frames is not None
        if seconds and frames:
            raise ValueError(
                "Give clips in frames (`clip_frames`, `stride_frames`) or in "
                "seconds (`clip_seconds`, `stride_seconds`), not both."
            )
        if stride_seconds is not None and clip_seconds is None:
            raise ValueError(
                "`stride_seconds` needs `clip_seconds` (the clip length in "
                "seconds); pass both, or strides in frames."
            )
        num_frames, image_size = self._frame_settings()
        if clip_seconds is not None:
            return {
                "clip_seconds": clip_seconds,
                "stride_seconds": stride_seconds or clip_seconds,
                "num_frames": num_frames,
                "image_size": list(image_size),
            }
        clip_frames = clip_frames or num_frames
        return {
            "clip_frames": clip_frames,
            "stride_frames": stride_frames or clip_frames,
            "image_size": list(image_size),
        }

    def plan(self, paths, windows):
        """Splits `paths` into `(jobs, skipped)` against what is indexed."""
        store = self._open_store(create=True)
        indexed = store.indexed_files()
        key = clip_decoding.windows_key(windows)
        jobs, skipped = [], []
        for path in paths:
            fingerprint = fingerprints.file_fingerprint(path)
            row = indexed.get(path)
            if (
                row is not None
                and row["preset_id"] == self.preset_id
                and row["windows"] == key
                and fingerprints.same_fingerprint(row, fingerprint)
            ):
                skipped.append(path)
            else:
                jobs.append((path, fingerprint))
        return jobs, skipped

    def add(
        self,
        videos,
        clip_frames=None,
        stride_frames=None,
        clip_seconds=None,
        stride_seconds=None,
        batch_size=8,
        workers=2,
        progress=True,
        use_ray=False,
        ray_address=None,
        ray_num_cpus=None,
        ray_concurrency=1,
    ):
        """Embeds and stores the clips of videos not indexed yet.

        Args:
            videos: a folder (searched recursively for video files), a
                file, a glob pattern, or a list of file paths.
            clip_frames: int or `None`. Frames per clip. Defaults to the
                backbone's `num_frames`.
            stride_frames: int or `None`. Frames between clip starts.
                Defaults to the clip length (no overlap).
            clip_seconds: float or `None`. The clip length in seconds
                instead (each clip resampled to `num_frames` frames).
            stride_seconds: float or `None`. Seconds between clip starts.
                Defaults to `clip_seconds`.
            batch_size: int. Clips embedded at once. Defaults to `8`.
            workers: int. Decoding processes. Defaults to `2`.
            progress: bool. Whether to show a progress bar (stderr).
            use_ray: bool. Whether to build with Ray Data instead of the
                in-process pipeline (`pip install keras-videoprism[ray]`).
            ray_address: str or `None`. A Ray cluster to connect to;
                defaults to a local instance.
            ray_num_cpus: int or `None`. CPUs of the local Ray instance.
            ray_concurrency: int. Embedding actors (one model each).

        Returns:
            A summary dict: `indexed`, `skipped` (paths), `failed`
            (`{path: message}`), `num_clips` (written now),
            `total_clips` (in the index), `seconds` and
            `clips_per_second`.

        Example:

        ```python
        summary = index.add("videos/", clip_seconds=2.0, stride_seconds=1.0)
        summary["failed"]  # {} when every file decoded
        ```
        """
        batch_size = _check_positive_int(batch_size, "batch_size")
        workers = _check_positive_int(workers, "workers")
        ray_concurrency = _check_positive_int(
            ray_concurrency, "ray_concurrency"
        )
        if ray_num_cpus is not None:
            ray_num_cpus = _check_positive_int(ray_num_cpus, "ray_num_cpus")
        paths = find_videos(videos)
        windows = self.windows(
            clip_frames, stride_frames, clip_seconds, stride_seconds
        )
        jobs, skipped = self.plan(paths, windows)
        store = self._store
        if use_ray:
            from keras_videoprism.search import ray_indexing

            summary = ray_indexing.index_files_with_ray(
                jobs,
                windows,
                store,
                self.preset_handle,
                batch_size=batch_size,
                concurrency=ray_concurrency,
                address=ray_address,
                num_cpus=ray_num_cpus,
            )
        else:
            from keras_videoprism.search import indexing_pipeline

            summary = indexing_pipeline.index_files(
                jobs,
                windows,
                lambda clips: self.embed_clips(clips, batch_size),
                store,
                workers=workers,
                batch_size=batch_size,
                progress=progress,
            )
        summary["skipped"] = skipped
        summary["total_clips"] = store.num_clips()
        return summary

    # --- Searching -----------------------------------------------------
    def search_embedding(self, embedding, top_k=5):
        """The moments most similar (cosine) to an embedding.

        Args:
            embedding: `(D,)` array (normalised or not).
            top_k: int. Moments to return. Defaults to `5`.

        Returns:
            A list of `{"path", "start", "end", "score"}` dicts, best first.
        """
        top_k = _check_positive_int(top_k, "top_k")
        vector = np.asarray(embedding, np.float32).reshape(-1)
        store = self._open_store(create=False)
        if vector.shape[0] != store.meta["dim"] or not np.all(
            np.isfinite(vector)
        ):
            raise ValueError(
                f"The query embedding must be {store.meta['dim']} finite "
                f"numbers (the index's embedding size). Received shape "
                f"{np.shape(embedding)}."
            )
        norm = float(np.linalg.norm(vector))
        if norm == 0:
            raise ValueError("The query embedding is all zeros.")
        vector = vector / norm
        total = store.num_clips()
        limit = min(total, top_k * _CANDIDATES_PER_RESULT)
        while True:
            hits = store.nearest(vector, limit) if limit else []
            moments = merge_moments(hits, top_k)
            if len(moments) >= top_k or limit >= total:
                return moments
            limit = min(total, limit * 2)

    def search(self, text, top_k=5):
        """The moments that best match a text.

        Args:
            text: str. What to look for, e.g. `"a red ball bouncing"`.
            top_k: int. Moments to return. Defaults to `5`.

        Returns:
            A list of `{"path", "start", "end", "score"}` dicts, best first.
        """
        if not isinstance(text, str) or not text.strip():
            raise ValueError(
                f"`text` must be a non-empty string. Received: {text!r}"
            )
        top_k = _check_positive_int(top_k, "top_k")
        self._open_store(create=False)
        return self.search_embedding(self.embed_text(text), top_k)

    def embed_text(self, text):
        """The `(D,)` embedding of a text query."""
        return np.asarray(self.retriever.embed_texts([text]), np.float32)[0]

    def embed_clip(self, path, start=None, end=None):
        """The `(D,)` embedding of a clip of a video file, as indexed.

        The clip (the whole video by default) is sampled to the backbone's
        `num_frames` frames, resized while decoding.
        """
        from keras_videoprism.utils.video_io import load_video

        num_frames, image_size = self._frame_settings()
        frames = load_video(
            path,
            num_frames=num_frames,
            start_time=start,
            end_time=end,
            image_size=image_size,
        )
        return self.embed_clips(frames[None])[0]

    def search_clip(self, path, start=None, end=None, top_k=5):
        """The moments that best match a clip of a video file.

        Args:
            path: str. The query video.
            start: float or `None`. The clip start in seconds.
            end: float or `None`. The clip end in seconds.
            top_k: int. Moments to return. Defaults to `5`.

        Returns:
            A list of `{"path", "start", "end", "score"}` dicts, best first.
        """
        top_k = _check_positive_int(top_k, "top_k")
        if not os.path.isfile(os.fspath(path)):
            raise FileNotFoundError(f"No video file at '{os.fspath(path)}'.")
        self._open_store(create=False)
        return self.search_embedding(self.embed_clip(path, start, end), top_k)

    def clips(self):
        """Every stored clip row (dicts with `path`, `start`, `end`,
        `clip_index`, `vector`, fingerprint and `preset_id`)."""
        return self._open_store(create=False).all_clips()
