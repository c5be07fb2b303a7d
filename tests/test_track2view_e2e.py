"""Track2View in a real ComfyUI server: Warp A Video To A New Camera's RAXEL_TRACK_CONDITION drives the joint
sampler of a model with a track conditioner, which returns the target view (frames, raxels, the target
cameras); every condition the model cannot take ends in an error naming the fix, and the server goes on.

Needs ``RAXEL_COMFYUI_DIR`` (tests/test_comfyui_e2e.py explains); the server fixture is tests/conftest.py's.
The models are small random ones this file writes into the server's ``models/raxel`` folder.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from comfyui_server import api_node as _node
from PIL import Image

pytestmark = pytest.mark.comfyui("run the joint sampler with a track condition inside a real ComfyUI server")

SIZE = (32, 48)      # (H, W) the test models record as their training size
FRAMES = 5
TRACKS = [(8.0, 8.0), (24.0, 16.0), (40.0, 24.0), (12.0, 28.0)]


def _config(track_layers: int):
    from raxel_core.model import JointModelConfig

    return JointModelConfig.small(num_layers=1, num_attention_heads=2, attention_head_dim=16, ffn_dim=64,
                                  freq_dim=32, track_conditioner_layers=track_layers, track_fourier_bands=4)


@pytest.fixture(scope="module")
def setup(server) -> dict:
    from raxel_core.model import JointTransformer

    folder = server.base / "models" / "raxel"
    for name, layers in (("t2v", 1), ("plain", 0)):
        torch.manual_seed(0)
        JointTransformer(_config(layers)).save_pretrained(folder / name)
        (folder / name / "state.json").write_text(json.dumps({"step": 1, "config": {"image_size": list(SIZE),
                                                                                     "num_frames": FRAMES}}))
    rng = np.random.default_rng(0)
    for h, w in (SIZE, (64, 96)):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(server.input / f"t2v_src_{w}.png")
        Image.fromarray(np.full((h, w, 3), 128, np.uint8)).save(server.input / f"t2v_depth_{w}.png")
    return {"server": server, "folder": folder}


def _prompt(model: str = "t2v/model.safetensors", width: int = SIZE[1], tracks: bool = True, **sampler) -> dict:
    height = width * 2 // 3
    scale = width / SIZE[1]
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": f"t2v_src_{width}.png"}},
        "2": {"class_type": "RepeatImageBatch", "inputs": {"image": ["1", 0], "amount": FRAMES}},
        "3": {"class_type": "LoadImage", "inputs": {"image": f"t2v_depth_{width}.png"}},
        "4": {"class_type": "RepeatImageBatch", "inputs": {"image": ["3", 0], "amount": FRAMES}},
        "5": _node("RaxelCameraTrajectory", preset="dolly_in", frames=FRAMES, magnitude=0.0, width=width,
                   height=height),
        "7": _node("RaxelTrack2ViewCondition", images=["2", 0], trajectory=["5", 0], target="orbit_left",
                   angle_deg=10.0, dolly_fraction=0.25, depth=["4", 0], depth_form="exact", depth_range=6.0),
        "8": {"class_type": "RaxelModelLoader", "inputs": {"model_name": model}},
        "9": {"class_type": "RaxelJointSampler",
              "inputs": {"model": ["8", 0], "mode": "video", "frames": FRAMES, "steps_video": 2, "steps_rays": 2,
                         "seed": 0, "track_condition": ["7", 6], **sampler}},
        "10": {"class_type": "PreviewImage", "inputs": {"images": ["9", 0]}},
        "11": _node("RaxelSaveTrajectory", trajectory=["9", 2], filename_prefix="raxel/t2v_target"),
        "12": _node("RaxelSaveTrajectory", trajectory=["7", 7], filename_prefix="raxel/t2v_condition_target"),
    }
    if tracks:
        track_json = [[{"x": x * scale, "y": y * scale} for _ in range(FRAMES)] for x, y in TRACKS]
        prompt["6"] = {"class_type": "RaxelTracksFromJSON", "inputs": {"tracks_json": json.dumps(track_json)}}
        prompt["7"]["inputs"]["tracks"] = ["6", 0]
    return prompt


def _trajectory(server, entry: dict, node: str):
    from raxel_core.formats import read_trajectory

    files = entry["outputs"][node]["trajectory_files"]
    return read_trajectory(Path(server.output) / files[0]["subfolder"] / files[0]["filename"])


def test_the_sampler_renders_the_target_view_from_the_track_condition(setup):
    server = setup["server"]
    entry = server.run_ok(_prompt())
    images = entry["outputs"]["10"]["images"]
    assert len(images) == FRAMES
    for item in images:
        with Image.open(server.temp / item["subfolder"] / item["filename"]) as image:
            assert image.size == (SIZE[1], SIZE[0])
    target = _trajectory(server, entry, "11")
    condition_target = _trajectory(server, entry, "12")
    assert len(target) == FRAMES and target.image_size == SIZE
    assert torch.allclose(target.R, condition_target.R, atol=1e-6)
    assert torch.allclose(target.t, condition_target.t, atol=1e-6)
    assert not torch.allclose(target.t[-1], target.t[0], atol=1e-3)       # the orbit moved: not the source path
    assert "track2view" in entry["outputs"]["9"]["text"][0]


@pytest.mark.parametrize("case, match", [
    ("plain_model", "has no track conditioner"),
    ("no_tracks", "connect source tracks"),
    ("pose_mode", "set mode to video"),
    ("images_too", "disconnect 'images'"),
    ("other_size", "the model takes 48x32 frames"),
])
def test_conditions_the_model_cannot_take_fail_naming_the_fix(setup, case, match):
    server = setup["server"]
    if case == "plain_model":
        prompt = _prompt(model="plain/model.safetensors")
    elif case == "no_tracks":
        prompt = _prompt(tracks=False)
    elif case == "pose_mode":
        prompt = _prompt(mode="pose")
    elif case == "images_too":
        prompt = _prompt(images=["2", 0])
    else:
        prompt = _prompt(width=96)
    error = server.run_error(prompt)
    assert error["node_type"] == "RaxelJointSampler", error
    message = error["exception_message"]
    assert match in message and "\n" not in message.strip(), message
    server.assert_healthy()
