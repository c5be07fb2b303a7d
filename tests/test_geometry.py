"""Geometry primitives (raxel_core.geometry): closed forms and round trips over float32 and float64,
including degenerate inputs (angle 0, angle pi, reflections, collinear and coincident points)."""
import math

import cv2
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from raxel_core.authoring.trajectory_presets import make_preset
from raxel_core.geometry.alignment import det3, kabsch, procrustes_rotation, umeyama_alignment
from raxel_core.geometry.pixels import pixel_centers
from raxel_core.geometry.rotations import (
    project_to_rotation,
    rotation_about_x,
    rotation_about_y,
    rotation_about_z,
    rotation_angle_deg,
    rotation_error_deg,
    rotation_from_euler_deg,
    so3_exp,
    so3_log,
)

DTYPES = [torch.float32, torch.float64]
#: Round-trip tolerance per dtype (float32 has ~6e-8 relative precision; 3x3 products lose a little).
ATOL = {torch.float32: 2e-6, torch.float64: 1e-12}


def random_rotations(n: int, seed: int, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return project_to_rotation(torch.randn(n, 3, 3, generator=g, dtype=torch.float64)).to(dtype)


def axis_angle(n: int, seed: int, angle: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    axis = torch.nn.functional.normalize(torch.randn(n, 3, generator=g, dtype=torch.float64), dim=-1)
    return axis * angle


def rodrigues_cv2(v: torch.Tensor) -> torch.Tensor:
    """OpenCV's Rodrigues, the independent reference for so3_exp."""
    return torch.from_numpy(np.stack([cv2.Rodrigues(x.reshape(3, 1))[0] for x in v.double().numpy()]))


# --------------------------------------------------------------------------- nearest rotation
@pytest.mark.parametrize("dtype", DTYPES)
def test_project_to_rotation_returns_proper_rotations_and_keeps_rotations(dtype):
    g = torch.Generator().manual_seed(1)
    M = torch.randn(32, 3, 3, generator=g, dtype=torch.float64).to(dtype)
    R = project_to_rotation(M)
    assert R.dtype == dtype
    eye = torch.eye(3, dtype=dtype).expand(32, 3, 3)
    assert torch.allclose(R.transpose(1, 2) @ R, eye, atol=ATOL[dtype] * 10)
    assert torch.allclose(torch.linalg.det(R), torch.ones(32, dtype=dtype), atol=ATOL[dtype] * 10)
    Q = random_rotations(8, 2, dtype)
    assert torch.allclose(project_to_rotation(Q), Q, atol=ATOL[dtype] * 10)


def test_project_to_rotation_turns_a_reflection_into_the_nearest_rotation():
    # diag(1, 1, -1) is a reflection; the nearest rotation flips the axis of the smallest singular
    # value: for diag(3, 2, -1) that is z, giving the identity
    M = torch.diag(torch.tensor([3.0, 2.0, -1.0], dtype=torch.float64))
    assert torch.allclose(project_to_rotation(M), torch.eye(3, dtype=torch.float64), atol=1e-12)
    R = random_rotations(4, 3)
    reflected = R @ torch.diag(torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64))
    P = project_to_rotation(reflected)
    assert torch.allclose(torch.linalg.det(P), torch.ones(4, dtype=torch.float64), atol=1e-12)


# --------------------------------------------------------------------------- SO(3) log / exp
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("angle", [0.0, 1e-12, 1e-8, 1e-4, 0.3, 1.0, 2.5, math.pi - 1e-6, math.pi])
def test_so3_exp_matches_rodrigues_and_log_inverts_it(dtype, angle):
    v = axis_angle(16, 4, angle)
    R = so3_exp(v.to(dtype))
    assert R.dtype == dtype and R.shape == (16, 3, 3)
    assert torch.allclose(R.double(), rodrigues_cv2(v), atol=ATOL[dtype])
    back = so3_log(R)
    assert back.dtype == dtype and torch.isfinite(back).all()
    # the same rotation (at pi the axis sign is arbitrary, so compare rotations) and the same angle
    assert torch.allclose(so3_exp(back).double(), R.double(), atol=ATOL[dtype] * 10)
    assert torch.allclose(back.double().norm(dim=-1), torch.full((16,), angle, dtype=torch.float64),
                          atol=ATOL[dtype] * 10)
    if angle < math.pi - 1e-3:  # away from pi the vector itself comes back
        assert torch.allclose(back.double(), v, atol=ATOL[dtype] * 10)


def test_so3_log_and_exp_keep_batch_shapes():
    v = axis_angle(12, 5, 0.7).reshape(3, 4, 3)
    R = so3_exp(v)
    assert R.shape == (3, 4, 3, 3)
    assert so3_log(R).shape == (3, 4, 3)
    assert torch.allclose(so3_log(R), v, atol=1e-12)


# --------------------------------------------------------------------------- rotation angles
def test_rotation_angle_is_accurate_near_zero_and_pi():
    for angle in (1e-9, 1e-6, 0.01, 45.0, 179.9):
        a = math.radians(angle)
        R = torch.tensor([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]],
                         dtype=torch.float64)
        assert float(rotation_angle_deg(R)) == pytest.approx(angle, rel=1e-9, abs=1e-12)
    R = random_rotations(6, 0)
    assert float(rotation_error_deg(R, R).max()) < 1e-10


@pytest.mark.parametrize("dtype", DTYPES)
def test_rotation_angle_of_axis_angle_rotations_is_the_angle(dtype):
    angles = torch.tensor([0.0, 1e-6, 0.5, 1.5, 3.0, math.pi], dtype=torch.float64)
    v = axis_angle(6, 6, 1.0) * angles[:, None]
    R = so3_exp(v.to(dtype))
    deg = rotation_angle_deg(R)
    assert deg.dtype == torch.float64  # converted to float64 first
    assert torch.allclose(deg, torch.rad2deg(angles), atol=1e-4 if dtype == torch.float32 else 1e-9)
    assert float(rotation_angle_deg(torch.eye(3))) == 0.0
    assert float(rotation_angle_deg(torch.diag(torch.tensor([-1.0, -1.0, 1.0])))) == pytest.approx(180.0)


def test_rotation_error_is_symmetric_and_accepts_numpy():
    Ra, Rb = random_rotations(10, 7), random_rotations(10, 8)
    ab, ba = rotation_error_deg(Ra, Rb), rotation_error_deg(Rb, Ra)
    assert torch.allclose(ab, ba, atol=1e-10)
    assert torch.allclose(rotation_error_deg(Ra.numpy(), Rb.numpy()), ab, atol=0)
    # the angle of R_a^T R_b equals the norm of its axis-angle vector
    assert torch.allclose(ab, torch.rad2deg(so3_log(Ra.transpose(1, 2) @ Rb).norm(dim=-1)), atol=1e-9)


# --------------------------------------------------------------------------- axis rotations, Euler
@pytest.mark.parametrize("dtype", DTYPES)
def test_axis_rotations_match_axis_angle_and_the_documented_images(dtype):
    a = torch.tensor([-2.0, -0.3, 0.0, 0.4, 3.0], dtype=dtype)
    for rot, axis in ((rotation_about_x, 0), (rotation_about_y, 1), (rotation_about_z, 2)):
        v = torch.zeros(5, 3, dtype=dtype)
        v[:, axis] = a
        assert torch.allclose(rot(a), so3_exp(v), atol=ATOL[dtype])
    s, c = torch.sin(a), torch.cos(a)
    z, x = torch.tensor([0.0, 0.0, 1.0], dtype=dtype), torch.tensor([1.0, 0.0, 0.0], dtype=dtype)
    assert torch.allclose(rotation_about_x(a) @ z, torch.stack([0 * a, -s, c], -1), atol=ATOL[dtype])
    assert torch.allclose(rotation_about_y(a) @ z, torch.stack([s, 0 * a, c], -1), atol=ATOL[dtype])
    assert torch.allclose(rotation_about_z(a) @ x, torch.stack([c, s, 0 * a], -1), atol=ATOL[dtype])


@pytest.mark.parametrize(
    "euler, preset",
    [
        ((25, 0, 0), "pan_right"),
        ((-25, 0, 0), "pan_left"),
        ((0, 25, 0), "tilt_up"),
        ((0, 0, 25), "roll_clockwise"),
    ],
)
def test_euler_angles_mean_the_same_as_the_presets(euler, preset):
    assert torch.allclose(
        rotation_from_euler_deg(*euler), make_preset(preset, 2, magnitude=25).R[-1], atol=1e-15
    )


def test_euler_angles_compose_yaw_pitch_roll():
    w2c = rotation_from_euler_deg(30, -20, 10)
    y, p, r = (torch.tensor([math.radians(v)], dtype=torch.float64) for v in (30, -20, 10))
    assert torch.allclose(w2c.T, rotation_about_y(y)[0] @ rotation_about_x(p)[0] @ rotation_about_z(r)[0], atol=0)
    assert torch.equal(rotation_from_euler_deg(0, 0, 0), torch.eye(3, dtype=torch.float64))


# --------------------------------------------------------------------------- Kabsch
@pytest.mark.parametrize("dtype", DTYPES)
def test_kabsch_recovers_a_known_rigid_motion_batched(dtype):
    g = torch.Generator().manual_seed(9)
    a = torch.randn(4, 50, 3, generator=g, dtype=torch.float64)
    R = random_rotations(4, 10)
    t = torch.randn(4, 3, generator=g, dtype=torch.float64)
    p = a @ R.transpose(1, 2) + t[:, None]
    R_hat, t_hat = kabsch(a.to(dtype), p.to(dtype))
    assert R_hat.dtype == dtype and R_hat.shape == (4, 3, 3) and t_hat.shape == (4, 3)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert torch.allclose(R_hat.double(), R, atol=tol) and torch.allclose(t_hat.double(), t, atol=tol * 10)


def test_kabsch_weights_ignore_outliers_and_match_the_weighted_closed_form():
    g = torch.Generator().manual_seed(11)
    a = torch.randn(40, 3, generator=g, dtype=torch.float64)
    R, t = random_rotations(1, 12)[0], torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    p = a @ R.T + t
    p[:5] += 10 * torch.randn(5, 3, generator=g, dtype=torch.float64)  # outliers
    w = torch.ones(40, dtype=torch.float64)
    w[:5] = 0
    R_hat, t_hat = kabsch(a, p, w)
    assert torch.allclose(R_hat, R, atol=1e-12) and torch.allclose(t_hat, t, atol=1e-12)
    # the same as leaving the zero-weight points out
    R_in, t_in = kabsch(a[5:], p[5:])
    assert torch.allclose(R_hat, R_in, atol=1e-12) and torch.allclose(t_hat, t_in, atol=1e-12)


def test_kabsch_never_returns_a_reflection():
    # points mirrored through a plane: the best orthogonal map is a reflection; Kabsch returns a rotation
    g = torch.Generator().manual_seed(13)
    a = torch.randn(30, 3, generator=g, dtype=torch.float64)
    p = a * torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)
    R, _ = kabsch(a, p)
    assert float(torch.linalg.det(R)) == pytest.approx(1.0, abs=1e-12)
    assert float(det3(R)) == pytest.approx(1.0, abs=1e-12)


def test_procrustes_rotation_of_a_singular_covariance_is_still_a_rotation():
    H = torch.zeros(2, 3, 3, dtype=torch.float64)
    H[1, 0, 0] = 1.0  # rank one: one point pair
    R = procrustes_rotation(H)
    assert torch.allclose(R.transpose(1, 2) @ R, torch.eye(3, dtype=torch.float64).expand(2, 3, 3), atol=1e-12)
    assert torch.allclose(torch.linalg.det(R), torch.ones(2, dtype=torch.float64), atol=1e-12)


def test_det3_matches_torch_det():
    g = torch.Generator().manual_seed(14)
    M = torch.randn(5, 2, 3, 3, generator=g, dtype=torch.float64)
    assert torch.allclose(det3(M), torch.linalg.det(M), atol=1e-12)


def test_kabsch_rejects_mismatched_shapes():
    a = torch.zeros(5, 3)
    with pytest.raises(ValueError, match="same shape"):
        kabsch(a, torch.zeros(4, 3))
    with pytest.raises(ValueError, match="weights must have shape"):
        kabsch(a, a, torch.ones(4))


# --------------------------------------------------------------------------- Umeyama
def test_umeyama_recovers_a_known_similarity():
    rng = np.random.default_rng(3)
    src = rng.normal(size=(50, 3))
    R = Rotation.random(random_state=4).as_matrix()
    dst = 2.5 * src @ R.T + np.array([1.0, -2.0, 0.5])
    s, R_hat, t_hat = umeyama_alignment(src, dst)
    assert s == pytest.approx(2.5, rel=1e-12)
    np.testing.assert_allclose(R_hat, R, atol=1e-12)
    np.testing.assert_allclose(t_hat, [1.0, -2.0, 0.5], atol=1e-12)
    s1, R1, _ = umeyama_alignment(torch.from_numpy(src), torch.from_numpy(src @ R.T), with_scale=False)
    assert s1 == 1.0 and np.allclose(R1, R, atol=1e-12)
    assert abs(np.linalg.det(R_hat) - 1) < 1e-12


def test_umeyama_accepts_collinear_points_and_refuses_a_static_camera():
    line = np.linspace(0, 1, 10)[:, None] * np.array([[0.0, 0.0, 1.0]])  # a pure dolly
    dst = 3.0 * line + 1.0
    s, R, t = umeyama_alignment(line, dst)
    np.testing.assert_allclose(s * line @ R.T + t, dst, atol=1e-12)
    with pytest.raises(ValueError, match="static camera"):
        umeyama_alignment(np.ones((5, 3)), dst[:5])
    with pytest.raises(ValueError, match="same shape"):
        umeyama_alignment(line, dst[:4])


def test_umeyama_rotation_agrees_with_kabsch():
    rng = np.random.default_rng(15)
    src = rng.normal(size=(20, 3))
    dst = src @ Rotation.random(random_state=16).as_matrix().T + rng.normal(scale=0.05, size=(20, 3))
    _, R_u, t_u = umeyama_alignment(src, dst, with_scale=False)
    R_k, t_k = kabsch(torch.from_numpy(src), torch.from_numpy(dst))
    np.testing.assert_allclose(R_k.numpy(), R_u, atol=1e-12)
    np.testing.assert_allclose(t_k.numpy(), t_u, atol=1e-12)


# --------------------------------------------------------------------------- pixel centres
@pytest.mark.parametrize("dtype", DTYPES)
def test_pixel_centres_sit_at_half_integers_row_major(dtype):
    u, v = pixel_centers((2, 3), dtype)
    assert u.dtype == dtype and u.shape == (6,)
    assert u.tolist() == [0.5, 1.5, 2.5, 0.5, 1.5, 2.5]
    assert v.tolist() == [0.5, 0.5, 0.5, 1.5, 1.5, 1.5]
    # the image centre (w / 2, h / 2) is the mean of the pixel centres
    u, v = pixel_centers((5, 8))
    assert float(u.mean()) == 4.0 and float(v.mean()) == 2.5
