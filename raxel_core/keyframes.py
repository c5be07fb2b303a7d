"""Keyframed camera paths and trajectory editing: interpolate, chain, combine, resample, smooth.

All functions take and return :class:`~raxel_core.cameras.Cameras` (OpenCV axes, world-to-camera
``R, t``, pixel ``K``), float64.

Interpolation (shared by :func:`trajectory_from_keyframes` and :func:`resample`):

* **rotations**: SLERP between consecutive keys, ``R(u) = R_a exp(u log(R_a^T R_b))``, which is
  the shortest-arc quaternion SLERP (Shoemake 1985, "Animating rotation with quaternion curves",
  SIGGRAPH) written on rotation matrices; the log / exp maps are kornia's
  ``rotation_matrix_to_axis_angle`` / ``axis_angle_to_rotation_matrix``.
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
:func:`rotation_from_euler_deg`); ``fov`` is the vertical field of view in degrees (optional).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch
from kornia.geometry.conversions import axis_angle_to_rotation_matrix, rotation_matrix_to_axis_angle

from .cameras import ROTATION_TOLERANCE, Cameras, look_at_w2c, project_to_rotation
from .trajectory_presets import _rot_x, _rot_y, _rot_z, is_whole_number

#: A valid keyframe list, quoted in every parse error.
EXAMPLE_JSON = (
    '[{"frame": 0, "position": [0, 0, 0], "look_at": [0, 0, 4], "fov": 50}, '
    '{"frame": 48, "position": [1, 0, 0], "euler_deg": [-15, 0, 0]}]'
)

#: World "up" of the OpenCV convention (y points down), used by look-at keyframes.
DEFAULT_UP = (0.0, -1.0, 0.0)


# --------------------------------------------------------------------------- rotation helpers
def so3_log(R: torch.Tensor) -> torch.Tensor:
    """Axis-angle vectors ``(..., 3)`` (radians, angle in ``[0, pi]``) of rotations ``(..., 3, 3)``."""
    shape = R.shape[:-2]
    return rotation_matrix_to_axis_angle(R.reshape(-1, 3, 3).contiguous()).reshape(*shape, 3)


def so3_exp(v: torch.Tensor) -> torch.Tensor:
    """Rotations ``(..., 3, 3)`` of axis-angle vectors ``(..., 3)`` in radians (Rodrigues)."""
    shape = v.shape[:-1]
    return axis_angle_to_rotation_matrix(v.reshape(-1, 3).contiguous()).reshape(*shape, 3, 3)


def slerp(R_a: torch.Tensor, R_b: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Shortest-arc spherical interpolation ``R_a exp(u log(R_a^T R_b))``.

    Args:
        R_a, R_b: ``(N, 3, 3)`` rotations (either convention, the same for both).
        u: ``(N,)`` fractions; 0 gives ``R_a``, 1 gives ``R_b`` (to rounding), 0.5 the rotation
            half-way along the geodesic (angle to each end = half the angle between them).

    Returns:
        ``(N, 3, 3)`` float64 rotations. Source: Shoemake 1985 (quaternion SLERP; the
        matrix form is the same curve and takes the shortest arc because ``log`` returns angles
        in ``[0, pi]``).
    """
    u = torch.as_tensor(u, dtype=torch.float64)
    delta = so3_log(R_a.transpose(-1, -2) @ R_b)
    return R_a @ so3_exp(u[..., None] * delta)


def rotation_from_euler_deg(yaw: float, pitch: float, roll: float) -> torch.Tensor:
    """World-to-camera ``(3, 3)`` rotation of a camera turned by yaw, pitch, roll degrees from the
    identity camera (looking along +z with y down).

    The camera-to-world rotation is ``R_y(yaw) R_x(pitch) R_z(roll)`` (intrinsic yaw, then pitch,
    then roll), with the signs of the presets: **yaw > 0 turns right** (``pan_right``), **pitch > 0
    looks up** (``tilt_up``), **roll > 0 rolls clockwise** as seen looking through the camera
    (``roll_clockwise``). ``[0, 0, 0]`` is the identity. Returns the transpose (w2c).
    """
    y, p, r = (torch.tensor([math.radians(float(v))], dtype=torch.float64) for v in (yaw, pitch, roll))
    c2w = _rot_y(y)[0] @ _rot_x(p)[0] @ _rot_z(r)[0]
    return c2w.T.contiguous()


# --------------------------------------------------------------------------- scalar interpolation
def _natural_cubic_spline(x: np.ndarray, y: np.ndarray, xq: np.ndarray) -> np.ndarray:
    """Natural cubic spline through ``(x_i, y_i)`` (``x (K,)`` strictly increasing, ``y (K, D)``)
    evaluated at ``xq (M,)``, clamped to ``[x_0, x_{K-1}]``; returns ``(M, D)``.

    Second derivatives ``M_i`` solve (natural ends ``M_0 = M_{K-1} = 0``)
    ``h_{i-1} M_{i-1} + 2 (h_{i-1} + h_i) M_i + h_i M_{i+1} = 6 ((y_{i+1} - y_i)/h_i - (y_i - y_{i-1})/h_{i-1})``
    by the Thomas algorithm; on ``[x_i, x_{i+1}]`` with ``a = (x_{i+1} - x)/h``, ``b = 1 - a``:
    ``y = a y_i + b y_{i+1} + ((a^3 - a) M_i + (b^3 - b) M_{i+1}) h^2 / 6`` (exact at the knots).
    """
    k = x.shape[0]
    xq = np.clip(xq, x[0], x[-1])
    if k == 1:
        return np.repeat(y[:1], xq.shape[0], axis=0)
    h = np.diff(x)
    M = np.zeros_like(y)
    if k > 2:
        slope = np.diff(y, axis=0) / h[:, None]
        rhs = 6 * (slope[1:] - slope[:-1])  # (K-2, D)
        diag = 2 * (h[:-1] + h[1:])
        lower, upper = h[:-1], h[1:]
        # forward sweep
        c_prime = np.zeros(k - 2)
        d_prime = np.zeros_like(rhs)
        c_prime[0] = upper[0] / diag[0]
        d_prime[0] = rhs[0] / diag[0]
        for i in range(1, k - 2):
            denom = diag[i] - lower[i] * c_prime[i - 1]
            c_prime[i] = upper[i] / denom
            d_prime[i] = (rhs[i] - lower[i] * d_prime[i - 1]) / denom
        inner = np.zeros_like(rhs)
        inner[-1] = d_prime[-1]
        for i in range(k - 4, -1, -1):
            inner[i] = d_prime[i] - c_prime[i] * inner[i + 1]
        M[1:-1] = inner
    seg = np.clip(np.searchsorted(x, xq, side="right") - 1, 0, k - 2)
    hs = h[seg][:, None]
    a = (x[seg + 1][:, None] - xq[:, None]) / hs
    b = 1 - a
    return a * y[seg] + b * y[seg + 1] + ((a**3 - a) * M[seg] + (b**3 - b) * M[seg + 1]) * hs**2 / 6


def _segments(x: np.ndarray, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segment index ``(M,)`` and fraction ``u in [0, 1]`` of each clamped query time in the
    strictly increasing knots ``x (K >= 2,)``."""
    xq = np.clip(xq, x[0], x[-1])
    seg = np.clip(np.searchsorted(x, xq, side="right") - 1, 0, x.shape[0] - 2)
    u = (xq - x[seg]) / (x[seg + 1] - x[seg])
    return seg, u


def _interpolate_rotations(x: np.ndarray, R: torch.Tensor, xq: np.ndarray) -> torch.Tensor:
    """Piecewise SLERP of rotations ``R (K, 3, 3)`` at knots ``x (K,)`` to times ``xq (M,)``;
    queries on a knot return that knot's rotation exactly."""
    if x.shape[0] == 1:
        return R[:1].repeat(xq.shape[0], 1, 1)
    seg, u = _segments(x, xq)
    seg_t = torch.from_numpy(seg)
    out = slerp(R[seg_t], R[seg_t + 1], torch.from_numpy(u))
    exact = np.isin(np.clip(xq, x[0], x[-1]), x)
    if exact.any():
        idx = np.searchsorted(x, np.clip(xq, x[0], x[-1])[exact])
        out[torch.from_numpy(exact)] = R[torch.from_numpy(idx)]
    return out


def _interpolate_linear(x: np.ndarray, y: np.ndarray, xq: np.ndarray) -> np.ndarray:
    """Piecewise-linear ``y (K, D)`` at knots ``x`` to ``xq``, clamped; ``(M, D)``."""
    return np.stack([np.interp(xq, x, y[:, j]) for j in range(y.shape[1])], -1)


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
    ``euler_deg`` ([yaw, pitch, roll] degrees, :func:`rotation_from_euler_deg`), and optionally
    ``fov`` (vertical degrees). Unknown fields are errors (a misspelt ``lookat`` would otherwise be
    ignored).

    Raises:
        ValueError: text that is not JSON, not a non-empty list, or a keyframe with a missing,
            unknown or malformed field; the message names the keyframe index (0-based position
            in the list) and the field, and quotes a valid example.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"keyframes are not valid JSON ({err.msg} at line {err.lineno} column {err.colno}). "
            f"A valid keyframe list: {EXAMPLE_JSON}"
        ) from None
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
        ValueError: no keyframes, two keys on one frame, ``num_frames < 1``, a look-at key whose
            viewing direction is parallel to ``up``.
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
    R = _interpolate_rotations(x, torch.stack(rotations), xq)
    positions = np.stack([k.position.numpy() for k in keys])
    centers = torch.from_numpy(_natural_cubic_spline(x, positions, xq))
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


# --------------------------------------------------------------------------- editing
def _relative_w2c(cameras: Cameras) -> torch.Tensor:
    """``(N, 4, 4)`` motion relative to frame 0: ``w2c_k @ c2w_0`` (frame 0 becomes identity)."""
    return cameras.w2c @ cameras.c2w[0]


def chain(trajectories: Sequence[Cameras]) -> Cameras:
    """Join trajectories end to end, each continuing from where the previous one ends.

    Trajectory ``j > 0`` is expressed relative to its own first frame (``w2c_k @ c2w_0``) and
    composed onto the last pose of the chain so far: ``w2c_new_k = (w2c_k @ c2w_0) @ w2c_end``.
    Its first frame would repeat the joint pose, so it is **dropped**: the result has
    ``sum(N_j) - (len(trajectories) - 1)`` frames and no frame is shown twice. Each part keeps its
    own intrinsics and its own scene scale. The first trajectory is kept as it is (its world frame
    is the result's). Example: ``chain([pan_left 30 deg, dolly_in 1])`` pans, then moves 1 unit
    along the *panned* viewing direction.

    Raises:
        ValueError: no trajectories, different image sizes, or different known fps.
    """
    parts = list(trajectories)
    if not parts:
        raise ValueError("chain needs at least one trajectory")
    sizes = {p.image_size for p in parts}
    if len(sizes) != 1:
        raise ValueError(
            f"cannot chain trajectories of different image sizes {sorted(sizes)}; resize one with "
            "Cameras.with_image_size first"
        )
    rates = {p.fps for p in parts if p.fps is not None}
    if len(rates) > 1:
        raise ValueError(f"cannot chain trajectories of different fps {sorted(rates)}; resample one first")
    out = parts[0]
    for p in parts[1:]:
        w2c = _relative_w2c(p)[1:] @ out.w2c[-1]
        nxt = replace(p[1:], R=w2c[:, :3, :3], t=w2c[:, :3, 3]) if len(p) > 1 else None
        if nxt is not None:
            out = Cameras.concatenate([out, nxt])
    out = replace(out, fps=next(iter(rates)) if rates else None)
    return out.validate("chained trajectory")


def combine(a: Cameras, b: Cameras) -> Cameras:
    """Apply ``b``'s motion on top of ``a``, frame by frame (e.g. a pan while dollying).

    ``b`` is taken relative to its first frame, ``B_k = w2c_b_k @ c2w_b_0``, and applied in
    ``a``'s camera frame: ``w2c_k = B_k @ w2c_a_k`` (the camera of ``a`` at frame ``k``, then moved
    by ``b``'s motion expressed in that camera's own axes). The focal lengths of ``a`` are scaled
    by ``b``'s zoom ``fx_b_k / fx_b_0`` (and ``fy``). Order matters for rotation + translation:
    ``combine(dolly, pan)`` moves straight ahead while turning; ``combine(pan, dolly)`` moves
    along the turning viewing direction (a curve). The result keeps ``a``'s image size and fps.

    Raises:
        ValueError: the two trajectories have different frame counts.
    """
    if len(a) != len(b):
        raise ValueError(
            f"combine needs trajectories of the same length; got {len(a)} and {len(b)} frames. "
            "Resample one (raxel_core.keyframes.resample) to the other's frame count"
        )
    w2c = _relative_w2c(b) @ a.w2c
    K = a.K.clone()
    K[:, 0, 0] *= b.fx / b.fx[0]
    K[:, 1, 1] *= b.fy / b.fy[0]
    return replace(a, K=K, R=w2c[:, :3, :3], t=w2c[:, :3, 3]).validate("combined trajectory")


def resample(cameras: Cameras, num_frames: int) -> Cameras:
    """The same motion over another number of frames.

    Output frame ``j`` sits at time ``x_j = j (N - 1) / (M - 1)`` of the input (``M = 1`` gives the
    first frame). Rotations: SLERP between neighbouring input frames; camera centres: natural cubic
    spline through all input centres; ``fx, fy``: ``log`` linear; ``cx, cy``: linear. The first
    and last frames are copied exactly, and so is every output frame landing on an input frame.
    ``fps`` is scaled by ``(M - 1) / (N - 1)`` so the duration is unchanged (kept when unknown).
    ``M == N`` returns the input object itself.

    Raises:
        ValueError: ``num_frames < 1``.
    """
    if not is_whole_number(num_frames, 1):
        raise ValueError(f"num_frames must be a whole number >= 1; got {num_frames!r}")
    n, m = len(cameras), int(num_frames)
    if n == m:
        return cameras
    x = np.arange(n, dtype=np.float64)
    xq = np.linspace(0, n - 1, m) if m > 1 else np.zeros(1)
    if m > 1:
        xq[-1] = n - 1
    R = _interpolate_rotations(x, cameras.R, xq)
    centers = torch.from_numpy(_natural_cubic_spline(x, cameras.centers.numpy(), xq))
    on_knot = xq == np.round(xq)
    if on_knot.any():  # exact copies where an output frame is an input frame
        centers[torch.from_numpy(on_knot)] = cameras.centers[torch.from_numpy(xq[on_knot].astype(np.int64))]
    K_in = cameras.K.numpy()
    focal = np.exp(_interpolate_linear(x, np.log(np.stack([K_in[:, 0, 0], K_in[:, 1, 1]], -1)), xq))
    pp = _interpolate_linear(x, np.stack([K_in[:, 0, 2], K_in[:, 1, 2], K_in[:, 0, 1]], -1), xq)
    K = torch.zeros(m, 3, 3, dtype=torch.float64)
    K[:, 0, 0], K[:, 1, 1] = torch.from_numpy(focal[:, 0]), torch.from_numpy(focal[:, 1])
    K[:, 0, 2], K[:, 1, 2], K[:, 0, 1] = (torch.from_numpy(pp[:, j]) for j in range(3))
    K[:, 2, 2] = 1
    if on_knot.any():
        K[torch.from_numpy(on_knot)] = cameras.K[torch.from_numpy(xq[on_knot].astype(np.int64))]
    t = -(R @ centers[..., None])[..., 0]
    if on_knot.any():  # t copied too, so kept frames are bit-identical
        t[torch.from_numpy(on_knot)] = cameras.t[torch.from_numpy(xq[on_knot].astype(np.int64))]
    fps = cameras.fps
    if fps is not None and n > 1 and m > 1:
        fps = fps * (m - 1) / (n - 1)
    return replace(cameras, K=K, R=R, t=t, fps=fps).validate("resampled trajectory")


def smooth(cameras: Cameras, strength: float) -> Cameras:
    """Gaussian smoothing of a noisy trajectory; the frame count is kept.

    ``strength`` is the Gaussian's standard deviation in frames (0 returns the input unchanged;
    1-3 removes frame-to-frame jitter of estimated poses). The kernel is cut at ``3 sigma`` (and at
    ``N - 1`` frames) and the ends are padded by **point reflection** (``c_{-k} = 2 c_0 - c_k``;
    for rotations ``log(R_0^T R_{-k}) = -log(R_0^T R_k)``), so motion at constant velocity, and
    the end poses of such motion, pass through unchanged instead of being pulled inwards.

    * centres: the weighted mean of the (padded) neighbouring centres;
    * rotations: one Gauss-Newton step of the weighted Karcher mean in the tangent space at each
      frame, ``R_i exp(sum_j w_j log(R_i^T R_j))`` (the L2 / Karcher mean of Hartley et al. 2013,
      "Rotation averaging", IJCV, one iteration started at ``R_i``; accurate for windows spanning
      well under 180 degrees).

    Intrinsics, image size and fps are kept; ``strength == 0`` or fewer than 3 frames return the
    input object itself.

    Raises:
        ValueError: a negative or non-finite ``strength``.
    """
    strength = float(strength)
    if not (math.isfinite(strength) and strength >= 0):
        raise ValueError(
            f"smoothing strength is a Gaussian sigma in frames and must be >= 0; got {strength!r}"
        )
    n = len(cameras)
    if strength == 0 or n < 3:  # nothing to smooth: the input itself
        return cameras
    radius = min(int(math.ceil(3 * strength)), n - 1)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    w = torch.exp(-0.5 * (offsets / strength) ** 2)
    w = w / w.sum()
    idx = torch.arange(n)[:, None] + torch.arange(-radius, radius + 1)[None, :]  # (N, 2r+1)
    low, high = idx < 0, idx > n - 1
    mirror = torch.where(low, -idx, torch.where(high, 2 * (n - 1) - idx, idx))
    anchor = torch.where(low, torch.zeros_like(idx), torch.where(high, torch.full_like(idx, n - 1), idx))
    reflected = low | high
    # centres: c_ref = 2 c_anchor - c_mirror
    c = cameras.centers
    c_nb = torch.where(reflected[..., None], 2 * c[anchor] - c[mirror], c[mirror])
    c_s = (w[None, :, None] * c_nb).sum(1)
    # rotations: R_ref = R_a R_m^T R_a, so log(R_a^T R_ref) = -log(R_a^T R_m)
    R = cameras.R
    R_m, R_a = R[mirror], R[anchor]
    R_nb = torch.where(reflected[..., None, None], R_a @ R_m.transpose(-1, -2) @ R_a, R_m)
    tangent = so3_log(R[:, None].transpose(-1, -2) @ R_nb)  # (N, 2r+1, 3)
    R_s = R @ so3_exp((w[None, :, None] * tangent).sum(1))
    t_s = -(R_s @ c_s[..., None])[..., 0]
    return replace(cameras, R=R_s, t=t_s).validate("smoothed trajectory")
