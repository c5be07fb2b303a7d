"""Re-rendering from a new camera (raxel_core.rerender): warp, masks, targets, depth, paired tracks.

Oracles are closed forms (planes seen by pinhole cameras, linear colour ramps), explicit loops over
small arrays, and the synthetic renderer's own views and depth; never the code under test.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from raxel_core.cameras import Cameras
from raxel_core.interop import Tracks2D
from raxel_core.rerender.depth import (
    align_depth,
    check_depth,
    coarse_depth,
    depth_values,
    sparse_points,
)
from raxel_core.rerender.targets import (
    PRESETS,
    absolute_targets,
    preset_targets,
    relative_targets,
)
from raxel_core.rerender.tracks3d import lift_tracks
from raxel_core.rerender.warp import forward_warp, latent_mask, visibility_mask

H, W = 48, 64


def _cams(centres, size=(H, W), f=60.0, R=None):
    """Cameras at ``centres (N, 3)`` looking along +z (world-to-camera R = I unless given)."""
    c = torch.as_tensor(centres, dtype=torch.float64).reshape(-1, 3)
    n = c.shape[0]
    R = torch.eye(3, dtype=torch.float64).repeat(n, 1, 1) if R is None else torch.as_tensor(R, dtype=torch.float64)
    t = -(R @ c[..., None])[..., 0]
    K = Cameras.intrinsics_matrix([f] * n, [f] * n, [size[1] / 2] * n, [size[0] / 2] * n)
    return Cameras(K, R, t, size)


def _ramp(size=(H, W)):
    """(H, W, 3) colour linear in the pixel centre (u, v): r = u / 100, g = v / 100, b = 0.3."""
    v, u = np.mgrid[0:size[0], 0:size[1]] + 0.5
    return np.stack([u / 100, v / 100, np.full_like(u, 0.3)], -1).astype(np.float32)


# ----------------------------------------------------------------------------------------- warp
def test_warp_of_a_plane_under_translation_is_exact_on_a_linear_ramp():
    # fronto-parallel plane at z = 3; the camera moves right by 0.07 units: every pixel shifts left
    # by f * 0.07 / 3 = 1.4 px (a non-integer shift), so the warp must resample, not copy
    z, dx, f = 3.0, 0.07, 60.0
    src = _cams([[0, 0, 0]], f=f)
    tgt = _cams([[dx, 0, 0]], f=f)
    frames = torch.from_numpy(_ramp())[None]
    result = forward_warp(frames, torch.full((1, H, W), z), src, tgt)
    shift = f * dx / z
    expected = _ramp()
    expected[..., 0] += shift / 100  # pixel u' in the target shows source u = u' + shift
    inner = np.zeros((H, W), bool)
    inner[1:-1, 1:-3] = True
    assert result.covered[0].numpy()[inner].all()
    np.testing.assert_allclose(result.image[0].numpy()[inner], expected[inner], atol=1e-5)
    np.testing.assert_allclose(result.depth[0].numpy()[inner], z, rtol=1e-5)
    # the right border (1.4 px) has nothing to show
    assert not result.covered[0, :, -1].any()


def test_identity_warp_reproduces_the_frames():
    src = _cams([[0, 0, 0], [0.1, 0, 0]])
    frames = torch.rand(2, H, W, 3)
    depth = 1 + 3 * torch.rand(2, H, W)
    result = forward_warp(frames, depth, src, src)
    assert result.covered.all()
    torch.testing.assert_close(result.image, frames, atol=1e-5, rtol=0)


def test_nearer_points_win_the_z_buffer():
    # left half of the source: a red plane at z = 1; right half: a blue plane at z = 4. The camera
    # moves left, so the near plane slides right over the far one (disparity 30 px vs 7.5 px).
    frames = torch.zeros(1, H, W, 3)
    frames[0, :, : W // 2, 0] = 1.0
    frames[0, :, W // 2:, 2] = 1.0
    depth = torch.full((1, H, W), 4.0)
    depth[0, :, : W // 2] = 1.0
    src, tgt = _cams([[0, 0, 0]]), _cams([[-0.5, 0, 0]])
    result = forward_warp(frames, depth, src, tgt)
    # the near plane's right edge moves from u = 32 to 32 + 60 * 0.5 / 1 = 62; the far plane's left
    # edge only to 32 + 7.5: columns 40..60 are where both land and red must win
    overlap = result.image[0, :, 40:60]
    assert (overlap[..., 0] > 0.99).all() and (overlap[..., 2] < 0.01).all()


def test_splatting_leaves_no_rounding_holes_under_magnification():
    # dolly in towards a plane: 5 % magnification, source points land ~1.05 px apart
    src, tgt = _cams([[0, 0, 0]]), _cams([[0, 0, 0.1]])
    result = forward_warp(torch.rand(1, H, W, 3), torch.full((1, H, W), 2.0), src, tgt)
    assert result.covered.all()


def test_visibility_dilates_each_hole_by_five_by_five():
    covered = torch.ones(1, 12, 12, dtype=torch.bool)
    covered[0, 5, 6] = False
    covered[0, 0, 0] = False
    visible = visibility_mask(covered)[0].numpy()
    expected = np.ones((12, 12), bool)
    for i, j in ((5, 6), (0, 0)):  # explicit 5 x 5 neighbourhoods, clipped at the border
        expected[max(0, i - 2):i + 3, max(0, j - 2):j + 3] = False
    np.testing.assert_array_equal(visible, expected)


def test_latent_mask_keeps_frame_zero_and_ands_groups_of_four():
    n, h, w = 13, 20, 27  # 1 + 3 groups of 4; sizes not multiples of 8 (3 x 4 cells)
    rng = np.random.default_rng(0)
    visible = rng.random((n, h, w)) > 0.02
    got = latent_mask(torch.from_numpy(visible)).numpy()
    assert got.shape == (4, 3, 4)
    expected = np.zeros((4, 3, 4), bool)
    groups = [[0], [1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]
    for g, frames in enumerate(groups):
        for ci in range(3):
            for cj in range(4):
                expected[g, ci, cj] = all(visible[f, ci * 8:ci * 8 + 8, cj * 8:cj * 8 + 8].all() for f in frames)
    np.testing.assert_array_equal(got, expected)
    assert latent_mask(torch.ones(81, 480, 832, dtype=torch.bool)).shape == (21, 60, 104)


# ----------------------------------------------------------------------------------------- targets
@pytest.mark.parametrize("preset", PRESETS)
def test_presets_start_at_the_source_and_move_as_named(preset):
    rng = np.random.default_rng(1)
    yaw = 0.3
    R = torch.tensor([[math.cos(yaw), 0, -math.sin(yaw)], [0, 1, 0], [math.sin(yaw), 0, math.cos(yaw)]],
                     dtype=torch.float64).repeat(5, 1, 1)
    src = _cams(rng.normal(size=(5, 3)), R=R)
    d = 2.5
    tgt = preset_targets(src, preset, d, angle_deg=20, dolly_fraction=0.3)
    torch.testing.assert_close(tgt.w2c[0], src.w2c[0])
    # the last target camera's centre in the last source camera's frame
    c = (src.w2c[-1] @ torch.cat([tgt.centers[-1], torch.ones(1, dtype=torch.float64)]))[:3]
    p = torch.tensor([0, 0, d], dtype=torch.float64)
    world_p = (src.c2w[-1] @ torch.cat([p, torch.ones(1, dtype=torch.float64)]))[:3]
    if preset.startswith("orbit"):
        assert float(torch.linalg.norm(c - p)) == pytest.approx(d, rel=1e-9)  # stays on the sphere
        # the scene centre stays on the optical axis: it projects to the principal point
        x = tgt.R[-1] @ world_p + tgt.t[-1]
        assert float(x[0] / x[2]) == pytest.approx(0, abs=1e-9) and float(x[1] / x[2]) == pytest.approx(0, abs=1e-9)
        angle = math.degrees(math.acos(float((p - c) @ p) / (d * d)))
        assert angle == pytest.approx(20, abs=1e-6)
        axis, sign = {"orbit_left": (0, -1), "orbit_right": (0, 1), "orbit_up": (1, -1), "orbit_down": (1, 1)}[preset]
        assert sign * float(c[axis]) > 0.1 * d  # OpenCV: x right, y down
    else:
        sign = 1 if preset == "dolly_in" else -1
        torch.testing.assert_close(c, torch.tensor([0, 0, sign * 0.3 * d], dtype=torch.float64))
        torch.testing.assert_close(tgt.R[-1], src.R[-1])


def test_relative_and_absolute_targets():
    src = _cams(np.random.default_rng(2).normal(size=(4, 3)))
    static = _cams(np.tile([[5.0, 1.0, -2.0]], (4, 1)))  # a static offset path anywhere
    torch.testing.assert_close(relative_targets(src, static).w2c, src.w2c)
    moving = _cams([[0, 0, 0], [0.1, 0, 0], [0.2, 0, 0], [0.3, 0, 0]])  # truck right by 0.1 per frame
    rel = relative_targets(src, moving)
    # target centre = source centre + 0.1 k along the source camera's x axis (R = I here)
    torch.testing.assert_close(rel.centers - src.centers, moving.centers)
    with pytest.raises(ValueError, match="frames but the source video has 4"):
        absolute_targets(src, moving[:3])
    assert absolute_targets(src, _cams(np.zeros((4, 3)), size=(96, 128))).image_size == (H, W)


# ----------------------------------------------------------------------------------------- depth
def _plane_depth(n=2, size=(H, W), f=60.0):
    """Depth of the plane z = 2 + 0.5 * y_world (tilted), seen by cameras at the origin: from the
    ray (x, y, 1) z-depth satisfies z = 2 + 0.5 * z * y_n -> z = 2 / (1 - 0.5 * y_n)."""
    v, _ = np.mgrid[0:size[0], 0:size[1]] + 0.5
    yn = (v - size[0] / 2) / f
    return np.repeat((2.0 / (1 - 0.5 * yn))[None], n, 0).astype(np.float32)


def test_inverse_relative_depth_is_aligned_robustly_with_scale_and_shift():
    z = _plane_depth() * np.array([1.0, 1.5], np.float32)[:, None, None]
    a, b = 0.8, -0.05  # the depth node's unknown affine map of inverse depth
    d = (1 / z - b) / a
    d = (d - d.min()) / (d.max() - d.min())  # scaled to [0, 1] as depth nodes do
    rng = np.random.default_rng(3)
    refs = []
    for k in range(2):
        uv = rng.uniform([0, 0], [W, H], size=(60, 2))
        zr = z[k][uv[:, 1].astype(int), uv[:, 0].astype(int)].astype(np.float64)
        zr[:12] *= rng.uniform(1.5, 3.0, 12)  # 20 % gross outliers
        refs.append((uv, zr))
    aligned = align_depth(torch.from_numpy(d), "inverse_relative", refs)
    np.testing.assert_allclose(aligned.depth.numpy(), z, rtol=2e-3)
    assert aligned.kind == "aligned inverse_relative" and (aligned.residual < 2e-3).all()


def test_metric_depth_is_aligned_by_scale():
    z = _plane_depth(1)
    uv = np.random.default_rng(4).uniform([0, 0], [W, H], size=(30, 2))
    zr = 3.0 * z[0][uv[:, 1].astype(int), uv[:, 0].astype(int)]
    aligned = align_depth(torch.from_numpy(z), "metric", [(uv, zr)])
    np.testing.assert_allclose(aligned.depth.numpy(), 3.0 * z, rtol=1e-4)
    assert aligned.scale[0] == pytest.approx(3.0, rel=1e-4)


def test_coarse_depth_of_a_plane_is_exact_inside_the_points():
    # inverse depth of a plane is affine in the pixel coordinates, so linear interpolation is exact
    z = _plane_depth(1)[0]
    uv = np.random.default_rng(5).uniform([0, 0], [W, H], size=(40, 2))
    uv = np.concatenate([uv, [[0, 0], [W, 0], [0, H], [W, H]]])
    zr = 2.0 / (1 - 0.5 * (uv[:, 1] - H / 2) / 60.0)
    coarse = coarse_depth([(uv, zr)], (H, W))
    assert coarse.kind == "coarse"
    np.testing.assert_allclose(coarse.depth[0].numpy(), z, rtol=1e-5)


@pytest.mark.parametrize("bad, match", [
    (torch.full((3, H, W), 1.0), "has 3 frames but the video has 2"),
    (torch.full((2, H + 1, W), 1.0), "resize the depth maps"),
    (torch.full((2, H, W), float("nan")), "NaN"),
    (torch.zeros(2, H, W), "zero or negative"),
    (-torch.ones(2, H, W), "zero or negative"),
])
def test_bad_depth_is_refused_with_the_fix(bad, match):
    with pytest.raises(ValueError, match=match):
        check_depth(bad, 2, (H, W))


def test_depth_values_refuse_negative_and_metric_zero():
    with pytest.raises(ValueError, match="negative"):
        depth_values(-torch.ones(1, H, W, 3), "inverse_relative")
    with pytest.raises(ValueError, match="zero pixels"):
        depth_values(torch.zeros(1, H, W, 3), "metric")
    assert depth_values(torch.zeros(1, H, W, 3), "inverse_relative").shape == (1, H, W)


# ----------------------------------------------------------------------------------------- renderer
@pytest.fixture(scope="module")
def rendered():
    from raxel_core.synthetic.render import make_scene, render_frames
    from raxel_core.synthetic.room_trajectories import default_demo_trajectory

    scene = make_scene(0)
    src = default_demo_trajectory(3, (96, 128))
    frames, depth, _ = render_frames(scene, src, antialias=1, return_depth=True)
    tgt = preset_targets(src, "orbit_left", 3.0, angle_deg=12)
    tframes, tdepth, _ = render_frames(scene, tgt, antialias=1, return_depth=True)
    return src, frames, depth, tgt, tframes, tdepth


def test_sparse_points_match_the_renderer_depth(rendered):
    src, frames, depth, *_ = rendered
    refs = sparse_points(frames, src)
    for k, (uv, z) in enumerate(refs):
        truth = depth[k][np.floor(uv[:, 1]).astype(int), np.floor(uv[:, 0]).astype(int)]
        assert np.median(np.abs(z - truth) / truth) < 0.02, k


def test_sparse_points_refuse_a_trajectory_of_another_video(rendered):
    src, frames, *_ = rendered
    with pytest.raises(ValueError, match="does not belong to this video"):
        sparse_points(frames[:2], src)


def test_paired_tracks_project_to_the_renderer_points(rendered):
    src, frames, depth, tgt, tframes, tdepth = rendered
    rng = np.random.default_rng(6)
    pts = rng.uniform([0, 0], [128, 96], size=(3, 200, 2)).astype(np.float32)
    tracks = Tracks2D(pts, np.ones((3, 200), bool))
    warp = forward_warp(frames, depth, src, tgt)
    paired = lift_tracks(tracks, depth, src, tgt, target_depth=warp.depth)
    # oracle: the world point from the camera-to-world matrix and the pixel's depth, projected with P = K [R | t]
    for k in range(3):
        i, j = np.floor(pts[k, :, 1]).astype(int), np.floor(pts[k, :, 0]).astype(int)
        rays = np.linalg.solve(src.K[k].numpy(), np.stack([pts[k, :, 0], pts[k, :, 1], np.ones(200)]))
        Xc = rays * depth[k][i, j]
        Xw = src.c2w[k].numpy()[:3, :3] @ Xc + src.c2w[k].numpy()[:3, 3:4]
        P = tgt.K[k].numpy() @ tgt.w2c[k].numpy()[:3]
        x = P @ np.vstack([Xw, np.ones(200)])
        np.testing.assert_allclose(paired.target_xy[k], (x[:2] / x[2]).T, atol=1e-2)
        # visibility against the renderer's own target depth
        inside = (x[0] / x[2] >= 0) & (x[0] / x[2] < 128) & (x[1] / x[2] >= 0) & (x[1] / x[2] < 96)
        col = np.clip((x[0] / x[2]).astype(int), 0, 127)
        row = np.clip((x[1] / x[2]).astype(int), 0, 95)
        truth = inside & (np.abs(tdepth[k][row, col] - x[2]) < 0.03 * x[2])
        assert (paired.target_visibility[k] == truth).mean() >= 0.9, k


def test_tracks_all_outside_or_hidden_are_refused(rendered):
    src, frames, depth, tgt, *_ = rendered
    outside = Tracks2D(np.full((3, 4, 2), 500.0, np.float32), np.ones((3, 4), bool))
    with pytest.raises(ValueError, match="outside the 128x96 frame"):
        lift_tracks(outside, depth, src, tgt)
    hidden = Tracks2D(np.full((3, 4, 2), 10.0, np.float32), np.zeros((3, 4), bool))
    with pytest.raises(ValueError, match="all hidden"):
        lift_tracks(hidden, depth, src, tgt)
    with pytest.raises(ValueError, match="the tracks have 2 frames but the video has 3"):
        lift_tracks(Tracks2D(np.full((2, 4, 2), 10.0, np.float32), np.ones((2, 4), bool)), depth, src, tgt)


def test_warp_refuses_mismatched_trajectories(rendered):
    src, frames, depth, tgt, *_ = rendered
    with pytest.raises(ValueError, match="target trajectory has 2 frames but the video has 3"):
        forward_warp(frames, depth, src, tgt[:2])
    with pytest.raises(ValueError, match="does not belong to this video"):
        forward_warp(frames, depth, src.with_image_size((48, 64)), tgt)


def test_tracks_behind_a_nearer_surface_are_occluded_in_the_target():
    # the two-plane scene of test_nearer_points_win_the_z_buffer: near plane (z = 1) on the left half,
    # far plane (z = 4) on the right; the camera moves left by 0.5, so the near plane covers target
    # columns up to 62 and the far plane's points landing in 40..60 are hidden behind it
    depth = torch.full((1, H, W), 4.0)
    depth[0, :, : W // 2] = 1.0
    src, tgt = _cams([[0, 0, 0]]), _cams([[-0.5, 0, 0]])
    warp = forward_warp(torch.rand(1, H, W, 3), depth, src, tgt)
    # far track at source u = 40.5 -> target 40.5 + 7.5 = 48 (hidden); near track at u = 10.5 -> 40.5
    # (visible); far track at u = 60.5 -> 68: outside the 64-px frame
    pts = np.array([[[40.5, 20.5], [10.5, 20.5], [60.5, 20.5]]], np.float32)
    paired = lift_tracks(Tracks2D(pts, np.ones((1, 3), bool)), depth, src, tgt, target_depth=warp.depth)
    np.testing.assert_allclose(paired.target_xy[0, :, 0], [48.0, 40.5, 68.0], atol=1e-4)
    np.testing.assert_allclose(paired.target_depth[0], [4.0, 1.0, 4.0], atol=1e-5)
    assert paired.target_visibility[0].tolist() == [False, True, False]
    assert paired.source_visibility[0].all()
