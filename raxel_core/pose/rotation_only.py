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


def solve_rotation_only(pairs, stats, n, image_size, focal, f_prior, messages, static=False,
                         max_points=150, seed=0):
    """Rotations (w2c, frame of the first registered image = identity) and the focal length of a
    camera that only rotates (``static``: of a camera whose background stays put; only the
    stationary matches are used). Returns ``(frames, R (M, 3, 3), f, focal_estimated)``."""
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
    h, w = image_size
    refine_f = focal is None and estimated

    def unpack(p):
        # axis-angle vectors of frames 1..m-1 (frame 0 is the identity) -> rotations
        rest = so3_exp(torch.tensor(p[: 3 * (m - 1)], dtype=torch.float64).reshape(m - 1, 3)).numpy()
        Rs = np.concatenate([np.eye(3)[None], rest])
        f = math.exp(p[-1]) if refine_f else f_est
        return Rs, f

    def residuals(p):
        Rs, f = unpack(p)
        # ray in camera i, rotated to camera j, projected: u = f x / z + c  (pinhole)
        rays = np.c_[(x1s[:, 0] - w / 2) / f, (x1s[:, 1] - h / 2) / f, np.ones(len(x1s))]
        Rji = Rs[obs_j] @ np.transpose(Rs[obs_i], (0, 2, 1))
        q = np.einsum("nab,nb->na", Rji, rays)
        z = np.where(q[:, 2] > 1e-6, q[:, 2], 1e-6)
        u = f * q[:, 0] / z + w / 2
        v = f * q[:, 1] / z + h / 2
        return np.r_[u - x2s[:, 0], v - x2s[:, 1]]

    log_R0 = so3_log(torch.from_numpy(np.stack([R0[fr] for fr in frames[1:]]))).numpy().reshape(-1)
    p0 = np.concatenate([log_R0] + ([[math.log(f_est)]] if refine_f else [[]]))
    sol = least_squares(residuals, p0, loss="huber", f_scale=2.0, method="trf", x_scale="jac", max_nfev=200)
    Rs, f = unpack(sol.x)
    rms = float(np.sqrt(np.mean(sol.fun ** 2)))
    messages.append(
        f"rotation-only refinement: {len(x1s)} matches over {len(good)} frame pairs, RMS reprojection "
        f"{rms:.2f} px, focal {f:.1f} px" + (" (estimated)" if refine_f else " (held fixed)")
    )
    return frames, Rs, f, refine_f
