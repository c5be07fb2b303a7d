"""The parallax test of :func:`raxel_core.pose.estimate.estimate_trajectory` (step 4 of its
method): does a homography explain the verified matches (no parallax: a camera that only rotates,
or does not move), and does the background stay put (a static camera)?

A camera that only rotates, or does not move, maps every image point by the homography
``H_ij = K R_j R_i^T K^-1`` (Hartley & Zisserman, *Multiple View Geometry*, 2nd ed., Sec. 8.4.2 /
13.4); SfM cannot initialise there (no triangulation angle).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

#: Fraction of a pair's epipolar inliers that a homography must explain (transfer error below
#: :data:`HOMOGRAPHY_MAX_ERROR_FRACTION` of the image size) for the pair to count as parallax-free.
NO_PARALLAX_MIN_H_FRACTION = 0.85
#: Homography transfer-error threshold as a fraction of ``max(H, W)`` (0.004 = 1.5 px at 384).
HOMOGRAPHY_MAX_ERROR_FRACTION = 0.004
#: A match whose keypoint moves less than this (fraction of ``max(H, W)``; 0.004 = 1.5 px at 384)
#: between two frames is *stationary*.
STATIONARY_MAX_FRACTION = 0.004
#: The camera is static when at least this fraction of the matches on the widest frame pairs is
#: stationary (the background stays put; moving objects are the rest; box.mp4 measures 0.25-0.29,
#: every moving-camera RealEstate10K clip 0.0). A moving camera leaves no
#: stationary background (a rotation moves every point; a translation all but the epipole's).
STATIC_MIN_STATIONARY_FRACTION = 0.15


def homography_fraction(x1, x2, threshold):
    """Fraction of the matches explained by one RANSAC homography, the homography and its inlier
    mask (``cv2.findHomography``)."""
    if len(x1) < 8:
        return 0.0, None, None
    H, _ = cv2.findHomography(x1, x2, cv2.RANSAC, threshold, maxIters=2000, confidence=0.999)
    if H is None:
        return 0.0, None, None
    p = np.c_[x1, np.ones(len(x1))] @ H.T
    err = np.linalg.norm(p[:, :2] / p[:, 2:3] - x2, axis=1)
    inliers = err < threshold
    return float(np.mean(inliers)), H, inliers


def parallax_statistics(pairs, image_size, workers: int | None = None):
    """Per verified pair: homography-explained fraction, homography and inlier mask, median
    keypoint displacement (px) and the stationary matches. The pairs are measured ``workers`` at a time
    (threads, ``None``: one per core; OpenCV releases the GIL); each pair's RANSAC starts from OpenCV's fixed
    seed, so the result does not depend on ``workers``."""
    threshold = HOMOGRAPHY_MAX_ERROR_FRACTION * max(image_size)
    stationary_px = STATIONARY_MAX_FRACTION * max(image_size)

    def measure(pair):
        i, j, x1, x2 = pair
        frac, H, inliers = homography_fraction(x1, x2, threshold)
        d = np.linalg.norm(x2 - x1, axis=1)
        return {
            "i": i, "j": j, "h_fraction": frac, "H": H, "inliers": inliers, "n": len(x1),
            "displacement": float(np.median(d)), "stationary": d < stationary_px,
        }

    workers = max(1, min(int(workers or os.cpu_count() or 1), len(pairs)))
    if workers == 1:
        return [measure(pair) for pair in pairs]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(measure, pairs))


def widest_pairs(pairs):
    """The pairs whose frame gap ``j - i`` is at least half the largest gap (most parallax): the only
    ones :func:`has_parallax` and :func:`is_static` look at. ``pairs`` are ``(i, j, ...)`` tuples of
    :func:`raxel_core.pose.sfm.read_pairs` or dicts of :func:`parallax_statistics`; their order is kept."""
    if not pairs:
        return []
    gaps = np.array([p["j"] - p["i"] if isinstance(p, dict) else p[1] - p[0] for p in pairs])
    return [p for p, g in zip(pairs, gaps, strict=True) if g >= max(1, gaps.max() // 2)]


def is_static(stats) -> tuple[bool, float]:
    """Static camera test on :func:`parallax_statistics`: the median stationary fraction over the
    widest pairs is at least :data:`STATIC_MIN_STATIONARY_FRACTION`. Returns ``(static, fraction)``."""
    if not stats:
        return False, float("nan")
    frac = float(np.median([np.mean(s["stationary"]) for s in widest_pairs(stats)]))
    return frac >= STATIC_MIN_STATIONARY_FRACTION, frac


def has_parallax(stats) -> tuple[bool, float]:
    """Decide from :func:`parallax_statistics` whether the footage shows parallax.

    The widest pairs (frame gap at least half the largest verified gap) carry the most parallax;
    the footage counts as parallax-free when the median homography-explained fraction over them is
    at least :data:`NO_PARALLAX_MIN_H_FRACTION`. Returns ``(parallax, that median fraction)``.
    """
    if not stats:
        return True, float("nan")
    frac = float(np.median([s["h_fraction"] for s in widest_pairs(stats)]))
    return frac < NO_PARALLAX_MIN_H_FRACTION, frac
