"""``POST /raxel/preset_path`` (nodes/preset_route.py) on a real ComfyUI server: the path the canvas
draws live for a preset of RaxelCameraTrajectory, before any run. Checked against closed forms of
the presets (not against the function the route calls), and for bad input a 400 with one line
naming the field, after which the server still answers."""
from __future__ import annotations

import json
import math
import urllib.error
import urllib.request

import numpy as np
import pytest

pytestmark = pytest.mark.comfyui("serve the pack's preset path route")

BODY = {"preset": "pan_right", "frames": 13, "magnitude": 30.0, "easing": "linear", "width": 832, "height": 480,
        "fov": 50.0, "distance": 4.0}


def _post(server, body, raw: bytes | None = None) -> tuple[int, dict]:
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(server.url + "/raxel/preset_path", data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_pan_right_turns_the_camera_by_the_magnitude_about_y(server):
    code, body = _post(server, BODY)
    assert code == 200, body
    view = body["trajectory"]
    assert view["format"] == "raxel_trajectory_view" and view["image_size"] == [480, 832]
    frames = view["frames"]
    assert len(frames) == 13
    for i, f in enumerate(frames):
        assert np.allclose(f["position"], 0.0), f  # a pan turns the camera in place
        # camera-to-world rotation about y by +i/12 * 30 degrees: forward +z turns towards +x (right)
        a = math.radians(30.0 * i / 12)
        expected = [[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]]
        assert np.allclose(f["rotation"], expected, atol=1e-9), (i, f["rotation"])
        assert f["fov_y_deg"] == pytest.approx(50.0)


def test_dolly_in_moves_the_camera_forward_with_the_easing(server):
    code, body = _post(server, {**BODY, "preset": "dolly_in", "magnitude": 2.0, "easing": "linear", "frames": 5})
    assert code == 200, body
    z = [f["position"][2] for f in body["trajectory"]["frames"]]
    assert z == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])
    # magnitude 0 means the preset's default (1 scene unit), as on the node
    code, body = _post(server, {**BODY, "preset": "dolly_in", "magnitude": 0.0, "frames": 2})
    assert code == 200 and body["trajectory"]["frames"][-1]["position"][2] == pytest.approx(1.0)


def test_orbit_circles_the_point_at_the_distance(server):
    code, body = _post(server, {**BODY, "preset": "orbit_left", "distance": 3.0, "frames": 9})
    assert code == 200, body
    look_at = np.array([0.0, 0.0, 3.0])
    for f in body["trajectory"]["frames"]:
        assert np.linalg.norm(np.array(f["position"]) - look_at) == pytest.approx(3.0)


@pytest.mark.parametrize(("change", "named"), [
    ({"preset": "keyframes"}, "preset"),
    ({"preset": "warp_speed"}, "preset"),
    ({"easing": "bouncy"}, "easing"),
    ({"frames": 0}, "frames"),
    ({"frames": 2.5}, "frames"),
    ({"frames": True}, "frames"),
    ({"width": 100000}, "width"),
    ({"fov": 180.0}, "fov"),
    ({"magnitude": "30"}, "magnitude"),
    ({"distance": -1.0}, "distance"),
    ({"preset": "zoom_in", "magnitude": -2.0}, "zoom factor"),
    ({"extra": 1}, "unknown field"),
])
def test_bad_values_get_a_400_naming_the_field(server, change, named):
    code, body = _post(server, {**BODY, **change})
    assert code == 400, body
    assert named in body["error"] and "\n" not in body["error"], body


def test_malformed_bodies_get_a_400_and_the_server_goes_on(server):
    code, body = _post(server, None, raw=b"{not json")
    assert code == 400 and "not valid JSON" in body["error"], body
    code, body = _post(server, [1, 2, 3])
    assert code == 400 and "JSON object" in body["error"], body
    code, body = _post(server, {"preset": "pan_left"})
    assert code == 400 and "missing field" in body["error"] and "frames" in body["error"], body
    code, body = _post(server, BODY)
    assert code == 200 and len(body["trajectory"]["frames"]) == 13
