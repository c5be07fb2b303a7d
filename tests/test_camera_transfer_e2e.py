"""The artist's path in a real ComfyUI server (issue 13): the template "Copy a video's camera move onto a
new video" runs from a real video to a saved video, Load Camera Path finds saved and uploaded paths and
takes their own size, Fit Camera Path and the keyframe range check stop with errors naming the problem.

The template runs as shipped (``workflows/api/raxel_camera_transfer.json``) with small changes a test
needs: tiny random-weight model files (tests/wan_tiny_models.py, built with ComfyUI's own classes and
detected by its loaders as Wan 2.1 Fun Camera and the Wan 2.1 VAE), 5 frames of 32x32, 2 sampler steps,
and one stand-in: umt5-xxl, Wan's text encoder, has a fixed 5.7 B-parameter layout in ComfyUI
(``comfy/text_encoders/umt5_config_xxl.json``) that does not fit this machine even with random weights,
so its two nodes (CLIPLoader -> CLIPTextEncode) are replaced by a test node that returns a conditioning of
the same shape (tokens x 4096), seeded by the prompt text. Everything after it is core ComfyUI.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from comfyui_server import COMFYUI_DIR, ROOT, SHIMS, comfyui_skip_reason, start_comfyui
from comfyui_server import api_node as _node
from PIL import Image

pytestmark = pytest.mark.comfyui("run the camera-transfer template inside a real ComfyUI server")

RE10K_CLIP = "re10k/videos/0bf152ef84195293.mp4"
RE10K_POSES = "re10k/poses/0bf152ef84195293.txt"
TEMPLATE = ROOT / "workflows" / "api" / "raxel_camera_transfer.json"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A ComfyUI server with this pack and the text stand-in, and the tiny Wan model files in its
    ``models`` folders."""
    reason = comfyui_skip_reason("run the camera-transfer template")
    if reason:
        pytest.skip(reason)
    from wan_tiny_models import write_text_stand_in

    stand_in = write_text_stand_in(tmp_path_factory.mktemp("nodes"))
    with start_comfyui(tmp_path_factory.mktemp("comfyui"), COMFYUI_DIR, SHIMS,
                       extra_custom_nodes=(stand_in,)) as srv:
        built = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "wan_tiny_models.py"), str(Path(COMFYUI_DIR).resolve()),
             SHIMS or "", str(srv.base / "models")],
            cwd=str(Path(COMFYUI_DIR).resolve()), capture_output=True, text=True, timeout=900)
        assert "BUILT" in built.stdout, built.stdout[-2000:] + built.stderr[-3000:]
        yield srv


def _transfer_prompt(server, shared_file, scale: float = 1.0) -> dict:
    from wan_tiny_models import DIFFUSION_NAME, VAE_NAME

    from raxel_core.video_io import read_video_frames

    clip = shared_file(RE10K_CLIP)
    shutil.copy(clip, server.input / "camera_move.mp4")
    Image.fromarray(read_video_frames(clip, max_frames=1)[0]).save(server.input / "first_frame.png")
    prompt = json.loads(TEMPLATE.read_text())
    by_type = {entry["class_type"]: key for key, entry in prompt.items()}
    assert {"LoadVideo", "RaxelPoseFromVideo", "RaxelRetimeTrajectory", "RaxelCameraEmbedding",
            "WanCameraImageToVideo", "KSampler", "VAEDecode", "CreateVideo", "SaveVideo"} <= set(by_type)
    # the text encoder's two nodes -> the stand-in, fed the template's own prompts
    clip_loader = by_type["CLIPLoader"]
    for key, entry in list(prompt.items()):
        if entry["class_type"] == "CLIPTextEncode":
            assert entry["inputs"]["clip"] == [clip_loader, 0]
            prompt[key] = {"class_type": "RaxelTestTextConditioning",
                           "inputs": {"text": entry["inputs"]["text"], "tokens": 8}}
    del prompt[clip_loader]
    prompt[by_type["UNETLoader"]]["inputs"]["unet_name"] = DIFFUSION_NAME
    prompt[by_type["VAELoader"]]["inputs"]["vae_name"] = VAE_NAME
    prompt[by_type["RaxelRetimeTrajectory"]]["inputs"].update(frames=5, scale=scale)
    prompt[by_type["RaxelCameraEmbedding"]]["inputs"].update(width=32, height=32)
    prompt[by_type["KSampler"]]["inputs"].update(steps=2)
    prompt[by_type["SaveVideo"]]["inputs"]["filename_prefix"] = f"raxel/transfer_scale{scale:g}"
    return prompt


def _saved_video(server, entry: dict, node_id: str) -> tuple[np.ndarray, float]:
    import av

    item = entry["outputs"][node_id]["images"][0]
    path = server.output / item["subfolder"] / item["filename"]
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        return frames, float(stream.average_rate)


def test_camera_transfer_template_runs_from_a_video_to_a_saved_video(server, shared_file):
    """LoadVideo -> Camera Path From Video -> Fit (5 frames, 16 fps) -> Wan camera control -> core
    WanCameraImageToVideo -> KSampler (tiny Wan 2.1 Fun Camera) -> VAE Decode -> Create Video -> Save
    Video: a 5-frame 32x32 video at the fitted 16 fps; a bigger camera move changes the generation
    (the camera control reaches the model)."""
    prompt = _transfer_prompt(server, shared_file)
    save = next(k for k, e in prompt.items() if e["class_type"] == "SaveVideo")
    fit = next(k for k, e in prompt.items() if e["class_type"] == "RaxelRetimeTrajectory")
    entry = server.run_ok(prompt)
    frames, fps = _saved_video(server, entry, save)
    print(f"\nsaved {entry['outputs'][save]['images'][0]['filename']}: {frames.shape} at {fps:g} fps")
    assert frames.shape == (5, 32, 32, 3) and fps == 16.0
    assert entry["outputs"][fit]["text"][0].endswith("-> 5 frames at 16 fps")
    bigger = server.run_ok(_transfer_prompt(server, shared_file, scale=4.0))
    frames_bigger, _ = _saved_video(server, bigger, save)
    assert frames_bigger.shape == frames.shape
    assert np.abs(frames_bigger.astype(int) - frames.astype(int)).mean() > 0.5


def test_a_clip_too_short_for_the_fitted_length_is_an_error_naming_both_durations(server, shared_file):
    prompt = _transfer_prompt(server, shared_file)
    fit = next(k for k, e in prompt.items() if e["class_type"] == "RaxelRetimeTrajectory")
    prompt[fit]["inputs"]["frames"] = 81
    error = server.run_error(prompt)
    assert error["node_type"] == "RaxelRetimeTrajectory"
    assert "the source path lasts 1.88 s (16 frames at 8 fps)" in error["exception_message"]
    assert "use at most 29 frames" in error["exception_message"]
    server.assert_healthy()


def _upload(server, name: str, data: bytes, subfolder: str = "") -> dict:
    import urllib.request

    boundary = uuid.uuid4().hex
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{name}\"\r\n"
             "Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n"]
    for field, value in (("type", "input"), ("subfolder", subfolder), ("overwrite", "true")):
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n".encode())
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(server.url + "/upload/image", data=body,
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.load(r)


def _file_options(server) -> list[str]:
    spec = server.get("/object_info/RaxelLoadTrajectory")["RaxelLoadTrajectory"]["input"]["required"]["file"]
    return spec[1]["options"] if len(spec) > 1 and "options" in spec[1] else spec[0]


def test_load_camera_path_offers_a_just_saved_path_and_uses_its_own_size(server):
    from raxel_core.formats import read_trajectory

    saved = server.run_ok({
        "1": _node("RaxelCameraTrajectory", preset="arc", frames=9, width=384, height=256),
        "2": _node("RaxelSaveTrajectory", trajectory=["1", 0], filename_prefix="raxel/for_reload"),
    })
    item = saved["outputs"]["2"]["trajectory_files"][0]
    name = f"{item['subfolder']}/{item['filename']} [output]"
    assert name in _file_options(server)
    spec = server.get("/object_info/RaxelLoadTrajectory")["RaxelLoadTrajectory"]["input"]["required"]
    assert spec["width"][1]["default"] == 0 and spec["height"][1]["default"] == 0
    assert spec["file"][1].get("file_upload") is True      # marked as an upload widget for the canvas
    loaded = server.run_ok({
        "1": _node("RaxelLoadTrajectory", file=name, width=0, height=0),
        "2": _node("RaxelSaveTrajectory", trajectory=["1", 0], filename_prefix="raxel/reloaded"),
    })
    assert loaded["outputs"]["1"]["text"][0] == "9 cameras, 384 x 256 (the file's own size)"
    back = loaded["outputs"]["2"]["trajectory_files"][0]
    original = read_trajectory(server.output / item["subfolder"] / item["filename"])
    again = read_trajectory(server.output / back["subfolder"] / back["filename"])
    assert again.image_size == (256, 384) and float((again.w2c - original.w2c).abs().max()) < 1e-12
    # a size typed in resizes it (intrinsics scaled), and the message no longer says "own size"
    resized = server.run_ok({"1": _node("RaxelLoadTrajectory", file=name, width=768, height=512),
                             "2": _node("RaxelTrajectoryPreview", trajectory=["1", 0])})
    assert resized["outputs"]["1"]["text"][0] == "9 cameras, 768 x 512"


def test_an_uploaded_realestate10k_file_loads_with_the_assumed_size_said(server, shared_file):
    poses = shared_file(RE10K_POSES)
    answer = _upload(server, "uploaded_re10k.txt", poses.read_bytes(), subfolder="raxel_uploads")
    name = f"{answer['subfolder']}/{answer['name']}" if answer.get("subfolder") else answer["name"]
    assert name in _file_options(server)
    entry = server.run_ok({"1": _node("RaxelLoadTrajectory", file=name, width=0, height=0),
                           "2": _node("RaxelTrajectoryPreview", trajectory=["1", 0])})
    assert entry["outputs"]["1"]["text"][0] == ("16 cameras, 832 x 480 (the file has no size of its own: assumed; "
                                               "set width / height)")


@pytest.mark.parametrize("name, problem", [
    ("../escape.json [output]", "resolves outside ComfyUI's output folder"),
    ("anything.json [temp]", "input or output folder only"),
    ("missing_00001_.json [output]", "does not exist in ComfyUI's output folder"),
])
def test_load_camera_path_refuses_what_is_not_in_the_input_or_output_folder(server, name, problem):
    code, body = server.post_prompt({"1": _node("RaxelLoadTrajectory", file=name, width=0, height=0),
                                     "2": _node("RaxelTrajectoryPreview", trajectory=["1", 0])})
    assert code == 400, body
    assert problem in json.dumps(body["node_errors"]), body
    server.assert_healthy()


def test_a_keyframe_past_the_last_frame_is_refused_before_the_run(server):
    keys = ('[{"frame": 0, "position": [0, 0, 0], "look_at": [0, 0, 4]},'
            ' {"frame": 48, "position": [1, 0, 1], "look_at": [0, 0, 4]}]')
    code, body = server.post_prompt({
        "1": _node("RaxelCameraTrajectory", preset="keyframes", frames=25, keyframes=keys),
        "2": _node("RaxelTrajectoryPreview", trajectory=["1", 0])})
    assert code == 400, body
    text = json.dumps(body["node_errors"])
    assert "keyframe at frame 48 is outside the path's frames 0..24 (frames = 25)" in text, text
    assert server.run_ok({
        "1": _node("RaxelCameraTrajectory", preset="keyframes", frames=49, keyframes=keys),
        "2": _node("RaxelTrajectoryPreview", trajectory=["1", 0])})
