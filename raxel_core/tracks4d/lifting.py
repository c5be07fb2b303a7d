"""3D from 2D tracks and cameras: multi-view triangulation, lifting with a depth map, and an initial
trajectory from the tracks alone (two-view essential matrix + PnP, OpenCV).

* :func:`triangulate_tracks`: linear (DLT) triangulation of every track from all frames where it is
  visible, batched (Hartley & Zisserman, *Multiple View Geometry*, 2nd ed., Sec. 12.2), in
  normalised camera coordinates.
* :func:`lift_with_depth`: each track's pixel in its first visible frame lifted with a depth map,
  ``X = R^T (z K^-1 [u, v, 1]^T - t)``, with the depth's scale aligned to the cameras' by the median
  ratio to the triangulated depths (the depth of a monocular estimator has an unknown scale).
* :func:`initial_cameras`: cameras when none are given: the frame pair with the widest track
  motion gives an essential matrix (``cv2.findEssentialMat``, RANSAC, so moving points are mostly
  outliers) and a relative pose (``cv2.recoverPose``); its inliers are triangulated
  (``cv2.triangulatePoints``) and every other frame is posed against them (``cv2.solvePnPRansac``).
  Footage whose tracks barely move (a still camera) gets identity cameras.
"""
from __future__ import annotations

import cv2
import numpy as np

#: Fewest tracks two frames must share for the two-view step of :func:`initial_cameras`.
MIN_SHARED_TRACKS = 12
#: Median track motion (pixels) between the widest frame pair below which the camera is taken as still.
STILL_MOTION_PX = 1.0


def normalised(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    """``(..., 2)`` pixels -> normalised camera coordinates ``K^-1 [u, v, 1]`` (x, y), for one
    ``(3, 3)`` or per-frame ``(T, 3, 3)`` K broadcast over ``(T, N, 2)``."""
    K = np.asarray(K, dtype=np.float64)
    if K.ndim == 3:
        K = K[:, None]
    x = (points[..., 0] - K[..., 0, 2]) / K[..., 0, 0]
    y = (points[..., 1] - K[..., 1, 2]) / K[..., 1, 1]
    return np.stack([x, y], -1)


def triangulate_tracks(xn: np.ndarray, visibility: np.ndarray, R: np.ndarray, t: np.ndarray):
    """Linear triangulation of ``N`` tracks seen by ``T`` cameras (module docstring).

    Args:
        xn: ``(T, N, 2)`` normalised camera coordinates of the track points.
        visibility: ``(T, N)`` bool, frames that observe each track.
        R, t: ``(T, 3, 3)``, ``(T, 3)`` world-to-camera poses.

    Returns:
        ``(X (N, 3) float64, ok (N,) bool)``: ``ok`` where the track has 2+ observations, the point is
        in front of every camera that sees it and the rays are not parallel (smallest singular value
        well separated).
    """
    T, N = visibility.shape
    P = np.concatenate([R, t[:, :, None]], axis=2)  # (T, 3, 4)
    # rows x * P3 - P1 and y * P3 - P2 per visible frame: A X = 0
    rows_x = xn[..., 0:1] * P[:, None, 2] - P[:, None, 0]  # (T, N, 4)
    rows_y = xn[..., 1:2] * P[:, None, 2] - P[:, None, 1]
    w = visibility[..., None].astype(np.float64)
    A = np.concatenate([rows_x * w, rows_y * w], axis=0).transpose(1, 0, 2)  # (N, 2T, 4)
    _, S, Vt = np.linalg.svd(A, full_matrices=False)
    Xh = Vt[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        X = Xh[:, :3] / Xh[:, 3:4]
    finite = np.isfinite(X).all(axis=1) & (np.abs(Xh[:, 3]) > 1e-12)
    X = np.where(finite[:, None], X, 0.0)
    z = np.einsum("tij,nj->tni", R, X)[..., 2] + t[:, None, 2]
    front = ((z > 0) | ~visibility).all(axis=0)
    separated = S[:, -1] < 0.5 * S[:, -2]
    ok = finite & front & separated & (visibility.sum(axis=0) >= 2)
    return X, ok


def lift_with_depth(xn: np.ndarray, visibility: np.ndarray, R: np.ndarray, t: np.ndarray, depth_at: np.ndarray,
                    reference: np.ndarray | None = None, reference_ok: np.ndarray | None = None):
    """Lift each track from its first visible frame with a depth map, scale-aligned.

    Args:
        xn: ``(T, N, 2)`` normalised coordinates; visibility ``(T, N)`` bool; R, t the poses.
        depth_at: ``(T, N)`` depth sampled at each track point (camera z, the depth map's units).
        reference, reference_ok: triangulated points ``(N, 3)`` and where they are good; the depth
            is scaled by ``median(z_triangulated / z_depth)`` over those (1 when none).

    Returns:
        ``(X (N, 3), scale)``: the lifted points and the factor applied to the depth.
    """
    first = np.argmax(visibility, axis=0)
    idx = np.arange(xn.shape[1])
    z = depth_at[first, idx]
    scale = 1.0
    if reference is not None and reference_ok is not None:
        z_ref = np.einsum("nij,nj->ni", R[first], reference)[:, 2] + t[first, 2]
        good = reference_ok & (z > 0) & (z_ref > 0)
        if good.sum() >= 5:
            scale = float(np.median(z_ref[good] / z[good]))
    cam = np.c_[xn[first, idx], np.ones(len(idx))] * (scale * z)[:, None]
    X = np.einsum("nji,nj->ni", R[first], cam - t[first])
    return X, scale


def initial_cameras(points: np.ndarray, visibility: np.ndarray, K: np.ndarray, seed: int = 0,
                    max_hypotheses: int = 3, num_pairs: int = 1) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """World-to-camera poses from the tracks alone (module docstring), frame 0 at the origin, as up to
    ``max_hypotheses`` candidates: with moving objects the largest two-view consensus may be a moving
    object rather than the background, so after each essential-matrix fit its inliers are removed and
    the fit repeated on the rest (sequential RANSAC, one candidate per rigid motion); the caller keeps the
    candidate the most tracks agree with over the whole clip. With ``num_pairs > 1`` this is done for frame 0
    paired with ``num_pairs`` frames spread over the clip (``k T // num_pairs``, ``k = 1..num_pairs``, last
    frame for the last), not only the widest: which pair sees the background as the largest rigid motion
    depends on where the moving objects are, so starts from several pairs cover more of the clip.

    Args:
        points: ``(T, N, 2)`` pixels; visibility ``(T, N)`` bool; K ``(3, 3)`` pixel intrinsics.
        seed: OpenCV's RNG seed (``cv2.setRNGSeed``) for the RANSAC steps.
        max_hypotheses: most candidates per frame pair (>= 1).
        num_pairs: frame pairs tried (>= 1; 1: frame 0 and the frame the tracks moved most to).

    Returns:
        list of ``(R (T, 3, 3), t (T, 3), note)``: poses (translation scale: unit baseline of the
        frame pair it came from) and a sentence on how they were found. Footage whose tracks barely move gives one
        candidate, every camera still.
    """
    cv2.setRNGSeed(int(seed))
    T = points.shape[0]
    still = (np.repeat(np.eye(3)[None], T, 0), np.zeros((T, 3)))
    shared = visibility[0][None] & visibility
    motion = np.array([np.median(np.linalg.norm(points[k, shared[k]] - points[0, shared[k]], axis=1))
                       if shared[k].sum() >= MIN_SHARED_TRACKS else -1.0 for k in range(T)])
    j = int(np.argmax(motion))
    if motion[j] < STILL_MOTION_PX:
        return [(*still, f"the tracks barely move (median motion {max(motion[j], 0.0):.2f} px to the widest "
                 "frame): cameras start still")]
    out = []
    pairs = [j] if num_pairs <= 1 else [min(T - 1, k * T // int(num_pairs)) for k in range(1, int(num_pairs) + 1)]
    for pair in dict.fromkeys(pairs):
        if motion[pair] < STILL_MOTION_PX:
            continue
        candidates = np.flatnonzero(shared[pair])
        for _ in range(max(1, int(max_hypotheses))):
            if len(candidates) < MIN_SHARED_TRACKS:
                break
            found = _two_view_and_pnp(points, visibility, K, pair, candidates)
            if found is None:
                break
            R, t, inliers, note = found
            out.append((R, t, note))
            candidates = np.setdiff1d(candidates, inliers)
    if not out:
        out.append((*still, f"no essential matrix between frame 0 and frames {sorted(set(pairs))}: "
                    "cameras start still"))
    return out


def _two_view_and_pnp(points, visibility, K, j, ids):
    T = points.shape[0]
    a, b = points[0, ids].astype(np.float64), points[j, ids].astype(np.float64)
    E, inl = cv2.findEssentialMat(a, b, K, method=cv2.RANSAC, prob=0.999, threshold=1.0)
    if E is None or E.shape != (3, 3):
        return None
    _, Rj, tj, inl = cv2.recoverPose(E, a, b, K, mask=inl)
    inl = inl.ravel() > 0
    if inl.sum() < 6:
        return None
    R = np.repeat(np.eye(3)[None], T, 0)
    t = np.zeros((T, 3))
    P0 = K @ np.c_[np.eye(3), np.zeros(3)]
    P1 = K @ np.c_[Rj, tj]
    Xh = cv2.triangulatePoints(P0, P1, a[inl].T, b[inl].T)
    X = (Xh[:3] / Xh[3]).T
    inliers = ids[inl]
    front = (X[:, 2] > 0) & ((X @ Rj.T + tj.ravel())[:, 2] > 0)
    X, used = X[front], inliers[front]
    R[j], t[j] = Rj, tj.ravel()
    posed = {0, j}
    for k in range(T):
        if k in posed:
            continue
        sel = visibility[k, used]
        if sel.sum() >= 6:
            ok, rvec, tvec, _ = cv2.solvePnPRansac(X[sel], points[k, used[sel]].astype(np.float64), K, None,
                                                  reprojectionError=2.0, iterationsCount=200,
                                                  flags=cv2.SOLVEPNP_ITERATIVE)
            if ok:
                R[k], t[k] = cv2.Rodrigues(rvec)[0], tvec.ravel()
                posed.add(k)
    missing = [k for k in range(T) if k not in posed]
    for k in missing:  # a start only (the solver refines every frame): the nearest posed frame's pose
        near = min(posed, key=lambda p: abs(p - k))
        R[k], t[k] = R[near], t[near]
    note = (f"cameras started from the tracks (essential matrix of frames 0 and {j} on {int(inl.sum())} "
            "inlier tracks, PnP for the others)")
    if missing:
        note += f"; {len(missing)} frames started at a neighbour's pose"
    return R, t, inliers, note
