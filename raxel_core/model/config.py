"""The configuration of the joint video + ray transformer, saved as JSON beside its weights.

One flat dataclass, like a diffusers ``config.json``: every shape of :class:`JointTransformer`
follows from it, so ``config.json`` + ``model.safetensors`` fully describe a model.
Source: Rays as Pixels (arXiv 2604.09429), Sec. 3.3 (DSCA backbone on Wan 2.1) and Sec. 3.2
(raxels at half the frame resolution, one latent per camera).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace

#: Written into every config.json so that a foreign JSON file is recognised as such.
CONFIG_FORMAT = "raxel-joint-transformer"
CONFIG_VERSION = 1


def _triple(value, name: str) -> tuple[int, int, int]:
    try:
        triple = tuple(int(v) for v in value)
    except TypeError as exc:
        raise ValueError(f"{name} must be three integers (frames, rows, columns), got {value!r}") from exc
    if len(triple) != 3 or min(triple) < 1:
        raise ValueError(f"{name} must be three positive integers (frames, rows, columns), got {value!r}")
    return triple  # type: ignore[return-value]


def _check_strength(value, name: str) -> None:
    """``ValueError`` unless ``value`` is a finite number >= 0 (not a bool): the options where 0 = off."""
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0):
        raise ValueError(f"JointModelConfig.{name} must be a finite number >= 0 (0 = off), got {value!r}")


@dataclass(frozen=True)
class JointModelConfig:
    """Shapes and options of :class:`raxel_core.model.JointTransformer`.

    The video branch has exactly Wan 2.1's layers (so a Wan 2.1 text-to-video checkpoint loads into
    it); the ray branch mirrors it with its own weights. Both branches share ``num_attention_heads``
    and ``attention_head_dim`` (the cross-attention between them needs one width).

    Attributes:
        in_channels: channels of the video stream (3 for pixels, 16 for Wan 2.1 VAE latents).
        out_channels: channels of the predicted video velocity; None = ``in_channels``.
        ray_in_channels: channels of the ray stream (3 for raxel pixels d + o, 16 for VAE latents
            of raxel images).
        ray_out_channels: channels of the predicted ray velocity; None = ``ray_in_channels``.
        patch_size: video patch (frames, rows, columns); Wan 2.1 uses (1, 2, 2) on latents.
        ray_patch_size: ray patch (frames, rows, columns).
        num_attention_heads: attention heads (both branches).
        attention_head_dim: width of one head; must be even and leave even rotary sub-bands.
        ffn_dim: hidden width of the video feed-forward network.
        ray_ffn_dim: hidden width of the ray feed-forward network; None = ``ffn_dim``.
        num_layers: number of DSCA blocks.
        freq_dim: width of the sinusoidal timestep features (Wan: 256).
        text_cross_attention: whether the video branch has Wan's text cross-attention
            (``attn2``) and text projection; required to load a Wan checkpoint.
        text_dim: width of the text-encoder states (umT5-XXL: 4096); used when
            ``text_cross_attention``.
        ray_text_cross_attention: whether the ray branch has its own text cross-attention too
            (off by default: rays see the prompt only through the video branch).
        cross_attn_norm: affine LayerNorm before the text cross-attention (Wan 2.1: True).
        eps: epsilon of every LayerNorm / RMSNorm (Wan: 1e-6).
        rope_theta: base of the rotary frequencies (Wan: 10000).
        video_temporal_compression: input frames per video latent frame after the first
            (Wan 2.1 VAE: 4, frame 0 alone; pixel space: 1).
        ray_temporal_compression: cameras per ray latent frame; 1 = one latent per camera, as
            the paper encodes raxels (Sec. 3.2).
        raxel_downscale: raxel images are the frame size divided by this (the paper: 2).
        track_conditioner_layers: layers of Track2View's temporal transformer along each track
            (:mod:`raxel_core.model.track_conditioner`); 0 = no track conditioner (the default).
        track_fourier_bands: octaves of the track conditioner's xy / depth Fourier encodings.
        cross_attention_locality: strength ``a`` of a parameter-free locality bias on the logits of
            the two video<->ray cross-attentions: head ``h`` adds ``-a 2^-h |p_q - p_k|^2``, with
            ``p`` the tokens' (frame, row, column) RoPE positions in video-token units (ALiBi-like
            slopes: head 0 sharp, the last head broad). 0 (default) = off, the paper's DSCA. A
            small model trained from scratch does not discover the pixel-aligned partner token by
            RoPE alone (the diagnosis in ``tests/test_joint_learning.py``); the bias gives it from the start.
        cross_attention_source_heads: with the locality bias on, this many of the last heads of the
            ray -> video cross-attention are local around the *source* frame (frame 0, whose camera the
            raxels are expressed in) instead of the ray token's own frame, so each ray token reads the
            same image region in its own frame and in the source frame, the two views its camera is
            relative to. 0 (default) = every head local around its own frame.
        absolute_position_embedding: amplitude of a fixed (parameter-free) sine-cosine table of each
            token's row and column added to both branches' tokens after the patch embedding
            (:func:`raxel_core.model.rope.absolute_position_embedding`): with RoPE alone an attention
            output cannot say *where* the matched token was, so motion between frames is not in it.
            0 (default) = off, as in Wan 2.1 and the paper.
    """

    in_channels: int = 3
    out_channels: int | None = None
    ray_in_channels: int = 3
    ray_out_channels: int | None = None
    patch_size: tuple[int, int, int] = (1, 4, 4)
    ray_patch_size: tuple[int, int, int] = (1, 2, 2)
    num_attention_heads: int = 4
    attention_head_dim: int = 64
    ffn_dim: int = 1024
    ray_ffn_dim: int | None = None
    num_layers: int = 8
    freq_dim: int = 256
    text_cross_attention: bool = False
    text_dim: int = 4096
    ray_text_cross_attention: bool = False
    cross_attn_norm: bool = True
    eps: float = 1e-6
    rope_theta: float = 10000.0
    video_temporal_compression: int = 1
    ray_temporal_compression: int = 1
    raxel_downscale: int = 2
    track_conditioner_layers: int = 0
    track_fourier_bands: int = 8
    cross_attention_locality: float = 0.0
    cross_attention_source_heads: int = 0
    absolute_position_embedding: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "patch_size", _triple(self.patch_size, "patch_size"))
        object.__setattr__(self, "ray_patch_size", _triple(self.ray_patch_size, "ray_patch_size"))
        for name in ("in_channels", "ray_in_channels", "num_attention_heads", "attention_head_dim",
                     "ffn_dim", "num_layers", "freq_dim", "text_dim", "video_temporal_compression",
                     "ray_temporal_compression", "raxel_downscale"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"JointModelConfig.{name} must be a positive integer, got {value!r}")
        for name in ("out_channels", "ray_out_channels", "ray_ffn_dim"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"JointModelConfig.{name} must be a positive integer or None, got {value!r}")
        if (not isinstance(self.track_conditioner_layers, int) or isinstance(self.track_conditioner_layers, bool)
                or self.track_conditioner_layers < 0):
            raise ValueError("JointModelConfig.track_conditioner_layers must be an integer >= 0 (0 = none), got "
                             f"{self.track_conditioner_layers!r}")
        if not isinstance(self.track_fourier_bands, int) or not 1 <= self.track_fourier_bands <= 16:
            raise ValueError(f"JointModelConfig.track_fourier_bands must be an integer in [1, 16], got "
                             f"{self.track_fourier_bands!r}")
        if self.track_conditioner_layers and self.video_temporal_compression != 1:
            raise ValueError("the track conditioner maps track frames one to one onto video frames: it needs "
                             "video_temporal_compression=1 (a pixel-space model); set track_conditioner_layers=0")
        if self.ray_text_cross_attention and not self.text_cross_attention:
            raise ValueError("ray_text_cross_attention needs text_cross_attention=True (the text projection "
                             "lives in the video branch)")
        if self.attention_head_dim % 2 or (self.attention_head_dim - 4 * (self.attention_head_dim // 6)) < 2:
            raise ValueError(f"attention_head_dim={self.attention_head_dim} must be even and >= 6 so that the "
                             "frame / row / column rotary bands are all non-empty and even")
        _check_strength(self.cross_attention_locality, "cross_attention_locality")
        source = self.cross_attention_source_heads
        if isinstance(source, bool) or not isinstance(source, int) or not 0 <= source < self.num_attention_heads:
            raise ValueError(f"JointModelConfig.cross_attention_source_heads must be an integer in "
                             f"[0, {self.num_attention_heads - 1}] (fewer than the heads); got {source!r}")
        if source and not self.cross_attention_locality:
            raise ValueError("JointModelConfig.cross_attention_source_heads needs cross_attention_locality > 0 "
                             "(it changes which frame the locality bias centres on)")
        _check_strength(self.absolute_position_embedding, "absolute_position_embedding")
        if self.absolute_position_embedding and self.dim % 4:
            raise ValueError(f"absolute_position_embedding needs a model width divisible by 4; got {self.dim}")
        if self.freq_dim % 2:
            raise ValueError(f"freq_dim must be even, got {self.freq_dim}")
        if not (self.eps > 0 and self.rope_theta > 1):
            raise ValueError(f"eps must be > 0 and rope_theta > 1, got eps={self.eps}, rope_theta={self.rope_theta}")

    # ----------------------------------------------------------------------------- derived shapes
    @property
    def dim(self) -> int:
        """Token width of both branches: ``num_attention_heads * attention_head_dim``."""
        return self.num_attention_heads * self.attention_head_dim

    @property
    def video_out_channels(self) -> int:
        return self.out_channels or self.in_channels

    @property
    def rays_out_channels(self) -> int:
        return self.ray_out_channels or self.ray_in_channels

    @property
    def ray_ffn_width(self) -> int:
        return self.ray_ffn_dim or self.ffn_dim

    @property
    def ray_to_video_token_scale(self) -> tuple[float, float]:
        """Video tokens per ray token along rows and columns.

        A raxel image is the frame divided by ``raxel_downscale`` and both go through the same
        latent space, so one ray token spans ``raxel_downscale * ray_patch`` video-latent pixels
        and one video token spans ``patch``: scale = raxel_downscale * ray_patch / patch.
        (1, 1) for :meth:`small`, (2, 2) for :meth:`wan21_1_3b`.
        """
        return (self.raxel_downscale * self.ray_patch_size[1] / self.patch_size[1],
                self.raxel_downscale * self.ray_patch_size[2] / self.patch_size[2])

    # ----------------------------------------------------------------------------- presets
    @classmethod
    def small(cls, **overrides) -> JointModelConfig:
        """A pixel-space model (~17 M parameters) for 64x96 video and 32x48 raxels, 9 frames.

        No VAE: video pixels in (1, 4, 4) patches and raxel pixels in (1, 2, 2) patches give the
        same 16 x 24 token grid per frame, so every video token has one pixel-aligned ray token.
        No text conditioning.
        """
        base = cls(in_channels=3, ray_in_channels=3, patch_size=(1, 4, 4), ray_patch_size=(1, 2, 2),
                   num_attention_heads=4, attention_head_dim=64, ffn_dim=1024, num_layers=8, freq_dim=256,
                   text_cross_attention=False, video_temporal_compression=1, ray_temporal_compression=1,
                   raxel_downscale=2)
        return replace(base, **overrides)

    @classmethod
    def tiny(cls, **overrides) -> JointModelConfig:
        """A CPU-trainable pixel-space model (~2.4 M parameters) for 32x48 video and 16x24 raxels.

        The layout of :meth:`small` (video pixels in (1, 4, 4) patches, raxel pixels in (1, 2, 2)
        patches: an 8 x 12 token grid per frame in both streams, pixel-aligned) at half the frame
        size, with 4 heads of 32 (dim 128), FFN 512 and 4 DSCA blocks. This is the bundled
        ``models/raxel-tiny-v1`` (trained on a 2-core CPU, see its MODEL_CARD.md).
        """
        base = cls.small(attention_head_dim=32, ffn_dim=512, num_layers=4)
        return replace(base, **overrides)

    @classmethod
    def wan21_1_3b(cls, **overrides) -> JointModelConfig:
        """Wan 2.1 T2V 1.3B shapes for the video branch (diffusers ``Wan-AI/Wan2.1-T2V-1.3B-Diffusers``
        transformer config: 12 heads x 128 = 1536, 30 layers, ffn 8960, text_dim 4096, freq_dim 256,
        16 latent channels in and out, patch (1, 2, 2), cross_attn_norm, eps 1e-6), on Wan VAE
        latents (4x temporal compression for video, none for raxels)."""
        base = cls(in_channels=16, out_channels=16, ray_in_channels=16, ray_out_channels=16,
                   patch_size=(1, 2, 2), ray_patch_size=(1, 2, 2), num_attention_heads=12,
                   attention_head_dim=128, ffn_dim=8960, num_layers=30, freq_dim=256,
                   text_cross_attention=True, text_dim=4096, cross_attn_norm=True, eps=1e-6,
                   video_temporal_compression=4, ray_temporal_compression=1, raxel_downscale=2)
        return replace(base, **overrides)

    # ----------------------------------------------------------------------------- JSON
    def to_dict(self) -> dict:
        data = asdict(self)
        data["patch_size"] = list(self.patch_size)
        data["ray_patch_size"] = list(self.ray_patch_size)
        return {"format": CONFIG_FORMAT, "version": CONFIG_VERSION, **data}

    def to_json(self) -> str:
        """The config as indented JSON text (what ``save_pretrained`` writes to ``config.json``)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, data: dict) -> JointModelConfig:
        """Build from a dict as written by :meth:`to_dict`.

        Raises:
            ValueError: a foreign format tag, a newer version, or an unknown field.
        """
        data = dict(data)
        fmt = data.pop("format", CONFIG_FORMAT)
        version = data.pop("version", CONFIG_VERSION)
        if fmt != CONFIG_FORMAT:
            raise ValueError(f"config has format {fmt!r}, expected {CONFIG_FORMAT!r}: this is not a raxel "
                             "joint-transformer config "
                             "(a Wan checkpoint loads through raxel_core.model.load_wan_weights)")
        if not isinstance(version, int) or version > CONFIG_VERSION:
            raise ValueError(f"config version {version!r} is newer than this code reads ({CONFIG_VERSION}); "
                             "update raxel_core")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"config has unknown fields {unknown}; known fields: {sorted(known)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> JointModelConfig:
        """Parse JSON text written by :meth:`to_json`. Raises ValueError on bad JSON or fields."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"config is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"config JSON must be an object, got {type(data).__name__}")
        return cls.from_dict(data)

    def rotary_band_dims(self) -> tuple[int, int, int]:
        """(frame, row, column) widths of the rotary bands of one head, as Wan splits them."""
        hw = 2 * (self.attention_head_dim // 6)
        return (self.attention_head_dim - 2 * hw, hw, hw)

