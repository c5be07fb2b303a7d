"""SIFT features of pose estimation (raxel_core.pose.sfm.sift_features: OpenCV SIFT written in COLMAP's layout)
against COLMAP's own SIFT (``pycolmap.Sift``) on a real photo: same positions in COLMAP's pixel convention,
same RootSIFT descriptors. Real data from ``../shared/data`` (skipped with the reason where absent)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.spatial import cKDTree
from shared_data import DATA

from raxel_core.pose.sfm import sift_features

PHOTO = "llff_fern/images_8/image000.png"


@pytest.mark.shared_data(PHOTO)
def test_sift_features_match_colmaps_sift_in_position_and_descriptor():
    import pycolmap

    gray = cv2.imread(str(DATA / PHOTO), cv2.IMREAD_GRAYSCALE)
    keypoints, descriptors = sift_features(gray, 8192)
    assert keypoints.dtype == np.float32 and keypoints.shape[1] == 4
    assert descriptors.dtype == np.uint8 and descriptors.shape == (len(keypoints), 128)
    colmap_keypoints, colmap_descriptors = pycolmap.Sift().extract(np.ascontiguousarray(gray))
    assert 0.8 < len(keypoints) / len(colmap_keypoints) < 1.25             # measured 1471 / 1494
    dist, idx = cKDTree(colmap_keypoints[:, :2]).query(keypoints[:, :2])
    near = dist < 1.0
    assert near.mean() > 0.6                                                  # measured 0.74
    offset = np.median(colmap_keypoints[idx[near], :2] - keypoints[near, :2], axis=0)
    assert np.all(np.abs(offset) < 0.05), offset           # measured 0.00; without the bias term (-0.25 px) 0.25
    ours = descriptors[near].astype(np.float64)
    theirs = colmap_descriptors[idx[near]].astype(np.float64)
    cosine = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    assert np.median(cosine) > 0.98                                           # measured 0.996
    # COLMAP's layout: RootSIFT (L2 norm 1) stored as min(255, round(512 x))
    assert abs(np.median(np.linalg.norm(ours, axis=1)) / 512 - 1) < 0.02


def test_sift_features_of_a_blank_image_are_empty():
    keypoints, descriptors = sift_features(np.full((64, 64), 127, np.uint8), 100)
    assert keypoints.shape == (0, 4) and descriptors.shape == (0, 128)


@pytest.mark.shared_data("re10k/videos/0bf152ef84195293_svdxt.mp4")
def test_features_are_the_same_on_one_and_on_two_workers(tmp_path, monkeypatch):
    """extract_features runs SIFT on several images at once; the database it writes does not depend on it."""
    import pycolmap

    from raxel_core.pose.estimate import write_frames
    from raxel_core.pose.sfm import extract_features, sift_workers_that_fit
    from raxel_core.video_io import read_video_frames

    images = tmp_path / "images"
    images.mkdir()
    _, _, size = write_frames(read_video_frames(DATA / "re10k/videos/0bf152ef84195293_svdxt.mp4")[:6], images, None)
    stored = []
    for workers in (1, 2):
        extract_features(tmp_path / f"{workers}.db", images, size, None, 8192, num_threads=workers)
        with pycolmap.Database.open(str(tmp_path / f"{workers}.db")) as db:
            stored.append([(im.name, np.asarray(db.read_keypoints(im.image_id)),
                            np.asarray(db.read_descriptors(im.image_id).data)) for im in db.read_all_images()])
    assert len(stored[0]) == 6 and all(len(kp) > 500 for _, kp, _ in stored[0])
    for (name1, kp1, d1), (name2, kp2, d2) in zip(*stored, strict=True):
        assert name1 == name2 and np.array_equal(kp1, kp2) and np.array_equal(d1, d2), name1
    # the memory limit caps the images in flight: 576x320 SIFT takes about 55 MB
    monkeypatch.setenv("RAXEL_MEMORY_LIMIT_MB", "100")
    assert sift_workers_that_fit(size) == 1
    monkeypatch.setenv("RAXEL_MEMORY_LIMIT_MB", "1000")
    assert sift_workers_that_fit(size) == 18
