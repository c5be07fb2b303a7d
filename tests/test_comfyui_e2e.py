"""The pack inside a real ComfyUI server: it loads through the V3 entry point, the shipped API
workflows run and give the library's results, and bad inputs end in an error that names the
problem, after which the server serves the next prompt normally.

Needs a ComfyUI checkout with its requirements installed: set ``RAXEL_COMFYUI_DIR`` to it
(README, "Testing against ComfyUI"). ``RAXEL_COMFYUI_SHIMS`` optionally names a folder put first
on the server's ``PYTHONPATH`` (import shims for torchvision / torchaudio on a CPU-only torch).
The server runs with ``--base-directory`` in a temporary folder (its own input, output, temp and
user folders, and a ``custom_nodes`` holding only a link to this repository) on a free port,
started by tests/comfyui_server.py.
"""
from __future__ import annotations

import json
import shutil
import time
import urllib.request
from pathlib import Path

import build_workflows
import numpy as np
import pytest
from comfyui_server import PACK_NAME, PROMPT_SECONDS, ROOT
from comfyui_server import api_node as _node

#: The RealEstate10K clip, relative to the shared data folder (the ``shared_file`` fixture finds it).
RE10K_CLIP = "re10k/videos/0bf152ef84195293.mp4"

pytestmark = pytest.mark.comfyui("run the pack inside a real ComfyUI server")


RAXEL_NODES = ["RaxelCameraTrajectory", "RaxelLoadTrajectory", "RaxelSaveTrajectory",
               "RaxelTrajectoryPreview", "RaxelEncode", "RaxelPoseDecode", "RaxelCameraEmbedding",
               "RaxelPoseFromVideo", "RaxelRetimeTrajectory"]
#: Menu category of each node, by task.
CATEGORIES = {**{name: "raxel/camera" for name in RAXEL_NODES}, "RaxelPoseFromVideo": "raxel/pose"}


def test_pack_loads_every_node_through_the_v3_entry_point(server):
    info = server.object_info
    missing = [n for n in RAXEL_NODES if n not in info]
    assert not missing, f"nodes not registered: {missing}\n{server.log_tail()}"
    failed = [line for line in server.log.read_text().splitlines() if "IMPORT FAILED" in line and PACK_NAME in line]
    assert not failed, server.log_tail()
    for name in RAXEL_NODES:
        node = info[name]
        assert node["category"] == CATEGORIES[name], name
        assert len(node["description"]) > 40, f"{name} has no real description"
        for group in ("required", "optional"):
            for input_name, spec in node["input"].get(group, {}).items():
                assert len(spec) > 1 and spec[1].get("tooltip"), f"{name}.{input_name} has no tooltip"
        assert all(node["output_tooltips"]), f"{name} has an output without a tooltip"
    # the template browser offers the UI-format workflows (not their API twins)
    templates = server.get("/api/workflow_templates")
    assert sorted(templates[PACK_NAME]) == sorted(w.title for w in build_workflows.WORKFLOWS)
    for name in RAXEL_NODES:
        # the node's help page, served from WEB_DIRECTORY/docs
        with urllib.request.urlopen(f"{server.url}/extensions/{PACK_NAME}/docs/{name}.md", timeout=30) as r:
            assert r.status == 200 and r.read().decode().startswith("# "), name


@pytest.mark.parametrize("node_type", sorted(build_workflows.NODE_TYPES))
def test_workflow_builder_knows_the_real_sockets(server, node_type):
    """The socket / widget table the workflow files are written from is the server's truth."""
    node = server.object_info[node_type]
    spec = build_workflows.NODE_TYPES[node_type]
    order = node["input_order"]
    kinds = {**node["input"].get("required", {}), **node["input"].get("optional", {})}
    optional = set(node["input"].get("optional", {}))
    names = order.get("required", []) + order.get("optional", [])

    def is_widget(name):
        kind = kinds[name][0]
        return isinstance(kind, list) or kind in ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")

    sockets = [(n, kinds[n][0], n in optional) for n in names if not is_widget(n)]
    widgets = [n for n in names if is_widget(n)]
    assert sockets == [tuple(s) for s in spec["inputs"]]
    assert widgets == [w for w in spec["widgets"] if w not in build_workflows.UI_ONLY_WIDGETS]
    for name, kind in spec.get("widget_types", {}).items():  # widgets a template may feed by a link
        assert kinds[name][0] == kind, (node_type, name)
    outputs = list(zip(node["output_name"], node["output"], strict=False))
    assert outputs == [tuple(o) for o in spec["outputs"]]


def _api_workflow(name: str) -> dict:
    return json.loads((ROOT / "workflows" / "api" / f"{name}.json").read_text())


def _saved_file(entry: dict, node_id: str) -> Path:
    files = entry["outputs"][node_id]["trajectory_files"]
    assert len(files) == 1 and files[0]["type"] == "output"
    return Path(files[0]["subfolder"]) / files[0]["filename"]


def test_pose_from_video_workflow_agrees_with_the_library(server, shared_file):
    clip = shared_file(RE10K_CLIP)
    from raxel_core.formats import read_trajectory
    from raxel_core.geometry.rotations import rotation_error_deg
    from raxel_core.pose import estimate_trajectory
    from raxel_core.video_io import read_video_frames

    shutil.copy(clip, server.input / "re10k_clip.mp4")
    prompt = _api_workflow("raxel_pose_from_video")
    prompt["1"]["inputs"]["file"] = "re10k_clip.mp4"
    started = time.monotonic()
    entry = server.run_ok(prompt)
    print(f"\npose workflow: {time.monotonic() - started:.1f} s")
    report = entry["outputs"]["2"]["text"][0]
    saved = server.output / _saved_file(entry, "4")
    served = read_trajectory(saved)
    assert entry["outputs"]["3"]["images"], "the preview showed no image"

    frames = read_video_frames(clip)
    library = estimate_trajectory(frames)
    assert f"registered: {len(library.frame_indices)} of {len(frames)} frames" in report, report
    assert len(served) == len(library.cameras)
    assert served.image_size == library.cameras.image_size == frames.shape[1:3]

    # SfM is repeatable up to the gauge (world frame and scale) and tiny RANSAC differences:
    # compare relative to frame 0 with the largest camera distance scaled to 1.
    def normalised(c):
        c = c.relative_to(0)
        return c.scaled(1.0 / float(c.centers.norm(dim=1).max()))

    def assert_agree(cameras):
        a, b = normalised(cameras), normalised(library.cameras)
        assert float(rotation_error_deg(a.R, b.R).max()) < 1.0
        assert float((a.centers - b.centers).norm(dim=1).max()) < 0.02
        assert float(((a.fx - b.fx).abs() / b.fx).max()) < 0.01

    assert_agree(served)

    # The same frames as an IMAGE batch (core's Get Video Components) give the same trajectory.
    entry = server.run_ok({
        "1": {"class_type": "LoadVideo", "inputs": {"file": "re10k_clip.mp4"}},
        "2": {"class_type": "GetVideoComponents", "inputs": {"video": ["1", 0]}},
        "3": _node("RaxelPoseFromVideo", images=["2", 0]),
        "4": _node("RaxelSaveTrajectory", trajectory=["3", 0], filename_prefix="raxel/from_images"),
    })
    assert_agree(read_trajectory(server.output / _saved_file(entry, "4")))


def test_pose_node_estimates_the_pixel_aspect_of_a_squeezed_clip(server, shared_file):
    """pixel_aspect 0 = estimate fx and fy separately. The clip is a 16:9 source squeezed to 384x256
    without cropping (../shared/data/README.md), so its pixels have fy/fx = (256 / 384) * 16 / 9 = 1.185
    (the oracle: the data's provenance, not our estimator). Measured: 1.210 (2 %)."""
    from raxel_core.formats import read_trajectory

    shutil.copy(shared_file(RE10K_CLIP), server.input / "re10k_squeezed.mp4")
    entry = server.run_ok({
        "1": {"class_type": "LoadVideo", "inputs": {"file": "re10k_squeezed.mp4"}},
        "2": _node("RaxelPoseFromVideo", video=["1", 0], pixel_aspect=0.0),
        "3": _node("RaxelSaveTrajectory", trajectory=["2", 0], filename_prefix="raxel/aspect"),
    })
    saved = read_trajectory(server.output / _saved_file(entry, "3"))
    assert saved.image_size == (256, 384)
    aspect = float((saved.K[:, 1, 1] / saved.K[:, 0, 0]).mean())
    assert abs(aspect / ((256 / 384) * 16 / 9) - 1) < 0.05, aspect
    server.assert_healthy()


def test_encode_decode_workflow_returns_the_authored_trajectory(server):
    from PIL import Image

    from raxel_core.authoring.trajectory_presets import make_preset
    from raxel_core.formats import read_trajectory
    from raxel_core.geometry.rotations import rotation_error_deg

    prompt = _api_workflow("raxel_author_encode_decode")
    w = prompt["1"]["inputs"]
    started = time.monotonic()
    entry = server.run_ok(prompt)
    print(f"\nencode/decode workflow: {time.monotonic() - started:.1f} s")
    decoded = read_trajectory(server.output / _saved_file(entry, "5"))
    authored = make_preset(w["preset"], w["frames"], magnitude=w["magnitude"] or None,
                           easing=w["easing"], image_size=(w["height"], w["width"]),
                           fov_y_deg=w["fov"], distance=w["distance"])
    assert len(decoded) == len(authored) and decoded.image_size == authored.image_size
    # One 8-bit step of a raxel is 4/255 ray units; the float IMAGE path is far inside that.
    step = 4.0 / 255.0
    extent = float(authored.centers.norm(dim=1).max())
    assert float(rotation_error_deg(decoded.R, authored.R).max()) < np.degrees(step)
    assert float((decoded.centers - authored.centers).norm(dim=1).max()) < step * extent
    assert float(((decoded.fx - authored.fx).abs() / authored.fx).max()) < step
    preview = entry["outputs"]["4"]["images"][0]
    image = Image.open(server.temp / preview["subfolder"] / preview["filename"])
    assert image.size == (1024, 512)


def _write_video(path: Path, frames: np.ndarray) -> None:
    from raxel_core.video_io import write_video
    write_video(path, frames, fps=8)


def _write_empty_video(path: Path) -> None:
    """An .mp4 container holding a video stream but no frame (an interrupted export)."""
    import av
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        container.start_encoding()


def _pose_prompt(video_file: str) -> dict:
    return {
        "1": {"class_type": "LoadVideo", "inputs": {"file": video_file}},
        "2": _node("RaxelPoseFromVideo", video=["1", 0]),
        "3": _node("RaxelTrajectoryPreview", trajectory=["2", 0]),
    }


def test_empty_video_fails_naming_the_problem(server):
    _write_empty_video(server.input / "empty.mp4")
    error = server.run_error(_pose_prompt("empty.mp4"))
    assert error["node_type"] == "RaxelPoseFromVideo"
    message = error["exception_message"]
    assert "the video holds no frames (an empty or interrupted export); re-export it" in message, message
    assert "IndexError" not in message and "index out of range" not in message, message
    server.assert_healthy()


def test_one_frame_video_fails_naming_the_problem(server):
    frames = np.random.default_rng(0).integers(0, 255, (1, 64, 96, 3), dtype=np.uint8)
    _write_video(server.input / "one_frame.mp4", frames)
    error = server.run_error(_pose_prompt("one_frame.mp4"))
    assert "at least 2 frames" in error["exception_message"] and "got 1" in error["exception_message"]
    server.assert_healthy()


def test_pose_node_without_frames_fails_naming_both_inputs(server):
    error = server.run_error({
        "1": _node("RaxelPoseFromVideo"),
        "2": _node("RaxelTrajectoryPreview", trajectory=["1", 0]),
    })
    assert "exactly one source" in error["exception_message"] and "neither is connected" in error["exception_message"]
    server.assert_healthy()


def test_trajectory_file_with_nan_fails_naming_file_and_frame(server, shared_file):
    poses = shared_file("re10k/poses/0bf152ef84195293.txt")
    lines = poses.read_text().splitlines()
    fields = lines[3].split()
    fields[9] = "nan"  # frame 2: a rotation entry
    lines[3] = " ".join(fields)
    (server.input / "bad_nan.txt").write_text("\n".join(lines) + "\n")
    error = server.run_error({
        "1": _node("RaxelLoadTrajectory", file="bad_nan.txt"),
        "2": _node("RaxelTrajectoryPreview", trajectory=["1", 0]),
    })
    message = error["exception_message"]
    assert "bad_nan.txt" in message and "frame 2" in message and "NaN" in message, message
    server.assert_healthy()


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "link_outside.txt"])
def test_paths_outside_the_input_folder_are_refused(server, name):
    link = server.input / "link_outside.txt"
    if not link.is_symlink():
        link.symlink_to("/etc/hostname")
    code, body = server.post_prompt({
        "1": _node("RaxelLoadTrajectory", file=name),
        "2": _node("RaxelTrajectoryPreview", trajectory=["1", 0]),
    })
    assert code == 400, body
    details = json.dumps(body["node_errors"])
    assert "input folder" in details and str(server.input.resolve()) in details, details
    server.assert_healthy()


def test_saving_outside_the_output_folder_is_refused(server):
    error = server.run_error({
        "1": _node("RaxelCameraTrajectory", frames=4, width=64, height=64),
        "2": _node("RaxelSaveTrajectory", trajectory=["1", 0], filename_prefix="../../escaped"),
    })
    assert "outside ComfyUI's output folder" in error["exception_message"], error["exception_message"]
    assert not (server.base.parent / "escaped_00001_.json").exists()
    server.assert_healthy()


def test_raxel_metadata_of_another_length_fails_naming_both_counts(server):
    error = server.run_error({
        "1": _node("RaxelCameraTrajectory", frames=16, width=64, height=64),
        "2": _node("RaxelCameraTrajectory", frames=24, width=64, height=64),
        "3": _node("RaxelEncode", trajectory=["1", 0]),
        "4": _node("RaxelEncode", trajectory=["2", 0]),
        "5": {"class_type": "RaxelPoseDecode", "inputs": {"raxels": ["3", 0], "metadata": ["4", 1]}},
        "6": _node("RaxelTrajectoryPreview", trajectory=["5", 0]),
    })
    message = error["exception_message"]
    assert error["node_type"] == "RaxelPoseDecode"
    assert "24 frames" in message and "16" in message, message
    server.assert_healthy()


def test_invalid_keyframes_are_rejected_before_running(server):
    code, body = server.post_prompt({
        "1": _node("RaxelCameraTrajectory", preset="keyframes", keyframes='[{"frame": 0}]'),
        "2": _node("RaxelTrajectoryPreview", trajectory=["1", 0]),
    })
    assert code == 400, body
    details = json.dumps(body["node_errors"])
    assert "keyframe" in details and "position" in details, details
    server.assert_healthy()


def test_cancel_stops_pose_estimation_and_the_server_goes_on(server, shared_file):
    clip = shared_file("re10k/videos/0bf152ef84195293_svdxt.mp4")
    shutil.copy(clip, server.input / "re10k_long.mp4")
    code, body = server.post_prompt(_pose_prompt("re10k_long.mp4"))
    assert code == 200, body
    prompt_id = body["prompt_id"]
    # Load Video is instant; estimation of 25 frames takes seconds: cancel while it runs.
    deadline = time.monotonic() + PROMPT_SECONDS
    while not server.get("/queue")["queue_running"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.0)
    server.interrupt()
    cancelled = time.monotonic()
    while not server.get(f"/history/{prompt_id}"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    print(f"\ncancel took effect after {time.monotonic() - cancelled:.1f} s")
    status = server.get(f"/history/{prompt_id}")[prompt_id]["status"]
    interrupted = [m[1] for m in status["messages"] if m[0] == "execution_interrupted"]
    assert interrupted and interrupted[0]["node_type"] == "RaxelPoseFromVideo", status
    server.assert_healthy()


def test_camera_embedding_runs_and_plugs_into_core_wan_node(server):
    info = server.object_info
    core = info["WanCameraImageToVideo"]["input"]["optional"]["camera_conditions"][0]
    assert info["RaxelCameraEmbedding"]["output"][0] == core == "WAN_CAMERA_EMBEDDING"
    entry = server.run_ok({
        "1": _node("RaxelCameraTrajectory", preset="pan_left", frames=9, width=64, height=48),
        "2": {"class_type": "RaxelCameraEmbedding",
              "inputs": {"trajectory": ["1", 0], "width": 64, "height": 48}},
        "3": {"class_type": "PreviewAny", "inputs": {"source": ["2", 4]}},
        "4": {"class_type": "PreviewAny", "inputs": {"source": ["2", 0]}},
    })
    assert entry["outputs"]["3"]["text"] == ["9"]
    assert entry["outputs"]["4"]["text"][0].startswith("tensor(")


def test_wan_embedding_of_a_wrong_length_fails_naming_4k_plus_1(server):
    error = server.run_error({
        "1": _node("RaxelCameraTrajectory", preset="pan_left", frames=10, width=64, height=48),
        "2": {"class_type": "RaxelCameraEmbedding",
              "inputs": {"trajectory": ["1", 0], "width": 64, "height": 48}},
        "3": {"class_type": "PreviewAny", "inputs": {"source": ["2", 4]}},
    })
    message = error["exception_message"]
    assert "4k+1" in message and "10" in message and "9 or 13" in message, message
    server.assert_healthy()
