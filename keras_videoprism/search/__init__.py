"""Search your own videos: a clip index over a video-text preset.

`VideoIndex` cuts videos into clips, embeds them with a video-text preset
and stores the embeddings in LanceDB; queries by text, by clip or by
embedding return the best matching moments. The modules are imported on
first use, so that `import keras_videoprism` loads neither LanceDB nor Ray
(and the decoding workers import none of the models).
"""

# The default preset of a new index: the public video-text base model.
SEARCH_PRESET = "videoprism_lvt_public_v1_base"

_EXPORTS = {"VideoIndex": "keras_videoprism.search.video_index"}

__all__ = ["SEARCH_PRESET", "VideoIndex"]


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(
        f"module 'keras_videoprism.search' has no attribute '{name}'"
    )


def __dir__():
    return sorted([*globals(), *_EXPORTS])
