"""TUM RGB-D sequences (Sturm et al., IROS 2012): colour + depth frames with motion-capture poses, read
into this core's convention with the lens distortion removed.

Layout of a sequence folder: ``associations.txt`` (``rgb_ts rgb_file depth_ts depth_file`` per
line), ``groundtruth.txt`` (``timestamp tx ty tz qx qy qz qw``: the colour camera's pose as
**camera-to-world**, Hamilton quaternion scalar last, optical axes x right, y down, z forward),
``rgb/*.png`` and ``depth/*.png`` (16-bit, metres = value / 5000, 0 = no measurement, registered to
the colour camera). Each colour frame takes the ground-truth row nearest in time (TUM's
``associate.py`` accepts up to 0.02 s).

The colour and depth images are **not** undistorted in the dataset. :func:`read_tum_rgbd`
undistorts both with OpenCV (``cv2.initUndistortRectifyMap`` with the same ``K`` as the new camera
matrix; colour bilinear, depth nearest so depth edges are not blended) and returns pinhole frames
that the pinhole ``K`` describes exactly.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from ..cameras import Cameras

#: freiburg1 colour camera (TUM dataset page): fx, fy, cx, cy and distortion k1 k2 p1 p2 k3.
FREIBURG1_INTRINSICS = (517.3, 516.5, 318.6, 255.3)
FREIBURG1_DISTORTION = (0.2624, -0.9531, -0.0054, 0.0026, 1.1633)
#: Metres per depth-image unit.
DEPTH_UNIT_M = 1.0 / 5000.0
#: Largest accepted time gap (s) between a colour frame and its ground-truth row.
MAX_POSE_GAP_S = 0.02


def read_tum_rgbd(folder, intrinsics=FREIBURG1_INTRINSICS, distortion=FREIBURG1_DISTORTION):
    """Read a TUM RGB-D folder (module docstring).

    Args:
        folder: the sequence folder.
        intrinsics: ``(fx, fy, cx, cy)`` pixels of the colour camera.
        distortion: OpenCV ``(k1, k2, p1, p2, k3)``.

    Returns:
        ``(frames (N, H, W, 3) uint8 RGB, depth (N, H, W) float32 metres (0 = none), Cameras)``,
        undistorted, the cameras in OpenCV world-to-camera form with pixel ``K`` in this core's
        convention (``cx, cy`` + 0.5: the dataset's are OpenCV's, with pixel centres at integers).

    Raises:
        ValueError: a missing file, or a colour frame more than :data:`MAX_POSE_GAP_S` from every
            ground-truth row.
    """
    from scipy.spatial.transform import Rotation

    folder = Path(folder)
    for name in ("associations.txt", "groundtruth.txt"):
        if not (folder / name).is_file():
            raise ValueError(f"{folder} has no {name}; give a TUM RGB-D sequence folder")
    rows = [line.split() for line in (folder / "associations.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    gt = np.array([[float(v) for v in line.split()] for line in (folder / "groundtruth.txt").read_text().splitlines()
                   if line.strip() and not line.startswith("#")])
    fx, fy, cx, cy = intrinsics
    K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]], np.float64)  # OpenCV: pixel centres at integers
    K_core = K.copy()
    K_core[:2, 2] += 0.5  # this core measures u from the image's corner: pixel centres at + 0.5
    frames, depths, c2w = [], [], []
    maps = None
    for rgb_ts, rgb_file, _, depth_file in rows:
        colour = cv2.imread(str(folder / rgb_file), cv2.IMREAD_COLOR)
        raw = cv2.imread(str(folder / depth_file), cv2.IMREAD_UNCHANGED)
        if colour is None or raw is None:
            raise ValueError(f"could not read {rgb_file} or {depth_file} in {folder}")
        if maps is None:
            h, w = colour.shape[:2]
            maps = cv2.initUndistortRectifyMap(K, np.asarray(distortion, np.float64), None, K, (w, h), cv2.CV_32FC1)
        frames.append(cv2.cvtColor(cv2.remap(colour, *maps, cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB))
        depths.append(cv2.remap(raw, *maps, cv2.INTER_NEAREST).astype(np.float32) * DEPTH_UNIT_M)
        k = int(np.argmin(np.abs(gt[:, 0] - float(rgb_ts))))
        if abs(gt[k, 0] - float(rgb_ts)) > MAX_POSE_GAP_S:
            raise ValueError(f"colour frame {rgb_file} is {abs(gt[k, 0] - float(rgb_ts)):.3f} s from the nearest "
                             f"ground-truth pose (limit {MAX_POSE_GAP_S} s)")
        m = np.eye(4)
        m[:3, :3] = Rotation.from_quat(gt[k, 4:8]).as_matrix()  # x y z w (scalar last)
        m[:3, 3] = gt[k, 1:4]
        c2w.append(m)
    n = len(frames)
    cams = Cameras.from_c2w(torch.from_numpy(np.stack(c2w)), torch.from_numpy(K_core).expand(n, 3, 3),
                            frames[0].shape[:2], fps=30.0)
    return np.stack(frames), np.stack(depths), cams.validate(f"{folder.name} ground truth")
