import keras
import keras_hub

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
from keras_videoprism.layers.video_prism_text_encoder import (
    VideoPrismTextEncoder,
)
from keras_videoprism.layers.video_prism_transformer import (
    VideoPrismTransformerStack,
)
from keras_videoprism.models import task_data
from keras_videoprism.models import video_prism_inputs as inputs_lib
from keras_videoprism.models.jax_state_guard import JaxStateGuardMixin
from keras_videoprism.models.video_prism_preset_loader import (
    VideoPrismPresetMixin,
)


@keras.saving.register_keras_serializable(package="keras_videoprism")
class VideoPrismBackbone(
    JaxStateGuardMixin, VideoPrismPresetMixin, keras_hub.models.Backbone
):
    """VideoPrism video encoder, alone or with its text tower (LvT).

    The video encoder is the factorized ViViT of the official model: frames
    are cut into patches and projected, a spatial transformer runs over the
    patches of each frame, a temporal transformer over the frames of each
    patch position. With `num_text_layers > 0` the backbone is the video-text
    model: an auxiliary transformer and an attention pooler turn the video
    features into one embedding, and a CoCa-style causal text tower embeds
    text into the same space.

    Any frame count and any frame size that is a multiple of `patch_size`
    (rectangular too) is accepted: `num_frames` and `image_shape` give the
    size the position tables were trained at, and the tables are resized to
    the input exactly as the official model resizes them.

    Inputs: `pixel_values` `(B, T, H, W, 3)` RGB in `[0, 1]` (no mean/std
    normalisation; `(B, T, 3, H, W)` with `data_format="channels_first"`).
    `uint8` and `uint16` pixels are rescaled by their dtype's range (255,
    65535); other integer dtypes raise a `TypeError`, and float pixels
    clearly outside `[0, 1]` (e.g. `[0, 255]`) or non-finite raise a
    `ValueError` in eager calls and before `predict()`/`fit()` start;
    optional `frame_padding_mask` `(B, T)`, 1 = real frame, so clips of
    different lengths can share a batch (padded frames are masked in the
    encoder as in the official `frame_paddings`); for the video-text model
    `token_ids` `(B, L)` and `padding_mask` `(B, L)`, 1 = real token.

    Args:
        num_frames: int. Frames the temporal position table was trained with
            (16 for the base presets, 8 for large).
        patch_size: int. Patch side in pixels (18 in every preset).
        hidden_dim: int. Model width D.
        intermediate_dim: int. MLP width of the video transformers.
        num_heads: int. Attention heads of every transformer and pooler.
        num_spatial_layers: int. Depth of the spatial transformer.
        num_temporal_layers: int. Depth of the temporal transformer.
        num_auxiliary_layers: int. Depth of the auxiliary transformer of the
            video-text model (ignored when `num_text_layers == 0`).
        vocabulary_size: int. Text vocabulary size. Defaults to `0`.
        num_text_layers: int. Depth of the text tower; `0` makes a video-only
            backbone. Defaults to `0`.
        dropout_rate: float. Dropout on the transformer branches. Defaults to
            `0.0`.
        attention_dropout_rate: float. Dropout on attention weights. Defaults
            to `0.0`.
        attention_logit_soft_cap: float or None. Tanh cap of the attention
            logits (50.0 in every preset). Defaults to `None`.
        layer_norm_epsilon: float. Defaults to `1e-6`.
        image_shape: tuple of 3 ints. Frame shape the spatial position table
            was trained at, `(H, W, C)` (`(C, H, W)` for channels_first).
            Defaults to `(288, 288, 3)`.
        text_norm_policy: str. `"pre"` (base and large) or
            `"primer_hybrid"` (giant). Defaults to `"pre"`.
        rematerialize: bool. Recompute every transformer block's
            activations in the backward pass instead of storing them, to
            fine-tune longer clips or larger batches in the same memory
            (about one extra forward pass of compute; same numbers).
            Defaults to `False`.
        data_format: None or str. `"channels_last"` or `"channels_first"`;
            defaults to `keras.config.image_data_format()`.
        dtype: None, str or `keras.DTypePolicy`. Softmax, the position
            tables and L2 normalisation always run in float32.

    Returns:
        Video-only: features `(B, T, N, D)`, `N = (H / P) * (W / P)`
        patches per frame in row-major order. Video-text: a dict with
        `"vision_embeddings"` and `"text_embeddings"`, both `(B, D)` and
        L2-normalised as the official model returns them.

    Example:

    ```python
    backbone = keras_videoprism.models.VideoPrismBackbone.from_preset(
        "videoprism_public_v1_base"
    )
    video = np.random.rand(1, 16, 288, 288, 3).astype("float32")
    features = backbone.predict(video)  # (1, 16, 256, 768)

    # Clips of different lengths in one batch: pad and mask frames.
    mask = np.array([[1] * 16])
    features = backbone.predict(
        {"pixel_values": video, "frame_padding_mask": mask}
    )
    spatial = backbone.get_spatial_features(video)  # (1, 16, 256, 768)
    ```

    References:
        - [VideoPrism](https://arxiv.org/abs/2402.13217)
        - [ViViT](https://arxiv.org/abs/2103.15691)
        - [CoCa](https://arxiv.org/abs/2205.01917)
    """

    def __init__(
        self,
        num_frames,
        patch_size,
        hidden_dim,
        intermediate_dim,
        num_heads,
        num_spatial_layers,
        num_temporal_layers,
        num_auxiliary_layers,
        vocabulary_size=0,
        num_text_layers=0,
        dropout_rate=0.0,
        attention_dropout_rate=0.0,
        attention_logit_soft_cap=None,
        layer_norm_epsilon=1e-6,
        image_shape=(288, 288, 3),
        text_norm_policy="pre",
        rematerialize=False,
        data_format=None,
        dtype=None,
        **kwargs,
    ):
        data_format = data_format or keras.config.image_data_format()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(
                "`data_format` must be 'channels_last' or 'channels_first'. "
                f"Received: data_format={data_format}"
            )
        image_shape = tuple(image_shape)
        if len(image_shape) != 3:
            raise ValueError(
                "`image_shape` must be three integers, (height, width, "
                "channels), or (channels, height, width) with "
                f"channels_first. Received: image_shape={image_shape}"
            )
        if data_format == "channels_last":
            height, width, channels = image_shape
        else:
            channels, height, width = image_shape
        if height % patch_size or width % patch_size:
            raise ValueError(
                "The trained frame size must be a multiple of `patch_size`. "
                f"Received: image_shape={image_shape}, "
                f"patch_size={patch_size}"
            )
        if hidden_dim % num_heads:
            raise ValueError(
                "`hidden_dim` must be divisible by `num_heads`. Received: "
                f"hidden_dim={hidden_dim}, num_heads={num_heads}"
            )
        has_text = num_text_layers > 0
        if has_text and vocabulary_size < 1:
            raise ValueError(
                "A text tower (`num_text_layers > 0`) needs "
                f"`vocabulary_size >= 1`. Received: vocabulary_size="
                f"{vocabulary_size}"
            )

        # === Layers ===
        self.to_channels_last = None
        if data_format == "channels_first":
            self.to_channels_last = keras.layers.Permute(
                (1, 3, 4, 2), dtype=dtype, name="to_channels_last"
            )
        self.patch_embedding = VideoPrismPatchEmbedding(
            patch_size=patch_size,
            hidden_dim=hidden_dim,
            dtype=dtype,
            name="patch_embedding",
        )
        self.factorized_encoder = VideoPrismFactorizedEncoder(
            num_frames=num_frames,
            grid_size=(height // patch_size, width // patch_size),
            hidden_dim=hidden_dim,
            intermediate_dim=intermediate_dim,
            num_heads=num_heads,
            num_spatial_layers=num_spatial_layers,
            num_temporal_layers=num_temporal_layers,
            attention_logit_soft_cap=attention_logit_soft_cap,
            dropout_rate=dropout_rate,
            attention_dropout_rate=attention_dropout_rate,
            layer_norm_epsilon=layer_norm_epsilon,
            rematerialize=rematerialize,
            dtype=dtype,
            name="factorized_encoder",
        )
        self.auxiliary_encoder = None
        if has_text:
            if num_auxiliary_layers > 0:
                self.auxiliary_encoder = VideoPrismTransformerStack(
                    num_layers=num_auxiliary_layers,
                    hidden_dim=hidden_dim,
                    intermediate_dim=intermediate_dim,
                    num_heads=num_heads,
                    # Frames and patches form one sequence.
                    num_sequence_axes=2,
                    attention_logit_soft_cap=attention_logit_soft_cap,
                    dropout_rate=dropout_rate,
                    attention_dropout_rate=attention_dropout_rate,
                    layer_norm_epsilon=layer_norm_epsilon,
                    rematerialize=rematerialize,
                    dtype=dtype,
                    name="auxiliary_encoder",
                )
            self.flatten_tokens = keras.layers.Reshape(
                (-1, hidden_dim), dtype=dtype, name="flatten_tokens"
            )
            self.video_pooler = VideoPrismAttentionPooler(
                hidden_dim=hidden_dim,
                num_heads=num_heads,
                attention_dim=4 * hidden_dim,
                layer_norm_epsilon=layer_norm_epsilon,
                dtype=dtype,
                name="video_pooler",
            )
            self.text_encoder = VideoPrismTextEncoder(
                vocabulary_size=vocabulary_size,
                hidden_dim=hidden_dim,
                num_layers=num_text_layers,
                num_heads=num_heads,
                norm_policy=text_norm_policy,
                attention_logit_soft_cap=attention_logit_soft_cap,
                dropout_rate=dropout_rate,
                attention_dropout_rate=attention_dropout_rate,
                layer_norm_epsilon=layer_norm_epsilon,
                rematerialize=rematerialize,
                dtype=dtype,
                name="text_encoder",
            )
            self.l2_normalization = VideoPrismL2Normalization(
                dtype=dtype, name="l2_normalization"
            )

        # === Functional Model ===
        if data_format == "channels_last":
            video_shape = (None, None, None, channels)
        else:
            video_shape = (None, channels, None, None)
        inputs = {
            inputs_lib.PIXEL_VALUES: keras.Input(
                shape=video_shape, name=inputs_lib.PIXEL_VALUES
            ),
            inputs_lib.FRAME_PADDING_MASK: keras.Input(
                shape=(None,),
                dtype="int32",
                name=inputs_lib.FRAME_PADDING_MASK,
                optional=True,
            ),
        }
        if has_text:
            for name in inputs_lib.TEXT_INPUTS:
                inputs[name] = keras.Input(
                    shape=(None,), dtype="int32", name=name
                )
        features = self._encode_video(
            inputs[inputs_lib.PIXEL_VALUES],
            inputs[inputs_lib.FRAME_PADDING_MASK],
        )
        outputs = features
        if has_text:
            outputs = {
                "vision_embeddings": self.l2_normalization(
                    self._pool_video(features)
                ),
                "text_embeddings": self.l2_normalization(
                    self.text_encoder(
                        inputs[inputs_lib.TOKEN_IDS],
                        inputs[inputs_lib.PADDING_MASK],
                    )
                ),
            }
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.num_frames = num_frames
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.num_heads = num_heads
        self.num_spatial_layers = num_spatial_layers
        self.num_temporal_layers = num_temporal_layers
        self.num_auxiliary_layers = num_auxiliary_layers
        self.vocabulary_size = vocabulary_size
        self.num_text_layers = num_text_layers
        self.dropout_rate = dropout_rate
        self.attention_dropout_rate = attention_dropout_rate
        self.attention_logit_soft_cap = attention_logit_soft_cap
        self.layer_norm_epsilon = layer_norm_epsilon
        self.image_shape = image_shape
        self.text_norm_policy = text_norm_policy
        self.rematerialize = rematerialize
        self.data_format = data_format
        self.num_channels = channels

    @property
    def has_text_encoder(self):
        """Whether this is a video-text (LvT) backbone."""
        return self.num_text_layers > 0

    # --- Input handling shared by `__call__` and `call` -------------------
    def standardize_inputs(self, inputs, check=True):
        """Completes and validates model inputs (see `video_prism_inputs`).

        Args:
            inputs: a video batch or a dict of the backbone's inputs.
            check: bool. Whether to validate them. Defaults to `True`.

        Returns:
            The dict of every input, `frame_padding_mask` `None` if absent.
        """
        inputs = inputs_lib.standardize_inputs(
            inputs,
            has_text=self.has_text_encoder,
            patch_size=self.patch_size,
            channels=self.num_channels,
            data_format=self.data_format,
            check=check,
        )
        if check and self.has_text_encoder:
            inputs_lib.check_token_ids(
                inputs[inputs_lib.TOKEN_IDS], self.vocabulary_size
            )
        return inputs

    def __call__(self, inputs, *args, **kwargs):
        inputs = inputs_lib.rescale_pixels(self.standardize_inputs(inputs))
        inputs = inputs_lib.fill_symbolic_frame_mask(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, *args, **kwargs):
        # JAX's `predict`/`fit` reach `call` through `stateless_call`, inside
        # the step: inputs were checked before it, and nothing may raise.
        inputs = self.standardize_inputs(inputs, check=False)
        return super().call(inputs_lib.rescale_pixels(inputs), *args, **kwargs)

    def compute_output_spec(self, inputs, *args, **kwargs):
        # A bare video, or a dict without `frame_padding_mask`, as `call`.
        inputs = self.standardize_inputs(inputs, check=False)
        inputs = inputs_lib.input_specs(inputs_lib.rescale_pixels(inputs))
        return super().compute_output_spec(inputs, *args, **kwargs)

    # --- Keras loops: inputs checked before the first step ----------------
    def _check_loop_inputs(self, x):
        task_data.check_not_empty(x)
        if not task_data.is_array_data(x):
            return x
        if not isinstance(x, dict) and not hasattr(x, "shape"):
            return x
        inputs = inputs_lib.rescale_pixels(self.standardize_inputs(x))
        if not isinstance(x, dict):
            return inputs[inputs_lib.PIXEL_VALUES]
        return {**x, inputs_lib.PIXEL_VALUES: inputs[inputs_lib.PIXEL_VALUES]}

    def fit(self, x=None, *args, **kwargs):
        x = self._check_loop_inputs(x)
        with self.keeping_jax_state():
            return super().fit(x, *args, **kwargs)

    def evaluate(self, x=None, *args, **kwargs):
        x = self._check_loop_inputs(x)
        with self.keeping_jax_state():
            return super().evaluate(x, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        x = self._check_loop_inputs(x)
        with self.keeping_jax_state():
            return super().predict(x, *args, **kwargs)

    # --- The towers, used by the graph and by the public methods ----------
    def _encode_video(
        self, pixel_values, frame_padding_mask=None, spatial=False
    ):
        x = pixel_values
        if self.to_channels_last is not None:
            x = self.to_channels_last(x)
        tokens = self.patch_embedding(x)
        return self.factorized_encoder(
            tokens,
            frame_padding_mask=frame_padding_mask,
            return_spatial_features=spatial,
        )

    def _auxiliary_tokens(self, features):
        if self.auxiliary_encoder is None:
            return features
        return self.auxiliary_encoder(features)

    def _pool_video(self, features):
        tokens = self.flatten_tokens(self._auxiliary_tokens(features))
        return self.video_pooler(tokens)

    def _check_video(self, pixel_values, frame_padding_mask):
        """Validates a video and its mask; returns float pixel values."""
        inputs = inputs_lib.standardize_inputs(
            {
                inputs_lib.PIXEL_VALUES: pixel_values,
                inputs_lib.FRAME_PADDING_MASK: frame_padding_mask,
            },
            has_text=False,
            patch_size=self.patch_size,
            channels=self.num_channels,
            data_format=self.data_format,
        )
        return inputs_lib.rescale_pixels(inputs)[inputs_lib.PIXEL_VALUES]

    def _require_text_encoder(self, method):
        if not self.has_text_encoder:
            raise ValueError(
                f"`{method}()` needs a video-text (LvT) backbone; this one "
                "is video-only (`num_text_layers=0`). Use "
                "`get_video_features()` for its features."
            )

    def _maybe_normalize(self, embeddings, normalize):
        if normalize:
            return self.l2_normalization(embeddings)
        return embeddings

    # --- Public feature extraction ---------------------------------------
    def get_video_features(self, pixel_values, frame_padding_mask=None):
        """Spatiotemporal features of the video encoder.

        Args:
            pixel_values: video `(B, T, H, W, 3)`, RGB in `[0, 1]`.
            frame_padding_mask: optional `(B, T)`, 1 = real frame.

        Returns:
            Features `(B, T, N, D)` (the official `spatiotemporal_features`
            viewed per frame; for a video-only backbone, its output).

        Example:

        ```python
        features = backbone.get_video_features(video)
        ```
        """
        pixel_values = self._check_video(pixel_values, frame_padding_mask)
        return self._encode_video(pixel_values, frame_padding_mask)

    def get_spatial_features(self, pixel_values, frame_padding_mask=None):
        """Output of the spatial stage (after its LayerNorm).

        Args:
            pixel_values: video `(B, T, H, W, 3)`, RGB in `[0, 1]`.
            frame_padding_mask: optional `(B, T)`, 1 = real frame.

        Returns:
            Per-frame features `(B, T, N, D)`, before any temporal mixing.

        Example:

        ```python
        spatial = backbone.get_spatial_features(video)
        ```
        """
        pixel_values = self._check_video(pixel_values, frame_padding_mask)
        spatial, _ = self._encode_video(
            pixel_values, frame_padding_mask, spatial=True
        )
        return spatial

    def get_video_embeddings(
        self, pixel_values, frame_padding_mask=None, normalize=True
    ):
        """One embedding per video, in the text embedding space (LvT only).

        Runs only the video tower. Padded frames are masked in the encoder
        but, as in the official model, still reach the pooler.

        Args:
            pixel_values: video `(B, T, H, W, 3)`, RGB in `[0, 1]`.
            frame_padding_mask: optional `(B, T)`, 1 = real frame.
            normalize: bool. L2-normalise. Defaults to `True`.

        Returns:
            Embeddings `(B, D)`.

        Example:

        ```python
        video_embeddings = backbone.get_video_embeddings(video)
        ```
        """
        self._require_text_encoder("get_video_embeddings")
        pixel_values = self._check_video(pixel_values, frame_padding_mask)
        features = self._encode_video(pixel_values, frame_padding_mask)
        return self._maybe_normalize(self._pool_video(features), normalize)

    def get_frame_embeddings(
        self, pixel_values, frame_padding_mask=None, normalize=True
    ):
        """One embedding per frame (LvT only), as the official model's.

        The auxiliary encoder runs over the whole clip, then the video
        pooler pools the patches of each frame separately.

        Args:
            pixel_values: video `(B, T, H, W, 3)`, RGB in `[0, 1]`.
            frame_padding_mask: optional `(B, T)`, 1 = real frame.
            normalize: bool. L2-normalise. Defaults to `True`.

        Returns:
            Embeddings `(B, T, D)`.

        Example:

        ```python
        frame_embeddings = backbone.get_frame_embeddings(video)
        ```
        """
        self._require_text_encoder("get_frame_embeddings")
        pixel_values = self._check_video(pixel_values, frame_padding_mask)
        features = self._encode_video(pixel_values, frame_padding_mask)
        pooled = self.video_pooler(self._auxiliary_tokens(features))
        return self._maybe_normalize(pooled, normalize)

    def get_text_embeddings(self, token_ids, padding_mask, normalize=True):
        """One embedding per text (LvT only); runs only the text tower.

        Args:
            token_ids: int `(B, L)`, e.g. from `VideoPrismTokenizer`.
            padding_mask: `(B, L)`, 1 = real token.
            normalize: bool. L2-normalise. Defaults to `True`.

        Returns:
            Embeddings `(B, D)`.

        Example:

        ```python
        text_embeddings = backbone.get_text_embeddings(ids, mask)
        ```
        """
        self._require_text_encoder("get_text_embeddings")
        inputs_lib.check_text_inputs(token_ids, padding_mask)
        inputs_lib.check_token_ids(token_ids, self.vocabulary_size)
        embeddings = self.text_encoder(token_ids, padding_mask)
        return self._maybe_normalize(embeddings, normalize)

    @staticmethod
    def get_layout_map(
        device_mesh,
        model_parallel_dim_name="model",
        data_parallel_dim_name="batch",
    ):
        """A `keras.distribution.LayoutMap` for `ModelParallel` training.

        Every transformer (spatial, temporal, auxiliary, text) is sharded the
        Megatron way: the fused QKV projection and the first MLP layer split
        their output features over the model axis, the attention output
        projection and the second MLP layer their input features, so each
        block needs one reduction per branch. The poolers' projections and
        the token embedding are sharded the same way; everything else
        (norms, position tables, patch projection) is replicated.

        Args:
            device_mesh: `keras.distribution.DeviceMesh`.
            model_parallel_dim_name: str. The mesh axis that shards weights.
                Defaults to `"model"`.
            data_parallel_dim_name: str. The mesh axis that shards the batch.
                Defaults to `"batch"`.

        Returns:
            A `keras.distribution.LayoutMap`.

        Example:

        ```python
        devices = keras.distribution.list_devices()
        mesh = keras.distribution.DeviceMesh(
            (2, 4), ["batch", "model"], devices
        )
        layout_map = VideoPrismBackbone.get_layout_map(mesh)
        keras.distribution.set_distribution(
            keras.distribution.ModelParallel(
                layout_map=layout_map, batch_dim_name="batch"
            )
        )
        backbone = VideoPrismBackbone.from_preset(...)
        ```
        """
        for name in (model_parallel_dim_name, data_parallel_dim_name):
            if name not in device_mesh.axis_names:
                raise ValueError(
                    f"{name!r} is not an axis of the device mesh "
                    f"{device_mesh.axis_names}."
                )
        model = model_parallel_dim_name
        layout_map = keras.distribution.LayoutMap(device_mesh)
        column = (
            r"(qkv_projection|mlp_intermediate|query_projection"
            r"|key_value_projection)"
        )
        row = (
            r"(attention/output_projection|mlp_output|pooler/output_projection)"
        )
        layout_map[rf".*{column}/kernel"] = (None, model)
        layout_map[rf".*{column}/bias"] = (model,)
        layout_map[rf".*{row}/kernel"] = (model, None)
        layout_map[r".*token_embedding/embeddings"] = (model, None)
        return layout_map

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_frames": self.num_frames,
                "patch_size": self.patch_size,
                "hidden_dim": self.hidden_dim,
                "intermediate_dim": self.intermediate_dim,
                "num_heads": self.num_heads,
                "num_spatial_layers": self.num_spatial_layers,
                "num_temporal_layers": self.num_temporal_layers,
                "num_auxiliary_layers": self.num_auxiliary_layers,
                "vocabulary_size": self.vocabulary_size,
                "num_text_layers": self.num_text_layers,
                "dropout_rate": self.dropout_rate,
                "attention_dropout_rate": self.attention_dropout_rate,
                "attention_logit_soft_cap": self.attention_logit_soft_cap,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "image_shape": self.image_shape,
                "text_norm_policy": self.text_norm_policy,
                "rematerialize": self.rematerialize,
                "data_format": self.data_format,
            }
        )
        return config
