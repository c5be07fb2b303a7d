"""3D rotary position embedding (frame, row, column) with ray tokens placed on the video grid.

Wan 2.1's RoPE splits each head into three bands (frame, row, column; the row and column bands
are ``2 * (head_dim // 6)`` wide, the frame band takes the rest) and rotates consecutive channel
pairs ``(x[2i], x[2i+1])`` by ``angle = position * theta^(-2i / band)``. This module computes the
same angles for *any* real positions, so that ray tokens can sit at fractional positions of the
video token grid: Rays as Pixels (arXiv 2604.09429, Sec. 3.3) applies RoPE to queries and keys in
the video<->ray cross-attention "so a video token meets its pixel-aligned ray token", which needs
both streams on one coordinate system.

Placement of ray tokens (a choice the paper does not spell out; documented here):

* rows / columns: token centres are aligned. Ray token ``i`` covers video token rows
  ``[i s, (i + 1) s)`` when one ray token spans ``s`` video tokens, so its position is
  ``(i + 0.5) s - 0.5`` (exactly ``i`` when ``s = 1``);
* frames: ray latents are never temporally compressed (one per camera), video latents may be
  (Wan's causal VAE: latent 0 = frame 0, latent ``k`` = frames ``4k-3 .. 4k``). Ray frame ``f``
  goes to the video latent frame that contains camera ``f``: ``ceil(f / 4)``.

With Wan's own integer grid the angles equal diffusers' ``WanRotaryPosEmbed`` table to the last
bit (same float64 arithmetic, cast to float32 at the end).
"""
from __future__ import annotations

import math

import torch


def rotary_band_dims(head_dim: int) -> tuple[int, int, int]:
    """(frame, row, column) band widths of one head, as Wan splits them.

    Raises:
        ValueError: ``head_dim`` odd or too small for three even, non-empty bands.
    """
    hw = 2 * (head_dim // 6)
    t = head_dim - 2 * hw
    if head_dim % 2 or hw < 2 or t < 2:
        raise ValueError(f"head_dim={head_dim} cannot be split into frame/row/column rotary bands; "
                         "use an even head_dim >= 6")
    return t, hw, hw


def rotary_angles(positions: torch.Tensor, head_dim: int, theta: float = 10000.0) -> torch.Tensor:
    """Rotation angles of every channel pair of every token.

    Args:
        positions: (L, 3) float (frame, row, column) positions in video-token units; fractional
            values allowed. Computed in float64.
        head_dim: width of one attention head (even).
        theta: frequency base (Wan: 10000).

    Returns:
        (L, head_dim // 2) float64 angles in radians: ``pos_axis * theta^(-2i / band)`` for the
        channel pairs of each band, bands in the order frame, row, column.

    Raises:
        ValueError: ``positions`` not (L, 3), or a bad ``head_dim``.
    """
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise ValueError(f"positions must be (L, 3) (frame, row, column), got {tuple(positions.shape)}")
    positions = positions.to(torch.float64)
    angles = []
    for axis, band in enumerate(rotary_band_dims(head_dim)):
        # freqs_i = 1 / theta^(2i / band), i = 0 .. band/2 - 1 (diffusers get_1d_rotary_pos_embed)
        freqs = 1.0 / (theta ** (torch.arange(0, band, 2, dtype=torch.float64, device=positions.device) / band))
        angles.append(torch.outer(positions[:, axis], freqs))
    return torch.cat(angles, dim=1)


def rotary_cos_sin(positions: torch.Tensor, head_dim: int, theta: float = 10000.0,
                   device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine and sine tables for :func:`apply_rotary`.

    Args:
        positions: (L, 3) (frame, row, column) token positions, see :func:`rotary_angles`.
        head_dim, theta: as :func:`rotary_angles`.
        device: where to put the tables (default: the device of ``positions``).

    Returns:
        ``(cos, sin)``, each (1, L, 1, head_dim) float32, every angle repeated for its two channels
        (the layout of diffusers' ``WanRotaryPosEmbed`` output).
    """
    angles = rotary_angles(positions, head_dim, theta)
    cos = angles.cos().repeat_interleave(2, dim=1).float()
    sin = angles.sin().repeat_interleave(2, dim=1).float()
    device = positions.device if device is None else device
    return cos[None, :, None, :].to(device), sin[None, :, None, :].to(device)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs: ``(x0, x1) -> (x0 cos - x1 sin, x0 sin + x1 cos)``.

    Args:
        x: (B, L, H, D) queries or keys.
        cos, sin: (1, L, 1, D) tables from :func:`rotary_cos_sin`.

    Returns:
        (B, L, H, D) in the dtype of ``x`` (same arithmetic as diffusers' Wan attention processor).

    Raises:
        ValueError: the tables do not match ``x``'s length or width.
    """
    if x.ndim != 4 or cos.shape != (1, x.shape[1], 1, x.shape[3]) or sin.shape != cos.shape:
        raise ValueError(f"rotary tables {tuple(cos.shape)} do not fit tokens {tuple(x.shape)}; expected "
                         f"(1, {x.shape[1] if x.ndim == 4 else 'L'}, 1, head_dim)")
    x0, x1 = x.unflatten(-1, (-1, 2)).unbind(-1)
    c = cos[..., 0::2]
    s = sin[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x0 * c - x1 * s
    out[..., 1::2] = x0 * s + x1 * c
    return out.type_as(x)


def grid_positions(frames: torch.Tensor, rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """(F*H*W, 3) positions of a token grid ordered frame-major, then row, then column (the
    order of ``Conv3d(...).flatten(2)``), from per-axis coordinate vectors (F,), (H,), (W,)."""
    f, r, c = torch.meshgrid(frames.double(), rows.double(), columns.double(), indexing="ij")
    return torch.stack([f.reshape(-1), r.reshape(-1), c.reshape(-1)], dim=1)


def video_token_positions(grid: tuple[int, int, int]) -> torch.Tensor:
    """(F*H*W, 3) integer positions of a video token grid ``(F, H, W)``, as float64."""
    f, h, w = grid
    return grid_positions(torch.arange(f), torch.arange(h), torch.arange(w))


def ray_frame_to_video_frame(num_ray_token_frames: int, *, ray_patch_frames: int = 1,
                             ray_temporal_compression: int = 1, video_temporal_compression: int = 1,
                             video_patch_frames: int = 1) -> torch.Tensor:
    """Video-token frame position of each ray-token frame (the default temporal alignment).

    Ray token frame ``g`` starts at ray latent ``j = g * ray_patch_frames``; with a causal VAE of
    compression ``c`` latent ``j`` ends at camera ``c * j`` (latent 0 is camera 0 alone), so the
    ray token stands for camera ``p = ray_temporal_compression * j``. Camera ``p`` lies in video
    latent ``ceil(p / video_temporal_compression)``, i.e. video token frame
    ``ceil(p / video_temporal_compression) / video_patch_frames`` (fractional if
    ``video_patch_frames > 1``).

    This assumes the video stream is one clip encoded with one causal VAE pass. Where the caller
    lays out separately encoded pieces (source images | sparse targets | video), pass explicit
    positions to :meth:`JointTransformer.forward` (``ray_frame_positions``) instead.

    Returns:
        (num_ray_token_frames,) float64.
    """
    g = torch.arange(num_ray_token_frames, dtype=torch.float64)
    camera = ray_temporal_compression * g * ray_patch_frames
    video_latent = torch.ceil(camera / video_temporal_compression)
    return video_latent / video_patch_frames


def ray_token_positions(grid: tuple[int, int, int], spatial_scale: tuple[float, float],
                        frame_positions: torch.Tensor | None = None) -> torch.Tensor:
    """(F*H*W, 3) positions of a ray token grid expressed on the video token grid.

    Args:
        grid: ray token grid (F, H, W).
        spatial_scale: (s_rows, s_columns) video tokens per ray token
            (:attr:`JointModelConfig.ray_to_video_token_scale`).
        frame_positions: (F,) video-token frame position of each ray-token frame; default
            ``arange(F)`` (no temporal compression anywhere).

    Returns:
        (F*H*W, 3) float64; rows ``(i + 0.5) s - 0.5`` (centre-aligned), columns likewise.

    Raises:
        ValueError: ``frame_positions`` of the wrong length or a non-positive scale.
    """
    f, h, w = grid
    s_rows, s_cols = (float(s) for s in spatial_scale)
    if not (s_rows > 0 and s_cols > 0 and math.isfinite(s_rows) and math.isfinite(s_cols)):
        raise ValueError(f"spatial_scale must be positive, got {spatial_scale}")
    if frame_positions is None:
        frame_positions = torch.arange(f, dtype=torch.float64)
    frame_positions = torch.as_tensor(frame_positions, dtype=torch.float64).reshape(-1)
    if frame_positions.numel() != f:
        raise ValueError(f"frame_positions has {frame_positions.numel()} entries but the ray grid has {f} "
                         "token frames; give one video-frame position per ray frame")
    # centre alignment: ray token i spans video tokens [i s, (i+1) s); its centre is (i + 0.5) s - 0.5
    rows = (torch.arange(h, dtype=torch.float64) + 0.5) * s_rows - 0.5
    cols = (torch.arange(w, dtype=torch.float64) + 0.5) * s_cols - 0.5
    return grid_positions(frame_positions.cpu(), rows, cols)


def absolute_position_embedding(positions: torch.Tensor, dim: int, amplitude: float) -> torch.Tensor:
    """Fixed 2D sine-cosine embedding of the tokens' (row, column) positions, times ``amplitude``
    (:attr:`raxel_core.model.JointModelConfig.absolute_position_embedding`): half the channels
    encode the row, half the column (diffusers' ``get_1d_sincos_pos_embed_from_grid``, the ViT / DiT
    table, at any real position, so fractional ray-token positions get their own values).

    RoPE alone tells attention only *relative* positions, and an attention output is a blend of
    *values*, which carry no position; with this table in the tokens, a video token that attends to
    its match in another frame gets the match's position back, so the displacement (the motion the
    camera is read from) is in its output. Not in Wan 2.1 or the paper: an addition for small models.

    Args:
        positions: (L, 3) float (frame, row, column) token positions (frames are ignored).
        dim: model width, divisible by 4. amplitude: scale of the table (0 = off).
    Returns:
        (L, dim) float32.
    Raises:
        ValueError: ``dim`` not divisible by 4.
    """
    from diffusers.models.embeddings import get_1d_sincos_pos_embed_from_grid

    if dim % 4:
        raise ValueError(f"the absolute position embedding needs a width divisible by 4; got {dim}")
    pos = positions.double()
    rows = get_1d_sincos_pos_embed_from_grid(dim // 2, pos[:, 1], dtype=torch.float64)
    cols = get_1d_sincos_pos_embed_from_grid(dim // 2, pos[:, 2], dtype=torch.float64)
    return (amplitude * torch.cat([rows, cols], dim=1)).float()
