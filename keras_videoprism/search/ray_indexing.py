"""Building the index with Ray Data, locally or on a cluster.

`ray.data.from_items(files)` → decoding, a CPU `map_batches` stage (one
file per task) → embedding, an actor pool of `_ClipEmbedder` (one model per
actor, a GPU each when the cluster has GPUs) → rows written by the driver
to the same `ClipStore` as the in-process pipeline, each file's clips
written whole and then the file recorded as done, as there.

Ray is optional: `pip install keras-videoprism[ray]`.
"""

import time

import numpy as np

from keras_videoprism.search import clip_decoding
from keras_videoprism.search.indexing_pipeline import clip_row


def import_ray():
    """Imports Ray (and Ray Data), or raises a clear error naming the extra."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as error:
        raise ImportError(
            "Building an index with Ray needs Ray Data: "
            "`pip install keras-videoprism[ray]` (or `pip install "
            f"'ray[data]'`). ({error})"
        ) from error
    return ray


def _clip_shape(windows):
    frames = windows.get("clip_frames") or windows["num_frames"]
    return (frames, *windows["image_size"], 3)


def decode_batch(batch, windows):
    """The decoding stage: files in, one row per clip out.

    A file that fails gives one row with its `error` (and zero frames).
    """
    columns = {
        "task_id": [], "clip_index": [], "start": [], "end": [],
        "num_clips": [], "error": [], "frames": [],
    }

    def emit(task_id, clip_index, start, end, frames, error=""):
        columns["task_id"].append(task_id)
        columns["clip_index"].append(clip_index)
        columns["start"].append(start)
        columns["end"].append(end)
        columns["error"].append(error)
        columns["frames"].append(frames)

    for task_id, path in zip(batch["task_id"], batch["path"]):
        task_id, path = int(task_id), str(path)
        first = len(columns["task_id"])
        try:
            for clip_index, start, end, frames in clip_decoding.decode_clips(
                path, windows
            ):
                emit(task_id, clip_index, start, end, frames)
            if len(columns["task_id"]) == first:
                raise ValueError(f"'{path}' gave no clip.")
        except Exception as error:
            for name in columns:
                del columns[name][first:]
            message = " ".join(str(error).split()) or type(error).__name__
            blank = np.zeros(_clip_shape(windows), np.uint8)
            emit(task_id, -1, 0.0, 0.0, blank, message)
        count = len(columns["task_id"]) - first
        columns["num_clips"].extend([count] * count)
    return {
        "task_id": np.array(columns["task_id"], np.int64),
        "clip_index": np.array(columns["clip_index"], np.int64),
        "start": np.array(columns["start"], np.float64),
        "end": np.array(columns["end"], np.float64),
        "num_clips": np.array(columns["num_clips"], np.int64),
        "error": np.array(columns["error"], object),
        "frames": np.stack(columns["frames"]).astype(np.uint8),
    }


class _ClipEmbedder:
    """An embedding actor: loads the preset once, embeds clip batches."""

    def __init__(self, preset_handle, batch_size):
        from keras_videoprism.models import VideoPrismVideoTextRetriever

        self.retriever = VideoPrismVideoTextRetriever.from_preset(
            preset_handle
        )
        self.batch_size = batch_size
        # Failed files' rows get zero vectors of the same size.
        self.dim = int(self.retriever.embed_texts(["a video"]).shape[-1])

    def __call__(self, batch):
        frames = batch.pop("frames")
        good = np.array([not e for e in batch["error"]], bool)
        vectors = np.zeros((len(good), self.dim), np.float32)
        if good.any():
            clips = frames[good]
            count = len(clips)
            padded = -count % self.batch_size
            if padded:
                repeats = np.repeat(clips[-1:], padded, 0)
                clips = np.concatenate([clips, repeats])
            embedded = np.asarray(
                self.retriever.embed_videos(clips, batch_size=self.batch_size),
                np.float32,
            )[:count]
            vectors[good] = embedded
        batch["vector"] = vectors
        return batch


def index_files_with_ray(
    jobs,
    windows,
    store,
    preset_handle,
    batch_size=8,
    concurrency=1,
    address=None,
    num_cpus=None,
):
    """Decodes, embeds and stores the clips of files with Ray Data.

    Args:
        jobs: list of `(path, fingerprint)`: the files to index.
        windows: dict. How files are cut (`clip_decoding.decode_clips`).
        store: the `ClipStore` written to (by this process only).
        preset_handle: str. The preset each embedding actor loads.
        batch_size: int. Clips embedded at once by an actor.
        concurrency: int. Embedding actors.
        address: str or `None`. A Ray cluster's address; `None` starts (or
            reuses) a local instance.
        num_cpus: int or `None`. CPUs of a local instance started here.

    Returns:
        The summary of `indexing_pipeline.index_files` (without
        `worker_heavy_modules`).
    """
    ray = import_ray()
    started = time.perf_counter()
    # Ray Data's progress goes to the log, not a bar per stage.
    ray.data.DataContext.get_current().enable_progress_bars = False
    if jobs and not ray.is_initialized():
        if address is not None:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(
                num_cpus=num_cpus,
                include_dashboard=False,
                log_to_driver=False,
            )
    for path, _ in jobs:
        store.forget_file(path)
    indexed, failed, written = [], {}, 0
    if jobs:
        use_gpus = ray.cluster_resources().get("GPU", 0) > 0
        dataset = ray.data.from_items(
            [{"task_id": i, "path": path} for i, (path, _) in enumerate(jobs)]
        )
        dataset = dataset.map_batches(
            decode_batch,
            fn_kwargs={"windows": windows},
            batch_size=1,
            batch_format="numpy",
            num_cpus=1,
        )
        dataset = dataset.map_batches(
            _ClipEmbedder,
            fn_constructor_kwargs={
                "preset_handle": preset_handle,
                "batch_size": batch_size,
            },
            batch_size=batch_size,
            batch_format="numpy",
            concurrency=concurrency,
            num_gpus=1 if use_gpus else 0,
            num_cpus=0 if use_gpus else 1,
        )
        key = clip_decoding.windows_key(windows)
        preset_id = store.meta["preset_id"]
        waiting = {}
        for row in dataset.iter_rows():
            task_id = int(row["task_id"])
            path, fingerprint = jobs[task_id]
            if row["error"]:
                failed[path] = str(row["error"])
                continue
            rows = waiting.setdefault(task_id, [])
            rows.append(
                clip_row(
                    path, fingerprint, preset_id, row["clip_index"],
                    row["start"], row["end"], row["vector"],
                )
            )
            if len(rows) == int(row["num_clips"]):
                rows.sort(key=lambda r: r["clip_index"])
                store.add_clips(rows)
                store.mark_done(path, fingerprint, key, len(rows))
                written += len(rows)
                indexed.append(path)
                del waiting[task_id]
    seconds = time.perf_counter() - started
    if failed:
        import warnings

        for message in failed.values():
            warnings.warn(f"Skipped a file: {message}", stacklevel=2)
    return {
        "indexed": sorted(indexed),
        "failed": failed,
        "num_clips": written,
        "seconds": seconds,
        "clips_per_second": written / seconds if seconds else 0.0,
    }
