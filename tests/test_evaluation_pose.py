"""Evaluation of pose from video (raxel_core/evaluation/pose.py) on real RealEstate10K clips: which
trajectory is scored against which, and which COLMAP model the baseline keeps.

Real data from ``../shared/data`` (skipped with the reason where absent).
"""
from __future__ import annotations

import numpy as np
import pytest
import shared_data

from raxel_core.evaluation.pose import colmap_default_trajectory, evaluate_clip

DATA = shared_data.DATA
pytestmark = pytest.mark.shared_data("re10k/videos")
CLIP = "0bf152ef84195293"
#: A clip of another house, same size: nothing in it matches CLIP.
OTHER_CLIP = "0f68374b76390082"


def _clip(stem: str):
    from raxel_core.formats.realestate10k import read_realestate10k
    from raxel_core.video_io import read_video_frames

    frames = read_video_frames(DATA / "re10k" / "videos" / f"{stem}.mp4")
    reference = read_realestate10k(DATA / "re10k" / "poses" / f"{stem}.txt", image_size=frames.shape[1:3],
                                   source_aspect=16 / 9)
    return frames, reference


def test_the_estimate_is_aligned_to_the_reference_and_scored_in_its_units():
    """ATE is reported in the reference's units (the estimate is Sim(3)-aligned onto the reference):
    the same estimate scored against the reference scaled by 10 has 10 times the ATE and the
    alignment scale, and the same scale-free figures. Scoring the other way round (reference aligned
    onto the estimate) would leave the ATE unchanged."""
    frames, reference = _clip(CLIP)
    one = evaluate_clip(frames, reference, "raxel")
    ten = evaluate_clip(frames, reference.scaled(10.0), "raxel")
    assert one["registered"] == ten["registered"] == len(frames) and "error" not in one
    assert ten["ate_rmse"] == pytest.approx(10 * one["ate_rmse"], rel=1e-6)
    assert ten["ate_scale"] == pytest.approx(10 * one["ate_scale"], rel=1e-6)
    for key in ("auc30", "rra", "rta", "rot_err_deg"):
        assert ten[key] == pytest.approx(one[key], abs=1e-9)
    extent = float((reference.centers - reference.centers[0]).norm(dim=1).max())
    assert 0 < one["ate_rmse"] < 0.05 * extent                 # measured 0.4 % of the extent


def test_the_baseline_keeps_the_largest_colmap_model():
    """Two unrelated clips in one frame sequence (16 frames of one house, then 6 of another) give
    COLMAP's incremental mapper two models; the baseline keeps the one with more registered frames:
    the 16-frame house."""
    frames, _ = _clip(CLIP)
    other, _ = _clip(OTHER_CLIP)
    est = colmap_default_trajectory(np.concatenate([frames, other[:6]]))
    assert any(m.startswith(("2 models", "3 models")) for m in est.messages), est.messages
    assert len(est.frame_indices) >= 12 and max(est.frame_indices) < 16, est.frame_indices


def test_an_estimator_that_fails_is_reported_not_raised():
    frames = np.full((4, 128, 128, 3), 127, np.uint8)
    _, reference = _clip(CLIP)
    out = evaluate_clip(frames, reference[:4], "raxel")
    assert out["registered"] == 0 and out["method"] == "failed" and "could be registered" in out["error"]
    with pytest.raises(ValueError, match="estimator must be one of"):
        evaluate_clip(frames, reference[:4], "vggt")


def test_the_reference_of_a_squeezed_clip_has_the_clips_own_pixel_intrinsics():
    """The 384x256 clips were resized from the 16:9 source without cropping (``../shared/data/README.md``),
    so the reference K is ``fx_n W, fy_n H`` with the principal point at the centre: ``fy / fx = 1.185``.
    The evaluation used to read them as centre crops of 16:9 (``source_aspect=16/9``), which gave
    ``fx = fy = fx_n * 455 = 216`` px, 18.5 % too large in x. Oracle: the numbers of the file itself."""
    from raxel_core.evaluation.pose import read_reference

    path = DATA / "re10k" / "poses" / f"{CLIP}.txt"
    fx_n, fy_n = (float(v) for v in path.read_text().splitlines()[1].split()[1:3])
    reference = read_reference(path, (256, 384))
    assert float(reference.fx[0]) == pytest.approx(fx_n * 384, rel=1e-12)      # 182.3 px
    assert float(reference.fy[0]) == pytest.approx(fy_n * 256, rel=1e-12)      # 216.1 px
    assert float(reference.cx[0]) == 192.0 and float(reference.cy[0]) == 128.0
    assert float(reference.fy[0] / reference.fx[0]) == pytest.approx(256 / 384 * 16 / 9, rel=0.01)
