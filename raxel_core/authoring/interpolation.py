"""Interpolation shared by keyframed paths and resampling (:mod:`.keyframes`, :mod:`.trajectory_ops`).

* **rotations**: SLERP between consecutive keys, ``R(u) = R_a exp(u log(R_a^T R_b))``, which is
  the shortest-arc quaternion SLERP (Shoemake 1985, "Animating rotation with quaternion curves",
  SIGGRAPH) written on rotation matrices; the log / exp maps are
  :func:`raxel_core.geometry.rotations.so3_log` / ``so3_exp`` (kornia).
* **camera centres**: a natural cubic spline in frame time (C2, passes exactly through every key;
  two keys give a straight line at constant speed).
* **scalars** (focal length as ``log f``, principal point): piecewise linear.
* queries before the first knot or after the last hold the first / last value (clamping).
"""

from __future__ import annotations

import numpy as np
import torch

from ..geometry.rotations import so3_exp, so3_log


def slerp(R_a: torch.Tensor, R_b: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Shortest-arc spherical interpolation ``R_a exp(u log(R_a^T R_b))``.

    Args:
        R_a, R_b: ``(N, 3, 3)`` rotations (either convention, the same for both).
        u: ``(N,)`` fractions; 0 gives ``R_a``, 1 gives ``R_b`` (to rounding), 0.5 the rotation
            half-way along the geodesic (angle to each end = half the angle between them).

    Returns:
        ``(N, 3, 3)`` float64 rotations. Source: Shoemake 1985 (quaternion SLERP; the
        matrix form is the same curve and takes the shortest arc because ``log`` returns angles
        in ``[0, pi]``).
    """
    u = torch.as_tensor(u, dtype=torch.float64)
    delta = so3_log(R_a.transpose(-1, -2) @ R_b)
    return R_a @ so3_exp(u[..., None] * delta)



def natural_cubic_spline(x: np.ndarray, y: np.ndarray, xq: np.ndarray) -> np.ndarray:
    """Natural cubic spline through ``(x_i, y_i)`` (``x (K,)`` strictly increasing, ``y (K, D)``)
    evaluated at ``xq (M,)``, clamped to ``[x_0, x_{K-1}]``; returns ``(M, D)``.

    Second derivatives ``M_i`` solve (natural ends ``M_0 = M_{K-1} = 0``)
    ``h_{i-1} M_{i-1} + 2 (h_{i-1} + h_i) M_i + h_i M_{i+1} = 6 ((y_{i+1} - y_i)/h_i - (y_i - y_{i-1})/h_{i-1})``
    by the Thomas algorithm; on ``[x_i, x_{i+1}]`` with ``a = (x_{i+1} - x)/h``, ``b = 1 - a``:
    ``y = a y_i + b y_{i+1} + ((a^3 - a) M_i + (b^3 - b) M_{i+1}) h^2 / 6`` (exact at the knots).
    """
    k = x.shape[0]
    xq = np.clip(xq, x[0], x[-1])
    if k == 1:
        return np.repeat(y[:1], xq.shape[0], axis=0)
    h = np.diff(x)
    M = np.zeros_like(y)
    if k > 2:
        slope = np.diff(y, axis=0) / h[:, None]
        rhs = 6 * (slope[1:] - slope[:-1])  # (K-2, D)
        diag = 2 * (h[:-1] + h[1:])
        lower, upper = h[:-1], h[1:]
        # forward sweep
        c_prime = np.zeros(k - 2)
        d_prime = np.zeros_like(rhs)
        c_prime[0] = upper[0] / diag[0]
        d_prime[0] = rhs[0] / diag[0]
        for i in range(1, k - 2):
            denom = diag[i] - lower[i] * c_prime[i - 1]
            c_prime[i] = upper[i] / denom
            d_prime[i] = (rhs[i] - lower[i] * d_prime[i - 1]) / denom
        inner = np.zeros_like(rhs)
        inner[-1] = d_prime[-1]
        for i in range(k - 4, -1, -1):
            inner[i] = d_prime[i] - c_prime[i] * inner[i + 1]
        M[1:-1] = inner
    seg = np.clip(np.searchsorted(x, xq, side="right") - 1, 0, k - 2)
    hs = h[seg][:, None]
    a = (x[seg + 1][:, None] - xq[:, None]) / hs
    b = 1 - a
    return a * y[seg] + b * y[seg + 1] + ((a**3 - a) * M[seg] + (b**3 - b) * M[seg + 1]) * hs**2 / 6


def _segments(x: np.ndarray, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segment index ``(M,)`` and fraction ``u in [0, 1]`` of each clamped query time in the
    strictly increasing knots ``x (K >= 2,)``."""
    xq = np.clip(xq, x[0], x[-1])
    seg = np.clip(np.searchsorted(x, xq, side="right") - 1, 0, x.shape[0] - 2)
    u = (xq - x[seg]) / (x[seg + 1] - x[seg])
    return seg, u


def interpolate_rotations(x: np.ndarray, R: torch.Tensor, xq: np.ndarray) -> torch.Tensor:
    """Piecewise SLERP of rotations ``R (K, 3, 3)`` at knots ``x (K,)`` to times ``xq (M,)``;
    queries on a knot return that knot's rotation exactly."""
    if x.shape[0] == 1:
        return R[:1].repeat(xq.shape[0], 1, 1)
    seg, u = _segments(x, xq)
    seg_t = torch.from_numpy(seg)
    out = slerp(R[seg_t], R[seg_t + 1], torch.from_numpy(u))
    exact = np.isin(np.clip(xq, x[0], x[-1]), x)
    if exact.any():
        idx = np.searchsorted(x, np.clip(xq, x[0], x[-1])[exact])
        out[torch.from_numpy(exact)] = R[torch.from_numpy(idx)]
    return out


def interpolate_linear(x: np.ndarray, y: np.ndarray, xq: np.ndarray) -> np.ndarray:
    """Piecewise-linear ``y (K, D)`` at knots ``x`` to ``xq``, clamped; ``(M, D)``."""
    return np.stack([np.interp(xq, x, y[:, j]) for j in range(y.shape[1])], -1)
