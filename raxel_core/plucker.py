"""Plücker ray maps and the Wan 2.1 Fun Camera embedding layout.

Plücker coordinates of the ray through a pixel: unit direction ``d`` and moment ``m = o x d``
(``o`` the camera centre), both in the reference camera's frame (Sitzmann et al. 2021; RayDiffusion,
"Cameras as Rays", ICLR 2024). :func:`plucker_maps` gives ``(d, m)``.

ComfyUI core's ``WanCameraEmbedding`` node (``comfy_extras/nodes_camera_trajectory.py``, copied
from CameraCtrl's ``inference.py``) builds a ``WAN_CAMERA_EMBEDDING`` for Wan 2.1 Fun Camera
models. :func:`wan_camera_embedding` reproduces its layout from any :class:`Cameras` trajectory:

* poses are camera-to-world (OpenCV axes), made relative to frame 0 (``c2w_rel(j) = w2c_0 c2w_j``,
  frame 0 exactly the identity);
* pixel centres ``(x + 0.5, y + 0.5)`` of a ``height x width`` image, ``d = R normalize(K^-1 u~)``,
  ``o`` the relative camera centre, channels ``cat(o x d, d)`` (moment first, as core does);
* frame 0 is repeated 3 more times and every 4 consecutive frames are packed into the channels:
  output channel ``4 c + j`` of latent frame ``t`` is Plücker channel ``c`` of frame
  ``max(0, 4 t + j - 3)``; shape ``(1, 24, (L - 1) / 4 + 1, height, width)`` float32.

Core's presets use normalised ``fx fy cx cy`` with an aspect correction that assumes 1280x720
source poses; :func:`wan_intrinsics` and :func:`wan_preset_cameras` convert those (and core's
preset motions) into ``Cameras`` so that the two agree (tested against core itself in
``tests/test_plucker.py``).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .cameras import Cameras
from .raxels import _check_size, local_ray_directions, relative_rays

#: Core's ``CAMERA_DICT`` presets: per-axis rotation (x, y, z; units of ``WAN_BASE_ANGLE``) and
#: translation (units of ``WAN_BASE_T_NORM``) reached at the end of the clip.
WAN_CAMERA_PRESETS: dict[str, dict[str, tuple[float, float, float]]] = {
    "Static": {"angle": (0.0, 0.0, 0.0), "T": (0.0, 0.0, 0.0)},
    "Pan Up": {"angle": (0.0, 0.0, 0.0), "T": (0.0, -1.0, 0.0)},
    "Pan Down": {"angle": (0.0, 0.0, 0.0), "T": (0.0, 1.0, 0.0)},
    "Pan Left": {"angle": (0.0, 0.0, 0.0), "T": (-1.0, 0.0, 0.0)},
    "Pan Right": {"angle": (0.0, 0.0, 0.0), "T": (1.0, 0.0, 0.0)},
    "Zoom In": {"angle": (0.0, 0.0, 0.0), "T": (0.0, 0.0, 2.0)},
    "Zoom Out": {"angle": (0.0, 0.0, 0.0), "T": (0.0, 0.0, -2.0)},
    "Anti Clockwise (ACW)": {"angle": (0.0, 0.0, -1.0), "T": (0.0, 0.0, 0.0)},
    "ClockWise (CW)": {"angle": (0.0, 0.0, 1.0), "T": (0.0, 0.0, 0.0)},
}
WAN_BASE_T_NORM = 1.5
WAN_BASE_ANGLE = math.pi / 3
#: Core assumes its normalised intrinsics refer to 1280x720 poses.
WAN_POSE_SIZE = (720, 1280)


def plucker_maps(cameras: Cameras, size: tuple[int, int] | None = None, reference: int = 0) -> torch.Tensor:
    """Per-pixel Plücker coordinates ``(d, m = o x d)`` in the reference camera's frame.

    Args:
        cameras: ``N`` cameras (validated).
        size: ``(h, w)`` pixel grid, K rescaled to it; default ``cameras.image_size``.
        reference: index of the reference camera (its ``o = 0``, so its ``m = 0``).
    Returns:
        ``(N, h, w, 6)`` float64: channels 0-2 the unit direction ``d``, 3-5 the moment
        ``m = o x d`` in scene units (pixel centres ``(x + 0.5, y + 0.5)``, rotations projected
        onto SO(3) as in :func:`raxel_core.raxels.relative_rays`).
    Raises:
        ValueError: invalid cameras, size or reference index.
    """
    cameras.validate("plucker_maps")
    d, o, _, _ = relative_rays(cameras, size, reference)
    m = torch.linalg.cross(o[:, None, None, :].expand_as(d), d, dim=-1)
    return torch.cat([d, m], dim=-1)


def wan_intrinsics(fx: float, fy: float, cx: float, cy: float, width: int, height: int,
                   pose_size: tuple[int, int] = WAN_POSE_SIZE) -> torch.Tensor:
    """Pixel K ``(3, 3)`` float64 that core's ``process_pose_params`` derives from normalised
    ``fx fy cx cy`` for a ``width x height`` output, assuming poses of ``pose_size = (H, W)``:
    if the poses are wider than the output, ``fx *= H_out * (W_p / H_p) / W_out``, else
    ``fy *= W_out / (W_p / H_p) / H_out``; then ``K = [fx W, fy H, cx W, cy H]``."""
    width, height = int(width), int(height)
    pose_ratio = pose_size[1] / pose_size[0]
    if pose_ratio > width / height:
        fx = height * pose_ratio * fx / width
    else:
        fy = width / pose_ratio * fy / height
    return Cameras.intrinsics_matrix(fx * width, fy * height, cx * width, cy * height)[0]


def wan_preset_cameras(camera_pose: str, length: int = 81, width: int = 832, height: int = 480,
                       speed: float = 1.0, fx: float = 0.5, fy: float = 0.5, cx: float = 0.5,
                       cy: float = 0.5) -> Cameras:
    """Core's ``WanCameraEmbedding`` preset as ``Cameras`` (same arguments as the node).

    Core's ``get_camera_motion``: frame ``i`` of ``n = length`` has rotation
    ``Rz Ry Rx`` of angles ``(i / n) speed (pi / 3) angle`` and translation
    ``(i / n) speed 1.5 T``, and core reads ``[R | T]`` as an OpenCV camera-to-world matrix.

    Returns:
        ``length`` cameras at ``image_size = (height, width)`` with :func:`wan_intrinsics`.
    Raises:
        ValueError: an unknown preset name or a non-positive length or size.
    """
    if camera_pose not in WAN_CAMERA_PRESETS:
        raise ValueError(f"unknown Wan camera preset {camera_pose!r}; choose one of {list(WAN_CAMERA_PRESETS)}")
    if int(length) < 1:
        raise ValueError(f"length must be at least 1 frame; got {length}")
    height, width = _check_size((height, width))
    n = int(length)
    preset = WAN_CAMERA_PRESETS[camera_pose]
    angle, T = np.array(preset["angle"]), np.array(preset["T"])
    c2w = np.zeros((n, 4, 4))
    c2w[:, 3, 3] = 1.0
    for i in range(n):                                   # frames, as core (a handful of 3x3s)
        tx, ty, tz = (i / n) * speed * WAN_BASE_ANGLE * angle
        Rx = np.array([[1, 0, 0], [0, np.cos(tx), -np.sin(tx)], [0, np.sin(tx), np.cos(tx)]])
        Ry = np.array([[np.cos(ty), 0, np.sin(ty)], [0, 1, 0], [-np.sin(ty), 0, np.cos(ty)]])
        Rz = np.array([[np.cos(tz), -np.sin(tz), 0], [np.sin(tz), np.cos(tz), 0], [0, 0, 1]])
        c2w[i, :3, :3] = Rz @ (Ry @ Rx)
        c2w[i, :3, 3] = (i / n) * speed * WAN_BASE_T_NORM * T
    K = wan_intrinsics(fx, fy, cx, cy, width, height)
    return Cameras.from_c2w(c2w, K.expand(n, 3, 3), (height, width))


def wan_camera_embedding(cameras: Cameras, width: int, height: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``WAN_CAMERA_EMBEDDING`` of a trajectory, laid out exactly as ComfyUI core's
    ``WanCameraEmbedding`` node (module docstring).

    Args:
        cameras: ``L`` cameras, ``L = 4 k + 1`` (Wan packs 4 frames per latent frame); K is
            rescaled from ``cameras.image_size`` to ``height x width`` (a plain resize).
        width, height: output size in pixels (core uses the video's full size).
        dtype: output dtype (core: float32). Computed in float64.
    Returns:
        ``(1, 24, (L - 1) / 4 + 1, height, width)`` tensor; channel ``4 c + j`` of latent frame
        ``t`` holds Plücker channel ``c`` (``cat(o x d, d)``, poses relative to frame 0, scene
        units) of frame ``max(0, 4 t + j - 3)``.
    Raises:
        ValueError: a length that is not ``4 k + 1``, invalid cameras or a bad size.
    """
    cameras.validate("wan_camera_embedding")
    height, width = _check_size((height, width))
    n = len(cameras)
    if (n - 1) % 4:
        lower, upper = 4 * ((n - 1) // 4) + 1, 4 * ((n - 1) // 4 + 1) + 1
        raise ValueError(
            f"the Wan camera embedding needs 4k+1 frames (Wan packs 4 frames per latent); the "
            f"trajectory has {n}. Resample it to {lower} or {upper} frames (RaxelCameraTrajectory "
            "frames / raxel_core.authoring.resample)"
        )
    latent_frames = (n - 1) // 4 + 1
    K = cameras.with_image_size((height, width)).K
    # c2w relative to frame 0: c2w_rel(j) = w2c_0 c2w_j, frame 0 exactly I (as core)
    c2w = cameras.w2c[0] @ cameras.c2w
    c2w[0] = torch.eye(4, dtype=c2w.dtype)
    shared = bool((K == K[:1]).all())
    d_shared = local_ray_directions(K[:1], (height, width))[0] if shared else None
    # frame feeding output slot (j, t): max(0, 4 t + j - 3)
    slots = torch.arange(4)[:, None] + 4 * torch.arange(latent_frames)[None, :] - 3
    slots = slots.clamp_min(0)
    out = torch.empty(6, 4, latent_frames, height, width, dtype=dtype)
    for f in range(n):                                   # frames; each vectorised over pixels
        d_local = d_shared if shared else local_ray_directions(K[f:f + 1], (height, width))[0]
        d = d_local @ c2w[f, :3, :3].T                   # (P, 3), d = R_c2w d_local
        m = torch.linalg.cross(c2w[f, :3, 3].expand_as(d), d, dim=-1)
        pl = torch.cat([m, d], dim=-1).T.reshape(6, height, width).to(dtype)
        for j, t in (slots == f).nonzero().tolist():
            out[:, j, t] = pl
    return out.reshape(1, 24, latent_frames, height, width)
