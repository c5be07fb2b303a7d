"""The joint-model nodes (nodes/model_nodes.py) inside a real ComfyUI server: Raxel Model Loader lists
the raxel model folder, each of the three joint-sampler templates runs and returns frames, raxel
images and cameras of the right shapes, and every bad input (lengths that differ, a frame size the
model cannot take, a corrupt / pickled / mismatched model file, a VAE or a text conditioning the
model cannot use) ends in an error naming the problem, after which the server serves the next prompt.

Needs a ComfyUI checkout with its requirements (``RAXEL_COMFYUI_DIR``; ``RAXEL_COMFYUI_SHIMS``
optional), exactly as tests/test_comfyui_e2e.py; the server fixture is tests/conftest.py's.
The template runs need the bundled model (``models/raxel-tiny-v1``) and are skipped without it;
everything else uses small random models this file writes into the server's ``models/raxel`` folder.
"""
from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from comfyui_server import PACK_NAME, ROOT
from comfyui_server import api_node as _node
from PIL import Image

pytestmark = pytest.mark.comfyui("run the joint-model nodes inside a real ComfyUI server")

#: The RealEstate10K clip, relative to the shared data folder (the ``shared_file`` fixture finds it).
RE10K_CLIP = "re10k/videos/0bf152ef84195293.mp4"

BUNDLED = ROOT / "models" / "raxel-tiny-v1" / "model.safetensors"
BUNDLED_NAME = "raxel-tiny-v1/model.safetensors"
TEMPLATES = ["raxel_joint_pose_from_video", "raxel_joint_camera_to_video", "raxel_joint_image_to_video_and_camera"]
#: Training size recorded for the tiny test model (state.json), (H, W).
TINY_SIZE = (32, 48)


def _tiny_config(**overrides):
    from raxel_core.model import JointModelConfig

    shapes = {"num_layers": 1, "num_attention_heads": 2, "attention_head_dim": 16, "ffn_dim": 64, "freq_dim": 32}
    return JointModelConfig.small(**{**shapes, **overrides})


def _save(config, folder: Path, seed: int = 0) -> Path:
    from raxel_core.model import JointTransformer

    torch.manual_seed(seed)
    return JointTransformer(config).save_pretrained(folder)


@pytest.fixture(scope="module")
def models(server) -> Path:
    """The server's raxel model folder with the test models (names relative to it):

    * ``tiny/``: random pixel model, training size 32x48 recorded in ``state.json``;
    * ``tiny_any/``: the same without ``state.json`` (any size the patch grid takes);
    * ``latent16/``: a 16-channel latent model; ``mismatch/``: weights of one config, config.json
      of another; ``corrupt.safetensors``: random bytes; ``old.ckpt``: a pickle-named file.
    """
    folder = server.base / "models" / "raxel"
    tiny = _save(_tiny_config(), folder / "tiny")
    (tiny / "state.json").write_text(json.dumps({"step": 1, "config": {"image_size": list(TINY_SIZE),
                                                                       "num_frames": 5}}))
    _save(_tiny_config(), folder / "tiny_any")
    _save(_tiny_config(in_channels=16, ray_in_channels=16), folder / "latent16")
    mismatch = _save(_tiny_config(), folder / "mismatch")
    (mismatch / "config.json").write_text(_tiny_config(num_layers=2).to_json())
    rng = np.random.default_rng(0)
    (folder / "corrupt.safetensors").write_bytes(rng.bytes(8192))
    (folder / "old.ckpt").write_bytes(rng.bytes(1024))
    return folder


@pytest.fixture(scope="module")
def inputs(server, shared_file) -> dict:
    """Input-folder files: the RealEstate10K clip (16 frames 384x256), its first frame, and that
    frame at the tiny model's 48x32."""
    clip = shared_file(RE10K_CLIP)
    from raxel_core.video_io import read_video_frames

    shutil.copy(clip, server.input / "re10k_clip.mp4")
    first = read_video_frames(clip, max_frames=1)[0]
    Image.fromarray(first).save(server.input / "raxel_source.png")
    small = np.asarray(Image.fromarray(first).resize((TINY_SIZE[1], TINY_SIZE[0]), Image.BILINEAR))
    Image.fromarray(small).save(server.input / "raxel_source_48x32.png")
    return {"clip": "re10k_clip.mp4", "image": "raxel_source.png", "small": "raxel_source_48x32.png",
            "small_pixels": small}


def _sampler(mode: str, **links) -> dict:
    inputs = {"mode": mode, "frames": 5, "steps_video": 2, "steps_rays": 2, "seed": 0}
    inputs.update(links)
    return {"class_type": "RaxelJointSampler", "inputs": inputs}


def _loader(name: str) -> dict:
    return {"class_type": "RaxelModelLoader", "inputs": {"model_name": name}}


def _trajectory(frames: int, width: int = TINY_SIZE[1], height: int = TINY_SIZE[0]) -> dict:
    return _node("RaxelCameraTrajectory", preset="dolly_in", frames=frames, magnitude=0.0, width=width,
                 height=height)


def _images(server, entry: dict, node_id: str) -> list[np.ndarray]:
    """The images a PreviewImage / SaveImage node wrote, as arrays."""
    out = []
    for item in entry["outputs"][node_id]["images"]:
        base = server.temp if item["type"] == "temp" else server.output
        out.append(np.asarray(Image.open(base / item["subfolder"] / item["filename"]).convert("RGB")))
    return out


def _saved_trajectory(server, entry: dict, node_id: str, image_size):
    from raxel_core.formats import read_trajectory

    files = entry["outputs"][node_id]["trajectory_files"]
    assert len(files) == 1, files
    return read_trajectory(server.output / files[0]["subfolder"] / files[0]["filename"])


# ------------------------------------------------------------------------------------------ loading
def test_model_nodes_load_with_docs_tooltips_and_the_model_list(server, models):
    info = server.get("/object_info/RaxelModelLoader")["RaxelModelLoader"]
    sampler = server.get("/object_info/RaxelJointSampler")["RaxelJointSampler"]
    for node in (info, sampler):
        assert node["category"] == "raxel/model" and len(node["description"]) > 40
        for group in ("required", "optional"):
            for name, spec in node["input"].get(group, {}).items():
                assert len(spec) > 1 and spec[1].get("tooltip"), f"{node['name']}.{name} has no tooltip"
        assert all(node["output_tooltips"])
        with urllib.request.urlopen(f"{server.url}/extensions/{PACK_NAME}/docs/{node['name']}.md", timeout=30) as r:
            assert r.status == 200 and r.read().decode().startswith("# ")
    options = info["input"]["required"]["model_name"][1]["options"]
    for name in ("tiny/model.safetensors", "latent16/model.safetensors", "corrupt.safetensors"):
        assert name in options, options
    assert "old.ckpt" not in options                         # pickles are never offered
    if BUNDLED.is_file():
        assert options[0] == BUNDLED_NAME and info["input"]["required"]["model_name"][1]["default"] == BUNDLED_NAME
    tooltip = sampler["input"]["required"]["mode"][1]["tooltip"]
    for label in ("video -> camera", "images + camera -> video", "image -> video + camera"):
        assert label in tooltip
    assert sampler["input"]["optional"]["video"][0] == "IMAGE,VIDEO"


def test_video_mode_with_a_small_model_gives_frames_raxels_and_the_trajectory(server, models, inputs):
    prompt = {
        "1": _loader("tiny/model.safetensors"),
        "2": {"class_type": "LoadImage", "inputs": {"image": inputs["small"]}},
        "3": _trajectory(5),
        "4": _sampler("video", model=["1", 0], images=["2", 0], trajectory=["3", 0]),
        "5": {"class_type": "PreviewImage", "inputs": {"images": ["4", 0]}},
        "6": {"class_type": "PreviewImage", "inputs": {"images": ["4", 1]}},
        "7": _node("RaxelSaveTrajectory", trajectory=["4", 2], filename_prefix="raxel/tiny_video"),
    }
    entry = server.run_ok(prompt)
    frames, raxels = _images(server, entry, "5"), _images(server, entry, "6")
    assert len(frames) == 5 and all(f.shape == (32, 48, 3) for f in frames)
    assert len(raxels) == 5 and all(r.shape == (16, 24, 3) for r in raxels)
    # the source image is frame 0 of the result, untouched (8-bit PNG round trip)
    assert np.abs(frames[0].astype(int) - inputs["small_pixels"].astype(int)).max() <= 1
    # video mode returns the trajectory it followed
    from raxel_core.authoring.trajectory_presets import make_preset

    cams = _saved_trajectory(server, entry, "7", TINY_SIZE)
    truth = make_preset("dolly_in", 5, image_size=TINY_SIZE, fov_y_deg=50.0, distance=4.0)
    assert len(cams) == 5 and cams.image_size == TINY_SIZE
    assert torch.allclose(cams.t, truth.t, atol=1e-6) and torch.allclose(cams.R, truth.R, atol=1e-6)


# ------------------------------------------------------------------------------------------ templates
@pytest.mark.parametrize("name", TEMPLATES)
def test_each_joint_template_runs_with_the_bundled_model(server, inputs, name):
    if not BUNDLED.is_file():
        pytest.skip(f"the bundled model {BUNDLED} is not installed (it is trained separately)")
    prompt = json.loads((ROOT / "workflows" / "api" / f"{name}.json").read_text())
    sampler = next(k for k, v in prompt.items() if v["class_type"] == "RaxelJointSampler")
    prompt[sampler]["inputs"]["steps_video"] = 4          # keep CI cheap; the template's 30 is for artists
    entry = server.run_ok(prompt)
    outputs = entry["outputs"]
    by_type = {v["class_type"]: k for k, v in prompt.items()}
    raxels = _images(server, entry, by_type["PreviewImage"])
    assert len(raxels) == 9 and all(r.shape == (16, 24, 3) for r in raxels)     # bundled model: 48x32 frames
    if "SaveAnimatedWEBP" in by_type:
        item = outputs[by_type["SaveAnimatedWEBP"]]["images"][0]
        with Image.open(server.output / item["subfolder"] / item["filename"]) as webp:
            assert webp.size == (48, 32) and webp.n_frames == 9
    if "RaxelSaveTrajectory" in by_type:
        cams = _saved_trajectory(server, entry, by_type["RaxelSaveTrajectory"], (32, 48))
        assert len(cams) == 9 and cams.image_size == (32, 48)
        assert float(cams.centers[0].norm()) < 1e-6          # relative to frame 0


# ------------------------------------------------------------------------------------------ bad inputs
def test_trajectory_and_video_of_different_lengths_fail_naming_both(server, models, inputs):
    prompt = {
        "1": _loader("tiny/model.safetensors"),
        "2": {"class_type": "LoadVideo", "inputs": {"file": inputs["clip"]}},
        "3": {"class_type": "GetVideoComponents", "inputs": {"video": ["2", 0]}},
        "4": {"class_type": "ImageScale", "inputs": {"image": ["3", 0], "upscale_method": "area", "width": 48,
                                                     "height": 32, "crop": "center"}},
        "5": _trajectory(5),
        "6": _sampler("video", model=["1", 0], video=["4", 0], trajectory=["5", 0]),
        "7": {"class_type": "PreviewImage", "inputs": {"images": ["6", 0]}},
    }
    error = server.run_error(prompt)
    assert "the trajectory has 5 frames but the video has 16" in error["exception_message"]
    server.assert_healthy()


@pytest.mark.parametrize("model, expected", [
    ("tiny/model.safetensors", ("the model takes 48x32 frames (width x height) but the video is 384x256; "
                                "resize with core Upscale Image")),
    ("tiny_any/model.safetensors", None),
])
def test_a_frame_size_the_model_cannot_take_fails_naming_the_size(server, models, inputs, model, expected):
    prompt = {
        "1": _loader(model),
        "2": {"class_type": "LoadVideo", "inputs": {"file": inputs["clip"]}},   # a core VIDEO, 384x256
        "3": _sampler("pose", model=["1", 0], video=["2", 0]),
        "4": {"class_type": "PreviewImage", "inputs": {"images": ["3", 1]}},
    }
    if model.startswith("tiny_any"):
        # 384x256 fits the patch grid, so give a size that does not: 70x50
        prompt["5"] = {"class_type": "GetVideoComponents", "inputs": {"video": ["2", 0]}}
        prompt["6"] = {"class_type": "ImageScale", "inputs": {"image": ["5", 0], "upscale_method": "area",
                                                              "width": 70, "height": 50, "crop": "disabled"}}
        prompt["3"]["inputs"]["video"] = ["6", 0]
        expected = ("the video is 70x50 (width x height) but this model takes widths that are multiples of 4 "
                    "and heights that are multiples of 4")
    error = server.run_error(prompt)
    assert expected in error["exception_message"], error["exception_message"]
    assert "Upscale Image" in error["exception_message"]
    server.assert_healthy()


@pytest.fixture(scope="module")
def huge_video(server) -> str:
    """A real video of 16 frames of 16000x16000 in the input folder (tests/bad_input_cases.py)."""
    from bad_input_cases import HUGE_VIDEO, write_huge_video

    if not (server.input / HUGE_VIDEO).is_file():
        write_huge_video(server.input / HUGE_VIDEO)
    return HUGE_VIDEO


@pytest.mark.parametrize("case, expected", [
    ("joint frames", "sampling 1024 frames of 2048x2048 needs about 1.0 TiB of memory, over the limit of "),
    ("pose video", "sampling 16 frames of 16000x16000 needs about 976.6 GiB of memory, over the limit of "),
    ("joint video", "decoding 16 frames of 16000x16000 from the video needs about 137.3 GiB of memory, over the "
                    "limit of "),
])
def test_frames_over_the_memory_limit_are_refused_before_allocating(server, models, huge_video, case, expected):
    # tiny_any takes any frame size its patch grid takes; the guards refuse before the frames are decoded
    # (the video) or the sampler allocates (1024 frames); the fix is named
    prompt = {"1": _loader("tiny_any/model.safetensors"),
              "4": {"class_type": "PreviewImage", "inputs": {"images": ["3", 0]}}}
    if case == "joint frames":
        prompt["2"] = {"class_type": "EmptyImage", "inputs": {"width": 2048, "height": 2048, "batch_size": 1,
                                                              "color": 0}}
        prompt["3"] = _sampler("joint", model=["1", 0], images=["2", 0], frames=1024)
        fix = "; give fewer frames ('frames' in joint mode, a shorter video or trajectory) at the size"
    else:
        prompt["2"] = {"class_type": "LoadVideo", "inputs": {"file": huge_video}}
        prompt["3"] = _sampler(case.split()[0], model=["1", 0], video=["2", 0])
        fix = "; give fewer frames" if case == "pose video" else "; give a shorter or smaller video (trim or scale"
    error = server.run_error(prompt)
    message = error["exception_message"]
    assert error["node_type"] == "RaxelJointSampler", error
    assert expected in message and fix in message and "\n" not in message.strip(), message
    server.assert_healthy()


def _pose_prompt(model_name: str, inputs: dict) -> dict:
    return {
        "1": _loader(model_name),
        "2": {"class_type": "LoadImage", "inputs": {"image": inputs["small"]}},
        "3": _sampler("joint", model=["1", 0], images=["2", 0]),
        "4": {"class_type": "PreviewImage", "inputs": {"images": ["3", 1]}},
    }


def test_a_corrupt_model_file_fails_naming_the_file(server, models, inputs):
    error = server.run_error(_pose_prompt("corrupt.safetensors", inputs))
    message = error["exception_message"]
    assert error["node_type"] == "RaxelModelLoader"
    assert "'corrupt.safetensors'" in message and "not a readable .safetensors file" in message, message
    server.assert_healthy()


def test_a_pickled_checkpoint_is_refused_before_running(server, models, inputs):
    code, body = server.post_prompt(_pose_prompt("old.ckpt", inputs))
    assert code == 400, body
    details = json.dumps(body["node_errors"])
    assert "refusing 'old.ckpt'" in details and "only .safetensors" in details, details
    server.assert_healthy()


def test_a_config_that_does_not_match_the_weights_fails_naming_the_parameter(server, models, inputs):
    error = server.run_error(_pose_prompt("mismatch/model.safetensors", inputs))
    message = error["exception_message"]
    assert "does not match the config" in message and "blocks.1" in message, message
    server.assert_healthy()


def test_a_vae_with_other_latent_channels_fails_naming_both_counts(server, models, inputs):
    # core's VAELoader "pixel_space" is a 3-channel pixel VAE (comfy/sd.py, latent_channels = 3)
    prompt = _pose_prompt("latent16/model.safetensors", inputs)
    prompt["5"] = {"class_type": "VAELoader", "inputs": {"vae_name": "pixel_space"}}
    prompt["3"]["inputs"]["vae"] = ["5", 0]
    error = server.run_error(prompt)
    assert "the VAE gives 3 latent channels but the model expects 16" in error["exception_message"]
    server.assert_healthy()


def test_a_vae_for_a_pixel_model_is_refused(server, models, inputs):
    prompt = _pose_prompt("tiny/model.safetensors", inputs)
    prompt["5"] = {"class_type": "VAELoader", "inputs": {"vae_name": "pixel_space"}}
    prompt["3"]["inputs"]["vae"] = ["5", 0]
    error = server.run_error(prompt)
    assert "works on pixels directly" in error["exception_message"] and "disconnect 'vae'" in error["exception_message"]
    server.assert_healthy()


def test_text_conditioning_for_a_model_without_text_attention_is_refused(server, models, inputs):
    # core's LotusConditioning builds a CONDITIONING without any model file
    prompt = _pose_prompt("tiny/model.safetensors", inputs)
    prompt["5"] = {"class_type": "LotusConditioning", "inputs": {}}
    prompt["3"]["inputs"]["conditioning"] = ["5", 0]
    error = server.run_error(prompt)
    assert "has no text cross-attention" in error["exception_message"]
    assert "disconnect 'conditioning'" in error["exception_message"]
    server.assert_healthy()


def test_a_mode_without_its_input_fails_naming_the_input(server, models, inputs):
    prompt = _pose_prompt("tiny/model.safetensors", inputs)
    prompt["3"] = _sampler("video", model=["1", 0], images=["2", 0])
    error = server.run_error(prompt)
    assert "needs the camera path: connect 'trajectory'" in error["exception_message"]
    server.assert_healthy()


def test_cancel_stops_the_sampler_and_the_server_goes_on(server, models, inputs):
    import time

    prompt = {
        "1": _loader("tiny/model.safetensors"),
        "2": {"class_type": "LoadImage", "inputs": {"image": inputs["small"]}},
        "3": _trajectory(5),
        "4": _sampler("video", model=["1", 0], images=["2", 0], trajectory=["3", 0]),
        "5": {"class_type": "PreviewImage", "inputs": {"images": ["4", 0]}},
    }
    prompt["4"]["inputs"]["steps_video"] = 1000          # far longer than the wait below
    code, body = server.post_prompt(prompt)
    assert code == 200, body
    prompt_id = body["prompt_id"]
    deadline = time.monotonic() + 300
    while not server.get("/queue")["queue_running"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.0)
    server.interrupt()
    while not server.get(f"/history/{prompt_id}"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    status = server.get(f"/history/{prompt_id}")[prompt_id]["status"]
    interrupted = [m[1] for m in status["messages"] if m[0] == "execution_interrupted"]
    assert interrupted and interrupted[0]["node_type"] == "RaxelJointSampler", status
    server.assert_healthy()


# ------------------------------------------------------------------------------------------ latent models
#: Frame size of the latent test model: Wan 2.1 VAE (8x) latents 8x12 in (1, 2, 2) patches, raxels
#: 32x48 -> latents 4x6 in (1, 2, 2) patches: pixel-aligned (one ray token per 2x2 video tokens).
LATENT_SIZE = (64, 96)
WAN_VAE_NAME = "raxel_test_wan21_random.safetensors"
#: Written by ComfyUI's own Wan 2.1 VAE class (comfy.ldm.wan.vae.WanVAE, the configuration comfy/sd.py
#: builds for a Wan 2.1 VAE file), random weights in bfloat16; runs in the server's environment.
_WRITE_WAN_VAE = """
import sys, torch
from safetensors.torch import save_file
from comfy.cli_args import args
args.cpu = True                                  # as the test server runs (--cpu)
import comfy.ldm.wan.vae as wan
torch.manual_seed(0)
vae = wan.WanVAE(dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                 temperal_downsample=[False, True, True], dropout=0.0)
save_file({k: v.to(torch.bfloat16).contiguous() for k, v in vae.state_dict().items()}, sys.argv[1])
"""


@pytest.fixture(scope="module")
def latent_model(server, models) -> str:
    """A Wan 2.1 VAE (random weights, ComfyUI's own layout) in the server's ``models/vae`` and a
    16-channel latent joint model for it (4x temporal compression) in ``models/raxel``."""
    import subprocess
    import sys

    from comfyui_server import COMFYUI_DIR, SHIMS, server_environment

    vae_dir = server.base / "models" / "vae"
    vae_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-c", _WRITE_WAN_VAE, str(vae_dir / WAN_VAE_NAME)], cwd=COMFYUI_DIR,
                   env=server_environment(SHIMS), check=True, timeout=300)
    _save(_tiny_config(in_channels=16, ray_in_channels=16, patch_size=(1, 2, 2), video_temporal_compression=4),
          models / "wan_latent")
    return "wan_latent/model.safetensors"


def _latent_prompt(model_name: str, inputs: dict, frames: int = 5, vae: str = WAN_VAE_NAME) -> dict:
    return {
        "1": _loader(model_name),
        "2": {"class_type": "LoadImage", "inputs": {"image": inputs["image"]}},
        "3": {"class_type": "ImageScale", "inputs": {"image": ["2", 0], "upscale_method": "area",
                                                     "width": LATENT_SIZE[1], "height": LATENT_SIZE[0],
                                                     "crop": "center"}},
        "4": _trajectory(frames, width=LATENT_SIZE[1], height=LATENT_SIZE[0]),
        "5": {"class_type": "VAELoader", "inputs": {"vae_name": vae}},
        "6": _sampler("video", model=["1", 0], images=["3", 0], trajectory=["4", 0], vae=["5", 0]),
        "7": {"class_type": "PreviewImage", "inputs": {"images": ["6", 0]}},
        "8": {"class_type": "PreviewImage", "inputs": {"images": ["6", 1]}},
    }


def test_a_latent_model_samples_through_comfyuis_wan_vae(server, latent_model, inputs):
    """Video mode through core Load VAE's Wan 2.1 VAE: the source image and the raxel images are
    encoded (raxels one by one), 2 latent frames are denoised for 5 frames, and the result decoded."""
    entry = server.run_ok(_latent_prompt(latent_model, inputs))
    frames, raxels = _images(server, entry, "7"), _images(server, entry, "8")
    assert len(frames) == 5 and all(f.shape == (*LATENT_SIZE, 3) for f in frames)
    assert len(raxels) == 5 and all(r.shape == (LATENT_SIZE[0] // 2, LATENT_SIZE[1] // 2, 3) for r in raxels)
    assert any(np.abs(f.astype(int) - frames[0].astype(int)).mean() > 1 for f in frames[1:])  # generated, not copies
    server.assert_healthy()


def test_latent_model_inputs_it_cannot_take_fail_naming_the_fix(server, latent_model, inputs):
    error = server.run_error(_latent_prompt(latent_model, inputs, frames=6))
    assert "6 frames do not fill whole latent frames" in error["exception_message"]
    assert "e.g. 5 or 9" in error["exception_message"]
    prompt = _latent_prompt(latent_model, inputs)
    del prompt["6"]["inputs"]["vae"], prompt["5"]
    error = server.run_error(prompt)
    assert "works on 16-channel VAE latents: connect the VAE" in error["exception_message"]
    prompt = _latent_prompt("latent16/model.safetensors", inputs)       # 16 channels but no temporal compression
    error = server.run_error(prompt)
    assert "compresses time 4x but the model was built for 1x" in error["exception_message"]
    server.assert_healthy()
