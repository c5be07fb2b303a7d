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
