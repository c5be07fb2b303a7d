"""Forward warp of RGB-D frames to a new camera, and the masks a video model fills in
(Reangle-A-Video: Jeong et al., arXiv 2503.09151, ICCV 2025, Sec. 3.1 "video warping" and Fig. 11).

:func:`forward_warp`: every source pixel centre ``(j + 0.5, i + 0.5)`` with z-depth ``z`` is lifted
to ``X = R^T (z K^-1 [u, v, 1]^T - t)`` (this core's convention, :mod:`raxel_core.cameras`) and
projected into the target camera, ``u' = fx' x / z + cx'``. It is **splatted bilinearly** onto
the four target pixels around it (weights ``(1 - |du|)(1 - |dv|)``, so a point landing between
pixel centres still covers them: no holes from rounding), with a **z-buffer**: at each target pixel
only the contributions within ``depth_tolerance`` (relative) of the nearest one are kept, so nearer
points win. "Nearest" is taken among the splats that reach the pixel with weight >= ``core_weight``
(1/4: the point lands within about half a pixel of it) where there are any, else among all: the
thin tails of a foreground splat then do not paint over the background beside an edge (without
this rule foreground edges grew by ~1 px and a synthetic orbit lost ~3 dB PSNR). The kept colours
are averaged by weight. Everything is scatter ops over all pixels of a frame at once
(``scatter_reduce`` amin, ``scatter_add``), no Python loop over pixels.

:func:`visibility_mask`: pixels reached by a splat of total weight ``>= min_weight`` are covered;
the uncovered region (what the video model must generate) is **dilated 5 x 5** as Reangle does, so
the thin, half-covered seams around holes are generated too. :func:`latent_mask`: the visibility
on the latent grid of a video VAE with 8 x spatial and 4 x temporal compression (Wan 2.1): a latent
cell is visible when all of its 8 x 8 pixels are; frame 0 is kept, and every following group of 4
frames is reduced by logical AND (Reangle Fig. 11), giving ``1 + ceil((N - 1) / 4)`` latent frames
(``(N - 1) / 4 + 1`` for Wan's lengths ``4k + 1``; a last partial group is reduced over the frames it has).

Masks are returned as bool **visibility** (``True`` = the warp shows it). The ComfyUI ``MASK``
outputs use the inverse (``1`` = must be generated), the convention of ``WanVaceToVideo``'s
``control_masks``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..cameras import Cameras

#: Relative depth band of the z-buffer: contributions within ``(1 + tol) * z_nearest`` are kept.
DEPTH_TOLERANCE = 0.02
#: Splat weight from which a point decides a pixel's z-buffer depth (a point within ~half a pixel).
CORE_WEIGHT = 0.25
#: Total splat weight below which a target pixel counts as not covered.
MIN_WEIGHT = 1e-3
#: Size of the hole dilation (Reangle: 5 x 5).
DILATION = 5


@dataclass
class WarpResult:
    """Output of :func:`forward_warp` for ``N`` frames of ``H x W`` pixels.

    Attributes:
        image: ``(N, H, W, C)`` float32 warped frames (0 where not covered).
        depth: ``(N, H, W)`` float32 target-camera z-depth of the warped surface (0 where not covered).
        weight: ``(N, H, W)`` float32 total splat weight kept by the z-buffer.
        covered: ``(N, H, W)`` bool, ``weight >= min_weight`` (before the dilation of the holes).
    """

    image: torch.Tensor
    depth: torch.Tensor
    weight: torch.Tensor
    covered: torch.Tensor


def pixel_rays(K: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
    """``(H * W, 3)`` float64 ``K^-1 [u, v, 1]^T`` of the pixel centres ``(j + 0.5, i + 0.5)``, row-major."""
    h, w = image_size
    ys = torch.arange(h, dtype=torch.float64) + 0.5
    xs = torch.arange(w, dtype=torch.float64) + 0.5
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    uv1 = torch.stack([xx, yy, torch.ones_like(xx)], -1).reshape(-1, 3)
    return uv1 @ torch.linalg.inv(K).T


def _check_pair(frames, depth, source: Cameras, target: Cameras):
    n, h, w = frames.shape[:3]
    if len(source) != n or tuple(source.image_size) != (h, w):
        raise ValueError(
            f"the source trajectory ({len(source)} frames, {source.image_size[1]}x{source.image_size[0]}) "
            f"does not belong to this video ({n} frames, {w}x{h}); estimate or load the trajectory of this video"
        )
    if len(target) != n:
        raise ValueError(
            f"the target trajectory has {len(target)} frames but the video has {n}; resample the target "
            "trajectory (RaxelCameraTrajectory frames) to the video's frame count"
        )
    if tuple(depth.shape) != (n, h, w):
        raise ValueError(f"depth has shape {tuple(depth.shape)} but the video needs ({n}, {h}, {w}); give one "
                         "depth map per frame at the video size")


def splat_frame(colour: torch.Tensor, depth: torch.Tensor, rays: torch.Tensor, relative: torch.Tensor,
                K_target: torch.Tensor, out_size: tuple[int, int], depth_tolerance: float = DEPTH_TOLERANCE,
                core_weight: float = CORE_WEIGHT):
    """Z-buffered bilinear splatting of one frame (module docstring).

    Args:
        colour: ``(P, C)`` float32 values per source pixel.
        depth: ``(P,)`` float32 source z-depth (> 0).
        rays: ``(P, 3)`` ``K^-1 [u, v, 1]`` of the source pixels (:func:`pixel_rays`).
        relative: ``(4, 4)`` source-camera -> target-camera transform ``w2c_target @ c2w_source``.
        K_target: ``(3, 3)`` target intrinsics.
        out_size: target ``(H, W)``.

    Returns:
        ``(image (H, W, C), depth (H, W), weight (H, W))`` float32 (image and depth 0 where no weight).
    """
    h, w = out_size
    c = colour.shape[1]
    M = relative.to(torch.float32)
    Kt = K_target.to(torch.float32)
    x_tgt = torch.addmm(M[:3, 3], rays.to(torch.float32) * depth[:, None], M[:3, :3].T)
    z = x_tgt[:, 2]
    inv_z = 1.0 / z
    # u = fx x / z + s y / z + cx, v = fy y / z + cy; continuous pixel index = u - 0.5
    px = (Kt[0, 0] * x_tgt[:, 0] + Kt[0, 1] * x_tgt[:, 1]) * inv_z + (Kt[0, 2] - 0.5)
    py = Kt[1, 1] * x_tgt[:, 1] * inv_z + (Kt[1, 2] - 0.5)
    ok = (z > 1e-6) & (px > -1) & (px < w) & (py > -1) & (py < h)
    keep_idx = ok.nonzero()[:, 0]
    px, py, z, colour = px[keep_idx], py[keep_idx], z[keep_idx], colour[keep_idx]
    x0, y0 = torch.floor(px), torch.floor(py)
    fx, fy = px - x0, py - y0
    # a buffer with a one-pixel border: corners at x0 in [-1, w - 1] + {0, 1} always fall inside it
    wp = w + 2
    base = (y0.long() + 1) * wp + (x0.long() + 1)
    idx = torch.cat([base, base + 1, base + wp, base + wp + 1])
    gx, gy = 1 - fx, 1 - fy
    wts = torch.cat([gx * gy, fx * gy, gx * fy, fx * fy])
    zz = z.repeat(4)
    size = (h + 2) * wp
    # z-buffer: the nearest depth among the splats that reach a pixel with weight >= core_weight (the
    # point lands within about half a pixel), or among all splats where none does (one amin on
    # z + offset * [weak]); then keep the contributions within the tolerance band of it
    offset = float(zz.max()) * 4 + 1.0 if zz.numel() else 1.0
    key = torch.where(wts >= core_weight, zz, zz + offset)
    nearest = torch.full((size,), float("inf")).scatter_reduce_(0, idx, key, reduce="amin")
    nearest = torch.where(nearest >= offset, nearest - offset, nearest)[idx]
    keep = (zz <= nearest * (1 + depth_tolerance)) & (zz >= nearest * (1 - depth_tolerance))
    wk = wts * keep
    weight = torch.zeros(size).scatter_add_(0, idx, wk)
    zsum = torch.zeros(size).scatter_add_(0, idx, zz * wk)
    idx_c = (idx[:, None] * c + torch.arange(c)).reshape(-1)
    image = torch.zeros(size * c).scatter_add_(0, idx_c, (colour.repeat(4, 1) * wk[:, None]).reshape(-1))
    safe = torch.where(weight > 0, weight, torch.ones_like(weight))
    image = (image.view(size, c) / safe[:, None]).view(h + 2, wp, c)[1:-1, 1:-1]
    zsum = (zsum / safe).view(h + 2, wp)[1:-1, 1:-1]
    return image, zsum, weight.view(h + 2, wp)[1:-1, 1:-1]


def forward_warp(frames, depth, source: Cameras, target: Cameras, depth_tolerance: float = DEPTH_TOLERANCE,
                 min_weight: float = MIN_WEIGHT, should_stop=None) -> WarpResult:
    """Warp each source frame ``k`` with its depth from camera ``source[k]`` to camera ``target[k]``.

    Args:
        frames: ``(N, H, W, C)`` float32 (e.g. an IMAGE batch in [0, 1]) or uint8 frames.
        depth: ``(N, H, W)`` float z-depth in the trajectory's scene units; pixels with depth <= 0
            (no measurement, e.g. a depth sensor's holes) are not splatted.
        source: ``N`` cameras of the video (image size ``(H, W)``).
        target: ``N`` target cameras; their image size is the output size.
        depth_tolerance: relative z-buffer band (module docstring).
        min_weight: total splat weight for a covered pixel.
        should_stop: optional callable polled between frames; ``True`` raises ``InterruptedError``.

    Returns:
        :class:`WarpResult`.

    Raises:
        ValueError: a trajectory or depth that does not match the video (frame count or size).
    """
    frames = torch.as_tensor(frames)
    if frames.dtype == torch.uint8:
        frames = frames.float() / 255.0
    frames = frames.float()
    depth = torch.as_tensor(depth).float()
    _check_pair(frames, depth, source, target)
    n, h, w, c = frames.shape
    out_h, out_w = target.image_size
    relative = target.w2c @ source.c2w  # (N, 4, 4) source camera -> target camera
    image = torch.zeros(n, out_h, out_w, c)
    zbuf = torch.zeros(n, out_h, out_w)
    weight = torch.zeros(n, out_h, out_w)
    rays = None
    for k in range(n):
        if should_stop is not None and should_stop():
            raise InterruptedError("re-rendering was interrupted")
        if rays is None or not torch.equal(source.K[k], source.K[k - 1]):
            rays = pixel_rays(source.K[k], (h, w)).float()
        image[k], zbuf[k], weight[k] = splat_frame(
            frames[k].reshape(-1, c), depth[k].reshape(-1), rays, relative[k], target.K[k], (out_h, out_w),
            depth_tolerance)
    return WarpResult(image, zbuf, weight, weight >= min_weight)


def visibility_mask(covered: torch.Tensor, dilation: int = DILATION) -> torch.Tensor:
    """``(N, H, W)`` bool visibility: ``covered`` with its holes dilated by a ``dilation x dilation``
    square (Reangle-A-Video; module docstring). Pixels outside the image do not count as holes."""
    holes = (~covered.bool()).float()[:, None]
    if dilation > 1:
        pad = dilation // 2
        holes = F.max_pool2d(F.pad(holes, (pad, pad, pad, pad), value=0.0), dilation, stride=1)
    return holes[:, 0] < 0.5


def latent_mask(visible: torch.Tensor, spatial: int = 8, temporal: int = 4) -> torch.Tensor:
    """Visibility on a video VAE's latent grid (Reangle-A-Video Fig. 11; module docstring).

    Args:
        visible: ``(N, H, W)`` bool pixel visibility.
        spatial: spatial compression (8 for Wan 2.1); ``H`` and ``W`` need not be multiples
            (a partial border cell counts its pixels only).
        temporal: temporal compression (4 for Wan 2.1).

    Returns:
        ``(1 + ceil((N - 1) / temporal), ceil(H / spatial), ceil(W / spatial))`` bool; latent frame 0 is
        pixel frame 0, latent frame ``k >= 1`` is the AND of pixel frames ``4k - 3 .. 4k``.
    """
    v = visible.bool()
    n, h, w = v.shape
    hidden = (~v).float()[:, None]
    ph, pw = (-h) % spatial, (-w) % spatial
    hidden = F.pad(hidden, (0, pw, 0, ph), value=0.0)
    cells = F.max_pool2d(hidden, spatial)[:, 0] < 0.5  # visible where no pixel of the cell is hidden
    groups = [cells[:1]]
    for start in range(1, n, temporal):
        groups.append(cells[start:start + temporal].all(dim=0, keepdim=True))
    return torch.cat(groups)
