"""Masks of moving things for pose estimation (raxel_core/pose/masks.py, ``raxel pose --mask``).

The claim: on a rendered clip with exact cameras where moving boxes cover half of the frame
(:func:`raxel_core.synthetic.dynamic.make_dynamic_clip`), the moving boxes wreck the estimate; with their
masks the accuracy is back at the same clip's without the boxes. The oracle is the renderer's cameras and
the metrics of raxel_core/evaluation (not the code under test); features inside a mask are checked directly
in COLMAP's database (on the room clip with a moving sprite)."""
from __future__ import annotations

import json
from functools import lru_cache

import numpy as np
import pytest
from PIL import Image

from raxel_core.evaluation.metrics import trajectory_metrics
from raxel_core.pose import estimate_trajectory
from raxel_core.pose.masks import MaskStream, mask_image, sampled_masks
from raxel_core.synthetic.render import make_scene, render_frames
from raxel_core.synthetic.room_trajectories import default_demo_trajectory
from raxel_core.synthetic.sprites import paste_moving_sprite

NUM_FRAMES = 24


@lru_cache(maxsize=1)
def clips():
    """(static frames, frames with the sprite, the sprite's masks, exact cameras)."""
    cams = default_demo_trajectory(NUM_FRAMES)
    static = render_frames(make_scene(0), cams)
    dynamic, masks = paste_moving_sprite(static, coverage=0.35, seed=0)
    return static, dynamic, masks, cams


def metrics(estimate, cams) -> dict:
    return trajectory_metrics(estimate.cameras, cams[estimate.frame_indices])


@pytest.mark.parametrize("seed", [0, 1])
def test_masks_restore_the_static_scene_accuracy(seed):
    from raxel_core.synthetic.dynamic import make_dynamic_clip

    static = make_dynamic_clip(0.0, num_frames=16, image_size=(128, 192), seed=seed, antialias=2)
    dynamic = make_dynamic_clip(0.5, num_frames=16, image_size=(128, 192), seed=seed, antialias=2)
    cams = dynamic.cameras
    assert np.allclose(static.cameras.R.numpy(), cams.R.numpy())   # the same camera path, with and without boxes
    assert dynamic.moving_fraction > 0.4                        # the boxes cover about half the frame
    base = estimate_trajectory(static.frames)
    unmasked = estimate_trajectory(dynamic.frames)
    masked = estimate_trajectory(dynamic.frames, masks=dynamic.moving_mask)
    m_base, m_unmasked, m_masked = metrics(base, cams), metrics(unmasked, cams), metrics(masked, cams)
    # the boxes wreck SfM (measured, seeds 0 / 1: AUC@30 44.1 / 93.9, ATE 0.42 / 0.058; static 99.8 / 99.9,
    # ATE 0.0027 / 0.0017) ...
    assert m_unmasked["auc30"] < m_base["auc30"] - 5 and m_unmasked["ate_rmse"] > 10 * m_base["ate_rmse"]
    # ... and with the masks every frame is back, about as accurate as without the boxes (measured 98.9 / 99.7,
    # ATE 0.0050 / 0.0031: half of the frame has no features left)
    assert masked.complete and masked.method == "sfm"
    assert m_masked["auc30"] >= m_base["auc30"] - 2.0
    assert m_masked["ate_rmse"] <= max(3 * m_base["ate_rmse"], 0.01)
    assert any("features ignored on" in m for m in masked.messages)


def test_no_feature_is_extracted_inside_a_mask(tmp_path):
    """COLMAP's keypoints of a masked frame lie outside its mask (read back from the database)."""
    import pycolmap

    from raxel_core.pose.estimate import stream_frames
    from raxel_core.pose.features import FeatureStream
    from raxel_core.pose.sfm import frame_of

    _, dynamic, masks, _ = clips()
    with FeatureStream(tmp_path / "db.db", 8192) as features:
        n, _, size = stream_frames(dynamic[:3], features, 192, masks=MaskStream(masks[:3]))
    assert size == (128, 192)                               # shrunk: the masks are resampled with the frames
    with pycolmap.Database.open(str(tmp_path / "db.db")) as db:
        for image in db.read_all_images():
            xy = np.asarray(db.read_keypoints(image.image_id))[:, :2]
            k = frame_of(image.name)
            small = np.asarray(Image.fromarray((masks[k] * 255).astype(np.uint8)).resize((192, 128)))
            inside = small[np.clip(xy[:, 1].astype(int), 0, 127), np.clip(xy[:, 0].astype(int), 0, 191)] > 127
            assert len(xy) > 200 and not inside.any(), (k, len(xy), int(inside.sum()))


def test_mask_images_are_black_where_ignored_and_never_shrink_a_mask():
    mask = np.zeros((64, 96), bool)
    mask[9:11, 22] = True                                   # a 1-pixel-wide sliver survives a 4x shrink
    written = mask_image(mask, (16, 24))
    assert written.shape == (16, 24) and set(np.unique(written)) == {0, 255}
    assert written[2, 5] == 0 and (written == 0).sum() == 1     # the 4x4 block holding it is masked, no other


def test_an_entirely_masked_frame_is_reported_and_left_unregistered():
    static, _, _, _ = clips()
    masks = np.zeros(static[:10].shape[:3], np.float32)
    masks[4] = 1.0
    est = estimate_trajectory(static[:10], masks=masks)
    assert est.unregistered == [4]
    assert any("entirely masked" in m and "frames 4" in m for m in est.messages), est.messages


@pytest.mark.parametrize("masks, match", [
    (np.zeros((24, 128, 192), np.float32), "a mask of another size; resize the mask"),
    (np.zeros((5, 256, 384), np.float32), "got 5 masks for 24 frames"),
    (np.ones((1, 256, 384), np.float32), "every frame is entirely masked.*invert them"),
    (np.zeros((24, 256, 384, 3), np.float32), "MASK batch"),
])
def test_bad_masks_raise_naming_the_fix(masks, match):
    static, _, _, _ = clips()
    with pytest.raises(ValueError, match=match):
        estimate_trajectory(static, masks=masks)


def test_masks_of_a_sampled_clip_follow_the_stride():
    masks = np.arange(10)[:, None, None] * np.ones((10, 2, 3))
    assert sampled_masks(masks, 10, 3, 2)[:, 0, 0].tolist() == [0, 2, 4]
    assert sampled_masks(masks[:1], 10, None, 3).shape[0] == 1       # one mask is every frame's
    with pytest.raises(ValueError, match="got 10 masks for 12 frames"):
        sampled_masks(masks, 12, None, 1)


def test_cli_pose_mask_folder_with_stride(tmp_path):
    """``raxel pose FRAMES --mask DIR --stride 2``: mask files in name order, white = ignore, one per clip
    frame; the trajectory frame k uses mask 2k (a wrong pairing leaves the sprite half unmasked)."""
    from raxel_core.cli import main
    from raxel_core.formats import read_trajectory

    _, dynamic, masks, cams = clips()
    (tmp_path / "frames").mkdir(), (tmp_path / "masks").mkdir()
    for k in range(NUM_FRAMES):
        Image.fromarray(dynamic[k]).save(tmp_path / "frames" / f"f{k}.png")
        Image.fromarray((masks[k] * 255).astype(np.uint8)).save(tmp_path / "masks" / f"m{k}.png")
    out = tmp_path / "traj.json"
    assert main(["pose", str(tmp_path / "frames"), "--out", str(out), "--stride", "2",
                 "--mask", str(tmp_path / "masks")]) == 0
    est = read_trajectory(out)
    assert len(est) == NUM_FRAMES // 2
    m = trajectory_metrics(est, cams[::2])
    assert m["auc30"] >= 97 and m["ate_rmse"] < 0.01, m
    assert json.loads(out.read_text())                      # a complete file


@pytest.mark.parametrize("stride, max_frames, expected", [(1, None, list(range(9))), (2, None, [0, 2, 4, 6, 8]),
                                                          (3, 2, [0, 3]), (4, 9, [0, 4, 8])])
def test_cli_masks_pair_mask_k_times_stride_with_trajectory_frame_k(tmp_path, stride, max_frames, expected):
    """Mask file ``k * stride`` (natural name order: m2 before m10) goes with trajectory frame ``k``."""
    from raxel_core.cli.pose import clip_masks

    (tmp_path / "frames").mkdir(), (tmp_path / "masks").mkdir()
    for k in range(9):
        Image.fromarray(np.zeros((4, 16, 3), np.uint8)).save(tmp_path / "frames" / f"f{k}.png")
        mask = np.zeros((4, 16), np.uint8)
        mask[0, k] = 255                                    # mask k marks pixel (0, k)
        Image.fromarray(mask).save(tmp_path / "masks" / f"m{k}.png")
    masks = list(clip_masks(tmp_path / "masks", tmp_path / "frames", max_frames, stride))
    assert [int(np.argmax(m[0])) for m in masks] == expected
