"""Trajectory metrics: ATE / RPE equal evo's on real SLAM trajectories, the VGGT and CamI2V
protocols equal their published formulas, and closed forms hold."""
import copy
import math

import numpy as np
import pytest
import shared_data
import torch
from scipy.spatial.transform import Rotation

from raxel_core.cameras import Cameras
from raxel_core.evaluation import metrics

DATA = shared_data.DATA
EVO_DATA = DATA / "trajectories" / "tum_kitti_euroc"
RE10K_POSES = DATA / "re10k" / "poses"
needs_evo_data = pytest.mark.skipif(
    not EVO_DATA.is_dir(), reason=f"evo's test trajectories not found at {EVO_DATA} (set RAXEL_SHARED_DATA)"
)
needs_re10k = pytest.mark.skipif(
    not RE10K_POSES.is_dir(), reason=f"RealEstate10K poses not found at {RE10K_POSES} (set RAXEL_SHARED_DATA)"
)

# (name, reference file, estimate file, reader); TUM / EuRoC are associated by timestamp with evo
EVO_CASES = [
    ("fr1_xyz_rgbdslam", "freiburg1_xyz-groundtruth.txt", "freiburg1_xyz-rgbdslam.txt", "tum"),
    ("fr1_xyz_rgbdslam_drift", "freiburg1_xyz-groundtruth.txt", "freiburg1_xyz-rgbdslam_drift.txt", "tum"),
    ("fr1_xyz_orb_mono", "freiburg1_xyz-groundtruth.txt", "freiburg1_xyz-ORB_kf_mono.txt", "tum"),
    ("fr2_desk_orb", "fr2_desk_groundtruth.txt", "fr2_desk_ORB.txt", "tum"),
    ("fr2_desk_orb_mono", "fr2_desk_groundtruth.txt", "fr2_desk_ORB_kf_mono.txt", "tum"),
    ("euroc_v102", "V102_groundtruth.csv", "V102.txt", "euroc"),
    ("kitti00_orb", "KITTI_00_gt.txt", "KITTI_00_ORB.txt", "kitti"),
    ("kitti00_sptam", "KITTI_00_gt.txt", "KITTI_00_SPTAM.txt", "kitti"),
]
STATS = ("rmse", "mean", "median", "std", "min", "max")


def load_evo_pair(case):
    """(evo ref, evo est, ref c2w (N,4,4), est c2w (N,4,4)) read and associated by evo itself."""
    from evo.core import sync
    from evo.tools import file_interface

    _, ref_name, est_name, kind = case
    if kind == "kitti":
        ref = file_interface.read_kitti_poses_file(str(EVO_DATA / ref_name))
        est = file_interface.read_kitti_poses_file(str(EVO_DATA / est_name))
    else:
        read_ref = (file_interface.read_euroc_csv_trajectory if kind == "euroc"
                    else file_interface.read_tum_trajectory_file)
        ref = read_ref(str(EVO_DATA / ref_name))
        est = file_interface.read_tum_trajectory_file(str(EVO_DATA / est_name))
        ref, est = sync.associate_trajectories(ref, est)
    return ref, est, np.array(ref.poses_se3), np.array(est.poses_se3)


@pytest.fixture(scope="module", params=EVO_CASES, ids=[c[0] for c in EVO_CASES])
def evo_pair(request):
    pytest.importorskip("evo", reason="evo (GPL test oracle) is not installed: pip install evo")
    if not EVO_DATA.is_dir():
        pytest.skip(f"evo's test trajectories not found at {EVO_DATA} (set RAXEL_SHARED_DATA)")
    return load_evo_pair(request.param)


def evo_ape_stats(ref, est, align):
    from evo.core import metrics as evo_metrics

    est = copy.deepcopy(est)
    if align != "none":
        est.align(ref, correct_scale=align == "sim3")
    ape = evo_metrics.APE(evo_metrics.PoseRelation.translation_part)
    ape.process_data((ref, est))
    return ape.get_all_statistics()


def evo_rpe_stats(ref, est, relation, delta, all_pairs, align="none"):
    from evo.core import metrics as evo_metrics

    if align != "none":
        est = copy.deepcopy(est)
        est.align(ref, correct_scale=align == "sim3")
    rel = getattr(evo_metrics.PoseRelation, relation)
    rpe = evo_metrics.RPE(rel, delta, evo_metrics.Unit.frames, all_pairs=all_pairs)
    rpe.process_data((ref, est))
    return rpe.get_all_statistics()


# ----------------------------------------------------------------------------- evo oracle
@pytest.mark.parametrize("align", ["sim3", "se3", "none"])
def test_ate_equals_evo_ape(evo_pair, align):
    ref, est, ref_c2w, est_c2w = evo_pair
    ours = metrics.ate(est_c2w, ref_c2w, align=align, convention="c2w")
    theirs = evo_ape_stats(ref, est, align)
    for k in STATS:
        assert ours[k] == pytest.approx(theirs[k], abs=1e-6, rel=0), k
    assert ours["num_frames"] == len(est_c2w)
    if align != "sim3":
        assert ours["scale"] == 1.0


@pytest.mark.parametrize("delta,all_pairs", [(1, True), (10, True), (10, False)])
def test_rpe_equals_evo_rpe(evo_pair, delta, all_pairs):
    ref, est, ref_c2w, est_c2w = evo_pair
    ours = metrics.rpe(est_c2w, ref_c2w, delta=delta, all_pairs=all_pairs, convention="c2w")
    trans = evo_rpe_stats(ref, est, "translation_part", delta, all_pairs)
    rot = evo_rpe_stats(ref, est, "rotation_angle_deg", delta, all_pairs)
    for k in STATS:
        assert ours[f"trans_{k}"] == pytest.approx(trans[k], abs=1e-6, rel=0), k
        assert ours[f"rot_{k}_deg"] == pytest.approx(rot[k], abs=1e-6, rel=0), k
    n = len(est_c2w)
    assert ours["num_pairs"] == (n - delta if all_pairs else len(range(0, n, delta)) - 1)


def test_rpe_sim3_equals_evo_rpe_aligned(evo_pair):
    # monocular estimates need the Sim(3) scale before RPE translation means anything
    ref, est, ref_c2w, est_c2w = evo_pair
    ours = metrics.rpe(est_c2w, ref_c2w, delta=1, align="sim3", convention="c2w")
    trans = evo_rpe_stats(ref, est, "translation_part", 1, True, align="sim3")
    assert ours["trans_rmse"] == pytest.approx(trans["rmse"], abs=1e-6, rel=0)
    assert ours["scale"] == pytest.approx(metrics.ate(est_c2w, ref_c2w, convention="c2w")["scale"])


@needs_evo_data
def test_conventions_and_cameras_give_the_same_numbers():
    pytest.importorskip("evo", reason="evo is needed to read the TUM files")
    _, _, ref_c2w, est_c2w = load_evo_pair(EVO_CASES[0])
    base = metrics.trajectory_metrics(est_c2w, ref_c2w, rpe_delta=5, convention="c2w")
    w2c = lambda m: np.linalg.inv(m)  # noqa: E731
    as_w2c = metrics.trajectory_metrics(w2c(est_c2w), w2c(ref_c2w), rpe_delta=5, convention="w2c")
    K = Cameras.intrinsics_from_fov(60.0, (480, 640), len(est_c2w))
    as_cams = metrics.trajectory_metrics(
        Cameras.from_c2w(torch.from_numpy(est_c2w), K, (480, 640)),
        Cameras.from_c2w(torch.from_numpy(ref_c2w), K, (480, 640)),
        rpe_delta=5,
    )
    as_torch = metrics.trajectory_metrics(torch.from_numpy(est_c2w[:, :3]), torch.from_numpy(ref_c2w), rpe_delta=5,
                                          convention="c2w")
    for other in (as_w2c, as_cams, as_torch):
        assert other.keys() == base.keys()
        for k in base:
            assert other[k] == pytest.approx(base[k], abs=1e-9), k


# ----------------------------------------------------------------------------- published formulas
def vggt_reference_errors(est_w2c, ref_w2c):
    """VGGT evaluation/test_co3d.py, re-derived: quaternion arccos with eps clamps, |cos| for
    translation directions, pairs from torch.combinations."""
    i, j = torch.combinations(torch.arange(len(est_w2c)), 2).unbind(-1)
    i, j = i.numpy(), j.numpy()
    rel_est = est_w2c[i] @ np.linalg.inv(est_w2c[j])
    rel_ref = ref_w2c[i] @ np.linalg.inv(ref_w2c[j])
    q_est = Rotation.from_matrix(rel_est[:, :3, :3]).as_quat()
    q_ref = Rotation.from_matrix(rel_ref[:, :3, :3]).as_quat()
    loss_q = np.clip(1 - np.sum(q_est * q_ref, axis=1) ** 2, 1e-15, None)
    rot = np.degrees(np.arccos(1 - 2 * loss_q))
    t_est = rel_est[:, :3, 3] / (np.linalg.norm(rel_est[:, :3, 3], axis=1, keepdims=True) + 1e-15)
    t_ref = rel_ref[:, :3, 3] / (np.linalg.norm(rel_ref[:, :3, 3], axis=1, keepdims=True) + 1e-15)
    loss_t = np.clip(1 - np.sum(t_est * t_ref, axis=1) ** 2, 1e-15, None)
    trans = np.degrees(np.arccos(np.sqrt(1 - loss_t)))
    trans = np.minimum(trans, np.abs(180 - trans))
    return rot, trans


def vggt_reference_auc(r, t, max_threshold=30):
    """VGGT calculate_auc_np, re-derived."""
    max_errors = np.max(np.stack([r, t], 1), axis=1)
    hist, _ = np.histogram(max_errors, bins=np.arange(max_threshold + 1))
    return np.mean(np.cumsum(hist / len(max_errors)))


@needs_evo_data
def test_relative_pose_errors_and_auc_equal_vggt_formulas():
    pytest.importorskip("evo", reason="evo is needed to read the TUM files")
    _, _, ref_c2w, est_c2w = load_evo_pair(EVO_CASES[1])  # rgbdslam with drift: errors of all sizes
    ref_w2c, est_w2c = np.linalg.inv(ref_c2w[::6]), np.linalg.inv(est_c2w[::6])
    rot, trans = metrics.relative_pose_errors(est_w2c, ref_w2c, convention="w2c")
    rot_v, trans_v = vggt_reference_errors(est_w2c, ref_w2c)
    n = len(est_w2c)
    assert rot.shape == trans.shape == (n * (n - 1) // 2,)
    np.testing.assert_allclose(rot, rot_v, atol=1e-5)  # VGGT's eps clamps floor errors at ~4e-6 deg
    np.testing.assert_allclose(trans, trans_v, atol=1e-5)
    assert rot.max() > 2 and trans.max() > 30  # the comparison covers large errors too
    for tau in (3, 5, 15, 30):
        assert metrics.auc(rot, trans, tau) == pytest.approx(100 * vggt_reference_auc(rot_v, trans_v, tau), abs=1e-9)
        assert metrics.rra(rot, tau) == pytest.approx(100 * np.mean(rot_v < tau))
        assert metrics.rta(trans, tau) == pytest.approx(100 * np.mean(trans_v < tau))


def read_re10k_w2c(path):
    rows = np.loadtxt(path, skiprows=1, dtype=np.float64)
    w2c = np.tile(np.eye(4), (len(rows), 1, 1))
    w2c[:, :3, :4] = rows[:, 7:19].reshape(-1, 3, 4)
    return w2c


def cami2v_reference(est_c2w, ref_c2w):
    """CamI2V evaluation/glomap_evaluation.py metric(gt, sample), re-derived (TransErr_rel)."""
    rel = lambda c: np.linalg.inv(c[:1]) @ c  # noqa: E731
    a, b = rel(ref_c2w), rel(est_c2w)
    rot = np.arccos(np.clip((np.trace(np.swapaxes(a[:, :3, :3], 1, 2) @ b[:, :3, :3], axis1=1, axis2=2) - 1) / 2,
                            -1, 1)).sum()
    norm = lambda c: np.concatenate(  # noqa: E731
        [c[:, :3, :3], c[:, :3, 3:] / (np.linalg.norm(c[:, :3, 3], axis=1).max() + 1e-9)], 2)
    a, b = norm(a), norm(b)
    trans = np.linalg.norm(a[:, :, 3] - b[:, :, 3], axis=1).sum()
    cammc = np.linalg.norm((a - b).reshape(len(a), -1), axis=1).sum()
    return rot, trans, cammc


@needs_re10k
def test_rot_trans_err_equals_cami2v_formula_on_realestate10k():
    clips = sorted(p for p in RE10K_POSES.glob("*.txt") if "_" not in p.stem)
    assert len(clips) >= 2
    ref_c2w, est_c2w = np.linalg.inv(read_re10k_w2c(clips[0])), np.linalg.inv(read_re10k_w2c(clips[1]))
    ours = metrics.rot_trans_err(est_c2w, ref_c2w, convention="c2w")
    rot, trans, cammc = cami2v_reference(est_c2w, ref_c2w)
    # arccos(trace) vs atan2 on rotations orthonormal to ~1e-7 (6-9 printed digits): 1e-7 apart
    assert ours["rot_err"] == pytest.approx(rot, rel=1e-6)
    assert ours["rot_err_deg"] == pytest.approx(math.degrees(ours["rot_err"]))
    assert ours["trans_err"] == pytest.approx(trans, rel=1e-6)
    assert ours["cammc"] == pytest.approx(cammc, abs=1e-6)
    assert ours["trans_err"] > 0.1 and ours["num_frames"] == 16


# ----------------------------------------------------------------------------- closed forms
def random_c2w(n, seed, spread=1.0):
    rng = np.random.default_rng(seed)
    c2w = np.tile(np.eye(4), (n, 1, 1))
    c2w[:, :3, :3] = Rotation.random(n, random_state=seed).as_matrix()
    c2w[:, :3, 3] = rng.normal(scale=spread, size=(n, 3))
    return c2w


def sim3(c2w, s, R, t):
    out = c2w.copy()
    out[:, :3, :3] = R @ c2w[:, :3, :3]
    out[:, :3, 3] = s * c2w[:, :3, 3] @ R.T + t
    return out


def test_identical_trajectories_score_perfectly():
    c2w = random_c2w(12, seed=0)
    a = metrics.ate(c2w, c2w, convention="c2w")
    assert a["rmse"] < 1e-12 and a["scale"] == pytest.approx(1.0)
    r = metrics.rpe(c2w, c2w, delta=3, convention="c2w")
    assert r["trans_max"] < 1e-12 and r["rot_max_deg"] < 1e-9
    rot, trans = metrics.relative_pose_errors(c2w, c2w, convention="c2w")
    assert rot.max() < 1e-9 and trans.max() < 1e-9
    assert metrics.auc(rot, trans) == 100.0 and metrics.rra(rot) == 100.0 and metrics.rta(trans) == 100.0
    c = metrics.rot_trans_err(c2w, c2w, convention="c2w")
    assert c["rot_err"] < 1e-9 and c["trans_err"] < 1e-12 and c["cammc"] < 1e-9


def test_sim3_copy_has_zero_error_after_alignment():
    ref = random_c2w(20, seed=1)
    R = Rotation.from_euler("xyz", [20, -35, 70], degrees=True).as_matrix()
    est = sim3(ref, 0.37, R, np.array([4.0, -1.0, 2.0]))
    a = metrics.ate(est, ref, align="sim3", convention="c2w")
    assert a["rmse"] < 1e-12 and a["scale"] == pytest.approx(1 / 0.37, rel=1e-12)
    assert metrics.ate(est, ref, align="se3", convention="c2w")["rmse"] > 0.1  # scale is wrong
    assert metrics.rpe(est, ref, align="sim3", convention="c2w")["trans_max"] < 1e-12
    assert metrics.rpe(est, ref, convention="c2w")["rot_max_deg"] < 1e-9  # rotations unaffected by scale
    rot, trans = metrics.relative_pose_errors(est, ref, convention="c2w")
    assert rot.max() < 1e-9 and trans.max() < 1e-9
    assert metrics.auc(rot, trans) == 100.0
    c = metrics.rot_trans_err(est, ref, convention="c2w")  # relative to frame 0, unit extent
    assert c["rot_err"] < 1e-9 and c["trans_err"] < 1e-12
    c = metrics.rot_trans_err(est, ref, normalization="reference", convention="c2w")
    assert c["trans_err"] < 1e-12 and c["scale"] == pytest.approx(1 / 0.37)


def test_a_known_rotation_error_on_one_frame():
    ref = random_c2w(8, seed=2)
    theta = 7.0
    est = ref.copy()
    k = 3  # camera k turned by theta about its own optical axis; its centre unchanged
    est[k, :3, :3] = ref[k, :3, :3] @ Rotation.from_euler("z", theta, degrees=True).as_matrix()
    assert metrics.ate(est, ref, align="none", convention="c2w")["rmse"] == 0.0
    r = metrics.rpe(est, ref, delta=1, convention="c2w")
    assert r["rot_max_deg"] == pytest.approx(theta, abs=1e-9)
    assert r["rot_mean_deg"] == pytest.approx(2 * theta / 7, abs=1e-9)  # pairs (2,3), (3,4) of 7
    rot, _ = metrics.relative_pose_errors(est, ref, convention="c2w")
    i, j = np.triu_indices(8, 1)
    involved = (i == k) | (j == k)
    np.testing.assert_allclose(rot[involved], theta, atol=1e-9)
    np.testing.assert_allclose(rot[~involved], 0.0, atol=1e-9)
    assert metrics.rra(rot, tau=5) == pytest.approx(100 * (1 - 7 / 28))
    c = metrics.rot_trans_err(est, ref, convention="c2w")
    assert c["rot_err"] == pytest.approx(math.radians(theta), abs=1e-9)
    assert c["rot_err_deg"] == pytest.approx(theta, abs=1e-7)


@pytest.mark.parametrize("phi,ignore_sign,expected", [(25.0, True, 25.0), (150.0, True, 30.0), (150.0, False, 150.0)])
def test_translation_direction_error_is_the_angle_between_directions(phi, ignore_sign, expected):
    ref = np.tile(np.eye(4), (2, 1, 1))
    est = ref.copy()
    ref[1, :3, 3] = [2.0, 0.0, 0.0]
    est[1, :3, 3] = [0.5 * math.cos(math.radians(phi)), 0.5 * math.sin(math.radians(phi)), 0.0]  # scale-free
    rot, trans = metrics.relative_pose_errors(est, ref, ignore_sign=ignore_sign, convention="c2w")
    assert rot[0] == 0.0 and trans[0] == pytest.approx(expected, abs=1e-9)


def test_zero_translations_are_defined():
    static = np.tile(np.eye(4), (3, 1, 1))
    moving = static.copy()
    moving[:, 0, 3] = [0.0, 1.0, 2.0]
    _, both = metrics.relative_pose_errors(static, static, convention="c2w")
    _, one = metrics.relative_pose_errors(moving, static, convention="c2w")
    np.testing.assert_array_equal(both, 0.0)
    np.testing.assert_array_equal(one, 90.0)


def test_auc_follows_vggt_histogram_edges():
    # max errors 0.5, 1.5 and 40: shares below tau = 1, 2, ..., 30 are 1/3 then 2/3 (29 times)
    auc = metrics.auc(np.array([0.5, 1.0, 40.0]), np.array([0.2, 1.5, 3.0]))
    assert auc == pytest.approx(100 * (1 / 3 + 29 * 2 / 3) / 30)
    # np.histogram's last bin is closed: an error of exactly 30 counts for tau = 30 only
    assert metrics.auc(np.array([30.0]), np.array([0.0])) == pytest.approx(100 / 30)
    assert metrics.auc(np.array([1.0]), np.array([0.0])) == pytest.approx(100 * 29 / 30)  # 1 < 1 is false
    assert metrics.auc(torch.tensor([0.0, 100.0]), torch.tensor([0.0, 0.0]), max_threshold=5) == pytest.approx(50.0)


def test_random_float64_trajectories_match_a_direct_computation():
    rng = np.random.default_rng(7)
    ref = random_c2w(15, seed=5)
    est = ref.copy()
    est[:, :3, :3] = Rotation.from_rotvec(rng.normal(scale=0.05, size=(15, 3))).as_matrix() @ ref[:, :3, :3]
    est[:, :3, 3] += rng.normal(scale=0.1, size=(15, 3))
    a = metrics.ate(est, ref, align="none", convention="c2w")
    d = np.linalg.norm(est[:, :3, 3] - ref[:, :3, 3], axis=1)
    assert a["rmse"] == pytest.approx(np.sqrt(np.mean(d**2)), rel=1e-14)
    assert a["median"] == pytest.approx(np.median(d), rel=1e-14)
    # Sim(3) alignment can only lower the error below SE(3), which can only lower it below none
    assert (metrics.ate(est, ref, convention="c2w")["rmse"]
            <= metrics.ate(est, ref, align="se3", convention="c2w")["rmse"] + 1e-12)
    assert metrics.ate(est, ref, align="se3", convention="c2w")["rmse"] <= a["rmse"] + 1e-12
    out = metrics.trajectory_metrics(est, ref, convention="c2w")
    assert set(out) >= {"ate_rmse", "rpe_trans_rmse", "rpe_rot_rmse_deg", "rra", "rta", "auc30", "rot_err",
                        "trans_err", "cammc"}
    assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in out.values())
    assert 0 <= out["auc30"] <= 100


def test_static_estimate_reports_scale_free_metrics_and_the_reason():
    ref = random_c2w(6, seed=8)
    est = np.tile(np.eye(4), (6, 1, 1))
    est[:, :3, :3] = ref[:, :3, :3]
    out = metrics.trajectory_metrics(est, ref, convention="c2w")
    assert math.isnan(out["ate_rmse"]) and "static camera" in out["ate_error"]
    assert out["rra"] == 100.0 and out["rta"] == 0.0  # rotations right, directions undefined (90 deg)
    with pytest.raises(ValueError, match="static camera"):
        metrics.ate(est, ref, convention="c2w")


def test_bad_inputs_raise_clear_errors():
    c2w = random_c2w(5, seed=9)
    with pytest.raises(ValueError, match="convention='w2c'"):
        metrics.ate(c2w, c2w)
    with pytest.raises(ValueError, match="5 frames but the reference has 4"):
        metrics.ate(c2w, c2w[:4], convention="c2w")
    with pytest.raises(ValueError, match=r"shape \(N, 4, 4\)"):
        metrics.ate(c2w[:, :3, :3], c2w[:, :3, :3], convention="c2w")
    scaled = c2w.copy()
    scaled[2, :3, :3] *= 1.1
    with pytest.raises(ValueError, match="frame 2 rotation is not a proper rotation"):
        metrics.rpe(scaled, c2w, convention="c2w")
    nan = c2w.copy()
    nan[1, 0, 3] = np.nan
    with pytest.raises(ValueError, match="frame 1 has a non-finite"):
        metrics.ate(nan, c2w, convention="c2w")
    with pytest.raises(ValueError, match=r"delta must be .* \[1, 4\]"):
        metrics.rpe(c2w, c2w, delta=5, convention="c2w")
    with pytest.raises(ValueError, match="align must be one of"):
        metrics.ate(c2w, c2w, align="sim2", convention="c2w")
    with pytest.raises(ValueError, match="no errors"):
        metrics.rra(np.array([]))
    with pytest.raises(ValueError, match="NaN"):
        metrics.auc(np.array([1.0, np.nan]), np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match="at least 2 frames"):
        metrics.relative_pose_errors(c2w[:1], c2w[:1], convention="c2w")
