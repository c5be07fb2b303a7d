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


CLIP = "re10k/videos/0bf152ef84195293_svdxt.mp4"  # 25 frames at 576x320


def _stored(database):
    """Every image row of a COLMAP database with its keypoints and descriptors, in id order."""
    import pycolmap

    with pycolmap.Database.open(str(database)) as db:
        return [(im.image_id, im.name, im.camera_id, im.frame_id, np.asarray(db.read_keypoints(im.image_id)),
                 np.asarray(db.read_descriptors(im.image_id).data)) for im in db.read_all_images()]


def _stream(database, frames, workers=None, **kwargs):
    from raxel_core.pose.estimate import stream_frames
    from raxel_core.pose.features import FeatureStream

    with FeatureStream(database, 8192, num_threads=workers, **kwargs) as features:
        return stream_frames(frames, features, None)


@pytest.mark.shared_data(CLIP)
def test_features_are_the_same_on_one_and_on_two_workers(tmp_path, monkeypatch):
    """FeatureStream runs SIFT on several frames at once; the database it writes does not depend on it."""
    from raxel_core.pose.sfm import sift_workers_that_fit
    from raxel_core.video_io import read_video_frames

    frames = read_video_frames(DATA / CLIP)[:6]
    stored = []
    for workers in (1, 2):
        _, _, size = _stream(tmp_path / f"{workers}.db", frames, workers)
        stored.append(_stored(tmp_path / f"{workers}.db"))
    assert len(stored[0]) == 6 and all(len(row[4]) > 500 for row in stored[0])
    for row1, row2 in zip(*stored, strict=True):
        assert row1[:4] == row2[:4] and np.array_equal(row1[4], row2[4]) and np.array_equal(row1[5], row2[5])
    # the memory limit caps the frames in flight: 576x320 SIFT takes about 55 MB
    monkeypatch.setenv("RAXEL_MEMORY_LIMIT_MB", "100")
    assert sift_workers_that_fit(size) == 1
    monkeypatch.setenv("RAXEL_MEMORY_LIMIT_MB", "1000")
    assert sift_workers_that_fit(size) == 18


@pytest.mark.shared_data(CLIP)
def test_a_frame_buffer_reused_by_the_decoder_gives_the_features_of_the_frames(tmp_path):
    """SIFT runs after the next frames arrive: a stream that overwrites one buffer must give the same features
    as the frames given as an array."""
    from raxel_core.video_io import read_video_frames

    frames = read_video_frames(DATA / CLIP)[:8]

    def one_buffer():
        buffer = np.empty_like(frames[0])
        for frame in frames:
            buffer[:] = frame
            yield buffer

    _stream(tmp_path / "array.db", frames, 2)
    _stream(tmp_path / "buffer.db", one_buffer(), 2)
    for a, b in zip(_stored(tmp_path / "array.db"), _stored(tmp_path / "buffer.db"), strict=True):
        assert a[:4] == b[:4] and np.array_equal(a[4], b[4]) and np.array_equal(a[5], b[5]), a[1]


@pytest.mark.shared_data(CLIP, "re10k/videos/0f68374b76390082.mp4", "static_camera/box.mp4")
def test_gray_image_is_what_reading_the_frame_back_from_png_gives(tmp_path):
    """The oracle is OpenCV's PNG reader (libpng's grey conversion) on the frame written as PNG."""
    from raxel_core.pose.features import gray_image
    from raxel_core.video_io import read_video_frames

    for clip in (CLIP, "re10k/videos/0f68374b76390082.mp4", "static_camera/box.mp4"):
        for frame in read_video_frames(DATA / clip)[:40:8]:
            cv2.imwrite(str(tmp_path / "f.png"), np.ascontiguousarray(frame[..., ::-1]))
            assert np.array_equal(gray_image(frame), cv2.imread(str(tmp_path / "f.png"), cv2.IMREAD_GRAYSCALE)), clip
    # cv2.cvtColor rounds: it is not the same grey (the features would change)
    assert not np.array_equal(gray_image(frame), cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY))


@pytest.mark.shared_data(CLIP)
@pytest.mark.parametrize("camera_model, focal", [("SIMPLE_RADIAL", None), ("SIMPLE_RADIAL", 523.25),
                                                  ("PINHOLE", None)])
def test_stream_writes_the_rows_and_features_of_colmaps_import_of_png_files(tmp_path, camera_model, focal):
    """The oracle: the frames written as PNG, imported by ``pycolmap.import_images`` (COLMAP's own rows for
    camera, rig, frames and images) and their SIFT on the PNGs read back in grey (OpenCV)."""
    import pycolmap

    from raxel_core.pose.sfm import image_name, sift_features
    from raxel_core.video_io import read_video_frames

    frames = read_video_frames(DATA / CLIP)[:4, :, :-1]            # 575 wide: an odd width
    _stream(tmp_path / "stream.db", frames, camera_model=camera_model, focal=focal)
    images = tmp_path / "images"
    images.mkdir()
    for k, frame in enumerate(frames):
        cv2.imwrite(str(images / image_name(k)), np.ascontiguousarray(frame[..., ::-1]))
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = camera_model
    if focal is not None:
        reader.camera_params = f"{focal},{575 / 2},{320 / 2},0"
    pycolmap.Database.open(str(tmp_path / "colmap.db")).close()
    pycolmap.import_images(tmp_path / "colmap.db", images, camera_mode=pycolmap.CameraMode.SINGLE, options=reader)
    rows = {}
    for name in ("stream", "colmap"):
        with pycolmap.Database.open(str(tmp_path / f"{name}.db")) as db:
            rows[name] = ([c.todict() for c in db.read_all_cameras()], [r.todict() for r in db.read_all_rigs()],
                          [str(f.todict()) for f in db.read_all_frames()],
                          [(im.image_id, im.name, im.camera_id, im.frame_id) for im in db.read_all_images()])
    assert rows["stream"][0][0]["params"].tolist() == rows["colmap"][0][0]["params"].tolist()
    assert str(rows["stream"]) == str(rows["colmap"])
    for _, name, _, _, keypoints, descriptors in _stored(tmp_path / "stream.db"):
        want = sift_features(cv2.imread(str(images / name), cv2.IMREAD_GRAYSCALE), 8192)
        assert np.array_equal(keypoints, want[0]) and np.array_equal(descriptors, want[1]), name
