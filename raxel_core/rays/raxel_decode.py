"""Raxel decoding: ray images -> cameras (Rays as Pixels, arXiv 2604.09429, Sec. 3.5).

:func:`decode_raxels` registers every frame's raxels to an identity camera's ray grid with a
robust (Tukey-biweight IRLS) Kabsch fit and estimates focal lengths from the local rays; the
encoding it inverts is described in :mod:`raxel_core.rays.raxel_encode`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..cameras import Cameras
from ..geometry.alignment import kabsch
from ..geometry.pixels import pixel_centers
from .raxel_maps import RaxelMaps

# Decoding parameters (see decode_raxels).
_IRLS_ITERATIONS = (5, 3)     # Tukey reweighting rounds of the two sample fits (2nd warm-started)
_TUKEY_C = 4.0                # Tukey cut-off in units of the median point residual
_RESIDUAL_FLOOR = 1e-6        # ray units; residuals below it never down-weight (exact data)
_FOCAL_ROUNDS = 2             # Procrustes fits on the sample; round 2 uses each frame's own focal
_FOCAL_MIN_OFFSET = 0.25      # the focal rule skips pixels within this fraction of the half size
_SAMPLE_PIXELS = 4096         # pixels per frame for the robust iterations
_FINAL_PIXELS = 32768         # pixels per frame for the final refit and focal rule
_CHUNK_PIXELS = 131072        # pixels per chunk of frames in the final refit
_REFERENCE_NORM_TOLERANCE = 0.1   # median | |ray| - 1 | of the reference frame (8-bit: ~0.005)
FOCAL_RULES = ("interquartile_mean", "median")


def _tukey(r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Tukey biweight ``(1 - (r / c)^2)^2`` for ``r < c``, else 0."""
    return (r / c).square_().neg_().add_(1).clamp_min_(0).square_()       # in place: one temporary


def _residual_cutoff(r: torch.Tensor) -> torch.Tensor:
    """``(N, 1)`` Tukey cut-off ``max(_TUKEY_C * median(r), _RESIDUAL_FLOOR)`` per frame."""
    return (_TUKEY_C * r.median(dim=1).values).clamp_min(_RESIDUAL_FLOOR)[:, None]


def _robust_kabsch(a: torch.Tensor, p: torch.Tensor, w: torch.Tensor, iterations: int):
    """Kabsch with Tukey-biweight IRLS on the point residuals ``r = ||p - (R a + o)||``.
    Returns ``R, o, w, r, c`` (weights and residuals of the returned fit, cut-off used)."""
    for _ in range(iterations):
        R, o = kabsch(a, p, w)
        r = torch.linalg.norm(p - torch.bmm(a, R.transpose(1, 2)) - o[:, None, :], dim=-1)
        c = _residual_cutoff(r)
        w = _tukey(r, c)
    return R, o, w, r, c


def _focal_rule(num: torch.Tensor, den: torch.Tensor, mask: torch.Tensor, rule: str, what: str) -> torch.Tensor:
    """Per frame, the ``rule`` statistic of ``num / den`` over ``mask`` (all ``(N, P)``):
    ``"median"`` (the paper's rule) or ``"interquartile_mean"`` (the mean of the central half of
    the sorted ratios: as robust to a quarter of outliers, and it averages over 8-bit
    quantisation steps instead of landing on one)."""
    ratio = torch.where(mask, num / torch.where(mask, den, torch.ones_like(den)), torch.nan)
    count = mask.sum(dim=1)
    if rule == "median":
        f = torch.nanmedian(ratio, dim=1).values
    else:
        ordered = torch.sort(ratio, dim=1).values                    # NaN sorts last
        idx = torch.arange(ratio.shape[1])[None, :]
        lo, hi = (count // 4)[:, None], (count - count // 4)[:, None]
        keep = (idx >= lo) & (idx < hi)
        f = torch.where(keep, ordered, 0.0).sum(dim=1) / keep.sum(dim=1)
    bad = (count == 0) | ~torch.isfinite(f) | (f <= 0)
    if bad.any():
        k = int(bad.nonzero()[0])
        raise ValueError(
            f"raxel frame {k}: cannot estimate the {what} focal length (no consistent rays in "
            "front of the camera); the image is not a valid raxel map (it must be encoded as "
            "(value + 2) / 4, unaltered) or the principal point is wrong"
        )
    return f


def _principal_point_pixels(principal_point, h: int, w: int) -> tuple[float, float]:
    """``(cx, cy)`` in pixels of an ``(h, w)`` grid from fractions of the width and height
    (default ``(0.5, 0.5)``, the image centre). Raises ``ValueError`` outside ``(0, 1)``."""
    cx_f, cy_f = (0.5, 0.5) if principal_point is None else (float(v) for v in principal_point)
    if not (0 < cx_f < 1 and 0 < cy_f < 1):
        raise ValueError(
            f"principal_point must be (cx, cy) as fractions of width and height, each in (0, 1); "
            f"got {principal_point!r}"
        )
    return cx_f * w, cy_f * h


def _check_reference_frame(p: torch.Tensor, ref: int) -> None:
    """Raise ``ValueError`` unless the reference frame of ``p`` ``(N, P, 3)`` is made of unit rays.

    The reference camera's raxels are its own unit rays (``o = 0``): a cheap check, on a strided
    subset of about :data:`_SAMPLE_PIXELS` pixels, that this is a raxel map with the right
    reference index before fitting anything."""
    P = p.shape[1]
    norm_error = (torch.linalg.norm(p[ref, ::max(1, P // _SAMPLE_PIXELS)], dim=-1) - 1).abs().median()
    if float(norm_error) > _REFERENCE_NORM_TOLERANCE:
        raise ValueError(
            f"the reference frame {ref} of these raxel maps is not made of unit rays (median "
            f"| |d| - 1 | = {float(norm_error):.3f}); this is not a raxel map, it was not encoded as "
            "(value + 2) / 4, or the reference index in its metadata is wrong"
        )


def _sample_order(P: int) -> torch.Tensor:
    """Fixed pseudo-random order (seed 0) of the first ``(P + 1) // 2`` pixel indices, from which
    :func:`_symmetric_sample` draws; deterministic, so decoding is reproducible."""
    return torch.randperm((P + 1) // 2, generator=torch.Generator().manual_seed(0))


def _symmetric_sample(order: torch.Tensor, P: int, count: int) -> torch.Tensor:
    """Sorted indices of about ``count`` of ``P`` row-major pixels (all of them when ``count >= P``).

    The sample takes the first ``count // 2`` indices of ``order`` (:func:`_sample_order`) and
    their point reflections about the image centre (pixel ``i <-> P - 1 - i``), so that, like the
    full grid, it keeps the Kabsch cross-covariance of two centred grids symmetric (rotation
    unbiased by a wrong grid focal). An odd ``P``'s centre pixel may appear twice."""
    if count >= P:
        return torch.arange(P)
    first = order[: max(1, count // 2)]
    return torch.cat([first, P - 1 - first]).sort().values


@dataclass(frozen=True)
class _FocalPixels:
    """Pixel offsets from the principal point and which pixels the focal rule may use.

    ``uc, vc`` ``(P,)`` float64: ``u - cx``, ``v - cy`` in pixels of every raxel pixel (row-major);
    ``umask, vmask`` ``(P,)`` bool: pixels at least :data:`_FOCAL_MIN_OFFSET` of the half width /
    height from the principal point (any pixel off the axis when none is that far)."""

    uc: torch.Tensor
    vc: torch.Tensor
    umask: torch.Tensor
    vmask: torch.Tensor

    @classmethod
    def of_grid(cls, h: int, w: int, cx: float, cy: float) -> _FocalPixels:
        u, v = pixel_centers((h, w))
        uc, vc = u - cx, v - cy
        umask = uc.abs() >= _FOCAL_MIN_OFFSET * max(cx, w - cx)
        vmask = vc.abs() >= _FOCAL_MIN_OFFSET * max(cy, h - cy)
        if not umask.any():
            umask = uc != 0
        if not vmask.any():
            vmask = vc != 0
        return cls(uc, vc, umask, vmask)


def _focal_lengths(
    d_local: torch.Tensor, inlier: torch.Tensor, idx: torch.Tensor, pixels: _FocalPixels, rule: str = "median"
) -> tuple[torch.Tensor, torch.Tensor]:
    """``fx, fy`` ``(N,)`` by ``rule`` (:func:`_focal_rule`) from local rays ``d_local`` ``(N, M, 3)``
    at pixels ``idx`` ``(M,)`` (step 3 of :func:`decode_raxels`): ``fx = u z / x``, ``fy = v z / y``
    over ``inlier`` ``(N, M)`` pixels in front of the camera and away from the principal point
    (selected before the arithmetic). Raises ``ValueError`` for a frame with no usable pixel."""
    out = []
    for axis, offset, mask, what in (
        (0, pixels.uc, pixels.umask, "horizontal"), (1, pixels.vc, pixels.vmask, "vertical")
    ):
        keep = mask[idx].nonzero()[:, 0]
        z, xy = d_local[:, keep, 2], d_local[:, keep, axis]
        ok = inlier[:, keep] & (z > 0)
        out.append(_focal_rule(offset[idx][keep] * z, xy, ok, rule, what))
    return out[0], out[1]


def _identity_grid(fx: torch.Tensor, fy: torch.Tensor, uc: torch.Tensor, vc: torch.Tensor) -> torch.Tensor:
    """Identity-camera rays ``normalize(K^-1 u~)`` ``(N, M, 3)`` float64 for per-frame focals
    ``fx, fy`` ``(N,)`` at pixel offsets ``uc, vc`` ``(M,)`` from the principal point."""
    d = torch.empty(fx.shape[0], uc.shape[0], 3, dtype=uc.dtype)
    torch.div(uc[None, :], fx[:, None], out=d[..., 0])           # x = (u - cx) / fx
    torch.div(vc[None, :], fy[:, None], out=d[..., 1])           # y = (v - cy) / fy
    d[..., 2] = 1
    return d.mul_(torch.linalg.vector_norm(d, dim=-1, keepdim=True).reciprocal_())


def _reference_focal(ps: torch.Tensor, ref: int, sample: torch.Tensor, pixels: _FocalPixels):
    """Step 1: median-rule focal ``fx, fy`` ``(N,)`` (every frame gets the reference frame's) from
    the reference frame's sampled raxels ``ps[ref]``, whose pose is the identity."""
    n, m, _ = ps.shape
    fx, fy = _focal_lengths(ps[ref:ref + 1], torch.ones(1, m, dtype=torch.bool), sample, pixels)
    return fx.expand(n).clone(), fy.expand(n).clone()


def _register_sample(ps: torch.Tensor, sample: torch.Tensor, pixels: _FocalPixels, fx, fy):
    """Steps 2-4: :data:`_FOCAL_ROUNDS` rounds of robust registration of the sampled raxels ``ps``
    ``(N, M, 3)`` (at pixels ``sample``) to the identity grid of focals ``fx, fy``, each followed
    by the median-rule focal of the local rays with the axial offset restored from ``|d_local| = 1``.

    Returns ``R, o, c, fx, fy``: rotations ``(N, 3, 3)``, centres ``(N, 3)``, Tukey cut-offs
    ``(N, 1)`` of the last fit and the focals ``(N,)`` of the last round."""
    ws = torch.ones(ps.shape[:2], dtype=ps.dtype)
    uc, vc = pixels.uc[sample], pixels.vc[sample]
    for rnd in range(_FOCAL_ROUNDS):
        R, o, ws, _, c = _robust_kabsch(_identity_grid(fx, fy, uc, vc), ps, ws, _IRLS_ITERATIONS[rnd])
        q = torch.bmm(ps - o[:, None, :], R)                          # d_local = R^T (p - o)
        # With a wrong grid focal only the axial offset is wrong; |d_local| = 1 fixes it:
        # delta = median(q_z - sqrt(1 - q_x^2 - q_y^2)) over inliers.
        axial = q[..., 2] - (1 - q[..., 0].square() - q[..., 1].square()).clamp_min(0).sqrt()
        delta = torch.nanmedian(torch.where(ws > 0, axial, torch.nan), dim=1).values
        q[..., 2] -= delta[:, None]
        fx, fy = _focal_lengths(q, ws > 0, sample, pixels)
    return R, o, c, fx, fy


def _refit_final(p, fsample, pixels: _FocalPixels, R, o, c, fx, fy, focal_rule: str):
    """Step 5: one Tukey-weighted Kabsch refit of every frame on the final sample ``fsample`` of
    ``p`` ``(N, P, 3)``, weights from the residuals of the sample fit ``R, o`` with its cut-off
    ``c``, then the ``focal_rule`` focal there (:func:`_focal_lengths`' ratios).

    Runs in chunks of frames small enough to stay in cache (a loop over frames, never over
    pixels); each chunk keeps only the focal rule's ratios, not its local rays.
    Returns ``R, o, fx, fy, inlier_fraction, rms`` (the last two ``(N,)`` float64 diagnostics)."""
    n, P, _ = p.shape
    M = fsample.shape[0]
    uf, vf = pixels.uc[fsample], pixels.vc[fsample]
    # per axis: the focal rule's pixels (positions in the sample), their offsets, and per frame
    # the numerators ``offset * z``, denominators ``x`` or ``y`` and usable-pixel masks
    axes = []
    for offset, mask in ((uf, pixels.umask[fsample]), (vf, pixels.vmask[fsample])):
        keep = mask.nonzero()[:, 0]
        axes.append((keep, offset[keep], torch.empty(n, keep.shape[0], dtype=p.dtype),
                     torch.empty(n, keep.shape[0], dtype=p.dtype), torch.empty(n, keep.shape[0], dtype=torch.bool)))
    step = max(1, _CHUNK_PIXELS // M)
    R_out, o_out = torch.empty_like(R), torch.empty_like(o)
    rms, inlier_fraction = torch.empty(n, dtype=p.dtype), torch.empty(n, dtype=p.dtype)
    for k in range(0, n, step):
        sl = slice(k, k + step)
        pk = p[sl].index_select(1, fsample) if M < P else p[sl]
        a = _identity_grid(fx[sl], fy[sl], uf, vf)
        # residual r = |p - o - R a|
        r = torch.linalg.vector_norm(torch.baddbmm(pk - o[sl, None, :], a, R[sl].transpose(1, 2), alpha=-1), dim=-1)
        wk = _tukey(r, c[sl])
        Rk, ok = kabsch(a, pk, wk)
        inlier = wk > 0
        count = inlier.sum(1)
        rms[sl] = torch.sqrt(r.square_().masked_fill_(~inlier, 0).sum(1) / count.clamp_min(1))
        inlier_fraction[sl] = count / M
        R_out[sl], o_out[sl] = Rk, ok
        # local rays d_local = R^T (p - o), channels first: (k, 3, M)
        d_local = torch.bmm(Rk.transpose(1, 2), (pk - ok[:, None, :]).transpose(1, 2))
        z = d_local[:, 2]
        for axis, (keep, offset, num, den, usable) in enumerate(axes):
            zk = z.index_select(1, keep)
            torch.mul(offset, zk, out=num[sl])                               # u z (or v z)
            torch.index_select(d_local[:, axis], 1, keep, out=den[sl])       # x (or y)
            torch.logical_and(inlier.index_select(1, keep), zk > 0, out=usable[sl])
    fx, fy = (_focal_rule(num, den, usable, focal_rule, what)
              for (_, _, num, den, usable), what in zip(axes, ("horizontal", "vertical"), strict=True))
    return R_out, o_out, fx, fy, inlier_fraction, rms


def _cameras_from_fit(maps: RaxelMaps, R, o, fx, fy, cx: float, cy: float) -> Cameras:
    """World-to-camera ``Cameras`` at ``maps.source_image_size`` from the fit: ``R`` ``(N, 3, 3)``
    camera k -> reference, ``o`` ``(N, 3)`` centres in normalised reference coordinates (multiplied
    back by ``maps.scale``), moved to the original world frame when ``maps.reference_w2c`` is known."""
    h, w = maps.image_size
    o = o * maps.scale
    R_w2c = R.transpose(1, 2)                                        # reference -> camera k
    t_w2c = -(R_w2c @ o[..., None])[..., 0]
    if maps.reference_w2c is not None:                               # x_k = R^T (R_s X + t_s - o)
        R_ref, t_ref = maps.reference_w2c[:3, :3], maps.reference_w2c[:3, 3]
        t_w2c = t_w2c + R_w2c @ t_ref
        R_w2c = R_w2c @ R_ref
    K = Cameras.intrinsics_matrix(fx, fy, torch.full_like(fx, cx), torch.full_like(fy, cy))
    cams = Cameras(K=K, R=R_w2c, t=t_w2c, image_size=(h, w), fps=maps.fps)
    if maps.source_image_size is not None:
        cams = cams.with_image_size(maps.source_image_size)
    return cams


def decode_raxels(
    maps: RaxelMaps,
    principal_point: tuple[float, float] | None = None,
    focal_rule: str = "interquartile_mean",
) -> Cameras:
    """Recover cameras from raxel maps (Rays as Pixels, Sec. 3.5), robustly, fully vectorised.

    The paper solves, per frame ``k``,
    ``P_rel(k) = argmin_{P in SE(3)} sum_ij ||R_k(ij) - P R_s(ij)||^2`` against the source frame's
    raxels ``R_s(ij) = d_s(ij) + 0``. When all cameras share intrinsics the same pixel has the
    same local ray in every camera, so ``R_s(ij)`` is exactly the ray grid of an *identity camera*,
    ``a_ij = normalize(K^-1 u~_ij)``, and ``R_k(ij) = R_rel(k) a_ij + o_k`` is a rigid motion of
    it: Kabsch with centroids (no scale) recovers ``R_rel(k), o_k`` exactly. This implementation:

    1. estimates the focal from the reference frame (``R = I``, ``o = 0`` by definition) with the
       paper's median rule (step 3) and builds the identity camera's grid from it (noise-free, unlike the
       decoded ``R_s``);
    2. registers every frame to that grid: batched Kabsch (SVD of 3x3 cross-covariances) with
       Tukey-biweight IRLS on the point residuals (cut-off 4x the median residual), so outlier
       pixels (a generator's artefacts, corruption) get weight 0. The iterations run on a fixed
       pseudo-random sample of 4096 pixels per frame, symmetric about the image centre;
    3. focal from the local rays ``d_local = R_rel^T (R_k(ij) - o_k)``: the paper's
       ``fx = median(u z / x)``, ``fy = median(v z / y)`` with ``(u, v)`` pixel offsets from the
       principal point, over inlier pixels at least 1/4 of the half width / height away from it
       (so ``x``, ``y`` are not tiny). ``focal_rule="interquartile_mean"`` (default) averages the
       central half of those ratios instead of taking the middle one: equally robust to
       outliers, and 2-5x more accurate on 8-bit images, whose ratios come in quantisation steps
       (8-bit precision falls with the field of view: fewer steps span a narrow image). The
       intermediate estimates of steps 1 and 4 always use the median;
    4. repeats 2-3 with each frame's own focal in the grid, which keeps the translation exact
       when the focal changes along the trajectory: a wrong grid focal moves the grid's centroid
       along the optical axis (the rotation is unaffected, by the grid's symmetry), so before the
       focal rule in these rounds the axial offset is restored from ``|d_local| = 1``
       (``delta = median(q_z - sqrt(1 - q_x^2 - q_y^2))`` over inliers);
    5. refits every frame once on a larger symmetric sample (every pixel of maps up to 32768
       pixels, e.g. 128x208; a third of a 240x416 map) with the Tukey cut-off of the sample fit
       and one weighted Kabsch, then applies the focal rule there. Sampling bounds the cost per
       frame; 8-bit errors are dominated by quantisation patterns, not by the pixel count.

    One function per step: :func:`_reference_focal` (1), :func:`_register_sample` (2-4, with
    :func:`_robust_kabsch` and :func:`_focal_lengths`), :func:`_refit_final` (5), then
    :func:`_cameras_from_fit` (poses back to the world frame and units).

    Args:
        maps: raxel maps (from :func:`encode_raxels`, or :meth:`RaxelMaps.from_image`).
        principal_point: ``(cx, cy)`` as fractions of the width and height (RealEstate10K style);
            default ``(0.5, 0.5)``, the image centre (the paper's assumption).
        focal_rule: ``"interquartile_mean"`` or ``"median"`` (see step 3).
    Returns:
        ``Cameras`` with ``N`` frames at ``maps.source_image_size`` (the raxel grid size when
        unknown; K scaled up from the grid, principal point as given). Translations are multiplied
        back by ``maps.scale``. When ``maps.reference_w2c`` is known the cameras are in the
        ORIGINAL world frame; otherwise relative to the reference camera (``R = I``, ``t = 0``
        there, OpenCV axes). ``metadata["raxel_decode"]`` holds per-frame diagnostics:
        ``inlier_fraction`` (pixels of the final sample with non-zero weight) and ``rms_residual``
        (ray units, over those inliers; ~0.006 for clean 8-bit maps).
    Raises:
        ValueError: a bad principal point or focal rule; a reference frame whose rays are not
            unit vectors (median ``| |d| - 1 | > 0.1``: not a raxel map, or a wrong reference
            index); a frame from which no focal can be estimated.
    """
    if focal_rule not in FOCAL_RULES:
        raise ValueError(f"focal_rule must be one of {FOCAL_RULES}; got {focal_rule!r}")
    n, h, w, _ = maps.rays.shape
    P = h * w
    p = maps.rays.reshape(n, P, 3)
    cx, cy = _principal_point_pixels(principal_point, h, w)
    pixels = _FocalPixels.of_grid(h, w, cx, cy)
    _check_reference_frame(p, maps.reference)
    order = _sample_order(P)
    sample, fsample = _symmetric_sample(order, P, _SAMPLE_PIXELS), _symmetric_sample(order, P, _FINAL_PIXELS)
    ps = p[:, sample]
    fx, fy = _reference_focal(ps, maps.reference, sample, pixels)                        # step 1
    R, o, c, fx, fy = _register_sample(ps, sample, pixels, fx, fy)                       # steps 2-4
    R, o, fx, fy, inlier_fraction, rms = _refit_final(p, fsample, pixels, R, o, c, fx, fy, focal_rule)  # step 5
    cams = _cameras_from_fit(maps, R, o, fx, fy, cx, cy)
    return replace(
        cams,
        metadata={"raxel_decode": {"inlier_fraction": inlier_fraction.tolist(), "rms_residual": rms.tolist()}},
    )
