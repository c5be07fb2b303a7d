"""RaxelTrack2ViewCondition inside a real ComfyUI server: a real RealEstate10K clip with the dataset's
cameras is re-rendered exactly as the library does it, and every bad input ends in a one-line error
that names the fix, after which the server serves the next prompt.

Needs ``RAXEL_COMFYUI_DIR`` (tests/test_comfyui_e2e.py explains); the server fixture is tests/conftest.py's.
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from comfyui_server import api_node as _node

pytestmark = pytest.mark.comfyui("run the re-render node inside a real ComfyUI server")

STEM = "0bf152ef84195293"
SIZE = {"width": 384, "height": 256}
NODE_DEFAULTS = {"target": "orbit_left", "angle_deg": 15.0, "dolly_fraction": 0.25,
                 "depth_form": "inverse_relative", "depth_range": 1.0}


def _rerender(**inputs) -> dict:
    return _node("RaxelTrack2ViewCondition", **{**NODE_DEFAULTS, **inputs})


@pytest.fixture(scope="module")
def clip(server, shared_file):
    shutil.copy(shared_file(f"re10k/videos/{STEM}.mp4"), server.input / "rerender_clip.mp4")
    shutil.copy(shared_file(f"re10k/poses/{STEM}.txt"), server.input / "rerender_poses.txt")
    return server


def _base(tracks_json: str | None = None) -> dict:
    prompt = {
        "1": {"class_type": "LoadVideo", "inputs": {"file": "rerender_clip.mp4"}},
        "2": {"class_type": "GetVideoComponents", "inputs": {"video": ["1", 0]}},
        "3": _node("RaxelLoadTrajectory", file="rerender_poses.txt", **SIZE),
    }
    if tracks_json is not None:
        prompt["4"] = {"class_type": "RaxelTracksFromJSON", "inputs": {"tracks_json": tracks_json}}
    return prompt


def _saved(server, entry, node) -> np.ndarray:
    from PIL import Image

    image = entry["outputs"][node]["images"][0]
    return np.asarray(Image.open(server.output / image["subfolder"] / image["filename"]).convert("RGB"))


def _tracks_json(n_frames=16, outside=False) -> str:
    xs = [5000.0] * 3 if outside else [60.0, 190.0, 320.0]
    return json.dumps([[{"x": x, "y": 128.0} for _ in range(n_frames)] for x in xs])


def test_node_renders_what_the_library_renders(clip):
    from raxel_core.formats import read_trajectory
    from raxel_core.interop import tracks_from_json
    from raxel_core.rerender.pipeline import rerender, source_depth, target_cameras
    from raxel_core.video_io import read_video_frames

    server = clip
    prompt = _base(_tracks_json())
    prompt["5"] = _rerender(images=["2", 0], trajectory=["3", 0], tracks=["4", 0])
    prompt["6"] = {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "rerender/render"}}
    prompt["7"] = {"class_type": "MaskToImage", "inputs": {"mask": ["5", 1]}}
    prompt["8"] = {"class_type": "SaveImage", "inputs": {"images": ["7", 0], "filename_prefix": "rerender/mask"}}
    prompt["9"] = {"class_type": "SaveImage", "inputs": {"images": ["5", 3], "filename_prefix": "rerender/preview"}}
    entry = server.run_ok(prompt)
    report = entry["outputs"]["5"]["text"][0]
    assert report.startswith("depth: coarse") and "coverage" in report, report

    frames = read_video_frames(server.input / "rerender_clip.mp4")
    source = read_trajectory(server.input / "rerender_poses.txt", image_size=(256, 384))
    depth = source_depth(frames, source)
    target = target_cameras(source, depth, preset="orbit_left")
    library = rerender(frames, source, target, depth, tracks=tracks_from_json(_tracks_json()))
    render = _saved(server, entry, "6")  # frame 0 of the batch
    expected = np.clip(np.round(library.warp.image[0].numpy() * 255), 0, 255)
    assert np.abs(render.astype(int) - expected).max() <= 1
    mask = _saved(server, entry, "8")[..., 0] > 127
    np.testing.assert_array_equal(mask, ~library.visible[0].numpy())
    assert _saved(server, entry, "9").shape[1] == 3 * 384
    assert f"coverage {library.coverage:.3f}" in report, report


@pytest.mark.parametrize("case, match", [
    ("depth_size", "resize the depth maps"),
    ("depth_frames", "has 1 frames but the video has 16"),
    ("depth_zero", "zero pixels"),
    ("target_frames", "has 10 frames but the source video has 16"),
    ("source_other_video", "does not belong to this video"),
    ("tracks_outside", "outside the 384x256 frame"),
])
def test_bad_input_fails_naming_the_fix_and_the_server_goes_on(clip, case, match):
    from PIL import Image

    server = clip
    prompt = _base(_tracks_json(outside=True) if case == "tracks_outside" else None)
    node = {"images": ["2", 0], "trajectory": ["3", 0]}
    if case.startswith("depth"):
        size = (10, 10) if case == "depth_size" else (384, 256)
        Image.fromarray(np.zeros(size[::-1] + (3,), np.uint8)).save(server.input / f"{case}.png")
        prompt["10"] = {"class_type": "LoadImage", "inputs": {"image": f"{case}.png"}}
        prompt["11"] = {"class_type": "RepeatImageBatch",
                        "inputs": {"image": ["10", 0], "amount": 1 if case == "depth_frames" else 16}}
        node["depth"] = ["11", 0]
        if case == "depth_zero":
            node["depth_form"] = "metric"
    elif case == "target_frames":
        prompt["10"] = _node("RaxelCameraTrajectory", preset="orbit_left", frames=10, **SIZE)
        node.update(target="trajectory (absolute)", target_trajectory=["10", 0])
    elif case == "source_other_video":
        prompt["10"] = _node("RaxelCameraTrajectory", preset="orbit_left", frames=12, **SIZE)
        node["trajectory"] = ["10", 0]
    else:
        node["tracks"] = ["4", 0]
    prompt["5"] = _rerender(**node)
    prompt["6"] = {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "rerender/bad"}}
    error = server.run_error(prompt)
    assert error["node_type"] == "RaxelTrack2ViewCondition", error
    message = error["exception_message"]
    assert match in message and "\n" not in message.strip(), message
    server.assert_healthy()
