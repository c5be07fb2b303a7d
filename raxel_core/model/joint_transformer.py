"""The joint video + ray diffusion transformer of Rays as Pixels, built on Wan 2.1's layers.

Source: Rays as Pixels (arXiv 2604.09429), Sec. 3.3: Wan 2.1 with every self-attention replaced by
Decoupled Self-Cross Attention (DSCA) and a parallel ray branch with its own norms, FFN and linear
layers. The video branch's layers are diffusers' Wan 2.1 layers (``WanAttention`` projections and
q/k RMS norms, ``FeedForward``, ``FP32LayerNorm``, ``Timesteps`` / ``TimestepEmbedding`` /
``PixArtAlphaTextProjection``) under the same names, so a Wan 2.1 text-to-video checkpoint loads
into it (:mod:`raxel_core.model.wan_weights`) and, with no ray stream, the model computes exactly
what diffusers' ``WanTransformer3DModel`` computes.

One DSCA block, per branch b in {video, ray} (x_b its tokens, e_b its per-frame timestep
modulation: shift / scale / gate for attention and FFN, as Wan's adaLN):

1. self-attention within the branch:  x_b += gate * SelfAttn(LN(x_b) (1 + scale) + shift)  (3D RoPE)
2. cross-attention across branches, both from the states after step 1:
   x_video += CrossAttn_video(q = LN'(x_video), kv = LN'(x_ray))   (RoPE on q and k)
   x_ray   += CrossAttn_ray(q = LN'(x_ray), kv = LN'(x_video))
   (affine LayerNorms LN', no timestep modulation; output projections zero-initialised, so the
   joint model starts as the video-only model; with ``config.cross_attention_locality > 0`` both
   add the parameter-free locality bias of :func:`locality_bias` to their logits)
3. text cross-attention (video branch; ray branch too if ``ray_text_cross_attention``), as Wan;
4. feed-forward:  x_b += gate' * FFN(LN(x_b) (1 + scale') + shift').

Steps 2 is skipped when one stream is absent (``video=None`` or ``rays=None``), which is how the
video branch alone reproduces Wan.

Token layout (the caller's choice; the model only sees two frame sequences): along frames,
``source frames | sparse target frames | video target frames``, each frame of the video stream with
its ray frame(s) in the ray stream at the same place (Sec. 3.3 of the paper). Which frames are
clean conditioning and which are denoised is given by the per-frame timesteps (0 = clean).

Timesteps follow Wan's convention: float in [0, 1000], 1000 = pure noise, 0 = clean data. A
flow-matching sampler with ``x_t = (1 - t) x_0 + t x_1`` (t = 1 clean) passes ``1000 (1 - t)``.
The output is the network's velocity prediction in Wan's sign convention (noise - data).
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers.models.attention import FeedForward
from diffusers.models.embeddings import PixArtAlphaTextProjection, TimestepEmbedding, Timesteps
from diffusers.models.normalization import FP32LayerNorm
from diffusers.models.transformers.transformer_wan import WanAttention
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from ..formats.text_files import atomic_path, write_text_atomic
from .attention import attention
from .config import JointModelConfig
from .rope import (
    absolute_position_embedding,
    apply_rotary,
    ray_frame_to_video_frame,
    ray_token_positions,
    rotary_cos_sin,
    video_token_positions,
)
from .track_conditioner import TrackCondition, TrackConditioner

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
#: Largest accepted timestep (Wan's convention: 1000 = pure noise).
MAX_TIMESTEP = 1000.0

Rope = tuple[torch.Tensor, torch.Tensor]


def attend(attn: WanAttention, x: torch.Tensor, context: torch.Tensor, rope_q: Rope | None = None,
           rope_k: Rope | None = None, backend: str = "auto", bias: torch.Tensor | None = None) -> torch.Tensor:
    """Run one Wan attention layer: projections, q/k RMS norms, RoPE, :func:`attention`, output.

    Same arithmetic as diffusers' ``WanAttnProcessor`` (text-to-video path), but with separate
    rotary tables for queries and keys, so queries of one stream can attend to keys of another.

    Args:
        attn: a diffusers ``WanAttention`` (its ``to_q/to_k/to_v/to_out/norm_q/norm_k``).
        x: (B, Lq, dim) query tokens.
        context: (B, Lk, dim) key / value tokens (``x`` itself for self-attention).
        rope_q, rope_k: ``(cos, sin)`` tables (1, L, 1, head_dim) for queries / keys, or None.
        bias: optional (1, heads, Lq, Lk) additive logit bias (:func:`locality_bias`).

    Returns:
        (B, Lq, dim).
    """
    q = attn.norm_q(attn.to_q(x)).unflatten(2, (attn.heads, -1))
    k = attn.norm_k(attn.to_k(context)).unflatten(2, (attn.heads, -1))
    v = attn.to_v(context).unflatten(2, (attn.heads, -1))
    if rope_q is not None:
        q = apply_rotary(q, *rope_q)
    if rope_k is not None:
        k = apply_rotary(k, *rope_k)
    out = attention(q, k, v, backend=backend, bias=bias).flatten(2, 3).type_as(q)
    return attn.to_out[1](attn.to_out[0](out))


def locality_bias(query_positions: torch.Tensor, key_positions: torch.Tensor, heads: int, strength: float,
                  device=None, source_heads: int = 0) -> torch.Tensor:
    """ALiBi-like locality bias ``-strength 2^-h |p_q - p_k|^2`` of head ``h``
    (:attr:`JointModelConfig.cross_attention_locality`).

    With ``source_heads = n > 0`` the last ``n`` heads look at the *source* frame instead of the query's
    own frame: their frame term is ``(f_k - f_src)^2`` (``f_src`` the smallest key frame position, the
    source frame the raxels are expressed in) and their slopes restart at ``strength``
    (:attr:`JointModelConfig.cross_attention_source_heads`).

    Args:
        query_positions, key_positions: (Lq, 3) / (Lk, 3) (frame, row, column) token positions in
            video-token units (:func:`raxel_core.model.rope.video_token_positions`, ``ray_token_positions``).
        heads: attention heads; strength: ``a >= 0``; source_heads: ``0 <= n < heads``.
    Returns:
        (1, heads, Lq, Lk) float32 on ``device``.
    Raises:
        ValueError: ``source_heads`` outside ``[0, heads - 1]``.
    """
    if not 0 <= source_heads < heads:
        raise ValueError(f"source_heads must be in [0, {heads - 1}] for {heads} heads; got {source_heads}")
    diff = (query_positions[:, None, :] - key_positions[None, :, :]).float()
    spatial = diff[..., 1:].square().sum(-1)
    local = heads - source_heads
    slopes = strength * 2.0 ** -torch.arange(local, dtype=torch.float32)
    bias = -slopes[:, None, None] * (spatial + diff[..., 0].square())[None]
    if source_heads:
        key_frames = key_positions[:, 0].float()
        to_source = (key_frames - key_frames.min()).square()[None, :] + spatial
        source_slopes = strength * 2.0 ** -torch.arange(source_heads, dtype=torch.float32)
        bias = torch.cat([bias, -source_slopes[:, None, None] * to_source[None]], 0)
    return bias.unsqueeze(0).to(device)


def _per_frame(x: torch.Tensor, frames: int) -> torch.Tensor:
    """(B, F*S, D) -> (B, F, S, D): tokens grouped by frame for per-frame modulation."""
    return x.unflatten(1, (frames, -1))


class BranchLayers(nn.Module):
    """One branch (video or ray) of one DSCA block; the video one has Wan 2.1's block layers
    under diffusers' names (norm1, attn1, norm2, attn2, norm3, ffn, scale_shift_table) plus the
    DSCA cross-attention (cross_norm, attn_cross)."""

    def __init__(self, dim: int, heads: int, ffn_dim: int, eps: float, text: bool, cross_attn_norm: bool):
        super().__init__()
        head_dim = dim // heads
        self.norm1 = FP32LayerNorm(dim, eps, elementwise_affine=False)
        self.attn1 = WanAttention(dim=dim, heads=heads, dim_head=head_dim, eps=eps)
        self.cross_norm = FP32LayerNorm(dim, eps, elementwise_affine=True)
        self.attn_cross = WanAttention(dim=dim, heads=heads, dim_head=head_dim, eps=eps,
                                       cross_attention_dim_head=head_dim)
        if text:
            self.norm2 = FP32LayerNorm(dim, eps, elementwise_affine=True) if cross_attn_norm else nn.Identity()
            self.attn2 = WanAttention(dim=dim, heads=heads, dim_head=head_dim, eps=eps,
                                      cross_attention_dim_head=head_dim)
        else:
            self.norm2 = None
            self.attn2 = None
        self.ffn = FeedForward(dim, inner_dim=ffn_dim, activation_fn="gelu-approximate")
        self.norm3 = FP32LayerNorm(dim, eps, elementwise_affine=False)
        self.scale_shift_table = nn.Parameter(torch.randn(1, 6, dim) / dim**0.5)

    def modulation(self, frame_mod: torch.Tensor) -> list[torch.Tensor]:
        """(B, F, 6, D) per-frame timestep projection -> six (B, F, 1, D) float32 tensors
        (shift, scale, gate of attention; shift, scale, gate of the FFN), Wan's adaLN."""
        e = self.scale_shift_table.unsqueeze(0) + frame_mod.float()
        return [m.unsqueeze(2) for m in e.unbind(2)]

    def self_attention(self, x, e, rope, frames, backend):
        shift, scale, gate = e[0], e[1], e[2]
        xf = _per_frame(x, frames)
        h = (self.norm1(xf.float()) * (1 + scale) + shift).type_as(x).flatten(1, 2)
        out = attend(self.attn1, h, h, rope, rope, backend)
        return (xf.float() + _per_frame(out, frames) * gate).type_as(x).flatten(1, 2)

    def text_attention(self, x, text, backend):
        if self.attn2 is None:
            return x
        h = self.norm2(x.float()).type_as(x)
        return x + attend(self.attn2, h, text, None, None, backend)

    def feed_forward(self, x, e, frames):
        shift, scale, gate = e[3], e[4], e[5]
        xf = _per_frame(x, frames)
        h = (self.norm3(xf.float()) * (1 + scale) + shift).type_as(x)
        out = self.ffn(h)
        return (xf.float() + out.float() * gate).type_as(x).flatten(1, 2)


class DSCABlock(nn.Module):
    """Decoupled Self-Cross Attention block (Rays as Pixels, Sec. 3.3): a video and a ray branch."""

    def __init__(self, config: JointModelConfig):
        super().__init__()
        c = config
        self.video = BranchLayers(c.dim, c.num_attention_heads, c.ffn_dim, c.eps, c.text_cross_attention,
                                  c.cross_attn_norm)
        self.ray = BranchLayers(c.dim, c.num_attention_heads, c.ray_ffn_width, c.eps,
                                c.ray_text_cross_attention, c.cross_attn_norm)

    def forward(self, video, rays, text, video_mod, ray_mod, video_rope, ray_rope, video_frames, ray_frames,
                backend="auto", cross_bias=None):
        ev = self.video.modulation(video_mod) if video is not None else None
        er = self.ray.modulation(ray_mod) if rays is not None else None
        # 1. self-attention within each branch
        if video is not None:
            video = self.video.self_attention(video, ev, video_rope, video_frames, backend)
        if rays is not None:
            rays = self.ray.self_attention(rays, er, ray_rope, ray_frames, backend)
        # 2. cross-attention both ways, both from the post-self-attention states
        if video is not None and rays is not None:
            v_ctx = self.video.cross_norm(video.float()).type_as(video)
            r_ctx = self.ray.cross_norm(rays.float()).type_as(rays)
            v_bias, r_bias = cross_bias if cross_bias is not None else (None, None)
            video, rays = (video + attend(self.video.attn_cross, v_ctx, r_ctx, video_rope, ray_rope, backend, v_bias),
                           rays + attend(self.ray.attn_cross, r_ctx, v_ctx, ray_rope, video_rope, backend, r_bias))
        # 3. text cross-attention, 4. feed-forward
        if video is not None:
            video = self.video.feed_forward(self.video.text_attention(video, text, backend), ev, video_frames)
        if rays is not None:
            rays = self.ray.feed_forward(self.ray.text_attention(rays, text, backend), er, ray_frames)
        return video, rays


class StreamEnds(nn.Module):
    """Input and output layers of one stream: patch embedding, timestep embedding, output head
    (Wan's ``patch_embedding``, ``condition_embedder.time_embedder / time_proj``, ``norm_out``,
    ``proj_out``, ``scale_shift_table``)."""

    def __init__(self, in_channels: int, out_channels: int, patch_size: tuple[int, int, int], dim: int,
                 freq_dim: int, eps: float):
        super().__init__()
        self.patch_size = tuple(patch_size)
        self.patch_embedding = nn.Conv3d(in_channels, dim, kernel_size=patch_size, stride=patch_size)
        self.timesteps_proj = Timesteps(num_channels=freq_dim, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embedder = TimestepEmbedding(in_channels=freq_dim, time_embed_dim=dim)
        self.time_proj = nn.Linear(dim, dim * 6)
        self.norm_out = FP32LayerNorm(dim, eps, elementwise_affine=False)
        self.proj_out = nn.Linear(dim, out_channels * math.prod(patch_size))
        self.scale_shift_table = nn.Parameter(torch.randn(1, 2, dim) / dim**0.5)

    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int]]:
        """(B, C, F, H, W) -> tokens (B, F'*H'*W', dim) and the token grid (F', H', W')."""
        x = self.patch_embedding(x.to(self.patch_embedding.weight.dtype))
        grid = tuple(x.shape[2:])
        return x.flatten(2).transpose(1, 2).contiguous(), grid

    def time_embedding(self, timesteps: torch.Tensor, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, F') timesteps -> temb (B, F', dim) and the block modulation input (B, F', 6, dim)."""
        b, f = timesteps.shape
        t = self.timesteps_proj(timesteps.flatten())
        t = t.to(next(self.time_embedder.parameters()).dtype)
        temb = self.time_embedder(t).type_as(like)
        mod = self.time_proj(F.silu(temb))
        return temb.unflatten(0, (b, f)), mod.unflatten(0, (b, f)).unflatten(2, (6, -1))

    def head(self, x: torch.Tensor, temb: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
        """Tokens (B, L, dim) -> velocity (B, C_out, F, H, W) with Wan's modulated output head."""
        e = self.scale_shift_table.unsqueeze(0) + temb.unsqueeze(2)  # (B, F', 2, dim)
        shift, scale = e[:, :, 0:1], e[:, :, 1:2]
        xf = _per_frame(x, grid[0])
        x = (self.norm_out(xf.float()) * (1 + scale) + shift).type_as(x).flatten(1, 2)
        x = self.proj_out(x)
        b = x.shape[0]
        pt, ph, pw = self.patch_size
        x = x.reshape(b, grid[0], grid[1], grid[2], pt, ph, pw, -1)
        x = x.permute(0, 7, 1, 4, 2, 5, 3, 6)
        return x.flatten(6, 7).flatten(4, 5).flatten(2, 3)


class JointTransformer(nn.Module):
    """Joint video + ray diffusion transformer (Rays as Pixels, Sec. 3.3) on Wan 2.1 layers.

    Build with ``JointTransformer(JointModelConfig.small())``, load with :meth:`from_pretrained`,
    or load a Wan 2.1 T2V checkpoint into the video branch with
    :func:`raxel_core.model.load_wan_weights`. See the module docstring for the block and the
    token layout.

    Parameter names: ``video.*`` / ``ray.*`` (stream ends), ``blocks.N.video.*`` /
    ``blocks.N.ray.*`` (branches), ``text_embedder.*`` (Wan's text projection, when
    ``config.text_cross_attention``).
    """

    def __init__(self, config: JointModelConfig):
        super().__init__()
        if not isinstance(config, JointModelConfig):
            raise ValueError(f"JointTransformer needs a JointModelConfig, got {type(config).__name__}")
        self.config = config
        c = config
        self.video = StreamEnds(c.in_channels, c.video_out_channels, c.patch_size, c.dim, c.freq_dim, c.eps)
        self.ray = StreamEnds(c.ray_in_channels, c.rays_out_channels, c.ray_patch_size, c.dim, c.freq_dim, c.eps)
        self.text_embedder = (PixArtAlphaTextProjection(c.text_dim, c.dim, act_fn="gelu_tanh")
                              if c.text_cross_attention else None)
        self.blocks = nn.ModuleList([DSCABlock(c) for _ in range(c.num_layers)])
        self.track_conditioner = (TrackConditioner(c.dim, c.track_conditioner_layers, c.num_attention_heads,
                                                   c.track_fourier_bands, c.eps)
                                  if c.track_conditioner_layers else None)
        self.attention_backend = "auto"
        self.gradient_checkpointing = False
        self.zero_init_cross_outputs()

    # ------------------------------------------------------------------ initialisation
    @torch.no_grad()
    def zero_init_cross_outputs(self) -> None:
        """Zero the output projections of both video<->ray cross-attentions in every block, so
        that each stream's output equals its single-stream output (the paper starts from Wan)."""
        for block in self.blocks:
            for branch in (block.video, block.ray):
                branch.attn_cross.to_out[0].weight.zero_()
                branch.attn_cross.to_out[0].bias.zero_()

    # ------------------------------------------------------------------ forward
    def _check_stream(self, name: str, x: torch.Tensor, timesteps: torch.Tensor | None, channels: int,
                      patch: tuple[int, int, int]) -> torch.Tensor:
        if x.ndim != 5:
            raise ValueError(f"{name} must be (B, C, F, H, W), got shape {tuple(x.shape)}")
        b, ch, f, h, w = x.shape
        if ch != channels:
            raise ValueError(f"{name} has {ch} channels but the model takes {channels} "
                             f"({'in_channels' if name == 'video' else 'ray_in_channels'} in its config)")
        if f % patch[0] or h % patch[1] or w % patch[2]:
            raise ValueError(f"{name} frames x height x width {f}x{h}x{w} are not multiples of the patch size "
                             f"{patch}; crop or pad the {name}")
        tname = "video_timesteps" if name == "video" else "ray_timesteps"
        if timesteps is None:
            raise ValueError(f"{tname} is required when {name} is given: one timestep per frame, shape ({b}, {f})")
        timesteps = torch.as_tensor(timesteps, device=x.device)
        if timesteps.ndim == 1 and timesteps.shape[0] == b:
            timesteps = timesteps[:, None].expand(b, f)
        if timesteps.shape != (b, f):
            raise ValueError(f"{tname} must be (B, F) = ({b}, {f}), one timestep per {name} frame; "
                             f"got {tuple(timesteps.shape)}")
        timesteps = timesteps.float()
        if not torch.isfinite(timesteps).all() or timesteps.min() < 0 or timesteps.max() > MAX_TIMESTEP:
            raise ValueError(f"{tname} must lie in [0, {MAX_TIMESTEP:g}] (Wan's convention, 1000 = pure noise, "
                             f"0 = clean); got min {timesteps.min().item():g}, max {timesteps.max().item():g}")
        if patch[0] > 1:
            grouped = timesteps.unflatten(1, (-1, patch[0]))
            if not torch.equal(grouped, grouped[:, :, :1].expand_as(grouped)):
                raise ValueError(f"{tname}: frames within one temporal patch of {patch[0]} must share a timestep")
            timesteps = grouped[:, :, 0]
        return timesteps

    def forward(self, video: torch.Tensor | None, rays: torch.Tensor | None,
                video_timesteps: torch.Tensor | None, ray_timesteps: torch.Tensor | None,
                encoder_hidden_states: torch.Tensor | None = None, *,
                ray_frame_positions: torch.Tensor | None = None,
                track_condition: TrackCondition | None = None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Velocity predictions for the video and ray streams.

        Args:
            video: (B, Cv, Fv, Hv, Wv) noisy video (pixels or VAE latents), or None.
            rays: (B, Cr, Fr, Hr, Wr) noisy raxels (pixels or VAE latents of raxel images), at
                ``1 / raxel_downscale`` of the frame size, or None.
            video_timesteps: (B, Fv) per-frame timesteps of the video stream (a (B,) tensor is
                broadcast over frames); Wan convention: float in [0, 1000], 1000 = pure noise,
                0 = clean conditioning frame.
            ray_timesteps: (B, Fr) per-frame timesteps of the ray stream, same convention.
            encoder_hidden_states: (B, L, text_dim) text-encoder states (umT5, padded as Wan's
                pipeline pads them) when the model has text cross-attention; must be None otherwise.
            ray_frame_positions: optional (Fr,) position of each ray frame on the video's frame
                axis, in video latent frames (fractions allowed); default: ray frame f sits in the
                video latent frame that contains camera f
                (:func:`raxel_core.model.rope.ray_frame_to_video_frame`), right for one causally
                encoded clip. Give it when the video stream concatenates separately encoded pieces.
            track_condition: Track2View paired tracks (:class:`~raxel_core.model.track_conditioner.TrackCondition`,
                ``T`` frames) for a video stream ``[clean source | noised target]`` of ``2 T`` frames; the
                track conditioner's tokens are added to the embedded video tokens. Needs a model with
                ``config.track_conditioner_layers > 0``.

        Returns:
            ``(video_velocity, ray_velocity)`` with the shapes of ``video`` / ``rays`` (channels
            ``out_channels`` / ``ray_out_channels``), None where the stream is absent; dtype of
            the model.

        Raises:
            ValueError: no stream, wrong ranks / channels / patch multiples / batch sizes,
                timesteps of the wrong shape or outside [0, 1000], text given to a model without
                text cross-attention or missing for one with it, or ray and video grids that are
                not pixel-aligned (rays must be the frames' size / ``raxel_downscale``).
        """
        c = self.config
        if video is None and rays is None:
            raise ValueError("forward needs at least one stream: pass video, rays or both")
        if track_condition is not None and (self.track_conditioner is None or video is None):
            raise ValueError("a track condition was given but " + ("there is no video stream" if video is None else
                             "this model has no track conditioner (config.track_conditioner_layers is 0); load a "
                             "Track2View model or leave the track condition out"))
        if video is not None and rays is not None and video.shape[0] != rays.shape[0]:
            raise ValueError(f"video batch {video.shape[0]} != rays batch {rays.shape[0]}")
        if video is not None:
            video_timesteps = self._check_stream("video", video, video_timesteps, c.in_channels, c.patch_size)
        if rays is not None:
            ray_timesteps = self._check_stream("rays", rays, ray_timesteps, c.ray_in_channels, c.ray_patch_size)
        any_stream = video if video is not None else rays
        batch = any_stream.shape[0]

        text = None
        if c.text_cross_attention:
            if encoder_hidden_states is None:
                raise ValueError("this model has text cross-attention: pass encoder_hidden_states (B, L, "
                                 f"{c.text_dim}); for unconditional use, the encoding of an empty prompt")
            if (encoder_hidden_states.ndim != 3 or encoder_hidden_states.shape[0] != batch
                    or encoder_hidden_states.shape[2] != c.text_dim):
                raise ValueError(f"encoder_hidden_states must be (B={batch}, L, {c.text_dim}), "
                                 f"got {tuple(encoder_hidden_states.shape)}")
            text = self.text_embedder(encoder_hidden_states.to(self.text_embedder.linear_1.weight.dtype))
        elif encoder_hidden_states is not None:
            raise ValueError("encoder_hidden_states given but this model has no text cross-attention "
                             "(config.text_cross_attention is False); pass None")

        head_dim = c.attention_head_dim
        v_tokens = r_tokens = v_temb = r_temb = v_mod = r_mod = v_rope = r_rope = None
        v_grid = r_grid = (0, 0, 0)
        cross_bias = None
        if video is not None:
            v_tokens, v_grid = self.video.embed(video)
            if track_condition is not None:
                v_tokens = v_tokens + self._track_tokens(v_tokens, v_grid, video, track_condition)
            v_pos = video_token_positions(v_grid)
            if c.absolute_position_embedding:
                v_tokens = v_tokens + absolute_position_embedding(v_pos, c.dim, c.absolute_position_embedding).to(
                    v_tokens)
            v_temb, v_mod = self.video.time_embedding(video_timesteps, v_tokens)
            v_rope = rotary_cos_sin(v_pos, head_dim, c.rope_theta, v_tokens.device)
        if rays is not None:
            r_tokens, r_grid = self.ray.embed(rays)
            r_temb, r_mod = self.ray.time_embedding(ray_timesteps, r_tokens)
            frame_pos = self._ray_frame_positions(r_grid[0], rays.shape[2], ray_frame_positions)
            r_pos = ray_token_positions(r_grid, c.ray_to_video_token_scale, frame_pos)
            if c.absolute_position_embedding:
                r_tokens = r_tokens + absolute_position_embedding(r_pos, c.dim, c.absolute_position_embedding).to(
                    r_tokens)
            r_rope = rotary_cos_sin(r_pos, head_dim, c.rope_theta, r_tokens.device)
        if video is not None and rays is not None:
            self._check_alignment(video, rays, v_grid, r_grid)
            if c.cross_attention_locality > 0:
                v_bias = locality_bias(v_pos, r_pos, c.num_attention_heads, c.cross_attention_locality,
                                       v_tokens.device)
                r_bias = v_bias.transpose(-1, -2)
                if c.cross_attention_source_heads:      # the ray stream also reads the source frame
                    r_bias = locality_bias(r_pos, v_pos, c.num_attention_heads, c.cross_attention_locality,
                                           v_tokens.device, c.cross_attention_source_heads)
                cross_bias = (v_bias, r_bias)

        for block in self.blocks:
            args = (v_tokens, r_tokens, text, v_mod, r_mod, v_rope, r_rope, v_grid[0], r_grid[0],
                    self.attention_backend, cross_bias)
            if self.gradient_checkpointing and torch.is_grad_enabled():
                v_tokens, r_tokens = torch.utils.checkpoint.checkpoint(block, *args, use_reentrant=False)
            else:
                v_tokens, r_tokens = block(*args)

        video_out = self.video.head(v_tokens, v_temb, v_grid) if video is not None else None
        rays_out = self.ray.head(r_tokens, r_temb, r_grid) if rays is not None else None
        return video_out, rays_out

    def _track_tokens(self, v_tokens, v_grid, video, cond: TrackCondition) -> torch.Tensor:
        """Track2View tokens for the video stream (checks that the condition fits the frames)."""
        frame_size = tuple(video.shape[-2:])
        if tuple(cond.image_size) != frame_size and self.config.in_channels == 3:
            raise ValueError(f"the track condition is for {cond.image_size[1]}x{cond.image_size[0]} frames but the "
                             f"video is {frame_size[1]}x{frame_size[0]} (width x height); make the tracks at the "
                             "model's frame size")
        return self.track_conditioner(v_tokens, v_grid, cond.to(v_tokens.device))

    def _ray_frame_positions(self, token_frames: int, latent_frames: int,
                             given: torch.Tensor | None) -> torch.Tensor:
        c = self.config
        if given is None:
            return ray_frame_to_video_frame(token_frames, ray_patch_frames=c.ray_patch_size[0],
                                            ray_temporal_compression=c.ray_temporal_compression,
                                            video_temporal_compression=c.video_temporal_compression,
                                            video_patch_frames=c.patch_size[0])
        given = torch.as_tensor(given, dtype=torch.float64).reshape(-1).cpu()
        if given.numel() != latent_frames:
            raise ValueError(f"ray_frame_positions has {given.numel()} entries for {latent_frames} ray frames; "
                             "give one video-frame position per ray frame")
        return given[::c.ray_patch_size[0]] / c.patch_size[0]

    def _check_alignment(self, video, rays, v_grid, r_grid) -> None:
        s_rows, s_cols = self.config.ray_to_video_token_scale
        if abs(r_grid[1] * s_rows - v_grid[1]) > 0.5 or abs(r_grid[2] * s_cols - v_grid[2]) > 0.5:
            d = self.config.raxel_downscale
            raise ValueError(
                f"rays {tuple(rays.shape[-2:])} are not pixel-aligned with video {tuple(video.shape[-2:])}: "
                f"raxels must be the frame size / raxel_downscale = {d} (expected "
                f"{video.shape[-2] // d}x{video.shape[-1] // d} in the same latent space)")

    # ------------------------------------------------------------------ persistence
    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``directory`` (created if needed).

        Returns the directory. The config is also stored in the safetensors metadata
        (``raxel_config``), so the weights file alone is self-describing.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        text = self.config.to_json()
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        with atomic_path(directory / WEIGHTS_NAME) as tmp:        # never a half-written model file
            save_file(state, str(tmp), metadata={"format": "pt", "raxel_config": text})
        write_text_atomic(directory / CONFIG_NAME, text)
        return directory

    @classmethod
    def from_pretrained(cls, path: str | Path, *, config: JointModelConfig | None = None,
                        device: str | torch.device = "cpu", dtype: torch.dtype | None = None) -> JointTransformer:
        """Load a model written by :meth:`save_pretrained`.

        Args:
            path: a directory holding ``config.json`` + ``model.safetensors``, or a ``.safetensors``
                file (config from a ``config.json`` beside it, else from the file's metadata).
            config: use this config instead of the saved one (it must match the weights).
            device, dtype: where / in what dtype to put the parameters (default: as stored).

        Raises:
            ValueError: a non-safetensors file (.pt / .ckpt / .bin are pickles and are never
                loaded), a missing file or config, or weights that do not match the config (the
                message names the first missing, unexpected or mis-shaped parameter).
        """
        path = Path(path)
        if path.is_dir():
            weights, config_file = path / WEIGHTS_NAME, path / CONFIG_NAME
        else:
            if path.suffix != ".safetensors":
                raise ValueError(f"refusing to load {path.name}: only .safetensors weights are read (.pt / .ckpt / "
                                 ".bin files are pickles that can run code); convert it to safetensors first")
            weights, config_file = path, path.parent / CONFIG_NAME
        if not weights.is_file():
            raise ValueError(f"no weights at {weights}; expected a directory written by save_pretrained or a "
                             ".safetensors file")
        with safe_open(str(weights), framework="pt") as handle:
            metadata = handle.metadata() or {}
            state = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118 (safe_open is not a dict)
        if config is None:
            if config_file.is_file():
                config = JointModelConfig.from_json(config_file.read_text(encoding="utf-8"))
            elif "raxel_config" in metadata:
                config = JointModelConfig.from_json(metadata["raxel_config"])
            else:
                raise ValueError(f"no {CONFIG_NAME} beside {weights.name} and no config in its metadata; pass "
                                 "config=JointModelConfig(...) or save with JointTransformer.save_pretrained")
        with torch.device("meta"):
            model = cls(config)
        load_checked_state_dict(model, state, source=str(weights))
        return model.to(device=device, dtype=dtype)

    def num_parameters(self) -> int:
        """Total number of parameters."""
        return sum(p.numel() for p in self.parameters())


def check_state_dict(expected: dict[str, tuple[int, ...]], state: dict[str, torch.Tensor], source: str) -> None:
    """Raise ValueError naming the first key / shape where ``state`` differs from ``expected``.

    Args:
        expected: parameter name -> shape, in the model's order.
        state: parameter name -> tensor as read from a file.
        source: the file (for the message).
    """
    for key, shape in expected.items():
        if key not in state:
            raise ValueError(f"{source} does not match the config: it lacks {key!r} (the config expects shape "
                             f"{list(shape)}); the weights were saved for another configuration")
        if tuple(state[key].shape) != tuple(shape):
            raise ValueError(f"{source} does not match the config: {key!r} has shape {list(state[key].shape)} in "
                             f"the file but the config expects {list(shape)}")
    unexpected = [k for k in state if k not in expected]
    if unexpected:
        raise ValueError(f"{source} does not match the config: it has {len(unexpected)} parameter(s) the config "
                         f"does not, first {unexpected[0]!r}")


def load_checked_state_dict(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Strictly load ``state`` into ``model`` (which may live on the meta device; tensors are
    assigned), after :func:`check_state_dict`."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    check_state_dict(expected, state, source)
    model.load_state_dict(state, strict=True, assign=True)

