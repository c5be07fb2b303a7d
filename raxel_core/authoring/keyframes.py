"""Keyframed camera paths: the keyframe type, its JSON, and paths interpolated through keys.

All functions take and return :class:`~raxel_core.cameras.Cameras` (OpenCV axes, world-to-camera
``R, t``, pixel ``K``), float64.

Interpolation (:mod:`.interpolation`, shared by :func:`trajectory_from_keyframes` and
:func:`.trajectory_ops.resample`):

* **rotations**: SLERP between consecutive keys, ``R(u) = R_a exp(u log(R_a^T R_b))``, which is
  the shortest-arc quaternion SLERP (Shoemake 1985, "Animating rotation with quaternion curves",
  SIGGRAPH) written on rotation matrices; the log / exp maps are kornia's (through
  :mod:`raxel_core.geometry.rotations`).
* **camera centres**: a natural cubic spline in frame time (C2, passes exactly through every key;
  two keys give a straight line at constant speed).
* **field of view / focal length**: ``log f`` linear in frame time between keys, so a zoom runs at
  a constant apparent speed (the same law as the ``zoom_*`` presets).
* frames before the first key or after the last hold the first / last key (clamping).

Keyframe JSON (:func:`parse_keyframes_json`), a list of objects (or ``{"keyframes": [...]}``)::

    [{"frame": 0,  "position": [0, 0, 0], "look_at": [0, 0, 4], "fov": 50},
     {"frame": 24, "position": [1, 0, 0.5], "euler_deg": [-15, 0, 0]},
     {"frame": 48, "position": [2, 0, 1], "rotation": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}]

``position`` is the camera centre in world coordinates (OpenCV world: y is down, so "up" is -y);
the orientation is exactly one of ``look_at`` (a world point to centre), ``rotation`` (3x3
world-to-camera rows) or ``euler_deg`` (``[yaw, pitch, roll]`` degrees, see
:func:`raxel_core.geometry.rotations.rotation_from_euler_deg`); ``fov`` is the vertical field of
view in degrees (optional).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..cameras import ROTATION_TOLERANCE, Cameras, look_at_w2c
from ..formats.text_files import JSONTextError, check_inline_json_size, parse_json
from ..geometry.rotations import project_to_rotation, rotation_from_euler_deg
from .interpolation import interpolate_rotations, natural_cubic_spline
from .trajectory_presets import is_whole_number

#: A valid keyframe list, quoted in every parse error.
EXAMPLE_JSON = (
    '[{"frame": 0, "position": [0, 0, 0], "look_at": [0, 0, 4], "fov": 50}, '
    '{"frame": 48, "position": [1, 0, 0], "euler_deg": [-15, 0, 0]}]'
)

#: World "up" of the OpenCV convention (y points down), used by look-at keyframes.
DEFAULT_UP = (0.0, -1.0, 0.0)


# --------------------------------------------------------------------------- keyframes
@dataclass(frozen=True)
class Keyframe:
    """One camera key of a path.

    Attributes:
        frame: frame index ``>= 0`` the key sits on.
        position: ``(3,)`` float64 camera centre in world coordinates, scene units.
        look_at: ``(3,)`` world point the camera looks at (centred in the image), or ``None``.
        rotation: ``(3, 3)`` world-to-camera rotation (OpenCV axes), or ``None``.
        fov_y_deg: vertical field of view in degrees, ``(0, 180)``, or ``None`` (interpolated
            from the other keys, or the trajectory's default when no key has one).

    Exactly one of ``look_at`` and ``rotation`` is set. Raises ``ValueError`` otherwise, or for a
    negative frame, non-finite numbers, a non-rotation matrix or an out-of-range field of view.
    """

    frame: int
    position: torch.Tensor
    look_at: torch.Tensor | None = None
    rotation: torch.Tensor | None = None
    fov_y_deg: float | None = None

    def __post_init__(self):
        if not is_whole_number(self.frame, 0):
            raise ValueError(f"keyframe frame must be a whole number >= 0; got {self.frame!r}")
        object.__setattr__(self, "frame", int(self.frame))
        pos = torch.as_tensor(self.position, dtype=torch.float64).reshape(-1)
        if pos.shape != (3,) or not torch.isfinite(pos).all():
            raise ValueError(
                f"keyframe {self.frame}: position must be 3 finite numbers; got {self.position!r}"
            )
        object.__setattr__(self, "position", pos)
        if (self.look_at is None) == (self.rotation is None):
            raise ValueError(
                f"keyframe {self.frame}: give exactly one of look_at (a world point) or rotation "
                "(3x3 world-to-camera)"
            )
        if self.look_at is not None:
            target = torch.as_tensor(self.look_at, dtype=torch.float64).reshape(-1)
            if target.shape != (3,) or not torch.isfinite(target).all():
                raise ValueError(
                    f"keyframe {self.frame}: look_at must be 3 finite numbers; got {self.look_at!r}"
                )
            if torch.linalg.norm(target - pos) < 1e-9:
                raise ValueError(
                    f"keyframe {self.frame}: look_at coincides with position; put the look-at "
                    "point in front of the camera"
                )
            object.__setattr__(self, "look_at", target)
        else:
            R = torch.as_tensor(self.rotation, dtype=torch.float64)
            if R.shape != (3, 3) or not torch.isfinite(R).all():
                raise ValueError(
                    f"keyframe {self.frame}: rotation must be a 3x3 matrix of finite numbers; got "
                    f"shape {tuple(R.shape)}"
                )
            ortho = float((R.T @ R - torch.eye(3, dtype=torch.float64)).abs().max())
            det = float(torch.linalg.det(R))
            if ortho > ROTATION_TOLERANCE or abs(det - 1) > ROTATION_TOLERANCE:
                raise ValueError(
                    f"keyframe {self.frame}: rotation is not a proper rotation (max |R^T R - I| = "
                    f"{ortho:.2e}, det = {det:.6f}); give an orthonormal world-to-camera matrix "
                    "with det +1, or use euler_deg / look_at"
                )
            object.__setattr__(self, "rotation", project_to_rotation(R))
        if self.fov_y_deg is not None:
            fov = float(self.fov_y_deg)
            if not (math.isfinite(fov) and 0 < fov < 180):
                raise ValueError(
                    f"keyframe {self.frame}: fov must be in (0, 180) degrees; got {self.fov_y_deg!r}"
                )
            object.__setattr__(self, "fov_y_deg", fov)

    def w2c_rotation(self, up=DEFAULT_UP) -> torch.Tensor:
        """``(3, 3)`` world-to-camera rotation of this key (from ``look_at`` with world ``up``
        when it has no explicit rotation)."""
        if self.rotation is not None:
            return self.rotation
        return look_at_w2c(self.position, self.look_at, up)[0, :3, :3]


def _keyframe_error(index: int, field: str, problem: str) -> ValueError:
    return ValueError(f"keyframe {index}: field {field!r} {problem}. A valid keyframe list: {EXAMPLE_JSON}")


def _vector(item: dict, index: int, field: str) -> list[float]:
    value = item[field]
    if (
        not isinstance(value, list)
        or len(value) != 3
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        or not all(math.isfinite(v) for v in value)
    ):
        raise _keyframe_error(index, field, f"must be a list of 3 finite numbers; got {value!r}")
    return [float(v) for v in value]


def parse_keyframes_json(text: str) -> list[Keyframe]:
    """Keyframes from JSON text (format in the module docstring), in file order.

    Each object has ``frame`` (whole number >= 0, unique), ``position`` ([x, y, z] camera centre),
    exactly one of ``look_at`` ([x, y, z]), ``rotation`` (3 rows of 3 numbers, world-to-camera) or
    ``euler_deg`` ([yaw, pitch, roll] degrees,
    :func:`~raxel_core.geometry.rotations.rotation_from_euler_deg`), and optionally ``fov``
    (vertical degrees). Unknown fields are errors (a misspelt ``lookat`` would otherwise be
    ignored).

    Raises:
        ValueError: text that is not JSON, not a non-empty list, or a keyframe with a missing,
            unknown or malformed field; the message names the keyframe index (0-based position
            in the list) and the field, and quotes a valid example.
    """
    check_inline_json_size(text, "the keyframes text")
    try:
        data = parse_json(text, "keyframes")
    except JSONTextError as err:
        raise ValueError(f"keyframes are {err.problem}. A valid keyframe list: {EXAMPLE_JSON}") from None
    if isinstance(data, dict) and "keyframes" in data:
        data = data["keyframes"]
    if not isinstance(data, list) or not data:
        raise ValueError(
            f"keyframes must be a non-empty JSON list of objects. A valid keyframe list: {EXAMPLE_JSON}"
        )
    allowed = {"frame", "position", "look_at", "rotation", "euler_deg", "fov"}
    keys: list[Keyframe] = []
    seen: dict[int, int] = {}
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise ValueError(
                f"keyframe {i}: must be a JSON object; got {item!r}. A valid keyframe list: {EXAMPLE_JSON}"
            )
        unknown = sorted(set(item) - allowed)
        if unknown:
            raise _keyframe_error(
                i, unknown[0], f"is not a keyframe field (fields: {', '.join(sorted(allowed))})"
            )
        for field in ("frame", "position"):
            if field not in item:
                raise _keyframe_error(i, field, "is missing")
        frame = item["frame"]
        if not is_whole_number(frame, 0):
            raise _keyframe_error(i, "frame", f"must be a whole number >= 0; got {frame!r}")
        frame = int(frame)
        if frame in seen:
            raise _keyframe_error(
                i, "frame", f"repeats frame {frame} of keyframe {seen[frame]}; each key needs its own frame"
            )
        seen[frame] = i
        position = _vector(item, i, "position")
        orient = [f for f in ("look_at", "rotation", "euler_deg") if f in item]
        if len(orient) != 1:
            raise _keyframe_error(
                i,
                "look_at",
                f"or 'rotation' or 'euler_deg': give exactly one orientation; got {orient or 'none'}",
            )
        look_at = rotation = None
        if orient[0] == "look_at":
            look_at = _vector(item, i, "look_at")
            if max(abs(a - b) for a, b in zip(look_at, position, strict=True)) < 1e-9:
                raise _keyframe_error(
                    i, "look_at", "coincides with position; put the look-at point in front of the camera"
                )
        elif orient[0] == "euler_deg":
            rotation = rotation_from_euler_deg(*_vector(item, i, "euler_deg"))
        else:
            rows = item["rotation"]
            if (
                not isinstance(rows, list)
                or len(rows) != 3
                or not all(isinstance(r, list) and len(r) == 3 for r in rows)
                or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    for r in rows
                    for v in r
                )
            ):
                raise _keyframe_error(
                    i, "rotation", f"must be 3 rows of 3 finite numbers (world-to-camera); got {rows!r}"
                )
            rotation = torch.tensor(rows, dtype=torch.float64)
        fov = item.get("fov")
        if fov is not None and (
            isinstance(fov, bool)
            or not isinstance(fov, (int, float))
            or not math.isfinite(fov)
            or not 0 < fov < 180
        ):
            raise _keyframe_error(
                i, "fov", f"must be a vertical field of view in (0, 180) degrees; got {fov!r}"
            )
        try:
            keys.append(Keyframe(frame, position, look_at, rotation, None if fov is None else float(fov)))
        except ValueError as err:  # a rotation matrix that is not orthonormal
            raise _keyframe_error(i, orient[0], f"is invalid: {err}") from None
    return keys


def check_keyframes_in_range(keyframes: Sequence[Keyframe], num_frames: int) -> None:
    """Raise when a key sits outside the path's frames ``0 .. num_frames - 1`` (the path would stop
    short of it, silently).

    Raises:
        ValueError: naming the first such key's frame, the range, and the two fixes.
    """
    outside = sorted(k.frame for k in keyframes if k.frame >= num_frames)
    if outside:
        raise ValueError(
            f"keyframe at frame {outside[0]} is outside the path's frames 0..{num_frames - 1} (frames = "
            f"{num_frames}); set frames to at least {outside[-1] + 1} or move the key to a frame below "
            f"{num_frames}"
        )


def trajectory_from_keyframes(
    keyframes: Sequence[Keyframe],
    num_frames: int | None = None,
    image_size: tuple[int, int] = (480, 832),
    up: Sequence[float] = DEFAULT_UP,
    fov_y_deg: float = 50.0,
    fps: float | None = None,
) -> Cameras:
    """Interpolate keyframes into an ``N``-frame trajectory.

    Rotations: SLERP between consecutive keys (look-at keys are first turned into rotations with
    :func:`~raxel_core.cameras.look_at_w2c` and ``up``). Camera centres: natural cubic spline in
    frame time through every key. Focal length: ``log f`` linear between the keys that give a
    ``fov`` (``fov_y_deg`` when none does). Frames outside the keyed range hold the nearest key.
    Intrinsics are square-pixel, centred (:meth:`Cameras.intrinsics_from_fov`).

    Args:
        keyframes: one or more :class:`Keyframe` (any order; frames must differ).
        num_frames: ``N``; ``None`` gives ``last key frame + 1``.
        image_size: ``(H, W)`` pixels.
        up: world direction that appears up in the image for look-at keys (OpenCV: ``-y``).
        fov_y_deg: vertical field of view in degrees where no key gives one.
        fps: stored on the result.

    Returns:
        validated :class:`Cameras`, ``N`` frames; frame ``k`` of a key reproduces that key's
        position, rotation and fov exactly (to float64 rounding).

    Raises:
        ValueError: no keyframes, two keys on one frame, ``num_frames < 1``, a key on a frame
            ``>= num_frames`` (:func:`check_keyframes_in_range`), a look-at key whose viewing
            direction is parallel to ``up``.
    """
    keys = sorted(keyframes, key=lambda k: k.frame)
    if not keys:
        raise ValueError(f"no keyframes given; give at least one, e.g. {EXAMPLE_JSON}")
    frames = [k.frame for k in keys]
    if len(set(frames)) != len(frames):
        dup = next(f for f in frames if frames.count(f) > 1)
        raise ValueError(f"two keyframes sit on frame {dup}; give each key its own frame")
    if num_frames is None:
        num_frames = frames[-1] + 1
    if not is_whole_number(num_frames, 1):
        raise ValueError(f"num_frames must be a whole number >= 1; got {num_frames!r}")
    check_keyframes_in_range(keys, int(num_frames))
    if not (math.isfinite(fov_y_deg) and 0 < fov_y_deg < 180):
        raise ValueError(f"fov_y_deg must be in (0, 180) degrees; got {fov_y_deg!r}")
    n = int(num_frames)
    x = np.asarray(frames, dtype=np.float64)
    xq = np.arange(n, dtype=np.float64)
    rotations = []
    for k in keys:
        try:
            rotations.append(k.w2c_rotation(up))
        except ValueError as err:
            raise ValueError(f"keyframe at frame {k.frame}: {err}") from None
    R = interpolate_rotations(x, torch.stack(rotations), xq)
    positions = np.stack([k.position.numpy() for k in keys])
    centers = torch.from_numpy(natural_cubic_spline(x, positions, xq))
    h = image_size[0]
    with_fov = [(k.frame, k.fov_y_deg) for k in keys if k.fov_y_deg is not None] or [(0, fov_y_deg)]
    log_f = np.log([0.5 * h / math.tan(math.radians(v) / 2) for _, v in with_fov])
    f = np.exp(np.interp(xq, [fr for fr, _ in with_fov], log_f))
    K = Cameras.intrinsics_matrix(f, f, [image_size[1] / 2] * n, [h / 2] * n)
    t = -(R @ centers[..., None])[..., 0]
    cams = Cameras(K=K, R=R, t=t, image_size=image_size, fps=fps)
    return cams.validate("keyframed trajectory")


def keyframes_from_cameras(cameras: Cameras, frames: Sequence[int]) -> list[Keyframe]:
    """Keyframes (position = camera centre, rotation = world-to-camera ``R``, fov from ``fy`` and
    the image height: ``2 atan(H / (2 fy))``) at the given frame indices of a trajectory; the
    inverse of :func:`trajectory_from_keyframes` for square-pixel, centred intrinsics (the
    principal point and ``fx / fy`` are not kept).

    Raises:
        ValueError: an index outside ``[0, N)`` or repeated.
    """
    n = len(cameras)
    frames = [int(f) for f in frames]
    bad = [f for f in frames if not 0 <= f < n]
    if bad:
        raise ValueError(f"frame {bad[0]} is outside the trajectory's frames 0..{n - 1}")
    if len(set(frames)) != len(frames):
        raise ValueError("frames repeat; give each keyframe index once")
    centers, h = cameras.centers, cameras.image_size[0]
    return [
        Keyframe(
            frame=f,
            position=centers[f].clone(),
            rotation=cameras.R[f].clone(),
            fov_y_deg=math.degrees(2 * math.atan(h / (2 * float(cameras.fy[f])))),
        )
        for f in frames
    ]
