"""Trajectory editing: chain, combine, resample, sample_at, smooth.

All functions take and return :class:`~raxel_core.cameras.Cameras` (OpenCV axes, world-to-camera
``R, t``, pixel ``K``), float64. Resampling interpolates as keyframed paths do
(:mod:`.interpolation`: SLERP rotations, natural cubic spline centres, ``log f`` linear).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch

from ..cameras import Cameras
from ..geometry.rotations import so3_exp, so3_log
from .interpolation import interpolate_linear, interpolate_rotations, natural_cubic_spline
from .trajectory_presets import is_whole_number


def _relative_w2c(cameras: Cameras) -> torch.Tensor:
    """``(N, 4, 4)`` motion relative to frame 0: ``w2c_k @ c2w_0`` (frame 0 becomes identity)."""
    return cameras.w2c @ cameras.c2w[0]


def chain(trajectories: Sequence[Cameras]) -> Cameras:
    """Join trajectories end to end, each continuing from where the previous one ends.

    Trajectory ``j > 0`` is expressed relative to its own first frame (``w2c_k @ c2w_0``) and
    composed onto the last pose of the chain so far: ``w2c_new_k = (w2c_k @ c2w_0) @ w2c_end``.
    Its first frame would repeat the joint pose, so it is **dropped**: the result has
    ``sum(N_j) - (len(trajectories) - 1)`` frames and no frame is shown twice. Each part keeps its
    own intrinsics and its own scene scale. The first trajectory is kept as it is (its world frame
    is the result's). Example: ``chain([pan_left 30 deg, dolly_in 1])`` pans, then moves 1 unit
    along the *panned* viewing direction.

    Raises:
        ValueError: no trajectories, different image sizes, or different known fps.
    """
    parts = list(trajectories)
    if not parts:
        raise ValueError("chain needs at least one trajectory")
    sizes = {p.image_size for p in parts}
    if len(sizes) != 1:
        raise ValueError(
            f"cannot chain trajectories of different image sizes {sorted(sizes)}; resize one with "
            "Cameras.with_image_size first"
        )
    rates = {p.fps for p in parts if p.fps is not None}
    if len(rates) > 1:
        raise ValueError(f"cannot chain trajectories of different fps {sorted(rates)}; resample one first")
    out = parts[0]
    for p in parts[1:]:
        w2c = _relative_w2c(p)[1:] @ out.w2c[-1]
        nxt = replace(p[1:], R=w2c[:, :3, :3], t=w2c[:, :3, 3]) if len(p) > 1 else None
        if nxt is not None:
            out = Cameras.concatenate([out, nxt])
    out = replace(out, fps=next(iter(rates)) if rates else None)
    return out.validate("chained trajectory")


def combine(a: Cameras, b: Cameras) -> Cameras:
    """Apply ``b``'s motion on top of ``a``, frame by frame (e.g. a pan while dollying).

    ``b`` is taken relative to its first frame, ``B_k = w2c_b_k @ c2w_b_0``, and applied in
    ``a``'s camera frame: ``w2c_k = B_k @ w2c_a_k`` (the camera of ``a`` at frame ``k``, then moved
    by ``b``'s motion expressed in that camera's own axes). The focal lengths of ``a`` are scaled
    by ``b``'s zoom ``fx_b_k / fx_b_0`` (and ``fy``). Order matters for rotation + translation:
    ``combine(dolly, pan)`` moves straight ahead while turning; ``combine(pan, dolly)`` moves
    along the turning viewing direction (a curve). The result keeps ``a``'s image size and fps.

    Raises:
        ValueError: the two trajectories have different frame counts.
    """
    if len(a) != len(b):
        raise ValueError(
            f"combine needs trajectories of the same length; got {len(a)} and {len(b)} frames. "
            "Resample one (raxel_core.authoring.resample) to the other's frame count"
        )
    w2c = _relative_w2c(b) @ a.w2c
    K = a.K.clone()
    K[:, 0, 0] *= b.fx / b.fx[0]
    K[:, 1, 1] *= b.fy / b.fy[0]
    return replace(a, K=K, R=w2c[:, :3, :3], t=w2c[:, :3, 3]).validate("combined trajectory")


def resample(cameras: Cameras, num_frames: int) -> Cameras:
    """The same motion over another number of frames.

    Output frame ``j`` sits at time ``x_j = j (N - 1) / (M - 1)`` of the input (``M = 1`` gives the
    first frame), interpolated by :func:`sample_at`. ``fps`` is scaled by ``(M - 1) / (N - 1)`` so
    the duration is unchanged (kept when unknown). ``M == N`` returns the input object itself.

    Raises:
        ValueError: ``num_frames < 1``.
    """
    if not is_whole_number(num_frames, 1):
        raise ValueError(f"num_frames must be a whole number >= 1; got {num_frames!r}")
    n, m = len(cameras), int(num_frames)
    if n == m:
        return cameras
    xq = np.linspace(0, n - 1, m) if m > 1 else np.zeros(1)
    if m > 1:
        xq[-1] = n - 1
    fps = cameras.fps
    if fps is not None and n > 1 and m > 1:
        fps = fps * (m - 1) / (n - 1)
    return replace(sample_at(cameras, xq), fps=fps)


def sample_at(cameras: Cameras, times) -> Cameras:
    """The trajectory at fractional frame times ``times (M,)`` (frame units of the input, clamped
    to ``[0, N - 1]``).

    Rotations: SLERP between neighbouring input frames; camera centres: natural cubic spline
    through all input centres; ``fx, fy``: ``log`` linear; ``cx, cy``: linear
    (:mod:`.interpolation`). Every time landing on an input frame copies that frame exactly
    (``K``, ``R``, ``t`` bit-identical). ``fps`` is kept as it is (the caller knows the timing).

    Raises:
        ValueError: no times, or a time that is not finite.
    """
    xq = np.asarray(times, dtype=np.float64).reshape(-1)
    if xq.size == 0 or not np.isfinite(xq).all():
        raise ValueError(f"sample_at needs one or more finite frame times; got {times!r}")
    n, m = len(cameras), xq.shape[0]
    xq = np.clip(xq, 0, n - 1)
    x = np.arange(n, dtype=np.float64)
    R = interpolate_rotations(x, cameras.R, xq)
    centers = torch.from_numpy(natural_cubic_spline(x, cameras.centers.numpy(), xq))
    on_knot = xq == np.round(xq)
    knot = torch.from_numpy(on_knot)
    source = torch.from_numpy(xq[on_knot].astype(np.int64))
    if on_knot.any():  # exact copies where an output frame is an input frame
        centers[knot] = cameras.centers[source]
    K_in = cameras.K.numpy()
    focal = np.exp(interpolate_linear(x, np.log(np.stack([K_in[:, 0, 0], K_in[:, 1, 1]], -1)), xq))
    pp = interpolate_linear(x, np.stack([K_in[:, 0, 2], K_in[:, 1, 2], K_in[:, 0, 1]], -1), xq)
    K = torch.zeros(m, 3, 3, dtype=torch.float64)
    K[:, 0, 0], K[:, 1, 1] = torch.from_numpy(focal[:, 0]), torch.from_numpy(focal[:, 1])
    K[:, 0, 2], K[:, 1, 2], K[:, 0, 1] = (torch.from_numpy(pp[:, j]) for j in range(3))
    K[:, 2, 2] = 1
    t = -(R @ centers[..., None])[..., 0]
    if on_knot.any():  # K and t copied too, so kept frames are bit-identical
        K[knot] = cameras.K[source]
        t[knot] = cameras.t[source]
    return replace(cameras, K=K, R=R, t=t).validate("resampled trajectory")


def smooth(cameras: Cameras, strength: float) -> Cameras:
    """Gaussian smoothing of a noisy trajectory; the frame count is kept.

    ``strength`` is the Gaussian's standard deviation in frames (0 returns the input unchanged;
    1-3 removes frame-to-frame jitter of estimated poses). The kernel is cut at ``3 sigma`` (and at
    ``N - 1`` frames) and the ends are padded by **point reflection** (``c_{-k} = 2 c_0 - c_k``;
    for rotations ``log(R_0^T R_{-k}) = -log(R_0^T R_k)``), so motion at constant velocity, and
    the end poses of such motion, pass through unchanged instead of being pulled inwards.

    * centres: the weighted mean of the (padded) neighbouring centres;
    * rotations: one Gauss-Newton step of the weighted Karcher mean in the tangent space at each
      frame, ``R_i exp(sum_j w_j log(R_i^T R_j))`` (the L2 / Karcher mean of Hartley et al. 2013,
      "Rotation averaging", IJCV, one iteration started at ``R_i``; accurate for windows spanning
      well under 180 degrees).

    Intrinsics, image size and fps are kept; ``strength == 0`` or fewer than 3 frames return the
    input object itself.

    Raises:
        ValueError: a negative or non-finite ``strength``.
    """
    strength = float(strength)
    if not (math.isfinite(strength) and strength >= 0):
        raise ValueError(
            f"smoothing strength is a Gaussian sigma in frames and must be >= 0; got {strength!r}"
        )
    n = len(cameras)
    if strength == 0 or n < 3:  # nothing to smooth: the input itself
        return cameras
    radius = min(int(math.ceil(3 * strength)), n - 1)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    w = torch.exp(-0.5 * (offsets / strength) ** 2)
    w = w / w.sum()
    idx = torch.arange(n)[:, None] + torch.arange(-radius, radius + 1)[None, :]  # (N, 2r+1)
    low, high = idx < 0, idx > n - 1
    mirror = torch.where(low, -idx, torch.where(high, 2 * (n - 1) - idx, idx))
    anchor = torch.where(low, torch.zeros_like(idx), torch.where(high, torch.full_like(idx, n - 1), idx))
    reflected = low | high
    # centres: c_ref = 2 c_anchor - c_mirror
    c = cameras.centers
    c_nb = torch.where(reflected[..., None], 2 * c[anchor] - c[mirror], c[mirror])
    c_s = (w[None, :, None] * c_nb).sum(1)
    # rotations: R_ref = R_a R_m^T R_a, so log(R_a^T R_ref) = -log(R_a^T R_m)
    R = cameras.R
    R_m, R_a = R[mirror], R[anchor]
    R_nb = torch.where(reflected[..., None, None], R_a @ R_m.transpose(-1, -2) @ R_a, R_m)
    tangent = so3_log(R[:, None].transpose(-1, -2) @ R_nb)  # (N, 2r+1, 3)
    R_s = R @ so3_exp((w[None, :, None] * tangent).sum(1))
    t_s = -(R_s @ c_s[..., None])[..., 0]
    return replace(cameras, R=R_s, t=t_s).validate("smoothed trajectory")
