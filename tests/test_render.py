"""The synthetic renderer and the photo pan emulation: geometry against closed forms, features,
determinism, and homographies between frames of a pure rotation."""
import math

import cv2
import numpy as np
import pytest
import torch
from synthetic_fixtures import crop_sequence, rotation_only_trajectory

from raxel_core.cameras import Cameras, look_at_w2c
from raxel_core.geometry.rotations import rotation_error_deg
from raxel_core.synthetic.render import FACE_TEXTURE_AXES, Scene, make_scene, render_frames
from raxel_core.synthetic.room_trajectories import default_demo_trajectory


@pytest.fixture(scope="module")
def scene():
    return make_scene(0)


@pytest.fixture(scope="module")
def empty_room():
    return make_scene(1, kind="empty_room")


def bilinear_by_hand(texture: np.ndarray, u: float, v: float) -> np.ndarray:
    """Texture value at continuous texel coordinates (texel centres at integers), edge clamped."""
    rows, cols = texture.shape[:2]
    u0, v0 = math.floor(u), math.floor(v)
    fu, fv = u - u0, v - v0
    c = lambda r, q: texture[min(max(r, 0), rows - 1), min(max(q, 0), cols - 1)].astype(np.float64)  # noqa: E731
    return ((c(v0, u0) * (1 - fu) + c(v0, u0 + 1) * fu) * (1 - fv)
            + (c(v0 + 1, u0) * (1 - fu) + c(v0 + 1, u0 + 1) * fu) * fv)


def homography_index(H_cont: np.ndarray) -> np.ndarray:
    """A homography between continuous pixel coordinates (centres at +0.5) as one between OpenCV
    pixel indices (centres at integers)."""
    S = np.array([[1.0, 0, -0.5], [0, 1.0, -0.5], [0, 0, 1.0]])
    return S @ H_cont @ np.linalg.inv(S)


def alignment_error(src: np.ndarray, dst: np.ndarray, H_cont: np.ndarray, flags=cv2.INTER_LINEAR):
    """Mean absolute difference (grey levels) between ``dst`` and ``src`` warped by ``H_cont``, in
    their overlap away from its border, after a Gaussian blur (sigma 1 pixel) of both so that
    resampling noise counts less than misalignment."""
    h, w = dst.shape[:2]
    H = homography_index(H_cont)
    warped = cv2.warpPerspective(src, H, (w, h), flags=flags)
    valid = cv2.warpPerspective(np.ones((h, w), np.uint8), H, (w, h), flags=cv2.INTER_NEAREST)
    valid = cv2.erode(valid, np.ones((9, 9), np.uint8)).astype(bool)
    assert valid.mean() > 0.6, "frames barely overlap"
    blur = lambda x: cv2.GaussianBlur(x, (0, 0), 1.0).astype(np.float64)  # noqa: E731
    return float(np.abs(blur(warped) - blur(dst))[valid].mean())


#: Image shift of half a pixel along x, composed with a homography: a just-visible misalignment.
HALF_PIXEL = np.array([[1.0, 0, 0.5], [0, 1.0, 0], [0, 0, 1.0]])


def test_pixels_match_analytic_ray_hits(empty_room):
    # A camera at c looking along +z (R = I): the ray through pixel centre (j + 0.5, i + 0.5) is
    # d = K^-1 [u, v, 1]. From inside the room it leaves through the plane of axis k at
    # s_k = (bound_k - c_k) / d_k (bound = max where d_k > 0, else min); the nearest is the hit.
    # The colour there is the face texture sampled bilinearly at texel coordinates
    # ((a - lo_a) / texel - 0.5, (b - lo_b) / texel - 0.5).
    size = (40, 60)
    c = np.array([0.3, 0.1, 2.5])
    K = Cameras.intrinsics_from_fov(60.0, size)
    cams = Cameras(K, torch.eye(3, dtype=torch.float64)[None], torch.from_numpy(-c)[None], size)
    frame = render_frames(empty_room, cams, antialias=1)[0]
    Kinv = np.linalg.inv(K[0].numpy())
    lo, hi = empty_room.room_min, empty_room.room_max
    faces_seen = set()
    for i, j in [(0, 0), (0, 59), (5, 50), (20, 30), (13, 7), (39, 59), (39, 1), (39, 30), (30, 20)]:
        d = Kinv @ np.array([j + 0.5, i + 0.5, 1.0])
        s_axes = [((hi[k] if d[k] > 0 else lo[k]) - c[k]) / d[k] if d[k] != 0 else np.inf for k in range(3)]
        k = int(np.argmin(s_axes))
        face = 2 * k + int(d[k] > 0)
        p = c + s_axes[k] * d
        a, b = FACE_TEXTURE_AXES[k]
        u = (p[a] - lo[a]) / empty_room.texel_size - 0.5
        v = (p[b] - lo[b]) / empty_room.texel_size - 0.5
        expected = bilinear_by_hand(empty_room.textures[face], u, v)
        assert np.abs(frame[i, j].astype(np.float64) - expected).max() <= 1.0, (i, j, face)
        faces_seen.add(face)
    assert {5, 3} <= faces_seen  # the back wall and the floor were both exercised


def test_frames_are_deterministic_for_a_seed():
    cams = default_demo_trajectory(3, image_size=(48, 64))
    a = render_frames(make_scene(7), cams)
    b = render_frames(make_scene(7), cams)
    c = render_frames(make_scene(8), cams)
    assert a.dtype == np.uint8 and a.shape == (3, 48, 64, 3)
    assert np.array_equal(a, b)
    assert np.abs(a.astype(int) - c.astype(int)).mean() > 10  # another seed, another scene


def flat_scene() -> Scene:
    """One box on the floor; flat colours: the box's front face (z_min) red, its other faces
    green, the room grey."""
    room_min, room_max = np.array([-3.0, -1.5, -2.0]), np.array([3.0, 1.5, 5.0])
    box_min, box_max = np.array([[-0.6, 0.3, 1.5]]), np.array([[0.5, 1.49, 2.4]])
    texel = 0.05
    textures = []
    for f in range(12):
        owner, local = divmod(f, 6)
        lo, hi = (room_min, room_max) if owner == 0 else (box_min[0], box_max[0])
        a, b = FACE_TEXTURE_AXES[local // 2]
        shape = (math.ceil((hi[b] - lo[b]) / texel - 1e-9), math.ceil((hi[a] - lo[a]) / texel - 1e-9), 3)
        colour = (90, 90, 90) if owner == 0 else ((220, 30, 30) if local == 4 else (30, 200, 30))
        textures.append(np.broadcast_to(np.array(colour, np.uint8), shape).copy())
    return Scene(room_min, room_max, box_min, box_max, tuple(textures), texel)


def test_box_corners_project_where_the_edges_are_rendered():
    scene = flat_scene()
    size = (120, 160)
    w2c = look_at_w2c(torch.tensor([0.4, -0.4, -0.8]), torch.tensor([-0.05, 0.9, 1.9]))
    cams = Cameras.from_w2c(w2c, Cameras.intrinsics_from_fov(60.0, size), size)
    frame, depth, faces = render_frames(scene, cams, antialias=2, return_depth=True)
    frame = frame[0].astype(int)
    red = np.array([220, 30, 30])
    # the four corners of the front face z = 1.5, projected with u ~ K [R | t] X
    x0, y0, z0 = scene.box_min[0]
    x1, y1 = scene.box_max[0][:2]
    corners = np.array([[x0, y0, z0], [x1, y0, z0], [x1, y1, z0], [x0, y1, z0]])
    P = (cams.K[0] @ torch.cat([cams.R[0], cams.t[0][:, None]], 1)).numpy()
    uvw = (P @ np.c_[corners, np.ones(4)].T).T
    uv = uvw[:, :2] / uvw[:, 2:]
    centre = uv.mean(0)
    assert ((uv > 5) & (uv < [size[1] - 5, size[0] - 5])).all()  # all in view
    for (u, v) in uv:
        inward = (centre - (u, v)) / np.linalg.norm(centre - (u, v))
        step = inward * 2.5 * math.sqrt(2)  # >= 1.7 pixels from both edges of the corner
        iu, iv = (np.array([u, v]) + step).astype(int)  # pixel index containing the point
        ou, ov = (np.array([u, v]) - step).astype(int)
        assert np.abs(frame[iv, iu] - red).max() <= 2, ("inside", u, v, frame[iv, iu])
        assert np.abs(frame[ov, ou] - red).max() > 60, ("outside", u, v, frame[ov, ou])
    # z-depth at the projected face centre equals the camera z of the face centre
    X = corners.mean(0)
    z = float((cams.R[0].numpy() @ X + cams.t[0].numpy())[2])
    xc = P @ np.r_[X, 1.0]
    j, i = int(xc[0] / xc[2]), int(xc[1] / xc[2])
    assert faces[0, i, j] == 6 + 4
    assert depth[0, i, j] == pytest.approx(z, rel=0.02)  # pixel centre vs exact point: < 2%


def test_demo_frames_have_many_sift_features(scene):
    cams = default_demo_trajectory(24)
    frames = render_frames(scene, Cameras.concatenate([cams[0], cams[12], cams[23]]))
    sift = cv2.SIFT_create()
    counts = [len(sift.detect(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), None)) for f in frames]
    assert min(counts) > 400, counts


def test_demo_trajectory_moves_inside_the_room_with_parallax(scene):
    cams = default_demo_trajectory(24)
    assert len(cams) == 24 and cams.image_size == (256, 384)
    cams.validate("demo")
    centres = cams.centers.numpy()
    assert scene.contains(centres).all()
    assert np.linalg.norm(centres[-1] - centres[0]) > 1.5  # a real baseline, not a tripod move
    assert float(rotation_error_deg(cams.R[0], cams.R[-1])) > 5  # and a pan


def test_cameras_outside_the_room_or_inside_a_box_are_refused(scene):
    size = (16, 16)
    K = Cameras.intrinsics_from_fov(60.0, size)
    outside = Cameras(K, torch.eye(3, dtype=torch.float64)[None], torch.tensor([[0.0, 0.0, -10.0]]), size)
    with pytest.raises(ValueError, match="outside the room"):
        render_frames(scene, outside)
    inside_box = torch.from_numpy((scene.box_min[0] + scene.box_max[0]) / 2)
    in_box = Cameras(K, torch.eye(3, dtype=torch.float64)[None], -inside_box[None], size)
    with pytest.raises(ValueError, match="inside a box"):
        render_frames(scene, in_box)
    with pytest.raises(ValueError, match="unknown scene kind"):
        make_scene(0, kind="garden")


def test_rendered_rotation_frames_are_related_by_the_rotation_homography(scene):
    # Pure rotation: x_1 ~ K R_1 R_0^T K^-1 x_0 whatever the depth (Hartley & Zisserman 8.4.2)
    cams = rotation_only_trajectory(2, image_size=(128, 192), pan_deg=6.0, tilt_deg=3.0)
    assert torch.allclose(cams.centers[0], cams.centers[1])
    f0, f1 = render_frames(scene, cams)
    K = cams.K[0].numpy()
    H = K @ cams.R[1].numpy() @ cams.R[0].numpy().T @ np.linalg.inv(K)
    err = alignment_error(f0, f1, H)
    # the known homography aligns the frames clearly better than one half a pixel off, and far
    # better than no warp at all
    assert err < 0.6 * alignment_error(f0, f1, HALF_PIXEL @ H), err
    assert err < 0.2 * alignment_error(f0, f1, np.eye(3)), err


@pytest.fixture(scope="module")
def fern(shared_file):
    photo = shared_file("llff_fern/images_8/image000.png")
    return cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)


def test_crop_sequence_frames_follow_the_known_homographies(fern):
    frames, cams = crop_sequence(fern, num_frames=5, crop_size=(240, 320), pan_deg=8.0, tilt_deg=4.0)
    assert frames.shape == (5, 240, 320, 3) and frames.dtype == np.uint8
    cams.validate("crop_sequence")
    assert torch.allclose(cams.centers, torch.zeros(5, 3, dtype=torch.float64))
    # the whole sweep is the requested pan / tilt: R_4 R_0^T is Ry(8 deg) Rx(4 deg) in camera 0's frame
    total = float(rotation_error_deg(cams.R[0], cams.R[-1]))
    assert total == pytest.approx(math.hypot(8.0, 4.0), abs=0.1)
    K = cams.K[0].numpy()
    for i in range(4):
        H = K @ cams.R[i + 1].numpy() @ cams.R[i].numpy().T @ np.linalg.inv(K)
        err = alignment_error(frames[i], frames[i + 1], H, cv2.INTER_CUBIC)
        assert err < 1.2, (i, err)
        assert err < 0.5 * alignment_error(frames[i], frames[i + 1], HALF_PIXEL @ H, cv2.INTER_CUBIC)
        assert err < 0.1 * alignment_error(frames[i], frames[i + 1], np.eye(3), cv2.INTER_CUBIC)
    # frame k is the photo seen through K R_k K_photo^-1: the middle frame (R = I) is a centre crop
    mid_frames, _ = crop_sequence(fern, num_frames=3, crop_size=(240, 320), pan_deg=8.0)
    H0, W0 = fern.shape[:2]
    crop = fern[(H0 - 240) // 2:(H0 - 240) // 2 + 240, (W0 - 320) // 2:(W0 - 320) // 2 + 320]
    assert np.abs(mid_frames[1].astype(int) - crop.astype(int)).max() <= 1


def test_crop_sequence_refuses_a_sweep_past_the_photo(fern):
    with pytest.raises(ValueError, match="past the photo's edge"):
        crop_sequence(fern, num_frames=4, crop_size=(240, 320), pan_deg=40.0)
    with pytest.raises(ValueError, match="uint8"):
        crop_sequence(fern.astype(np.float32), num_frames=4)
