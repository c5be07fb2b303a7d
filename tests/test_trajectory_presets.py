"""Camera-move presets: directions as the artist sees them in the image, magnitudes, easing."""

from __future__ import annotations

import json
import math

import pytest
import shared_data
import torch

from raxel_core.authoring.trajectory_presets import (
    DEFAULT_MAGNITUDES,
    EASINGS,
    PRESET_NAMES,
    ease,
    make_preset,
)
from raxel_core.cameras import Cameras
from raxel_core.geometry.rotations import rotation_angle_deg

SHARED_DATA = shared_data.DATA
MOTIONCTRL_BASIC = SHARED_DATA / "trajectories" / "motionctrl" / "basic"


def project(cams: Cameras, X) -> torch.Tensor:
    """``(N, 2)`` pixel coordinates of world point ``X`` in every camera: ``u = K (R X + t)``."""
    X = torch.as_tensor(X, dtype=torch.float64)
    x = cams.R @ X + cams.t
    uv = (cams.K @ x[..., None])[..., 0]
    return uv[:, :2] / uv[:, 2:]


def image_centre(cams: Cameras) -> torch.Tensor:
    h, w = cams.image_size
    return torch.tensor([w / 2, h / 2], dtype=torch.float64)


@pytest.mark.parametrize("name", PRESET_NAMES)
@pytest.mark.parametrize("easing", EASINGS)
def test_every_preset_is_valid_and_starts_at_identity(name, easing):
    cams = make_preset(name, 25, easing=easing, image_size=(320, 576), fov_y_deg=45.0, fps=16)
    cams.validate()
    assert len(cams) == 25 and cams.image_size == (320, 576) and cams.fps == 16
    assert torch.equal(cams.R[0], torch.eye(3, dtype=torch.float64))
    assert torch.equal(cams.t[0], torch.zeros(3, dtype=torch.float64))
    assert torch.allclose(cams.K[0], Cameras.intrinsics_from_fov(45.0, (320, 576))[0], atol=1e-12)
    assert cams.R.dtype == torch.float64


def test_single_frame_is_identity():
    cams = make_preset("orbit_left", 1)
    assert len(cams) == 1 and torch.equal(cams.R[0], torch.eye(3, dtype=torch.float64))


# --------------------------------------------------------------------------- image directions
AHEAD = [0.0, 0.0, 5.0]  # a point on the optical axis, 5 units ahead


@pytest.mark.parametrize(
    "name, axis, sign",
    [
        ("pan_left", 0, +1),  # camera turns left -> scene moves right
        ("pan_right", 0, -1),
        ("tilt_up", 1, +1),  # camera looks up -> scene moves down (v grows downwards)
        ("tilt_down", 1, -1),
        ("truck_left", 0, +1),  # camera moves left -> scene moves right
        ("truck_right", 0, -1),
        ("pedestal_up", 1, +1),  # camera rises -> scene moves down
        ("pedestal_down", 1, -1),
    ],
)
def test_point_ahead_moves_the_way_an_artist_expects(name, axis, sign):
    cams = make_preset(name, 9)
    uv = project(cams, AHEAD)
    step = uv[1:, axis] - uv[:-1, axis]
    assert (sign * step > 0).all(), f"{name}: image {'xy'[axis]} steps {step.tolist()}"
    other = uv[:, 1 - axis] - uv[0, 1 - axis]
    assert other.abs().max() < 1e-6, f"{name} moves the point off its axis"


@pytest.mark.parametrize(
    "name, grows", [("dolly_in", True), ("dolly_out", False), ("zoom_in", True), ("zoom_out", False)]
)
def test_dolly_and_zoom_push_points_away_from_or_towards_the_centre(name, grows):
    cams = make_preset(name, 9)
    radius = (project(cams, [1.0, -0.5, 5.0]) - image_centre(cams)).norm(dim=-1)
    step = radius[1:] - radius[:-1]
    assert ((step > 0) if grows else (step < 0)).all()
    assert project(cams, AHEAD).sub(image_centre(cams)).abs().max() < 1e-9  # the centre stays put


@pytest.mark.parametrize(
    "name, axis, sign",
    [
        ("orbit_left", 0, +1),
        ("orbit_right", 0, -1),
        ("orbit_up", 1, +1),
        ("orbit_down", 1, -1),
        ("arc", 0, +1),
    ],
)
def test_orbit_keeps_the_look_at_point_centred_and_shows_parallax(name, axis, sign):
    distance = 4.0
    cams = make_preset(name, 9, distance=distance)
    target = [0.0, 0.0, distance]
    assert (project(cams, target) - image_centre(cams)).abs().max() < 1e-9
    near = project(cams, [0.0, 0.0, distance / 2])[:, axis]  # between camera and target
    far = project(cams, [0.0, 0.0, distance * 3])[:, axis]  # behind the target
    # the camera moves left (orbit_left): nearer things slide right, farther ones left
    assert (sign * (near[1:] - near[:-1]) > 0).all()
    assert (sign * (far[1:] - far[:-1]) < 0).all()


@pytest.mark.parametrize("name, sign", [("roll_clockwise", +1), ("roll_anticlockwise", -1), ("spiral", +1)])
def test_roll_turns_the_scene_the_other_way_in_the_image(name, sign):
    cams = make_preset(name, 9, magnitude=40)
    centre = image_centre(cams)
    right = project(cams, [1.0, 0.0, 50.0]) - centre  # starts right of centre
    top = project(cams, [0.0, -1.0, 50.0]) - centre  # starts above centre
    # camera rolls clockwise -> scene turns anticlockwise: the right point rises, the top one goes left
    assert (sign * (right[1:, 1] - right[:-1, 1]) < 0).all()
    assert (sign * (top[1:, 0] - top[:-1, 0]) < 0).all()


# --------------------------------------------------------------------------- magnitudes
@pytest.mark.parametrize(
    "name",
    [
        "pan_left",
        "pan_right",
        "tilt_up",
        "tilt_down",
        "roll_clockwise",
        "roll_anticlockwise",
        "orbit_left",
        "orbit_right",
        "orbit_up",
        "orbit_down",
        "arc",
        "spiral",
    ],
)
@pytest.mark.parametrize("easing", EASINGS)
def test_rotation_magnitude_is_reached_at_the_last_frame(name, easing):
    cams = make_preset(name, 17, magnitude=37.5, easing=easing)
    assert float(rotation_angle_deg(cams.R[-1])) == pytest.approx(37.5, abs=1e-9)
    default = make_preset(name, 17)
    assert float(rotation_angle_deg(default.R[-1])) == pytest.approx(DEFAULT_MAGNITUDES[name], abs=1e-9)


@pytest.mark.parametrize(
    "name, direction",
    [
        ("dolly_in", [0, 0, 1]),
        ("dolly_out", [0, 0, -1]),
        ("truck_left", [-1, 0, 0]),
        ("truck_right", [1, 0, 0]),
        ("pedestal_up", [0, -1, 0]),
        ("pedestal_down", [0, 1, 0]),
    ],
)
def test_translation_magnitude_and_direction(name, direction):
    cams = make_preset(name, 13, magnitude=2.5, easing="ease_in_out")
    expected = 2.5 * torch.tensor(direction, dtype=torch.float64)
    assert torch.allclose(cams.centers[-1], expected, atol=1e-12)
    assert rotation_angle_deg(cams.R).abs().max() < 1e-9  # translation only


@pytest.mark.parametrize("name, factor", [("zoom_in", 1.5), ("zoom_out", 1 / 1.5)])
def test_zoom_factor_is_reached_and_pose_is_fixed(name, factor):
    cams = make_preset(name, 21, magnitude=1.5)
    assert float(cams.fx[-1] / cams.fx[0]) == pytest.approx(factor, rel=1e-12)
    assert float(cams.fy[-1] / cams.fy[0]) == pytest.approx(factor, rel=1e-12)
    assert torch.equal(cams.R, torch.eye(3, dtype=torch.float64).expand_as(cams.R))
    # constant apparent zoom speed: log focal steps are equal
    steps = torch.diff(torch.log(cams.fx))
    assert torch.allclose(steps, steps[0].expand_as(steps), rtol=1e-9)


def test_orbit_stays_on_its_circle_and_arc_and_spiral_move_in():
    distance = 3.0
    target = torch.tensor([0.0, 0.0, distance], dtype=torch.float64)
    orbit = make_preset("orbit_up", 11, distance=distance)
    assert torch.allclose(
        (orbit.centers - target).norm(dim=-1), torch.full((11,), distance, dtype=torch.float64), atol=1e-12
    )
    arc = make_preset("arc", 11, distance=distance)
    assert float((arc.centers[-1] - target).norm()) == pytest.approx(0.75 * distance, abs=1e-12)
    spiral = make_preset("spiral", 11, distance=distance)
    assert torch.allclose(
        spiral.centers[-1], torch.tensor([0.0, 0.0, distance / 4], dtype=torch.float64), atol=1e-12
    )


def test_negative_magnitude_reverses_the_move():
    a = make_preset("pan_left", 9, magnitude=-20)
    b = make_preset("pan_right", 9, magnitude=20)
    assert torch.allclose(a.R, b.R, atol=1e-15)


# --------------------------------------------------------------------------- easing
@pytest.mark.parametrize("easing", EASINGS)
def test_easing_is_monotone_with_fixed_endpoints(easing):
    u = torch.linspace(0, 1, 1001, dtype=torch.float64)
    s = ease(u, easing)
    assert float(s[0]) == 0.0 and float(s[-1]) == 1.0
    assert (torch.diff(s) >= 0).all()
    assert ((s >= 0) & (s <= 1)).all()


def test_easing_shapes():
    u = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    assert torch.allclose(ease(u, "ease_in"), u**2)
    assert ease(u, "ease_in")[0] < 0.1 and ease(u, "ease_out")[0] > 0.1
    s = ease(u, "ease_in_out")  # smoothstep: symmetric, slow at both ends
    assert float(s[1]) == 0.5 and float(s[0] + s[2]) == pytest.approx(1.0, abs=1e-15) and s[0] < 0.1
    cams = make_preset("pan_left", 11, magnitude=30, easing="ease_in_out")
    angles = rotation_angle_deg(cams.R)
    expected = 30 * ease(torch.linspace(0, 1, 11, dtype=torch.float64), "ease_in_out")
    assert torch.allclose(angles, expected, atol=1e-9)


# --------------------------------------------------------------------------- errors
def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(
        ValueError, match="unknown camera preset 'pan_sideways'.*pan_left.*orbit_right.*spiral"
    ):
        make_preset("pan_sideways", 10)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_frames=0), "num_frames must be a whole number >= 1"),
        (dict(num_frames=2.5), "num_frames must be a whole number >= 1"),
        (dict(magnitude=float("nan")), "finite"),
        (dict(magnitude=float("inf")), "finite"),
        (dict(easing="bouncy"), "unknown easing 'bouncy'.*ease_in_out"),
        (dict(distance=0.0), "distance"),
        (dict(fov_y_deg=180.0), "fov_y_deg"),
    ],
)
def test_bad_arguments_raise_with_the_fix(kwargs, message):
    args = dict(name="orbit_left", num_frames=10) | kwargs
    with pytest.raises(ValueError, match=message):
        make_preset(**args)


def test_zoom_factor_must_be_positive():
    with pytest.raises(ValueError, match="zoom factor.*> 0"):
        make_preset("zoom_out", 10, magnitude=0)


# --------------------------------------------------------------------------- real reference files
@pytest.mark.skipif(
    not MOTIONCTRL_BASIC.is_dir(), reason=f"shared MotionCtrl trajectories not found at {MOTIONCTRL_BASIC}"
)
@pytest.mark.parametrize(
    "file, name",
    [
        ("test_camera_L.json", "truck_left"),
        ("test_camera_R.json", "truck_right"),
        ("test_camera_U.json", "pedestal_up"),
        ("test_camera_D.json", "pedestal_down"),
        ("test_camera_I.json", "dolly_in"),
        ("test_camera_O.json", "dolly_out"),
        ("test_camera_SPIN-CW-60.json", "roll_clockwise"),
        ("test_camera_SPIN-ACW-60.json", "roll_anticlockwise"),
    ],
)
def test_directions_agree_with_motionctrl_basic_cameras(file, name):
    """MotionCtrl's released basic camera files (w2c 3x4, OpenCV axes, frame 0 identity) move the
    same way as the preset of the same meaning."""
    rt = torch.tensor(json.loads((MOTIONCTRL_BASIC / file).read_text()), dtype=torch.float64).reshape(
        -1, 3, 4
    )
    theirs = Cameras.from_w2c(rt, Cameras.intrinsics_from_fov(50.0, (480, 832), len(rt)), (480, 832))
    ours = make_preset(name, len(theirs))
    if name.startswith("roll"):
        # same sign of in-plane rotation: R[0, 1] of the w2c matrix
        assert math.copysign(1, float(theirs.R[-1, 0, 1])) == math.copysign(1, float(ours.R[-1, 0, 1]))
        assert rotation_angle_deg(theirs.R[-1]) > 30
    else:
        a, b = theirs.centers[-1], ours.centers[-1]
        assert float(a @ b / (a.norm() * b.norm())) > 0.999
