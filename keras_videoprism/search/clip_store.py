"""The clip index on disk: a LanceDB database (embedded, no server).

An index folder holds `index.json` (the preset that made the embeddings
and their size) and two LanceDB tables:

- `clips`: one row per clip: the file `path`, `clip_index`, `start` and
  `end` in seconds, the file's fingerprint (`size`, `mtime_ns`,
  `content_hash`), the `preset_id`, and the L2-normalised `vector`;
- `files`: one row per file whose clips are all written, with the same
  fingerprint and the `windows` (clip length and stride) it was cut with.

A file is recorded in `files` only after all its clips are in `clips`, so
an interrupted run loses at most the clips of the files in flight; a rerun
deletes a file's clips before writing them again, so nothing is doubled.
"""

import json
import os

import numpy as np

from keras_videoprism.utils.atomic_files import atomic_directory
from keras_videoprism.utils.atomic_files import atomic_file

META_FILE = "index.json"
FORMAT_VERSION = 1
CLIPS_TABLE = "clips"
FILES_TABLE = "files"


def _quote(text):
    """A SQL string literal for LanceDB filters."""
    return "'" + str(text).replace("'", "''") + "'"


def read_meta(path):
    """The `index.json` of an index folder, or `None` if it has none."""
    meta_path = os.path.join(os.fspath(path), META_FILE)
    if not os.path.isfile(meta_path):
        return None
    with open(meta_path) as file:
        return json.load(file)


def _schemas(dim):
    import pyarrow as pa

    fingerprint = [
        ("path", pa.string()),
        ("size", pa.int64()),
        ("mtime_ns", pa.int64()),
        ("content_hash", pa.string()),
        ("preset_id", pa.string()),
    ]
    clips = pa.schema(
        fingerprint
        + [
            ("clip_index", pa.int64()),
            ("start", pa.float64()),
            ("end", pa.float64()),
            ("vector", pa.list_(pa.float32(), dim)),
        ]
    )
    files = pa.schema(
        fingerprint + [("windows", pa.string()), ("num_clips", pa.int64())]
    )
    return clips, files


class ClipStore:
    """An index folder's tables: create, open, write and query.

    Args:
        path: str. The index folder.
        meta: dict. What `index.json` holds: `preset` (the name given),
            `preset_handle`, `preset_id` and `dim` (the embedding size).

    Use `ClipStore.open_or_create()` rather than the constructor.
    """

    def __init__(self, path, meta):
        import lancedb

        self.path = os.fspath(path)
        self.meta = meta
        self.db = lancedb.connect(self.path)
        self.clips = self.db.open_table(CLIPS_TABLE)
        self.files = self.db.open_table(FILES_TABLE)

    @classmethod
    def open_or_create(cls, path, meta, overwrite=False):
        """Opens the index at `path`, creating it if absent.

        An existing index is only opened when it was made with the same
        preset (`preset_id`), `overwrite` or not: anything else raises
        unless `overwrite`, which replaces it (as a whole) with an empty
        index.

        Args:
            path: str. The index folder.
            meta: dict. `preset`, `preset_handle`, `preset_id`, `dim`.
            overwrite: bool. Whether to replace an index of another preset,
                or a non-empty folder that is not an index.

        Returns:
            A `ClipStore`.

        Raises:
            ValueError: `path` holds an index of another preset, or a
                non-empty folder (or a file) that is not an index, and
                `overwrite` is `False`.
        """
        path = os.fspath(path)
        existing = read_meta(path)
        if existing is not None:
            if existing.get("preset_id") == meta["preset_id"]:
                return cls(path, existing)
            if not overwrite:
                raise ValueError(
                    f"The index '{path}' was built with the preset "
                    f"'{existing.get('preset')}', not "
                    f"'{meta['preset']}' (different weights): its "
                    "embeddings cannot be mixed. Search it with its own "
                    "preset, choose another index folder, or pass "
                    "overwrite=True (--overwrite) to rebuild it."
                )
        if existing is None and not overwrite and os.path.lexists(path):
            if not os.path.isdir(path) or os.listdir(path):
                raise ValueError(
                    f"'{path}' exists and is not a video index (it has no "
                    f"{META_FILE}); nothing was written. Choose another "
                    "index folder, or pass overwrite=True (--overwrite) "
                    "to replace it."
                )
        cls._create(path, meta, overwrite)
        return cls(path, dict(meta))

    @staticmethod
    def _create(path, meta, overwrite):
        import lancedb

        clips_schema, files_schema = _schemas(int(meta["dim"]))
        with atomic_directory(path, overwrite) as temporary:
            db = lancedb.connect(temporary)
            db.create_table(CLIPS_TABLE, schema=clips_schema)
            db.create_table(FILES_TABLE, schema=files_schema)
            meta_path = os.path.join(temporary, META_FILE)
            with atomic_file(meta_path) as meta_temporary:
                with open(meta_temporary, "w") as file:
                    json.dump(
                        {"format_version": FORMAT_VERSION, **meta},
                        file,
                        indent=2,
                    )

    # --- Files ------------------------------------------------------------
    def indexed_files(self):
        """`{path: row}` of the files whose clips are all written."""
        return {row["path"]: row for row in self.files.to_arrow().to_pylist()}

    def forget_file(self, path):
        """Deletes a file's clips and its `files` row (before re-indexing)."""
        where = f"path = {_quote(path)}"
        self.files.delete(where)
        self.clips.delete(where)

    def add_clips(self, rows):
        """Appends clip rows (dicts with the `clips` columns)."""
        if rows:
            self.clips.add(rows)

    def mark_done(self, path, fingerprint, windows, num_clips):
        """Records a file as indexed; call after all its clips are added."""
        self.files.add(
            [
                {
                    "path": path,
                    **{k: fingerprint[k] for k in ("size", "mtime_ns")},
                    "content_hash": fingerprint["content_hash"],
                    "preset_id": self.meta["preset_id"],
                    "windows": windows,
                    "num_clips": int(num_clips),
                }
            ]
        )

    # --- Reading ----------------------------------------------------------
    def num_clips(self):
        return self.clips.count_rows()

    def all_clips(self):
        """Every clip row (a list of dicts), in file and time order."""
        rows = self.clips.to_arrow().to_pylist()
        rows.sort(key=lambda row: (row["path"], row["clip_index"]))
        return rows

    def clips_of(self, path):
        """The clip rows of one file, in time order."""
        rows = (
            self.clips.search()
            .where(f"path = {_quote(path)}")
            .limit(None)
            .to_list()
        )
        rows.sort(key=lambda row: row["clip_index"])
        return rows

    def nearest(self, vector, limit):
        """The `limit` clips most similar (cosine) to `vector`, best first.

        Returns:
            A list of dicts with `path`, `clip_index`, `start`, `end` and
            `score` (the cosine similarity).
        """
        vector = np.asarray(vector, np.float32).reshape(-1)
        rows = (
            self.clips.search(vector)
            .distance_type("cosine")
            .limit(int(limit))
            .to_list()
        )
        return [
            {
                "path": row["path"],
                "clip_index": int(row["clip_index"]),
                "start": float(row["start"]),
                "end": float(row["end"]),
                "score": 1.0 - float(row["_distance"]),
            }
            for row in rows
        ]
