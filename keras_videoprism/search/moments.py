"""Merging matching clips of one file into moments."""


def merge_moments(hits, top_k=None):
    """Merges adjacent or overlapping matching clips of the same file.

    Clips of one file whose time ranges touch or overlap (the next starts
    no later than the previous ends) become one moment: the start of the
    first, the end of the last, and the best score among them.

    Args:
        hits: iterable of dicts with `path`, `start`, `end` (seconds) and
            `score`.
        top_k: int or `None`. How many moments to keep, best first.
            Defaults to all.

    Returns:
        A list of `{"path", "start", "end", "score"}` dicts, best score
        first (ties: by path, then start).

    Example:

    ```python
    merge_moments([
        {"path": "a.mp4", "start": 0.0, "end": 1.0, "score": 0.5},
        {"path": "a.mp4", "start": 1.0, "end": 2.0, "score": 0.7},
    ])  # [{"path": "a.mp4", "start": 0.0, "end": 2.0, "score": 0.7}]
    ```
    """
    by_path = {}
    for hit in hits:
        by_path.setdefault(hit["path"], []).append(hit)
    moments = []
    for path, clips in by_path.items():
        clips.sort(key=lambda hit: (hit["start"], hit["end"]))
        current = None
        for hit in clips:
            if current is not None and hit["start"] <= current["end"] + 1e-6:
                current["end"] = max(current["end"], float(hit["end"]))
                current["score"] = max(current["score"], float(hit["score"]))
                continue
            current = {
                "path": path,
                "start": float(hit["start"]),
                "end": float(hit["end"]),
                "score": float(hit["score"]),
            }
            moments.append(current)
    moments.sort(key=lambda m: (-m["score"], m["path"], m["start"]))
    return moments if top_k is None else moments[:top_k]
