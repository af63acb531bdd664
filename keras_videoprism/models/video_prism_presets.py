"""VideoPrism preset configurations.

The public checkpoints of Google DeepMind, converted to keras-hub presets.
The metadata is checked against the model definitions in `presets/` by the
tests; parameter counts are those of the official Flax modules.
"""

backbone_presets = {
    "videoprism_public_v1_base": {
        "metadata": {
            "description": (
                "114 million parameter video encoder: ViT-B factorized "
                "into 12 spatial and 4 temporal layers, 16 frames of "
                "288x288 pixels in 18x18 patches. Returns spatiotemporal "
                "features."
            ),
            "params": 114365184,
            "num_frames": 16,
            "resolution": 288,
            "patch_size": 18,
            "official_checkpoint": "google/videoprism-base-f16r288",
            "path": "video_prism",
        },
        "kaggle_handle": (
            "kaggle://keras/videoprism/keras/videoprism_public_v1_base/1"
        ),
    },
    "videoprism_public_v1_large": {
        "metadata": {
            "description": (
                "354 million parameter video encoder: ViT-L factorized "
                "into 24 spatial and 4 temporal layers, 8 frames of "
                "288x288 pixels in 18x18 patches. Returns spatiotemporal "
                "features."
            ),
            "params": 353965056,
            "num_frames": 8,
            "resolution": 288,
            "patch_size": 18,
            "official_checkpoint": "google/videoprism-large-f8r288",
            "path": "video_prism",
        },
        "kaggle_handle": (
            "kaggle://keras/videoprism/keras/videoprism_public_v1_large/1"
        ),
    },
    "videoprism_lvt_public_v1_base": {
        "metadata": {
            "description": (
                "248 million parameter video-text model: the base video "
                "encoder (16 frames, 288x288), 2 auxiliary layers, an "
                "attention pooler and a 12-layer text encoder with a "
                "32,000-piece SentencePiece vocabulary. Returns "
                "L2-normalized video and text embeddings."
            ),
            "params": 247623424,
            "num_frames": 16,
            "resolution": 288,
            "patch_size": 18,
            "vocabulary_size": 32000,
            "official_checkpoint": "google/videoprism-lvt-base-f16r288",
            "path": "video_prism",
        },
        "kaggle_handle": (
            "kaggle://keras/videoprism/keras/videoprism_lvt_public_v1_base/1"
        ),
    },
    "videoprism_lvt_public_v1_large": {
        "metadata": {
            "description": (
                "580 million parameter video-text model: the large video "
                "encoder (8 frames, 288x288), 2 auxiliary layers, an "
                "attention pooler and a 12-layer text encoder with a "
                "32,000-piece SentencePiece vocabulary. Returns "
                "L2-normalized video and text embeddings."
            ),
            "params": 579877120,
            "num_frames": 8,
            "resolution": 288,
            "patch_size": 18,
            "vocabulary_size": 32000,
            "official_checkpoint": "google/videoprism-lvt-large-f8r288",
            "path": "video_prism",
        },
        "kaggle_handle": (
            "kaggle://keras/videoprism/keras/videoprism_lvt_public_v1_large/1"
        ),
    },
}
