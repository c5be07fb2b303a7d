"""Cameras and a low-rank dynamic 3D structure from 2D point tracks, as in TracksTo4D.

Source: Kasten, Lu, Maron, Chechik, "Fast Encoder-Based 3D from Casual Videos via Point Track
Processing" (TracksTo4D), NeurIPS 2024, arXiv 2404.07097, Sec. 3 (method). The paper trains a
network that maps tracks to cameras and a low-rank structure and fits it with the losses below; here
the same model and losses are **optimised directly per video** (what the paper's optional test-time
fine-tuning does, without the learned prior), with torch (L-BFGS):

* **Model** (Sec. 3.1): every track ``j`` is a 3D point over time,
  ``X_j(t) = B0_j + sum_{k=1..K} c_k(t) B_kj``: ``B0`` the static part (the paper's static
  approximation that carries camera estimation), ``K`` dynamic bases ``B_k (N, 3)`` shared by all
  frames and per-frame coefficients ``c (T, K)`` (the low-rank movement assumption).
* **Cameras**: per frame a world-to-camera rotation ``R_t = exp([w_t]_x) R0_t`` (so(3) update of the
  start rotation, kornia's Rodrigues map) and translation ``t_t``; one focal length shared by the
  clip, ``f = f0 exp(l)`` (``fy / fx`` and the principal point kept from the start ``K``); frame 0
  is held fixed (the gauge).
* **Losses** (Sec. 3.2), on residuals in normalised image units (pixels / ``f0``), averaged over the
  visible track points:

  - robust static reprojection ``rho(|P_t(B0_j) - x_tj|)``, Geman-McClure
    ``rho(r) = sigma^2 r^2 / (sigma^2 + r^2)`` with ``sigma`` = :attr:`Tracks4DSettings.min_scale_px`:
    a point the static part cannot explain (a moving one) stops pulling the cameras. The paper
    down-weights such points by a predicted per-point uncertainty; a free per-track Laplace scale
    (``r / s_j + log s_j``), tried first here, preferred wrong camera solutions that fit part of the
    moving boxes on the synthetic clips, so a fixed-scale robust loss stands in for it;
  - full reprojection ``|P_t(X_j(t)) - x_tj|`` (weight :attr:`Tracks4DSettings.full_weight`; the
    paper weighs it 50 against its static term);
  - negative-depth penalty ``max(0, z_min - z)`` on every projected point;
  - sparsity of the dynamic part: ``|X_j(t) - B0_j|`` (an L1 group norm per track and frame);
  - with a depth map (optional): ``|z_tj - a * D_t(x_tj)| / (a * D_t)`` with a learned scale ``a``.

  Optimisation (L-BFGS, strong-Wolfe line search): first the static terms (cameras, ``B0``) with a
  graduated robust scale; then (alternating step, :attr:`Tracks4DSettings.static_ba_rounds`) a second-order
  bundle adjustment of cameras, focal and ``B0`` on the tracks the dynamic score calls static
  (:mod:`raxel_core.tracks4d.static_ba`; L-BFGS does not cross the focal-depth valley) and the static fit again;
  then the dynamic part alone, then all terms together (cameras held fixed there unless
  :attr:`Tracks4DSettings.joint_cameras`).

* **Start**: the given trajectory (e.g. the SfM result of :func:`raxel_core.pose.estimate_trajectory`)
  and starts from the tracks alone (:func:`raxel_core.tracks4d.lifting.initial_cameras`: essential matrices
  of frame 0 with :attr:`Tracks4DSettings.num_pairs` frames spread over the clip, up to
  :attr:`Tracks4DSettings.max_hypotheses` rigid motions per pair, PnP for the other frames); each gets the static fit,
  and the one with the lowest robust static cost is kept (a start from the tracks must beat a given
  trajectory by :attr:`Tracks4DSettings.given_start_margin`); ``B0`` triangulated with
  those cameras (or lifted with the depth map), the scene scaled to a median depth of 1 for the
  optimisation and scaled back at the end (the output has the given trajectory's units).

Out: :class:`Tracks4DResult` with the cameras (core :class:`~raxel_core.cameras.Cameras`, OpenCV
world-to-camera), the per-frame 3D points and a per-track **dynamic score**: the median static
reprojection residual in pixels (how far the track strays from any fixed 3D point under the solved
cameras; a static track scores about its tracking noise).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ..cameras import Cameras
from ..geometry.rotations import so3_exp
from ..interop import Tracks2D
from .lifting import initial_cameras, lift_with_depth, normalised, triangulate_tracks
from .static_ba import static_bundle_adjustment

#: Fewest frames and fewest usable tracks (visible in 2+ frames inside the image) the solver accepts.
MIN_FRAMES = 2
MIN_TRACKS = 8
#: Smallest share of the usable tracks that must fit one static scene under the best start (the
#: background the cameras are measured against); below it the solver raises instead of returning cameras
#: fitted to noise or to moving things.
MIN_STATIC_SHARE = 0.3
#: Camera travel (largest distance from frame 0, scene normalised to median depth 1) below which the static bundle
#: adjustment is skipped: a still camera has no scale gauge and nothing to triangulate (measured: a still camera's
#: static fit travels 0.3 % of the depth on the tracking noise; the bundle adjustment from there diverged).
STILL_TRAVEL = 0.01


@dataclass(frozen=True)
class Tracks4DSettings:
    """Parameters of :func:`solve_tracks4d` (defaults tuned on the synthetic dynamic clips of
    :mod:`raxel_core.synthetic.dynamic`; the paper's network uses ``K = 12`` bases).

    Attributes:
        num_bases: ``K``, dynamic bases (>= 0).
        iterations: L-BFGS iterations per stage (>= 1).
        robust_levels: stages of the static fit, each with a smaller robust scale (>= 1).
        full_weight, depth_penalty_weight, sparsity_weight, depth_weight: loss weights (static term 1).
        min_scale_px: final scale ``sigma`` of the robust static loss in pixels.
        start_scale_px: its start (graduated non-convexity: ``sigma`` shrinks geometrically from
            here to ``min_scale_px`` over the ``robust_levels`` static stages).
        min_depth: ``z_min`` of the negative-depth penalty (scene normalised to median depth 1).
        dynamic_threshold_px: a track whose dynamic score exceeds this is flagged ``dynamic``.
        refine_focal: optimise the shared focal length.
        joint_cameras: let the full-reprojection stage move the cameras too (the paper's joint fit). Off by
            default: on the synthetic clips with 30 % moving area it lowered AUC@30 from 98.4 to 92.8 (the
            dynamic part does not absorb every moving track, and the rest pulls the cameras), while the
            robust static fit alone keeps it.
        given_start_margin: a start from the tracks replaces a given trajectory only when its robust static
            cost is below this share of the given one's (in ``(0, 1]``).
        max_hypotheses: most starts found from the tracks alone per frame pair (one per rigid motion, sequential
            RANSAC; :func:`~raxel_core.tracks4d.lifting.initial_cameras`), tried beside the given trajectory.
        num_pairs: frame pairs (frame 0 and ``num_pairs`` frames spread over the clip) whose essential matrices
            give those starts. Several pairs, not one: on the 50 % moving clips a given SfM trajectory misled by
            the moving objects is a deep local minimum of the robust static cost (the fit from it barely moves),
            while the start from one of the pairs reaches the background's cameras with a clearly lower cost
            (measured on renderer seeds 0 / 2: AUC@30 SfM 44.6 / 32.1, best pair start after the fit 86.8 / 71.6).
        static_ba_rounds: alternating steps after the static fit of the best start (>= 0; 0 = off): a second-order
            bundle adjustment of cameras, focal and ``B0`` on the static tracks (:mod:`raxel_core.tracks4d.static_ba`),
            which crosses the focal-depth valley that L-BFGS does not, then the static fit again. AUC@30 without ->
            with it (128x192 benchmark clips): 29 % moving, seed 0 (SfM focal 5 % long): exact tracks 94.0 -> 98.9,
            LK 66.1 -> 98.6; 40 %, seeds 0 / 2: exact 74.6 / 69.2 -> 86.9 / 87.7, LK 67.9 / 76.6 -> 75.9 / 89.1.
        static_ba_min_focal_change: its result is kept only when it moves the focal by this share or more (>= 0).
            In the right basin it only fits the tracks' biases (LK: a ~0.1 px zoom-like error per frame) and moves
            cameras SfM's features fix better: focal changes of 0.3-1.8 % came with LK AUC@30 99.9 -> 96.7, 99.7 ->
            97.1, 98.2 -> 94.5 (0 / 10 / 29 % moving); every change that helped was 4 % or more.
        static_ba_scale_px: scale of its Geman-McClure loss in pixels (> 0; 1 px gave LK tracks 93.5 instead of 97.2:
            LK tracks of the background fit to ~0.1 px and drift on a few pixels).
        static_ba_min_frames: the tracks it uses are seen in this many frames or more (>= 2; all static tracks
            gave LK tracks 93.5 instead of 95.8 at the 1 px scale: short re-seeded tracks add drift, no baseline).
        seed: seed of the bases' random start and OpenCV's RANSAC.
    """

    num_bases: int = 8
    iterations: int = 60
    robust_levels: int = 1
    full_weight: float = 1.0
    depth_penalty_weight: float = 10.0
    sparsity_weight: float = 0.01
    depth_weight: float = 0.1
    min_scale_px: float = 1.0
    start_scale_px: float = 1.0
    min_depth: float = 0.05
    dynamic_threshold_px: float = 2.0
    refine_focal: bool = True
    max_hypotheses: int = 2
    num_pairs: int = 4
    joint_cameras: bool = False
    given_start_margin: float = 0.8
    static_ba_rounds: int = 1
    static_ba_min_focal_change: float = 0.03
    static_ba_scale_px: float = 0.3
    static_ba_min_frames: int = 6
    seed: int = 0

    def __post_init__(self):
        if int(self.num_bases) != self.num_bases or not 0 <= self.num_bases <= 32:
            raise ValueError(f"num_bases must be a whole number in 0..32; got {self.num_bases}")
        if int(self.num_pairs) != self.num_pairs or not 1 <= self.num_pairs <= 16:
            raise ValueError(f"num_pairs must be a whole number in 1..16; got {self.num_pairs}")
        if int(self.static_ba_rounds) != self.static_ba_rounds or not 0 <= self.static_ba_rounds <= 10:
            raise ValueError(f"static_ba_rounds must be a whole number in 0..10; got {self.static_ba_rounds}")
        if int(self.static_ba_min_frames) != self.static_ba_min_frames or self.static_ba_min_frames < 2:
            raise ValueError(f"static_ba_min_frames must be a whole number >= 2; got {self.static_ba_min_frames}")
        if not (math.isfinite(self.static_ba_min_focal_change) and self.static_ba_min_focal_change >= 0):
            raise ValueError(f"static_ba_min_focal_change must be a number >= 0; got {self.static_ba_min_focal_change}")
        if not (math.isfinite(self.static_ba_scale_px) and self.static_ba_scale_px > 0):
            raise ValueError(f"static_ba_scale_px must be a number > 0; got {self.static_ba_scale_px}")
        if int(self.iterations) != self.iterations or self.iterations < 1:
            raise ValueError(f"iterations must be a whole number >= 1; got {self.iterations}")
        if not 0 < self.given_start_margin <= 1:
            raise ValueError(f"given_start_margin must be in (0, 1]; got {self.given_start_margin}")
        if int(self.robust_levels) != self.robust_levels or self.robust_levels < 1:
            raise ValueError(f"robust_levels must be a whole number >= 1; got {self.robust_levels}")
        if not (0 < self.min_scale_px <= self.start_scale_px):
            raise ValueError(f"need 0 < min_scale_px <= start_scale_px; got {self.min_scale_px}, {self.start_scale_px}")
        for name in ("full_weight", "depth_penalty_weight", "sparsity_weight", "depth_weight", "min_depth",
                     "dynamic_threshold_px"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a number >= 0; got {value}")


@dataclass
class Tracks4DResult:
    """Result of :func:`solve_tracks4d`.

    Attributes:
        cameras: ``T`` solved cameras (OpenCV world-to-camera, pixel ``K`` at the tracks' image size).
        points: ``(T, M, 3)`` float64 world point of each kept track at each frame, ``X_j(t)``.
        static_points: ``(M, 3)`` float64 ``B0``.
        dynamic_score: ``(M,)`` float64 median static reprojection residual in pixels.
        dynamic: ``(M,)`` bool, ``dynamic_score > settings.dynamic_threshold_px``.
        track_indices: ``(M,)`` int64 input index of each kept track (tracks seen in fewer than 2
            frames inside the image are left out).
        visibility: ``(T, M)`` bool observations used (visible and inside the image).
        reprojection_px: median full reprojection error in pixels over the visible points.
        losses: final value of each loss term.
        messages: plain notes (the start, what was left out).
    """

    cameras: Cameras
    points: np.ndarray
    static_points: np.ndarray
    dynamic_score: np.ndarray
    dynamic: np.ndarray
    track_indices: np.ndarray
    visibility: np.ndarray
    reprojection_px: float
    losses: dict = field(default_factory=dict)
    messages: list = field(default_factory=list)

    @property
    def dynamic_share(self) -> float:
        """Share of the kept tracks flagged dynamic."""
        return float(self.dynamic.mean()) if len(self.dynamic) else 0.0


def usable_tracks(tracks: Tracks2D, image_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``(visibility (T, N) bool, keep (N,) bool)``: points visible and inside the ``(H, W)`` image,
    and the tracks with at least two such points."""
    h, w = image_size
    p = tracks.points
    inside = (p[..., 0] >= 0) & (p[..., 0] < w) & (p[..., 1] >= 0) & (p[..., 1] < h)
    vis = tracks.visibility & inside
    return vis, vis.sum(axis=0) >= 2


def check_inputs(tracks: Tracks2D, image_size, trajectory: Cameras | None, depth) -> None:
    """Raise ``ValueError`` with a fix for inputs :func:`solve_tracks4d` cannot use."""
    h, w = image_size
    if tracks.num_frames < MIN_FRAMES:
        raise ValueError(f"the tracks have {tracks.num_frames} frame; solving cameras from tracks needs at least "
                         f"{MIN_FRAMES} frames (a clip, not a still image)")
    p = tracks.points
    inside = (p[..., 0] >= 0) & (p[..., 0] < w) & (p[..., 1] >= 0) & (p[..., 1] < h)
    if not inside.any():
        raise ValueError(f"every track point lies outside the {w}x{h} frame; the tracks belong to another video "
                         "size: rescale them to the video's pixels")
    if not tracks.visibility.any():
        raise ValueError("no track point is visible (track_visibility is all false); give tracks with visible points")
    vis, keep = usable_tracks(tracks, image_size)
    if keep.sum() < MIN_TRACKS:
        raise ValueError(f"only {int(keep.sum())} tracks are visible inside the {w}x{h} frame in 2 or more frames; "
                         f"the solver needs at least {MIN_TRACKS}: track more points or a longer stretch of video")
    if trajectory is not None:
        if len(trajectory) != tracks.num_frames:
            raise ValueError(f"the trajectory has {len(trajectory)} frames but the tracks have {tracks.num_frames}; "
                             "give the trajectory of the same video (every frame registered), or none")
    if depth is not None:
        shape = tuple(np.asarray(depth).shape)
        if shape != (tracks.num_frames, h, w):
            raise ValueError(f"the depth has shape {shape} but the tracks need ({tracks.num_frames}, {h}, {w}) "
                             "(frames, height, width at the tracks' pixels); resize the depth to the video")


def solve_tracks4d(tracks: Tracks2D, image_size: tuple[int, int], trajectory: Cameras | None = None,
                   depth=None, settings: Tracks4DSettings | None = None, focal: float | None = None,
                   progress: Callable[[int, int], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> Tracks4DResult:
    """Solve cameras, a low-rank dynamic 3D structure and dynamic scores from 2D tracks (module
    docstring: TracksTo4D, NeurIPS 2024, Sec. 3).

    Args:
        tracks: ``T`` frames of ``N`` tracks, pixels of an ``image_size`` video.
        image_size: ``(H, W)`` pixels.
        trajectory: optional ``T`` start cameras (the SfM result), else they are found from the tracks.
        depth: optional ``(T, H, W)`` depth (any positive scale; float array / tensor) to lift the
            tracks and as an extra loss (scale learned).
        settings: :class:`Tracks4DSettings`.
        focal: start focal length in pixels when no trajectory is given (default ``1.2 max(H, W)``).
        progress: ``progress(done, total)`` every 50 steps; should_stop: polled there
            (``InterruptedError``).

    Returns:
        :class:`Tracks4DResult`.

    Raises:
        ValueError: fewer than 2 frames, every point outside the frame or invisible, fewer than
            :data:`MIN_TRACKS` usable tracks, a trajectory or depth of another size, or fewer than
            :data:`MIN_STATIC_SHARE` of the tracks fit a static scene (noise, or everything moves).
        InterruptedError: ``should_stop()`` returned true.
    """
    settings = settings or Tracks4DSettings()
    h, w = (int(v) for v in image_size)
    check_inputs(tracks, (h, w), trajectory, depth)
    messages: list[str] = []
    vis_all, keep = usable_tracks(tracks, (h, w))
    track_indices = np.flatnonzero(keep)
    if (~keep).any():
        messages.append(f"{int((~keep).sum())} of {tracks.num_tracks} tracks left out (seen in fewer than 2 frames "
                        "inside the image)")
    pts = tracks.points[:, keep].astype(np.float64)
    vis = vis_all[:, keep]
    T, N = vis.shape
    depth_at = None
    if depth is not None:
        d = torch.as_tensor(depth).double().numpy()
        col = np.clip(np.floor(pts[..., 0]).astype(np.int64), 0, w - 1)
        row = np.clip(np.floor(pts[..., 1]).astype(np.int64), 0, h - 1)
        depth_at = d[np.arange(T)[:, None], row, col]
        vis = vis & (depth_at > 0) & np.isfinite(depth_at)

    starts = []  # (K, R, t, note)
    if trajectory is not None:
        starts.append((trajectory.K.numpy().mean(axis=0), trajectory.R.numpy().copy(), trajectory.t.numpy().copy(),
                       "cameras started from the given trajectory"))
    f0 = float(trajectory.K[0, 0, 0]) if trajectory is not None else (float(focal) if focal else 1.2 * max(h, w))
    K_tracks = starts[0][0] if starts else np.array([[f0, 0, w / 2], [0, f0, h / 2], [0, 0, 1.0]])
    for R0, t0, note in initial_cameras(pts, vis, K_tracks, settings.seed, settings.max_hypotheses,
                                        settings.num_pairs):
        starts.append((K_tracks, R0, t0, note))

    threads = torch.get_num_threads()
    # one thread: the tensors are small (T x N x 3), and torch's intra-op threads spend more time
    # synchronising than computing (measured 30x more CPU time per step with 2 threads on a busy 2-core machine)
    torch.set_num_threads(1)
    # gradients on even where the caller runs under no_grad / inference_mode (ComfyUI runs nodes so)
    with torch.inference_mode(False), torch.enable_grad():
        return _solve(starts, pts, vis, depth_at, settings, messages, track_indices, (h, w), trajectory, progress,
                      should_stop, threads)


def _solve(starts, pts, vis, depth_at, settings, messages, track_indices, size, trajectory, progress, should_stop,
           threads):
    N = vis.shape[1]
    try:
        problems = []
        for k, (K0, R0, t0, note) in enumerate(starts):
            problem = _LowRankProblem(pts, vis, K0, R0, t0, depth_at, settings, messages if k == 0 else [])
            problem.fit_static(should_stop)
            cost = problem.static_cost()
            if trajectory is not None and k > 0:
                cost /= settings.given_start_margin  # the given trajectory is kept unless clearly beaten
            problems.append((-cost, problem.static_support(), k, problem, note))
            if progress is not None:
                progress(k + 1, len(starts) + 1)
        cost, support, best, problem, note = max(problems, key=lambda c: (c[0], c[1], -c[2]))
        messages.append(note)
        if len(starts) > 1:
            costs = ", ".join(f"{-c[0]:.3f}" for c in problems)
            messages.append(f"kept start {best + 1} of {len(starts)}, the lowest robust static cost {-cost:.3f} "
                            f"(per start: {costs}); {support} of {N} tracks fit a static scene within "
                            f"{settings.dynamic_threshold_px:g} px")
        static_share = support / max(N, 1)
        if support < MIN_TRACKS or static_share < MIN_STATIC_SHARE:
            raise ValueError(
                f"only {support} of {N} tracks ({static_share:.0%}) fit one static scene under the best cameras found "
                f"(within {settings.dynamic_threshold_px:g} px); the solver needs at least {MIN_STATIC_SHARE:.0%} "
                "(a static background to measure the camera against). The clip looks like noise or nearly "
                "everything in it moves: give a clip with more visible static background, or more frames")
        for _ in range(settings.static_ba_rounds):
            note = problem.refine_static_ba(should_stop)
            messages.append(note)
        moved = problem.bound_dynamic_depth()
        if moved:
            messages.append(f"{moved} tracks that no static point explains had a static part farther than the farthest "
                            "static point (near-parallel rays of a moving point): moved to that depth")
        problem.fit_dynamic(should_stop)
        if progress is not None:
            progress(len(starts) + 1, len(starts) + 1)
    finally:
        torch.set_num_threads(threads)
    return problem.result(track_indices, size, trajectory.fps if trajectory is not None else None, messages)


class _LowRankProblem:
    """Parameters and losses of the low-rank model for one start (module docstring)."""

    def __init__(self, pts, vis, K0, R0, t0, depth_at, settings: Tracks4DSettings, messages: list):
        T, N = vis.shape
        self.settings, self.T, self.N, self.vis = settings, T, N, vis
        xn = normalised(pts, K0)
        X0, ok = triangulate_tracks(xn, vis, R0, t0)
        moving_camera = np.linalg.norm(t0 - t0[0], axis=1).max() > 1e-9
        if depth_at is not None:
            X_depth, depth_scale = lift_with_depth(xn, vis, R0, t0, depth_at, X0 if moving_camera else None,
                                                   ok if moving_camera else None)
            X0 = np.where(ok[:, None] & moving_camera, X0, X_depth)
            messages.append(f"tracks lifted with the depth map (scale {depth_scale:.4g} to the cameras' units)")
        elif (~ok).any() or not moving_camera:
            # no triangulation (still camera or parallel rays): start on the ray at the median depth
            first = np.argmax(vis, axis=0)
            z_ok = (np.einsum("nij,nj->ni", R0[first], X0)[:, 2] + t0[first, 2])[ok]
            z_med = float(np.median(z_ok)) if ok.sum() >= 5 and moving_camera else 1.0
            idx = np.flatnonzero(~ok) if moving_camera else np.arange(N)
            cam = np.c_[xn[first[idx], idx], np.ones(len(idx))] * z_med
            X0[idx] = np.einsum("nji,nj->ni", R0[first[idx]], cam - t0[first[idx]])
        # normalise the scene to a median depth of 1 for the optimisation
        z_all = np.einsum("tij,nj->tni", R0, X0)[..., 2] + t0[:, None, 2]
        front = vis & (z_all > 0)
        scale = float(np.median(z_all[front])) if front.any() else 1.0
        self.scene_scale = scale if scale > 1e-9 else 1.0
        dt = torch.float64
        gen = torch.Generator().manual_seed(int(settings.seed))
        self.obs = torch.from_numpy(pts)
        self.mask = torch.from_numpy(vis).to(dt)
        self.count = self.mask.sum().clamp(min=1)
        self.R_start = torch.from_numpy(R0)
        self.K0 = torch.from_numpy(K0)
        self.f_scale = float(K0[0, 0])
        self.w_rot = torch.zeros(T - 1, 3, dtype=dt, requires_grad=True)
        self.t_par = torch.from_numpy(t0[1:] / self.scene_scale).clone().requires_grad_(True)
        self.t_first = torch.from_numpy(t0[:1] / self.scene_scale)
        self.log_f = torch.zeros((), dtype=dt, requires_grad=True)
        self.B0 = torch.from_numpy(X0 / self.scene_scale).clone().requires_grad_(True)
        nb = settings.num_bases
        self.B = (1e-3 * torch.randn(nb, N, 3, generator=gen, dtype=dt)).requires_grad_(True)
        self.C = (0.1 * torch.randn(T, nb, generator=gen, dtype=dt)).requires_grad_(True)
        self.log_a = torch.zeros((), dtype=dt, requires_grad=True)
        self.depth = None if depth_at is None else torch.from_numpy(np.where(vis, depth_at, 1.0) / self.scene_scale)
        self.s_min = settings.min_scale_px / self.f_scale
        self.camera_params = [self.w_rot, self.t_par] + ([self.log_f] if settings.refine_focal else [])

    def cameras(self):
        R = torch.cat([self.R_start[:1], so3_exp(self.w_rot) @ self.R_start[1:]])
        t = torch.cat([self.t_first, self.t_par])
        K = self.K0.clone()
        K[0, 0], K[1, 1] = self.K0[0, 0] * torch.exp(self.log_f), self.K0[1, 1] * torch.exp(self.log_f)
        return R, t, K

    def points(self):
        """``X(t) = B0 + sum_k c_k(t) B_k``: ``(T, N, 3)``."""
        nb = self.settings.num_bases
        return self.B0 + (self.C @ self.B.reshape(nb, self.N * 3)).reshape(self.T, self.N, 3)

    def project(self, R, t, K, X):
        """Pixels ``(T, N, 2)`` and camera z ``(T, N)`` of ``X`` (``(T, N, 3)`` or ``(N, 3)``)."""
        cam = X.expand(self.T, self.N, 3) @ R.transpose(1, 2) + t[:, None]  # x_cam = R X + t (bmm: fast on CPU)
        z = cam[..., 2]
        zs = torch.where(z.abs() < 1e-6, torch.full_like(z, 1e-6), z)
        u = K[0, 0] * cam[..., 0] / zs + K[0, 2]  # u = fx x / z + cx
        v = K[1, 1] * cam[..., 1] / zs + K[1, 2]  # v = fy y / z + cy
        return torch.stack([u, v], -1), z

    def losses(self, full: bool, sigma: float) -> dict:
        st, mask, count = self.settings, self.mask, self.count
        R, t, K = self.cameras()
        uv0, z0 = self.project(R, t, K, self.B0)
        r0 = ((uv0 - self.obs) / self.f_scale).square().sum(-1)  # squared static residual
        # robust static reprojection, Geman-McClure rho(r) = sigma^2 r^2 / (sigma^2 + r^2), in units of s_min
        rho = sigma**2 * r0 / (sigma**2 + r0) / self.s_min**2
        out = {"static": (rho * mask).sum() / count}
        neg = torch.relu(st.min_depth - z0)
        if full:
            X = self.points()
            uv, z = self.project(R, t, K, X)
            # full reprojection, pseudo-Huber sqrt(r^2 + delta^2) - delta with delta = 0.1 px: the L1 norm,
            # smooth at 0 for L-BFGS
            delta = 0.1 / self.f_scale
            r = torch.sqrt(((uv - self.obs) / self.f_scale).square().sum(-1) + delta**2) - delta
            out["full"] = st.full_weight * (r * mask).sum() / count / self.s_min
            motion = torch.sqrt((X - self.B0).square().sum(-1) + 1e-12)  # sparsity of the dynamic part
            out["sparsity"] = st.sparsity_weight * (motion * mask).sum() / count
            neg = neg + torch.relu(st.min_depth - z)
            if self.depth is not None:
                a = torch.exp(self.log_a)
                out["depth"] = st.depth_weight * ((z - a * self.depth).abs() / (a * self.depth) * mask).sum() / count
        out["negative_depth"] = st.depth_penalty_weight * (neg * mask).sum() / count
        return out

    def _run(self, params, full: bool, sigma: float, should_stop):
        # L-BFGS with a strong-Wolfe line search per stage
        opt = torch.optim.LBFGS(params, lr=1.0, max_iter=int(self.settings.iterations), history_size=20,
                                line_search_fn="strong_wolfe", tolerance_grad=1e-10, tolerance_change=1e-12)

        def closure():
            opt.zero_grad()
            loss = sum(self.losses(full, sigma).values())
            loss.backward()
            return loss

        opt.step(closure)
        if should_stop is not None and should_stop():
            raise InterruptedError("solving cameras from tracks was cancelled")

    def fit_static(self, should_stop=None):
        """Cameras and ``B0`` by the static terms; graduated non-convexity: the robust scale shrinks from
        stage to stage (Black & Rangarajan, IJCV 1996; Yang et al., RA-L 2020)."""
        st = self.settings
        for sigma in np.geomspace(st.start_scale_px, st.min_scale_px, st.robust_levels) / self.f_scale:
            self._run(self.camera_params + [self.B0], False, float(sigma), should_stop)

    def refine_static_ba(self, should_stop=None) -> str:
        """Alternating step: bundle adjustment (:func:`.static_ba.static_bundle_adjustment`) of cameras, focal and
        ``B0`` on the static tracks seen in :attr:`Tracks4DSettings.static_ba_min_frames`+ frames; where it moves the
        focal by :attr:`Tracks4DSettings.static_ba_min_focal_change` or more, the other static tracks are triangulated
        with its cameras and the static fit runs again from there. Returns a note. Not undone when the static loss
        ends higher: with LK tracks that loss preferred a wrong basin (29 %-moving clip, seed 0, without the focal
        prior: 0.2940 at AUC@30 77.1 against 0.2949 at 98.4 after the step)."""
        st = self.settings
        score = np.nanmedian(np.where(self.vis, self.static_residual_px(), np.nan), axis=0)
        static = (score <= st.dynamic_threshold_px) & (self.vis.sum(axis=0) >= st.static_ba_min_frames)
        if static.sum() < MIN_TRACKS:
            return (f"bundle adjustment of the static tracks skipped: {int(static.sum())} static tracks seen in "
                    f"{st.static_ba_min_frames}+ frames (needs {MIN_TRACKS})")
        with torch.no_grad():
            R, t, K = (v.numpy().copy() for v in self.cameras())
            B0 = self.B0.numpy().copy()
        if np.linalg.norm(t - t[0], axis=1).max() < STILL_TRAVEL:
            return "bundle adjustment of the static tracks skipped: the camera does not travel (no depth to adjust)"
        before = self.static_cost()
        obs = self.obs.numpy()
        fit = static_bundle_adjustment(obs[:, static], self.vis[:, static], K, R, t, B0[static],
                                       loss_scale_px=st.static_ba_scale_px, refine_focal=st.refine_focal)
        change = fit.K[0, 0] / K[0, 0] - 1
        if abs(change) < st.static_ba_min_focal_change:
            return (f"bundle adjustment on {int(static.sum())} static tracks: focal {change:+.1%}, below "
                    f"{st.static_ba_min_focal_change:.0%} (the start is in the focal's basin): its result is not used")
        # the other static tracks (seen in fewer frames) triangulated with the new cameras; dynamic ones kept
        X, ok = triangulate_tracks(normalised(obs, fit.K), self.vis, fit.R, fit.t)
        keep = ~ok | (score > st.dynamic_threshold_px)
        X[keep] = B0[keep]
        X[static] = fit.points
        # no cheirality in the adjustment: a far point can cross infinity (x / z unchanged for X -> -X) to behind the
        # cameras, where the linear negative-depth penalty outweighs all else (RealEstate10K 0c11dbe781b1c11c: one
        # point at z = -6e5 took AUC@30 97.7 -> 45.0); such tracks keep their start
        z = np.einsum("tij,nj->tni", fit.R, X)[..., 2] + fit.t[:, None, 2]
        behind = (self.vis & (z < st.min_depth)).any(axis=0)
        X[behind] = B0[behind]
        with torch.no_grad():
            self.R_start = torch.from_numpy(fit.R)
            self.w_rot.zero_()
            self.t_par.copy_(torch.from_numpy(fit.t[1:]))
            self.log_f.fill_(math.log(fit.K[0, 0] / float(self.K0[0, 0])))
            self.B0.copy_(torch.from_numpy(X))
        self.fit_static(should_stop)
        return (f"bundle adjustment on {int(static.sum())} static tracks: focal {K[0, 0]:.2f} -> {fit.K[0, 0]:.2f} px, "
                f"median residual {fit.median_residual_px:.2f} px ({fit.evaluations} evaluations); robust static cost "
                f"{before:.4f} -> {self.static_cost():.4f} after the static fit from it")

    def bound_dynamic_depth(self) -> int:
        """Move the static part ``B0`` of each dynamic track (median static residual over the threshold) whose
        median camera depth exceeds the farthest static track's (99th percentile of their depths) back along
        its first visible ray to that depth; returns how many moved.

        A moving point has no depth of its own in the static fit: its multi-view triangulation is of rays that
        do not meet, and where they are near-parallel it lands tens to hundreds of scene units away; the
        sparsity term then keeps ``X(t)`` near that ``B0`` (measured: one moving track at 572 room units made the
        moving tracks' 3D RMSE 30 units against a median error of 0.94). The bound is the background: a
        moving thing is seen in front of it."""
        with torch.no_grad():
            R, t, _ = self.cameras()
            z = (self.B0 @ R.transpose(1, 2) + t[:, None])[..., 2].numpy()  # (T, N)
        score = np.nanmedian(np.where(self.vis, self.static_residual_px(), np.nan), axis=0)
        static = score <= self.settings.dynamic_threshold_px
        z_vis = np.where(self.vis, z, np.nan)
        if static.sum() < MIN_TRACKS:
            return 0
        z_far = float(np.nanpercentile(z_vis[:, static], 99))
        far = ~static & (np.nanmedian(z_vis, axis=0) > z_far)
        if not far.any():
            return 0
        idx = np.flatnonzero(far)
        first = np.argmax(self.vis[:, idx], axis=0)
        with torch.no_grad():
            Rf, tf = R[first], t[first]  # (n, 3, 3), (n, 3)
            cam = torch.einsum("nij,nj->ni", Rf, self.B0[idx]) + tf
            cam = cam / cam[:, 2:3].clamp(min=1e-9) * z_far  # on the same ray, at the farthest static depth
            self.B0[idx] = torch.einsum("nji,nj->ni", Rf, cam - tf)
        return len(idx)

    def fit_dynamic(self, should_stop=None):
        """The dynamic part alone (cameras and ``B0`` held), then every term together (the cameras too when
        ``settings.joint_cameras``)."""
        extra = [self.B, self.C, self.log_a]
        if self.settings.num_bases:
            self._run(extra, True, self.s_min, should_stop)
        cameras = self.camera_params if self.settings.joint_cameras else []
        self._run(cameras + [self.B0] + extra, True, self.s_min, should_stop)

    def static_residual_px(self) -> np.ndarray:
        with torch.no_grad():
            R, t, K = self.cameras()
            uv0, _ = self.project(R, t, K, self.B0)
            return torch.linalg.norm(uv0 - self.obs, dim=-1).numpy()

    def static_support(self) -> int:
        """Tracks whose median static residual is within the dynamic threshold."""
        score = np.nanmedian(np.where(self.vis, self.static_residual_px(), np.nan), axis=0)
        return int((score <= self.settings.dynamic_threshold_px).sum())

    def static_cost(self) -> float:
        with torch.no_grad():
            return float(self.losses(False, self.s_min)["static"])

    def result(self, track_indices, image_size, fps, messages) -> Tracks4DResult:
        st = self.settings
        with torch.no_grad():
            terms = {k: float(v) for k, v in self.losses(True, self.s_min).items()}
            R, t, K = self.cameras()
            X = self.points()
            uv, _ = self.project(R, t, K, X)
            r = torch.linalg.norm(uv - self.obs, dim=-1).numpy()
        score = np.nanmedian(np.where(self.vis, self.static_residual_px(), np.nan), axis=0)
        reproj = float(np.median(r[self.vis]))
        cams = Cameras(K=K[None].repeat(self.T, 1, 1), R=R, t=t * self.scene_scale, image_size=image_size, fps=fps)
        cams.metadata.update({"source": "raxel_core.tracks4d.solve_tracks4d", "method": "tracks4d",
                              "frame_indices": list(range(self.T))})
        cams.validate("tracks4d trajectory")
        dynamic = score > st.dynamic_threshold_px
        messages.append(f"{self.N} tracks over {self.T} frames; {int(dynamic.sum())} flagged dynamic (median static "
                        f"residual > {st.dynamic_threshold_px:g} px); median reprojection error {reproj:.2f} px")
        return Tracks4DResult(
            cameras=cams, points=X.numpy() * self.scene_scale,
            static_points=self.B0.detach().numpy() * self.scene_scale,
            dynamic_score=score, dynamic=dynamic, track_indices=track_indices, visibility=self.vis,
            reprojection_px=reproj, losses=terms, messages=messages)
