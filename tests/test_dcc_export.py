"""Export to 3D tools: Blender camera keys checked against the OpenCV cameras they come from
(directions, positions and projected pixels, by Blender's own camera model), the generated script
is valid Python with one key per frame, and nerfstudio camera_path.json round-trips on real
RealEstate10K trajectories."""
import json
import math
import re
from dataclasses import replace

import pytest
import shared_data
import torch

from raxel_core.cameras import Cameras
from raxel_core.dcc_export import (
    BLENDER_SENSOR_WIDTH_MM,
    OPENCV_TO_BLENDER_WORLD,
    blender_camera_keys,
    export_blender_script,
    export_nerfstudio_camera_path,
    read_nerfstudio_camera_path,
)
from raxel_core.formats import read_trajectory

DATA = shared_data.DATA
RE10K = DATA / "re10k"
POSES = sorted((RE10K / "poses").glob("*.txt")) if (RE10K / "poses").is_dir() else []
needs_data = pytest.mark.skipif(not POSES, reason=f"RealEstate10K data not found at {RE10K}")
IMAGE_SIZE = (256, 384)


def _re10k(path, image_size=IMAGE_SIZE):
    return read_trajectory(path, image_size=image_size, source_aspect=16 / 9)


def _quat_to_matrix(q):
    w, x, y, z = q
    return torch.tensor([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ], dtype=torch.float64)


def test_world_mapping_is_a_rotation_with_opencv_up_to_blender_z():
    W = OPENCV_TO_BLENDER_WORLD
    assert torch.allclose(W @ W.T, torch.eye(3, dtype=torch.float64)) and float(torch.linalg.det(W)) == 1.0
    assert torch.equal(W @ torch.tensor([0.0, -1.0, 0.0], dtype=torch.float64),
                       torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))
    assert torch.equal(W @ torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64),
                       torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64))


@needs_data
@pytest.mark.parametrize("path", POSES[::2], ids=lambda p: p.stem)
def test_blender_keys_match_the_opencv_cameras(path):
    cams = _re10k(path)
    keys = blender_camera_keys(cams)
    assert [k["frame"] for k in keys] == list(range(1, len(cams) + 1))
    W = OPENCV_TO_BLENDER_WORLD
    h, w = cams.image_size
    gen = torch.Generator().manual_seed(0)
    for k, key in enumerate(keys):
        M = torch.tensor(key["matrix_world"], dtype=torch.float64)
        # Blender camera looks down local -Z with local +Y up: those map to the OpenCV optical axis
        # (R^T [0, 0, 1]) and image up (R^T [0, -1, 0]) after the world mapping
        forward = M[:3, :3] @ torch.tensor([0.0, 0.0, -1.0], dtype=torch.float64)
        up = M[:3, :3] @ torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
        assert torch.allclose(forward, W @ cams.R[k, 2], atol=1e-12)
        assert torch.allclose(up, -(W @ cams.R[k, 1]), atol=1e-12)
        assert torch.allclose(M[:3, 3], W @ cams.centers[k], atol=1e-12)
        assert torch.allclose(torch.tensor(key["location"], dtype=torch.float64), M[:3, 3])
        q = key["rotation_quaternion"]
        assert abs(math.hypot(*q) - 1) < 1e-12
        # RealEstate10K rotations are orthonormal to ~1e-7 (printed digits); a quaternion is exact
        assert torch.allclose(_quat_to_matrix(q), M[:3, :3], atol=1e-6)
        if k:
            # sign-continuous
            assert sum(a * b for a, b in zip(q, keys[k - 1]["rotation_quaternion"], strict=False)) > 0
        # Blender's camera model (sensor fit horizontal; shifts in units of the image width) projects
        # world points to the same pixels as K [R | t]
        X = cams.centers[k] + (torch.rand(20, 3, generator=gen, dtype=torch.float64) - 0.5) * 2
        X = X + 3.0 * cams.R[k, 2]  # in front of the camera
        x = (cams.K[k] @ (cams.R[k] @ X.T + cams.t[k][:, None])).T
        uv = x[:, :2] / x[:, 2:]
        p = (M[:3, :3].T @ ((W @ X.T) - M[:3, 3:4])).T  # Blender camera-local coordinates
        f_px = key["lens"] / BLENDER_SENSOR_WIDTH_MM * w
        u = w / 2 + f_px * p[:, 0] / -p[:, 2] - key["shift_x"] * w
        v = h / 2 - f_px * p[:, 1] / -p[:, 2] + key["shift_y"] * w
        assert torch.allclose(u, uv[:, 0], atol=0.05) and torch.allclose(v, uv[:, 1], atol=0.05)  # fx vs fy: <0.01 %


@needs_data
def test_blender_script_is_python_with_one_key_per_frame(tmp_path):
    cams = _re10k(POSES[1])
    out = export_blender_script(cams, tmp_path / "camera.py", name="Shot 1", fps=23.976)
    text = out.read_text()
    compile(text, str(out), "exec")
    assert ("import bpy" in text and "scene.render.resolution_x = 384" in text
            and "scene.render.resolution_y = 256" in text)
    assert "scene.render.fps = 24" in text and f"scene.render.fps_base = {24 / 23.976!r}" in text
    assert f"scene.frame_end = {len(cams)}" in text and "'Shot 1'" in text
    calls = re.findall(r"^key\((\d+), \(([^)]*)\), \(([^)]*)\), ([^,]+), ([^,]+), ([^,)]+)\)$", text, re.M)
    assert [int(c[0]) for c in calls] == list(range(1, len(cams) + 1))
    keys = blender_camera_keys(cams)
    for call, key in zip(calls, keys, strict=False):
        assert [float(v) for v in call[1].split(", ")] == key["location"]
        assert [float(v) for v in call[2].split(", ")] == key["rotation_quaternion"]
        assert float(call[3]) == key["lens"] and float(call[4]) == key["shift_x"] and float(call[5]) == key["shift_y"]
    assert not list(tmp_path.glob(".*"))  # atomic write left no temporary (hidden .NAME.<hex>.partial) file


def test_blender_rejects_non_square_pixels_and_bad_arguments(tmp_path):
    K = Cameras.intrinsics_matrix([300.0], [200.0], [192.0], [128.0])
    cams = Cameras(K=K, R=torch.eye(3)[None], t=torch.zeros(1, 3), image_size=IMAGE_SIZE)
    with pytest.raises(ValueError, match="frame 0 has fx = 300.000 and fy = 200.000"):
        blender_camera_keys(cams)
    good = replace(cams, K=Cameras.intrinsics_matrix([300.0], [300.0], [192.0], [128.0]))
    with pytest.raises(ValueError, match="fps must be a positive number"):
        export_blender_script(good, tmp_path / "a.py", fps=0)
    with pytest.raises(ValueError, match="does not exist"):
        export_blender_script(good, tmp_path / "missing" / "a.py")


@needs_data
@pytest.mark.parametrize("path", POSES, ids=lambda p: p.stem)
def test_nerfstudio_camera_path_round_trip(path, tmp_path):
    cams = _re10k(path)
    out = export_nerfstudio_camera_path(cams, tmp_path / "camera_path.json", fps=8)
    data = json.loads(out.read_text())
    assert data["camera_type"] == "perspective"
    assert (data["render_height"], data["render_width"]) == IMAGE_SIZE
    assert data["fps"] == 8 and math.isclose(data["seconds"], len(cams) / 8)
    assert len(data["camera_path"]) == len(data["keyframes"]) == len(cams)
    h, w = IMAGE_SIZE
    for k, entry in enumerate(data["camera_path"]):
        assert len(entry["camera_to_world"]) == 16
        assert math.isclose(entry["fov"], math.degrees(2 * math.atan(h / 2 / float(cams.fy[k]))), rel_tol=1e-12)
        assert math.isclose(entry["aspect"], w / h)
        # row-major OpenGL c2w: the last row is (0, 0, 0, 1), column 3 the camera centre
        m = torch.tensor(entry["camera_to_world"], dtype=torch.float64).reshape(4, 4)
        assert torch.equal(m[3], torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64))
        assert torch.allclose(m[:3, 3], cams.centers[k], atol=1e-12)
        assert torch.allclose(m[:3, 2], -cams.R[k, 2], atol=1e-12)  # OpenGL looks along -z
    back = read_nerfstudio_camera_path(out)
    assert back.fps == 8 and back.image_size == IMAGE_SIZE
    assert torch.allclose(back.R, cams.R, atol=1e-6, rtol=0) and torch.allclose(back.t, cams.t, atol=1e-6, rtol=0)
    assert torch.allclose(back.fy, cams.fy, atol=1e-9, rtol=0)
    assert torch.allclose(back.fx, cams.fx, rtol=1e-3)  # nerfstudio has square pixels: fx = fy
    assert (torch.allclose(back.cx, torch.full_like(back.cx, w / 2))
            and torch.allclose(back.cy, torch.full_like(back.cy, h / 2)))


@needs_data
def test_nerfstudio_timing_and_errors(tmp_path):
    cams = _re10k(POSES[0])
    n = len(cams)
    data = json.loads(export_nerfstudio_camera_path(cams, tmp_path / "a.json", seconds=2.0).read_text())
    assert math.isclose(data["fps"], n / 2.0) and data["seconds"] == 2.0
    data = json.loads(export_nerfstudio_camera_path(replace(cams, fps=12.0), tmp_path / "b.json").read_text())
    assert data["fps"] == 12.0
    with pytest.raises(ValueError, match=f"but the trajectory has {n}"):
        export_nerfstudio_camera_path(cams, tmp_path / "c.json", fps=8, seconds=10)
    K = cams.K.clone()
    K[3, 0, 2] += 20.0
    with pytest.raises(ValueError, match="frame 3 has \\(cx, cy\\)"):
        export_nerfstudio_camera_path(replace(cams, K=K), tmp_path / "d.json")
    assert not (tmp_path / "d.json").exists()
    bad = json.loads((tmp_path / "a.json").read_text())
    bad["camera_type"] = "fisheye"
    (tmp_path / "e.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="e.json: camera_type 'fisheye'"):
        read_nerfstudio_camera_path(tmp_path / "e.json")
    bad["camera_type"] = "perspective"
    bad["camera_path"][2]["camera_to_world"] = [1.0] * 12
    (tmp_path / "f.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="entry 2 camera_to_world must be 16 numbers"):
        read_nerfstudio_camera_path(tmp_path / "f.json")
