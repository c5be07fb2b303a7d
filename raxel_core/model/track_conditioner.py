"""Track2View's dual-view track conditioner (arXiv 2606.15534, Sec. 3), for the joint transformer.

Paired 3D tracks (:mod:`raxel_core.rerender.tracks3d`) give, for ``N`` points over ``T`` frames, their
pixel position, camera depth and visibility in the source view and in the target view. The video
stream of the model holds ``[clean source | noised target]`` along frames (``2 T`` frames). The
conditioner turns the tracks into tokens that are **added** to the video tokens, in five steps:

1. **sample** (parameter-free): the clean source video tokens are read at each source track position
   by bilinear interpolation on the token grid (:func:`sample_tokens`, ``torch.grid_sample``);
2. a Fourier encoding of the source and target xy (both in ``[-1, 1]`` of the frame) and the two
   visibility flags are projected and added (and a sinusoidal encoding of the frame index);
3. a small temporal transformer runs **along each track** (``T`` tokens per track, batch ``B * N``):
   it aggregates the track's appearance over time and fills the frames where the source point is hidden;
4. per view, a Fourier encoding of that view's depth (``log(z / median source depth)``, so the scene
   scale does not matter) is added and a per-view output projection applied (zero-initialised, so a
   model starts out as the model without tracks: the paper adds the conditioner to a pretrained DiT);
5. **scatter** (parameter-free): the per-view track tokens are splatted bilinearly onto the source
   token grid at the source positions and onto the target grid at the target positions, each weighted
   by its view's visibility and normalised by the total weight per cell (:func:`scatter_tokens`).

Token grid convention: a frame of ``H x W`` pixels is covered by ``Ht x Wt`` tokens; token ``(i, j)``
covers pixels ``[j W / Wt, (j + 1) W / Wt) x [i H / Ht, (i + 1) H / Ht)`` and its centre is at pixel
``((j + 0.5) W / Wt, (i + 0.5) H / Ht)`` (pixel ``(x, y)`` with origin at the top-left *corner*, the
convention of :class:`~raxel_core.rerender.tracks3d.PairedTracks`). The same pixel-to-token mapping
holds for pixel-space models and VAE latents (8x) alike.

Frames: the track frames map one to one onto the video stream's frames, so the conditioner needs a
video stream without temporal compression (pixel-space models; ``video_temporal_compression == 1``);
a latent model with Wan's 4x temporal VAE is refused with a message (not implemented here).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

#: Cells of the scatter whose total splat weight is at or below this get no track token (zero).
SCATTER_MIN_WEIGHT = 1e-6
#: Depth floor (scene units relative to the median source depth) before the log in the depth encoding.
DEPTH_FLOOR = 1e-3


# ----------------------------------------------------------------------------------- geometry (no parameters)
def pixels_to_normalized(xy: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
    """Pixel ``(x, y)`` (origin at the top-left corner) -> ``grid_sample`` coordinates in ``[-1, 1]``.

    ``x_n = 2 x / W - 1``, ``y_n = 2 y / H - 1`` (``align_corners=False``: -1 and 1 are the outer edges
    of the frame, so the mapping does not depend on the token grid's size).

    Args:
        xy: ``(..., 2)`` float pixels.
        image_size: ``(H, W)`` of the frames the pixels refer to.
    Returns:
        ``(..., 2)`` float, same dtype.
    """
    h, w = image_size
    scale = xy.new_tensor([2.0 / w, 2.0 / h])
    return xy * scale - 1.0


def sample_tokens(tokens: torch.Tensor, xy: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
    """Bilinear sample of a token grid at pixel positions (Track2View Sec. 3, step "sample").

    Args:
        tokens: ``(B, T, Ht, Wt, D)`` token grid per frame.
        xy: ``(B, T, N, 2)`` pixel positions ``(x, y)`` of ``N`` points per frame in frames of ``image_size``.
        image_size: ``(H, W)`` pixels covered by the token grid.
    Returns:
        ``(B, T, N, D)``: the tokens interpolated at the points; a point between the outer token centres
        and the frame edge (or outside the frame) takes the border value (``padding_mode="border"``).
    Raises:
        ValueError: shapes that do not agree.
    """
    if tokens.ndim != 5 or xy.ndim != 4 or xy.shape[-1] != 2 or tuple(tokens.shape[:2]) != tuple(xy.shape[:2]):
        raise ValueError(f"sample_tokens needs tokens (B, T, Ht, Wt, D) and xy (B, T, N, 2) with the same B, T; "
                         f"got {tuple(tokens.shape)} and {tuple(xy.shape)}")
    b, t, ht, wt, d = tokens.shape
    grid = pixels_to_normalized(xy.to(tokens.dtype), image_size).flatten(0, 1)[:, None]      # (BT, 1, N, 2)
    field = tokens.flatten(0, 1).permute(0, 3, 1, 2)                                          # (BT, D, Ht, Wt)
    out = F.grid_sample(field, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out[:, :, 0].transpose(1, 2).unflatten(0, (b, t))                                 # (B, T, N, D)


def scatter_tokens(values: torch.Tensor, xy: torch.Tensor, weight: torch.Tensor, image_size: tuple[int, int],
                   grid_size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Bilinear splat of point values onto a token grid, normalised by weight (Track2View Sec. 3, "scatter").

    A point at pixel ``(x, y)`` sits at continuous token coordinates ``gx = x Wt / W - 0.5``,
    ``gy = y Ht / H - 0.5`` (token centres at integers); it adds ``w (1 - |gx - j|)(1 - |gy - i|)`` of its
    value to each of the (up to) four surrounding token cells ``(i, j)`` inside the grid (``w`` its
    weight, e.g. visibility). Each cell is then divided by its total weight; cells with total weight
    ``<= SCATTER_MIN_WEIGHT`` are zero.

    Args:
        values: ``(B, T, N, D)`` point values.
        xy: ``(B, T, N, 2)`` pixel positions.
        weight: ``(B, T, N)`` non-negative weights (bool visibility is taken as 0 / 1).
        image_size: ``(H, W)`` pixels covered by the grid.
        grid_size: ``(Ht, Wt)`` token grid.
    Returns:
        ``(grid (B, T, Ht, Wt, D), total_weight (B, T, Ht, Wt))``.
    Raises:
        ValueError: shapes that do not agree.
    """
    if values.ndim != 4 or xy.shape != values.shape[:3] + (2,) or weight.shape != values.shape[:3]:
        raise ValueError(f"scatter_tokens needs values (B, T, N, D), xy (B, T, N, 2), weight (B, T, N); got "
                         f"{tuple(values.shape)}, {tuple(xy.shape)}, {tuple(weight.shape)}")
    b, t, n, d = values.shape
    h, w = image_size
    ht, wt = grid_size
    xy = xy.to(values.dtype)
    gx = xy[..., 0] * (wt / w) - 0.5
    gy = xy[..., 1] * (ht / h) - 0.5
    x0, y0 = torch.floor(gx), torch.floor(gy)
    fx, fy = gx - x0, gy - y0
    weight = weight.to(values.dtype)
    frame = torch.arange(b * t, device=values.device).view(b, t, 1)
    acc = values.new_zeros(b * t * ht * wt, d)
    total = values.new_zeros(b * t * ht * wt)
    for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):
        cx, cy = x0 + dx, y0 + dy
        wk = weight * (fx if dx else 1 - fx) * (fy if dy else 1 - fy)
        inside = (cx >= 0) & (cx < wt) & (cy >= 0) & (cy < ht)
        wk = torch.where(inside, wk, torch.zeros_like(wk))
        index = (frame * (ht * wt) + cy.clamp(0, ht - 1).long() * wt + cx.clamp(0, wt - 1).long()).reshape(-1)
        acc = acc.index_add(0, index, (values * wk[..., None]).reshape(-1, d))
        total = total.index_add(0, index, wk.reshape(-1))
    filled = total > SCATTER_MIN_WEIGHT
    grid = torch.where(filled[:, None], acc / total.clamp_min(SCATTER_MIN_WEIGHT)[:, None], torch.zeros_like(acc))
    return grid.view(b, t, ht, wt, d), total.view(b, t, ht, wt)


def fourier_features(x: torch.Tensor, bands: int) -> torch.Tensor:
    """``[sin(2^k pi x), cos(2^k pi x)]`` for ``k = 0 .. bands - 1``, per input channel.

    Args:
        x: ``(..., C)`` float.
        bands: number of octaves.
    Returns:
        ``(..., 2 * bands * C)``.
    """
    freqs = math.pi * (2.0 ** torch.arange(bands, device=x.device, dtype=x.dtype))
    angles = (x[..., None] * freqs).flatten(-2)
    return torch.cat([torch.sin(angles), torch.cos(angles)], -1)


def frame_encoding(frames: int, dim: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """``(frames, dim)`` sinusoidal encoding of the frame index (Transformer, Vaswani et al. 2017, Sec. 3.5):
    ``sin(k / 10000^(2i / dim))`` then ``cos(...)`` for ``i < dim / 2`` (zero-padded to odd ``dim``)."""
    half = dim // 2
    k = torch.arange(frames, device=device, dtype=torch.float64)[:, None]
    inv = 10000.0 ** (-torch.arange(half, device=device, dtype=torch.float64) * 2 / dim)
    enc = torch.cat([torch.sin(k * inv), torch.cos(k * inv)], -1)
    return F.pad(enc, (0, dim - 2 * half)).to(dtype)


# ----------------------------------------------------------------------------------- the condition
@dataclass
class TrackCondition:
    """Paired tracks in the form the conditioner takes (batched tensors).

    Attributes:
        source_xy, target_xy: ``(B, T, N, 2)`` float32 pixels ``(x, y)``, origin at the top-left corner.
        source_depth, target_depth: ``(B, T, N)`` float32 camera z-depth (any consistent scene unit).
        source_visibility, target_visibility: ``(B, T, N)`` bool.
        image_size: ``(H, W)`` of the frames the pixels refer to (the model's frame size).
    """

    source_xy: torch.Tensor
    target_xy: torch.Tensor
    source_depth: torch.Tensor
    target_depth: torch.Tensor
    source_visibility: torch.Tensor
    target_visibility: torch.Tensor
    image_size: tuple[int, int]

    @property
    def num_frames(self) -> int:
        return int(self.source_xy.shape[1])

    @property
    def num_tracks(self) -> int:
        return int(self.source_xy.shape[2])

    def to(self, device) -> TrackCondition:
        return TrackCondition(*(getattr(self, k).to(device) for k in ("source_xy", "target_xy", "source_depth",
                                                                        "target_depth", "source_visibility",
                                                                        "target_visibility")),
                              image_size=self.image_size)

    def validate(self) -> TrackCondition:
        """Check shapes and values; return ``self``.

        Raises:
            ValueError: shapes that disagree, non-finite positions or depths, or no visible point.
        """
        b, t, n, two = self.source_xy.shape if self.source_xy.ndim == 4 else (0, 0, 0, 0)
        if two != 2 or b < 1 or t < 1 or n < 1:
            raise ValueError(f"track condition source_xy must be (B, T, N, 2) with B, T, N >= 1; got "
                             f"{tuple(self.source_xy.shape)}")
        for name in ("target_xy",):
            if tuple(getattr(self, name).shape) != (b, t, n, 2):
                raise ValueError(f"track condition {name} is {tuple(getattr(self, name).shape)}, expected ({b}, {t}, "
                                 f"{n}, 2) like source_xy")
        for name in ("source_depth", "target_depth", "source_visibility", "target_visibility"):
            if tuple(getattr(self, name).shape) != (b, t, n):
                raise ValueError(f"track condition {name} is {tuple(getattr(self, name).shape)}, expected ({b}, {t}, "
                                 f"{n}) like source_xy without its last axis")
        for name in ("source_xy", "target_xy", "source_depth", "target_depth"):
            if not torch.isfinite(getattr(self, name)).all():
                raise ValueError(f"track condition {name} holds NaN or infinite values; recompute the paired tracks")
        if not self.source_visibility.any():
            raise ValueError("no track point is visible in the source view; give tracks with visible points")
        return self

    @classmethod
    def from_payload(cls, payload: dict) -> TrackCondition:
        """From the ``RAXEL_TRACK_CONDITION`` dict of ``RaxelTrack2ViewCondition`` (layout in ``nodes/types.py``).

        Raises:
            ValueError: a payload without tracks (the node was run without a tracks input) or of
                the wrong form.
        """
        if not isinstance(payload, dict) or "source_frames" not in payload:
            raise ValueError("the track condition must be the RAXEL_TRACK_CONDITION output of "
                             "RaxelTrack2ViewCondition (Warp A Video To A New Camera)")
        keys = ("source_xy", "target_xy", "source_depth", "target_depth", "source_visibility", "target_visibility")
        if any(payload.get(k) is None for k in keys):
            raise ValueError("the track condition holds no tracks: connect source tracks (e.g. Raxel Point "
                             "Tracks) to the 'tracks' input of Warp A Video To A New Camera")
        frames = torch.as_tensor(payload["source_frames"])
        values = [torch.as_tensor(payload[k])[None] for k in keys]
        values = [v.float() if i < 4 else v.bool() for i, v in enumerate(values)]
        return cls(*values, image_size=(int(frames.shape[1]), int(frames.shape[2]))).validate()


def stack_conditions(conditions: list[TrackCondition]) -> TrackCondition:
    """Batch single conditions of equal ``T``, ``N`` and image size along ``B``."""
    first = conditions[0]
    keys = ("source_xy", "target_xy", "source_depth", "target_depth", "source_visibility", "target_visibility")
    return TrackCondition(*(torch.cat([getattr(c, k) for c in conditions]) for k in keys), image_size=first.image_size)


# ----------------------------------------------------------------------------------- the network
class TrackConditioner(nn.Module):
    """The learned part of the conditioner (module docstring, steps 2-4) around the parameter-free
    sample and scatter.

    Args:
        dim: token width of the video branch.
        num_layers: layers of the temporal transformer along each track (the paper: 8).
        num_heads: its attention heads (``dim`` must divide by it).
        fourier_bands: octaves of the xy and depth Fourier encodings.
        eps: LayerNorm epsilon.
    """

    def __init__(self, dim: int, num_layers: int, num_heads: int, fourier_bands: int = 8, eps: float = 1e-6):
        super().__init__()
        self.dim, self.fourier_bands = dim, fourier_bands
        self.sample_norm = nn.LayerNorm(dim, eps=eps)
        self.position_proj = nn.Linear(4 * 2 * fourier_bands + 2, dim)      # xy of both views + 2 visibilities
        layer = nn.TransformerEncoderLayer(dim, num_heads, dim_feedforward=4 * dim, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True, layer_norm_eps=eps)
        self.temporal = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.depth_proj_source = nn.Linear(2 * fourier_bands, dim)
        self.depth_proj_target = nn.Linear(2 * fourier_bands, dim)
        self.out_norm = nn.LayerNorm(dim, eps=eps)
        self.out_source = nn.Linear(dim, dim)
        self.out_target = nn.Linear(dim, dim)
        with torch.no_grad():
            for layer_out in (self.out_source, self.out_target):
                layer_out.weight.zero_()
                layer_out.bias.zero_()

    def track_tokens(self, source_tokens: torch.Tensor, cond: TrackCondition) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-view track tokens ``(B, T, N, D)`` each (source view, target view), steps 1-4."""
        b, t, n = cond.source_visibility.shape
        dtype = source_tokens.dtype
        vis_s = cond.source_visibility.to(dtype)
        vis_t = cond.target_visibility.to(dtype)
        sampled = sample_tokens(source_tokens, cond.source_xy, cond.image_size) * vis_s[..., None]
        xy = torch.cat([pixels_to_normalized(cond.source_xy.to(dtype), cond.image_size),
                        pixels_to_normalized(cond.target_xy.to(dtype), cond.image_size)], -1).clamp(-2, 2)
        pos = torch.cat([fourier_features(xy, self.fourier_bands), vis_s[..., None], vis_t[..., None]], -1)
        frame_pe = frame_encoding(t, self.dim, source_tokens.device, dtype)
        h = self.sample_norm(sampled) + self.position_proj(pos) + frame_pe[None, :, None]
        h = self.temporal(h.permute(0, 2, 1, 3).flatten(0, 1)).unflatten(0, (b, n)).permute(0, 2, 1, 3)
        # depth relative to the median visible source depth: the encoding does not see the scene's scale
        ref = torch.stack([cond.source_depth[i][cond.source_visibility[i]].median()
                           if cond.source_visibility[i].any() else cond.source_depth.new_tensor(1.0)
                           for i in range(b)]).clamp_min(DEPTH_FLOOR).to(dtype)[:, None, None]
        log_s = torch.log((cond.source_depth.to(dtype) / ref).clamp_min(DEPTH_FLOOR)).clamp(-4, 4) / 4
        log_t = torch.log((cond.target_depth.to(dtype) / ref).clamp_min(DEPTH_FLOOR)).clamp(-4, 4) / 4
        h = self.out_norm(h)
        src = self.out_source(h + self.depth_proj_source(fourier_features(log_s[..., None], self.fourier_bands)))
        tgt = self.out_target(h + self.depth_proj_target(fourier_features(log_t[..., None], self.fourier_bands)))
        return src, tgt

    def forward(self, video_tokens: torch.Tensor, grid: tuple[int, int, int], cond: TrackCondition) -> torch.Tensor:
        """Tokens to add to the video stream ``[source | target]``.

        Args:
            video_tokens: ``(B, 2T * Ht * Wt, D)`` embedded video tokens; frames ``0 .. T-1`` the clean
                source, ``T .. 2T-1`` the (noised) target.
            grid: the token grid ``(2T, Ht, Wt)``.
            cond: :class:`TrackCondition` with ``T`` frames, batch ``B``, on the tokens' device.
        Returns:
            ``(B, 2T * Ht * Wt, D)``: the scattered source-view tokens on the source frames and the
            target-view tokens on the target frames.
        Raises:
            ValueError: a condition whose frame count or batch does not fit the video stream.
        """
        frames, ht, wt = grid
        b = video_tokens.shape[0]
        t = cond.num_frames
        if frames != 2 * t:
            raise ValueError(f"the video stream has {frames} token frames but the track condition has {t} frames; "
                             f"the stream must be [source | target], {2 * t} frames (source frames = the tracks' "
                             "frames, and the same count of target frames)")
        if cond.source_xy.shape[0] != b:
            raise ValueError(f"the track condition has batch {cond.source_xy.shape[0]} but the video {b}")
        grid_tokens = video_tokens.view(b, frames, ht, wt, -1)
        src, tgt = self.track_tokens(grid_tokens[:, :t], cond)
        src_grid, _ = scatter_tokens(src, cond.source_xy, cond.source_visibility, cond.image_size, (ht, wt))
        tgt_grid, _ = scatter_tokens(tgt, cond.target_xy, cond.target_visibility, cond.image_size, (ht, wt))
        return torch.cat([src_grid, tgt_grid], 1).flatten(1, 3)
