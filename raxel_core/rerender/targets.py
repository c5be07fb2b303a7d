"""Target cameras for re-rendering: an absolute trajectory, a move relative to the source path, or one
of Reangle-A-Video's six camera types (Jeong et al., arXiv 2503.09151, Sec. 4 "camera types":
orbit left / right / up / down, dolly in / out).

Relative targets (``source pose ∘ offset``): an offset trajectory is read as a camera **motion**,
its pose of frame ``k`` relative to its own frame 0, ``O_k = w2c_offset[k] @ c2w_offset[0]`` (maps
offset-camera-0 coordinates to offset-camera-k coordinates). It is applied in each source camera's
frame: ``w2c_target[k] = O_k @ w2c_source[k]``. So a static offset reproduces the source path and
any authored move (pan, dolly, orbit ...) rides on top of it. Intrinsics: the source's.

Presets: in source camera ``k``'s frame the scene centre is the point ``p = (0, 0, d)`` on the optical
axis at the scene's median depth ``d`` (:func:`scene_distance`). An orbit by angle ``a`` turns the
camera about ``p``: camera-to-source rotation ``R_o`` (about the camera's y axis for left / right,
x axis for up / down), centre ``p - R_o p``, so the camera keeps looking at ``p``. A dolly moves the
camera along its optical axis by ``± fraction * d``. The move grows linearly from nothing at frame 0
to the full ``angle`` / ``fraction`` at the last frame, so target frame 0 is source frame 0.
"""
from __future__ import annotations

import math
from dataclasses import replace

import torch

from ..cameras import Cameras

#: Reangle-A-Video's six camera types.
PRESETS = ("orbit_left", "orbit_right", "orbit_up", "orbit_down", "dolly_in", "dolly_out")
#: Default orbit angle (degrees) at the last frame.
DEFAULT_ORBIT_DEG = 15.0
#: Default dolly distance at the last frame, as a fraction of the scene distance.
DEFAULT_DOLLY_FRACTION = 0.25


def scene_distance(depth: torch.Tensor) -> float:
    """Median z-depth of a ``(N, H, W)`` depth batch (scene units): the distance of the scene centre.

    Raises:
        ValueError: no positive finite depth.
    """
    d = torch.as_tensor(depth).float()
    d = d[torch.isfinite(d) & (d > 0)]
    if d.numel() == 0:
        raise ValueError("the depth has no positive values; the scene centre cannot be placed")
    # a strided subset keeps the median cheap on long clips; its value is a median of the same data
    step = max(1, d.numel() // 2_000_000)
    return float(d[::step].median())


def _rotation(axis: str, angle_rad: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(angle_rad), torch.sin(angle_rad)
    o, z = torch.ones_like(c), torch.zeros_like(c)
    if axis == "y":  # [[c, 0, s], [0, 1, 0], [-s, 0, c]]
        rows = [c, z, s, z, o, z, -s, z, c]
    else:  # x: [[1, 0, 0], [0, c, -s], [0, s, c]]
        rows = [o, z, z, z, c, -s, z, s, c]
    return torch.stack(rows, -1).reshape(-1, 3, 3)


def preset_offsets(preset: str, num_frames: int, distance: float, angle_deg: float = DEFAULT_ORBIT_DEG,
                   dolly_fraction: float = DEFAULT_DOLLY_FRACTION) -> torch.Tensor:
    """``(N, 4, 4)`` float64 offsets ``O_k`` (source camera -> target camera) of a preset (module docstring).

    Raises:
        ValueError: unknown preset, ``num_frames < 1``, non-positive distance, or a negative size.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown re-render preset {preset!r}; choose one of {', '.join(PRESETS)}")
    if num_frames < 1:
        raise ValueError("the video has no frames")
    if not (math.isfinite(distance) and distance > 0):
        raise ValueError(f"the scene distance must be positive scene units; got {distance}")
    if angle_deg < 0 or dolly_fraction < 0:
        raise ValueError("the orbit angle and dolly fraction are sizes (>= 0); the preset name gives the direction")
    u = torch.linspace(0.0, 1.0, num_frames, dtype=torch.float64) if num_frames > 1 else torch.ones(1).double()
    c2w = torch.eye(4, dtype=torch.float64).repeat(num_frames, 1, 1)
    if preset.startswith("orbit"):
        # the camera moves left (-x) for a positive angle about y, up (-y) for a negative angle about x
        sign = {"orbit_left": 1.0, "orbit_right": -1.0, "orbit_up": -1.0, "orbit_down": 1.0}[preset]
        axis = "y" if preset in ("orbit_left", "orbit_right") else "x"
        R_o = _rotation(axis, sign * math.radians(angle_deg) * u)
        p = torch.tensor([0.0, 0.0, distance], dtype=torch.float64)
        c2w[:, :3, :3] = R_o
        c2w[:, :3, 3] = p - R_o @ p
    else:
        sign = 1.0 if preset == "dolly_in" else -1.0
        c2w[:, 2, 3] = sign * dolly_fraction * distance * u
    return torch.linalg.inv(c2w)


def apply_offsets(source: Cameras, offsets: torch.Tensor) -> Cameras:
    """``w2c_target[k] = offsets[k] @ w2c_source[k]``; intrinsics and size of the source."""
    offsets = torch.as_tensor(offsets, dtype=torch.float64)
    if offsets.shape != (len(source), 4, 4):
        raise ValueError(f"offsets must have shape ({len(source)}, 4, 4); got {tuple(offsets.shape)}")
    w2c = offsets @ source.w2c
    return replace(source, R=w2c[:, :3, :3], t=w2c[:, :3, 3], metadata={})


def preset_targets(source: Cameras, preset: str, distance: float, angle_deg: float = DEFAULT_ORBIT_DEG,
                   dolly_fraction: float = DEFAULT_DOLLY_FRACTION) -> Cameras:
    """Target cameras of a preset about the scene centre at ``distance`` (e.g. :func:`scene_distance`)."""
    return apply_offsets(source, preset_offsets(preset, len(source), distance, angle_deg, dolly_fraction))


def relative_targets(source: Cameras, offset: Cameras) -> Cameras:
    """``source pose ∘ offset``: the offset trajectory's motion applied in each source camera's frame.

    Raises:
        ValueError: the offset has another frame count.
    """
    offset.check_frame_count(len(source), "the source video")
    motion = offset.w2c @ offset.c2w[0]
    return apply_offsets(source, motion)


def absolute_targets(source: Cameras, target: Cameras) -> Cameras:
    """An absolute target trajectory in the source's world, resized to the video's size.

    Raises:
        ValueError: another frame count than the source.
    """
    target.check_frame_count(len(source), "the source video")
    if tuple(target.image_size) != tuple(source.image_size):
        target = target.with_image_size(source.image_size)
    return target
