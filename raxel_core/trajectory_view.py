"""A trajectory as a small JSON-safe dict for the pack's 3D view in the browser.

The nodes send it to the front end as a UI payload (``{"raxel_trajectory": [view]}``), and the
JavaScript extension (``web/js/raxel_trajectory_view.js``) draws one camera frustum per frame.
Layout of :func:`trajectory_view`'s result (plain ``float`` / ``int`` / ``list`` / ``str`` only)::

    {
      "format": "raxel_trajectory_view", "version": 1,
      "num_frames": N,
      "image_size": [H, W],                     # pixels
      "fps": float | None,
      "label": str | None,                      # e.g. "reference"
      "look_at": [x, y, z] | None,              # world point the cameras converge on
      "frames": [{"position": [x, y, z],        # camera centre c = -R^T t, world units
                  "rotation": [[...], [...], [...]],   # camera-to-world rows (R^T), OpenCV axes
                  "fov_y_deg": float}, ...]     # vertical field of view, 2 atan(H / (2 fy))
    }

The world is the trajectory's own (OpenCV: x right, y down, z forward); the browser turns it
for display (y up) and nothing else.
"""
from __future__ import annotations

import math

import torch

from .cameras import Cameras

#: Value of the ``format`` field, so the front end can refuse anything else.
VIEW_FORMAT = "raxel_trajectory_view"
VIEW_VERSION = 1

#: Smallest mean ``sin^2`` of the angle between the viewing directions and the least-squares
#: convergence direction (about 5 degrees of spread) for :func:`convergence_point` to answer.
_MIN_SPREAD = math.sin(math.radians(5.0)) ** 2


def convergence_point(cameras: Cameras) -> list[float] | None:
    """World point closest (least squares) to every camera's optical axis, or ``None``.

    Minimises ``sum_i |(I - d_i d_i^T)(p - c_i)|^2`` over ``p`` (``c_i`` the centres, ``d_i``
    the unit viewing directions, the third row of ``R``): the normal equations
    ``(sum_i (I - d_i d_i^T)) p = sum_i (I - d_i d_i^T) c_i``.

    Returns ``None`` when the point is not defined or not meaningful: fewer than 2 cameras,
    viewing directions spreading less than about 5 degrees (a dolly: the axes are near parallel),
    or a point that is not in front of every camera (a pan: the axes meet at the camera centre).

    Args:
        cameras: any :class:`Cameras`.

    Returns:
        ``[x, y, z]`` floats in world units, or ``None``.
    """
    if len(cameras) < 2:
        return None
    centers = cameras.centers.to(torch.float64)  # (N, 3)
    d = cameras.R[:, 2, :].to(torch.float64)  # (N, 3) optical axis in world coordinates
    d = d / torch.linalg.norm(d, dim=-1, keepdim=True)
    eye = torch.eye(3, dtype=torch.float64)
    P = eye - d[:, :, None] * d[:, None, :]  # (N, 3, 3) projectors orthogonal to each axis
    A = P.sum(0)
    b = (P @ centers[..., None]).sum(0)[:, 0]
    if float(torch.linalg.eigvalsh(A / len(cameras))[0]) < _MIN_SPREAD:
        return None
    p = torch.linalg.solve(A, b)
    depth = ((p - centers) * d).sum(-1)  # distance of p along each axis
    if float(depth.min()) <= 1e-6 * max(1.0, float(torch.linalg.norm(centers, dim=-1).max())):
        return None
    return [float(v) for v in p]


def trajectory_view(cameras: Cameras, look_at=None, label: str | None = None) -> dict:
    """JSON-safe description of ``cameras`` for the 3D view (layout in the module docstring).

    Args:
        cameras: a validated :class:`Cameras` (``N >= 1`` frames).
        look_at: ``(3,)`` world point to mark, or ``None`` for :func:`convergence_point`.
        label: short text shown beside the trajectory in the view (e.g. ``"reference"``).

    Returns:
        a ``dict`` of plain Python numbers, lists and strings; ``json.dumps`` works on it
        without options, and ``len(result["frames"]) == len(cameras)``.

    Raises:
        ValueError: no frames, or a non-finite pose / intrinsic (a trajectory that was not
            validated; run :meth:`Cameras.validate` on it to find the frame).
    """
    if not isinstance(cameras, Cameras):
        raise ValueError(f"trajectory_view needs a Cameras trajectory; got {type(cameras).__name__}")  # noqa: TRY004
    n = len(cameras)
    if n == 0:
        raise ValueError("the trajectory has no frames; nothing to show in the 3D view")
    c2w = cameras.c2w.to(torch.float64)  # (N, 4, 4)
    fy = cameras.fy.to(torch.float64)
    height, width = (int(v) for v in cameras.image_size)
    fov = torch.rad2deg(2.0 * torch.atan(height / (2.0 * fy)))  # fov_y = 2 atan(H / 2 fy)
    if not (torch.isfinite(c2w).all() and torch.isfinite(fov).all()):
        raise ValueError(
            "the trajectory holds non-finite poses or focal lengths; validate it "
            "(Cameras.validate) to find the frame, and fix or drop that frame"
        )
    if look_at is None:
        point = convergence_point(cameras)
    else:
        target = torch.as_tensor(look_at, dtype=torch.float64).reshape(-1)
        if target.shape != (3,) or not torch.isfinite(target).all():
            raise ValueError(f"look_at must be 3 finite numbers; got {look_at!r}")
        point = [float(v) for v in target]
    positions = c2w[:, :3, 3].tolist()
    rotations = c2w[:, :3, :3].tolist()
    fovs = fov.tolist()
    return {
        "format": VIEW_FORMAT,
        "version": VIEW_VERSION,
        "num_frames": n,
        "image_size": [height, width],
        "fps": None if cameras.fps is None else float(cameras.fps),
        "label": label,
        "look_at": point,
        "frames": [
            {"position": positions[i], "rotation": rotations[i], "fov_y_deg": fovs[i]}
            for i in range(n)
        ],
    }
