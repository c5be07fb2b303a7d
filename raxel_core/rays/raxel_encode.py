"""Raxel encoding: cameras -> ray images (Rays as Pixels, arXiv 2604.09429, Sec. 3.2 and 3.5).

A *raxel map* is one 3-channel image per camera. Pick a reference (source) camera ``s``; every
camera ``j`` gets the relative pose ``P_rel(j) = P_s^-1 P_j`` (camera-to-world poses, so
``P_rel(j)`` maps camera ``j`` coordinates to reference coordinates and ``P_rel(s) = I``). With our
world-to-camera ``Cameras`` (``x_cam = R X + t``, centre ``c = -R^T t``):

* rotation of ``P_rel(j)``:   ``R_rel(j) = R_s R_j^T``          (camera j axes -> reference axes)
* centre of camera ``j``:     ``o_j = R_s (c_j - c_s)``        (reference coordinates)

For the pixel centre ``u = (x + 0.5, y + 0.5)`` of the raxel grid, with ``K`` rescaled to that grid,
the unit ray direction in the reference frame is ``d = R_rel(j) K^-1 u~ / ||K^-1 u~||`` and the
raxel stores the 3-vector ``d + o_j / scale`` (the point one unit along the ray, translation
normalised).

Translation normalisation (the paper does not publish its choice; this is ours):
``scale = max_j ||o_j||``, the largest distance of any camera from the reference camera, so every
``|o_j / scale| <= 1``. A static or rotation-only trajectory (``scale`` below
:data:`STATIC_TRANSLATION_TOLERANCE` times the scene's size) keeps ``scale = 1``. ``scale`` and the
reference camera's world pose travel with the maps (:class:`RaxelMaps`, :meth:`RaxelMaps.metadata`)
so :func:`raxel_core.rays.raxel_decode.decode_raxels` restores original units and the original world frame.

The image range of the maps is in :mod:`raxel_core.rays.raxel_maps`.
"""
from __future__ import annotations

import torch

from ..cameras import Cameras
from ..geometry.pixels import pixel_centers
from ..geometry.rotations import project_to_rotation
from ..resources import check_memory
from .raxel_maps import RaxelMaps

#: A trajectory whose cameras all lie within ``STATIC_TRANSLATION_TOLERANCE * max(1, max ||c||)``
#: of the reference camera is treated as static / rotation-only and gets ``scale = 1``: its
#: relative translations are rounding noise, and dividing by them would blow the noise up.
STATIC_TRANSLATION_TOLERANCE = 1e-9


def default_raxel_size(image_size: tuple[int, int]) -> tuple[int, int]:
    """Half the image size, rounded (Rays as Pixels: raxel maps are H/2 x W/2), at least 1."""
    h, w = image_size
    return max(1, round(h / 2)), max(1, round(w / 2))


def local_ray_directions(K: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Unit ray directions ``K^-1 u~ / ||K^-1 u~||`` in each camera's own frame.

    Args:
        K: ``(N, 3, 3)`` float64 pixel intrinsics for an ``size = (h, w)`` image (skew allowed).
    Returns:
        ``(N, h * w, 3)`` float64, pixel centres row-major (see :func:`pixel_centers`).
    """
    u, v = pixel_centers(size, K.dtype)
    fx, fy, cx, cy, s = (K[:, 0, 0, None], K[:, 1, 1, None], K[:, 0, 2, None], K[:, 1, 2, None],
                         K[:, 0, 1, None])
    y = (v - cy) / fy                      # v = fy * y + cy
    x = (u - cx - s * y) / fx              # u = fx * x + s * y + cx
    d = torch.stack([x, y, torch.ones_like(x)], dim=-1)
    return d / torch.linalg.norm(d, dim=-1, keepdim=True)


def relative_rays(cameras: Cameras, size: tuple[int, int] | None = None, reference: int = 0):
    """Ray bundles of every camera in the reference camera's frame (scene units).

    Args:
        cameras: ``N`` cameras (any world frame).
        size: ``(h, w)`` pixel grid; ``None`` keeps ``cameras.image_size``. K is rescaled to it.
        reference: index of the reference camera (``P_rel(reference) = I``).
    Returns:
        ``(d, o, R_rel, K)``: ``d`` ``(N, h, w, 3)`` unit directions, ``o`` ``(N, 3)`` camera
        centres, ``R_rel`` ``(N, 3, 3)`` camera-to-reference rotations ``R_s R_j^T``, ``K``
        ``(N, 3, 3)`` at the grid; all float64 in the reference frame. Rotations are first
        projected onto SO(3) (:func:`raxel_core.cameras.project_to_rotation`); centres are kept.
    Raises:
        ValueError: a bad size or reference index, or an invalid trajectory.
    """
    R_rel, o, K, size = _relative_poses(cameras, size, reference)
    n = len(cameras)
    if bool((K == K[:1]).all()):                                # shared intrinsics: one grid
        d_local = local_ray_directions(K[:1], size)[0]          # (P, 3)
        d = torch.matmul(d_local, R_rel.transpose(1, 2))        # d = R_rel d_local, (N, P, 3)
    else:
        d = torch.bmm(local_ray_directions(K, size), R_rel.transpose(1, 2))
    return d.reshape(n, size[0], size[1], 3), o, R_rel, K


def _relative_poses(cameras: Cameras, size: tuple[int, int] | None, reference: int):
    """``(R_rel, o, K, size)`` of :func:`relative_rays` without the rays: ``R_rel`` ``(N, 3, 3)``
    ``R_s R_j^T``, ``o`` ``(N, 3)`` ``R_s (c_j - c_s)``, ``K`` ``(N, 3, 3)`` at the checked ``size``."""
    n = len(cameras)
    if not -n <= reference < n:
        raise ValueError(f"reference camera {reference} is outside the trajectory's {n} frames")
    reference %= n
    size = tuple(cameras.image_size) if size is None else check_size(size)
    K = cameras.with_image_size(size).K
    # Text formats store rotations orthonormal to ~1e-7 only: use the nearest rotation so every
    # d is a unit vector and the map is an exact rigid motion of the camera's ray grid.
    R = project_to_rotation(cameras.R)
    c = cameras.centers
    R_rel = R[reference] @ R.transpose(1, 2)                    # camera j axes -> reference axes
    o = (c - c[reference]) @ R[reference].T                     # o_j = R_s (c_j - c_s)
    return R_rel, o, K, size


def _ray_points(K: torch.Tensor, size: tuple[int, int], R_rel: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """``(N, h, w, 3)`` float64 raxels ``R_rel d_local + offset`` (``offset`` ``(N, 3)``), written
    once by one ``baddbmm`` with the offset as its added term: no full-size temporary and one
    pass over the output (the memory floor), instead of a matmul and then an in-place add."""
    n = R_rel.shape[0]
    if bool((K == K[:1]).all()):                                  # shared intrinsics: one grid
        d_local = local_ray_directions(K[:1], size).expand(n, -1, 3)   # (N, P, 3), stride 0 in N
    else:
        d_local = local_ray_directions(K, size)
    rays = torch.baddbmm(offset[:, None, :], d_local, R_rel.transpose(1, 2))    # R_rel d_local + o / scale
    return rays.reshape(n, size[0], size[1], 3)


def _proper_w2c(cameras: Cameras, index: int) -> torch.Tensor:
    """``(4, 4)`` world-to-camera of camera ``index`` with its rotation projected onto SO(3) and
    its centre kept (the pose the raxels were encoded with)."""
    R = project_to_rotation(cameras.R[index : index + 1])[0]
    m = torch.eye(4, dtype=torch.float64)
    m[:3, :3], m[:3, 3] = R, -R @ cameras.centers[index]
    return m


def check_size(size) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (height, width) in pixels; got {size!r}") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"size must be positive (height, width) pixels; got {size!r}")
    return h, w


def encode_raxels(cameras: Cameras, size: tuple[int, int] | None = None, reference: int = 0) -> RaxelMaps:
    """Encode a trajectory as raxel maps (Rays as Pixels, Sec. 3.2).

    Each pixel of camera ``j`` stores ``d + o_j / scale``: ``d`` the unit direction of the ray
    through the pixel centre, ``o_j`` camera ``j``'s centre, both in the reference camera's frame
    (see the module docstring for the formulas and the scale).

    Args:
        cameras: ``N`` cameras; validated (``ValueError`` names the bad frame).
        size: ``(h, w)`` raxel grid; default half ``cameras.image_size``, rounded. K is rescaled
            to it (a plain resize of the image).
        reference: index of the reference (source) camera; negative counts from the end.
    Returns:
        :class:`RaxelMaps` with ``rays (N, h, w, 3)`` float64, the scale, the reference index and
        its world pose, K at the grid and the source image size.
    Raises:
        ValueError: invalid cameras, size or reference index, or a size whose arrays would exceed
            the memory limit (:func:`raxel_core.resources.check_memory`).
    """
    cameras.validate("encode_raxels")
    size = default_raxel_size(cameras.image_size) if size is None else check_size(size)
    # float64 rays (24 bytes a raxel) and their 8-bit copy peak at ~2.2x that (measured): 3x of margin
    check_memory(3 * 24 * len(cameras) * size[0] * size[1], f"encoding {len(cameras)} raxel frames of "
                 f"{size[1]}x{size[0]}", "give a smaller raxel size (the default is half the image size)")
    R_rel, o, K, size = _relative_poses(cameras, size, reference)
    scale = float(torch.linalg.norm(o, dim=-1).max())
    extent = max(1.0, float(torch.linalg.norm(cameras.centers, dim=-1).max()))
    if scale <= STATIC_TRANSLATION_TOLERANCE * extent:
        scale = 1.0                          # static / rotation-only: nothing to normalise
    rays = _ray_points(K, size, R_rel, o / scale)
    reference %= len(cameras)
    return RaxelMaps(
        rays=rays,
        scale=scale,
        reference=reference,
        K=K,
        source_image_size=cameras.image_size,
        reference_w2c=_proper_w2c(cameras, reference),
        fps=cameras.fps,
    )
