"""Interop with other packs' payloads: AnimateDiff-Evolved CAMERACTRL_POSES, core LOAD3D_CAMERA and
2D tracks (core TRACKS and JSON point lists), on real RealEstate10K poses and real optical-flow
tracks of a RealEstate10K clip."""
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import shared_data
import torch

from raxel_core.cameras import Cameras, look_at_w2c
from raxel_core.formats import read_trajectory
from raxel_core.geometry.rotations import rotation_error_deg
from raxel_core.interop import (
    CAMERACTRL_DEFAULT_POSE_SIZE,
    OPENCV_TO_THREEJS,
    Tracks2D,
    from_cameractrl_poses,
    from_load3d_camera,
    load3d_fov_deg,
    to_cameractrl_poses,
    to_load3d_camera,
    tracks_from_comfy,
    tracks_from_json,
    tracks_to_comfy,
    tracks_to_json,
)
from raxel_core.video_io import read_video_frames

DATA = shared_data.DATA
RE10K = DATA / "re10k"
POSES = sorted((RE10K / "poses").glob("*.txt")) if (RE10K / "poses").is_dir() else []
needs_data = pytest.mark.skipif(not POSES, reason=f"RealEstate10K data not found at {RE10K}")
IMAGE_SIZE = (256, 384)


def _ade_load_camera_poses(path: Path) -> list[list[float]]:
    """The payload AnimateDiff-Evolved's ``LoadCameraPosesFromFile`` builds from a pose file
    (nodes_cameractrl.py): skip the URL line, split on spaces, then ``set_original_pose_dims`` puts
    1280, 720 into indices 5 and 6."""
    lines = path.read_text().splitlines()[1:]
    poses = [[float(x) for x in line.strip().split(" ")] for line in lines if line.strip()]
    for pose in poses:
        pose[5], pose[6] = CAMERACTRL_DEFAULT_POSE_SIZE
    return poses


# --------------------------------------------------------------------------- CameraCtrl


@needs_data
@pytest.mark.parametrize("path", POSES, ids=lambda p: p.stem)
def test_cameractrl_payload_of_ade_matches_realestate10k_reader(path):
    """ADE's own payload of a RealEstate10K file, read for a 384x256 sample, gives the cameras our
    RealEstate10K reader gives for the 16:9 source cropped to 384x256."""
    cams = from_cameractrl_poses(_ade_load_camera_poses(path), IMAGE_SIZE)
    ref = read_trajectory(path, image_size=IMAGE_SIZE, source_aspect=16 / 9)
    assert torch.allclose(cams.K, ref.K, atol=1e-9)
    assert torch.equal(cams.R, ref.R) and torch.equal(cams.t, ref.t)
    assert abs(float(cams.fx[0] / cams.fy[0]) - 1) < 1e-3  # square pixels, as the source had


@needs_data
@pytest.mark.parametrize("path", POSES, ids=lambda p: p.stem)
def test_cameractrl_round_trip(path):
    ref = read_trajectory(path, image_size=IMAGE_SIZE, source_aspect=16 / 9)
    for pose_size in (None, (1280, 720), (480, 640)):
        poses = to_cameractrl_poses(ref, pose_size=pose_size)
        assert len(poses) == len(ref) and all(len(p) == 19 for p in poses)
        back = from_cameractrl_poses(poses, IMAGE_SIZE)
        assert torch.allclose(back.K, ref.K, atol=1e-6, rtol=0)
        assert torch.allclose(back.R, ref.R, atol=1e-6, rtol=0)
        assert torch.allclose(back.t, ref.t, atol=1e-6, rtol=0)
    # written at ADE's 1280x720 the numbers are the file's own (timestamps kept from the metadata)
    poses = to_cameractrl_poses(ref, pose_size=CAMERACTRL_DEFAULT_POSE_SIZE)
    assert np.allclose(np.array(poses), np.array(_ade_load_camera_poses(path)), atol=1e-9, rtol=0)


@needs_data
def test_cameractrl_errors_name_the_entry():
    poses = _ade_load_camera_poses(POSES[0])
    with pytest.raises(ValueError, match="entry 2: expected 19 numbers"):
        from_cameractrl_poses(poses[:2] + [poses[2][:18]], IMAGE_SIZE)
    bad = [list(p) for p in poses]
    bad[3][7] = float("nan")
    with pytest.raises(ValueError, match="entry 3 has a non-finite"):
        from_cameractrl_poses(bad, IMAGE_SIZE)
    raw = [list(p) for p in poses]
    raw[0][5] = raw[0][6] = 0.0
    with pytest.raises(ValueError, match="pose_size"):
        from_cameractrl_poses(raw, IMAGE_SIZE)
    assert torch.allclose(from_cameractrl_poses(raw, IMAGE_SIZE, pose_size=(1280, 720)).K,
                          from_cameractrl_poses(poses, IMAGE_SIZE).K)
    scaled = [list(p) for p in poses]
    scaled[1][7:10] = [2 * v for v in scaled[1][7:10]]
    with pytest.raises(ValueError, match="frame 1 rotation is not a proper rotation"):
        from_cameractrl_poses(scaled, IMAGE_SIZE)


# --------------------------------------------------------------------------- LOAD3D_CAMERA


@needs_data
@pytest.mark.parametrize("path", POSES[::3], ids=lambda p: p.stem)
def test_load3d_camera_round_trip_keeps_position_and_look_direction(path):
    cams = read_trajectory(path, image_size=IMAGE_SIZE, source_aspect=16 / 9)
    fov = load3d_fov_deg(cams)
    for frame in (0, len(cams) // 2, -1):
        info = to_load3d_camera(cams, frame=frame, target_distance=2.5)
        assert set(info) == {"position", "target", "zoom", "cameraType"}
        assert info["cameraType"] == "perspective" and info["zoom"] == 1
        json.dumps(info)  # plain JSON-able values, as the frontend receives them
        back = from_load3d_camera(info, IMAGE_SIZE, fov)
        assert torch.allclose(back.centers[0], cams.centers[frame], atol=1e-9)
        assert torch.allclose(back.R[0, 2], cams.R[frame, 2], atol=1e-9)  # optical axis
        # the target lies on the optical axis, target_distance away, in three.js axes (x, -y, -z)
        pos = torch.tensor([info["position"][k] for k in "xyz"], dtype=torch.float64)
        tgt = torch.tensor([info["target"][k] for k in "xyz"], dtype=torch.float64)
        axis_threejs = OPENCV_TO_THREEJS @ cams.R[frame, 2]
        assert torch.allclose(tgt - pos, 2.5 * axis_threejs, atol=1e-9)
        # the reconstructed camera sees the target at its principal point
        x = back.K[0] @ (back.R[0] @ (OPENCV_TO_THREEJS @ tgt) + back.t[0])
        assert torch.allclose(x[:2] / x[2], torch.tensor([IMAGE_SIZE[1] / 2, IMAGE_SIZE[0] / 2], dtype=torch.float64))
        assert abs(float(back.fy[0]) - float(cams.fy[frame])) < 1e-9


def test_load3d_camera_full_pose_without_roll_and_zoom():
    """A camera with no roll (image up = world up) round-trips exactly, rotation included; the
    identity OpenCV camera is the default three.js camera (looking along -Z, Y up)."""
    w2c = look_at_w2c([[0.3, -1.2, -4.0]], [[0.5, 0.1, 0.7]])
    cams = Cameras.from_w2c(w2c, Cameras.intrinsics_from_fov(50.0, (480, 832)), (480, 832))
    back = from_load3d_camera(to_load3d_camera(cams, target_distance=3.0), (480, 832), 50.0)
    assert float(rotation_error_deg(back.R, cams.R)[0]) < 1e-6
    assert torch.allclose(back.t, cams.t, atol=1e-9) and torch.allclose(back.K, cams.K, atol=1e-9)

    info = {"position": {"x": 0, "y": 0, "z": 0}, "target": {"x": 0, "y": 0, "z": -1}, "zoom": 2,
            "cameraType": "perspective"}
    cam = from_load3d_camera(info, (480, 640), 60.0)
    assert torch.allclose(cam.R[0], torch.eye(3, dtype=torch.float64), atol=1e-12)
    # three.js zoom narrows the fov: effective fov = 2 atan(tan(fov/2) / zoom)
    assert math.isclose(load3d_fov_deg(cam), math.degrees(2 * math.atan(math.tan(math.radians(30)) / 2)))


def test_load3d_camera_errors():
    good = {"position": {"x": 0, "y": 0, "z": 2}, "target": {"x": 0, "y": 0, "z": 0}, "zoom": 1,
            "cameraType": "perspective"}
    with pytest.raises(ValueError, match="orthographic"):
        from_load3d_camera({**good, "cameraType": "orthographic"}, (64, 64), 35)
    with pytest.raises(ValueError, match="position.y must be a finite number"):
        from_load3d_camera({**good, "position": {"x": 0, "y": "a", "z": 1}}, (64, 64), 35)
    with pytest.raises(ValueError, match="no 'target'"):
        from_load3d_camera({"position": good["position"]}, (64, 64), 35)
    with pytest.raises(ValueError, match="coincides"):
        from_load3d_camera({**good, "target": good["position"]}, (64, 64), 35)
    with pytest.raises(ValueError, match="parallel to the up vector"):
        from_load3d_camera({**good, "target": {"x": 0, "y": -5, "z": 2}}, (64, 64), 35)
    with pytest.raises(ValueError, match="fov_deg"):
        from_load3d_camera(good, (64, 64), 180)


# --------------------------------------------------------------------------- tracks


@pytest.fixture(scope="module")
def lk_tracks():
    """Tracks of a real RealEstate10K clip by OpenCV's pyramidal Lucas-Kanade, frame to frame;
    a point lost once stays hidden (its position frozen where it was lost)."""
    video = RE10K / "videos" / f"{POSES[0].stem}.mp4" if POSES else None
    if video is None or not video.is_file():
        pytest.skip(f"RealEstate10K clip not found under {RE10K / 'videos'}")
    frames = read_video_frames(video)
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    p0 = cv2.goodFeaturesToTrack(gray[0], maxCorners=64, qualityLevel=0.01, minDistance=8)
    points = [p0[:, 0, :].astype(np.float32)]
    visible = [np.ones(len(p0), dtype=bool)]
    for k in range(1, len(gray)):
        p1, status, _ = cv2.calcOpticalFlowPyrLK(gray[k - 1], gray[k], points[-1][:, None, :], None,
                                                 winSize=(21, 21), maxLevel=3)
        ok = visible[-1] & (status[:, 0] == 1)
        h, w = gray[k].shape
        inside = (p1[:, 0, 0] >= 0) & (p1[:, 0, 0] < w) & (p1[:, 0, 1] >= 0) & (p1[:, 0, 1] < h)
        ok &= inside
        points.append(np.where(ok[:, None], p1[:, 0, :], points[-1]).astype(np.float32))
        visible.append(ok)
    return frames, np.stack(points), np.stack(visible)


def test_tracks_round_trip_through_comfy_and_json(lk_tracks):
    frames, points, visible = lk_tracks
    tracks = Tracks2D(points, visible)
    assert tracks.points.shape == (len(frames), points.shape[1], 2) and tracks.points.dtype == np.float32
    assert tracks.num_tracks >= 20 and tracks.visibility[0].all()
    # the camera moves in these clips: the tracked points move
    assert float(np.median(np.abs(points[-1] - points[0])[visible[-1]])) > 0.5

    comfy = tracks_to_comfy(tracks)
    assert comfy["track_path"].dtype == torch.float32 and comfy["track_visibility"].dtype == torch.bool
    assert tuple(comfy["track_path"].shape) == points.shape
    back = tracks_from_comfy(comfy)
    assert np.array_equal(back.points, tracks.points) and np.array_equal(back.visibility, tracks.visibility)

    text = tracks_to_json(tracks)
    data = json.loads(text)
    assert len(data) == tracks.num_tracks and len(data[0]) == tracks.num_frames
    assert set(data[0][0]) == {"x", "y"}
    back = tracks_from_json(text)
    assert np.array_equal(back.points, tracks.points) and np.array_equal(back.visibility, tracks.visibility)
    # readers that know only x / y see the same coordinates
    xy = np.array([[[p["x"], p["y"]] for p in track] for track in data], dtype=np.float32).transpose(1, 0, 2)
    assert np.array_equal(xy, tracks.points)


def test_tracks_validation_names_track_and_frame(lk_tracks):
    _, points, visible = lk_tracks
    bad = points.copy()
    bad[5, 3, 1] = np.nan
    with pytest.raises(ValueError, match="track 3 has a non-finite point .* at frame 5"):
        Tracks2D(bad, visible)
    with pytest.raises(ValueError, match=r"shape \(T, N, 2\)"):
        tracks_from_comfy({"track_path": torch.zeros(4, 3), "track_visibility": torch.ones(4, 3, dtype=torch.bool)})
    with pytest.raises(ValueError, match=r"visibility must have shape"):
        tracks_from_comfy({"track_path": torch.from_numpy(points),
                           "track_visibility": torch.from_numpy(visible[:, :2])})
    with pytest.raises(ValueError, match="track_path"):
        tracks_from_comfy({"points": points})
    data = json.loads(tracks_to_json(Tracks2D(points, visible)))
    data[2] = data[2][:-1]
    with pytest.raises(ValueError, match="track 2 has"):
        tracks_from_json(data)
    data = json.loads(tracks_to_json(Tracks2D(points, visible)))
    data[1][4] = {"x": 3.0}
    with pytest.raises(ValueError, match="track 1 frame 4: 'y' must be a number"):
        tracks_from_json(data)
    with pytest.raises(ValueError, match="not valid JSON"):
        tracks_from_json("[[{")
    # a single track given as a flat list of points
    single = tracks_from_json([{"x": 1, "y": 2}, {"x": 3, "y": 4}])
    assert single.points.shape == (2, 1, 2)
