"""Camera trajectory from video frames: structure from motion with pycolmap, and a rotation-only
solver for footage without parallax (static shots, tripod pans and tilts).

Pipeline of :func:`estimate_trajectory` (every step a COLMAP / OpenCV / SciPy routine):

1. The frames are written as PNG to a temporary workspace (removed afterwards).
2. SIFT features (``pycolmap.extract_features``) with **one shared camera** for the whole clip
   (``CameraMode.SINGLE``, ``SIMPLE_RADIAL``: one focal length, principal point at the image
   centre, one radial distortion term; a known ``focal`` is given as the camera's prior and held
   fixed).
3. Matching suited to video (``pycolmap.match_sequential``): every frame against its ``overlap``
   successors (optionally plus the quadratic long-range pairs ``i + 2^k``: off by default, it made
   GLOMAP lose frames on 2 of the 15 RealEstate10K clips); loop detection off. Each pair is
   verified by COLMAP (fundamental / essential / homography RANSAC).
4. **Parallax test** on the verified pairs: a homography is fitted (``cv2.findHomography``,
   RANSAC) to each pair's epipolar inliers; when it explains almost every inlier on the widest
   pairs, the footage has no parallax (a camera that only rotates, or does not move, maps every
   image point by the homography ``H_ij = K R_j R_i^T K^-1``; Hartley & Zisserman, *Multiple View
   Geometry*, 2nd ed., Sec. 8.4.2 / 13.4). Incremental or global SfM cannot initialise there
   (no triangulation angle), so such footage goes to step 5b.
5. a. **SfM** (parallax): the focal length is first self-calibrated from the fundamental matrices
      (``pycolmap.calibrate_view_graph``, GLOMAP's view-graph calibration) unless given, then
      global SfM (``pycolmap.global_mapping``, GLOMAP: Pan et al., ECCV 2024). When that leaves
      frames out, incremental SfM (``pycolmap.incremental_mapping``; Schonberger & Frahm, CVPR
      2016) runs on the same matches and the model with more registered frames is kept.
   b. **Rotation only** (no parallax): rotations chained from the pairwise homographies with a
      focal length from the homographies' orthogonality (``K^-1 H K`` must be a rotation), then
      all rotations and the focal length refined jointly by robust least squares on the matched
      keypoints (``scipy.optimize.least_squares``, Huber loss); every camera centre is zero. A
      clip whose background stays put (at least :data:`STATIC_MIN_STATIONARY_FRACTION` of the
      matches on the widest pairs move less than :data:`STATIONARY_MAX_FRACTION` of the frame
      size; moving objects are the rest) is ``method="static"``: the same solver runs on the
      stationary matches only, so it reports the (near-zero) rotations it measures; the focal
      length cannot be observed there and the prior is kept.

Only frames that the method actually registers get a pose; the others are listed in
:attr:`PoseEstimate.unregistered` and named in the messages. Poses are never interpolated.
"""
from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from .cameras import Cameras

#: Fewest registered frames for a trajectory; fewer raise ``ValueError``.
MIN_REGISTERED_FRAMES = 2
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
#: COLMAP's default focal-length prior when nothing is known: ``1.2 * max(H, W)``.
DEFAULT_FOCAL_FACTOR = 1.2
METHODS = ("sfm", "rotation_only", "static")


@dataclass
class PoseEstimate:
    """Result of :func:`estimate_trajectory`.

    Attributes:
        cameras: :class:`Cameras` of the **registered** frames only, in frame order (OpenCV
            world-to-camera, pixel ``K`` at the input frame size, ``fps`` passed through).
            ``metadata`` holds ``method``, ``frame_indices`` and the estimated camera parameters.
        frame_indices: input frame index of each camera in ``cameras``.
        registered: one bool per input frame.
        num_frames: number of input frames.
        method: ``"sfm"`` (translation and rotation, arbitrary scale), ``"rotation_only"`` (no
            parallax: tripod pan / tilt; every centre at the origin) or ``"static"`` (no
            parallax and no measurable motion).
        messages: human-readable notes (what was done, what failed and why).
        timings: seconds per stage.
    """

    cameras: Cameras
    frame_indices: list[int]
    registered: list[bool]
    num_frames: int
    method: str
    messages: list[str] = field(default_factory=list)
    timings: dict = field(default_factory=dict)

    @property
    def unregistered(self) -> list[int]:
        """Input frame indices that got no pose."""
        return [i for i, r in enumerate(self.registered) if not r]

    @property
    def complete(self) -> bool:
        """True when every input frame is registered."""
        return all(self.registered)


def _check_frames(frames) -> np.ndarray:
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().cpu().numpy()
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(
            f"frames must be an (N, H, W, 3) RGB array; got shape {frames.shape}. Read a video "
            "with raxel_core.video_io.read_frames"
        )
    if frames.dtype != np.uint8:
        raise ValueError(
            f"frames must be uint8 (0-255); got {frames.dtype}. Convert float images in [0, 1] "
            "with (x * 255).round().astype(np.uint8)"
        )
    n = frames.shape[0]
    if n < MIN_REGISTERED_FRAMES:
        raise ValueError(
            f"camera trajectory estimation needs at least {MIN_REGISTERED_FRAMES} frames; got {n}. "
            "Give the whole clip (a video of several frames with some camera overlap)"
        )
    if min(frames.shape[1:3]) < 16:
        raise ValueError(f"frames of {frames.shape[1]}x{frames.shape[2]} pixels are too small for features")
    return frames


class _Run:
    """Progress / cancellation bookkeeping of one estimation."""

    def __init__(self, progress, should_stop, total):
        self.progress, self.should_stop, self.total, self.done = progress, should_stop, total, 0
        self.timings: dict = {}
        self._t = time.perf_counter()

    def step(self, name: str):
        now = time.perf_counter()
        self.timings[name] = now - self._t
        self._t = now
        self.done += 1
        if self.progress is not None:
            self.progress(min(self.done, self.total), self.total)
        self.check()

    def check(self):
        if self.should_stop is not None and self.should_stop():
            raise InterruptedError("camera trajectory estimation was cancelled")


def _image_name(i: int) -> str:
    return f"{i:06d}.png"


def _frame_of(name: str) -> int:
    return int(Path(name).stem)


def _camera_from_colmap(camera) -> tuple[np.ndarray, dict]:
    """Pixel K (3, 3) and a parameter dict from a pycolmap camera (COLMAP pixels have the top-left
    corner at 0, as :mod:`raxel_core.cameras`)."""
    K = np.asarray(camera.calibration_matrix(), dtype=np.float64)
    return K, {"model": camera.model_name, "params": [float(v) for v in camera.params]}


# ----------------------------------------------------------------------------------- matches
def _read_pairs(database_path: Path):
    """Verified pairs from the COLMAP database: list of ``(i, j, x_i (M, 2), x_j (M, 2))`` with
    frame indices ``i < j`` and matched keypoint positions in pixels."""
    import pycolmap

    with pycolmap.Database.open(str(database_path)) as db:
        frame_of = {im.image_id: _frame_of(im.name) for im in db.read_all_images()}
        keypoints = {iid: np.asarray(db.read_keypoints(iid))[:, :2].astype(np.float64) for iid in frame_of}
        pair_ids, geometries = db.read_two_view_geometries()
        pairs = []
        for pair_id, geometry in zip(pair_ids, geometries):
            id1, id2 = pycolmap.pair_id_to_image_pair(pair_id)
            m = np.asarray(geometry.inlier_matches)
            if len(m) == 0:
                continue
            x1, x2 = keypoints[id1][m[:, 0]], keypoints[id2][m[:, 1]]
            i, j = frame_of[id1], frame_of[id2]
            if i > j:
                i, j, x1, x2 = j, i, x2, x1
            pairs.append((i, j, x1, x2))
    return pairs


def _homography_fraction(x1, x2, threshold):
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


def _parallax_statistics(pairs, image_size):
    """Per verified pair: homography-explained fraction, homography and inlier mask, median
    keypoint displacement (px) and the stationary matches."""
    threshold = HOMOGRAPHY_MAX_ERROR_FRACTION * max(image_size)
    stationary_px = STATIONARY_MAX_FRACTION * max(image_size)
    stats = []
    for i, j, x1, x2 in pairs:
        frac, H, inliers = _homography_fraction(x1, x2, threshold)
        d = np.linalg.norm(x2 - x1, axis=1)
        stats.append({
            "i": i, "j": j, "h_fraction": frac, "H": H, "inliers": inliers, "n": len(x1),
            "displacement": float(np.median(d)), "stationary": d < stationary_px,
        })
    return stats


def _widest(stats):
    """The pairs whose frame gap is at least half the largest verified gap (most parallax)."""
    gaps = np.array([s["j"] - s["i"] for s in stats])
    return [s for s, g in zip(stats, gaps) if g >= max(1, gaps.max() // 2)]


def is_static(stats) -> tuple[bool, float]:
    """Static camera test on :func:`_parallax_statistics`: the median stationary fraction over the
    widest pairs is at least :data:`STATIC_MIN_STATIONARY_FRACTION`. Returns ``(static, fraction)``."""
    if not stats:
        return False, float("nan")
    frac = float(np.median([np.mean(s["stationary"]) for s in _widest(stats)]))
    return frac >= STATIC_MIN_STATIONARY_FRACTION, frac


def has_parallax(stats) -> tuple[bool, float]:
    """Decide from :func:`_parallax_statistics` whether the footage shows parallax.

    The widest pairs (frame gap at least half the largest verified gap) carry the most parallax;
    the footage counts as parallax-free when the median homography-explained fraction over them is
    at least :data:`NO_PARALLAX_MIN_H_FRACTION`. Returns ``(parallax, that median fraction)``.
    """
    if not stats:
        return True, float("nan")
    frac = float(np.median([s["h_fraction"] for s in _widest(stats)]))
    return frac < NO_PARALLAX_MIN_H_FRACTION, frac


# ----------------------------------------------------------------------------------- rotation only
def _K(f, image_size):
    h, w = image_size
    return np.array([[f, 0.0, w / 2], [0.0, f, h / 2], [0.0, 0.0, 1.0]])


def _nearest_rotation(M):
    U, _, Vt = np.linalg.svd(M)
    R = U @ Vt
    if np.linalg.det(R) < 0:
        R = U @ np.diag([1.0, 1.0, -1.0]) @ Vt
    return R


def _focal_from_homographies(homographies, image_size, f_prior):
    """Focal length making ``K^-1 H K`` closest to a rotation over all pairs (grid search over
    fields of view 10-150 degrees, median cost). Returns ``None`` when the homographies do not
    constrain the focal length (near-identity: a static camera)."""
    h, w = image_size
    grid = 0.5 * max(h, w) / np.tan(np.radians(np.linspace(5, 75, 141)))
    costs = []
    for f in grid:
        K = _K(f, image_size)
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


def _rotation_log(R):
    return cv2.Rodrigues(R)[0][:, 0]


def _rotation_exp(v):
    return cv2.Rodrigues(np.asarray(v, dtype=np.float64).reshape(3, 1))[0]


def _solve_rotation_only(pairs, stats, n, image_size, focal, f_prior, messages, static=False,
                         max_points=150, seed=0):
    """Rotations (w2c, frame of the first registered image = identity) and the focal length of a
    camera that only rotates (``static``: of a camera whose background stays put; only the
    stationary matches are used). Returns ``(frames, R (M, 3, 3), f, focal_estimated)``."""
    from scipy.optimize import least_squares

    if static:
        stats = [dict(s, H=np.eye(3), inliers=s["stationary"]) for s in stats]
    good = [(p, s) for p, s in zip(pairs, stats) if s["H"] is not None and s["inliers"].sum() >= 8]
    frames = _largest_component(n, [(p[0], p[1]) for p, _ in good])
    fset = set(frames)
    good = [(p, s) for p, s in good if p[0] in fset]
    if len(frames) < 2:
        return frames, None, None, False
    f_est = focal
    estimated = False
    if f_est is None:
        moving = [s["H"] for _, s in good if not static]
        f_est = _focal_from_homographies(moving, image_size, f_prior) if moving else None
        if f_est is None:
            f_est = f_prior
            messages.append(
                f"focal length not observable without camera motion; kept the prior {f_prior:.1f} px"
            )
        else:
            estimated = True
    # Initial rotations: breadth-first over the pairs, R_j = (K^-1 H_ij K) R_i.
    K = _K(f_est, image_size)
    Ki = np.linalg.inv(K)
    rel = {}
    for (i, j, _, _), s in good:
        Rij = _nearest_rotation(Ki @ s["H"] @ K)
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
        Rs = np.stack([np.eye(3)] + [_rotation_exp(p[3 * k:3 * k + 3]) for k in range(m - 1)])
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

    p0 = np.concatenate([_rotation_log(R0[fr]) for fr in frames[1:]] + ([[math.log(f_est)]] if refine_f else [[]]))
    sol = least_squares(residuals, p0, loss="huber", f_scale=2.0, method="trf", x_scale="jac", max_nfev=200)
    Rs, f = unpack(sol.x)
    rms = float(np.sqrt(np.mean(sol.fun ** 2)))
    messages.append(
        f"rotation-only refinement: {len(x1s)} matches over {len(good)} frame pairs, RMS reprojection "
        f"{rms:.2f} px, focal {f:.1f} px" + (" (estimated)" if refine_f else " (held fixed)")
    )
    return frames, Rs, f, refine_f


# ----------------------------------------------------------------------------------- SfM
def _largest_model(reconstructions):
    models = sorted(reconstructions.values(), key=lambda r: r.num_reg_images(), reverse=True)
    return models


def _poses_from_model(model):
    poses = {}
    for image in model.images.values():
        if not image.has_pose:
            continue
        T = image.cam_from_world()
        poses[_frame_of(image.name)] = (np.asarray(T.rotation.matrix()), np.asarray(T.translation))
    return poses


def estimate_trajectory(
    frames,
    focal: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    max_image_size: int | None = None,
    fps: float | None = None,
    overlap: int = 10,
    quadratic_overlap: bool = False,
    max_num_features: int = 8192,
    mapper: str = "global",
    seed: int = 0,
    verbose: bool = False,
) -> PoseEstimate:
    """Estimate the camera trajectory of a video (module docstring for the method and sources).

    Args:
        frames: ``(N, H, W, 3)`` uint8 RGB frames of one shot, ``N >= 2``.
        focal: known focal length in pixels at the frame size (held fixed), or ``None`` to
            estimate it (one focal length shared by all frames).
        progress: called as ``progress(done, total)`` after each stage.
        should_stop: polled between stages; when it returns True, ``InterruptedError`` is raised.
        max_image_size: extract features on frames downscaled so that their longer side is at
            most this many pixels (faster on large video; poses and ``K`` stay at the frame size).
        fps: frames per second stored on the returned cameras.
        overlap: sequential matching window (each frame against its ``overlap`` successors).
        quadratic_overlap: also match the long-range pairs ``i + 2^k`` (COLMAP's option).
        max_num_features: SIFT features per frame.
        mapper: ``"global"`` (GLOMAP, then incremental for any frame left out) or
            ``"incremental"`` (COLMAP's incremental mapper only).
        seed: random seed of COLMAP's RANSAC and mappers (results are repeatable).
        verbose: let COLMAP log to stderr.

    Returns:
        :class:`PoseEstimate` (cameras of the registered frames, which frames, method, messages).

    Raises:
        ValueError: bad ``frames`` (shape, dtype, fewer than 2), bad ``focal``, or fewer than
            :data:`MIN_REGISTERED_FRAMES` frames registered (the message says what to try).
        InterruptedError: ``should_stop()`` returned True.
    """
    import pycolmap

    frames = _check_frames(frames)
    n, h, w = frames.shape[:3]
    image_size = (h, w)
    if focal is not None and not (np.isfinite(focal) and focal > 0):
        raise ValueError(f"focal must be a positive number of pixels or None; got {focal}")
    if mapper not in ("global", "incremental"):
        raise ValueError(f"mapper must be 'global' or 'incremental'; got {mapper!r}")
    run = _Run(progress, should_stop, total=5)
    run.check()
    messages: list[str] = []
    f_prior = float(focal) if focal is not None else DEFAULT_FOCAL_FACTOR * max(h, w)
    old_level = pycolmap.logging.minloglevel
    if not verbose:
        pycolmap.logging.minloglevel = 2
    pycolmap.set_random_seed(seed)
    workspace = Path(tempfile.mkdtemp(prefix="raxel_pose_"))
    try:
        image_dir, database = workspace / "images", workspace / "database.db"
        image_dir.mkdir()
        for i, frame in enumerate(frames):
            cv2.imwrite(str(image_dir / _image_name(i)), np.ascontiguousarray(frame[..., ::-1]))
        run.step("write_frames")

        reader = pycolmap.ImageReaderOptions()
        reader.camera_model = "SIMPLE_RADIAL"
        if focal is not None:
            reader.camera_params = f"{float(focal)},{w / 2},{h / 2},0"
        extraction = pycolmap.FeatureExtractionOptions()
        extraction.sift.max_num_features = int(max_num_features)
        if max_image_size:
            extraction.max_image_size = int(max_image_size)
        pycolmap.extract_features(
            database, image_dir, camera_mode=pycolmap.CameraMode.SINGLE,
            reader_options=reader, extraction_options=extraction,
        )
        run.step("features")

        pairing = pycolmap.SequentialPairingOptions()
        pairing.overlap = int(overlap)
        pairing.quadratic_overlap = quadratic_overlap
        pairing.loop_detection = False
        verification = pycolmap.TwoViewGeometryOptions()
        verification.ransac.random_seed = seed
        pycolmap.match_sequential(database, pairing_options=pairing, verification_options=verification)
        run.step("matching")

        pairs = _read_pairs(database)
        stats = _parallax_statistics(pairs, image_size)
        parallax, h_fraction = has_parallax(stats)
        run.step("parallax_test")

        static, stationary = is_static(stats)
        if static or not parallax:
            method = "static" if static else "rotation_only"
            messages.append(
                f"static camera: {100 * stationary:.0f}% of the matches on the widest frame pairs do "
                "not move (moving objects are the rest); solved rotations on the still background, "
                "every camera centre at the origin" if static else
                f"no parallax: a homography explains {100 * h_fraction:.0f}% of the matches on the "
                "widest frame pairs, so the camera only rotates (tripod pan / tilt); solved a "
                "rotation-only model with every camera centre at the origin"
            )
            reg, Rs, f, _ = _solve_rotation_only(
                pairs, stats, n, image_size, focal, f_prior, messages, static=static, seed=seed)
            if Rs is None or len(reg) < MIN_REGISTERED_FRAMES:
                _raise_too_few(len(reg) if Rs is not None else 0, n, "rotation_only")
            K = _K(f, image_size)
            cam_meta = {"model": "SIMPLE_PINHOLE", "params": [f, w / 2, h / 2]}
            R = np.asarray(Rs)
            t = np.zeros((len(reg), 3))
        else:
            method = "sfm"
            messages.append(
                f"parallax found (a homography explains {100 * h_fraction:.0f}% of the matches on the "
                "widest frame pairs); structure from motion"
            )
            if focal is None:
                ok = pycolmap.calibrate_view_graph(database)
                if not ok:
                    messages.append("view-graph focal self-calibration failed; mapping from the focal prior")
            reg, R, t, K, cam_meta, _ = _map(database, image_dir, workspace, mapper, focal, seed, n, messages, run)
            if len(reg) < MIN_REGISTERED_FRAMES:
                _raise_too_few(len(reg), n, "sfm")
        run.step("mapping")
    finally:
        pycolmap.logging.minloglevel = old_level
        shutil.rmtree(workspace, ignore_errors=True)

    registered = [False] * n
    for i in reg:
        registered[i] = True
    missing = [i for i in range(n) if not registered[i]]
    if missing:
        messages.append(
            f"{len(missing)} of {n} frames could not be registered and have no pose: frames "
            f"{_ranges(missing)} (too little overlap or texture, motion blur, or a cut)"
        )
    messages.append(f"registered {len(reg)} of {n} frames ({method}), focal {K[0, 0]:.1f} px")
    cameras = Cameras(
        K=torch.as_tensor(np.repeat(K[None], len(reg), 0)),
        R=torch.as_tensor(R), t=torch.as_tensor(t), image_size=image_size, fps=fps,
    )
    cameras.metadata.update({
        "source": "raxel_core.pose_estimation.estimate_trajectory",
        "method": method, "frame_indices": list(reg), "camera": cam_meta,
    })
    cameras.validate("estimated trajectory")
    return PoseEstimate(
        cameras=cameras, frame_indices=list(reg), registered=registered, num_frames=n,
        method=method, messages=messages, timings=run.timings,
    )


def _map(database, image_dir, workspace, mapper, focal, seed, n, messages, run):
    """Run the mappers; return registered frames, R, t, K, camera dict, number of models."""
    import pycolmap

    candidates = []
    if mapper == "global":
        options = pycolmap.GlobalPipelineOptions()
        options.random_seed = seed
        options.mapper.random_seed = seed
        if focal is not None:
            options.mapper.bundle_adjustment.refine_focal_length = False
            options.mapper.bundle_adjustment.refine_extra_params = False
        out = workspace / "global"
        out.mkdir()
        models = _largest_model(pycolmap.global_mapping(database, image_dir, out, options))
        if models:
            candidates.append(("global", models))
        run.check()
    if not candidates or candidates[0][1][0].num_reg_images() < n:
        options = pycolmap.IncrementalPipelineOptions()
        options.random_seed = seed
        options.extract_colors = False
        options.mapper.init_min_tri_angle = 4.0  # video: small baselines between nearby frames
        if focal is not None:
            options.ba_refine_focal_length = False
            options.ba_refine_extra_params = False
        out = workspace / "incremental"
        out.mkdir()
        models = _largest_model(pycolmap.incremental_mapping(database, image_dir, out, options))
        if models:
            candidates.append(("incremental", models))
    if not candidates:
        return [], None, None, None, None, 0
    name, models = max(candidates, key=lambda c: c[1][0].num_reg_images())
    best = models[0]
    if len(models) > 1:
        sizes = ", ".join(str(m.num_reg_images()) for m in models[1:])
        messages.append(
            f"{name} SfM split the clip into {len(models)} models; kept the largest "
            f"({best.num_reg_images()} frames), frames only in the others ({sizes} frames) are unregistered"
        )
    poses = _poses_from_model(best)
    reg = sorted(poses)
    R = np.stack([poses[i][0] for i in reg]) if reg else None
    t = np.stack([poses[i][1] for i in reg]) if reg else None
    camera = best.cameras[next(iter(best.cameras))]
    K, cam_meta = _camera_from_colmap(camera)
    cam_meta["mapper"] = name
    if cam_meta["model"] == "SIMPLE_RADIAL":
        messages.append(f"{name} SfM: focal {camera.params[0]:.1f} px, radial distortion k1 = {camera.params[3]:.4f} (dropped: Cameras is pinhole)")
    return reg, R, t, K, cam_meta, len(models)


def _ranges(indices) -> str:
    """'0-3, 7, 9-10' for [0, 1, 2, 3, 7, 9, 10]."""
    out, start = [], None
    for k, i in enumerate(indices):
        if start is None:
            start = i
        if k + 1 == len(indices) or indices[k + 1] != i + 1:
            out.append(f"{start}" if start == i else f"{start}-{i}")
            start = None
    return ", ".join(out)


def _raise_too_few(k, n, method):
    raise ValueError(
        f"only {k} of {n} frames could be registered ({method}); a trajectory needs at least "
        f"{MIN_REGISTERED_FRAMES}. Try: a clip with more frames and more overlap between them, a "
        "higher resolution (max_image_size=None), a shot with more texture and less motion blur, "
        "or pass the known focal length in pixels"
    )
