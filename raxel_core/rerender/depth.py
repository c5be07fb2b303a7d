"""Scene depth for re-rendering: depth maps in the forms depth nodes output, aligned per frame to the
clip's own geometry, or a coarse depth densified from sparse triangulated points.

Forms of a depth ``IMAGE`` (:data:`DEPTH_FORMS`), each a value ``d`` per pixel read from the first
channel (depth nodes write the same value into R, G and B):

* ``"inverse_relative"``: relative **inverse** depth (disparity-like) scaled to ``[0, 1]``, larger
  = nearer, as Depth-Anything / MiDaS nodes output. Known only up to an affine map, so per frame
  ``1 / z = a * d + b`` is fitted (scale ``a > 0`` and shift ``b``); MiDaS (Ranftl et al., TPAMI
  2022, Sec. 5 "scale- and shift-invariant loss") defines this ambiguity.
* ``"metric"``: z-depth (distance along the camera's optical axis) ``z = d * depth_range`` in
  metres or any unit. Its unit differs from the clip's scene units (SfM has an arbitrary scale),
  so per frame ``z = s * d * depth_range`` is fitted (scale only).

The fit is robust (a Theil-Sen start, :func:`scipy.stats.theilslopes`, then
:func:`scipy.optimize.least_squares` with a Cauchy loss on relative errors) against
reference points of the clip in the same frame (triangulated matches, :func:`sparse_points`, or any
SfM points projected into it); the per-frame **residual** is the median relative depth error
``|z_aligned - z_ref| / z_ref`` at the reference points after the fit.

Without a depth input, :func:`coarse_depth` interpolates the sparse points' depths over the image
(:func:`scipy.interpolate.griddata`, linear inside their convex hull, nearest outside): a
**coarse** depth, piecewise planar between the points, labelled as such in :class:`SceneDepth`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from ..cameras import Cameras

#: Forms of a depth IMAGE (module docstring).
DEPTH_FORMS = ("inverse_relative", "metric")
#: Fewest reference points in a frame for an alignment fit or a coarse depth.
MIN_REFERENCE_POINTS = 8
#: Smallest triangulation angle (degrees) of a sparse point: smaller angles give unreliable depth.
MIN_TRIANGULATION_ANGLE_DEG = 1.0
#: Largest reprojection error (pixels) of a sparse point in both frames of its pair.
MAX_REPROJECTION_ERROR_PX = 2.0


@dataclass
class SceneDepth:
    """Per-frame z-depth of a clip in its own scene units.

    Attributes:
        depth: ``(N, H, W)`` float32 z-depth (camera z, scene units of the trajectory), > 0.
        kind: ``"aligned inverse_relative"``, ``"aligned metric"``, ``"coarse"`` (densified from
            sparse points) or ``"exact"`` (given in scene units, e.g. by a renderer).
        residual: ``(N,)`` median relative depth error at the reference points after alignment,
            or ``None`` when nothing was fitted.
        reference_points: ``(N,)`` number of reference points per frame (0 when none were used).
        scale, shift: ``(N,)`` fitted parameters (``None`` when nothing was fitted).
    """

    depth: torch.Tensor
    kind: str
    residual: np.ndarray | None = None
    reference_points: np.ndarray | None = None
    scale: np.ndarray | None = None
    shift: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line a user reads: the kind and, when fitted, the residual range."""
        text = f"depth: {self.kind}"
        if self.kind == "coarse":
            text += " (interpolated between sparse triangulated points: expect smeared edges)"
        if self.residual is not None:
            text += (f", alignment residual (median relative depth error) {np.median(self.residual):.3f} "
                     f"(worst frame {np.max(self.residual):.3f})")
        if self.reference_points is not None:
            text += f", {int(np.min(self.reference_points))}-{int(np.max(self.reference_points))} points per frame"
        return text


def check_depth(depth, num_frames: int, image_size: tuple[int, int], what: str = "depth") -> torch.Tensor:
    """Check a z-depth batch against the video and return it as ``(N, H, W)`` float32.

    Raises:
        ValueError: another frame count or size, or NaN / inf / zero / negative values (naming the
            first bad frame and the fix).
    """
    depth = torch.as_tensor(depth)
    if depth.ndim == 4:
        depth = depth[..., 0]
    if depth.ndim != 3:
        raise ValueError(f"{what} must be (frames, H, W) or an IMAGE batch; got shape {tuple(depth.shape)}")
    n, h, w = depth.shape
    if n != num_frames:
        raise ValueError(f"{what} has {n} frames but the video has {num_frames}; give one depth map per video frame")
    if (h, w) != tuple(image_size):
        raise ValueError(
            f"{what} is {w}x{h} but the video is {image_size[1]}x{image_size[0]}; resize the depth maps to "
            "the video size (e.g. core ImageScale) before connecting them"
        )
    depth = depth.float()
    bad = ~torch.isfinite(depth).reshape(n, -1).all(dim=1)
    if bad.any():
        raise ValueError(f"{what} frame {int(bad.nonzero()[0])} has NaN or inf values; fix the depth source")
    bad = (depth <= 0).reshape(n, -1).any(dim=1)
    if bad.any():
        k = int(bad.nonzero()[0])
        count = int((depth[k] <= 0).sum())
        raise ValueError(
            f"{what} frame {k} has {count} zero or negative values; depth must be > 0 everywhere (fill "
            "missing depth first, or give the depth as inverse_relative)"
        )
    return depth


def depth_values(image, form: str) -> torch.Tensor:
    """The per-pixel value ``d`` of a depth IMAGE batch: ``(N, H, W)`` float32 from the first channel.

    Args:
        image: ``(N, H, W, C)`` or ``(N, H, W)`` float depth image in ``[0, 1]``.
        form: one of :data:`DEPTH_FORMS`.

    Raises:
        ValueError: unknown form, NaN / inf, negative values, or (``metric``) zeros.
    """
    if form not in DEPTH_FORMS:
        raise ValueError(f"unknown depth form {form!r}; choose one of {DEPTH_FORMS}")
    d = torch.as_tensor(image)
    if d.ndim == 4:
        d = d[..., 0]
    if d.ndim != 3:
        raise ValueError(f"a depth IMAGE must be (frames, H, W, C); got shape {tuple(d.shape)}")
    d = d.float()
    n = d.shape[0]
    bad = ~torch.isfinite(d).reshape(n, -1).all(dim=1)
    if bad.any():
        raise ValueError(f"depth frame {int(bad.nonzero()[0])} has NaN or inf values; fix the depth source")
    bad = (d < 0).reshape(n, -1).any(dim=1)
    if bad.any():
        raise ValueError(f"depth frame {int(bad.nonzero()[0])} has negative values; a depth map is >= 0")
    if form == "metric":
        bad = (d == 0).reshape(n, -1).any(dim=1)
        if bad.any():
            k = int(bad.nonzero()[0])
            raise ValueError(
                f"metric depth frame {k} has {int((d[k] == 0).sum())} zero pixels (no measurement); a metric "
                "depth must be > 0 everywhere: fill the holes, or use the inverse_relative form"
            )
    return d


def sample_nearest(values: torch.Tensor, uv: np.ndarray) -> np.ndarray:
    """Values of an ``(H, W)`` map at ``(M, 2)`` pixel positions ``(u, v)`` (pixel ``(row i, col j)``
    covers ``u in [j, j + 1)``, ``v in [i, i + 1)``); positions are clamped to the image."""
    h, w = values.shape
    j = np.clip(np.floor(uv[:, 0]).astype(np.int64), 0, w - 1)
    i = np.clip(np.floor(uv[:, 1]).astype(np.int64), 0, h - 1)
    return values.numpy()[i, j].astype(np.float64)


def _fit_frame(d: np.ndarray, z: np.ndarray, form: str) -> tuple[float, float, float]:
    """Robust ``(scale, shift, residual)`` of one frame (module docstring)."""
    from scipy.optimize import least_squares

    if form == "metric":
        s0 = float(np.median(z / d))

        def residuals(p):  # relative depth error of z = s * d
            return p[0] * d / z - 1.0

        fit = least_squares(residuals, [s0], loss="cauchy", f_scale=0.02)
        scale, shift = float(fit.x[0]), 0.0
        z_fit = scale * d
    else:
        from scipy.stats import theilslopes

        inv = 1.0 / z
        # robust start (Theil-Sen: median of pairwise slopes, ~29 % breakdown), then the M-estimate
        a0, b0 = theilslopes(inv, d)[:2] if np.ptp(d) > 0 else (0.0, float(np.median(inv)))

        def residuals(p):  # relative inverse-depth error of 1 / z = a * d + b
            return (p[0] * d + p[1]) * z - 1.0

        fit = least_squares(residuals, [a0, b0], loss="cauchy", f_scale=0.02)
        scale, shift = (float(v) for v in fit.x)
        z_fit = 1.0 / np.maximum(scale * d + shift, 1e-12)
    return scale, shift, float(np.median(np.abs(z_fit - z) / z))


def align_depth(values, form: str, references, depth_range: float = 1.0) -> SceneDepth:
    """Align depth-node output to the clip's scene units, frame by frame (module docstring).

    Args:
        values: ``(N, H, W)`` depth values ``d`` (:func:`depth_values`).
        form: one of :data:`DEPTH_FORMS`.
        references: ``N`` pairs ``(uv (M, 2) pixels, z (M,) scene-unit depths)`` per frame.
        depth_range: ``metric`` only: the unit of ``d`` (``z = d * depth_range`` before the fit).

    Returns:
        :class:`SceneDepth` with ``kind = "aligned <form>"``, the residual, scale and shift.

    Raises:
        ValueError: fewer than :data:`MIN_REFERENCE_POINTS` reference points in a frame, a fit that
            puts the scene behind the camera (non-positive aligned depth), or a frame-count mismatch.
    """
    values = torch.as_tensor(values).float()
    n = values.shape[0]
    if len(references) != n:
        raise ValueError(f"{len(references)} frames of reference points for {n} depth frames")
    depth = torch.empty_like(values)
    scale, shift, residual, count = (np.zeros(n) for _ in range(4))
    for k, (uv, z) in enumerate(references):
        uv, z = np.asarray(uv, np.float64).reshape(-1, 2), np.asarray(z, np.float64).reshape(-1)
        if len(z) < MIN_REFERENCE_POINTS:
            raise ValueError(
                f"frame {k} has only {len(z)} reference points to align the depth to (need "
                f"{MIN_REFERENCE_POINTS}); the clip needs camera translation and texture for triangulation"
            )
        d = sample_nearest(values[k], uv) * (depth_range if form == "metric" else 1.0)
        keep = d > 0 if form == "metric" else np.ones_like(d, bool)
        scale[k], shift[k], residual[k] = _fit_frame(d[keep], z[keep], form)
        count[k] = int(keep.sum())
        if form == "metric":
            depth[k] = values[k] * float(depth_range * scale[k])
        else:
            inv = values[k].double() * scale[k] + shift[k]
            if not bool((inv > 0).all()):
                raise ValueError(
                    f"depth frame {k}: the aligned inverse depth is <= 0 at {int((inv <= 0).sum())} pixels "
                    "(the fit puts them at or beyond infinity); the depth map disagrees with the clip's "
                    "geometry: check its form (inverse_relative = nearer is brighter) or give metric depth"
                )
            depth[k] = (1.0 / inv).float()
    return SceneDepth(depth, f"aligned {form}", residual=residual, reference_points=count.astype(int),
                      scale=scale, shift=shift)


def _pair_partners(centres: np.ndarray, k: int, max_gap: int, count: int) -> list[int]:
    """Up to ``count`` frames within ``max_gap`` of ``k`` whose camera centres are farthest from frame ``k``'s."""
    lo, hi = max(0, k - max_gap), min(len(centres) - 1, k + max_gap)
    candidates = [j for j in range(lo, hi + 1) if j != k]
    distances = np.array([np.linalg.norm(centres[j] - centres[k]) for j in candidates])
    return [candidates[i] for i in np.argsort(-distances, kind="stable")[:count]]


def _triangulate_pair(first, second, K, w2c, centres, k, j, matcher):
    """``(uv (M, 2), z (M,))`` in frame ``k`` of the matches of frames ``k`` and ``j`` that triangulate well."""
    (kp1, des1), (kp2, des2) = first, second
    if des1 is None or des2 is None or len(kp1) < 2 or len(kp2) < 2:
        return np.zeros((0, 2)), np.zeros(0)
    pairs = [m for m in matcher.knnMatch(des1, des2, k=2) if len(m) == 2]
    good = [a for a, b in pairs if a.distance < 0.75 * b.distance]
    if not good:
        return np.zeros((0, 2)), np.zeros(0)
    # OpenCV keypoints put pixel centres at integers; this core puts them at + 0.5
    uv1 = np.array([kp1[m.queryIdx].pt for m in good], np.float64).reshape(-1, 2) + 0.5
    uv2 = np.array([kp2[m.trainIdx].pt for m in good], np.float64).reshape(-1, 2) + 0.5
    X = cv2.triangulatePoints(K[k] @ w2c[k], K[j] @ w2c[j], uv1.T, uv2.T)
    X = (X[:3] / X[3:]).T
    c1, c2 = X @ w2c[k][:, :3].T + w2c[k][:, 3], X @ w2c[j][:, :3].T + w2c[j][:, 3]
    front = (c1[:, 2] > 0) & (c2[:, 2] > 0)
    p1, p2 = c1 @ K[k].T, c2 @ K[j].T
    with np.errstate(divide="ignore", invalid="ignore"):
        e1 = np.linalg.norm(p1[:, :2] / p1[:, 2:] - uv1, axis=1)
        e2 = np.linalg.norm(p2[:, :2] / p2[:, 2:] - uv2, axis=1)
        r1, r2 = X - centres[k], X - centres[j]
        cos = (r1 * r2).sum(1) / (np.linalg.norm(r1, axis=1) * np.linalg.norm(r2, axis=1))
    angle = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    keep = (front & (e1 < MAX_REPROJECTION_ERROR_PX) & (e2 < MAX_REPROJECTION_ERROR_PX)
            & (angle >= MIN_TRIANGULATION_ANGLE_DEG))
    return uv1[keep], c1[keep, 2]


def sparse_points(frames: np.ndarray, cameras: Cameras, max_gap: int = 8, max_features: int = 4000,
                  partners: int = 3):
    """Reference points per frame: SIFT matches with partner frames, triangulated with the known cameras.

    For frame ``k`` the partners are the ``partners`` frames within ``max_gap`` whose camera
    centres are farthest (largest baselines). Matches (``cv2.SIFT``, Lowe's ratio test 0.75; Lowe,
    IJCV 2004, Sec. 7.1) are triangulated by ``cv2.triangulatePoints`` (linear DLT; Hartley &
    Zisserman, Sec. 12.2) and kept when in front of both cameras, reprojected within
    :data:`MAX_REPROJECTION_ERROR_PX` in both frames and seen under at least
    :data:`MIN_TRIANGULATION_ANGLE_DEG`; the points of all partners are pooled.

    Args:
        frames: ``(N, H, W, 3)`` uint8 RGB.
        cameras: the clip's ``N`` cameras (OpenCV world-to-camera, pixel K at the frame size).

    Returns:
        ``N`` pairs ``(uv (M, 2) float64 pixels in frame k, z (M,) float64 depth in frame k)``.

    Raises:
        ValueError: a frame-count or size mismatch, fewer than 2 frames, or a frame with fewer than
            :data:`MIN_REFERENCE_POINTS` triangulated points (no camera translation: no parallax).
    """
    frames = np.asarray(frames)
    n = frames.shape[0]
    if n < 2:
        raise ValueError("sparse depth needs at least 2 frames with camera translation; connect a depth map")
    if len(cameras) != n or tuple(cameras.image_size) != frames.shape[1:3]:
        raise ValueError(
            f"the source trajectory ({len(cameras)} frames, {cameras.image_size[1]}x{cameras.image_size[0]}) "
            f"does not belong to this video ({n} frames, {frames.shape[2]}x{frames.shape[1]}); estimate the "
            "trajectory of this video"
        )
    sift = cv2.SIFT_create(nfeatures=max_features)
    features = [sift.detectAndCompute(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), None) for f in frames]
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    K, w2c, centres = cameras.K.numpy(), cameras.w2c.numpy()[:, :3], cameras.centers.numpy()
    out = []
    for k in range(n):
        found = [_triangulate_pair(features[k], features[j], K, w2c, centres, k, j, matcher)
                 for j in _pair_partners(centres, k, max_gap, partners)]
        uv, z = np.concatenate([f[0] for f in found]), np.concatenate([f[1] for f in found])
        if len(z) < MIN_REFERENCE_POINTS:
            raise ValueError(
                f"frame {k}: only {len(z)} points could be triangulated with its neighbours (need "
                f"{MIN_REFERENCE_POINTS}); the camera barely translates (no parallax), so the scene depth "
                "cannot be measured from the video: connect a depth map (e.g. from a depth node)"
            )
        out.append((uv, z))
    return out


def coarse_depth(references, image_size: tuple[int, int]) -> SceneDepth:
    """A **coarse** dense depth per frame from sparse points (module docstring).

    Interpolates inverse depth (planes stay planar in inverse depth under perspective) linearly
    between the points (:func:`scipy.interpolate.griddata`, Delaunay triangulation), nearest
    point's value outside their convex hull.

    Args:
        references: ``N`` pairs ``(uv (M, 2) pixels, z (M,) depths)`` (:func:`sparse_points`).
        image_size: ``(H, W)``.

    Returns:
        :class:`SceneDepth` with ``kind = "coarse"`` and ``reference_points`` counts.

    Raises:
        ValueError: a frame with fewer than :data:`MIN_REFERENCE_POINTS` points.
    """
    from scipy.interpolate import griddata

    h, w = image_size
    yy, xx = np.mgrid[0:h, 0:w]
    grid = np.stack([xx.ravel() + 0.5, yy.ravel() + 0.5], 1)
    depth = np.empty((len(references), h, w), np.float32)
    counts = np.zeros(len(references), int)
    for k, (uv, z) in enumerate(references):
        uv, z = np.asarray(uv, np.float64).reshape(-1, 2), np.asarray(z, np.float64).reshape(-1)
        if len(z) < MIN_REFERENCE_POINTS:
            raise ValueError(f"frame {k} has only {len(z)} sparse points (need {MIN_REFERENCE_POINTS}); "
                             "connect a depth map instead")
        inv = griddata(uv, 1.0 / z, grid, method="linear")
        holes = np.isnan(inv)
        if holes.any():
            inv[holes] = griddata(uv, 1.0 / z, grid[holes], method="nearest")
        depth[k] = (1.0 / inv).reshape(h, w)
        counts[k] = len(z)
    return SceneDepth(torch.from_numpy(depth), "coarse", reference_points=counts)
