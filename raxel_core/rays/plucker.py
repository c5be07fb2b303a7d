"""Plücker ray maps and their RayDiffusion decoder.

Plücker coordinates of the ray through a pixel: unit direction ``d`` and moment ``m = o x d``
(``o`` the camera centre), both in the reference camera's frame (Sitzmann et al. 2021; RayDiffusion,
"Cameras as Rays", ICLR 2024). :func:`plucker_maps` gives ``(d, m)``; :func:`plucker_rays_to_cameras`
decodes a model's 6-channel Plücker ray stream back to cameras as RayDiffusion does. The Wan camera
embedding built from the same rays is in :mod:`raxel_core.rays.wan_embedding`.
"""
from __future__ import annotations

import numpy as np
import torch

from ..cameras import Cameras
from ..geometry.alignment import procrustes_rotation
from ..geometry.pixels import pixel_centers
from .raxel_encode import local_ray_directions, relative_rays


def plucker_maps(cameras: Cameras, size: tuple[int, int] | None = None, reference: int = 0) -> torch.Tensor:
    """Per-pixel Plücker coordinates ``(d, m = o x d)`` in the reference camera's frame.

    Args:
        cameras: ``N`` cameras (validated).
        size: ``(h, w)`` pixel grid, K rescaled to it; default ``cameras.image_size``.
        reference: index of the reference camera (its ``o = 0``, so its ``m = 0``).
    Returns:
        ``(N, h, w, 6)`` float64: channels 0-2 the unit direction ``d``, 3-5 the moment
        ``m = o x d`` in scene units (pixel centres ``(x + 0.5, y + 0.5)``, rotations projected
        onto SO(3) as in :func:`raxel_core.rays.raxel_encode.relative_rays`).
    Raises:
        ValueError: invalid cameras, size or reference index.
    """
    cameras.validate("plucker_maps")
    d, o, _, _ = relative_rays(cameras, size, reference)
    m = torch.linalg.cross(o[:, None, None, :].expand_as(d), d, dim=-1)
    return torch.cat([d, m], dim=-1)


def plucker_rays_to_cameras(rays: torch.Tensor, image_size: tuple[int, int] | None = None) -> Cameras:
    """Decode a 6-channel Plücker ray stream ``(F, 6, h, w)`` to cameras (RayDiffusion, "Cameras as
    Rays", ICLR 2024, Sec. 3.3; unknown focal handled as Rays as Pixels Sec. 3.5 does).

    * centre ``c_k``: the least-squares point nearest all rays of frame ``k``,
      ``[sum (I - d d^T)] c = sum (I - d d^T) p`` with ``p = d x m`` the foot of each line;
    * focal: frame 0 is the reference (``R = I``), so its directions are ``K^-1 u~`` normalised:
      ``f_x`` is the least-squares fit of ``u - c_x = f_x x / z`` (likewise ``f_y``), principal
      point at the image centre, one K shared by all frames;
    * rotation: orthogonal Procrustes between the shared local directions ``K^-1 u~`` and frame
      ``k``'s predicted directions.

    Returns cameras relative to frame 0 (unit translation scale) at ``image_size`` (default the
    ray grid). Raises ``ValueError`` when the rays do not decode (degenerate directions, a focal
    that is not positive, a singular centre system).
    """
    if rays.ndim != 4 or rays.shape[1] != 6:
        raise ValueError(f"Plücker rays must be (F, 6, h, w); got {tuple(rays.shape)}")
    x = rays.detach().double().cpu().clamp(-1, 1).permute(0, 2, 3, 1)
    n, h, w, _ = x.shape
    d = x[..., :3].reshape(n, -1, 3)
    m = x[..., 3:].reshape(n, -1, 3)
    norm = torch.linalg.norm(d, dim=-1, keepdim=True)
    if not bool((norm > 1e-3).all()):
        raise ValueError("Plücker rays do not decode: some ray directions are ~0 (the model is untrained or "
                         "needs more ray steps)")
    d = d / norm
    p = torch.linalg.cross(d, m, dim=-1)                                  # foot of the line nearest the origin
    eye = torch.eye(3, dtype=torch.float64)
    proj = eye - d[..., :, None] * d[..., None, :]                        # (F, P, 3, 3)
    A, b = proj.sum(1), (proj @ p[..., None]).sum(1)[..., 0]
    centres = torch.linalg.lstsq(A, b[..., None]).solution[..., 0]        # (F, 3)
    # focal from frame 0 (the reference camera, R = I): u - cx = fx * dx / dz
    u, v = pixel_centers((h, w), torch.float64)
    cx, cy = w / 2, h / 2
    d0 = d[0]
    front = d0[:, 2] > 1e-3
    ax, ay = d0[front, 0] / d0[front, 2], d0[front, 1] / d0[front, 2]
    fx = float(((u[front] - cx) * ax).sum() / (ax * ax).sum().clamp_min(1e-12))
    fy = float(((v[front] - cy) * ay).sum() / (ay * ay).sum().clamp_min(1e-12))
    if not (np.isfinite(fx) and np.isfinite(fy) and fx > 0 and fy > 0):
        raise ValueError(f"Plücker rays do not decode: the reference frame's directions give focal lengths "
                         f"fx={fx:.3g}, fy={fy:.3g} (must be positive); the model is untrained or needs more ray steps")
    K = Cameras.intrinsics_matrix(fx, fy, cx, cy).reshape(1, 3, 3).expand(n, 3, 3).clone()
    d_local = local_ray_directions(K[:1], (h, w))[0]                      # (P, 3)
    H = torch.einsum("pi,fpj->fij", d_local, d)                           # sum d_local d_k^T
    R_rel = procrustes_rotation(H)                                        # d_k = R_rel d_local
    c2w = torch.eye(4, dtype=torch.float64).repeat(n, 1, 1)
    c2w[:, :3, :3], c2w[:, :3, 3] = R_rel, centres - centres[:1]
    cams = Cameras.from_c2w(c2w, K, (h, w))
    return cams if image_size is None else cams.with_image_size(image_size)
