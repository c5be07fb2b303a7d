"""Bundle adjustment of cameras, one shared focal length and static 3D points on the static tracks only
(second order: Levenberg-Marquardt on robust Gauss-Newton normal equations), the alternating step of
:func:`raxel_core.tracks4d.solve_tracks4d` once its dynamic score has told static from moving tracks.

Why a second-order step: the low-rank model's static fit (L-BFGS on TracksTo4D's robust static reprojection,
Sec. 3.2) barely moves the shared focal length (measured on the synthetic 29 %-moving clips: < 1 % in every
fit from an SfM start whose focal was 1-11 % off), because a focal change must be matched by moving every 3D
point and translation together (the focal-depth valley of the reprojection cost). A Gauss-Newton step solves
for those coupled directions at once (Triggs, McLauchlan, Hartley, Fitzgibbon, "Bundle Adjustment - A Modern
Synthesis", 2000, Sec. 4 and 6): from the same SfM start and the same static tracks it reached the focal and
cameras that the exact start gives (110.2 px, AUC@30 99.1, in 34 steps), where
``scipy.optimize.least_squares`` (trust-region reflective, ``lsmr``) had not converged after 300 evaluations.

Model: world-to-camera ``R_t <- exp([w_t]_x) R_t``, ``t_t``; pixel ``K`` with ``fx = fx0 e^l``, ``fy = fy0 e^l``
(pixel aspect and principal point kept); frame 0 held fixed and the scale held by one residual on
``sum_t |t_t - t_0|^2`` (the gauge) and a weak prior on the focal (:data:`FOCAL_PRIOR_WEIGHT`).
Residual ``P_t(X_j) - x_tj`` in pixels with the Geman-McClure loss
``rho(r) = s^2 r^2 / (s^2 + r^2)`` (the robust loss of TracksTo4D's static term), minimised by iteratively
reweighted Gauss-Newton (weight ``s^4 / (s^2 + r^2)^2``) with Marquardt's damping; the sparse normal equations
(analytic Jacobian, ``scipy.sparse``) are solved by ``scipy.sparse.linalg.spsolve`` (SuperLU).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
from scipy.spatial.transform import Rotation

from ..pose.rotation_only import skew

#: Fewest static tracks (each seen in 2+ frames) the bundle adjustment accepts.
MIN_STATIC_TRACKS = 8
#: The solver stops when an accepted step lowers the cost by less than this share of it.
RELATIVE_TOLERANCE = 1e-7
#: Weight of the scale-gauge residual (relative change of ``sum_t |t_t - t_0|^2``).
GAUGE_WEIGHT = 10.0
#: Weight of the focal prior residual ``w log(f / f_start)`` (pixels per unit log focal; a 10 % change costs ~1 px^2).
#: Where the clip determines the focal the data outweigh it (29 %-moving clip, seed 0: fixing the focal costs the
#: fit 3.5 px^2; it still moves 122.9 -> 112.6 px, exact 110.85); where it does not, it keeps the start's focal
#: instead of drifting along the focal-depth valley on the noise (a camera that only trucks sideways: 149 -> 230 px
#: without it; RealEstate10K clip 0c9b371cc6225682, whose SfM focal is right: 183.7 -> 199.2 px and AUC@30 97.7 ->
#: 93.7 at weight 3, 186.2 px and 98.5 at 10, where the fit without the focal gained only 0.06 px^2).
FOCAL_PRIOR_WEIGHT = 10.0


@dataclass
class StaticBundleResult:
    """Result of :func:`static_bundle_adjustment`.

    Attributes:
        K: ``(3, 3)`` float64 pixel intrinsics (refined focal).
        R, t: ``(T, 3, 3)``, ``(T, 3)`` float64 world-to-camera poses (frame 0 as given).
        points: ``(M, 3)`` float64 refined 3D points of the static tracks (input order).
        median_residual_px: median reprojection error of the static tracks after the fit, pixels.
        cost: final robust cost (sum of the Geman-McClure terms, px^2, with the gauge and focal prior terms).
        evaluations: residual evaluations used.
    """

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    points: np.ndarray
    median_residual_px: float
    evaluations: int
    cost: float = float("nan")


def static_bundle_adjustment(points_px: np.ndarray, visibility: np.ndarray, K: np.ndarray, R: np.ndarray,
                             t: np.ndarray, X: np.ndarray, loss_scale_px: float = 1.0, refine_focal: bool = True,
                             max_evaluations: int = 100) -> StaticBundleResult:
    """Robust bundle adjustment of ``T`` cameras, the shared focal and ``M`` static points (module docstring).

    Args:
        points_px: ``(T, M, 2)`` float pixels of the static tracks.
        visibility: ``(T, M)`` bool observations to use.
        K: ``(3, 3)`` start pixel intrinsics (shared by the frames).
        R, t: ``(T, 3, 3)``, ``(T, 3)`` start world-to-camera poses (OpenCV axes).
        X: ``(M, 3)`` start 3D points (world).
        loss_scale_px: scale ``s`` of the Geman-McClure loss in pixels (> 0).
        refine_focal: optimise the focal (else only poses and points).
        max_evaluations: most cost evaluations (accepted and rejected steps, >= 1); the solver also stops when a
            step lowers the cost by less than :data:`RELATIVE_TOLERANCE` of it.

    Returns:
        :class:`StaticBundleResult`.

    Raises:
        ValueError: shapes that do not agree, fewer than 2 frames, fewer than :data:`MIN_STATIC_TRACKS`
            tracks seen in 2+ frames, a scale or budget out of range, or a start whose cameras do not move
            (no translation: the scale gauge is undefined; use a rotation-only solver).
    """
    pts = np.asarray(points_px, dtype=np.float64)
    vis = np.asarray(visibility, dtype=bool)
    T, M = vis.shape
    if pts.shape != (T, M, 2) or np.shape(R) != (T, 3, 3) or np.shape(t) != (T, 3) or np.shape(X) != (M, 3):
        raise ValueError(f"static_bundle_adjustment: shapes disagree: points {pts.shape}, visibility {vis.shape}, "
                         f"R {np.shape(R)}, t {np.shape(t)}, X {np.shape(X)}; need (T, M, 2), (T, M), (T, 3, 3), "
                         "(T, 3), (M, 3)")
    if T < 2 or int((vis.sum(axis=0) >= 2).sum()) < MIN_STATIC_TRACKS:
        raise ValueError(f"static_bundle_adjustment needs 2+ frames and {MIN_STATIC_TRACKS}+ tracks seen in 2+ frames; "
                         f"got {T} frames, {int((vis.sum(axis=0) >= 2).sum())} tracks")
    if not (loss_scale_px > 0 and max_evaluations >= 1):
        raise ValueError(f"need loss_scale_px > 0 and max_evaluations >= 1; got {loss_scale_px}, {max_evaluations}")
    R0, t0, K0 = np.asarray(R, np.float64), np.asarray(t, np.float64), np.asarray(K, np.float64)
    gauge0 = float(np.square(t0 - t0[0]).sum())
    if gauge0 < 1e-18:
        raise ValueError("static_bundle_adjustment: the start cameras do not translate, so the scale is undefined; "
                         "a still camera needs a rotation-only solver")
    ti, ji = np.nonzero(vis)  # observations (frame, track)
    obs = pts[ti, ji]
    n_obs, n_cam = len(ti), 6 * (T - 1) + 1  # per moving frame (w, t), then the focal
    n_par = n_cam + 3 * M
    scale2 = float(loss_scale_px) ** 2
    # Jacobian pattern (fixed): per observation row pair, the 6 columns of its frame (none for frame 0), the
    # focal, its point's 3; the gauge row: every translation
    cam_cols = 6 * (ti[:, None] - 1) + np.arange(6)
    cols = np.concatenate([cam_cols, np.full((n_obs, 1), n_cam - 1), n_cam + 3 * ji[:, None] + np.arange(3)], 1)
    rows = np.repeat(np.arange(2 * n_obs), 10).reshape(n_obs, 2, 10)
    cols = np.broadcast_to(cols[:, None], (n_obs, 2, 10))
    # frame 0's camera is fixed (no columns); the focal column only when refined
    use = np.r_[[True] * 6, refine_focal, True, True, True][None, None] & ((ti > 0)[:, None, None] |
                                                                         (np.arange(10) >= 6))
    use = np.broadcast_to(use, (n_obs, 2, 10))
    gauge_cols = 6 * np.arange(T - 1)[:, None] + 3 + np.arange(3)

    def evaluate(Rt, tt, log_f, Xp):
        Y = np.einsum("nij,nj->ni", Rt[ti], Xp[ji])  # R X
        cam = Y + tt[ti]  # x_cam = R X + t
        z = np.where(np.abs(cam[:, 2]) < 1e-9, 1e-9, cam[:, 2])
        fx, fy = K0[0, 0] * np.exp(log_f), K0[1, 1] * np.exp(log_f)
        uv = np.stack([fx * cam[:, 0] / z + K0[0, 2], fy * cam[:, 1] / z + K0[1, 2]], 1)  # u = fx x / z + cx
        r = uv - obs
        gauge = GAUGE_WEIGHT * (np.square(tt - tt[0]).sum() / gauge0 - 1.0)  # the scale gauge
        return Y, cam, z, fx, fy, uv, r, gauge

    def cost(r, gauge, log_f):
        r2 = np.square(r).sum(1)  # Geman-McClure: s^2 r^2 / (s^2 + r^2)
        return float((scale2 * r2 / (scale2 + r2)).sum() + gauge**2 + (FOCAL_PRIOR_WEIGHT * log_f) ** 2)

    def jacobian(Rt, Y, cam, z, fx, fy, uv, tt):
        d = np.zeros((n_obs, 2, 3))  # d(u, v) / d x_cam
        d[:, 0, 0], d[:, 0, 2] = fx / z, -fx * cam[:, 0] / z**2
        d[:, 1, 1], d[:, 1, 2] = fy / z, -fy * cam[:, 1] / z**2
        d_w = -skew(Y)  # d x_cam / d w = -[Y]_x (left update R <- exp([w]_x) R)
        values = np.concatenate([d @ d_w, d, (uv - K0[None, :2, 2])[:, :, None], d @ Rt[ti]], 2)  # (n, 2, 10)
        J = scipy.sparse.csr_matrix((values[use], (rows[use], cols[use])), shape=(2 * n_obs, n_par))
        g_row = scipy.sparse.csr_matrix((GAUGE_WEIGHT * 2 * (tt[1:] - tt[0]).ravel() / gauge0,
                                         (np.zeros(3 * (T - 1), int), gauge_cols.ravel())), shape=(1, n_par))
        return J, g_row

    Rt, tt, log_f, Xp = R0.copy(), t0.copy(), 0.0, np.asarray(X, np.float64).copy()
    state = evaluate(Rt, tt, log_f, Xp)
    current = cost(state[6], state[7], log_f)
    damping, evaluations = 1e-3, 1
    while evaluations < max_evaluations:
        Y, cam, z, fx, fy, uv, r, gauge = state
        J, g_row = jacobian(Rt, Y, cam, z, fx, fy, uv, tt)
        # iteratively reweighted Gauss-Newton for Geman-McClure: weight s^4 / (s^2 + r^2)^2 per observation
        w = np.repeat(1.0 / (1.0 + np.square(r).sum(1) / scale2) ** 2, 2)
        A = (J.T @ scipy.sparse.diags(w) @ J + g_row.T @ g_row).tocsc()
        b = J.T @ (w * r.ravel()) + g_row.T.toarray().ravel() * gauge
        if refine_focal:  # the focal prior's normal equations
            A[n_cam - 1, n_cam - 1] += FOCAL_PRIOR_WEIGHT**2
            b[n_cam - 1] += FOCAL_PRIOR_WEIGHT**2 * log_f
        diag = A.diagonal()
        if not refine_focal:
            diag[n_cam - 1] = 1.0  # empty focal column: a zero step
        # Marquardt: (A + lambda diag(A)) step = -b, lambda raised until the cost falls
        improved = False
        while evaluations < max_evaluations:
            step = scipy.sparse.linalg.spsolve(A + scipy.sparse.diags(damping * np.maximum(diag, 1e-12)), -b)
            Rn = Rt.copy()
            Rn[1:] = Rotation.from_rotvec(step[: 6 * (T - 1)].reshape(T - 1, 6)[:, :3]).as_matrix() @ Rt[1:]
            tn = tt.copy()
            tn[1:] += step[: 6 * (T - 1)].reshape(T - 1, 6)[:, 3:]
            fn = log_f + (step[n_cam - 1] if refine_focal else 0.0)
            Xn = Xp + step[n_cam:].reshape(M, 3)
            candidate = evaluate(Rn, tn, fn, Xn)
            evaluations += 1
            new = cost(candidate[6], candidate[7], fn)
            if np.isfinite(new) and new < current:
                improved = current - new > RELATIVE_TOLERANCE * current
                Rt, tt, log_f, Xp, state, current = Rn, tn, fn, Xn, candidate, new
                damping = max(damping / 3, 1e-9)
                break
            damping *= 4
        if not improved:
            break
    K1 = K0.copy()
    K1[0, 0], K1[1, 1] = K0[0, 0] * np.exp(log_f), K0[1, 1] * np.exp(log_f)
    return StaticBundleResult(K=K1, R=Rt, t=tt, points=Xp,
                              median_residual_px=float(np.median(np.linalg.norm(state[6], axis=1))),
                              evaluations=evaluations, cost=current)
