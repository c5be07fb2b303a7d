"""Retiming a camera path (raxel_core/authoring/retime.py) and ``raxel retime``: the frame-count rule,
the two timings (fit the move / keep the camera's speed) against closed forms of constant-speed moves,
smoothing, re-centring, rescaling, and the errors an artist sees."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from raxel_core import cli
from raxel_core.authoring import make_preset, nearest_4k_plus_1, retime
from raxel_core.formats import read_trajectory, write_trajectory

RE10K_POSES = "re10k/poses/0bf152ef84195293.txt"


@pytest.mark.parametrize("frames, expected", [(1, 1), (2, 1), (3, 5), (4, 5), (47, 49), (49, 49), (50, 49),
                                              (51, 53), (80, 81), (97, 97), (100, 101)])
def test_nearest_4k_plus_1(frames, expected):
    assert nearest_4k_plus_1(frames) == expected
    assert (expected - 1) % 4 == 0


def _angle_deg(R_a: torch.Tensor, R_b: torch.Tensor) -> float:
    cos = (torch.trace(R_a.T @ R_b) - 1) / 2
    return math.degrees(math.acos(float(cos.clamp(-1, 1))))


def test_fit_timing_equals_the_move_authored_at_the_target_count():
    """A constant-speed orbit authored at 97 frames and retimed to 49 is the same orbit authored at
    49 frames: the whole move is spread over the target frames (no frame rates given)."""
    source = make_preset("orbit_left", 97, magnitude=40.0, easing="linear")
    oracle = make_preset("orbit_left", 49, magnitude=40.0, easing="linear")
    out = retime(source, 49)
    assert len(out) == 49
    for j in range(49):
        assert _angle_deg(out.R[j], oracle.R[j]) < 1e-6
    assert torch.allclose(out.centers, oracle.centers, atol=1e-3)   # spline through a circle's samples


def test_keep_speed_samples_the_source_at_the_target_times():
    """Dolly of 1 unit over 61 frames at 30 fps (constant speed, 0.5 unit/s); at 16 fps, target frame j
    is at j / 16 s, so its camera is 0.5 * j / 16 units forward and the whole 2 s take 33 frames."""
    source = make_preset("dolly_in", 61, magnitude=1.0, easing="linear", fps=30.0)
    out = retime(source, 33, fps_out=16.0)
    assert len(out) == 33 and out.fps == 16.0
    forward = out.centers[:, 2].numpy()
    np.testing.assert_allclose(forward, 0.5 * np.arange(33) / 16.0, atol=1e-9)
    # auto count: the frames that cover the source's 2 s at 16 fps; nearest 4k+1 never exceeds it
    assert len(retime(source, 0, fps_out=16.0)) == 33
    assert len(retime(source, 0, fps_out=20.0, frame_rule="nearest 4k+1")) == 41


def test_keep_speed_rotation_follows_the_source_rate():
    """Pan of 60 degrees over 121 frames at 24 fps = 12 degrees/s; at 16 fps frame j is 12 j / 16 degrees."""
    source = make_preset("pan_left", 121, magnitude=60.0, easing="linear")
    out = retime(source, 49, fps_in=24.0, fps_out=16.0, frame_rule="nearest 4k+1")
    for j in (0, 7, 20, 48):
        assert abs(_angle_deg(out.R[0], out.R[j]) - 12.0 * j / 16.0) < 1e-6


def test_a_source_too_short_for_the_target_is_an_error_naming_both_durations():
    source = make_preset("dolly_in", 16, fps=30.0)
    with pytest.raises(ValueError, match=r"lasts 0\.50 s .*81 frames at 16 fps last 5\.00 s; use at most 9 frames"):
        retime(source, 81, fps_out=16.0)
    # with the 4k+1 rule the longest count offered is one the rule can give (31 frames fit; 29 is 4k+1)
    with pytest.raises(ValueError, match="use at most 29 frames"):
        retime(make_preset("dolly_in", 16, fps=8.0), 81, fps_out=16.0, frame_rule="nearest 4k+1")
    with pytest.raises(ValueError, match="no frame rate; give fps_in"):
        retime(make_preset("dolly_in", 16), 9, fps_out=16.0)
    with pytest.raises(ValueError, match="unknown frame rule"):
        retime(source, 9, frame_rule="round")
    with pytest.raises(ValueError, match="whole number >= 1"):
        retime(source, -3)


def test_smoothing_recentre_and_scale():
    rng = np.random.default_rng(0)
    clean = make_preset("truck_right", 41, magnitude=2.0, easing="linear", fps=24.0)
    noisy_t = clean.t + torch.from_numpy(rng.normal(0, 0.02, clean.t.shape))
    noisy = type(clean)(K=clean.K, R=clean.R, t=noisy_t, image_size=clean.image_size, fps=24.0)

    def jitter(c):
        return float(torch.diff(c.centers, n=2, dim=0).norm(dim=-1).mean())

    assert jitter(retime(noisy, 41, smoothing=2.0)) < 0.3 * jitter(retime(noisy, 41))
    moved = type(clean)(K=clean.K, R=clean.R, t=clean.t + torch.tensor([0.3, -0.2, 1.0], dtype=torch.float64),
                        image_size=clean.image_size)
    out = retime(moved, 21, recentre=True, scale=3.0)
    assert torch.allclose(out.R[0], torch.eye(3, dtype=torch.float64)) and float(out.t[0].abs().max()) < 1e-12
    # truck of 2 units, scaled 3x: the last camera 6 units to the right of the first
    assert torch.allclose(out.centers[-1], torch.tensor([6.0, 0, 0], dtype=torch.float64), atol=1e-9)


def test_cli_retime_on_a_realestate10k_file(tmp_path, shared_file, capsys):
    poses = shared_file(RE10K_POSES)
    src = read_trajectory(poses, image_size=(256, 384))
    out = tmp_path / "wan.json"
    assert cli.main(["retime", str(poses), "--size", "256x384", "--frames", "47", "--nearest-4k1",
                     "--out", str(out)]) == 0
    cams = read_trajectory(out)
    assert len(cams) == 49
    for j, i in ((0, 0), (48, len(src) - 1)):   # the end poses are the source's
        assert torch.allclose(cams.R[j], src.R[i], atol=1e-12) and torch.allclose(cams.t[j], src.t[i], atol=1e-12)
    assert "retimed 16 cameras to 49" in capsys.readouterr().out


def test_cli_retime_errors_exit_2_with_one_line(tmp_path, capsys):
    traj = tmp_path / "dolly.json"
    write_trajectory(make_preset("dolly_in", 16, fps=30.0), traj)
    out = tmp_path / "out.json"
    assert cli.main(["retime", str(traj), "--frames", "81", "--fps-out", "16", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("raxel retime: error: the source path lasts") and "\n" not in err
    assert not out.exists()
