"""The rotation-only solver of :func:`raxel_core.pose.estimate.estimate_trajectory` (step 5b):
footage without parallax (tripod pans and tilts) and static cameras.

Rotations are chained from the pairwise homographies with a focal length from the homographies'
orthogonality (``K^-1 H K`` must be a rotation), then all rotations and the focal length are refined
jointly by robust least squares on the matched keypoints (``scipy.optimize.least_squares``, Huber
loss); every camera centre is zero.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..geometry.rotations import project_to_rotation, so3_exp, so3_log


def pinhole_intrinsics(f: float, image_size: tuple[int, int]) -> np.ndarray:
    """``(3, 3)`` float64 pixel ``K`` with focal ``f`` pixels, square pixels, principal point at the
    centre ``(W / 2, H / 2)`` of an ``image_size = (H, W)`` image."""
    h, w = image_size
    return np.array([[f, 0.0, w / 2], [0.0, f, h / 2], [0.0, 0.0, 1.0]])


def focal_from_homographies(homographies, image_size, f_prior):
    """Focal length making ``K^-1 H K`` closest to a rotation over all pairs (grid search over
    fields of view 10-150 degrees, median cost). Returns ``None`` when the homographies do not
    constrain the focal length (near-identity: a static camera)."""
    h, w = image_size
    grid = 0.5 * max(h, w) / np.tan(np.radians(np.linspace(5, 75, 141)))
    costs = []
    for f in grid:
        K = pinhole_intrinsics(f, image_size)
        Ki = np.linalg.inv(K)
        c = []
        for H in homographies:
            M = Ki @ H @ K
            d = np.linalg.det(M)
            if d <= 0:
                c.append(1.0)
                continue
            M = M / np.cbrt(d)
            c.append(np.linalg.norm(M.T @ M - np.eye(3)))
        costs.append(np.median(c))
    costs = np.array(costs)
    if costs.max() - costs.min() < 1e-3 * max(costs.min(), 1e-6) + 1e-6:
        return None
    return float(grid[int(np.argmin(costs))])


def _largest_component(n, edges):
    parent = list(range(n))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i, j in edges:
        parent[find(i)] = find(j)
    groups: dict = {}
    for k in range(n):
        groups.setdefault(find(k), []).append(k)
    return sorted(max(groups.values(), key=len))


def skew(v: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` cross-product matrices ``[v]_x`` of ``(..., 3)`` vectors (``[v]_x a = v x a``)."""
    out = np.zeros(v.shape[:-1] + (3, 3))
    out[..., 0, 1], out[..., 0, 2], out[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    out[..., 1, 0], out[..., 2, 0], out[..., 2, 1] = v[..., 2], -v[..., 1], v[..., 0]
    return out


def so3_right_jacobian(v: np.ndarray) -> np.ndarray:
    """Right Jacobian ``J_r (..., 3, 3)`` of SO(3) at axis-angle vectors ``v (..., 3)`` (radians):
    ``exp(v + dv) = exp(v) exp(J_r(v) dv)`` to first order, so ``d(exp(v) a)/dv = -exp(v) [a]_x J_r(v)``;
    ``J_r = I - (1 - cos t) / t^2 [v]_x + (t - sin t) / t^3 [v]_x^2`` with ``t = |v|`` (Taylor terms near
    0). Source: Chirikjian, *Stochastic Models, Information Theory, and Lie Groups* vol. 2 (2012),
    Sec. 10.6; Sola et al., *A micro Lie theory for state estimation in robotics* (2018), Eq. 143."""
    t = np.linalg.norm(v, axis=-1)[..., None, None]
    small = t < 1e-4
    ts = np.where(small, 1.0, t)
    a = np.where(small, 0.5 - t ** 2 / 24, (1 - np.cos(ts)) / ts ** 2)
    b = np.where(small, 1 / 6 - t ** 2 / 120, (ts - np.sin(ts)) / ts ** 3)
    W = skew(v)
    return np.eye(3) - a * W + b * (W @ W)


class RotationProblem:
    """Residuals and their analytic sparse Jacobian for the rotation-only refinement.

    Parameters ``p``: the axis-angle vectors of frames ``1 .. m-1`` (frame 0 is held at the identity),
    then ``log f`` when the focal length is refined. Match ``k`` is the keypoint ``x1[k]`` of frame
    ``obs_i[k]`` and ``x2[k]`` of ``obs_j[k]``: its ray ``r = ((x - cx) / f, (y - cy) / f, 1)`` in
    camera ``i`` is rotated to camera ``j``, ``q = R_j R_i^T r``, and projected,
    ``u = f q_x / q_z + cx`` (pinhole, square pixels, principal point at the image centre). Residuals:
    ``u - x2`` for every match, then ``v - y2`` (``2 M`` values, pixels).

    The Jacobian is a ``scipy.sparse`` CSR matrix with 6 (7 with the focal length) entries per row,
    so memory and time per step grow linearly with the number of matches (a dense Jacobian of a
    455-frame clip needed more than 20 GB); derivatives by the chain rule with
    :func:`so3_right_jacobian` (``d(R_j a)/dw_j = -R_j [a]_x J_r(w_j)``,
    ``d(R_i^T r)/dw_i = R_i^T [r]_x J_r(-w_i)``).
    """

    def __init__(self, obs_i, obs_j, x1, x2, m: int, image_size, f: float, refine_f: bool):
        self.obs_i, self.obs_j = np.asarray(obs_i), np.asarray(obs_j)
        self.x1, self.x2 = np.asarray(x1, np.float64), np.asarray(x2, np.float64)
        self.m, self.f, self.refine_f = m, float(f), bool(refine_f)
        h, w = image_size
        self.c = np.array([w / 2, h / 2])
        self.num_params = 3 * (m - 1) + int(refine_f)

    def unpack(self, p):
        """``(R (m, 3, 3), f)`` of parameters ``p``."""
        rest = so3_exp(torch.tensor(p[: 3 * (self.m - 1)], dtype=torch.float64).reshape(self.m - 1, 3)).numpy()
        Rs = np.concatenate([np.eye(3)[None], rest])
        return Rs, (math.exp(p[-1]) if self.refine_f else self.f)

    def _project(self, p):
        Rs, f = self.unpack(p)
        rays = np.c_[(self.x1 - self.c) / f, np.ones(len(self.x1))]
        a = np.einsum("nba,nb->na", Rs[self.obs_i], rays)        # R_i^T r
        q = np.einsum("nab,nb->na", Rs[self.obs_j], a)           # R_j R_i^T r
        z = np.where(q[:, 2] > 1e-6, q[:, 2], 1e-6)
        uv = f * q[:, :2] / z[:, None] + self.c                   # u = f q_x / q_z + c_x
        return Rs, f, rays, a, q, z, uv

    def residuals(self, p) -> np.ndarray:
        """``(2 M,)`` reprojection residuals in pixels: all ``u - x2``, then all ``v - y2``."""
        uv = self._project(p)[-1]
        return np.r_[uv[:, 0] - self.x2[:, 0], uv[:, 1] - self.x2[:, 1]]

    def jacobian(self, p):
        """``scipy.sparse.csr_matrix (2 M, num_params)``: d residuals / d ``p``."""
        from scipy.sparse import coo_matrix

        Rs, f, rays, a, q, z, uv = self._project(p)
        n = len(q)
        w = np.concatenate([np.zeros((1, 3)), np.asarray(p[: 3 * (self.m - 1)]).reshape(-1, 3)])
        # d(u, v)/dq (n, 2, 3): f (1/z, 0, -q_x/z^2), f (0, 1/z, -q_y/z^2)
        dq = np.zeros((n, 2, 3))
        dq[:, 0, 0] = dq[:, 1, 1] = f / z
        dq[:, :, 2] = -f * q[:, :2] / (z ** 2)[:, None]
        Rj = Rs[self.obs_j]
        d_wj = -Rj @ skew(a) @ so3_right_jacobian(w)[self.obs_j]
        d_wi = Rj @ np.transpose(Rs[self.obs_i], (0, 2, 1)) @ skew(rays) @ so3_right_jacobian(-w)[self.obs_i]
        rows, cols, vals = [], [], []
        for frame, d in ((self.obs_i, dq @ d_wi), (self.obs_j, dq @ d_wj)):
            keep = np.flatnonzero(frame > 0)
            for comp in range(2):
                for axis in range(3):
                    rows.append(keep + comp * n)
                    cols.append(3 * (frame[keep] - 1) + axis)
                    vals.append(d[keep, comp, axis])
        if self.refine_f:
            # p_f = log f: dr/dp_f = -(r_x, r_y, 0); u - c = f q_x / q_z contributes itself
            dr = np.c_[-rays[:, :2], np.zeros(n)]
            dqf = np.einsum("nab,nb->na", Rj @ np.transpose(Rs[self.obs_i], (0, 2, 1)), dr)
            duv = (uv - self.c) + np.einsum("nca,na->nc", dq, dqf)
            rows += [np.arange(n), np.arange(n) + n]
            cols += [np.full(n, self.num_params - 1)] * 2
            vals += [duv[:, 0], duv[:, 1]]
        return coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(2 * n, self.num_params)).tocsr()


#: Most matches the rotation-only refinement uses in all (each pair keeps at most
#: ``max(MIN_POINTS_PER_PAIR, MAX_MATCHES // pairs)`` of them, and at most ``max_points``), so that its
#: memory stays bounded on long clips: a 400-frame clip with 150 matches per pair peaked at 1.2 GB.
MAX_MATCHES = 120_000
#: Fewest matches per frame pair kept by that cap (each pair constrains 3 rotation angles).
MIN_POINTS_PER_PAIR = 20


def solve_rotation_only(pairs, stats, n, image_size, focal, f_prior, messages, static=False,
                         max_points=150, seed=0):
    """Rotations (w2c, frame of the first registered image = identity) and the focal length of a
    camera that only rotates (``static``: of a camera whose background stays put; only the
    stationary matches are used); at most ``max_points`` matches per pair and about
    :data:`MAX_MATCHES` in all. Returns ``(frames, R (M, 3, 3), f, focal_estimated)``."""
    from scipy.optimize import least_squares

    if static:
        stats = [dict(s, H=np.eye(3), inliers=s["stationary"]) for s in stats]
    good = [(p, s) for p, s in zip(pairs, stats, strict=True) if s["H"] is not None and s["inliers"].sum() >= 8]
    frames = _largest_component(n, [(p[0], p[1]) for p, _ in good])
    fset = set(frames)
    good = [(p, s) for p, s in good if p[0] in fset]
    if len(frames) < 2:
        return frames, None, None, False
    f_est = focal
    estimated = False
    if f_est is None:
        moving = [s["H"] for _, s in good if not static]
        f_est = focal_from_homographies(moving, image_size, f_prior) if moving else None
        if f_est is None:
            f_est = f_prior
            messages.append(
                f"focal length not observable without camera motion; kept the prior {f_prior:.1f} px"
            )
        else:
            estimated = True
    # Initial rotations: breadth-first over the pairs, R_j = (K^-1 H_ij K) R_i.
    K = pinhole_intrinsics(f_est, image_size)
    Ki = np.linalg.inv(K)
    rel = {}
    for (i, j, _, _), s in good:
        Rij = project_to_rotation(torch.from_numpy(Ki @ s["H"] @ K)).numpy()
        rel.setdefault(i, []).append((j, Rij))
        rel.setdefault(j, []).append((i, Rij.T))
    R0 = {frames[0]: np.eye(3)}
    queue = [frames[0]]
    while queue:
        a = queue.pop(0)
        for b, Rab in sorted(rel.get(a, []), key=lambda e: abs(e[0] - a)):
            if b not in R0:
                R0[b] = Rab @ R0[a]
                queue.append(b)
    index = {fr: k for k, fr in enumerate(frames)}
    rng = np.random.default_rng(seed)
    max_points = min(max_points, max(MIN_POINTS_PER_PAIR, MAX_MATCHES // max(len(good), 1)))
    obs_i, obs_j, x1s, x2s = [], [], [], []
    for (i, j, x1, x2), s in good:
        x1, x2 = x1[s["inliers"]], x2[s["inliers"]]
        sel = rng.permutation(len(x1))[:max_points]
        obs_i.append(np.full(len(sel), index[i]))
        obs_j.append(np.full(len(sel), index[j]))
        x1s.append(x1[sel])
        x2s.append(x2[sel])
    obs_i, obs_j = np.concatenate(obs_i), np.concatenate(obs_j)
    x1s, x2s = np.concatenate(x1s), np.concatenate(x2s)
    m = len(frames)
    refine_f = focal is None and estimated
    problem = RotationProblem(obs_i, obs_j, x1s, x2s, m, image_size, f_est, refine_f)
    log_R0 = so3_log(torch.from_numpy(np.stack([R0[fr] for fr in frames[1:]]))).numpy().reshape(-1)
    p0 = np.concatenate([log_R0] + ([[math.log(f_est)]] if refine_f else [[]]))
    sol = least_squares(problem.residuals, p0, jac=problem.jacobian, loss="huber", f_scale=2.0, method="trf",
                        tr_solver="lsmr", x_scale="jac", max_nfev=200)
    Rs, f = problem.unpack(sol.x)
    rms = float(np.sqrt(np.mean(sol.fun ** 2)))
    messages.append(
        f"rotation-only refinement: {len(x1s)} matches (at most {max_points} per pair) over {len(good)} frame "
        "pairs, RMS reprojection "
        f"{rms:.2f} px, focal {f:.1f} px" + (" (estimated)" if refine_f else " (held fixed)")
    )
    return frames, Rs, f, refine_f
