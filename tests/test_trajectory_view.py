"""The 3D view's payload (raxel_core.trajectory_view): plain JSON, one frame per camera, and the
numbers the browser draws are the trajectory's own (centres, camera-to-world rotations, fov)."""
from __future__ import annotations

import json
import math

import pytest
import shared_data
import torch

from raxel_core.authoring.trajectory_presets import make_preset
from raxel_core.cameras import Cameras
from raxel_core.geometry.rotations import rotation_error_deg
from raxel_core.trajectory_view import VIEW_FORMAT, convergence_point, trajectory_view

DATA = shared_data.DATA


def _from_view(view: dict) -> Cameras:
    """Rebuild cameras from the payload as the browser reads it."""
    c2w = torch.eye(4, dtype=torch.float64).repeat(view["num_frames"], 1, 1)
    c2w[:, :3, :3] = torch.tensor([f["rotation"] for f in view["frames"]], dtype=torch.float64)
    c2w[:, :3, 3] = torch.tensor([f["position"] for f in view["frames"]], dtype=torch.float64)
    h, w = view["image_size"]
    fy = torch.tensor([h / (2 * math.tan(math.radians(f["fov_y_deg"]) / 2)) for f in view["frames"]],
                      dtype=torch.float64)
    K = torch.zeros(len(fy), 3, 3, dtype=torch.float64)
    K[:, 0, 0], K[:, 1, 1], K[:, 0, 2], K[:, 1, 2], K[:, 2, 2] = fy, fy, w / 2, h / 2, 1
    return Cameras.from_c2w(c2w, K, (h, w))


def _strict_json(view: dict) -> dict:
    return json.loads(json.dumps(view, allow_nan=False))


@pytest.mark.parametrize("preset", ["orbit_left", "dolly_in", "pan_right", "spiral", "zoom_in"])
def test_view_round_trips_the_trajectory(preset):
    cameras = make_preset(preset, 17, image_size=(480, 832), fov_y_deg=50.0)
    view = _strict_json(trajectory_view(cameras))
    assert view["format"] == VIEW_FORMAT and view["num_frames"] == len(view["frames"]) == 17
    assert view["image_size"] == [480, 832]
    back = _from_view(view)
    assert torch.allclose(back.centers, cameras.centers, atol=1e-9)
    assert float(rotation_error_deg(back.R, cameras.R).max()) < 1e-6
    assert torch.allclose(back.fy, cameras.fy, rtol=1e-9)
    assert abs(view["frames"][0]["fov_y_deg"] - 50.0) < 1e-9


def test_orbit_marks_its_centre_and_dolly_or_pan_mark_nothing():
    orbit = make_preset("orbit_left", 25, magnitude=60.0, distance=4.0)
    point = convergence_point(orbit)
    assert point is not None and torch.allclose(torch.tensor(point, dtype=torch.float64),
                                                torch.tensor([0.0, 0.0, 4.0], dtype=torch.float64),
                                                atol=1e-6)
    assert trajectory_view(orbit)["look_at"] == pytest.approx(point)
    # parallel optical axes (dolly) and axes meeting at the camera (pan): no point to mark
    assert convergence_point(make_preset("dolly_in", 25)) is None
    assert convergence_point(make_preset("pan_right", 25, magnitude=60.0)) is None
    assert convergence_point(orbit[:1]) is None


def test_given_look_at_and_label_are_kept():
    cameras = make_preset("truck_right", 5)
    view = _strict_json(trajectory_view(cameras, look_at=[1, 2, 3], label="reference"))
    assert view["look_at"] == [1.0, 2.0, 3.0] and view["label"] == "reference"


def test_bad_inputs_name_the_problem():
    cameras = make_preset("truck_right", 5)
    with pytest.raises(ValueError, match="look_at must be 3 finite numbers"):
        trajectory_view(cameras, look_at=[0, float("nan"), 1])
    with pytest.raises(ValueError, match="needs a Cameras trajectory"):
        trajectory_view({"frames": []})


def test_realestate10k_clip_view_matches_the_file():
    poses = DATA / "re10k" / "poses" / "0bf152ef84195293.txt"
    if not poses.is_file():
        pytest.skip(f"{poses} is absent (shared data not available)")
    from raxel_core.formats import read_trajectory

    cameras = read_trajectory(poses, image_size=(360, 640))
    view = _strict_json(trajectory_view(cameras, label="re10k"))
    assert view["num_frames"] == len(cameras) > 10
    back = _from_view(view)
    assert torch.allclose(back.centers, cameras.centers, atol=1e-9)
    assert float(rotation_error_deg(back.R, cameras.R).max()) < 1e-6
    assert torch.allclose(back.fy, cameras.fy, rtol=1e-9)
