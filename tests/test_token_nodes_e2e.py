"""The camera-token nodes (nodes/token_nodes.py) inside a real ComfyUI server: an authored path goes
through "Camera Path To Tokens" -> "Tokens To Camera Path" -> "Save Camera Path" and comes back within
the tokenizer's measured error; the tokens JSON text equals the library's encoding; bad tokens are
refused with a message naming the problem, and the server serves the next prompt.

Needs a ComfyUI checkout (``RAXEL_COMFYUI_DIR``; ``RAXEL_COMFYUI_SHIMS`` optional); server fixture in
tests/conftest.py.
"""
from __future__ import annotations

import json

import pytest
import torch
from comfyui_server import api_node as _node

pytestmark = pytest.mark.comfyui("run the camera-token nodes inside a real ComfyUI server")

AUTHORED = {"preset": "orbit_left", "frames": 17, "width": 96, "height": 64, "magnitude": 30.0}


def _authored():
    from raxel_core.authoring.trajectory_presets import make_preset

    w = {**_node("RaxelCameraTrajectory")["inputs"], **AUTHORED}
    return make_preset(w["preset"], w["frames"], magnitude=w["magnitude"], easing=w["easing"],
                       image_size=(w["height"], w["width"]), fov_y_deg=w["fov"], distance=w["distance"])


def test_path_to_tokens_and_back_in_the_server(server):
    from raxel_core.formats import read_trajectory
    from raxel_core.geometry import rotation_error_deg
    from raxel_core.tokens import CameraTokenizer

    info = server.object_info
    for name in ("RaxelCameraTokens", "RaxelTokensToCamera"):
        assert info[name]["category"] == "raxel/model", info[name]["category"]
    assert info["RaxelCameraTokens"]["display_name"] == "Camera Path To Tokens"
    entry = server.run_ok({
        "1": _node("RaxelCameraTrajectory", **AUTHORED),
        "2": _node("RaxelCameraTokens", trajectory=["1", 0]),
        "3": _node("RaxelTokensToCamera", tokens=["2", 0], levels=4),
        "4": _node("RaxelSaveTrajectory", trajectory=["3", 0], filename_prefix="raxel/tokens_back"),
        "5": {"class_type": "PreviewAny", "inputs": {"source": ["2", 1]}},
    })
    authored = _authored()
    doc = json.loads(entry["outputs"]["5"]["text"][0])
    expected, _ = CameraTokenizer.from_pretrained().encode(authored)
    assert torch.equal(torch.tensor(doc["indices"]), expected)
    files = entry["outputs"]["4"]["trajectory_files"]
    back = read_trajectory(server.output / files[0]["subfolder"] / files[0]["filename"])
    assert len(back) == 17 and back.image_size == (64, 96)
    rot = rotation_error_deg(back.R, authored.R)
    assert float(rot[0]) < 1e-6 and float(rot.mean()) < 1.2, rot  # measured 0.93 deg (mean over 17 frames)
    extent = float((authored.centers - authored.centers[0]).norm(dim=-1).max())
    assert float((back.centers - authored.centers).norm(dim=-1).mean()) < 0.03 * extent  # measured 0.017


def test_bad_tokens_are_refused_naming_the_problem(server):
    for text, message in [("", "no camera tokens"), ("{not json", "not valid JSON"),
                          ('{"format": "other"}', "not a camera tokens file")]:
        error = server.run_error({
            "1": _node("RaxelTokensToCamera", tokens_json=text, levels=2),
            "2": _node("RaxelTrajectoryPreview", trajectory=["1", 0], width=256, height=128),
        })
        assert message in error["exception_message"], error["exception_message"]
    server.assert_healthy()
