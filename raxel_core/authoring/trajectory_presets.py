"""Camera moves an artist names: pan, tilt, dolly, truck, pedestal, orbit, zoom, roll, arc, spiral.

Every preset is a :class:`~raxel_core.cameras.Cameras` trajectory in the core convention (OpenCV
axes: x right, y down, z forward; world-to-camera ``R, t``; pixel ``K``) whose **frame 0 is the
identity pose** (``R = I, t = 0``), so the world frame *is* the first camera's frame and the
trajectory can be used directly as "camera motion relative to the input image".

Directions are named for what the *camera* does, and each was checked against what the artist sees
in the image (``tests/test_trajectory_presets.py`` projects a point and checks the pixel moves the
expected way; the translation and roll signs also agree with MotionCtrl's basic camera files
``test_camera_L/U/I/SPIN-CW-60.json``):

* ``static``: no motion (magnitude ignored).
* ``pan_left`` / ``pan_right``: the camera turns left / right about its own centre (yaw); a point
  ahead moves right / left in the image. Degrees.
* ``tilt_up`` / ``tilt_down``: turns up / down about its own centre (pitch); a point ahead moves
  down / up. Degrees.
* ``dolly_in`` / ``dolly_out``: moves forward / back along the optical axis; the scene grows /
  shrinks. Scene units.
* ``truck_left`` / ``truck_right``: moves left / right; a point ahead moves right / left. Scene units.
* ``pedestal_up`` / ``pedestal_down``: moves up / down; a point ahead moves down / up. Scene units.
* ``orbit_left`` / ``orbit_right`` / ``orbit_up`` / ``orbit_down``: circles the look-at point
  (which stays at the image centre) moving left / right / up / down; a point nearer than the
  look-at point moves the opposite way to the camera, one beyond it the same way. Degrees.
* ``zoom_in`` / ``zoom_out``: focal length multiplied / divided by the factor, pose fixed; points
  move away from / towards the image centre. Final / initial focal length (> 0).
* ``roll_clockwise`` / ``roll_anticlockwise``: the camera rolls clockwise / anticlockwise about its
  optical axis as seen looking through it (MotionCtrl's SPIN-CW / SPIN-ACW), so the scene turns
  anticlockwise / clockwise in the image. Degrees.
* ``arc``: ``orbit_left`` while dollying in towards the look-at point. Degrees.
* ``spiral``: a corkscrew push-in, dolly in while rolling clockwise. Degrees of roll.

The look-at point is ``(0, 0, distance)``: ``distance`` scene units in front of the first camera.
``arc``: orbits left by ``magnitude`` degrees while the distance to the look-at point falls
linearly (in eased progress) from ``distance`` to ``3/4 distance`` (a push of 1 unit at the
default distance of 4).
``spiral``: moves forward along the first camera's optical axis by ``distance / 4`` scene units
while rolling clockwise by ``magnitude`` degrees (rotation *about* the optical axis is an orbit of
the rig round that axis, hence "orbit + roll + forward"). Negative magnitudes reverse a move
(``pan_left`` with ``-30`` is ``pan_right`` with ``30``); zoom factors must be positive.

Easing maps linear progress ``u = k / (N - 1)`` of frame ``k`` to eased progress ``s`` in
``[0, 1]``; every move is evaluated at ``s`` (angles and distances proportional to ``s``, zoom
``f_k = f_0 * factor ** s`` so the apparent zoom speed is constant in linear easing):

* ``linear``:       ``s = u``
* ``ease_in``:      ``s = u^2``                       (starts at rest)
* ``ease_out``:     ``s = 1 - (1 - u)^2``             (ends at rest)
* ``ease_in_out``:  ``s = 3 u^2 - 2 u^3``  (smoothstep: starts and ends at rest)
"""

from __future__ import annotations

import math
import numbers

import torch

from ..cameras import Cameras
from ..geometry.rotations import rotation_about_x, rotation_about_y, rotation_about_z

#: Every preset name, in the order a user interface lists them.
PRESET_NAMES: tuple[str, ...] = (
    "static",
    "pan_left",
    "pan_right",
    "tilt_up",
    "tilt_down",
    "dolly_in",
    "dolly_out",
    "truck_left",
    "truck_right",
    "pedestal_up",
    "pedestal_down",
    "orbit_left",
    "orbit_right",
    "orbit_up",
    "orbit_down",
    "zoom_in",
    "zoom_out",
    "roll_clockwise",
    "roll_anticlockwise",
    "arc",
    "spiral",
)

#: Easing curves accepted by :func:`make_preset` (formulas in the module docstring).
EASINGS: tuple[str, ...] = ("linear", "ease_in", "ease_out", "ease_in_out")

#: Default magnitude per preset: degrees for rotations and orbits, scene units for translations,
#: final / initial focal length for zooms.
DEFAULT_MAGNITUDES: dict[str, float] = {
    "static": 0.0,
    "pan_left": 30.0,
    "pan_right": 30.0,
    "tilt_up": 20.0,
    "tilt_down": 20.0,
    "dolly_in": 1.0,
    "dolly_out": 1.0,
    "truck_left": 1.0,
    "truck_right": 1.0,
    "pedestal_up": 1.0,
    "pedestal_down": 1.0,
    "orbit_left": 30.0,
    "orbit_right": 30.0,
    "orbit_up": 20.0,
    "orbit_down": 20.0,
    "zoom_in": 1.5,
    "zoom_out": 1.5,
    "roll_clockwise": 30.0,
    "roll_anticlockwise": 30.0,
    "arc": 45.0,
    "spiral": 180.0,
}


def is_whole_number(value, minimum: int) -> bool:
    """True when ``value`` is a real number (int, numpy int, integral finite float) with an integer
    value ``>= minimum``; bools and strings are not numbers here."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    if isinstance(value, numbers.Integral):  # exact, also beyond float range (math.isfinite would overflow)
        return int(value) >= minimum
    return math.isfinite(value) and value == int(value) and value >= minimum


def ease(u: torch.Tensor, easing: str = "linear") -> torch.Tensor:
    """Eased progress ``s`` of linear progress ``u`` (both ``(*,)`` float64 in ``[0, 1]``).

    Formulas (module docstring): linear ``u``; ease_in ``u^2``; ease_out ``1 - (1 - u)^2``;
    ease_in_out ``3u^2 - 2u^3``. All are monotone non-decreasing with ``s(0) = 0``, ``s(1) = 1``.

    Raises:
        ValueError: for an easing name not in :data:`EASINGS`.
    """
    u = torch.as_tensor(u, dtype=torch.float64)
    if easing == "linear":
        return u.clone()
    if easing == "ease_in":
        return u * u
    if easing == "ease_out":
        return 1 - (1 - u) * (1 - u)
    if easing == "ease_in_out":
        return u * u * (3 - 2 * u)
    raise ValueError(f"unknown easing {easing!r}; choose one of {', '.join(EASINGS)}")


def _from_c2w(R_c2w: torch.Tensor, centers: torch.Tensor, K, image_size, fps) -> Cameras:
    """Cameras from camera-to-world rotations ``(N, 3, 3)`` and centres ``(N, 3)``:
    ``R = R_c2w^T``, ``t = -R c``."""
    R = R_c2w.transpose(1, 2).contiguous()
    t = -(R @ centers[..., None])[..., 0]
    return Cameras(K=K, R=R, t=t, image_size=image_size, fps=fps)


def make_preset(
    name: str,
    num_frames: int,
    magnitude: float | None = None,
    easing: str = "linear",
    image_size: tuple[int, int] = (480, 832),
    fov_y_deg: float = 50.0,
    distance: float = 4.0,
    fps: float | None = None,
) -> Cameras:
    """A named camera move as an ``N``-frame trajectory starting at the identity pose.

    Args:
        name: one of :data:`PRESET_NAMES` (table in the module docstring).
        num_frames: ``N >= 1``; frame ``k`` is at linear progress ``u = k / (N - 1)`` (``N = 1``
            gives only the identity frame).
        magnitude: total size of the move reached at the last frame: degrees (pan, tilt, orbit,
            roll, arc, spiral), scene units (dolly, truck, pedestal) or final / initial focal
            length (zoom_in multiplies the focal length by it, zoom_out divides by it; > 0).
            ``None`` uses :data:`DEFAULT_MAGNITUDES` (30 degrees pans, 1 unit moves, 1.5x zoom).
        easing: one of :data:`EASINGS`.
        image_size: ``(H, W)`` pixels of the intrinsics.
        fov_y_deg: vertical field of view of frame 0 in degrees, in ``(0, 180)``; square pixels,
            principal point at the image centre (:meth:`Cameras.intrinsics_from_fov`).
        distance: scene units from the first camera to the look-at point of orbit / arc (and the
            reference length of spiral's forward move), > 0.
        fps: stored on the trajectory (``None`` = unknown).

    Returns:
        :class:`Cameras` with ``N`` frames, float64, frame 0 ``R = I, t = 0``; validated.

    Raises:
        ValueError: unknown name (the message lists the valid ones) or easing; ``num_frames < 1``;
            a non-finite magnitude, a zoom factor <= 0, a non-positive or non-finite distance or
            a field of view outside ``(0, 180)`` degrees.
    """
    if name not in PRESET_NAMES:
        raise ValueError(f"unknown camera preset {name!r}; choose one of {', '.join(PRESET_NAMES)}")
    if easing not in EASINGS:
        raise ValueError(f"unknown easing {easing!r}; choose one of {', '.join(EASINGS)}")
    if not is_whole_number(num_frames, 1):
        raise ValueError(f"num_frames must be a whole number >= 1; got {num_frames!r}")
    num_frames = int(num_frames)
    m = DEFAULT_MAGNITUDES[name] if magnitude is None else float(magnitude)
    if not math.isfinite(m):
        raise ValueError(f"magnitude of {name} must be a finite number; got {magnitude!r}")
    if name in ("zoom_in", "zoom_out") and m <= 0:
        raise ValueError(
            f"{name} magnitude is a zoom factor (final / initial focal length) and must be > 0; "
            f"got {m:g} (e.g. 1.5 for a 1.5x zoom)"
        )
    if not (math.isfinite(distance) and distance > 0):
        raise ValueError(f"distance to the look-at point must be a positive number; got {distance!r}")
    if not (math.isfinite(fov_y_deg) and 0 < fov_y_deg < 180):
        raise ValueError(f"fov_y_deg must be in (0, 180) degrees; got {fov_y_deg!r}")

    n = num_frames
    u = torch.linspace(0, 1, n, dtype=torch.float64) if n > 1 else torch.zeros(1, dtype=torch.float64)
    s = ease(u, easing)
    a = torch.deg2rad(torch.tensor(m, dtype=torch.float64)) * s  # angle at each frame, radians
    d = m * s  # distance at each frame, scene units
    zero = torch.zeros(n, dtype=torch.float64)
    eye = torch.eye(3, dtype=torch.float64).repeat(n, 1, 1)
    K = Cameras.intrinsics_from_fov(fov_y_deg, image_size, n)
    look_at = torch.tensor([0.0, 0.0, distance], dtype=torch.float64)

    def orbit(R_c2w: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
        # camera centre c = P - radius * (R_c2w e_z): on the sphere round P, looking at P
        return look_at - radius[:, None] * R_c2w[:, :, 2]

    R_c2w, centers = eye, torch.zeros(n, 3, dtype=torch.float64)
    if name == "pan_left":  # forward +z turns towards -x (left)
        R_c2w = rotation_about_y(-a)
    elif name == "pan_right":
        R_c2w = rotation_about_y(a)
    elif name == "tilt_up":  # forward turns towards -y (up, OpenCV y is down)
        R_c2w = rotation_about_x(a)
    elif name == "tilt_down":
        R_c2w = rotation_about_x(-a)
    elif name in ("dolly_in", "dolly_out"):
        centers = torch.stack([zero, zero, d if name == "dolly_in" else -d], -1)
    elif name in ("truck_left", "truck_right"):
        centers = torch.stack([-d if name == "truck_left" else d, zero, zero], -1)
    elif name in ("pedestal_up", "pedestal_down"):
        centers = torch.stack([zero, -d if name == "pedestal_up" else d, zero], -1)
    elif name in ("orbit_left", "orbit_right", "orbit_up", "orbit_down"):
        # moving left round P the camera turns right to keep P centred, and so on
        R_c2w = {
            "orbit_left": lambda: rotation_about_y(a),
            "orbit_right": lambda: rotation_about_y(-a),
            "orbit_up": lambda: rotation_about_x(-a),
            "orbit_down": lambda: rotation_about_x(a),
        }[name]()
        centers = orbit(R_c2w, torch.full((n,), float(distance), dtype=torch.float64))
    elif name in ("zoom_in", "zoom_out"):
        factor = m if name == "zoom_in" else 1.0 / m
        scale = factor**s  # f_k = f_0 * factor^s
        K = K.clone()
        K[:, 0, 0] *= scale
        K[:, 1, 1] *= scale
    elif name == "roll_clockwise":  # camera right axis turns towards +y (down)
        R_c2w = rotation_about_z(a)
    elif name == "roll_anticlockwise":
        R_c2w = rotation_about_z(-a)
    elif name == "arc":
        R_c2w = rotation_about_y(a)
        centers = orbit(R_c2w, distance * (1 - 0.25 * s))
    elif name == "spiral":
        R_c2w = rotation_about_z(a)
        centers = torch.stack([zero, zero, 0.25 * distance * s], -1)
    # static: identity everywhere
    R_c2w = R_c2w.clone()
    R_c2w[0], centers = torch.eye(3, dtype=torch.float64), centers.clone()
    centers[0] = 0.0  # exact identity at frame 0 (orbit's P - r e_z rounds to ~1e-16)
    cams = _from_c2w(R_c2w, centers, K, image_size, fps)
    cams.metadata.update({"preset": name, "magnitude": m, "easing": easing})
    return cams.validate(f"preset {name}")
