"""Evaluation of 2D point tracks.

* :func:`ground_truth_tracks`: exact correspondences on rendered clips, from the renderer's depth
  and the exact cameras (no image content): each track's seed pixel is lifted to 3D with its depth,
  projected into every later frame, and called visible there when it lies inside the frame and
  passes a z-test against that frame's depth (occlusion).
* :func:`track_metrics`: median end-point error on visible points and visibility accuracy, in the
  "query first" protocol of TAP-Vid (Doersch et al., NeurIPS 2022 Datasets, section 3): each track
  is scored on the frames after its seed frame.
* :func:`round_trip_error`: forward-backward consistency on real clips without ground truth: points
  tracked from the first to the last frame and back again should return where they started.
"""
from __future__ import annotations

import numpy as np

from ..cameras import Cameras

#: Relative depth agreement for the occlusion z-test of :func:`ground_truth_tracks`.
DEPTH_TOLERANCE = 0.01


def ground_truth_tracks(cameras: Cameras, depth: np.ndarray, seed_points: np.ndarray, seed_frames: np.ndarray,
                        depth_tolerance: float = DEPTH_TOLERANCE) -> tuple[np.ndarray, np.ndarray]:
    """Exact 2D tracks of given seed pixels on a rendered clip.

    The seed ``(u, v)`` (pixels, this core's convention: pixel ``(i, j)`` has its centre at
    ``(j + 0.5, i + 0.5)``) in frame ``s`` takes the depth ``z`` of the pixel holding it, the 3D point
    ``X = R_s^T (z K_s^-1 [u, v, 1]^T - t_s)``, and in frame ``k`` the projection
    ``z_k [u_k, v_k, 1]^T = K_k (R_k X + t_k)``. It is visible in frame ``k`` when ``z_k > 0``, the
    projection lies in the frame, and one of the (up to) 2 x 2 pixels whose centres surround it has
    depth within ``depth_tolerance * z_k`` of ``z_k`` (the z-test; the 2 x 2 neighbourhood keeps points
    on the far side of a depth edge from being called hidden by a pixel of the near side).

    Args:
        cameras: the ``T`` exact cameras of the clip.
        depth: ``(T, H, W)`` z-depth per pixel centre (``render_frames(..., return_depth=True)``).
        seed_points: ``(N, 2)`` pixels (x, y).
        seed_frames: ``(N,)`` frame index of each seed.
        depth_tolerance: relative z-test tolerance.

    Returns:
        ``(points (T, N, 2) float64, visible (T, N) bool)``.

    Raises:
        ValueError: shapes that disagree, a seed outside the frame.
    """
    depth = np.asarray(depth, dtype=np.float64)
    t, h, w = depth.shape
    if len(cameras) != t or tuple(cameras.image_size) != (h, w):
        raise ValueError(f"depth {depth.shape} does not match {len(cameras)} cameras of size {cameras.image_size}")
    seed_points = np.asarray(seed_points, dtype=np.float64).reshape(-1, 2)
    seed_frames = np.asarray(seed_frames, dtype=np.int64).reshape(-1)
    if len(seed_points) != len(seed_frames):
        raise ValueError(f"{len(seed_points)} seed points but {len(seed_frames)} seed frames")
    col = np.floor(seed_points[:, 0]).astype(np.int64)
    row = np.floor(seed_points[:, 1]).astype(np.int64)
    if (col < 0).any() or (col >= w).any() or (row < 0).any() or (row >= h).any():
        raise ValueError("a seed point lies outside the frame")
    K = cameras.K.numpy()
    R = cameras.R.numpy()
    tr = cameras.t.numpy()
    z = depth[seed_frames, row, col]
    ray = np.einsum("nij,nj->ni", np.linalg.inv(K[seed_frames]), np.c_[seed_points, np.ones(len(seed_points))])
    camera_points = z[:, None] * ray
    world = np.einsum("nji,nj->ni", R[seed_frames], camera_points - tr[seed_frames])  # R^T (x_cam - t)
    points = np.empty((t, len(world), 2))
    visible = np.zeros((t, len(world)), dtype=bool)
    for k in range(t):
        x_cam = world @ R[k].T + tr[k]
        zk = x_cam[:, 2]
        uvw = x_cam @ K[k].T
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = uvw[:, :2] / uvw[:, 2:3]
        points[k] = uv
        inside = (zk > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
        agree = np.zeros(len(world), dtype=bool)
        # pixel centres surrounding (u, v): columns floor(u - 0.5) and + 1, rows likewise
        c0 = np.floor(np.nan_to_num(uv[:, 0]) - 0.5).astype(np.int64)
        r0 = np.floor(np.nan_to_num(uv[:, 1]) - 0.5).astype(np.int64)
        for dr in (0, 1):
            for dc in (0, 1):
                r = np.clip(r0 + dr, 0, h - 1)
                c = np.clip(c0 + dc, 0, w - 1)
                agree |= np.abs(depth[k, r, c] - zk) <= depth_tolerance * np.abs(zk)
        visible[k] = inside & agree
    return points, visible


def track_metrics(points: np.ndarray, visible: np.ndarray, true_points: np.ndarray, true_visible: np.ndarray,
                  seed_frames: np.ndarray) -> dict:
    """Accuracy of predicted tracks against ground truth, on the frames after each track's seed.

    Args:
        points, visible: predicted ``(T, N, 2)`` pixels and ``(T, N)`` bool.
        true_points, true_visible: ground truth of the same shapes.
        seed_frames: ``(N,)`` seed frame of each track.

    Returns:
        dict: ``median_epe_visible`` (pixels, points visible in truth and prediction),
        ``median_epe_true_visible`` (pixels, all points visible in truth, including those the tracker
        gave up: their held position counts), ``visibility_accuracy`` (share of the scored entries
        where the predicted visibility equals the truth), ``within_1px`` (share of the first set with
        error <= 1 px), ``scored_points`` (number of (frame, track) entries), ``num_tracks``.

    Raises:
        ValueError: shapes that disagree or nothing to score.
    """
    points, true_points = np.asarray(points, np.float64), np.asarray(true_points, np.float64)
    visible, true_visible = np.asarray(visible, bool), np.asarray(true_visible, bool)
    if points.shape != true_points.shape or visible.shape != true_visible.shape or points.shape[:2] != visible.shape:
        raise ValueError(f"shapes disagree: {points.shape}, {visible.shape} vs {true_points.shape}, "
                         f"{true_visible.shape}")
    t = points.shape[0]
    scored = np.arange(t)[:, None] > np.asarray(seed_frames)[None, :]
    if not scored.any():
        raise ValueError("no frame after any seed frame: nothing to score")
    error = np.linalg.norm(points - true_points, axis=2)
    both = scored & visible & true_visible
    truth = scored & true_visible
    return {
        "median_epe_visible": float(np.median(error[both])) if both.any() else float("nan"),
        "median_epe_true_visible": float(np.median(error[truth])) if truth.any() else float("nan"),
        "within_1px": float((error[both] <= 1.0).mean()) if both.any() else float("nan"),
        "visibility_accuracy": float((visible[scored] == true_visible[scored]).mean()),
        "scored_points": int(scored.sum()),
        "num_tracks": int(points.shape[1]),
    }


def round_trip_error(frames, settings=None, span: int | None = None) -> dict:
    """Forward-backward consistency of :func:`raxel_core.tracks.track_points` over a whole clip.

    Grid points are tracked from the first frame to the last (no re-seeding); the ones still
    visible there are tracked back through the reversed clip to the first frame. For points that
    survive both passes, the distance between the start and the returned position is the round-trip
    error (0 for a perfectly consistent tracker; it bounds neither pass's error alone).

    Args:
        frames: ``uint8 (T, H, W, 3)`` RGB, ``T >= 2``.
        settings: :class:`raxel_core.tracks.TrackerSettings` (``reseed`` is turned off).
        span: use only the first ``span`` frames (``None``: all); on clips with a fast camera few
            points stay in view over the whole clip.

    Returns:
        dict: ``median_px``, ``p90_px`` (pixels), ``survived`` (share of seeds back at frame 0),
        ``num_seeds``, ``num_frames``.
    """
    from dataclasses import replace

    from ..tracks import TrackerSettings, track_points

    settings = replace(settings or TrackerSettings(), reseed=False)
    frames = np.asarray(frames)[:span]
    forward = track_points(frames, settings).tracks
    alive = forward.visibility.all(axis=0)
    out = {"num_seeds": forward.num_tracks, "num_frames": len(frames)}
    if not alive.any():
        return {**out, "median_px": float("nan"), "p90_px": float("nan"), "survived": 0.0}
    backward = track_points(frames[::-1], settings, initial_points=forward.points[-1, alive]).tracks
    back = backward.visibility.all(axis=0)
    error = np.linalg.norm(backward.points[-1, back] - forward.points[0, alive][back], axis=1)
    if len(error) == 0:
        return {**out, "median_px": float("nan"), "p90_px": float("nan"), "survived": 0.0}
    return {**out, "median_px": float(np.median(error)), "p90_px": float(np.percentile(error, 90)),
            "survived": float(len(error) / forward.num_tracks)}
