"""Geometry primitives of ``raxel_core``, one implementation each.

* ``rotations.py``  nearest rotation, SO(3) log / exp (kornia), rotation angles (atan2 form),
  axis rotations and the keyframe Euler convention
* ``alignment.py``  Kabsch (rigid, weighted, batched in torch) and Umeyama (similarity)
* ``pixels.py``     the pixel-centre convention (pixel ``(x, y)`` centre at ``(x + 0.5, y + 0.5)``)
"""
from .alignment import det3, kabsch, procrustes_rotation, umeyama_alignment
from .pixels import pixel_centers
from .rotations import (
    project_to_rotation,
    rotation_about_x,
    rotation_about_y,
    rotation_about_z,
    rotation_angle_deg,
    rotation_error_deg,
    rotation_from_euler_deg,
    so3_exp,
    so3_log,
)

__all__ = [
    "det3",
    "kabsch",
    "pixel_centers",
    "procrustes_rotation",
    "project_to_rotation",
    "rotation_about_x",
    "rotation_about_y",
    "rotation_about_z",
    "rotation_angle_deg",
    "rotation_error_deg",
    "rotation_from_euler_deg",
    "so3_exp",
    "so3_log",
    "umeyama_alignment",
]
