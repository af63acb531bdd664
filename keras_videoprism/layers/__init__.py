"""Building blocks of VideoPrism (experimental: their API may change)."""

from keras_videoprism.layers.contrastive_logits import ContrastiveLogits
from keras_videoprism.layers.video_prism_attention import VideoPrismAttention
from keras_videoprism.layers.video_prism_attention_pooler import (
    VideoPrismAttentionPooler,
)
from keras_videoprism.layers.video_prism_factorized_encoder import (
    VideoPrismFactorizedEncoder,
)
from keras_videoprism.layers.video_prism_l2_normalization import (
    VideoPrismL2Normalization,
)
from keras_videoprism.layers.video_prism_patch_embedding import (
    VideoPrismPatchEmbedding,
)
from keras_videoprism.layers.video_prism_position_embedding import (
    VideoPrismPositionEmbedding,
)
from keras_videoprism.layers.video_prism_text_encoder import (
    VideoPrismTextEncoder,
)
from keras_videoprism.layers.video_prism_transformer import (
    VideoPrismTransformerBlock,
)
from keras_videoprism.layers.video_prism_transformer import (
    VideoPrismTransformerStack,
)

# The video converter sits beside the backbone (it needs the backbone class
# for `from_preset`) and is exported here, like keras-hub's converters.
from keras_videoprism.models.video_prism_video_converter import (
    VideoPrismVideoConverter,
)

__all__ = [
    "ContrastiveLogits",
    "VideoPrismAttention",
    "VideoPrismAttentionPooler",
    "VideoPrismFactorizedEncoder",
    "VideoPrismL2Normalization",
    "VideoPrismPatchEmbedding",
    "VideoPrismPositionEmbedding",
    "VideoPrismTextEncoder",
    "VideoPrismTransformerBlock",
    "VideoPrismTransformerStack",
    "VideoPrismVideoConverter",
]
