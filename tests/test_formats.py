"""Trajectory file formats: every real pose file round-trips through every writer and reader,
LLFF / RealEstate10K conventions are checked against the real data, and bad files raise errors
that name the file and the frame or line."""
import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest
import shared_data
import torch

from raxel_core.cameras import Cameras
from raxel_core.formats import (
    FORMATS,
    detect_format,
    read_colmap,
    read_llff,
    read_realestate10k,
    read_trajectory,
    write_trajectory,
)
from raxel_core.geometry.rotations import project_to_rotation

DATA = shared_data.DATA
RE10K = DATA / "re10k"
MOTIONCTRL = DATA / "trajectories" / "motionctrl"
FERN = DATA / "llff_fern"

RE10K_POSES = sorted((RE10K / "poses").glob("*.txt")) if (RE10K / "poses").is_dir() else []
MOTIONCTRL_FILES = sorted(MOTIONCTRL.glob("*/*.json")) if MOTIONCTRL.is_dir() else []
NO_DATA = pytest.param(None, marks=pytest.mark.skip(reason=f"shared data not found at {DATA}"))

#: Writers and where each writes in a test folder.
TARGETS = {
    "raxel": "trajectory.json",
    "realestate10k": "trajectory.txt",
    "motionctrl": "motionctrl.json",
    "nerfstudio": "transforms.json",
    "colmap": "colmap_model",
}


def clip_size(pose_file: Path) -> tuple[int, int]:
    """(H, W) of the clip a RealEstate10K pose file belongs to (data/README.md)."""
    return (320, 576) if pose_file.stem.endswith(("_svd", "_svdxt")) else (256, 384)


def read_source(path: Path) -> Cameras:
    if path.suffix == ".txt":
        return read_realestate10k(path, image_size=clip_size(path), source_aspect=16 / 9)
    return read_trajectory(path)


def reader_options(fmt: str, cameras: Cameras) -> dict:
    """What the reader of ``fmt`` needs to be told (the formats that do not store it)."""
    if fmt == "realestate10k":
        meta = cameras.metadata.get("realestate10k", {})
        aspect = meta.get("source_aspect", cameras.image_size[1] / cameras.image_size[0])
        return {"image_size": cameras.image_size, "source_aspect": aspect}
    if fmt == "motionctrl":
        # MotionCtrl stores no intrinsics: give back the size and the vertical fov of K.
        fov = math.degrees(2 * math.atan(cameras.image_size[0] / (2 * float(cameras.fy[0]))))
        return {"image_size": cameras.image_size, "fov_y_deg": fov}
    return {}


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.to(torch.float64) - b.to(torch.float64)).abs().max())


@pytest.mark.parametrize("fmt", list(TARGETS))
@pytest.mark.parametrize(
    "source", [pytest.param(p, id=p.name) for p in RE10K_POSES + MOTIONCTRL_FILES] or [NO_DATA]
)
def test_real_pose_files_round_trip_through_every_format(source, fmt, tmp_path):
    cameras = read_source(source)
    if fmt == "motionctrl":
        # the format's K is rebuilt from (image size, fov): only a centred square-pixel K survives
        assert torch.allclose(cameras.fx, cameras.fy, rtol=1e-6)
        assert torch.allclose(cameras.cx, torch.full_like(cameras.cx, cameras.image_size[1] / 2))
    target = tmp_path / TARGETS[fmt]
    written = write_trajectory(cameras, target, format="motionctrl" if fmt == "motionctrl" else None)
    assert Path(written) == target
    assert detect_format(target) == fmt
    back = read_trajectory(target, **reader_options(fmt, cameras))
    assert len(back) == len(cameras)
    assert back.image_size == cameras.image_size
    assert max_diff(back.R, cameras.R) < 1e-6
    assert max_diff(back.t, cameras.t) < 1e-6
    if fmt == "motionctrl":
        # K is rebuilt as square-pixel from fy; RealEstate10K's 9-digit fx_n, fy_n are square only
        # to ~2e-8 relative (4.6e-6 px), so compare relative to the focal length
        assert max_diff(back.K, cameras.K) < 1e-7 * float(cameras.fy.max())
        assert max_diff(back.fy, cameras.fy) < 1e-6
    else:
        assert max_diff(back.K, cameras.K) < 1e-6
    # no temporary files left beside the output
    leftovers = [p.name for p in tmp_path.rglob("*") if p.name.startswith(".")]
    assert leftovers == []


@pytest.mark.parametrize("source", [pytest.param(p, id=p.name) for p in RE10K_POSES] or [NO_DATA])
def test_realestate10k_rewrite_reproduces_the_file(source, tmp_path):
    # through the raxel JSON (metadata) and back to RealEstate10K text: URL, timestamps and every
    # number of the original file come back
    cameras = read_source(source)
    write_trajectory(cameras, tmp_path / "via.json")
    write_trajectory(read_trajectory(tmp_path / "via.json"), tmp_path / "again.txt")
    original = source.read_text().splitlines()
    again = (tmp_path / "again.txt").read_text().splitlines()
    assert again[0] == original[0]
    assert len(again) == len(original)
    for a, b in zip(original[1:], again[1:], strict=False):
        x, y = a.split(), b.split()
        assert x[0] == y[0]  # timestamp, microseconds
        assert np.allclose(np.array(x[1:], float), np.array(y[1:], float), rtol=0, atol=1e-9)


@pytest.mark.parametrize("clip", [pytest.param(p, id=p.name) for p in RE10K_POSES] or [NO_DATA])
def test_realestate10k_pixel_intrinsics_on_real_clips(clip):
    av = pytest.importorskip("av")
    video = RE10K / "videos" / f"{clip.stem}.mp4"
    if not video.is_file():
        pytest.skip(f"{video} not found")
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        size = (stream.codec_context.height, stream.codec_context.width)
    cameras = read_realestate10k(clip, image_size=size, source_aspect=16 / 9)
    h, w = size
    assert torch.allclose(cameras.cx, torch.full_like(cameras.cx, w / 2), atol=0.01 * w)
    assert torch.allclose(cameras.cy, torch.full_like(cameras.cy, h / 2), atol=0.01 * h)
    assert (cameras.fx > 0).all() and (cameras.fy > 0).all()
    # the 16:9 source had square pixels: with the crop geometry right, the cropped clip does too
    assert torch.allclose(cameras.fx, cameras.fy, rtol=0.01)
    fov_y = 2 * torch.rad2deg(torch.atan(h / (2 * cameras.fy)))
    assert ((fov_y > 30) & (fov_y < 90)).all()
    # ignoring the crop (normalising by the clip's own size) would squash pixels by (W/H)/(16/9)
    naive = read_realestate10k(clip, image_size=size)
    assert float((naive.fx / naive.fy).mean()) == pytest.approx((w / h) / (16 / 9), rel=0.01)
    meta = cameras.metadata["realestate10k"]
    assert meta["url"].startswith("http") and len(meta["timestamps_us"]) == len(cameras)


def read_points3d_bin(path: Path) -> np.ndarray:
    """(P, 3) xyz of a COLMAP points3D.bin (layout from COLMAP's read_write_model.py).

    pycolmap.Reconstruction cannot read this folder: it has no images.bin and every point's track
    names images, which pycolmap rejects ("Image with ID .. does not exist")."""
    data = path.read_bytes()
    (count,) = struct.unpack_from("<Q", data, 0)
    offset, xyz = 8, []
    for _ in range(count):
        _, x, y, z = struct.unpack_from("<Q3d", data, offset)
        offset += 8 + 24 + 3 + 8  # id, xyz, rgb, error
        (track,) = struct.unpack_from("<Q", data, offset)
        offset += 8 + 8 * track  # (image_id, point2D_idx) uint32 pairs
        xyz.append((x, y, z))
    assert offset == len(data)
    return np.array(xyz)


@pytest.mark.skipif(not (FERN / "poses_bounds.npy").is_file(), reason=f"LLFF fern not found in {FERN}")
def test_llff_fern_cameras_and_axes():
    raw = np.load(FERN / "poses_bounds.npy", allow_pickle=False)
    cameras = read_trajectory(FERN / "poses_bounds.npy", downscale=8)
    assert len(cameras) == 20
    assert cameras.image_size == (378, 504)
    f = raw[:, 14]  # P[:, 2, 4]
    assert torch.allclose(cameras.fx, torch.from_numpy(f / 8)) and torch.allclose(cameras.fy, cameras.fx)
    assert cameras.metadata["image_names"] == sorted(p.name for p in (FERN / "images_8").iterdir())
    # image_size gives the same as downscale; both must agree
    same = read_llff(FERN, image_size=(378, 504))
    assert max_diff(same.K, cameras.K) < 1e-9 and max_diff(same.R, cameras.R) == 0
    with pytest.raises(ValueError, match="does not match downscale"):
        read_llff(FERN / "poses_bounds.npy", image_size=(100, 100), downscale=8)
    # the COLMAP focal of the sparse model is LLFF's f
    cams_bin = (FERN / "sparse" / "0" / "cameras.bin").read_bytes()
    focal = struct.unpack_from("<d", cams_bin, 8 + 24)[0]
    assert focal / 8 == pytest.approx(float(cameras.fx[0]), rel=1e-9)

    # axis conversion: the sparse points lie in front of every camera and inside its image
    points = torch.from_numpy(read_points3d_bin(FERN / "sparse" / "0" / "points3D.bin"))
    assert len(points) > 1000

    def inside_fraction(cams):
        x = torch.einsum("nij,pj->npi", cams.R, points) + cams.t[:, None]
        uv = torch.einsum("nij,npj->npi", cams.K, x)
        u, v = uv[..., 0] / uv[..., 2], uv[..., 1] / uv[..., 2]
        h, w = cams.image_size
        inside = (x[..., 2] > 0) & (u >= 0) & (u < w) & (v >= 0) & (v < h)
        return (x[..., 2] > 0).double().mean(), inside.double().mean(dim=1)

    in_front, inside = inside_fraction(cameras)
    assert float(in_front) > 0.99
    assert float(inside.min()) > 0.9
    # a wrong axis order (LLFF's [down, right, back] taken as OpenCV columns) fails the same check
    P = torch.from_numpy(raw[:, :15].reshape(-1, 3, 5))
    wrong = Cameras.from_c2w(P[:, :, :4], cameras.K, cameras.image_size)
    assert float(inside_fraction(wrong)[1].max()) < 0.5


def test_colmap_reader_camera_models_order_and_distortion(tmp_path):
    (tmp_path / "cameras.txt").write_text(
        "# comment\n"
        "1 SIMPLE_RADIAL 640 480 500 320 240 0.01\n"
        "2 OPENCV 640 480 510 520 321 241 0.1 0 0 0\n"
        "3 SIMPLE_PINHOLE 640 480 400 320 240\n"
    )
    (tmp_path / "images.txt").write_text(
        "# IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME\n"
        "7 1 0 0 0 1 2 3 2 b.png\n"
        "100 200 -1\n"
        "3 0 0 0 1 0 0 0 1 a.png\n"
        "\n"
        "5 0.7071067811865476 0.7071067811865476 0 0 0 0 1 3 c.png\n"
        "\n"
    )
    cameras = read_trajectory(tmp_path)
    assert cameras.metadata["image_names"] == ["a.png", "b.png", "c.png"]
    assert cameras.metadata["colmap"]["camera_ids"] == ["1", "2", "3"]
    assert cameras.K[0].tolist() == [[500, 0, 320], [0, 500, 240], [0, 0, 1]]
    assert cameras.K[1].tolist() == [[510, 0, 321], [0, 520, 241], [0, 0, 1]]
    assert cameras.image_size == (480, 640)
    assert torch.allclose(cameras.R[0], torch.diag(torch.tensor([-1.0, -1, 1], dtype=torch.float64)))  # q = z 180
    assert cameras.t[1].tolist() == [1, 2, 3]
    x90 = torch.tensor([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=torch.float64)
    assert max_diff(cameras.R[2], x90) < 1e-12
    assert set(cameras.metadata["colmap"]["distortion_ignored"]["cameras"]) == {"1", "2"}


def test_colmap_writer_output_is_read_by_pycolmap(tmp_path):
    pycolmap = pytest.importorskip("pycolmap")
    g = torch.Generator().manual_seed(3)
    R = project_to_rotation(torch.randn(5, 3, 3, generator=g, dtype=torch.float64))
    K = Cameras.intrinsics_matrix([300.0, 310, 320, 330, 340], 305.0, 160.0, 120.0)
    cameras = Cameras(K, R, torch.randn(5, 3, generator=g, dtype=torch.float64), (240, 320))
    write_trajectory(cameras, tmp_path / "model")
    reconstruction = pycolmap.Reconstruction(str(tmp_path / "model"))
    assert reconstruction.num_images() == 5 and reconstruction.num_cameras() == 5
    (tmp_path / "binary").mkdir()
    reconstruction.write_binary(str(tmp_path / "binary"))
    back = read_colmap(tmp_path / "binary")  # binary model, read through pycolmap
    assert max_diff(back.R, cameras.R) < 1e-12
    assert max_diff(back.t, cameras.t) < 1e-12
    assert max_diff(back.K, cameras.K) < 1e-12


# ----------------------------------------------------------------------------- bad input

RE10K_LINE = "1000 0.47 0.84 0.5 0.5 0 0 1 0 0 0.1 0 1 0 0.2 0 0 1 0.3"


def re10k_file(tmp_path, lines):
    path = tmp_path / "bad.txt"
    path.write_text("https://example.com/v\n" + "\n".join(lines) + "\n")
    return path


def test_nan_value_names_file_and_frame(tmp_path):
    nan_line = RE10K_LINE.replace("0.2", "nan")
    path = re10k_file(tmp_path, [RE10K_LINE, RE10K_LINE, nan_line])
    with pytest.raises(ValueError, match=r"bad\.txt line 4: frame 2 has a non-finite value \(NaN or inf\) in t\[1\]"):
        read_trajectory(path)
    doc = {"format": "raxel-trajectory", "version": 1, "convention": "opencv_w2c", "image_size": [4, 4],
           "fps": None,
           "frames": [{"K": [[2, 0, 2], [0, 2, 2], [0, 0, 1]], "R": np.eye(3).tolist(), "t": [0, 0, 0]}] * 2}
    text = json.dumps(doc).replace('"t": [0, 0, 0]}]', '"t": [0, NaN, 0]}]')
    (tmp_path / "nan.json").write_text(text)
    with pytest.raises(ValueError, match=r"nan\.json: frame 1 .*non-finite"):
        read_trajectory(tmp_path / "nan.json")


def test_non_orthonormal_rotation_names_file_and_frame(tmp_path):
    rows = [[1.0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0] for _ in range(5)]
    rows[3][0] = 1.2  # a scaled x axis
    (tmp_path / "scaled.json").write_text(json.dumps(rows))
    with pytest.raises(ValueError, match=r"scaled\.json: frame 3 rotation is not a proper rotation"):
        read_trajectory(tmp_path / "scaled.json")
    reflected = [[1.0, 0, 0, 0, 0, 1, 0, 0, 0, 0, -1, 0]]
    (tmp_path / "reflected.json").write_text(json.dumps(reflected))
    with pytest.raises(ValueError, match=r"reflected\.json: frame 0 .*det = -1"):
        read_trajectory(tmp_path / "reflected.json")


def test_short_line_names_file_and_line(tmp_path):
    short = " ".join(RE10K_LINE.split()[:-1])
    path = re10k_file(tmp_path, [RE10K_LINE, RE10K_LINE, short, RE10K_LINE])
    with pytest.raises(ValueError, match=r"bad\.txt line 4: expected 19 numbers.*got 18"):
        read_trajectory(path)
    path = re10k_file(tmp_path, [RE10K_LINE, RE10K_LINE.replace("0.3", "x0.3")])
    with pytest.raises(ValueError, match=r"bad\.txt line 3: 'x0\.3' is not a number"):
        read_trajectory(path)
    (tmp_path / "short.json").write_text(json.dumps([[1.0] * 12, [1.0] * 11]))
    with pytest.raises(ValueError, match=r"short\.json: frame 1 must be 12 numbers"):
        read_trajectory(tmp_path / "short.json", format="motionctrl")


def test_unknown_raxel_version_is_rejected(tmp_path):
    cameras = Cameras(Cameras.intrinsics_from_fov(50, (64, 96), 2), torch.eye(3).repeat(2, 1, 1), torch.zeros(2, 3),
                      (64, 96))
    write_trajectory(cameras, tmp_path / "a.json")
    doc = json.loads((tmp_path / "a.json").read_text())
    doc["version"] = 2
    (tmp_path / "future.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"future\.json: raxel trajectory version 2 is not supported"):
        read_trajectory(tmp_path / "future.json")
    doc["version"], doc["frames"][1]["R"] = 1, [[1, 0], [0, 1]]
    (tmp_path / "malformed.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"malformed\.json: frame 1 R must be 3x3"):
        read_trajectory(tmp_path / "malformed.json")


def test_colmap_and_nerfstudio_mismatches_are_named(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "cameras.txt").write_text("1 PINHOLE 64 48 50 50 32 24\n")
    (model / "images.txt").write_text("1 1 0 0 0 0 0 0 1 a.png\n\n2 1 0 0 0 0 0 0 4 b.png\n\n")
    with pytest.raises(ValueError, match=r"model/images\.txt line 3: image 'b\.png' uses camera 4"):
        read_trajectory(model)
    (model / "images.txt").write_text("1 1 0 0 0 0 0 1 a.png\n\n")
    with pytest.raises(ValueError, match=r"images\.txt line 1: expected IMAGE_ID .*got 9 values"):
        read_trajectory(model)
    (model / "cameras.txt").write_text("1 PINHOLE 64 48 50 50 32\n")
    with pytest.raises(ValueError, match=r"cameras\.txt line 1: a PINHOLE camera has 4 parameters, got 3"):
        read_trajectory(model)
    transforms = {"fl_x": 50, "cx": 32, "cy": 24, "w": 64, "h": 48,
                  "frames": [{"file_path": "a.png", "transform_matrix": np.eye(4).tolist()}]}
    (tmp_path / "transforms.json").write_text(json.dumps(transforms))
    with pytest.raises(ValueError, match=r'transforms\.json: frame 0 \(a\.png\): no "fl_y"'):
        read_trajectory(tmp_path / "transforms.json")
    np.save(tmp_path / "poses_bounds.npy", np.zeros((3, 15)))
    with pytest.raises(ValueError, match=r"poses_bounds\.npy: expected an \(N, 17\) array"):
        read_trajectory(tmp_path / "poses_bounds.npy")


def test_nerfstudio_reads_opengl_axes(tmp_path):
    # a camera at (0, 0, 5) with identity OpenGL c2w looks down -z at the origin: in OpenCV terms
    # the origin is straight ahead (z_cam = +5), world +y is image up (camera y down = -world y)
    transforms = {"fl_x": 50, "fl_y": 50, "cx": 32, "cy": 24, "w": 64, "h": 48,
                  "frames": [{"file_path": "a.png",
                              "transform_matrix": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 5], [0, 0, 0, 1]]}]}
    (tmp_path / "transforms.json").write_text(json.dumps(transforms))
    cameras = read_trajectory(tmp_path / "transforms.json")
    assert cameras.t[0].tolist() == [0, 0, 5]
    assert cameras.R[0].tolist() == [[1, 0, 0], [0, -1, 0], [0, 0, -1]]
    assert cameras.centers[0].tolist() == [0, 0, 5]


def test_writers_leave_no_partial_files(tmp_path):
    cameras = Cameras(Cameras.intrinsics_from_fov(50, (64, 96), 2), torch.eye(3).repeat(2, 1, 1), torch.zeros(2, 3),
                      (64, 96))
    missing = tmp_path / "no_such_folder"
    for name in ("a.json", "a.txt", "transforms.json", "model"):
        with pytest.raises(ValueError, match="does not exist"):
            write_trajectory(cameras, missing / name)
    assert not missing.exists()
    # a write that fails half-way (metadata JSON cannot hold) leaves the old file untouched
    target = tmp_path / "kept.json"
    write_trajectory(cameras, target)
    before = target.read_bytes()
    bad = Cameras(cameras.K, cameras.R, cameras.t, cameras.image_size, metadata={"note": object()})
    with pytest.raises(ValueError, match=r"metadata\['note'\] holds a object"):
        write_trajectory(bad, target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.json"]
    # invalid cameras are refused before anything is written
    nan = Cameras(cameras.K, cameras.R, cameras.t * float("nan"), cameras.image_size)
    with pytest.raises(ValueError, match=r"writing new\.txt: frame 0 has a non-finite"):
        write_trajectory(nan, tmp_path / "new.txt")
    assert not (tmp_path / "new.txt").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        write_trajectory(cameras, tmp_path / "file", format="colmap")


def test_dispatch_rules(tmp_path):
    assert FORMATS == ("realestate10k", "raxel", "motionctrl", "nerfstudio", "colmap", "llff")
    cameras = Cameras(Cameras.intrinsics_from_fov(50, (64, 96), 2), torch.eye(3).repeat(2, 1, 1), torch.zeros(2, 3),
                      (64, 96), fps=12.0)
    assert detect_format(tmp_path / "x.json", for_writing=True) == "raxel"
    assert detect_format(tmp_path / "transforms.json", for_writing=True) == "nerfstudio"
    assert detect_format(tmp_path / "model", for_writing=True) == "colmap"
    with pytest.raises(ValueError, match="read-only"):
        write_trajectory(cameras, tmp_path / "poses_bounds.npy")
    with pytest.raises(ValueError, match="unknown trajectory format 'blender'"):
        write_trajectory(cameras, tmp_path / "x.json", format="blender")
    with pytest.raises(ValueError, match="cannot tell the trajectory format"):
        write_trajectory(cameras, tmp_path / "x.csv")
    write_trajectory(cameras, tmp_path / "x.json")
    assert read_trajectory(tmp_path / "x.json").fps == 12.0
    with pytest.raises(ValueError, match="option.* image_size do not apply to raxel"):
        read_trajectory(tmp_path / "x.json", image_size=(10, 10))
    (tmp_path / "odd.json").write_text('{"hello": 1}')
    with pytest.raises(ValueError, match=r"odd\.json: not a recognised JSON trajectory"):
        read_trajectory(tmp_path / "odd.json")
    # MotionCtrl defaults: the pack's 480x832 and a 50 degree vertical fov
    write_trajectory(cameras, tmp_path / "m.json", format="motionctrl")
    m = read_trajectory(tmp_path / "m.json")
    assert m.image_size == (480, 832)
    assert float(m.fy[0]) == pytest.approx(240 / math.tan(math.radians(25)))
