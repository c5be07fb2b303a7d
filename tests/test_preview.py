"""Trajectory preview images: layout, frustums, time colours, reference overlay, file output."""
import math

import cv2
import numpy as np
import pytest
import torch
from synthetic_fixtures import rotation_only_trajectory

from raxel_core.cameras import Cameras
from raxel_core.preview import (
    PANEL_BACKGROUND,
    REFERENCE,
    align_to_reference,
    frustum_points,
    preview_layout,
    save_preview,
    trajectory_preview,
)
from raxel_core.synthetic.room_trajectories import default_demo_trajectory


def trajectory(centres, size=(240, 320), fov_y_deg=50.0) -> Cameras:
    """Cameras looking along +z (R = I) at the given ``(N, 3)`` centres: ``t = -c``."""
    c = torch.as_tensor(np.asarray(centres, dtype=np.float64))
    n = c.shape[0]
    R = torch.eye(3, dtype=torch.float64).repeat(n, 1, 1)
    return Cameras(Cameras.intrinsics_from_fov(fov_y_deg, size, n), R, -c, size)


def truck_right(n=16, distance=2.0) -> Cameras:
    x = np.linspace(0.0, distance, n)
    return trajectory(np.stack([x, np.zeros(n), np.zeros(n)], -1))


def drawn(img: np.ndarray, xy, radius: int = 1) -> bool:
    """Whether anything other than the panel background is drawn within ``radius`` pixels."""
    x, y = (int(round(v)) for v in xy)
    patch = img[max(y - radius, 0):y + radius + 1, max(x - radius, 0):x + radius + 1].astype(int)
    return bool((np.abs(patch - np.array(PANEL_BACKGROUND)).max(-1) > 30).any())


def test_output_shape_and_dtype():
    cams = default_demo_trajectory(24)
    img = trajectory_preview(cams)
    assert img.shape == (512, 1024, 3) and img.dtype == np.uint8
    small = trajectory_preview(cams, size=(300, 640), reference=cams, highlight=5)
    assert small.shape == (300, 640, 3) and small.dtype == np.uint8


def test_static_trajectory_still_shows_its_frustums():
    cams = trajectory(np.zeros((5, 3)) + [0.2, -0.1, 0.4])
    img = trajectory_preview(cams)
    layout = preview_layout(cams)
    assert layout.extent == 0 and layout.frustum_depth == 1.0  # zero extent: a unit-deep frustum
    points = frustum_points(cams, layout.frustum_depth)[0]  # apex, then 4 image corners
    for view in ("top", "side"):
        xy = layout.project(points, view)
        x0, y0, x1, y1 = layout.panels[view].rect
        assert ((xy >= [x0, y0]) & (xy <= [x1, y1])).all()  # the frustum fits in the panel
        # the frustum spans a good part of the panel, and its edges are drawn: the middle of the
        # apex -> far corner lines and of the far rectangle's edges are not background
        assert np.ptp(xy, axis=0).max() > 0.5 * min(x1 - x0, y1 - y0)
        for corner in range(1, 5):
            assert drawn(img, (xy[0] + xy[corner]) / 2), (view, corner)
        far = xy[1:]
        for a, b in ((0, 1), (1, 2)):
            if np.linalg.norm(far[a] - far[b]) > 4:  # edges seen end-on collapse to a point
                assert drawn(img, (far[a] + far[b]) / 2), (view, a, b)


def test_frustums_and_path_are_coloured_by_time():
    cams = truck_right(24)
    img = trajectory_preview(cams)
    layout = preview_layout(cams)
    xy = layout.project(cams.centers.numpy(), "top")
    # the path from blue (early) to red (late): sample the middle of an early and a late segment
    early = img[int(round((xy[2, 1] + xy[3, 1]) / 2)), int(round((xy[2, 0] + xy[3, 0]) / 2))].astype(int)
    late = img[int(round((xy[20, 1] + xy[21, 1]) / 2)), int(round((xy[20, 0] + xy[21, 0]) / 2))].astype(int)
    assert early[2] > early[0] + 40, early  # blue-ish
    assert late[0] > late[2] + 40, late  # red-ish
    # many distinct saturated hues appear in the panels (the ramp), not one colour
    x0, y0, x1, y1 = layout.panels["top"].rect
    panel = img[y0:y1, x0:x1]
    hsv = cv2.cvtColor(panel, cv2.COLOR_RGB2HSV)
    saturated = hsv[..., 1] > 120
    hues = np.unique(hsv[..., 0][saturated] // 10)
    assert len(hues) >= 8, hues


def test_truck_right_goes_right_in_the_top_view():
    cams = truck_right(16, distance=2.0)
    img = trajectory_preview(cams)
    layout = preview_layout(cams)
    start, end = layout.project(cams.centers.numpy()[[0, -1]], "top")
    assert end[0] - start[0] > 200  # 2 units to the right across a ~500 pixel panel
    assert abs(end[1] - start[1]) < 1e-6  # no forward motion: the same height in the top view
    assert drawn(img, start) and drawn(img, end) and drawn(img, (start + end) / 2)
    # in the side view (z right, -y up) a sideways move collapses onto one point
    s_start, s_end = layout.project(cams.centers.numpy()[[0, -1]], "side")
    assert np.allclose(s_start, s_end)
    # a dolly forward (+z) goes up in the top view and right in the side view
    z = np.linspace(0.0, 2.0, 8)
    dolly = trajectory(np.stack([np.zeros(8), np.zeros(8), z], -1))
    dl = preview_layout(dolly)
    a, b = dl.project(dolly.centers.numpy()[[0, -1]], "top")
    assert b[1] < a[1] - 100 and abs(b[0] - a[0]) < 1e-6
    a, b = dl.project(dolly.centers.numpy()[[0, -1]], "side")
    assert b[0] > a[0] + 100
    # a crane up (-y in OpenCV) goes up in the side view
    up = trajectory(np.stack([np.zeros(8), -z, np.zeros(8)], -1))
    ul = preview_layout(up)
    a, b = ul.project(up.centers.numpy()[[0, -1]], "side")
    assert b[1] < a[1] - 100


def test_panels_have_equal_aspect_and_hold_the_trajectory():
    cams = default_demo_trajectory(24)
    layout = preview_layout(cams)
    centres = cams.centers.numpy()
    for view, panel in layout.panels.items():
        # equal aspect: a unit step along either panel axis is the same number of pixels
        o = centres[0]
        dh, dv = np.zeros(3), np.zeros(3)
        dh[panel.axis_h], dv[panel.axis_v] = 1.0, 1.0
        xy = panel.project(np.stack([o, o + dh, o + dv]))
        assert np.linalg.norm(xy[1] - xy[0]) == pytest.approx(np.linalg.norm(xy[2] - xy[0]))
        x0, y0, x1, y1 = panel.rect
        pts = panel.project(frustum_points(cams, layout.frustum_depth).reshape(-1, 3))
        assert ((pts >= [x0, y0]) & (pts <= [x1, y1])).all(), view


def test_reference_is_overlaid_in_grey():
    cams = truck_right(12)
    shifted = trajectory(cams.centers.numpy() + [0.0, 0.0, 0.8])  # 0.8 units ahead
    img = trajectory_preview(cams, reference=shifted)
    layout = preview_layout(cams, reference=shifted)
    a, b = layout.project(shifted.centers.numpy()[[4, 5]], "top")
    mid = img[int(round((a[1] + b[1]) / 2)), int(round((a[0] + b[0]) / 2))].astype(int)
    assert np.abs(mid - np.array(REFERENCE)).max() <= 40 and np.ptp(mid) <= 10, mid  # grey


def test_rotation_only_trajectory_fans_out_from_one_point():
    cams = rotation_only_trajectory(9, pan_deg=60.0)
    img = trajectory_preview(cams, highlight=-1)
    layout = preview_layout(cams)
    far = layout.project(frustum_points(cams, layout.frustum_depth)[:, 1], "top")  # image top-left corner
    assert np.all(np.diff(far[:, 0]) > 0)  # panning right: frustums turn towards +x
    assert drawn(img, far[-1])


def test_bad_arguments_raise():
    cams = truck_right(4)
    with pytest.raises(ValueError, match="out of range"):
        trajectory_preview(cams, highlight=4)
    with pytest.raises(ValueError, match="at least"):
        trajectory_preview(cams, size=(64, 64))
    bad = Cameras(cams.K, cams.R * 2.0, cams.t, cams.image_size)
    with pytest.raises(ValueError, match="not a proper rotation"):
        trajectory_preview(bad)


def test_save_preview_writes_a_png_atomically(tmp_path):
    cams = default_demo_trajectory(8)
    path = save_preview(tmp_path / "preview.png", cams, size=(256, 512))
    back = cv2.imread(str(path))
    assert back.shape == (256, 512, 3)
    assert np.array_equal(back[..., ::-1], trajectory_preview(cams, size=(256, 512)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preview.png"]  # no temporary left
    with pytest.raises(ValueError, match=".png"):
        save_preview(tmp_path / "preview.jpg", cams)
    with pytest.raises(ValueError, match="does not exist"):
        save_preview(tmp_path / "missing" / "p.png", cams)


def test_align_to_reference_undoes_a_known_similarity_even_on_a_straight_path():
    """The estimate is the reference seen in another world frame: world_ref = s0 R0 world_est + t0,
    built here from camera-to-world matrices (c2w_est = T^-1 c2w_ref, scale on the centre only). The
    demo's path is a straight line, where centres alone cannot fix the turn about the line."""
    from raxel_core.geometry.rotations import rotation_error_deg

    ref = default_demo_trajectory(num_frames=10)
    s0, t0 = 0.25, torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64)
    a = math.radians(70.0)
    R0 = torch.tensor([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]], dtype=torch.float64)
    c2w_ref = ref.c2w
    c2w_est = torch.zeros(len(ref), 4, 4, dtype=torch.float64)
    c2w_est[:, :3, :3] = R0.T @ c2w_ref[:, :3, :3]
    c2w_est[:, :3, 3] = (c2w_ref[:, :3, 3] - t0) @ R0 / s0          # R0^T (c - t0) / s0, row-wise
    c2w_est[:, 3, 3] = 1
    est = Cameras.from_c2w(c2w_est, ref.K, ref.image_size)
    aligned, scale = align_to_reference(est, ref)
    assert scale == pytest.approx(s0, rel=1e-9)
    assert float((aligned.centers - ref.centers).abs().max()) < 1e-9
    assert float(rotation_error_deg(aligned.R, ref.R).max()) < 1e-6
    assert torch.equal(aligned.K, est.K)
    static = Cameras(K=ref.K, R=ref.R, t=torch.zeros(len(ref), 3, dtype=torch.float64), image_size=ref.image_size)
    with pytest.raises(ValueError, match="no scale"):
        align_to_reference(static, ref)
    with pytest.raises(ValueError, match="cannot align 9"):
        align_to_reference(est[:9], ref)
