"""Camera path <-> per-frame feature vectors, the input and output of the camera tokenizer.

A trajectory (:class:`~raxel_core.cameras.Cameras`: OpenCV axes, world-to-camera ``R, t``, pixel
``K``) is made **relative to frame 0** and **scale-normalised**, then written as one
:data:`NUM_FEATURES`-vector per frame:

* ``[0:6]``  the 6D rotation representation (Zhou et al., "On the Continuity of Rotation
  Representations in Neural Networks", CVPR 2019, Sec. 4): the first two columns of the relative
  world-to-camera rotation ``R_rel,i = R_i R_0^T`` (camera-0 coordinates -> camera-i coordinates),
  stacked column after column. Decoded by Gram-Schmidt (their eq. 15).
* ``[6:9]``  the camera centre in camera-0 coordinates, ``c_rel,i = R_0 (c_i - c_0) / s``, with the
  **path scale** ``s = max_i |R_0 (c_i - c_0)|`` (the largest distance of any camera centre from the
  first; ``s = 1`` when that is below :data:`STATIC_EXTENT`, a camera that only turns or zooms). So
  every normalised centre lies in the unit ball and the farthest one on its surface.
* ``[9]``    the log focal ratio ``log(fx_i / fx_0)`` (zoom).

What the features do not hold travels beside the tokens as :class:`PathFrame`: frame 0's absolute
pose and intrinsics, the scale ``s``, the image size and the frame rate, so that
:func:`features_to_path` rebuilds the absolute trajectory.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..cameras import Cameras

#: Floats per frame: 6D rotation, normalised centre (3), log focal ratio (1).
NUM_FEATURES = 10
#: Below this largest centre distance from frame 0 (in the path's own units) a path counts as not
#: translating, and its translations are not rescaled (``s = 1``) so float noise is not blown up.
STATIC_EXTENT = 1e-6


@dataclass(frozen=True)
class PathFrame:
    """What :func:`path_to_features` removes from a trajectory, to put it back on decode.

    Attributes:
        R0: ``(3, 3)`` float64 world-to-camera rotation of frame 0.
        t0: ``(3,)`` float64 world-to-camera translation of frame 0 (scene units).
        K0: ``(3, 3)`` float64 pixel intrinsics of frame 0 (later frames scale fx, fy by the zoom).
        scale: path scale ``s`` in scene units (see the module docstring), > 0.
        image_size: ``(H, W)`` pixels.
        fps: frame rate or ``None``.
    """

    R0: torch.Tensor
    t0: torch.Tensor
    K0: torch.Tensor
    scale: float
    image_size: tuple[int, int]
    fps: float | None = None

    def to_json(self) -> dict:
        """A JSON-safe dict (lists of floats)."""
        return {"R0": self.R0.tolist(), "t0": self.t0.tolist(), "K0": self.K0.tolist(), "scale": self.scale,
                "image_size": list(self.image_size), "fps": self.fps}

    @classmethod
    def from_json(cls, data: dict) -> PathFrame:
        """Inverse of :meth:`to_json`. Raises ``ValueError`` naming a missing or malformed field."""
        try:
            R0 = torch.tensor(data["R0"], dtype=torch.float64)
            t0 = torch.tensor(data["t0"], dtype=torch.float64)
            K0 = torch.tensor(data["K0"], dtype=torch.float64)
            scale = float(data["scale"])
            h, w = (int(v) for v in data["image_size"])
            fps = None if data.get("fps") is None else float(data["fps"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"camera tokens: the 'frame' entry is malformed ({exc!s}); re-encode the trajectory "
                             "with raxel tokens encode") from None
        if R0.shape != (3, 3) or t0.shape != (3,) or K0.shape != (3, 3):
            raise ValueError("camera tokens: frame R0 must be 3x3, t0 3 numbers and K0 3x3; re-encode the trajectory")
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"camera tokens: scale must be a positive number; got {scale!r}")
        return cls(R0=R0, t0=t0, K0=K0, scale=scale, image_size=(h, w), fps=fps)


def rotation_to_6d(R: torch.Tensor) -> torch.Tensor:
    """``(..., 3, 3)`` rotations -> ``(..., 6)``: first column then second column (Zhou et al. 2019)."""
    return torch.cat([R[..., :, 0], R[..., :, 1]], dim=-1)


def rotation_from_6d(x: torch.Tensor) -> torch.Tensor:
    """``(..., 6)`` -> ``(..., 3, 3)`` rotations by Gram-Schmidt (Zhou et al. 2019, eq. 15):
    ``b1 = a1/|a1|``, ``b2 = (a2 - (b1.a2) b1)/|.|``, ``b3 = b1 x b2``; columns ``[b1 b2 b3]``."""
    a1, a2 = x[..., :3], x[..., 3:6]
    b1 = torch.nn.functional.normalize(a1, dim=-1)
    b2 = torch.nn.functional.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def path_to_features(cameras: Cameras) -> tuple[torch.Tensor, PathFrame]:
    """Per-frame features of a trajectory, relative to frame 0 and scale-normalised.

    Args:
        cameras: ``N >= 1`` cameras (validated here).

    Returns:
        ``(features, frame)``: ``(N, NUM_FEATURES)`` float64 features (layout in the module docstring)
        and the :class:`PathFrame` that :func:`features_to_path` needs to rebuild the absolute path.

    Raises:
        ValueError: an invalid trajectory (non-rotation, non-finite values, non-positive focal).
    """
    cameras = cameras.validate("trajectory to tokenize")
    fx = cameras.fx
    if not bool((fx > 0).all()):
        raise ValueError("trajectory to tokenize has a focal length <= 0; fix the intrinsics of the file")
    R0, t0 = cameras.R[0], cameras.t[0]
    R_rel = cameras.R @ R0.T  # R_rel,i = R_i R_0^T
    centres = cameras.centers  # c_i = -R_i^T t_i
    c_rel = (centres - centres[0]) @ R0.T  # R_0 (c_i - c_0), row vectors
    extent = float(c_rel.norm(dim=-1).max())
    scale = extent if extent > STATIC_EXTENT else 1.0
    features = torch.cat([rotation_to_6d(R_rel), c_rel / scale, torch.log(fx / fx[0])[:, None]], dim=-1)
    frame = PathFrame(R0=R0.clone(), t0=t0.clone(), K0=cameras.K[0].clone(), scale=scale,
                      image_size=cameras.image_size, fps=cameras.fps)
    return features, frame


def features_to_path(features: torch.Tensor, frame: PathFrame) -> Cameras:
    """Inverse of :func:`path_to_features` (exact up to float rounding for exact features).

    Args:
        features: ``(N, NUM_FEATURES)`` float features (any float dtype; computed in float64).
        frame: the :class:`PathFrame` of the encoded trajectory.

    Returns:
        :class:`Cameras` with ``N`` frames: ``R_i = R_rel,i R_0``, ``c_i = c_0 + s R_0^T c_rel,i``,
        ``t_i = -R_i c_i``, ``K_i = K_0`` with ``fx, fy`` times ``exp(feature[9])``.

    Raises:
        ValueError: wrong feature shape or non-finite values.
    """
    f = torch.as_tensor(features).to(torch.float64)
    if f.ndim != 2 or f.shape[1] != NUM_FEATURES:
        raise ValueError(f"camera features must have shape (N, {NUM_FEATURES}); got {tuple(f.shape)}")
    if not bool(torch.isfinite(f).all()):
        raise ValueError("camera features hold non-finite values")
    R_rel = rotation_from_6d(f[:, :6])
    R = R_rel @ frame.R0
    c0 = -frame.R0.T @ frame.t0
    centres = c0 + frame.scale * f[:, 6:9] @ frame.R0  # rows: c0 + s R_0^T c_rel
    t = -(R @ centres[:, :, None])[..., 0]
    K = frame.K0.expand(f.shape[0], 3, 3).clone()
    zoom = torch.exp(f[:, 9])
    K[:, 0, 0] *= zoom
    K[:, 1, 1] *= zoom
    return Cameras(K=K, R=R, t=t, image_size=frame.image_size, fps=frame.fps)
