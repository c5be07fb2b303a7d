"""Camera trajectory metrics, implemented once for the whole pack.

Every function takes an *estimate* and a *reference* trajectory of the same length, each either a
:class:`~raxel_core.cameras.Cameras` or an array of ``(N, 4, 4)`` / ``(N, 3, 4)`` float poses
(numpy or torch). Arrays carry no convention, so with arrays pass ``convention="w2c"`` (OpenCV
world-to-camera) or ``convention="c2w"`` (camera-to-world, as TUM / KITTI / EuRoC files store them);
a ``Cameras`` needs none. All arithmetic is numpy float64; results are Python floats (summaries)
or numpy float64 arrays (per-frame / per-pair errors).

Metrics (see ``papers/DIGEST.md``, "Metrics"):

* :func:`ate` – absolute trajectory error: RMSE of camera centres after a Sim(3) / SE(3) Umeyama
  alignment (Umeyama, PAMI 1991; the translation part of ``evo_ape`` with ``-as`` / ``-a``).
* :func:`rpe` – relative pose error at a fixed frame offset (Sturm et al., IROS 2012; ``evo_rpe``).
* :func:`relative_pose_errors`, :func:`rra`, :func:`rta`, :func:`auc` – all-pairs relative rotation
  and translation-direction errors, RRA@tau / RTA@tau and AUC@30 exactly as VGGT's evaluation
  (``evaluation/test_co3d.py``: ``se3_to_relative_pose_error``, ``calculate_auc_np``).
* :func:`rot_trans_err` – RotErr / TransErr / CamMC of camera-controlled video generation, as
  CamI2V's evaluation (``evaluation/glomap_evaluation.py``, ``metric``) computes them.
* :func:`trajectory_metrics` – all of the above in one flat dict for per-clip reporting.

``evo`` (GPL-3.0) is the test oracle of :func:`ate` and :func:`rpe` and is never imported here.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..cameras import ROTATION_TOLERANCE, Cameras
from ..geometry.alignment import umeyama_alignment
from ..geometry.rotations import project_to_rotation, rotation_angle_deg, rotation_error_deg

ALIGNMENTS = ("sim3", "se3", "none")
CONVENTIONS = ("w2c", "c2w")

#: Relative scale below which a translation counts as zero in :func:`relative_pose_errors` and a
#: trajectory as static in :func:`rot_trans_err` (relative to the trajectory's largest one).
ZERO_TRANSLATION_RTOL = 1e-9


# --------------------------------------------------------------------------- inputs
def _c2w(poses, convention: str | None, name: str) -> np.ndarray:
    """``(N, 4, 4)`` float64 camera-to-world matrices (OpenCV axes for a ``Cameras``)."""
    if isinstance(poses, Cameras):
        return poses.c2w.numpy()
    if convention not in CONVENTIONS:
        raise ValueError(
            f"{name}: an array of poses needs convention='w2c' (world-to-camera) or "
            f"convention='c2w' (camera-to-world); got convention={convention!r}. Pass one, or pass "
            "a raxel_core.cameras.Cameras"
        )
    if isinstance(poses, torch.Tensor):
        poses = poses.detach().cpu().numpy()
    m = np.asarray(poses, dtype=np.float64)
    if m.ndim != 3 or m.shape[1:] not in ((4, 4), (3, 4)):
        raise ValueError(
            f"{name}: poses must have shape (N, 4, 4) or (N, 3, 4); got {tuple(m.shape)}"
        )
    if len(m) == 0:
        raise ValueError(f"{name}: the trajectory has no frames; give at least one pose")
    bad = ~np.isfinite(m.reshape(len(m), -1)).all(axis=1)
    if bad.any():
        raise ValueError(
            f"{name}: frame {int(np.flatnonzero(bad)[0])} has a non-finite value (NaN or inf); "
            "fix or remove that frame"
        )
    R = m[:, :3, :3]
    ortho = np.abs(np.swapaxes(R, 1, 2) @ R - np.eye(3)).max(axis=(1, 2))
    det = np.linalg.det(R)
    bad = (ortho > ROTATION_TOLERANCE) | (np.abs(det - 1) > ROTATION_TOLERANCE)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name}: frame {k} rotation is not a proper rotation (max |R^T R - I| = "
            f"{ortho[k]:.2e}, det = {det[k]:.6f}; tolerance {ROTATION_TOLERANCE:g}); check the "
            "poses are rigid transforms in the stated convention"
        )
    out = np.tile(np.eye(4), (len(m), 1, 1))
    out[:, :3, :4] = m[:, :3, :4]
    if convention == "w2c":
        out = _inverse_se3(out)
    return out


def _pair(estimate, reference, convention):
    est = _c2w(estimate, convention, "estimate")
    ref = _c2w(reference, convention, "reference")
    if len(est) != len(ref):
        raise ValueError(
            f"the estimate has {len(est)} frames but the reference has {len(ref)}; metrics compare "
            "frame k with frame k, so give trajectories of the same length (associate by "
            "timestamp or resample first)"
        )
    return est, ref


def _inverse_se3(T: np.ndarray) -> np.ndarray:
    """Closed-form inverse of ``(..., 4, 4)`` rigid transforms: ``[R^T | -R^T t]``."""
    out = np.zeros_like(T)
    Rt = np.swapaxes(T[..., :3, :3], -1, -2)
    out[..., :3, :3] = Rt
    out[..., :3, 3] = -(Rt @ T[..., :3, 3:4])[..., 0]
    out[..., 3, 3] = 1.0
    return out


def _angle_deg(R: np.ndarray) -> np.ndarray:
    """Rotation angle in degrees of ``(..., 3, 3)`` rotations (atan2 form,
    :func:`raxel_core.geometry.rotations.rotation_angle_deg`)."""
    return rotation_angle_deg(torch.from_numpy(np.ascontiguousarray(R))).numpy()


def _stats(errors: np.ndarray, prefix: str = "", suffix: str = "") -> dict:
    """evo's statistics: rmse, mean, median, std (population), min, max."""
    e = np.asarray(errors, dtype=np.float64)
    return {
        f"{prefix}rmse{suffix}": float(np.sqrt(np.mean(e**2))),
        f"{prefix}mean{suffix}": float(np.mean(e)),
        f"{prefix}median{suffix}": float(np.median(e)),
        f"{prefix}std{suffix}": float(np.std(e)),
        f"{prefix}min{suffix}": float(np.min(e)),
        f"{prefix}max{suffix}": float(np.max(e)),
    }


# --------------------------------------------------------------------------- alignment
def _aligned(est: np.ndarray, ref: np.ndarray, align: str) -> tuple[np.ndarray, float]:
    """The estimate's c2w poses after ``align``: ``T_align * scale(c2w)`` as evo applies it."""
    if align not in ALIGNMENTS:
        raise ValueError(f"align must be one of {ALIGNMENTS}; got {align!r}")
    if align == "none":
        return est, 1.0
    s, R, t = umeyama_alignment(est[:, :3, 3], ref[:, :3, 3], with_scale=align == "sim3")
    out = est.copy()
    out[:, :3, :3] = R @ est[:, :3, :3]
    out[:, :3, 3] = s * est[:, :3, 3] @ R.T + t
    return out, s


# --------------------------------------------------------------------------- ATE / RPE
def ate(estimate, reference, align: str = "sim3", convention: str | None = None) -> dict:
    """Absolute trajectory error of camera centres.

    The estimate is aligned to the reference by Umeyama over the camera centres (``"sim3"``:
    rotation, translation and scale; ``"se3"``: rotation and translation; ``"none"``), then the
    per-frame error is ``||c_est_k - c_ref_k||``. Equals the translation part of ``evo_ape``
    (``evo_ape tum ref est -as`` for sim3, ``-a`` for se3).

    Args:
        estimate, reference: ``Cameras`` or ``(N, 4|3, 4)`` poses, ``N >= 1`` (``>= 2`` distinct
            centres for sim3).
        align: ``"sim3"`` (default, monocular estimates of arbitrary scale), ``"se3"``, ``"none"``.
        convention: ``"w2c"`` or ``"c2w"`` when arrays are given.

    Returns:
        dict of floats in reference units: ``rmse, mean, median, std, min, max`` of the per-frame
        centre errors, ``scale`` (the Sim(3) scale applied to the estimate, 1 otherwise),
        ``num_frames``.

    Raises:
        ValueError: frame counts differ, bad shapes / values, unknown ``align``, degenerate sim3.
    """
    est, ref = _pair(estimate, reference, convention)
    est, s = _aligned(est, ref, align)
    errors = np.linalg.norm(est[:, :3, 3] - ref[:, :3, 3], axis=1)
    return {**_stats(errors), "scale": s, "num_frames": len(est)}


def rpe(
    estimate,
    reference,
    delta: int = 1,
    all_pairs: bool = True,
    align: str = "none",
    convention: str | None = None,
) -> dict:
    """Relative pose error between frame pairs ``(i, i + delta)`` (Sturm et al., "A benchmark for
    the evaluation of RGB-D SLAM systems", IROS 2012, eq. 1; ``evo_rpe``).

    With camera-to-world poses ``P`` (estimate) and ``Q`` (reference), the error pose of a pair is
    ``E = (Q_i^-1 Q_j)^-1 (P_i^-1 P_j)``; the translation error is ``||t(E)||`` and the rotation
    error the angle of ``R(E)`` (its nearest rotation first, as evo's scipy conversion does).
    Equals ``evo_rpe ... --delta D --delta_unit f [--all_pairs]`` for the ``translation_part`` and
    ``angle_deg`` relations.

    Args:
        estimate, reference: ``Cameras`` or ``(N, 4|3, 4)`` poses.
        delta: frame offset, ``1 <= delta < N``.
        all_pairs: ``True``: every pair ``(i, i + delta)``; ``False``: evo's default, consecutive
            pairs ``(0, d), (d, 2d), ...``. Identical for ``delta = 1``.
        align: ``"none"`` (evo's default), ``"se3"`` (no effect: RPE is invariant to a rigid
            transform) or ``"sim3"`` (scales the estimate's translations by the Umeyama scale:
            needed for estimates of arbitrary scale; ``evo_rpe -as``).
        convention: ``"w2c"`` or ``"c2w"`` when arrays are given.

    Returns:
        dict of floats: ``trans_rmse, trans_mean, trans_median, trans_std, trans_min, trans_max``
        (reference units), ``rot_rmse_deg, rot_mean_deg, ... rot_max_deg`` (degrees),
        ``num_pairs``, ``delta``, ``scale``.

    Raises:
        ValueError: ``delta`` out of range, frame counts differ, bad poses.
    """
    est, ref = _pair(estimate, reference, convention)
    n = len(est)
    if int(delta) != delta or not 1 <= delta < n:
        raise ValueError(
            f"rpe delta must be a whole number of frames in [1, {n - 1}] for {n} frames; got {delta}"
        )
    delta = int(delta)
    est, s = _aligned(est, ref, align)
    i = np.arange(0, n - delta) if all_pairs else np.arange(0, n, delta)[:-1]
    i = i[i + delta < n]
    j = i + delta
    Q_rel = _inverse_se3(ref[i]) @ ref[j]
    P_rel = _inverse_se3(est[i]) @ est[j]
    E = _inverse_se3(Q_rel) @ P_rel
    trans = np.linalg.norm(E[:, :3, 3], axis=1)
    rot = _angle_deg(project_to_rotation(torch.from_numpy(E[:, :3, :3])).numpy())
    return {
        **_stats(trans, "trans_"),
        **_stats(rot, "rot_", "_deg"),
        "num_pairs": len(i),
        "delta": delta,
        "scale": s,
    }


# --------------------------------------------------------------------------- VGGT protocol
def relative_pose_errors(
    estimate, reference, ignore_sign: bool = True, convention: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Rotation and translation-direction errors of the relative poses of all frame pairs.

    VGGT's protocol (``evaluation/test_co3d.py``, ``se3_to_relative_pose_error``): for every pair
    ``i < j`` (``torch.combinations`` order: (0,1), (0,2), ... (1,2), ...) the relative pose
    ``T_ij = w2c_i @ inv(w2c_j)`` of both trajectories; the rotation error is the angle of
    ``R_ij,ref^T R_ij,est`` and the translation error the angle between ``t_ij,ref`` and
    ``t_ij,est``. Scale-free: no alignment is needed.

    Args:
        estimate, reference: ``Cameras`` or ``(N, 4|3, 4)`` poses, ``N >= 2``.
        ignore_sign: ``True`` (default, as VGGT with ``ambiguity=True``): the direction angle is
            ``acos(|cos|)`` in [0, 90] degrees, so a reversed translation counts as correct;
            ``False``: the full angle in [0, 180].
        convention: ``"w2c"`` or ``"c2w"`` when arrays are given.

    Returns:
        ``(rot_err_deg, trans_dir_err_deg)``: two ``(P,)`` float64 arrays, ``P = N (N - 1) / 2``.

    Zero translations: a relative translation shorter than :data:`ZERO_TRANSLATION_RTOL` times the
    largest one of its trajectory (or all of them, for a static camera) has no direction. When
    both the reference and the estimate are zero the error is 0 (both agree the camera did not
    move); when exactly one is zero the error is 90 degrees (as VGGT, whose normalisation turns a
    zero vector into a zero unit vector and so a 90 degree angle).

    Rotation angles use the atan2 form (``geometry.rotations.rotation_angle_deg``), where VGGT's quaternion
    ``arccos`` with clamp ``eps=1e-15`` floors every error at ~4e-6 degrees; otherwise equal.

    Raises:
        ValueError: fewer than two frames, frame counts differ, bad poses.
    """
    est, ref = _pair(estimate, reference, convention)
    n = len(est)
    if n < 2:
        raise ValueError(f"relative pose errors need at least 2 frames; got {n}")
    i, j = np.triu_indices(n, k=1)
    w2c_est, w2c_ref = _inverse_se3(est), _inverse_se3(ref)
    rel_est = w2c_est[i] @ est[j]  # w2c_i @ inv(w2c_j), inv(w2c_j) = c2w_j
    rel_ref = w2c_ref[i] @ ref[j]
    rot = _angle_deg(np.swapaxes(rel_ref[:, :3, :3], 1, 2) @ rel_est[:, :3, :3])
    trans = _direction_error_deg(rel_ref[:, :3, 3], rel_est[:, :3, 3], ignore_sign)
    return rot, trans


def _direction_error_deg(t_ref: np.ndarray, t_est: np.ndarray, ignore_sign: bool) -> np.ndarray:
    """Angle in degrees between ``(P, 3)`` vectors; zero vectors as documented above."""
    n_ref = np.linalg.norm(t_ref, axis=1)
    n_est = np.linalg.norm(t_est, axis=1)
    zero_ref = n_ref <= ZERO_TRANSLATION_RTOL * n_ref.max(initial=0.0)
    zero_est = n_est <= ZERO_TRANSLATION_RTOL * n_est.max(initial=0.0)
    u_ref = t_ref / np.where(zero_ref, 1.0, n_ref)[:, None]
    u_est = t_est / np.where(zero_est, 1.0, n_est)[:, None]
    # angle = atan2(|a x b|, a . b): accurate near 0 and 180 degrees, unlike arccos
    cos = np.sum(u_ref * u_est, axis=1)
    sin = np.linalg.norm(np.cross(u_ref, u_est), axis=1)
    if ignore_sign:
        cos = np.abs(cos)
    err = np.degrees(np.arctan2(sin, cos))
    err[zero_ref ^ zero_est] = 90.0
    err[zero_ref & zero_est] = 0.0
    return err


def _errors(errs, name: str) -> np.ndarray:
    e = errs.detach().cpu().numpy() if isinstance(errs, torch.Tensor) else errs
    e = np.asarray(e, dtype=np.float64).reshape(-1)
    if e.size == 0:
        raise ValueError(f"{name}: no errors given (a trajectory needs at least 2 frames)")
    if not np.isfinite(e).all():
        raise ValueError(f"{name}: errors contain NaN or inf; check the poses they came from")
    return e


def rra(errs, tau: float = 15.0) -> float:
    """Relative rotation accuracy RRA@tau in percent: the share of pairs with rotation error
    ``< tau`` degrees (``errs``: ``(P,)`` from :func:`relative_pose_errors`). Raises ValueError
    on an empty or non-finite input."""
    return float(np.mean(_errors(errs, "rra") < tau) * 100.0)


def rta(errs, tau: float = 15.0) -> float:
    """Relative translation accuracy RTA@tau in percent: the share of pairs with translation
    direction error ``< tau`` degrees. Raises ValueError on an empty or non-finite input."""
    return float(np.mean(_errors(errs, "rta") < tau) * 100.0)


def auc(rot_err, trans_err, max_threshold: int = 30) -> float:
    """AUC@max_threshold in percent (VGGT, ``calculate_auc_np``), 0-100.

    ``e = max(rot_err, trans_err)`` per pair; a histogram of ``e`` over the integer bins
    ``0, 1, ..., max_threshold`` (``np.histogram``: half-open bins except the last, closed),
    normalised by the number of pairs, cumulatively summed and averaged: the mean over
    ``tau = 1 .. max_threshold`` of the share of pairs with ``e < tau`` (``<=`` for the last).

    Args:
        rot_err, trans_err: ``(P,)`` degrees from :func:`relative_pose_errors`.
        max_threshold: whole number of degrees, ``>= 1``.

    Raises:
        ValueError: empty, non-finite or mismatched inputs, or a bad ``max_threshold``.
    """
    r, t = _errors(rot_err, "auc rot_err"), _errors(trans_err, "auc trans_err")
    if r.shape != t.shape:
        raise ValueError(f"auc: {r.size} rotation errors but {t.size} translation errors")
    if int(max_threshold) != max_threshold or max_threshold < 1:
        raise ValueError(f"auc max_threshold must be a whole number of degrees >= 1; got {max_threshold}")
    max_errors = np.maximum(r, t)
    histogram, _ = np.histogram(max_errors, bins=np.arange(int(max_threshold) + 1))
    return float(np.mean(np.cumsum(histogram.astype(np.float64) / len(max_errors))) * 100.0)


# --------------------------------------------------------------------------- CamI2V
def rot_trans_err(
    estimate, reference, normalization: str = "unit", convention: str | None = None
) -> dict:
    """RotErr / TransErr / CamMC of camera-controlled video generation (CameraCtrl, He et al.
    2024, Sec. 4.1; computed as CamI2V's ``evaluation/glomap_evaluation.py`` ``metric``).

    1. Both trajectories are expressed relative to frame 0: ``c2w_k <- c2w_0^-1 c2w_k``.
    2. Scale fixing (SfM has no metric scale), ``normalization``:

       * ``"unit"`` (CamI2V's ``TransErr_rel``): each trajectory's translations are divided by its
         own largest camera distance from frame 0, so both span a unit extent. A static
         trajectory (extent below :data:`ZERO_TRANSLATION_RTOL` of 1) is left unscaled.
       * ``"reference"``: only the estimate is rescaled, to the reference's extent; TransErr is
         then in reference units.

    3. ``rot_err = sum_k arccos((tr(R_ref,k^T R_est,k) - 1) / 2)`` in **radians**, summed over all
       frames (frame 0 contributes 0), as CamI2V; ``rot_err_deg`` is the same sum in degrees.
       ``trans_err = sum_k ||t_ref,k - t_est,k||``; ``cammc = sum_k ||[R|t]_ref,k - [R|t]_est,k||_F``.

    Args:
        estimate, reference: ``Cameras`` or ``(N, 4|3, 4)`` poses.
        normalization: ``"unit"`` or ``"reference"``.
        convention: ``"w2c"`` or ``"c2w"`` when arrays are given.

    Returns:
        dict of floats: ``rot_err`` (rad), ``rot_err_deg``, ``trans_err``, ``cammc``, ``scale``
        (factor applied to the estimate's translations), ``num_frames``.

    Raises:
        ValueError: unknown ``normalization``, frame counts differ, bad poses.
    """
    if normalization not in ("unit", "reference"):
        raise ValueError(f"normalization must be 'unit' or 'reference'; got {normalization!r}")
    est, ref = _pair(estimate, reference, convention)
    est = _inverse_se3(est[:1]) @ est
    ref = _inverse_se3(ref[:1]) @ ref
    extent_est = float(np.linalg.norm(est[:, :3, 3], axis=1).max())
    extent_ref = float(np.linalg.norm(ref[:, :3, 3], axis=1).max())
    static_est = extent_est <= ZERO_TRANSLATION_RTOL
    static_ref = extent_ref <= ZERO_TRANSLATION_RTOL
    if normalization == "unit":
        scale_est = 1.0 if static_est else 1.0 / extent_est
        ref[:, :3, 3] /= 1.0 if static_ref else extent_ref
    else:
        scale_est = 1.0 if (static_est or static_ref) else extent_ref / extent_est
    est[:, :3, 3] *= scale_est
    rot = _angle_deg(np.swapaxes(ref[:, :3, :3], 1, 2) @ est[:, :3, :3])
    trans = np.linalg.norm(ref[:, :3, 3] - est[:, :3, 3], axis=1)
    cammc = np.linalg.norm((ref[:, :3, :4] - est[:, :3, :4]).reshape(len(est), -1), axis=1)
    return {
        "rot_err": float(np.radians(rot).sum()),
        "rot_err_deg": float(rot.sum()),
        "trans_err": float(trans.sum()),
        "cammc": float(cammc.sum()),
        "scale": scale_est,
        "num_frames": len(est),
    }


def trajectory_metrics(
    estimate,
    reference,
    rpe_delta: int = 1,
    tau: float = 15.0,
    convention: str | None = None,
) -> dict:
    """Every metric of this module for one clip, as a flat dict of floats (for a table / CSV).

    Keys: ``ate_rmse, ate_mean, ate_median, ate_max, ate_scale`` (Sim(3)-aligned, reference
    units); ``rpe_trans_rmse, rpe_rot_rmse_deg`` (Sim(3) scale, pairs ``(i, i + rpe_delta)``);
    ``rra, rta`` (percent at ``tau`` degrees), ``auc30`` (percent), ``rot_err`` (rad),
    ``rot_err_deg``, ``trans_err``, ``cammc`` (CamI2V, unit extent), ``num_frames``.

    ATE / RPE need at least 2 distinct estimated centres (a static estimate has no Sim(3) scale):
    for such a clip their keys are ``nan`` and ``ate_error`` holds the reason, while the
    scale-free metrics are still reported.

    Raises:
        ValueError: frame counts differ, fewer than 2 frames, or bad poses.
    """
    est, ref = _pair(estimate, reference, convention)
    if len(est) < 2:
        raise ValueError(f"trajectory metrics need at least 2 frames; got {len(est)}")
    out: dict = {"num_frames": len(est)}
    keys = ("ate_rmse", "ate_mean", "ate_median", "ate_max", "ate_scale")
    keys_rpe = ("rpe_trans_rmse", "rpe_rot_rmse_deg")
    delta = min(int(rpe_delta), len(est) - 1)
    try:
        a = ate(est, ref, "sim3", "c2w")
        r = rpe(est, ref, delta=delta, align="sim3", convention="c2w")
    except ValueError as err:
        out.update({k: math.nan for k in keys + keys_rpe})
        out["ate_error"] = str(err)
    else:
        out.update({k: a[k.removeprefix("ate_")] for k in keys})
        out.update({"rpe_trans_rmse": r["trans_rmse"], "rpe_rot_rmse_deg": r["rot_rmse_deg"]})
    rot, trans = relative_pose_errors(est, ref, convention="c2w")
    out.update({"rra": rra(rot, tau), "rta": rta(trans, tau), "auc30": auc(rot, trans, 30)})
    c = rot_trans_err(est, ref, convention="c2w")
    out.update({k: c[k] for k in ("rot_err", "rot_err_deg", "trans_err", "cammc")})
    return out


def per_frame_camera_errors(reference: Cameras, estimate: Cameras, reference_index: int = 0):
    """Per-frame errors of ``estimate`` against ``reference`` in the same world frame and units
    (no alignment): the raxel round-trip accuracy measure of the issue (Rays as Pixels, Sec. 3.5).

    Returns:
        ``(rotation_deg, centre_relative, focal_relative)``, each an ``(N,)`` float64 tensor:
        geodesic rotation error in degrees (atan2 form), centre distance divided by the reference
        trajectory's extent (largest centre distance from camera ``reference_index``), and the larger
        of the relative ``fx`` / ``fy`` errors.

    Raises:
        ValueError: the two trajectories have different frame counts.
    """
    if len(reference) != len(estimate):
        raise ValueError(f"the reference has {len(reference)} frames but the estimate {len(estimate)}; "
                         "compare trajectories of the same length")
    rot = rotation_error_deg(reference.R, estimate.R)
    extent = torch.linalg.norm(reference.centers - reference.centers[reference_index], dim=-1).max()
    centre = torch.linalg.norm(reference.centers - estimate.centers, dim=-1) / extent
    focal = torch.maximum((estimate.fx / reference.fx - 1).abs(), (estimate.fy / reference.fy - 1).abs())
    return rot, centre, focal
