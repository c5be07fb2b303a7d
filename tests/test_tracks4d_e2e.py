"""Solve Cameras From Point Tracks (RaxelTracksTo4D) inside a real ComfyUI server: the template runs on a
real clip and gives the library's result, and bad inputs (tracks outside the frame, all tracks invisible,
a 1-frame clip, no frame size) end in an error naming the problem, after which the server serves the next
prompt.

Needs ``RAXEL_COMFYUI_DIR`` (see tests/test_comfyui_e2e.py).
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from comfyui_server import ROOT
from comfyui_server import api_node as _node

from raxel_core.video_io import read_video_frames

CLIP = "re10k/videos/0bf152ef84195293.mp4"

pytestmark = pytest.mark.comfyui("run the 4D solver node inside a real ComfyUI server")


def _alone(**inputs) -> dict:
    """A prompt of the solver (its widgets: comfyui_server.WIDGET_DEFAULTS) and a PreviewAny of its scores (a
    prompt needs an output node)."""
    return {"1": _node("RaxelTracksTo4D", **inputs), "2": _node("PreviewAny", source=["1", 2])}


def test_node_loads_with_tooltips_and_help_page(server):
    node = server.object_info["RaxelTracksTo4D"]
    assert node["category"] == "raxel/pose" and len(node["description"]) > 80
    assert node["display_name"] == "Solve Cameras From Point Tracks (Moving Scenes)"
    for group in ("required", "optional"):
        for name, spec in node["input"].get(group, {}).items():
            assert len(spec) > 1 and spec[1].get("tooltip"), name
    assert node["output"] == ["CAMERA_TRAJECTORY", "RAXEL_TRACKS_3D", "STRING"] and all(node["output_tooltips"])
    assert server.help_page("RaxelTracksTo4D").startswith("# Solve Cameras From Point Tracks (Moving Scenes)")


def test_template_gives_the_librarys_result(server, shared_file):
    from raxel_core.pose import estimate_trajectory
    from raxel_core.tracks import TrackerSettings, track_points
    from raxel_core.tracks4d import solve_tracks4d

    shutil.copy(shared_file(CLIP), server.input / "clip.mp4")
    prompt = json.loads((ROOT / "workflows" / "api" / "raxel_moving_scene_pose.json").read_text())
    prompt["1"]["inputs"]["file"] = "clip.mp4"
    entry = server.run_ok(prompt)
    report = entry["outputs"]["4"]["text"][0]
    frames = read_video_frames(shared_file(CLIP))
    sfm = estimate_trajectory(frames, seed=0)
    tracks = track_points(frames, TrackerSettings(num_points=800)).tracks
    library = solve_tracks4d(tracks, frames.shape[1:3], trajectory=sfm.cameras)
    assert f"{len(library.track_indices)} tracks over {len(frames)} frames" in report, report
    assert report.splitlines()[-1] == library.messages[-1]
    saved = list((server.output / "raxel").glob("moving_scene_pose*"))
    assert saved, "the template saved no trajectory"


def test_dynamic_scores_come_out_per_input_track(server):
    rng = np.random.default_rng(0)
    # a still camera looking at 40 static points and 10 points that move sideways
    X = rng.uniform([-2, -1.5, 4], [2, 1.5, 8], (50, 3))
    tracks = []
    for j in range(50):
        track = []
        for k in range(8):
            p = X[j] + (np.array([0.1 * k, 0, 0]) if j >= 40 else 0)
            track.append({"x": float(150 * p[0] / p[2] + 96), "y": float(150 * p[1] / p[2] + 64)})
        tracks.append(track)
    tracks.append([{"x": 5.0, "y": 5.0, "visible": k == 0} for k in range(8)])  # seen once: left out
    entry = server.run_ok(_alone(tracks_json=json.dumps(tracks), width=192, height=128))
    scores = json.loads(entry["outputs"]["2"]["text"][0])
    assert len(scores["dynamic"]) == 51 and scores["dynamic"][50] is None
    assert sum(scores["dynamic"][:40]) == 0 and all(scores["dynamic"][40:50])


def test_bad_tracks_fail_naming_the_problem(server):
    inside = [{"x": 10.0 + k, "y": 20.0} for k in range(8)]
    far = [[{"x": 900.0 + k, "y": 20.0} for k in range(8)]] * 10
    error = server.run_error(_alone(tracks_json=json.dumps(far), width=384, height=256))
    assert error["node_type"] == "RaxelTracksTo4D"
    assert "every track point lies outside the 384x256 frame" in error["exception_message"]
    hidden = [[dict(p, visible=False) for p in inside]] * 10
    error = server.run_error(_alone(tracks_json=json.dumps(hidden), width=384, height=256))
    assert "no track point is visible" in error["exception_message"]
    one_frame = [[{"x": 10.0 + j, "y": 20.0}] for j in range(10)]
    error = server.run_error(_alone(tracks_json=json.dumps(one_frame), width=384, height=256))
    assert "the tracks have 1 frame" in error["exception_message"] and "at least 2 frames" in error["exception_message"]
    error = server.run_error(_alone(tracks_json=json.dumps([inside] * 10)))
    assert "needs the frame size" in error["exception_message"]
    server.assert_healthy()


def test_one_frame_video_fails_before_the_solver(server):
    from raxel_core.video_io import write_video

    frames = np.random.default_rng(0).integers(0, 255, (1, 64, 96, 3), dtype=np.uint8)
    write_video(server.input / "one_frame.mp4", frames, fps=8)
    prompt = json.loads((ROOT / "workflows" / "api" / "raxel_moving_scene_pose.json").read_text())
    prompt["1"]["inputs"]["file"] = "one_frame.mp4"
    error = server.run_error(prompt)
    assert error["node_type"] in ("RaxelPoseFromVideo", "RaxelPointTracks")
    assert "at least 2 frames" in error["exception_message"]
    server.assert_healthy()
