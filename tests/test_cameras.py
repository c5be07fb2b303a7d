"""The one camera type: conventions, derived quantities and validation errors."""

import pytest
import torch

from raxel_core.cameras import Cameras, look_at_w2c
from raxel_core.geometry.rotations import project_to_rotation


def random_cameras(n=6, seed=0, size=(240, 416)):
    g = torch.Generator().manual_seed(seed)
    R = project_to_rotation(torch.randn(n, 3, 3, generator=g, dtype=torch.float64))
    t = torch.randn(n, 3, generator=g, dtype=torch.float64)
    return Cameras(Cameras.intrinsics_from_fov(55.0, size, n), R, t, size)


def test_projection_follows_opencv_convention():
    # A camera at the origin looking along +z: a point right of and below the axis projects
    # right of and below the principal point (u = fx X / Z + cx, v = fy Y / Z + cy).
    cams = Cameras(Cameras.intrinsics_matrix(100.0, 100.0, 50.0, 40.0), torch.eye(3)[None],
                   torch.zeros(1, 3), (80, 100))
    X = torch.tensor([0.5, 0.2, 2.0], dtype=torch.float64)
    x = cams.K[0] @ (cams.R[0] @ X + cams.t[0])
    u, v = x[0] / x[2], x[1] / x[2]
    assert float(u) == pytest.approx(100 * 0.5 / 2 + 50)
    assert float(v) == pytest.approx(100 * 0.2 / 2 + 40)


def test_centres_and_matrix_round_trips():
    cams = random_cameras()
    c = cams.centers
    # c = -R^T t  <=>  R c + t = 0
    assert torch.allclose(cams.R @ c[..., None] + cams.t[..., None], torch.zeros(6, 3, 1, dtype=torch.float64),
                          atol=1e-12)
    assert torch.allclose(cams.w2c @ cams.c2w, torch.eye(4, dtype=torch.float64).expand(6, 4, 4), atol=1e-12)
    back = Cameras.from_c2w(cams.c2w, cams.K, cams.image_size)
    assert torch.allclose(back.R, cams.R, atol=1e-12) and torch.allclose(back.t, cams.t, atol=1e-12)
    gl = Cameras.from_c2w_opengl(cams.c2w_opengl(), cams.K, cams.image_size)
    assert torch.allclose(gl.R, cams.R, atol=1e-12) and torch.allclose(gl.t, cams.t, atol=1e-12)


def test_opengl_camera_looks_along_minus_z():
    # OpenGL c2w = identity: the camera looks down world -z with y up, so in OpenCV world-to-camera
    # terms a point at world (0, 1, -2) is above the image centre (negative v offset).
    cams = Cameras.from_c2w_opengl(torch.eye(4)[None], Cameras.intrinsics_matrix(1, 1, 0, 0), (2, 2))
    x = cams.R[0] @ torch.tensor([0.0, 1.0, -2.0], dtype=torch.float64) + cams.t[0]
    assert x[2] > 0 and x[1] < 0


def test_relative_to_makes_reference_identity_and_preserves_relative_motion():
    cams = random_cameras()
    rel = cams.relative_to(3)
    assert torch.allclose(rel.R[3], torch.eye(3, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(rel.t[3], torch.zeros(3, dtype=torch.float64), atol=1e-12)
    i, j = [0, 1, 4], [5, 2, 3]
    assert torch.allclose(rel.relative_poses(i, j), cams.relative_poses(i, j), atol=1e-12)


def test_look_at_points_the_optical_axis_at_the_target():
    eye = torch.tensor([[1.0, -2.0, -4.0]], dtype=torch.float64)
    target = torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)
    w2c = look_at_w2c(eye, target)
    x = w2c[0, :3, :3] @ target[0] + w2c[0, :3, 3]
    assert abs(float(x[0])) < 1e-12 and abs(float(x[1])) < 1e-12 and x[2] > 0
    with pytest.raises(ValueError, match="coincides"):
        look_at_w2c(eye, eye)


def test_with_image_size_rescales_intrinsics():
    cams = random_cameras(size=(240, 416)).with_image_size((120, 208))
    assert cams.image_size == (120, 208)
    assert torch.allclose(cams.cx, torch.full((6,), 104.0, dtype=torch.float64))


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("t", float("nan"), r"frame 2 has a non-finite value .* in t"),
        ("R", 1.5, r"frame 2 rotation is not a proper rotation"),
        ("K", -10.0, r"frame 2 has a non-positive focal length"),
    ],
)
def test_validate_names_the_frame_field_and_fix(field, value, message):
    cams = random_cameras()
    K, R, t = cams.K.clone(), cams.R.clone(), cams.t.clone()
    {"t": lambda: t.__setitem__((2, 0), value), "R": lambda: R.__setitem__((2, 0, 0), value),
     "K": lambda: K.__setitem__((2, 0, 0), value)}[field]()
    with pytest.raises(ValueError, match=message):
        Cameras(K, R, t, cams.image_size).validate("poses.txt")
    with pytest.raises(ValueError, match="poses.txt"):
        Cameras(K, R, t, cams.image_size).validate("poses.txt")


def test_reflection_is_rejected_and_frame_count_checked():
    cams = random_cameras()
    R = cams.R.clone()
    R[1] = -R[1]  # det -1
    with pytest.raises(ValueError, match="frame 1 rotation"):
        Cameras(cams.K, R, cams.t, cams.image_size).validate()
    with pytest.raises(ValueError, match="6 frames but the video has 81"):
        cams.check_frame_count(81)
    with pytest.raises(ValueError, match="same number of frames"):
        Cameras(cams.K, cams.R[:5], cams.t, cams.image_size)
