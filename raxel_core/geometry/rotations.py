"""Rotations: nearest rotation, SO(3) log / exp, rotation angles, axis rotations and Euler angles.

Every rotation in ``raxel_core`` goes through these functions (one implementation each).

* :func:`project_to_rotation`: nearest proper rotation by SVD with the determinant fixed to +1.
* :func:`so3_log` / :func:`so3_exp`: **kornia**'s ``rotation_matrix_to_axis_angle`` /
  ``axis_angle_to_rotation_matrix``. Checked against OpenCV's ``cv2.Rodrigues`` on random axes at
  angles 0, 1e-12 ... 1e-4, 0.3, pi - 1e-3 ... pi: in float64 both agree to 1.3e-15 (exp and log,
  angle and rotation), finite everywhere, including exactly 0 and pi; in float32 to 4e-7. So
  kornia is adequate and we keep no code of our own for them.
* :func:`rotation_angle_deg`: ours, the ``atan2`` form, robust near 0 and 180 degrees. kornia has
  no rotation-angle function (going through ``so3_log`` would also work but costs a quaternion
  conversion); ``arccos((tr R - 1) / 2)`` loses ~0.01 degree near zero in float64.
* :func:`rotation_about_x` / ``_y`` / ``_z`` and :func:`rotation_from_euler_deg`: the axis
  rotations of the presets and the ``euler_deg`` convention of the keyframe JSON.
"""
from __future__ import annotations

import math

import torch
from kornia.geometry.conversions import axis_angle_to_rotation_matrix, rotation_matrix_to_axis_angle

from ..tensors import as_float64


def project_to_rotation(M: torch.Tensor) -> torch.Tensor:
    """Nearest proper rotation (Frobenius norm) to each ``(..., 3, 3)`` matrix.

    ``M = U S V^T`` (SVD), ``R = U diag(1, 1, d) V^T`` with ``d = sign det(U V^T)``, so that a
    reflection is turned into the nearest rotation (det +1) rather than returned. Source: the
    orthogonal Procrustes problem (Schonemann 1966; Umeyama 1991, eq. 43 for the sign).

    Args:
        M: ``(..., 3, 3)`` real matrices, any float dtype (kept).

    Returns:
        ``(..., 3, 3)`` rotations of ``M``'s dtype and device.
    """
    U, _, Vh = torch.linalg.svd(M)
    d = torch.sign(torch.linalg.det(U @ Vh))
    D = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1))
    return U @ D @ Vh


def so3_log(R: torch.Tensor) -> torch.Tensor:
    """Axis-angle vectors ``(..., 3)`` (radians, angle in ``[0, pi]``) of rotations ``(..., 3, 3)``.

    kornia's ``rotation_matrix_to_axis_angle`` (see the module docstring for its precision); dtype
    kept. At exactly ``pi`` the axis sign is arbitrary (both vectors are the same rotation).
    """
    shape = R.shape[:-2]
    return rotation_matrix_to_axis_angle(R.reshape(-1, 3, 3).contiguous()).reshape(*shape, 3)


def so3_exp(v: torch.Tensor) -> torch.Tensor:
    """Rotations ``(..., 3, 3)`` of axis-angle vectors ``(..., 3)`` in radians (Rodrigues' formula
    ``R = I + sin(a) [k]_x + (1 - cos a) [k]_x^2``), kornia's ``axis_angle_to_rotation_matrix``
    (Taylor form near 0); dtype kept."""
    shape = v.shape[:-1]
    return axis_angle_to_rotation_matrix(v.reshape(-1, 3).contiguous()).reshape(*shape, 3, 3)


def rotation_angle_deg(R) -> torch.Tensor:
    """Rotation angle in degrees, in ``[0, 180]``, of ``(..., 3, 3)`` rotation matrices.

    ``angle = atan2(||vee(R - R^T)|| / 2, (tr R - 1) / 2)`` (sine and cosine of the angle), sound
    at every angle; ``arccos((tr R - 1) / 2)`` loses ~0.01 degree near zero in float64 (the
    derivative of arccos is unbounded at 1).

    Args:
        R: ``(..., 3, 3)`` rotations: tensor, numpy array or nested lists.

    Returns:
        ``(...)`` float64 CPU tensor of degrees (the input is converted to float64 first).
    """
    R = as_float64(R)
    skew = torch.stack(
        [R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]], -1
    )
    sin = 0.5 * torch.linalg.norm(skew, dim=-1)
    cos = 0.5 * (R[..., 0, 0] + R[..., 1, 1] + R[..., 2, 2] - 1)
    return torch.rad2deg(torch.atan2(sin, cos))


def rotation_error_deg(R_a, R_b) -> torch.Tensor:
    """Geodesic angle in degrees between rotations ``(..., 3, 3)`` (broadcast):
    ``angle(R_a^T R_b)`` by :func:`rotation_angle_deg`; a float64 CPU tensor ``(...)``."""
    return rotation_angle_deg(as_float64(R_a).transpose(-1, -2) @ as_float64(R_b))


def rotation_about_x(a: torch.Tensor) -> torch.Tensor:
    """``(N, 3, 3)`` rotations by angles ``a (N,)`` radians about x: maps +z to
    ``(0, -sin a, cos a)``; dtype of ``a``."""
    c, s, o, z = torch.cos(a), torch.sin(a), torch.ones_like(a), torch.zeros_like(a)
    return torch.stack([o, z, z, z, c, -s, z, s, c], -1).reshape(-1, 3, 3)


def rotation_about_y(a: torch.Tensor) -> torch.Tensor:
    """``(N, 3, 3)`` rotations by angles ``a (N,)`` radians about y: maps +z to
    ``(sin a, 0, cos a)``; dtype of ``a``."""
    c, s, o, z = torch.cos(a), torch.sin(a), torch.ones_like(a), torch.zeros_like(a)
    return torch.stack([c, z, s, z, o, z, -s, z, c], -1).reshape(-1, 3, 3)


def rotation_about_z(a: torch.Tensor) -> torch.Tensor:
    """``(N, 3, 3)`` rotations by angles ``a (N,)`` radians about z: maps +x to
    ``(cos a, sin a, 0)`` (with y down, that turns the camera's right axis clockwise as seen
    looking along +z); dtype of ``a``."""
    c, s, o, z = torch.cos(a), torch.sin(a), torch.ones_like(a), torch.zeros_like(a)
    return torch.stack([c, -s, z, s, c, z, z, z, o], -1).reshape(-1, 3, 3)


def rotation_from_euler_deg(yaw: float, pitch: float, roll: float) -> torch.Tensor:
    """World-to-camera ``(3, 3)`` float64 rotation of a camera turned by yaw, pitch, roll degrees
    from the identity camera (looking along +z with y down).

    The camera-to-world rotation is ``R_y(yaw) R_x(pitch) R_z(roll)`` (intrinsic yaw, then pitch,
    then roll), with the signs of the presets: **yaw > 0 turns right** (``pan_right``), **pitch > 0
    looks up** (``tilt_up``), **roll > 0 rolls clockwise** as seen looking through the camera
    (``roll_clockwise``). ``[0, 0, 0]`` is the identity. Returns the transpose (w2c).
    """
    y, p, r = (torch.tensor([math.radians(float(v))], dtype=torch.float64) for v in (yaw, pitch, roll))
    c2w = rotation_about_y(y)[0] @ rotation_about_x(p)[0] @ rotation_about_z(r)[0]
    return c2w.T.contiguous()
