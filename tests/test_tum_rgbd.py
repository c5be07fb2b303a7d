"""The TUM RGB-D reader on the real sequence in ../shared/data/rgbd/tum_fr1_rpy_60: undistorted frames,
metric depth and motion-capture cameras that agree with each other geometrically."""
from __future__ import annotations

import numpy as np
import pytest
from shared_data import DATA

from raxel_core.formats.tum_rgbd import read_tum_rgbd

SEQ = "rgbd/tum_fr1_rpy_60"


@pytest.fixture(scope="module")
def tum():
    return read_tum_rgbd(DATA / SEQ)


@pytest.mark.shared_data(SEQ)
def test_reads_sixty_undistorted_frames_with_metric_depth_and_poses(tum):
    frames, depth, cams = tum
    assert frames.shape == (60, 480, 640, 3) and depth.shape == (60, 480, 640) and len(cams) == 60
    valid = depth > 0
    assert 0.7 < valid.mean() < 0.9  # README: 79 % valid
    assert 0.8 < np.median(depth[valid]) < 3.3 and depth.max() < 5.5
    path = np.linalg.norm(np.diff(cams.centers.numpy(), axis=0), axis=1).sum()
    assert 0.1 < path < 0.3  # README: 0.16 m of camera path


@pytest.mark.shared_data(SEQ)
def test_depth_and_poses_reproject_frame_i_onto_frame_i_plus_10(tum):
    # independent of the warp: lift frame 0's valid pixels with K^-1 and its camera-to-world pose,
    # project with frame 10's world-to-camera pose, compare grey values at the nearest pixel
    frames, depth, cams = tum
    grey = frames.astype(np.float64).mean(-1)
    i, j = 0, 10
    K = cams.K[i].numpy()
    v, u = np.nonzero(depth[i] > 0)
    z = depth[i][v, u]
    x = np.linalg.solve(K, np.stack([u + 0.5, v + 0.5, np.ones_like(z)])) * z
    c2w, w2c = cams.c2w[i].numpy(), cams.w2c[j].numpy()
    world = c2w[:3, :3] @ x + c2w[:3, 3:]
    xc = w2c[:3, :3] @ world + w2c[:3, 3:]
    p = K @ xc
    uj, vj = p[0] / p[2], p[1] / p[2]
    ok = (xc[2] > 0) & (uj >= 0) & (uj < 640) & (vj >= 0) & (vj < 480)
    warped = np.abs(grey[j][vj[ok].astype(int), uj[ok].astype(int)] - grey[i][v[ok], u[ok]]).mean()
    identity = np.abs(grey[j][v[ok], u[ok]] - grey[i][v[ok], u[ok]]).mean()
    assert warped < 0.5 * identity, (warped, identity)


@pytest.mark.shared_data(SEQ)
def test_undistortion_follows_the_brown_conrady_model(tum):
    # closed form (OpenCV / Brown-Conrady, pixel centres at integers): an undistorted pixel (u, v)
    # shows the raw image at fx * x_d + cx, where x_d = x (1 + k1 r^2 + k2 r^4 + k3 r^6)
    # + 2 p1 x y + p2 (r^2 + 2 x^2) and likewise for y
    import cv2
    from scipy.ndimage import map_coordinates

    from raxel_core.formats.tum_rgbd import FREIBURG1_DISTORTION, FREIBURG1_INTRINSICS

    frames, _, _ = tum
    name = (DATA / SEQ / "associations.txt").read_text().splitlines()[1].split()[1]
    raw = cv2.cvtColor(cv2.imread(str(DATA / SEQ / name)), cv2.COLOR_BGR2RGB).astype(np.float64).mean(-1)
    fx, fy, cx, cy = FREIBURG1_INTRINSICS
    k1, k2, p1, p2, k3 = FREIBURG1_DISTORTION
    v, u = np.mgrid[20:460:7, 20:620:7].astype(np.float64)
    x, y = (u - cx) / fx, (v - cy) / fy
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    expected = map_coordinates(raw, [fy * yd + cy, fx * xd + cx], order=1)
    got = frames[0].astype(np.float64).mean(-1)[v.astype(int), u.astype(int)]
    unchanged = raw[v.astype(int), u.astype(int)]
    assert np.abs(got - expected).mean() < 0.25 * np.abs(unchanged - expected).mean()
