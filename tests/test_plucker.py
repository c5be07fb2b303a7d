"""Plücker ray maps and the Wan camera embedding.

The parity test runs ComfyUI core's own ``WanCameraEmbedding`` node (``comfy_extras/
nodes_camera_trajectory.py``) in a subprocess: set ``RAXEL_COMFYUI_DIR`` to a ComfyUI checkout
with its requirements installed; ``RAXEL_COMFYUI_SHIMS`` optionally names a folder put first on
its ``PYTHONPATH`` (import shims for torchvision / torchaudio on a CPU-only torch).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import shared_data
import torch
from safetensors.torch import load_file

from raxel_core.cameras import Cameras
from raxel_core.geometry.rotations import project_to_rotation
from raxel_core.plucker import (
    WAN_BASE_ANGLE,
    WAN_BASE_T_NORM,
    WAN_CAMERA_PRESETS,
    plucker_maps,
    wan_camera_embedding,
    wan_intrinsics,
    wan_preset_cameras,
)
from raxel_core.raxels import encode_raxels


def _shared_data() -> Path:
    return shared_data.DATA


CLIP = _shared_data() / "re10k" / "poses" / "0bf152ef84195293_svdxt.txt"   # 25 frames = 4 * 6 + 1
needs_clip = pytest.mark.skipif(not CLIP.exists(), reason=f"{CLIP} not found (set RAXEL_SHARED_DATA)")
COMFYUI_DIR = os.environ.get("RAXEL_COMFYUI_DIR")
SHIMS = os.environ.get("RAXEL_COMFYUI_SHIMS")


def clip_cameras() -> Cameras:
    from raxel_core.formats import read_trajectory

    return read_trajectory(CLIP, format="realestate10k", image_size=(256, 416), source_aspect=16 / 9)


# ------------------------------------------------------------------ Plücker maps
@needs_clip
def test_plucker_maps_are_unit_directions_and_moments_of_lines_through_the_pixels():
    cams = clip_cameras()
    ref = 4
    pl = plucker_maps(cams, size=(32, 52), reference=ref)
    assert pl.shape == (len(cams), 32, 52, 6) and pl.dtype == torch.float64
    d, m = pl[..., :3], pl[..., 3:]
    assert float((torch.linalg.norm(d, dim=-1) - 1).abs().max()) < 1e-12
    assert float((d * m).sum(-1).abs().max()) < 1e-12                     # m . d = 0
    assert float(m[ref].abs().max()) == 0.0                                 # o = 0 at the reference
    # closed form: the back-projection of each pixel centre, in the reference frame, lies on (d, m)
    R = project_to_rotation(cams.R)
    grid = cams.with_image_size((32, 52))
    v, u = torch.meshgrid(torch.arange(32.0, dtype=torch.float64) + 0.5,
                          torch.arange(52.0, dtype=torch.float64) + 0.5, indexing="ij")
    pix = torch.stack([u, v, torch.ones_like(u)], -1)
    local = torch.einsum("nij,hwj->nhwi", torch.linalg.inv(grid.K), pix)   # K^-1 u~
    X = cams.centers[:, None, None, :] + 3.0 * torch.einsum("nji,nhwj->nhwi", R, local)
    X_ref = (X - cams.centers[ref]) @ R[ref].T
    assert torch.allclose(torch.linalg.cross(X_ref, d, dim=-1), m, atol=1e-9)   # X x d = m


@needs_clip
def test_plucker_directions_match_raxels():
    cams = clip_cameras()
    pl = plucker_maps(cams, size=(40, 64), reference=2)
    maps = encode_raxels(cams, size=(40, 64), reference=2)
    o = (cams.centers - cams.centers[2]) @ project_to_rotation(cams.R)[2].T
    assert torch.allclose(maps.rays - (o / maps.scale)[:, None, None, :], pl[..., :3], atol=1e-12)


# ------------------------------------------------------------------ Wan embedding layout
@needs_clip
def test_wan_embedding_packs_frames_as_core_does():
    cams = clip_cameras()
    width, height = 52, 32
    emb = wan_camera_embedding(cams, width, height)
    assert emb.shape == (1, 24, 7, height, width) and emb.dtype == torch.float32
    # closed form of the layout: channel 4c + j of latent t <- cat(m, d)[c] of frame max(0, 4t + j - 3),
    # poses relative to frame 0, full-size K
    pl = plucker_maps(cams, size=(height, width), reference=0)
    core_order = torch.cat([pl[..., 3:], pl[..., :3]], dim=-1)              # (o x d, d)
    for t in range(7):
        for j in range(4):
            frame = max(0, 4 * t + j - 3)
            for c in range(6):
                assert torch.allclose(emb[0, 4 * c + j, t].double(), core_order[frame, ..., c], atol=1e-6)


def test_wan_embedding_needs_4k_plus_1_frames():
    cams = wan_preset_cameras("Pan Left", length=8, width=32, height=16)
    with pytest.raises(ValueError, match="4k\\+1 frames.*5 or 9"):
        wan_camera_embedding(cams, 32, 16)


def test_wan_presets_and_intrinsics():
    static = wan_preset_cameras("Static", length=5, width=64, height=48)
    assert torch.allclose(static.R, torch.eye(3, dtype=torch.float64).expand(5, 3, 3))
    zoom = wan_preset_cameras("Zoom In", length=4, width=64, height=48, speed=2.0)
    # frame i centre = (i / n) speed 1.5 T with T = (0, 0, 2)
    assert torch.allclose(zoom.centers[:, 2], torch.tensor([0.0, 1.5, 3.0, 4.5], dtype=torch.float64))
    # 832x480 is narrower than 1280x720: core rescales fx by H * (16/9) / W
    K = wan_intrinsics(0.5, 0.5, 0.5, 0.5, 832, 480)
    assert float(K[0, 0]) == pytest.approx(0.5 * 480 * 1280 / 720)
    assert float(K[1, 1]) == pytest.approx(240.0)
    K = wan_intrinsics(0.5, 0.5, 0.5, 0.5, 1000, 400)                      # wider: fy rescaled
    assert float(K[0, 0]) == pytest.approx(500.0)
    assert float(K[1, 1]) == pytest.approx(0.5 * 1000 * 720 / 1280)
    with pytest.raises(ValueError, match="unknown Wan camera preset"):
        wan_preset_cameras("Orbit", 5)


# ------------------------------------------------------------------ parity with ComfyUI core
CASES = [
    # (preset, width, height, length, speed, fx, fy, cx, cy)
    *[(name, 64, 48, 9, 1.0, 0.5, 0.5, 0.5, 0.5) for name in WAN_CAMERA_PRESETS],
    ("Pan Right", 832, 480, 5, 1.0, 0.5, 0.5, 0.5, 0.5),       # core's default size
    ("ClockWise (CW)", 48, 80, 13, 2.5, 0.4, 0.6, 0.45, 0.55),  # portrait, off-centre
    ("Zoom Out", 96, 32, 1, 1.0, 0.5, 0.5, 0.5, 0.5),          # wider than 16:9 (fy branch), 1 frame
    ("Anti Clockwise (ACW)", 112, 64, 21, 0.7, 0.3, 0.35, 0.5, 0.5),
]

_CORE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    comfy_dir, out_dir, cases = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    sys.path.insert(0, comfy_dir)
    sys.argv = ["main.py", "--cpu"]
    import comfy.options
    comfy.options.enable_args_parsing()
    import comfy_extras.nodes_camera_trajectory as core
    from safetensors.torch import save_file
    tensors = {}
    for i, (name, width, height, length, speed, fx, fy, cx, cy) in enumerate(cases):
        out = core.WanCameraEmbedding.execute(name, width, height, length, speed, fx, fy, cx, cy)
        tensors[str(i)] = out.result[0].contiguous().cpu()
    save_file(tensors, out_dir + "/core.safetensors")
    presets = {k: v for k, v in core.CAMERA_DICT.items() if isinstance(v, dict)}
    json.dump({"presets": presets, "base_T_norm": core.CAMERA_DICT["base_T_norm"],
               "base_angle": core.CAMERA_DICT["base_angle"]}, open(out_dir + "/presets.json", "w"))
    """
)


@pytest.fixture(scope="module")
def core_outputs(tmp_path_factory):
    if not COMFYUI_DIR:
        pytest.skip("RAXEL_COMFYUI_DIR is not set: point it at a ComfyUI checkout (with its requirements) "
                    "to compare against core's WanCameraEmbedding")
    comfy = Path(COMFYUI_DIR)
    if not (comfy / "comfy_extras" / "nodes_camera_trajectory.py").exists():
        pytest.fail(f"RAXEL_COMFYUI_DIR={comfy} has no comfy_extras/nodes_camera_trajectory.py")
    out = tmp_path_factory.mktemp("core")
    env = dict(os.environ)
    if SHIMS:
        env["PYTHONPATH"] = os.pathsep.join([SHIMS, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.run(
        [sys.executable, "-c", _CORE_SCRIPT, str(comfy), str(out), json.dumps(CASES)],
        cwd=str(comfy), env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"running core's WanCameraEmbedding failed (set RAXEL_COMFYUI_SHIMS on a CPU-only "
                    f"torch?):\n{proc.stderr[-3000:]}")
    return load_file(str(out / "core.safetensors")), json.loads((out / "presets.json").read_text())


def test_presets_match_core(core_outputs):
    _, presets = core_outputs
    assert presets["base_T_norm"] == WAN_BASE_T_NORM
    assert presets["base_angle"] == pytest.approx(WAN_BASE_ANGLE, abs=0)
    assert set(presets["presets"]) == set(WAN_CAMERA_PRESETS)
    for name, p in presets["presets"].items():
        assert tuple(p["angle"]) == WAN_CAMERA_PRESETS[name]["angle"]
        assert tuple(p["T"]) == WAN_CAMERA_PRESETS[name]["T"]


@pytest.mark.parametrize("index", range(len(CASES)), ids=[f"{c[0]}-{c[1]}x{c[2]}-L{c[3]}" for c in CASES])
def test_wan_embedding_matches_core(core_outputs, index):
    tensors, _ = core_outputs
    name, width, height, length, speed, fx, fy, cx, cy = CASES[index]
    cams = wan_preset_cameras(name, length, width, height, speed, fx, fy, cx, cy)
    ours = wan_camera_embedding(cams, width, height)
    core = tensors[str(index)]
    assert ours.shape == core.shape and ours.dtype == core.dtype
    assert float((ours - core).abs().max()) <= 1e-5
    # core's channels per frame are (o x d, d): d unit and m = o x d with o the camera centre
    # relative to frame 0, which is what our Cameras say
    packed = core[0].reshape(6, 4, -1, height, width).double()             # (channel, j, t, H, W)
    m, d = packed[:3], packed[3:]
    assert float((torch.linalg.norm(d, dim=0) - 1).abs().max()) < 1e-5
    o = (cams.centers - cams.centers[0]) @ cams.R[0].T                      # (L, 3), frame 0's axes
    for t in range(packed.shape[2]):
        for j in range(4):
            frame = max(0, 4 * t + j - 3)
            expected = torch.linalg.cross(o[frame][:, None, None].expand_as(d[:, j, t]), d[:, j, t], dim=0)
            assert torch.allclose(m[:, j, t], expected, atol=1e-5)
