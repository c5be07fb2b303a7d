"""Keyframed paths, SLERP, chaining, combining, resampling and smoothing of trajectories."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import shared_data
import torch

from raxel_core.authoring.interpolation import slerp
from raxel_core.authoring.keyframes import (
    EXAMPLE_JSON,
    Keyframe,
    keyframes_from_cameras,
    parse_keyframes_json,
    trajectory_from_keyframes,
)
from raxel_core.authoring.trajectory_ops import chain, combine, resample, smooth
from raxel_core.authoring.trajectory_presets import make_preset
from raxel_core.cameras import Cameras
from raxel_core.geometry.rotations import rotation_angle_deg, rotation_error_deg, rotation_from_euler_deg, so3_exp

SHARED_DATA = shared_data.DATA
RE10K_POSES = SHARED_DATA / "re10k" / "poses"


def read_re10k_poses(path: Path, image_size=(320, 576)) -> Cameras:
    """RealEstate10K pose text: line 1 the URL, then ``t fx fy cx cy 0 0`` + 12 w2c numbers per frame
    (intrinsics normalised by the image size; exact pixel intrinsics do not matter here)."""
    rows = np.array([ln.split() for ln in path.read_text().splitlines()[1:] if ln.strip()], dtype=np.float64)
    h, w = image_size
    K = Cameras.intrinsics_matrix(rows[:, 1] * w, rows[:, 2] * h, rows[:, 3] * w, rows[:, 4] * h)
    return Cameras.from_w2c(torch.from_numpy(rows[:, 7:19]).reshape(-1, 3, 4), K, image_size).validate(
        path.name
    )


def re10k_clips() -> list[Path]:
    return sorted(RE10K_POSES.glob("*_svdxt.txt")) if RE10K_POSES.is_dir() else []


needs_re10k = pytest.mark.skipif(not re10k_clips(), reason=f"RealEstate10K poses not found in {RE10K_POSES}")


def random_rotations(n: int, seed: int, max_angle_deg: float = 170.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    axis = torch.nn.functional.normalize(torch.randn(n, 3, generator=g, dtype=torch.float64), dim=-1)
    angle = torch.rand(n, 1, generator=g, dtype=torch.float64) * math.radians(max_angle_deg)
    return so3_exp(axis * angle)


# --------------------------------------------------------------------------- SLERP
def test_slerp_midpoint_is_half_the_angle_on_the_geodesic():
    Ra, Rb = random_rotations(64, 0), random_rotations(64, 1)
    total = rotation_error_deg(Ra, Rb)
    mid = slerp(Ra, Rb, torch.full((64,), 0.5, dtype=torch.float64))
    assert torch.allclose(rotation_error_deg(Ra, mid), total / 2, atol=1e-9)
    assert torch.allclose(rotation_error_deg(mid, Rb), total / 2, atol=1e-9)
    assert torch.allclose(slerp(Ra, Rb, torch.zeros(64, dtype=torch.float64)), Ra, atol=1e-12)
    assert torch.allclose(slerp(Ra, Rb, torch.ones(64, dtype=torch.float64)), Rb, atol=1e-12)


def test_slerp_takes_the_shortest_arc():
    # 270 degrees about z is 90 degrees the other way: the midpoint is 45 degrees from each end
    Rb = rotation_from_euler_deg(0, 0, 270).T[None]
    Ra = torch.eye(3, dtype=torch.float64)[None]
    mid = slerp(Ra, Rb, torch.tensor([0.5], dtype=torch.float64))
    assert float(rotation_angle_deg(mid[0])) == pytest.approx(45.0, abs=1e-9)
    assert torch.allclose(mid[0], rotation_from_euler_deg(0, 0, -45).T, atol=1e-12)


# --------------------------------------------------------------------------- keyframed paths
def sample_keys() -> list[Keyframe]:
    return parse_keyframes_json(
        json.dumps(
            [
                {"frame": 0, "position": [0, 0, 0], "euler_deg": [0, 0, 0], "fov": 50},
                {"frame": 12, "position": [0.5, -0.2, 1.0], "look_at": [0, 0, 5], "fov": 40},
                {"frame": 30, "position": [1.5, -0.5, 1.5], "euler_deg": [-30, 10, 5]},
                {
                    "frame": 48,
                    "position": [2.0, 0.0, 3.0],
                    "rotation": rotation_from_euler_deg(-60, 0, 0).tolist(),
                    "fov": 60,
                },
            ]
        )
    )


def test_keyframed_path_passes_exactly_through_its_keys():
    keys = sample_keys()
    cams = trajectory_from_keyframes(keys, 49, image_size=(320, 576))
    assert len(cams) == 49
    for k in keys:
        assert torch.allclose(cams.centers[k.frame], k.position, atol=1e-12)
        assert float(rotation_error_deg(cams.R[k.frame], k.w2c_rotation())) < 1e-9
        if k.fov_y_deg is not None:
            fov = math.degrees(2 * math.atan(160 / float(cams.fy[k.frame])))
            assert fov == pytest.approx(k.fov_y_deg, abs=1e-9)
    # the look-at key centres its target
    uv = cams.K[12] @ (cams.R[12] @ torch.tensor([0, 0, 5.0], dtype=torch.float64) + cams.t[12])
    assert torch.allclose(uv[:2] / uv[2], torch.tensor([288.0, 160.0], dtype=torch.float64), atol=1e-9)


def test_keyframed_path_has_no_kink_at_its_keys():
    """C1 (here C2) in frame time: the velocity change across a key is as small as anywhere else,
    where a piecewise-linear path would turn a corner."""
    keys = [
        Keyframe(0, [0, 0, 0], rotation=torch.eye(3)),
        Keyframe(20, [1, 0, 0], rotation=torch.eye(3)),
        Keyframe(40, [1, 1, 0], rotation=torch.eye(3)),
    ]
    c = trajectory_from_keyframes(keys).centers
    velocity_jump = (c[2:] - 2 * c[1:-1] + c[:-2]).norm(dim=-1)  # at frames 1..39
    # at the key (frame 20) the change of velocity is continuous with its neighbours: no spike
    assert float(velocity_jump[19]) < 1.1 * max(float(velocity_jump[18]), float(velocity_jump[20]))
    corner = (torch.tensor([0.0, 0.05, 0]) - torch.tensor([0.05, 0, 0])).norm()  # piecewise linear
    assert float(velocity_jump.max()) < 0.2 * float(corner)


def test_two_keys_give_constant_speed_and_constant_rotation_rate():
    keys = [
        Keyframe(0, [0, 0, 0], rotation=torch.eye(3), fov_y_deg=60),
        Keyframe(10, [1, 2, 3], rotation=rotation_from_euler_deg(40, 0, 0), fov_y_deg=30),
    ]
    cams = trajectory_from_keyframes(keys, image_size=(480, 832))
    steps = torch.diff(cams.centers, dim=0).norm(dim=-1)
    assert torch.allclose(steps, steps[0].expand_as(steps), atol=1e-12)
    assert torch.allclose(
        rotation_angle_deg(cams.R), torch.linspace(0, 40, 11, dtype=torch.float64), atol=1e-9
    )
    f0, f1 = (240 / math.tan(math.radians(v / 2)) for v in (60, 30))
    assert float(cams.fy[5]) == pytest.approx(math.sqrt(f0 * f1), rel=1e-12)  # log-linear focal


def test_frames_outside_the_keys_hold_the_nearest_key():
    keys = [Keyframe(5, [0, 0, 0], look_at=[0, 0, 1]), Keyframe(10, [1, 0, 0], look_at=[1, 0, 1])]
    cams = trajectory_from_keyframes(keys, 15)
    assert torch.equal(cams.R[:5], cams.R[5].expand(5, 3, 3)) and torch.equal(
        cams.t[:5], cams.t[5].expand(5, 3)
    )
    assert torch.equal(cams.R[11:], cams.R[10].expand(4, 3, 3)) and torch.equal(
        cams.t[11:], cams.t[10].expand(4, 3)
    )


def test_keyframes_from_cameras_round_trip_on_every_frame():
    cams = make_preset("arc", 33, easing="ease_in_out", image_size=(320, 576))
    back = trajectory_from_keyframes(keyframes_from_cameras(cams, range(33)), image_size=(320, 576))
    assert torch.allclose(back.R, cams.R, atol=1e-12)
    assert torch.allclose(back.t, cams.t, atol=1e-12)
    assert torch.allclose(back.K, cams.K, atol=1e-9)


def test_keyframes_from_cameras_rejects_bad_indices():
    with pytest.raises(ValueError, match="frame 9 is outside"):
        keyframes_from_cameras(make_preset("static", 5), [0, 9])


# --------------------------------------------------------------------------- JSON
def test_parse_accepts_the_documented_forms():
    keys = parse_keyframes_json(EXAMPLE_JSON)
    assert [k.frame for k in keys] == [0, 48] and keys[0].fov_y_deg == 50.0 and keys[1].rotation is not None
    wrapped = parse_keyframes_json(json.dumps({"keyframes": json.loads(EXAMPLE_JSON)}))
    assert [k.frame for k in wrapped] == [0, 48]
    rows = parse_keyframes_json(
        '[{"frame": 3, "position": [1, 2, 3], "rotation": [[1,0,0],[0,1,0],[0,0,1]]}]'
    )
    assert torch.equal(rows[0].rotation, torch.eye(3, dtype=torch.float64))


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("[{frame: 0}]", "not valid JSON"),
        ("[]", "non-empty JSON list"),
        ('{"frame": 0}', "non-empty JSON list"),
        (
            '[{"frame": 0, "position": [0,0,0], "look_at": [0,0,1]}, {"frame": 5, "look_at": [0,0,1]}]',
            "keyframe 1: field 'position' is missing",
        ),
        (
            '[{"frame": 0, "position": [0,0], "look_at": [0,0,1]}]',
            "keyframe 0: field 'position' must be a list of 3",
        ),
        ('[{"frame": 0, "position": [0,0,"a"], "look_at": [0,0,1]}]', "keyframe 0: field 'position'"),
        ('[{"frame": -1, "position": [0,0,0], "look_at": [0,0,1]}]', "keyframe 0: field 'frame'"),
        ('[{"frame": 1.5, "position": [0,0,0], "look_at": [0,0,1]}]', "keyframe 0: field 'frame'"),
        ('[{"frame": 0, "position": [0,0,0]}]', "keyframe 0: field 'look_at'.*exactly one orientation"),
        (
            '[{"frame": 0, "position": [0,0,0], "look_at": [0,0,1], "euler_deg": [0,0,0]}]',
            "exactly one orientation",
        ),
        (
            '[{"frame": 0, "position": [0,0,0], "lookat": [0,0,1]}]',
            "keyframe 0: field 'lookat' is not a keyframe field",
        ),
        ('[{"frame": 0, "position": [0,0,0], "look_at": [0,0,0]}]', "keyframe 0: field 'look_at' coincides"),
        (
            '[{"frame": 0, "position": [0,0,0], "rotation": [[2,0,0],[0,1,0],[0,0,1]]}]',
            "keyframe 0: field 'rotation' is invalid.*not a proper rotation",
        ),
        (
            '[{"frame": 0, "position": [0,0,0], "rotation": [[1,0,0],[0,1,0]]}]',
            "keyframe 0: field 'rotation' must be 3 rows",
        ),
        ('[{"frame": 0, "position": [0,0,0], "look_at": [0,0,1], "fov": 0}]', "keyframe 0: field 'fov'"),
        (
            '[{"frame": 2, "position": [0,0,0], "look_at": [0,0,1]}, '
            '{"frame": 2, "position": [1,0,0], "look_at": [0,0,1]}]',
            "keyframe 1: field 'frame' repeats frame 2 of keyframe 0",
        ),
    ],
)
def test_bad_keyframe_json_names_the_keyframe_and_field_and_shows_an_example(text, pattern):
    with pytest.raises(ValueError, match=pattern) as err:
        parse_keyframes_json(text)
    assert "A valid keyframe list" in str(err.value)


def test_look_at_parallel_to_up_is_reported():
    keys = [Keyframe(0, [0, 0, 0], look_at=[0, -3, 0])]
    with pytest.raises(
        ValueError, match="keyframe at frame 0: viewing direction is parallel to the up vector"
    ):
        trajectory_from_keyframes(keys)


# --------------------------------------------------------------------------- chain / combine
def step_motions(cams: Cameras) -> torch.Tensor:
    """``(N-1, 4, 4)`` frame-to-frame motions ``w2c_{k+1} @ c2w_k`` (invariant to the world frame)."""
    n = len(cams)
    return cams.relative_poses(list(range(n - 1)), list(range(1, n)))


def test_chain_continues_from_the_previous_end_pose():
    pan = make_preset("pan_left", 13, magnitude=30)
    dolly = make_preset("dolly_in", 9, magnitude=1)
    out = chain([pan, dolly])
    assert len(out) == 13 + 9 - 1
    assert torch.equal(out.R[:13], pan.R) and torch.equal(out.t[:13], pan.t)
    # continuity: every step is one of the parts' steps, including the one across the joint
    assert torch.allclose(step_motions(out), torch.cat([step_motions(pan), step_motions(dolly)]), atol=1e-12)
    # the dolly goes along the panned viewing direction (camera turned 30 degrees left)
    expected = torch.tensor([-math.sin(math.radians(30)), 0, math.cos(math.radians(30))], dtype=torch.float64)
    assert torch.allclose(out.centers[-1], expected, atol=1e-12)


@needs_re10k
def test_chain_of_real_trajectories_keeps_every_step():
    clips = [read_re10k_poses(p) for p in re10k_clips()[:3]]
    out = chain(clips)
    assert len(out) == sum(len(c) for c in clips) - 2
    expected = torch.cat([step_motions(c) for c in clips])
    # RealEstate10K rotations are orthonormal to ~1e-7 only, so R^T is not exactly R^-1
    assert torch.allclose(step_motions(out), expected, atol=1e-5)


def test_chain_rejects_mixed_image_sizes():
    with pytest.raises(ValueError, match="different image sizes"):
        chain([make_preset("static", 3), make_preset("static", 3, image_size=(320, 576))])


def test_combine_applies_the_second_motion_in_the_first_cameras_frame():
    pan = make_preset("pan_left", 17, magnitude=30)
    dolly = make_preset("dolly_in", 17, magnitude=2)
    both = combine(dolly, pan)  # move straight ahead while turning
    assert torch.allclose(both.centers, dolly.centers, atol=1e-12)
    assert torch.allclose(both.R, pan.R, atol=1e-15)
    curve = combine(pan, dolly)  # move along the turning viewing direction
    assert torch.allclose(curve.centers.norm(dim=-1), dolly.centers.norm(dim=-1), atol=1e-12)
    assert float(curve.centers[-1, 0]) < -0.9  # ended up to the left
    zoomed = combine(pan, make_preset("zoom_in", 17, magnitude=2))
    assert float(zoomed.fx[-1] / zoomed.fx[0]) == pytest.approx(2.0) and torch.allclose(zoomed.R, pan.R)
    still = combine(pan, make_preset("static", 17))
    assert torch.allclose(still.R, pan.R) and torch.allclose(still.t, pan.t)


def test_combine_needs_equal_lengths():
    with pytest.raises(ValueError, match="same length; got 10 and 12 frames.*[Rr]esample"):
        combine(make_preset("pan_left", 10), make_preset("dolly_in", 12))


# --------------------------------------------------------------------------- resample
@pytest.mark.parametrize("name", ["orbit_left", "arc", "pan_right", "dolly_in", "spiral", "zoom_in"])
def test_resample_there_and_back_on_smooth_paths(name):
    cams = make_preset(name, 25, easing="ease_in_out", fps=24)
    up = resample(cams, 50)
    assert len(up) == 50 and up.fps == pytest.approx(24 * 49 / 24)
    back = resample(up, 25)
    for out in (up, back):
        assert (
            torch.equal(out.R[0], cams.R[0])
            and torch.equal(out.t[0], cams.t[0])
            and torch.equal(out.K[0], cams.K[0])
        )
        assert (
            torch.equal(out.R[-1], cams.R[-1])
            and torch.equal(out.t[-1], cams.t[-1])
            and torch.equal(out.K[-1], cams.K[-1])
        )
    scale = max(float(cams.centers.norm(dim=-1).max()), 1.0)
    assert float((back.centers - cams.centers).norm(dim=-1).max()) < 2e-3 * scale
    # SLERP is piecewise constant-rate: on an eased turn it cuts corners by a little of a step
    largest_step = float(rotation_angle_deg(step_motions(cams)[:, :3, :3]).max())
    assert float(rotation_error_deg(back.R, cams.R).max()) < 0.02 * largest_step + 1e-9
    assert torch.allclose(back.K, cams.K, rtol=1e-3)


def test_resample_of_a_constant_rate_move_is_the_same_move():
    coarse, fine = make_preset("orbit_right", 17, magnitude=60), make_preset("orbit_right", 49, magnitude=60)
    out = resample(coarse, 49)
    assert float(rotation_error_deg(out.R, fine.R).max()) < 1e-9  # SLERP of a constant-rate turn
    assert float((out.centers - fine.centers).norm(dim=-1).max()) < 1e-3  # spline of a circle


@needs_re10k
def test_resample_keeps_real_endpoints_exactly():
    cams = read_re10k_poses(re10k_clips()[0])
    for m in (2, 7, 49, 81):
        out = resample(cams, m)
        assert len(out) == m
        assert torch.equal(out.w2c[0], cams.w2c[0]) and torch.equal(out.w2c[-1], cams.w2c[-1])
    assert torch.equal(resample(cams, 1).w2c[0], cams.w2c[0])
    with pytest.raises(ValueError, match="num_frames"):
        resample(cams, 0)


# --------------------------------------------------------------------------- smooth
def test_smooth_zero_is_identity_and_constant_motion_is_untouched():
    cams = make_preset("pan_left", 21)
    assert smooth(cams, 0) is cams
    for name in ("pan_left", "truck_right", "roll_clockwise", "dolly_in"):
        cams = make_preset(name, 21)
        out = smooth(cams, 3.0)
        assert len(out) == 21
        assert torch.allclose(out.R, cams.R, atol=1e-12) and torch.allclose(out.t, cams.t, atol=1e-12)
    with pytest.raises(ValueError, match="sigma in frames"):
        smooth(cams, -1)


@needs_re10k
@pytest.mark.parametrize("clip", re10k_clips(), ids=lambda p: p.stem)
def test_smooth_reduces_jitter_on_a_real_trajectory(clip):
    clean = read_re10k_poses(clip)
    n = len(clean)
    g = torch.Generator().manual_seed(0)
    step = float(torch.diff(clean.centers, dim=0).norm(dim=-1).mean())
    R_noisy = clean.R @ so3_exp(torch.randn(n, 3, generator=g, dtype=torch.float64) * math.radians(0.5))
    c_noisy = clean.centers + 0.5 * step * torch.randn(n, 3, generator=g, dtype=torch.float64)
    noisy = Cameras(
        K=clean.K, R=R_noisy, t=-(R_noisy @ c_noisy[..., None])[..., 0], image_size=clean.image_size
    )
    out = smooth(noisy, 1.0)
    assert len(out) == n
    centre_err = lambda c: float((c.centers - clean.centers).norm(dim=-1).mean())  # noqa: E731
    rot_err = lambda c: float(rotation_error_deg(c.R, clean.R).mean())  # noqa: E731
    assert centre_err(out) < 0.8 * centre_err(noisy)
    assert rot_err(out) < 0.8 * rot_err(noisy)
    jitter = lambda c: float((c.centers[2:] - 2 * c.centers[1:-1] + c.centers[:-2]).norm(dim=-1).mean())  # noqa: E731
    assert jitter(out) < 0.5 * jitter(noisy)


def test_keyframe_objects_check_their_fields():
    with pytest.raises(ValueError, match="exactly one of look_at"):
        Keyframe(0, [0, 0, 0], look_at=[0, 0, 1], rotation=torch.eye(3))
    with pytest.raises(ValueError, match="not a proper rotation"):
        Keyframe(0, [0, 0, 0], rotation=2 * torch.eye(3))
    keys = [Keyframe(3, [0, 0, 0], look_at=[0, 0, 1]), Keyframe(3, [1, 0, 0], look_at=[0, 0, 1])]
    with pytest.raises(ValueError, match="two keyframes sit on frame 3"):
        trajectory_from_keyframes(keys)
    with pytest.raises(ValueError, match="no keyframes"):
        trajectory_from_keyframes([])


def test_chain_with_a_single_frame_part_adds_nothing():
    pan = make_preset("pan_left", 5)
    out = chain([pan, make_preset("static", 1), pan])
    assert len(out) == 9
    assert float(rotation_angle_deg(out.R[-1])) == pytest.approx(60.0, abs=1e-9)


def test_a_keyframe_outside_the_frames_is_an_error_naming_the_frame_and_the_range():
    """frames = 25 with a key at frame 48 used to stop the path half-way without a word."""
    from raxel_core.authoring import parse_keyframes_json, trajectory_from_keyframes

    keys = parse_keyframes_json('[{"frame": 0, "position": [0, 0, 0], "look_at": [0, 0, 4]},'
                                ' {"frame": 48, "position": [1, 0, 1], "look_at": [0, 0, 4]}]')
    with pytest.raises(ValueError, match=r"keyframe at frame 48 is outside the path's frames 0\.\.24 "
                                         r"\(frames = 25\); set frames to at least 49"):
        trajectory_from_keyframes(keys, 25)
    assert len(trajectory_from_keyframes(keys, 49)) == 49      # the last key on the last frame is fine
    assert len(trajectory_from_keyframes(keys, 60)) == 60      # frames after the last key hold it
