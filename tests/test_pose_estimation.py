"""Camera trajectory from video (raxel_core.pose) on real footage and exact rotations.

Real data from ``../shared/data`` (or ``$RAXEL_SHARED_DATA``); each test skips with the reason
when its clip is absent. Thresholds were measured on this data (see each test) with margin.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import shared_data

from raxel_core.geometry.rotations import rotation_angle_deg, rotation_error_deg
from raxel_core.pose import estimate_trajectory

DATA = shared_data.DATA
RE10K_CLIP = "0bf152ef84195293"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data not found: {path} (set RAXEL_SHARED_DATA to the shared data folder)")
    return path


@pytest.fixture(scope="module")
def re10k_frames():
    from raxel_core.video_io import read_video_frames

    return read_video_frames(_need(DATA / "re10k" / "videos" / f"{RE10K_CLIP}.mp4"))


@pytest.fixture(scope="module")
def fern():
    return cv2.imread(str(_need(DATA / "llff_fern" / "images_8" / "image000.png")))[..., ::-1].copy()


def test_realestate10k_clip_registers_every_frame_and_matches_ground_truth(re10k_frames):
    from raxel_core.evaluation.metrics import trajectory_metrics
    from raxel_core.formats.realestate10k import read_realestate10k

    calls = []
    est = estimate_trajectory(re10k_frames, progress=lambda i, n: calls.append((i, n)), fps=8.0)
    n, h, w = re10k_frames.shape[:3]
    assert est.method == "sfm"
    assert est.complete and est.unregistered == [] and est.frame_indices == list(range(n))
    assert len(est.cameras) == n and est.cameras.image_size == (h, w) and est.cameras.fps == 8.0
    assert calls and calls[-1][0] == calls[-1][1]
    gt = read_realestate10k(_need(DATA / "re10k" / "poses" / f"{RE10K_CLIP}.txt"), image_size=(h, w),
                            source_aspect=16 / 9)
    m = trajectory_metrics(est.cameras, gt)
    # measured 97.72 (deterministic, seed 0; 97.39 with pycolmap's own SIFT); pycolmap's default pipeline on
    # this clip: 94.33-94.64 in 3 runs
    # (raxel_core.evaluation.pose.colmap_default_trajectory): the bound is above the baseline it beats
    assert m["auc30"] > 95.0
    assert m["rra"] == 100.0 and m["rta"] == 100.0


def test_focal_self_calibration_beats_the_baseline_on_a_second_clip():
    """On 0c11dbe781b1c11c the view-graph focal self-calibration matters: measured AUC@30 95.97 with it (95.53
    with pycolmap's own SIFT), 91.94 without (mapping from the focal prior; with pycolmap's SIFT); pycolmap's
    default pipeline scored 28.8, 92.7, 91.6,
    94.6 and 91.9 in 5 runs (its RANSAC is seeded from the clock). The bound is above every baseline run."""
    from raxel_core.evaluation.metrics import trajectory_metrics
    from raxel_core.formats.realestate10k import read_realestate10k
    from raxel_core.video_io import read_video_frames

    clip = "0c11dbe781b1c11c"
    frames = read_video_frames(_need(DATA / "re10k" / "videos" / f"{clip}.mp4"))
    est = estimate_trajectory(frames)
    assert est.method == "sfm" and est.complete
    gt = read_realestate10k(_need(DATA / "re10k" / "poses" / f"{clip}.txt"), image_size=frames.shape[1:3],
                            source_aspect=16 / 9)
    assert trajectory_metrics(est.cameras, gt)["auc30"] > 94.7


def test_static_camera_gives_near_zero_motion():
    from raxel_core.video_io import read_video_frames

    frames = read_video_frames(_need(DATA / "static_camera" / "tree.avi"))[::6]  # 12 of 68 frames
    est = estimate_trajectory(frames)
    assert est.method == "static"
    assert est.complete
    assert float(rotation_angle_deg(est.cameras.R).max()) < 0.5  # measured 0.09
    assert float(est.cameras.centers.abs().max()) == 0.0
    assert any("static" in m for m in est.messages)


@pytest.mark.parametrize("pan, tilt", [(8.0, 0.0), (4.0, 4.0)])
def test_tripod_pan_and_tilt_of_a_real_photo_is_rotation_only(fern, pan, tilt):
    from synthetic_fixtures import crop_sequence

    frames, gt = crop_sequence(fern, 10, pan_deg=pan, tilt_deg=tilt)
    est = estimate_trajectory(frames)
    assert est.method == "rotation_only" and est.complete
    err = rotation_error_deg(est.cameras.relative_to(0).R, gt.relative_to(0).R)
    assert float(err.max()) < 0.5  # measured 0.02
    assert float(est.cameras.centers.abs().max()) == 0.0
    assert abs(float(est.cameras.fx[0]) / float(gt.fx[0]) - 1) < 0.05  # measured 0.3 %


def test_rendered_pan_is_rotation_only_with_right_angles():
    from synthetic_fixtures import rotation_only_trajectory

    from raxel_core.synthetic.render import make_scene, render_frames

    gt = rotation_only_trajectory(8, (192, 288), pan_deg=24.0, tilt_deg=4.0)
    est = estimate_trajectory(render_frames(make_scene(0), gt))
    assert est.method == "rotation_only" and est.complete
    err = rotation_error_deg(est.cameras.relative_to(0).R, gt.relative_to(0).R)
    assert float(err.max()) < 0.5  # measured 0.02 at 384x256
    angle = float(rotation_angle_deg(est.cameras.relative_to(0).R[-1]))
    assert abs(angle - float(rotation_angle_deg(gt.relative_to(0).R[-1]))) < 0.5


def test_known_focal_is_held_fixed(fern):
    from synthetic_fixtures import crop_sequence

    frames, gt = crop_sequence(fern, 6, pan_deg=6.0)
    est = estimate_trajectory(frames, focal=float(gt.fx[0]))
    assert np.allclose(est.cameras.fx.numpy(), float(gt.fx[0]))


def test_black_frame_is_reported_unregistered(re10k_frames):
    frames = re10k_frames[:10].copy()
    frames = np.concatenate([frames[:5], np.zeros_like(frames[:1]), frames[5:]])
    est = estimate_trajectory(frames)
    assert not est.registered[5] and 5 in est.unregistered
    assert 5 not in est.frame_indices and len(est.cameras) == len(est.frame_indices) >= 9
    assert any("frames 5" in m for m in est.messages)


@pytest.mark.parametrize("frames, match", [
    (np.zeros((0, 64, 64, 3), np.uint8), "at least 2 frames"),
    (np.zeros((1, 64, 64, 3), np.uint8), "at least 2 frames"),
    (np.zeros((4, 64, 64), np.uint8), r"\(N, H, W, 3\)"),
    (np.zeros((4, 64, 64, 3), np.float32), r"^frames must be uint8 \(0-255\); got float32\. Convert float images"),
    (np.zeros((4, 8, 64, 3), np.uint8), r"^frames of 64x8 pixels are too small for features"),
    # the same checks on a stream of frames, each frame named
    (iter(np.zeros((4, 64, 64, 3), np.float32)), r"^frame 0 must be uint8 \(0-255\); got float32\. Convert"),
    (iter([np.zeros((64, 64, 3), np.uint8), np.zeros((64, 32, 3), np.uint8)]),
     r"^frame 1 is 32x64 but frame 0 is 64x64 \(W x H\)"),
    (iter([np.zeros((64, 64), np.uint8)] * 2), r"^frame 0 must be an \(H, W, 3\) RGB array"),
    (iter([np.zeros((64, 8, 3), np.uint8)] * 2), r"^frames of 8x64 pixels are too small for features"),
], ids=["no frames", "one frame", "no channels", "float", "too small", "stream float", "stream size change",
        "stream no channels", "stream too small"])
def test_bad_input_raises_a_clear_error(frames, match):
    with pytest.raises(ValueError, match=match):
        estimate_trajectory(frames)


def test_featureless_frames_raise_with_what_to_try():
    frames = np.full((4, 128, 128, 3), 127, np.uint8)
    with pytest.raises(ValueError, match="only 0 of 4 frames could be registered.*Try"):
        estimate_trajectory(frames)


def test_should_stop_cancels(re10k_frames):
    with pytest.raises(InterruptedError):
        estimate_trajectory(re10k_frames[:4], should_stop=lambda: True)
