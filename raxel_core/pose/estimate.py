"""Camera trajectory from video frames: structure from motion with pycolmap, and a rotation-only
solver for footage without parallax (static shots, tripod pans and tilts).

Pipeline of :func:`estimate_trajectory` (every step a COLMAP / OpenCV / SciPy routine):

1. The frames are taken one at a time as they arrive (:func:`stream_frames`: an iterable such as
   :func:`raxel_core.video_io.iter_frames` is decoded as a stream, so a long clip is never in memory as a
   whole), shrunk first when ``max_image_size`` is given. Masks of moving things to ignore, when given, go
   with them (:mod:`raxel_core.pose.masks`): no feature is extracted inside a mask.
2. SIFT features of each frame as it arrives, on worker threads (:class:`raxel_core.pose.features.FeatureStream`:
   OpenCV's ``cv2.SIFT`` in COLMAP's layout, :func:`raxel_core.pose.sfm.sift_features`; a third of
   ``pycolmap.extract_features``' CPU time for the same kind and number of features), written with the
   image rows straight into COLMAP's database in a temporary workspace (removed afterwards; no image file
   is written), with **one shared camera** for the whole clip
   (``CameraMode.SINGLE``, ``SIMPLE_RADIAL``: one focal length, principal point at the image
   centre, one radial distortion term; a known ``focal`` is given as the camera's prior and held
   fixed; ``PINHOLE``, separate ``fx`` and ``fy``, when the pixel aspect is estimated).
3. Matching suited to video (:mod:`raxel_core.pose.matching`: COLMAP's SIFT matching rule on exact nearest
   neighbours, where COLMAP's CPU matcher searches an approximate index): every frame against its ``overlap``
   successors (optionally the quadratic pairs ``i + 2^k`` instead, COLMAP's option: off by default, it made
   GLOMAP lose frames on 2 of the 15 RealEstate10K clips); loop detection off. Each pair is
   verified by COLMAP (fundamental / essential / homography RANSAC).
4. **Parallax test** on the widest verified pairs: a homography is fitted (``cv2.findHomography``,
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
      With non-square pixels (a given or estimated pixel aspect) the kept model gets a final bundle
      adjustment without distortion (:func:`raxel_core.pose.sfm.refine_without_distortion`: the
      ``SIMPLE_RADIAL`` camera becomes ``SIMPLE_PINHOLE``, Cauchy loss), so the focal length is not
      traded against ``k1`` (mean AUC@30 on the five squeezed RealEstate10K clips 96.8 -> 97.7).
   b. **Rotation only** (no parallax): rotations chained from the pairwise homographies with a
      focal length from the homographies' orthogonality (``K^-1 H K`` must be a rotation), then
      all rotations and the focal length refined jointly by robust least squares on the matched
      keypoints (``scipy.optimize.least_squares``, Huber loss, analytic sparse Jacobian: memory
      linear in the number of matches); every camera centre is zero. A
      clip whose background stays put (at least ``parallax.STATIC_MIN_STATIONARY_FRACTION`` of
      the matches on the widest pairs move less than ``parallax.STATIONARY_MAX_FRACTION`` of the
      frame size; moving objects are the rest) is ``method="static"``: the same solver runs on the
      stationary matches only, so it reports the (near-zero) rotations it measures; the focal
      length cannot be observed there and the prior is kept.

**Determinism.** The same frames and ``seed`` give bit-identical cameras in every run and process
(``tests/test_determinism.py``). What it took, with pycolmap 4.0 (measured on RealEstate10K clips, where
two runs without it differed by up to 0.07 in ``R`` and 0.26 px in ``K``):

* ``pycolmap.extract_features`` wrote each image to the database when its thread finished, so the image
  ids (which order the pairs in verification and mapping) changed from run to run: each frame's image row
  is written as it arrives, in frame order, then its OpenCV SIFT features, sorted by position (their order
  does not depend on OpenCV's thread count), in that order too.
* COLMAP's CPU SIFT matcher returned different matches for a few pairs now and then whenever two FAISS
  searches ran at once (2 of 700 repeats with two threads): the matching is raxel's own exact search under
  COLMAP's rule, whose distances are exact integers in float32 and so the same on any number of threads
  (:mod:`raxel_core.pose.matching`); the verification runs on every core (its RANSAC is seeded per pair).
* ``calibrate_view_graph`` (``ViewGraphCalibrationOptions.random_seed``) and the options nested in the
  mappers' options (rotation averaging, global positioning, retriangulation, triangulation) each have
  their own seed, ``-1`` (from the clock) by default: every one is set to ``seed``
  (:func:`raxel_core.pose.sfm.seed_options`).
* the mappers' Ceres solves (global positioning, bundle adjustment) sum in a thread-dependent order:
  their poses differed in the last bits (1e-14) with several threads; one thread
  (:data:`raxel_core.pose.sfm.MAPPING_THREADS`) makes them bit-identical.
* OpenCV's ``findHomography`` RANSAC (fixed internal seed) and the rotation-only solver (NumPy
  generator from ``seed``, SciPy ``least_squares``) are single-threaded and repeatable.

Only frames that the method actually registers get a pose; the others are listed in
:attr:`PoseEstimate.unregistered` and named in the messages. Poses are never interpolated.

Steps 2, 3 and 5a live in :mod:`raxel_core.pose.sfm` (3 runs in :mod:`raxel_core.pose.matching`), step 4
in :mod:`raxel_core.pose.parallax`, step 5b in :mod:`raxel_core.pose.rotation_only`; this module runs them
in order, with progress and cancellation.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from ..cameras import Cameras
from ..resources import check_memory
from .features import FeatureStream, work_focal
from .masks import MaskStream, frame_ranges, mask_image
from .parallax import has_parallax, is_static, parallax_statistics, widest_pairs
from .rotation_only import pinhole_intrinsics, solve_rotation_only
from .sfm import (
    CALIBRATION_REESTIMATE_RELATIVE_POSE,
    SIFT_BYTES_PER_PIXEL,
    map_frames,
    match_sequential,
    read_pairs,
    seed_options,
)

#: Fewest registered frames for a trajectory; fewer raise ``ValueError``.
MIN_REGISTERED_FRAMES = 2
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
    """An ``(N, H, W, 3)`` uint8 array of ``N >= 2`` frames; frame 0 gets :func:`_check_frame`'s checks
    (dtype, size), which the stream loop of :func:`stream_frames` then gives every frame."""
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().cpu().numpy()
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(
            f"frames must be an (N, H, W, 3) RGB array; got shape {frames.shape}. Read a video "
            "with raxel_core.video_io.read_frames"
        )
    if len(frames):
        _check_frame(frames[0], 0, None, what="frames")
    n = frames.shape[0]
    if n < MIN_REGISTERED_FRAMES:
        raise ValueError(
            f"camera trajectory estimation needs at least {MIN_REGISTERED_FRAMES} frames; got {n}. "
            "Give the whole clip (a video of several frames with some camera overlap)"
        )
    return frames


def _check_frame(frame, k: int, first_shape, what: str | None = None) -> np.ndarray:
    """One frame of a frame iterable: ``np.uint8 (H, W, 3)`` of the first frame's size; ``what`` names it
    in the errors (default ``frame k``)."""
    what = what or f"frame {k}"
    if isinstance(frame, torch.Tensor):
        frame = frame.detach().cpu().numpy()
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[-1] != 3:
        raise ValueError(
            f"frame {k} must be an (H, W, 3) RGB array; got shape {frame.shape}. Give (N, H, W, 3) "
            "frames or an iterable of (H, W, 3) frames (raxel_core.video_io.iter_frames)"
        )
    if frame.dtype != np.uint8:
        raise ValueError(
            f"{what} must be uint8 (0-255); got {frame.dtype}. Convert float images in [0, 1] "
            "with (x * 255).round().astype(np.uint8)"
        )
    if first_shape is not None and frame.shape != first_shape:
        raise ValueError(
            f"frame {k} is {frame.shape[1]}x{frame.shape[0]} but frame 0 is {first_shape[1]}x{first_shape[0]} "
            "(W x H); all frames of a clip must have one size"
        )
    if min(frame.shape[:2]) < 16:
        raise ValueError(f"frames of {frame.shape[1]}x{frame.shape[0]} pixels are too small for features")
    return frame


def work_size(input_size: tuple[int, int], max_image_size: int | None, pixel_aspect: float = 1.0):
    """``(H', W')`` of the frames features are extracted on: square pixels (a frame with pixel aspect
    ``fy / fx = a`` is stretched by ``a`` horizontally when ``a > 1``, by ``1 / a`` vertically when
    ``a < 1``: never shrunk to square them), then shrunk so that the longer side is at most
    ``max_image_size`` pixels (aspect kept, sides rounded)."""
    h, w = input_size
    h2, w2 = (h, w * pixel_aspect) if pixel_aspect >= 1 else (h / pixel_aspect, w)
    if max_image_size and max(h2, w2) > max_image_size:
        scale = max_image_size / max(h2, w2)
        h2, w2 = h2 * scale, w2 * scale
    return max(1, round(h2)), max(1, round(w2))


def frame_memory_bytes(input_size: tuple[int, int], max_image_size: int | None,
                       pixel_aspect: float | None = 1.0) -> int:
    """Bytes one frame takes at its peak in :func:`estimate_trajectory` (frames stream one at a time, so
    this does not grow with their count): the decoded frame (RGB 3 bytes / pixel, and the decoder's
    YUV 4:2:0 1.5 bytes / pixel) at ``input_size`` ``(H, W)``, its RGB copy at :func:`work_size`, and
    SIFT on that copy, :data:`raxel_core.pose.sfm.SIFT_BYTES_PER_PIXEL` (the extraction runs SIFT on several
    frames at once only as far as they fit: :func:`raxel_core.pose.sfm.sift_workers_that_fit`).
    ``pixel_aspect=None`` (estimated) counts as 1."""
    h, w = input_size
    wh, ww = work_size((h, w), max_image_size, 1.0 if pixel_aspect is None else float(pixel_aspect))
    return int(4.5 * h * w + (3 + SIFT_BYTES_PER_PIXEL) * wh * ww)


def check_frame_memory(input_size: tuple[int, int], max_image_size: int | None,
                       pixel_aspect: float | None = 1.0) -> None:
    """Refuse frames of ``input_size`` ``(H, W)`` whose :func:`frame_memory_bytes` exceed the memory limit
    (:func:`raxel_core.resources.check_memory`), before any frame is decoded.

    Raises:
        ValueError: ``"estimating cameras on WxH frames (features at W'xH') needs about X of memory, over
            the limit of Y (SOURCE); set max_image_size ...``.
    """
    h, w = input_size
    wh, ww = work_size((h, w), max_image_size, 1.0 if pixel_aspect is None else float(pixel_aspect))
    check_memory(frame_memory_bytes((h, w), max_image_size, pixel_aspect),
                 f"estimating cameras on {w}x{h} frames (features at {ww}x{wh})",
                 "set max_image_size (raxel pose --max-image-size), e.g. 1920, to extract features on smaller "
                 "frames, or give a smaller video")


def stream_frames(frames, features: FeatureStream, max_image_size: int | None, run=None,
                  pixel_aspect: float = 1.0, masks: MaskStream | None = None):
    """Hand frames one at a time to ``features`` (:class:`raxel_core.pose.features.FeatureStream`), each
    resampled first to :func:`work_size` (square pixels, longer side at most ``max_image_size``;
    ``cv2.resize``, ``INTER_AREA`` when shrinking, else ``INTER_LINEAR``), so that no more than one full-size
    frame is in memory when ``frames`` is an iterable.

    Args:
        frames: ``(N, H, W, 3)`` uint8 array / tensor, or an iterable of ``(H, W, 3)`` uint8 frames
            (e.g. the generator :func:`raxel_core.video_io.iter_frames`).
        features: gets ``begin(input size, work size)`` before the first frame, then ``add(k, frame, keep)``
            per frame.
        max_image_size: longer side of the resampled frames in pixels, or ``None`` (full size).
        run: polled for cancellation every frame (``InterruptedError``).
        pixel_aspect: ``fy / fx`` of the input frames' pixels (1: square).
        masks: the masks of the frames (:class:`raxel_core.pose.masks.MaskStream`), each resampled with its
            frame into a feature mask (:func:`raxel_core.pose.masks.mask_image`).

    Returns:
        ``(n, input_size (H, W), work_size (H', W'))``: frames taken, their size as given and as resampled.

    Raises:
        ValueError: bad frames (shape, dtype, size changes, fewer than 2); bad masks (size, count) or
            every frame entirely masked; frames of a size over the memory limit (:func:`check_frame_memory`,
            checked on the first frame, before its features).
    """
    if isinstance(frames, (np.ndarray, torch.Tensor)):
        frames = _check_frames(frames)
        if masks is not None:
            masks.check_count(len(frames))     # the count is known before any frame is taken
    if max_image_size is not None and (int(max_image_size) != max_image_size or max_image_size < 16):
        raise ValueError(f"max_image_size must be None or a whole number of pixels >= 16; got {max_image_size}")
    n, first_shape, size = 0, None, None
    for k, frame in enumerate(frames):
        frame = _check_frame(frame, k, first_shape)
        if first_shape is None:
            first_shape = frame.shape
            check_frame_memory(frame.shape[:2], max_image_size, pixel_aspect)
            size = work_size(frame.shape[:2], max_image_size, pixel_aspect)
            features.begin(first_shape[:2], size)
        if size != frame.shape[:2]:
            shrink = size[0] <= frame.shape[0] and size[1] <= frame.shape[1]
            frame = cv2.resize(frame, (size[1], size[0]), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        keep = mask_image(masks.next(k, first_shape[:2]), size) if masks is not None else None
        features.add(k, np.array(frame, order="C"), keep)  # a copy: a decoder may reuse its frame buffer
        n += 1
        if run is not None:
            run.check()
    if n < MIN_REGISTERED_FRAMES:
        raise ValueError(
            f"camera trajectory estimation needs at least {MIN_REGISTERED_FRAMES} frames; got {n}. "
            "Give the whole clip (a video of several frames with some camera overlap)"
        )
    if masks is not None:
        masks.finish(n)
        masks.check_not_all_masked()
    return n, tuple(first_shape[:2]), tuple(size)


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


def estimate_trajectory(
    frames,
    focal: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    max_image_size: int | None = None,
    fps: float | None = None,
    overlap: int = 7,
    quadratic_overlap: bool = False,
    max_num_features: int = 8192,
    mapper: str = "global",
    seed: int = 0,
    verbose: bool = False,
    pixel_aspect: float | None = 1.0,
    masks=None,
    num_threads: int | None = None,
) -> PoseEstimate:
    """Estimate the camera trajectory of a video (module docstring for the method and sources).

    Args:
        frames: ``(N, H, W, 3)`` uint8 RGB frames of one shot, ``N >= 2``, or an iterable of
            ``(H, W, 3)`` uint8 frames (e.g. :func:`raxel_core.video_io.iter_frames`, which decodes a
            video as a stream): each frame's features are extracted as it arrives, so a clip of any
            length is never held in memory (:func:`stream_frames`).
        focal: known focal length in pixels at the frame size (held fixed), or ``None`` to
            estimate it (one focal length shared by all frames).
        progress: called as ``progress(done, total)`` after each stage.
        should_stop: polled between stages; when it returns True, ``InterruptedError`` is raised.
        max_image_size: shrink each frame so that its longer side is at most this many pixels
            before features are extracted (faster on large video; the messages say so; poses and
            ``K`` stay at the input frame size).
        fps: frames per second stored on the returned cameras.
        overlap: sequential matching window (each frame against its ``overlap`` successors). 7: on the 15
            RealEstate10K clips mean AUC@30 96.35 at 7 and 96.31 at 5 (2.7 s faster in all), but 5 lost moving
            scenes: synthetic clips with boxes moving over 10 % and 30 % of the frame fell from AUC@30 99.9 and
            99.6 to 39.5 and 94.2 (``make_dynamic_clip`` seeds 2 and 1); 6 kept them (99.9, 99.8). With COLMAP's
            approximate matcher it was 96.3 at 7, 96.1 at 10 (COLMAP's default) and 96.2 at 5.
        quadratic_overlap: match each frame with frames ``i + 2^k`` (``k < overlap``) instead of its ``overlap``
            successors (COLMAP's option).
        max_num_features: SIFT features per frame.
        mapper: ``"global"`` (GLOMAP, then incremental for any frame left out) or
            ``"incremental"`` (COLMAP's incremental mapper only).
        seed: random seed of every random step (COLMAP's RANSAC, view-graph calibration and mappers,
            the rotation-only solver's match subsampling): the same frames and seed give
            bit-identical cameras (module docstring, *Determinism*).
        verbose: let COLMAP log to stderr.
        pixel_aspect: ``fy / fx`` of the frames' pixels when known (1: square). Frames squeezed
            from a 16:9 source to ``W x H`` without cropping (RealEstate10K's 384x256 clips) have
            ``(H / W) * 16 / 9`` (1.185). The frames are resampled to square pixels for features and
            mapping, and the returned ``K`` has ``fy = pixel_aspect * fx`` (``focal`` is ``fx``).
            ``None``: estimate it. The frames keep their pixels and the camera is COLMAP's ``PINHOLE``
            (separate ``fx``, ``fy``; principal point at the centre): the view-graph calibration gives
            one focal length, then the mappers' bundle adjustment refines ``fx`` and ``fy`` separately
            (Hartley & Zisserman, *Multiple View Geometry*, 2nd ed., Sec. 6.2.4: a finite camera with
            ``alpha_x != alpha_y``); the messages give the estimated ``fy / fx``. Needs parallax and an
            unknown ``focal``; without parallax (rotation-only, static) the aspect is not observable
            and square pixels are used, said in the messages. An estimate outside
            :data:`raxel_core.pose.sfm.ESTIMATED_ASPECT_RANGE` (0.5-2) is a failed one: square pixels again,
            said in the messages (never silently).
        masks: what to ignore (moving things), at the frames' size, 1 / True / white = ignore: an
            ``(N, H, W)`` array or tensor (ComfyUI ``MASK``: one per frame, or ``N = 1`` for every frame),
            or an iterable of ``(H, W)`` masks, one per frame (:mod:`raxel_core.pose.masks`). No feature
            is extracted inside a mask (COLMAP's mask files), so every method (SfM, rotation-only,
            static) sees only the rest; the messages give the masked share and any frame entirely
            masked (it gets no pose).
        num_threads: threads of the feature extraction and of the matching (``None``: every core); mapping
            uses one thread (*Determinism*), so this caps the estimate's threads (e.g. several videos at
            once, :func:`raxel_core.diffusion.prepare.prepare_dataset`). The result does not depend on it.

    Returns:
        :class:`PoseEstimate` (cameras of the registered frames, which frames, method, messages).

    Raises:
        ValueError: bad ``frames`` (shape, dtype, fewer than 2, a size over the memory limit:
            :func:`check_frame_memory`), bad ``focal``, bad ``masks`` (a mask of
            another size than the frames, another count, every frame entirely masked), or fewer than
            :data:`MIN_REGISTERED_FRAMES` frames registered (the message says what to try).
        InterruptedError: ``should_stop()`` returned True.
    """
    import pycolmap

    if focal is not None and not (np.isfinite(focal) and focal > 0):
        raise ValueError(f"focal must be a positive number of pixels or None; got {focal}")
    estimate_aspect = pixel_aspect is None
    if estimate_aspect:
        if focal is not None:
            raise ValueError("pixel_aspect=None (estimate fx and fy) needs an unknown focal; with a known focal "
                             "give the pixel aspect too (fy / fx; square pixels: 1)")
        pixel_aspect = 1.0
    if not (np.isfinite(pixel_aspect) and 0.25 <= pixel_aspect <= 4.0):
        raise ValueError(f"pixel_aspect (fy / fx) must be a number between 0.25 and 4; got {pixel_aspect}. "
                         "Square pixels: 1; frames squeezed from 16:9 to W x H: (H / W) * 16 / 9")
    pixel_aspect = float(pixel_aspect)
    if mapper not in ("global", "incremental"):
        raise ValueError(f"mapper must be 'global' or 'incremental'; got {mapper!r}")
    run = _Run(progress, should_stop, total=4)
    run.check()
    messages: list[str] = []
    old_level = pycolmap.logging.minloglevel
    if not verbose:
        pycolmap.logging.minloglevel = 2
    pycolmap.set_random_seed(seed)
    mask_stream = MaskStream(masks) if masks is not None else None
    workspace = Path(tempfile.mkdtemp(prefix="raxel_pose_"))
    try:
        image_dir, database = workspace / "images", workspace / "database.db"
        image_dir.mkdir()  # stays empty: the mappers' image folder (colour extraction finds no image)
        with FeatureStream(database, max_num_features, "PINHOLE" if estimate_aspect else "SIMPLE_RADIAL",
                           focal, num_threads) as features:
            n, input_size, image_size = stream_frames(frames, features, max_image_size, run, pixel_aspect,
                                                      mask_stream)
        if mask_stream is not None:
            messages.extend(mask_stream.messages())
        h, w = image_size
        # work in the (square) pixels of the resampled frames; K is scaled back to the input size at the end
        scale_x, scale_y = input_size[1] / w, input_size[0] / h
        if pixel_aspect != 1.0:
            messages.append(
                f"non-square pixels: fy/fx = {pixel_aspect:.4f} (given); frames resampled to square pixels "
                f"({input_size[1]}x{input_size[0]} -> {w}x{h}) for features and mapping, K at "
                f"{input_size[1]}x{input_size[0]} has fy = {pixel_aspect:.4f} fx"
            )
        elif image_size != input_size:
            messages.append(
                f"features on frames shrunk from {input_size[1]}x{input_size[0]} to {w}x{h} (max_image_size "
                f"{max_image_size}); K is given at {input_size[1]}x{input_size[0]}"
            )
        if focal is not None:
            focal = work_focal(focal, input_size, image_size)
        f_prior = float(focal) if focal is not None else DEFAULT_FOCAL_FACTOR * max(h, w)
        run.step("features")

        match_sequential(database, overlap, quadratic_overlap, seed, num_threads)
        run.step("matching")

        pairs = read_pairs(database)
        # the decision needs the widest pairs only; the rotation-only solver below needs every pair's homography
        stats = parallax_statistics(widest_pairs(pairs), image_size, num_threads)
        parallax, h_fraction = has_parallax(stats)
        static, stationary = is_static(stats)
        run.step("parallax_test")

        if static or not parallax:
            stats = parallax_statistics(pairs, image_size, num_threads)
            method = "static" if static else "rotation_only"
            messages.append(
                f"static camera: {100 * stationary:.0f}% of the matches on the widest frame pairs do "
                "not move (moving objects are the rest); solved rotations on the still background, "
                "every camera centre at the origin" if static else
                f"no parallax: a homography explains {100 * h_fraction:.0f}% of the matches on the "
                "widest frame pairs, so the camera only rotates (tripod pan / tilt); solved a "
                "rotation-only model with every camera centre at the origin"
            )
            if estimate_aspect:
                messages.append("pixel aspect not estimated: without parallax fx and fy cannot be told apart; "
                                "square pixels used (give pixel_aspect when known)")
            reg, Rs, f, _ = solve_rotation_only(
                pairs, stats, n, image_size, focal, f_prior, messages, static=static, seed=seed)
            if Rs is None or len(reg) < MIN_REGISTERED_FRAMES:
                raise_too_few(len(reg) if Rs is not None else 0, n, "rotation_only")
            K = pinhole_intrinsics(f, image_size)
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
                calibration = seed_options(pycolmap.ViewGraphCalibrationOptions(), seed)
                calibration.reestimate_relative_pose = CALIBRATION_REESTIMATE_RELATIVE_POSE
                ok = pycolmap.calibrate_view_graph(database, calibration)
                if not ok:
                    messages.append("view-graph focal self-calibration failed; mapping from the focal prior")
            reg, R, t, K, cam_meta, _ = map_frames(
                database, image_dir, workspace, mapper, focal, seed, n, messages, run,
                final_pinhole=estimate_aspect or pixel_aspect != 1.0)
            if len(reg) < MIN_REGISTERED_FRAMES:
                raise_too_few(len(reg), n, "sfm")
        run.step("mapping")
    finally:
        pycolmap.logging.minloglevel = old_level
        shutil.rmtree(workspace, ignore_errors=True)

    K = np.diag([scale_x, scale_y, 1.0]) @ K  # pixels of the written frames -> of the input frames
    registered = [False] * n
    for i in reg:
        registered[i] = True
    missing = [i for i in range(n) if not registered[i]]
    if missing:
        messages.append(
            f"{len(missing)} of {n} frames could not be registered and have no pose: frames "
            f"{frame_ranges(missing)} (too little overlap or texture, motion blur, or a cut)"
        )
    if estimate_aspect and method == "sfm" and "aspect_fallback" not in cam_meta:
        pixel_aspect = float(K[1, 1] / K[0, 0])
        messages.append(f"non-square pixels: fy/fx = {pixel_aspect:.4f} (estimated by bundle adjustment)")
    focal_text = f"{K[0, 0]:.1f} px" if pixel_aspect == 1.0 else f"fx {K[0, 0]:.1f} px, fy {K[1, 1]:.1f} px"
    messages.append(f"registered {len(reg)} of {n} frames ({method}), focal {focal_text}")
    cameras = Cameras(
        K=torch.as_tensor(np.repeat(K[None], len(reg), 0)),
        R=torch.as_tensor(R), t=torch.as_tensor(t), image_size=input_size, fps=fps,
    )
    cameras.metadata.update({
        "source": "raxel_core.pose.estimate_trajectory",
        "method": method, "frame_indices": list(reg), "camera": cam_meta, "pixel_aspect": pixel_aspect,
    })
    cameras.validate("estimated trajectory")
    return PoseEstimate(
        cameras=cameras, frame_indices=list(reg), registered=registered, num_frames=n,
        method=method, messages=messages, timings=run.timings,
    )


def raise_too_few(k: int, n: int, method: str):
    """Raise the ``ValueError`` for a run that registered only ``k`` of ``n`` frames by ``method``
    (fewer than :data:`MIN_REGISTERED_FRAMES`), saying what to try."""
    raise ValueError(
        f"only {k} of {n} frames could be registered ({method}); a trajectory needs at least "
        f"{MIN_REGISTERED_FRAMES}. Try: a clip with more frames and more overlap between them, a "
        "higher resolution (max_image_size=None), a shot with more texture and less motion blur, "
        "or pass the known focal length in pixels"
    )
