"""Building the index in this process, with decoding in worker processes.

Decoding workers ("spawn" processes, `clip_decoding.start_workers`) cut
files into resized clips and send them over a bounded queue; this process
embeds them in batches and writes them to the `ClipStore`. A file is
recorded as done only when all its clips are written, so an interrupted
run loses at most the clips in flight.
"""

import multiprocessing
import queue
import sys
import time
import warnings

import numpy as np

from keras_videoprism.search import clip_decoding

# How long the main process waits for a message before checking that the
# workers are alive.
_POLL_SECONDS = 1.0


def clip_row(path, fingerprint, preset_id, clip_index, start, end, vector):
    """One row of the `clips` table."""
    return {
        "path": path,
        "size": fingerprint["size"],
        "mtime_ns": fingerprint["mtime_ns"],
        "content_hash": fingerprint["content_hash"],
        "preset_id": preset_id,
        "clip_index": int(clip_index),
        "start": float(start),
        "end": float(end),
        "vector": np.asarray(vector, np.float32),
    }


def progress_bar(total, description):
    """A tqdm bar on stderr counting clips (rate and ETA)."""
    from tqdm import tqdm

    return tqdm(
        total=total or None,
        desc=description,
        unit="clip",
        file=sys.stderr,
        dynamic_ncols=True,
        leave=True,
    )


class _Batches:
    """Clips waiting to be embedded, and which files are complete."""

    def __init__(self, jobs, store, embed, windows, batch_size, bar):
        self.jobs = jobs
        self.store = store
        self.embed = embed
        self.windows = clip_decoding.windows_key(windows)
        self.batch_size = batch_size
        self.bar = bar
        self.pending = []
        self.waiting = {}  # task id -> number of clips, once decoded
        self.indexed = []
        self.num_clips = 0

    def add(self, task_id, clip_index, start, end, frames):
        self.pending.append((task_id, clip_index, start, end, frames))
        if len(self.pending) >= self.batch_size:
            self.flush()

    def drop(self, task_id):
        """Forgets a failed file's clips, written or not."""
        self.pending = [c for c in self.pending if c[0] != task_id]
        self.store.forget_file(self.jobs[task_id][0])

    def done(self, task_id, count):
        self.waiting[task_id] = count
        self._record_complete()

    def flush(self):
        if not self.pending:
            return
        vectors = self.embed(np.stack([clip[4] for clip in self.pending]))
        rows = []
        for (task_id, clip_index, start, end, _), vector in zip(
            self.pending, vectors
        ):
            path, fingerprint = self.jobs[task_id]
            rows.append(
                clip_row(
                    path,
                    fingerprint,
                    self.store.meta["preset_id"],
                    clip_index,
                    start,
                    end,
                    vector,
                )
            )
        self.store.add_clips(rows)
        self.num_clips += len(rows)
        if self.bar is not None:
            self.bar.update(len(rows))
        self.pending = []
        self._record_complete()

    def _record_complete(self):
        in_flight = {clip[0] for clip in self.pending}
        for task_id in [t for t in self.waiting if t not in in_flight]:
            path, fingerprint = self.jobs[task_id]
            self.store.mark_done(
                path, fingerprint, self.windows, self.waiting.pop(task_id)
            )
            self.indexed.append(path)


def index_files(
    jobs,
    windows,
    embed,
    store,
    workers=2,
    batch_size=8,
    progress=True,
    context="spawn",
):
    """Decodes, embeds and stores the clips of files.

    Args:
        jobs: list of `(path, fingerprint)`: the files to index (their old
            rows are deleted first).
        windows: dict. How files are cut (see `clip_decoding.decode_clips`).
        embed: callable. `(N, T, H, W, 3)` `uint8` clips to `(N, D)`
            L2-normalised embeddings.
        store: the `ClipStore` written to.
        workers: int. Decoding processes.
        batch_size: int. Clips embedded at once.
        progress: bool. Whether to show a progress bar on stderr.
        context: str. The multiprocessing start method, `"spawn"` or
            `"forkserver"`.

    Returns:
        A dict: `indexed` (paths), `failed` (`{path: message}`),
        `num_clips`, `seconds`, `clips_per_second` and
        `worker_heavy_modules` (heavy modules a worker imported: none).
    """
    started = time.perf_counter()
    for path, _ in jobs:
        store.forget_file(path)
    failed = {}
    total = sum(clip_decoding.estimate_clips(p, windows) for p, _ in jobs)
    bar = progress_bar(total, "indexing") if progress and jobs else None
    batches = _Batches(jobs, store, embed, windows, batch_size, bar)
    heavy = set()
    workers = max(1, min(int(workers), len(jobs)))
    if jobs:
        ctx = multiprocessing.get_context(context)
        tasks = ctx.Queue()
        # Bounded: decoding waits when inference falls behind.
        results = ctx.Queue(maxsize=max(2 * batch_size, 4))
        for task_id, (path, _) in enumerate(jobs):
            tasks.put((task_id, path, windows))
        for _ in range(workers):
            tasks.put(None)
        processes = clip_decoding.start_workers(ctx, workers, tasks, results)
        try:
            finished = set()
            exits = 0
            while exits < workers:
                try:
                    message = results.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    if any(p.is_alive() for p in processes):
                        continue
                    break
                kind = message[0]
                if kind == "clip":
                    batches.add(*message[1:])
                elif kind == "done":
                    _, task_id, count, messages = message
                    batches.done(task_id, count)
                    finished.add(task_id)
                    for text in messages:
                        warnings.warn(text, stacklevel=2)
                elif kind == "error":
                    _, task_id, text = message
                    batches.drop(task_id)
                    failed[jobs[task_id][0]] = text
                    finished.add(task_id)
                    warnings.warn(f"Skipped a file: {text}", stacklevel=2)
                else:
                    exits += 1
                    heavy.update(message[1])
            batches.flush()
            for task_id, (path, _) in enumerate(jobs):
                if task_id not in finished and path not in failed:
                    batches.drop(task_id)
                    failed[path] = (
                        f"'{path}': its decoding worker died (a crash "
                        "while decoding it)."
                    )
                    warnings.warn(f"Skipped a file: {failed[path]}")
        finally:
            for process in processes:
                process.join(timeout=5)
                if process.is_alive():
                    process.terminate()
            tasks.close()
            results.close()
            if bar is not None:
                bar.close()
    seconds = time.perf_counter() - started
    return {
        "indexed": sorted(batches.indexed),
        "failed": failed,
        "num_clips": batches.num_clips,
        "seconds": seconds,
        "clips_per_second": batches.num_clips / seconds if seconds else 0.0,
        "worker_heavy_modules": sorted(heavy),
    }
