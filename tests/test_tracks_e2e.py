"""Raxel Point Tracks inside a real ComfyUI server: the template runs and gives the library's tracks,
tracks brought as JSON pass through, and bad inputs (a 1-frame video, tracks outside the frame,
all tracks invisible, another frame count, malformed JSON) end in an error naming the problem,
after which the server serves the next prompt.

Needs ``RAXEL_COMFYUI_DIR`` (see tests/test_comfyui_e2e.py).
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from comfyui_server import ROOT
from comfyui_server import api_node as _node
from PIL import Image

from raxel_core.video_io import read_video_frames, write_video

CLIP = "re10k/videos/0bf152ef84195293.mp4"

pytestmark = pytest.mark.comfyui("run the point-tracks node inside a real ComfyUI server")


def test_node_loads_with_tooltips_and_help_page(server):
    node = server.object_info["RaxelPointTracks"]
    assert node["category"] == "raxel/pose" and len(node["description"]) > 40
    for group in ("required", "optional"):
        for name, spec in node["input"].get(group, {}).items():
            assert len(spec) > 1 and spec[1].get("tooltip"), name
    assert node["output"] == ["TRACKS", "STRING", "IMAGE"] and all(node["output_tooltips"])
    assert server.help_page("RaxelPointTracks").startswith("# Follow Points Through A Video")


def test_point_tracks_template_gives_the_librarys_tracks(server, shared_file):
    from raxel_core.tracks import TrackerSettings, track_points

    shutil.copy(shared_file(CLIP), server.input / "clip.mp4")
    prompt = json.loads((ROOT / "workflows" / "api" / "raxel_point_tracks.json").read_text())
    prompt["1"]["inputs"]["file"] = "clip.mp4"
    entry = server.run_ok(prompt)
    summary = entry["outputs"]["4"]["text"][0]
    report = entry["outputs"]["2"]["text"][0]
    frames = read_video_frames(shared_file(CLIP))
    library = track_points(frames, TrackerSettings(num_points=400)).tracks
    visible = float(library.visibility.mean()) * 100
    assert summary == f"{library.num_tracks} tracks x {len(frames)} frames, {visible:.0f}% of points visible", summary
    assert f"{library.num_tracks} tracks" in report
    saved = entry["outputs"]["3"]["images"][0]
    with Image.open(server.output / saved["subfolder"] / saved["filename"]) as webp:
        assert webp.n_frames == len(frames) and webp.size == (frames.shape[2], frames.shape[1])


def test_json_tracks_pass_through_and_reach_core_tracks(server, shared_file):
    shutil.copy(shared_file(CLIP), server.input / "clip.mp4")
    points = [[{"x": 10.0 + k, "y": 20.0} for k in range(16)], [{"x": 100.0, "y": 50.0 + k} for k in range(16)]]
    points[1][3]["visible"] = False
    entry = server.run_ok({
        "1": {"class_type": "LoadVideo", "inputs": {"file": "clip.mp4"}},
        "2": _node("RaxelPointTracks", video=["1", 0], tracks_json=json.dumps(points)),
        "3": _node("RaxelTracksFromJSON", tracks_json="", tracks=["2", 0]),
        "4": _node("RaxelTracksFromJSON", tracks_json=["2", 1]),
    })
    for node in ("3", "4"):
        assert entry["outputs"][node]["text"][0] == "2 tracks x 16 frames, 97% of points visible"
    assert "2 tracks from the input" in entry["outputs"]["2"]["text"][0]


def _prompt_with(tracks_json: str, video: str = "clip.mp4") -> dict:
    return {
        "1": {"class_type": "LoadVideo", "inputs": {"file": video}},
        "2": _node("RaxelPointTracks", video=["1", 0], tracks_json=tracks_json),
        "3": _node("RaxelTracksFromJSON", tracks_json="", tracks=["2", 0]),
    }


def test_one_frame_video_fails_naming_the_problem(server):
    frames = np.random.default_rng(0).integers(0, 255, (1, 64, 96, 3), dtype=np.uint8)
    write_video(server.input / "one_frame.mp4", frames, fps=8)
    error = server.run_error(_prompt_with("", "one_frame.mp4"))
    assert error["node_type"] == "RaxelPointTracks"
    assert "has 1 frame; point tracks need at least 2 frames" in error["exception_message"]
    server.assert_healthy()


def test_tracks_outside_the_frame_fail_naming_track_and_frame(server, shared_file):
    shutil.copy(shared_file(CLIP), server.input / "clip.mp4")
    track = [{"x": 10.0, "y": 20.0} for _ in range(16)]
    far = [{"x": 900.0, "y": 20.0} for _ in range(16)]
    error = server.run_error(_prompt_with(json.dumps([track, far])))
    message = error["exception_message"]
    assert "track 1 is visible at (900.0, 20.0) in frame 0, outside the 384x256 frame" in message, message
    server.assert_healthy()


def test_all_invisible_and_wrong_length_tracks_fail(server, shared_file):
    shutil.copy(shared_file(CLIP), server.input / "clip.mp4")
    hidden = [[{"x": 10.0, "y": 20.0, "visible": False} for _ in range(16)]]
    error = server.run_error(_prompt_with(json.dumps(hidden)))
    assert "all 1 tracks are invisible in every frame" in error["exception_message"]
    short = [[{"x": 10.0, "y": 20.0} for _ in range(9)]]
    error = server.run_error(_prompt_with(json.dumps(short)))
    assert "the tracks have 9 frames but the video has 16" in error["exception_message"]
    server.assert_healthy()


def test_malformed_json_is_rejected_before_running(server):
    code, body = server.post_prompt(_prompt_with('[[{"x": 1}]]'))
    assert code == 400, body
    details = json.dumps(body["node_errors"])
    assert "'y' must be a number" in details, details
    server.assert_healthy()


def test_no_frames_fails_naming_both_inputs(server):
    error = server.run_error({"1": _node("RaxelPointTracks"), "3": _node("RaxelTracksFromJSON", tracks_json="",
                                                             tracks=["1", 0])})
    assert "exactly one source" in error["exception_message"]
    server.assert_healthy()
