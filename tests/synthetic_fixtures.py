"""Video with exactly known cameras for the tests of pose estimation, rendering and previews.

* :func:`rotation_only_trajectory`: a tripod move (every camera at one centre), to render with
  :func:`raxel_core.synthetic.render.render_frames` or to draw.
* :func:`crop_sequence`: a tripod pan / tilt emulated from one real photo. For a camera that only
  rotates, image motion is the homography ``H = K_dst R K_src^-1`` (Hartley & Zisserman, *Multiple
  View Geometry*, 2nd ed., Sec. 8.4.2 / 13.3), so warping the photo gives frames whose cameras are
  known exactly.

Both in the one convention of :mod:`raxel_core.cameras` (OpenCV axes, world-to-camera ``R, t``,
pixel ``K``, pixel centres at ``(col + 0.5, row + 0.5)``). Only tests use them; a plain module
(``from synthetic_fixtures import crop_sequence``), not pytest fixtures.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import torch

from raxel_core.cameras import Cameras


def _rotation_yaw_pitch(yaw_deg, pitch_deg) -> torch.Tensor:
    """``(N, 3, 3)`` camera-to-world rotations ``Ry(yaw) @ Rx(pitch)`` in OpenCV axes: positive yaw
    turns the view to the right (+x), positive pitch tilts it up (-y, since y is down)."""
    yaw = torch.deg2rad(torch.as_tensor(yaw_deg, dtype=torch.float64)).reshape(-1)
    pitch = torch.deg2rad(torch.as_tensor(pitch_deg, dtype=torch.float64)).reshape(-1)
    n = max(yaw.shape[0], pitch.shape[0])
    yaw, pitch = yaw.expand(n), pitch.expand(n)
    cy, sy, cp, sp = torch.cos(yaw), torch.sin(yaw), torch.cos(pitch), torch.sin(pitch)
    zero, one = torch.zeros_like(cy), torch.ones_like(cy)
    Ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).reshape(n, 3, 3)
    Rx = torch.stack([one, zero, zero, zero, cp, -sp, zero, sp, cp], -1).reshape(n, 3, 3)
    return Ry @ Rx


def _sweep_fractions(num_frames: int) -> torch.Tensor:
    """``(N,)`` float64 fractions of the sweep, ``-0.5`` to ``+0.5`` (one frame: ``0``)."""
    if num_frames > 1:
        return torch.linspace(-0.5, 0.5, num_frames, dtype=torch.float64)
    return torch.zeros(1, dtype=torch.float64)


def rotation_only_trajectory(num_frames: int = 24, image_size: tuple[int, int] = (256, 384),
                             pan_deg: float = 30.0, tilt_deg: float = 0.0, fov_y_deg: float = 60.0,
                             center=(0.0, 0.0, -1.0), fps: float | None = 8.0) -> Cameras:
    """A tripod move: the camera stays at ``center`` and turns. Yaw sweeps linearly from
    ``-pan_deg / 2`` to ``+pan_deg / 2`` (positive = towards +x, to the right) and pitch from
    ``-tilt_deg / 2`` to ``+tilt_deg / 2`` (positive = up, towards -y); ``c2w = Ry(yaw) Rx(pitch)``
    and ``R = c2w^T``. Every camera centre equals ``center``.

    Raises:
        ValueError: ``num_frames < 1``.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1; got {num_frames}")
    a = _sweep_fractions(num_frames)
    c2w_R = _rotation_yaw_pitch(a * pan_deg, a * tilt_deg)
    R = c2w_R.transpose(1, 2)
    c = torch.as_tensor(center, dtype=torch.float64).reshape(1, 3, 1).expand(num_frames, 3, 1)
    t = -(R @ c)[..., 0]
    K = Cameras.intrinsics_from_fov(fov_y_deg, image_size, num_frames)
    cams = Cameras(K=K, R=R, t=t, image_size=image_size, fps=fps)
    cams.metadata["source"] = "tests/synthetic_fixtures.rotation_only_trajectory"
    return cams


def crop_sequence(image: np.ndarray, num_frames: int = 16, crop_size: tuple[int, int] | None = None,
                  pan_deg: float = 8.0, tilt_deg: float = 0.0, fov_x_deg: float = 60.0,
                  fps: float | None = 8.0) -> tuple[np.ndarray, Cameras]:
    """Emulate a tripod pan / tilt from one real photo by warping it under known rotations.

    The photo is assumed to be a pinhole image with square pixels, principal point at its centre
    and horizontal field of view ``fov_x_deg`` (default 60 degrees, typical of phone cameras; the
    LLFF fern photos have 63.5): ``K_src = [[f, 0, W/2], [0, f, H/2], [0, 0, 1]]`` with
    ``f = (W / 2) / tan(fov_x / 2)``. The photo's camera is the world frame (``R = I``, ``t = 0``).
    Frame ``k`` is a camera at the same centre with camera-to-world rotation
    ``Ry(yaw_k) Rx(pitch_k)`` (yaw from ``-pan_deg / 2`` to ``+pan_deg / 2``, positive = right;
    pitch from ``-tilt_deg / 2`` to ``+tilt_deg / 2``, positive = up) and intrinsics
    ``K = [[f, 0, w/2], [0, f, h/2], [0, 0, 1]]`` for a crop of ``(h, w)`` pixels. For a pure rotation
    the photo maps to frame ``k`` by the homography ``H_k = K R_k K_src^-1`` (Hartley & Zisserman,
    Sec. 8.4.2), applied with ``cv2.warpPerspective`` (bicubic, pixel centres at +0.5 as everywhere
    in :mod:`raxel_core`). Frames ``i`` and ``j`` are related by ``K R_j R_i^T K^-1``.

    Args:
        image: ``(H, W, 3)`` uint8 RGB photo.
        num_frames: number of frames (>= 1).
        crop_size: ``(h, w)`` of the output frames; default ``(0.7 H, 0.7 W)`` rounded to even.
        pan_deg, tilt_deg: total sweep of yaw and pitch in degrees.
        fov_x_deg: assumed horizontal field of view of the photo in degrees, in (0, 180).
        fps: frames per second stored on the trajectory.

    Returns:
        ``(frames (N, h, w, 3) uint8, Cameras)``: the exact rotation-only ground truth (all centres
        at the origin), ``metadata["source"] = "tests/synthetic_fixtures.crop_sequence"``.

    Raises:
        ValueError: a bad image, ``crop_size`` larger than the photo, or a sweep that would look past
            the photo's edge (the error gives the largest sweep that fits).
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be an (H, W, 3) uint8 RGB array; got {image.dtype} {image.shape}")
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1; got {num_frames}")
    if not 0 < fov_x_deg < 180:
        raise ValueError(f"fov_x_deg must be in (0, 180) degrees; got {fov_x_deg}")
    H, W = image.shape[:2]
    if crop_size is None:
        crop_size = (2 * round(0.35 * H), 2 * round(0.35 * W))
    h, w = (int(v) for v in crop_size)
    if not (0 < h <= H and 0 < w <= W):
        raise ValueError(f"crop_size {crop_size} must be positive and fit in the photo ({H}, {W})")
    f = (W / 2) / math.tan(math.radians(fov_x_deg) / 2)
    K_src = Cameras.intrinsics_matrix(f, f, W / 2, H / 2)[0]
    K = Cameras.intrinsics_matrix(f, f, w / 2, h / 2)[0]
    a = _sweep_fractions(num_frames)
    R = _rotation_yaw_pitch(a * pan_deg, a * tilt_deg).transpose(1, 2)  # world-to-camera
    # pixel-centre convention: continuous coordinate = OpenCV index + 0.5
    to_index = torch.tensor([[1.0, 0, -0.5], [0, 1.0, -0.5], [0, 0, 1.0]], dtype=torch.float64)
    from_index = torch.linalg.inv(to_index)
    corners = torch.tensor([[0, 0, 1], [w, 0, 1], [w, h, 1], [0, h, 1]], dtype=torch.float64).T
    frames = np.empty((num_frames, h, w, 3), dtype=np.uint8)
    for k in range(num_frames):
        H_k = K @ R[k] @ torch.linalg.inv(K_src)  # photo pixel -> frame pixel
        src = torch.linalg.inv(H_k) @ corners  # frame corners in the photo
        if (src[2] <= 0).any():
            raise ValueError(f"frame {k} looks more than 90 degrees away from the photo; reduce pan_deg / tilt_deg")
        src = (src[:2] / src[2]).T
        outside = ((src[:, 0] < -1e-6) | (src[:, 0] > W + 1e-6) | (src[:, 1] < -1e-6) | (src[:, 1] > H + 1e-6))
        if outside.any():
            half_x = math.degrees(math.atan((W / 2) / f) - math.atan((w / 2) / f))
            half_y = math.degrees(math.atan((H / 2) / f) - math.atan((h / 2) / f))
            raise ValueError(
                f"frame {k} of a {pan_deg:g} degree pan / {tilt_deg:g} degree tilt looks past the "
                f"photo's edge (crop {h}x{w} of a {H}x{W} photo, assumed fov_x {fov_x_deg:g}); keep "
                f"the sweep under about {2 * half_x:.1f} degrees pan / {2 * half_y:.1f} degrees tilt "
                "(less when combined) or use a smaller crop_size"
            )
        H_index = (to_index @ H_k @ from_index).numpy()
        frames[k] = cv2.warpPerspective(image, H_index, (w, h), flags=cv2.INTER_CUBIC,
                                        borderMode=cv2.BORDER_REPLICATE)
    t = torch.zeros(num_frames, 3, dtype=torch.float64)
    cams = Cameras(K=K.expand(num_frames, 3, 3).clone(), R=R, t=t, image_size=(h, w), fps=fps)
    cams.metadata.update({"source": "tests/synthetic_fixtures.crop_sequence", "fov_x_deg": float(fov_x_deg),
                          "K_photo": K_src.tolist()})
    return frames, cams
