"""Point-set alignment: Kabsch (rigid, weighted, batched in torch) and Umeyama (similarity).

* :func:`procrustes_rotation` / :func:`kabsch`: the rotation (and translation) that best maps
  points ``a`` onto ``p`` in the weighted least-squares sense, batched over any leading
  dimensions, dtype and device kept, so the raxel decoder can fit one pose per frame in one call.
* :func:`umeyama_alignment`: the similarity (or rigid) transform between two ``(N, 3)`` point
  sets in float64 numpy, as ``evo`` computes it, used by the trajectory metrics (ATE).

kornia has no weighted batched Kabsch nor an Umeyama alignment, so both are ours.
"""
from __future__ import annotations

import math

import numpy as np
import torch


def det3(M: torch.Tensor) -> torch.Tensor:
    """Determinants ``(...)`` of ``(..., 3, 3)`` matrices by the rule of Sarrus (LU, as
    ``torch.linalg.det`` does, is slow for many 3x3 matrices on CPU); dtype kept."""
    return (
        M[..., 0, 0] * (M[..., 1, 1] * M[..., 2, 2] - M[..., 1, 2] * M[..., 2, 1])
        - M[..., 0, 1] * (M[..., 1, 0] * M[..., 2, 2] - M[..., 1, 2] * M[..., 2, 0])
        + M[..., 0, 2] * (M[..., 1, 0] * M[..., 2, 1] - M[..., 1, 1] * M[..., 2, 0])
    )


def procrustes_rotation(H: torch.Tensor) -> torch.Tensor:
    """Rotation ``R`` minimising ``sum_i w_i ||p_i - R a_i||^2`` from the cross-covariance
    ``H = sum_i w_i a_i p_i^T`` (centred or not), batched.

    ``H = U S V^T`` (SVD), ``R = V diag(1, 1, s) U^T`` with ``s = sign det(V U^T)`` (1 when that
    determinant is exactly 0), so the result is a proper rotation even when the best orthogonal
    fit is a reflection. Source: Kabsch, Acta Cryst. A32 (1976); Umeyama, IEEE PAMI 1991, eq. 43.

    Args:
        H: ``(..., 3, 3)`` float cross-covariances.

    Returns:
        ``(..., 3, 3)`` rotations (det +1), dtype and device of ``H``.
    """
    U, _, Vh = torch.linalg.svd(H)
    V = Vh.transpose(-1, -2)
    sign = torch.sign(det3(V @ U.transpose(-1, -2)))
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    D = torch.ones(*H.shape[:-2], 1, 3, dtype=H.dtype, device=H.device)
    D[..., 0, 2] = sign
    return (V * D) @ U.transpose(-1, -2)


def kabsch(a: torch.Tensor, p: torch.Tensor, weights: torch.Tensor | None = None):
    """Weighted rigid fit (Kabsch with centroids), batched: ``R, t`` minimising
    ``sum_i w_i ||p_i - (R a_i + t)||^2``.

    With the weighted centroids ``a_bar = sum w a / W``, ``p_bar = sum w p / W`` (``W = sum w``):
    ``H = sum_i w_i a_i p_i^T - W a_bar p_bar^T``, ``R`` = :func:`procrustes_rotation` ``(H)``,
    ``t = p_bar - R a_bar``.

    Args:
        a: ``(..., P, 3)`` source points.
        p: ``(..., P, 3)`` target points (same shape).
        weights: ``(..., P)`` non-negative weights, or ``None`` for all ones.

    Returns:
        ``(R (..., 3, 3), t (..., 3))``, dtype and device of ``a``. All-zero weights give
        ``W`` clamped to 1e-300 (centroids 0) rather than NaN.

    Raises:
        ValueError: ``a`` and ``p`` differ in shape or are not ``(..., P, 3)``, or ``weights`` is
            not ``(..., P)``.
    """
    if a.shape != p.shape or a.ndim < 2 or a.shape[-1] != 3:
        raise ValueError(f"kabsch needs two (..., P, 3) point sets of the same shape; got {tuple(a.shape)} "
                         f"and {tuple(p.shape)}")
    if weights is None:
        weights = torch.ones(a.shape[:-1], dtype=a.dtype, device=a.device)
    elif weights.shape != a.shape[:-1]:
        raise ValueError(f"kabsch weights must have shape {tuple(a.shape[:-1])} (one per point); "
                         f"got {tuple(weights.shape)}")
    wsum = weights.sum(dim=-1).clamp_min(1e-300)[..., None]                  # W (..., 1)
    a_bar = (weights[..., None, :] @ a)[..., 0, :] / wsum                     # (..., 3)
    p_bar = (weights[..., None, :] @ p)[..., 0, :] / wsum
    # H = sum w a p^T - W a_bar p_bar^T
    H = (a * weights[..., None]).transpose(-1, -2) @ p - wsum[..., None] * a_bar[..., :, None] * p_bar[..., None, :]
    R = procrustes_rotation(H)
    t = p_bar - (R @ a_bar[..., None])[..., 0]
    return R, t


def umeyama_alignment(src, dst, with_scale: bool = True) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity (or rigid) transform mapping ``src`` points onto ``dst``.

    Finds ``s, R, t`` minimising ``sum_i ||dst_i - (s R src_i + t)||^2`` (Umeyama, "Least-squares
    estimation of transformation parameters between two point patterns", IEEE PAMI 1991,
    eqs. 34-43; the same algorithm as ``evo.core.geometry.umeyama_alignment``).

    Args:
        src: ``(N, 3)`` points (e.g. estimated camera centres), numpy or torch, any float dtype.
        dst: ``(N, 3)`` corresponding points (e.g. reference camera centres).
        with_scale: ``True`` for Sim(3) (``s`` estimated), ``False`` for SE(3) (``s = 1``).

    Returns:
        ``(s, R, t)``: Python float scale, ``(3, 3)`` float64 rotation (det +1), ``(3,)`` float64
        translation, so that ``dst ~ s * src @ R.T + t``.

    Raises:
        ValueError: shapes differ or are not ``(N, 3)``, values are not finite, or ``with_scale``
            and the ``src`` points all coincide (the scale is undefined: a static camera).

    Collinear points (a pure dolly) are accepted: the rotation about the line is then arbitrary but
    the aligned points, and so the ATE, are unique. (evo refuses them.)
    """
    x = np.asarray(src.detach().cpu().numpy() if isinstance(src, torch.Tensor) else src, np.float64)
    y = np.asarray(dst.detach().cpu().numpy() if isinstance(dst, torch.Tensor) else dst, np.float64)
    if x.ndim != 2 or x.shape[1] != 3 or x.shape != y.shape:
        raise ValueError(
            f"umeyama_alignment needs two (N, 3) point sets of the same shape; got "
            f"{tuple(x.shape)} and {tuple(y.shape)}"
        )
    if len(x) == 0 or not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("umeyama_alignment needs at least one point and only finite values")
    n = len(x)
    mean_x, mean_y = x.mean(axis=0), y.mean(axis=0)  # eqs. 34, 35
    xc, yc = x - mean_x, y - mean_y
    sigma_x = float(np.sum(xc**2)) / n  # eq. 36
    cov = yc.T @ xc / n  # eq. 38: Sigma_xy = 1/n sum (y_i - mu_y)(x_i - mu_x)^T
    U, d, Vt = np.linalg.svd(cov)
    S = np.eye(3)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:  # eq. 43: keep a right-handed rotation
        S[2, 2] = -1.0
    R = U @ S @ Vt  # eq. 40
    if with_scale:
        spread = math.sqrt(sigma_x)
        if spread <= 1e-12 * max(1.0, float(np.abs(x).max())):
            raise ValueError(
                "Sim(3) alignment is undefined: all estimated camera centres coincide (a static "
                "camera has no scale); use align='se3' or align='none'"
            )
        s = float(np.trace(np.diag(d) @ S)) / sigma_x  # eq. 42
    else:
        s = 1.0
    t = mean_y - s * R @ mean_x  # eq. 41
    return s, R, t
