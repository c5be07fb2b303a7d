"""Structure from motion with pycolmap: image naming in the workspace, features and sequential
matching, the verified pairs read back from the COLMAP database, and the mappers.

Steps 2, 3 and 5a of :func:`raxel_core.pose.estimate.estimate_trajectory` (its module docstring
gives the method and sources): SIFT features of one image (OpenCV, in COLMAP's layout;
:mod:`raxel_core.pose.features` streams the frames' features into the database), sequential
matching verified by COLMAP, then global SfM (GLOMAP, Pan et al., ECCV 2024) and incremental SfM
(Schonberger & Frahm, CVPR 2016) when the global model leaves frames out.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .matching import match_and_verify, sequential_pairs

#: Threads of the mappers (:func:`map_frames`): 1. With several threads the poses differed from run
#: to run in the last bits (1e-14; the mappers' Ceres solves, global positioning and bundle adjustment,
#: sum in a thread-dependent order); with one thread they are bit-identical, and the mapping time was
#: unchanged (2.5 s for 25 frames at 576x320 on 2 cores).
MAPPING_THREADS = 1
#: OpenCV SIFT contrast threshold of :func:`sift_features`. COLMAP's default peak threshold (``0.02 / 3`` per
#: scale level) is OpenCV's 0.02; 0.0125 keeps more features, which the accuracy needed: mean AUC@30 on the 15
#: RealEstate10K clips 95.55 at 0.015, 94.06 at 0.03 (pycolmap's own SIFT: 95.63); see notes for 0.0125.
SIFT_CONTRAST_THRESHOLD = 0.0125
#: Pixels to add to OpenCV SIFT's keypoint coordinates for its first-octave upscaling bias (:func:`sift_features`).
OPENCV_UPSCALE_BIAS_PX = -0.25
#: RANSAC of COLMAP's two-view verification in :func:`match_sequential` (``TwoViewGeometryOptions.ransac``).
#: At least 10 trials, then COLMAP's adaptive stop (confidence 0.999, times its ``dyn_num_trials_multiplier`` 3):
#: video pairs have many inliers, and COLMAP's floor of 100 trials was most of the verification's time. On the 15
#: RealEstate10K clips: verification 5.8 CPU s against 9.9 at 100, mean AUC@30 96.35 against 96.20.
VERIFICATION_MIN_NUM_TRIALS = 10
VERIFICATION_CONFIDENCE = 0.999
VERIFICATION_DETECT_WATERMARK = True
#: Global mapper (GLOMAP) rounds of bundle adjustment and filtering (``GlobalMapperOptions.ba_num_iterations``)
#: and whether it re-triangulates and adjusts again at the end (``skip_retriangulation``).
GLOBAL_BA_NUM_ITERATIONS = 3
GLOBAL_SKIP_RETRIANGULATION = False
#: Whether the view-graph focal calibration (``pycolmap.calibrate_view_graph``) re-estimates every pair's
#: relative pose with the calibrated focal. Off: GLOMAP decomposes the pairs' geometry itself before rotation
#: averaging, and on the 15 RealEstate10K clips the re-estimation cost 3.2 CPU s (of 6) in the calibration and
#: 5 in mapping for a lower mean AUC@30 (96.14 without, 95.90 with).
CALIBRATION_REESTIMATE_RELATIVE_POSE = False
#: Tracks per frame that GLOMAP's global positioning and first bundle adjustments use
#: (``GlobalMapperOptions.keep_max_num_tracks`` = this x the frame count; the longest tracks are kept, and
#: retriangulation brings every match back before the final adjustment). Global positioning starts from
#: random points, so its cost grows with the tracks while a few hundred fix 15-25 cameras. 25: on the 15
#: RealEstate10K clips mapping took 11.4 CPU s against 22 with every track, mean AUC@30 96.2 either way; 15 was
#: cheaper (10.1 s) but on the half-moving clip of ``tests/test_tracks4d.py`` it gave SfM a start from which the
#: 4D solver fails (AUC@30 36 against 97.5 at 25 and 97.0 with every track).
GLOBAL_TRACKS_PER_FRAME = 25
#: Scale in pixels of the Cauchy loss of the final bundle adjustment without distortion
#: (:func:`refine_without_distortion`): residuals well above it (outlier matches) weigh little.
FINAL_BA_LOSS_SCALE_PX = 1.0
#: Peak memory of OpenCV's SIFT (:func:`sift_features`, first octave upsampled) per pixel of the frame it
#: runs on: 344 and 264 bytes measured (peak RSS growth, 8192 features) at 1920x1080 and 3840x2160; the
#: Gaussian and difference-of-Gaussian pyramids of the 2x upsampled float32 image alone are
#: 16 * (6 + 5) * 4 / 3 = 235.
SIFT_BYTES_PER_PIXEL = 300
#: Pixel aspects ``fy / fx`` an estimate may take (:func:`map_frames`); video pixels lie within it (square 1, 16:9
#: squeezed to 3:2 1.185, PAL widescreen 1.42, 2x anamorphic 2.0, NTSC 4:3 DV 0.91). An estimate outside it is a
#: failed estimate: the camera falls back to square pixels, said in the messages.
ESTIMATED_ASPECT_RANGE = (0.5, 2.0)


def image_name(i: int) -> str:
    """File name of frame ``i`` in the COLMAP workspace: ``"000012.png"`` (inverse of :func:`frame_of`)."""
    return f"{i:06d}.png"


def frame_of(name: str) -> int:
    """Frame index of a workspace image name (``"000012.png"`` -> 12; inverse of :func:`image_name`)."""
    return int(Path(name).stem)


def camera_from_colmap(camera) -> tuple[np.ndarray, dict]:
    """Pixel K (3, 3) and a parameter dict from a pycolmap camera (COLMAP pixels have the top-left
    corner at 0, as :mod:`raxel_core.cameras`)."""
    K = np.asarray(camera.calibration_matrix(), dtype=np.float64)
    return K, {"model": camera.model_name, "params": [float(v) for v in camera.params]}


def seed_options(options, seed: int, num_threads: int | None = None, depth: int = 6):
    """Set every ``random_seed`` field of a pycolmap options object and of the options nested in it
    (``GlobalPipelineOptions.mapper.rotation_averaging``, ``.global_positioning``, ``.retriangulation``,
    ``IncrementalPipelineOptions.triangulation``, ``TwoViewGeometryOptions.ransac`` ...) to ``seed``,
    and every ``num_threads`` field to ``num_threads`` unless it is ``None``; returns ``options``.

    pycolmap 4 keeps a separate seed in each nested options object and ``-1`` (the default) means
    "seed from the clock": setting only the outer ``random_seed`` leaves the others random."""
    for name in dir(options):
        if name.startswith("_"):
            continue
        if name == "random_seed":
            options.random_seed = int(seed)
            continue
        if name == "num_threads" and num_threads is not None:
            options.num_threads = int(num_threads)
            continue
        try:
            value = getattr(options, name)
        except Exception:  # noqa: BLE001 - some pybind properties raise when unset
            continue
        if depth > 0 and type(value).__name__.endswith("Options"):
            seed_options(value, seed, num_threads, depth - 1)
    return options


def sift_features(gray: np.ndarray, max_num_features: int, mask: np.ndarray | None = None):
    """SIFT keypoints and descriptors of one grey image in COLMAP's database layout.

    OpenCV's SIFT (``cv2.SIFT_create``: Lowe, IJCV 2004; the first octave upsampled, as COLMAP's
    default ``first_octave = -1``) with a contrast threshold of :data:`SIFT_CONTRAST_THRESHOLD`: the same
    kind and about the number of features of ``pycolmap.extract_features`` with its defaults (430 against
    369 per 384x256 RealEstate10K frame, 737 against 645 at 576x320) in less than half its CPU time
    (0.57 s against 1.29 s for 16 frames at 384x256, 1.57 s against 3.30 s for 25 at 576x320).

    Args:
        gray: ``(H, W)`` uint8.
        max_num_features: keep at most this many (the strongest).
        mask: optional ``(H, W)`` uint8, 0 = no features there (COLMAP's mask images; OpenCV's ``mask``).

    Returns:
        ``keypoints (M, 4)`` float32 ``x, y, scale, orientation (rad)`` with COLMAP's pixel convention
        (the centre of the top-left pixel at ``(0.5, 0.5)``): OpenCV's coordinates + 0.5 - 0.25. The 0.25 is
        the localisation bias of OpenCV's default first-octave upscaling (``enable_precise_upscale=False``:
        its keypoints sit 0.25 px down and right of COLMAP's SIFT's on the same image; measured on a fern
        photo, median offset exactly 0.25 px in x and y). The precise upscaling removes it but finds other
        features, so the features of the measured figures are kept and the shift is added.
        ``descriptors (M, 128)`` uint8 RootSIFT as COLMAP stores them (L1-normalised, square root,
        ``min(255, round(512 x))``: COLMAP's ``L1_ROOT`` normalisation). The keypoints are sorted by
        position, scale and orientation, so the order does not depend on OpenCV's thread count.
    """
    import cv2

    sift = cv2.SIFT_create(nfeatures=int(max_num_features), contrastThreshold=SIFT_CONTRAST_THRESHOLD)
    points, descriptors = sift.detectAndCompute(gray, mask)
    if not points:
        return np.zeros((0, 4), np.float32), np.zeros((0, 128), np.uint8)
    shift = 0.5 + OPENCV_UPSCALE_BIAS_PX
    kp = np.array([(p.pt[0] + shift, p.pt[1] + shift, p.size / 2, np.deg2rad(p.angle)) for p in points], np.float32)
    order = np.lexsort((kp[:, 3], kp[:, 2], kp[:, 0], kp[:, 1]))
    d = descriptors[order].astype(np.float64)
    d = np.sqrt(d / np.maximum(d.sum(axis=1, keepdims=True), 1e-12))
    return kp[order], np.minimum(255, np.round(512 * d)).astype(np.uint8)


def sift_workers_that_fit(image_size: tuple[int, int]) -> int:
    """How many images of ``image_size`` ``(H, W)`` SIFT may run on at once within the memory limit
    (:func:`raxel_core.resources.memory_limit_bytes`; :data:`SIFT_BYTES_PER_PIXEL` each), at least 1: the
    caller's per-frame check (:func:`raxel_core.pose.estimate.check_frame_memory`) refuses frames where even
    one does not fit. Fewer workers change the time only, never the features."""
    from ..resources import memory_limit_bytes

    limit, _ = memory_limit_bytes()
    if limit is None:
        return os.cpu_count() or 1
    return max(1, int(limit // (SIFT_BYTES_PER_PIXEL * image_size[0] * image_size[1])))


def match_sequential(database: Path, overlap: int, quadratic_overlap: bool, seed: int,
                     num_threads: int | None = None) -> None:
    """Match every frame against its ``overlap`` successors (or the quadratic pairs ``i + 2^k`` instead;
    COLMAP's sequential pairing, loop detection off) by COLMAP's SIFT matching rule on exact nearest neighbours,
    and verify each pair with COLMAP (RANSAC seeded with ``seed``): :func:`raxel_core.pose.matching.match_and_verify`,
    the verification on ``num_threads`` threads (``None``: every core) with the result of one thread."""
    import pycolmap

    with pycolmap.Database.open(str(database)) as db:
        names = sorted(im.name for im in db.read_all_images())
    verification = seed_options(pycolmap.TwoViewGeometryOptions(), seed)
    verification.ransac.min_num_trials = VERIFICATION_MIN_NUM_TRIALS
    verification.ransac.confidence = VERIFICATION_CONFIDENCE
    verification.detect_watermark = VERIFICATION_DETECT_WATERMARK
    pairs = [(names[i], names[j]) for i, j in sequential_pairs(len(names), overlap, quadratic_overlap)]
    match_and_verify(database, pairs, verification, workers=num_threads)


def read_pairs(database_path: Path):
    """Verified pairs from the COLMAP database: list of ``(i, j, x_i (M, 2), x_j (M, 2))`` with
    frame indices ``i < j`` and matched keypoint positions in pixels."""
    import pycolmap

    with pycolmap.Database.open(str(database_path)) as db:
        frame_by_id = {im.image_id: frame_of(im.name) for im in db.read_all_images()}
        keypoints = {iid: np.asarray(db.read_keypoints(iid))[:, :2].astype(np.float64) for iid in frame_by_id}
        pair_ids, geometries = db.read_two_view_geometries()
        pairs = []
        for pair_id, geometry in zip(pair_ids, geometries, strict=True):
            id1, id2 = pycolmap.pair_id_to_image_pair(pair_id)
            m = np.asarray(geometry.inlier_matches)
            if len(m) == 0:
                continue
            x1, x2 = keypoints[id1][m[:, 0]], keypoints[id2][m[:, 1]]
            i, j = frame_by_id[id1], frame_by_id[id2]
            if i > j:
                i, j, x1, x2 = j, i, x2, x1
            pairs.append((i, j, x1, x2))
    return pairs


def models_by_size(reconstructions):
    """The pycolmap reconstructions of a mapper (a dict), most registered images first."""
    models = sorted(reconstructions.values(), key=lambda r: r.num_reg_images(), reverse=True)
    return models


def poses_from_model(model):
    """``{frame index: (R (3, 3), t (3,))}`` world-to-camera poses of the posed images of a pycolmap
    reconstruction (COLMAP's ``cam_from_world`` is the OpenCV world-to-camera convention)."""
    poses = {}
    for image in model.images.values():
        if not image.has_pose:
            continue
        T = image.cam_from_world()
        poses[frame_of(image.name)] = (np.asarray(T.rotation.matrix()), np.asarray(T.translation))
    return poses


def refine_without_distortion(model, refine_focal: bool = True, square: bool = False) -> dict:
    """Final bundle adjustment of a pycolmap reconstruction with its shared camera made distortion-free.

    A ``SIMPLE_RADIAL`` camera becomes ``SIMPLE_PINHOLE`` (its ``k1`` dropped; focal and principal point
    kept as start values); a ``PINHOLE`` camera stays (with ``square``, it becomes ``SIMPLE_PINHOLE`` with the
    focal ``sqrt(fx fy)``: square pixels). Then ``pycolmap.bundle_adjustment`` refines every
    pose, every 3D point and (``refine_focal``) the focal length(s), principal point and distortion held
    (none left), with a Cauchy loss of scale :data:`FINAL_BA_LOSS_SCALE_PX` (robust to the matches the
    mappers kept as inliers at a few pixels) on one thread (bit-identical in every run).

    Why: on short, small-baseline clips the mappers' shared ``SIMPLE_RADIAL`` camera trades focal length
    against ``k1`` (the two change the image of a small field of view in nearly the same way), so the focal
    came out 3-8 % low on 4 of the 5 squeezed RealEstate10K clips; :class:`raxel_core.cameras.Cameras` is
    pinhole, so ``k1`` was dropped afterwards anyway. Mapping with ``SIMPLE_PINHOLE`` from the start lost
    frames (11 of 16 on one clip), so the distortion term is kept for mapping and removed only here.
    Bundle adjustment: Triggs et al., *Bundle Adjustment - A Modern Synthesis*, 1999; COLMAP's camera
    models and ``BundleAdjustmentOptions`` (Schonberger & Frahm, CVPR 2016).

    Args:
        model: ``pycolmap.Reconstruction`` with one camera; changed in place.
        refine_focal: refine the focal length(s) (False: a known focal stays fixed).
        square: make a ``PINHOLE`` camera square-pixelled (one focal length) first.

    Returns:
        ``{"model_before", "params_before", "model", "params"}`` of the camera (params as lists of floats).

    Raises:
        ValueError: a camera model other than ``SIMPLE_RADIAL`` / ``PINHOLE`` / ``SIMPLE_PINHOLE``.
    """
    import pycolmap

    camera_id = next(iter(model.cameras))
    camera = model.cameras[camera_id]
    before = {"model_before": camera.model_name, "params_before": [float(v) for v in camera.params]}
    if camera.model_name == "SIMPLE_RADIAL":
        f, cx, cy = (float(v) for v in camera.params[:3])
        camera.model = pycolmap.CameraModelId.SIMPLE_PINHOLE
        camera.params = [f, cx, cy]
        model.cameras[camera_id] = camera
    elif camera.model_name == "PINHOLE" and square:
        fx, fy, cx, cy = (float(v) for v in camera.params)
        camera.model = pycolmap.CameraModelId.SIMPLE_PINHOLE
        camera.params = [float(np.sqrt(fx * fy)), cx, cy]
        model.cameras[camera_id] = camera
    elif camera.model_name not in ("PINHOLE", "SIMPLE_PINHOLE"):
        raise ValueError(f"refine_without_distortion takes SIMPLE_RADIAL / PINHOLE cameras; got {camera.model_name}")
    options = pycolmap.BundleAdjustmentOptions()
    options.print_summary = False
    options.refine_focal_length = bool(refine_focal)
    options.refine_principal_point = False
    options.refine_extra_params = False
    options.ceres.loss_function_type = pycolmap.LossFunctionType.CAUCHY
    options.ceres.loss_function_scale = FINAL_BA_LOSS_SCALE_PX
    options.ceres.solver_options.num_threads = MAPPING_THREADS
    pycolmap.bundle_adjustment(model, options)
    camera = model.cameras[camera_id]
    return {**before, "model": camera.model_name, "params": [float(v) for v in camera.params]}


def map_frames(database, image_dir, workspace, mapper, focal, seed, n, messages, run, final_pinhole=False):
    """Run the mappers (global, then incremental when frames are left out; or incremental only);
    keep the model with the most registered frames; with ``final_pinhole``, adjust it once more without
    distortion (:func:`refine_without_distortion`; the focal stays fixed when ``focal`` is given). An estimated
    pixel aspect (a ``PINHOLE`` camera) outside :data:`ESTIMATED_ASPECT_RANGE` is rejected: the model is adjusted
    again with square pixels, said in the messages and in the camera dict (``"aspect_fallback"``).

    Returns ``(registered frames, R (M, 3, 3), t (M, 3), K (3, 3), camera dict, number of models)``;
    ``([], None, None, None, None, 0)`` when no model was built. ``run.check()`` is polled between
    the mappers (``InterruptedError`` on cancel)."""
    import pycolmap

    candidates = []
    if mapper == "global":
        options = seed_options(pycolmap.GlobalPipelineOptions(), seed, num_threads=MAPPING_THREADS)
        options.mapper.ba_num_iterations = GLOBAL_BA_NUM_ITERATIONS
        options.mapper.skip_retriangulation = GLOBAL_SKIP_RETRIANGULATION
        options.mapper.keep_max_num_tracks = GLOBAL_TRACKS_PER_FRAME * n
        if focal is not None:
            options.mapper.bundle_adjustment.refine_focal_length = False
            options.mapper.bundle_adjustment.refine_extra_params = False
        out = workspace / "global"
        out.mkdir()
        models = models_by_size(pycolmap.global_mapping(database, image_dir, out, options))
        if models:
            candidates.append(("global", models))
        run.check()
    if not candidates or candidates[0][1][0].num_reg_images() < n:
        options = seed_options(pycolmap.IncrementalPipelineOptions(), seed, num_threads=MAPPING_THREADS)
        options.extract_colors = False
        options.mapper.init_min_tri_angle = 4.0  # video: small baselines between nearby frames
        if focal is not None:
            options.ba_refine_focal_length = False
            options.ba_refine_extra_params = False
        out = workspace / "incremental"
        out.mkdir()
        models = models_by_size(pycolmap.incremental_mapping(database, image_dir, out, options))
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
    final = refine_without_distortion(best, refine_focal=focal is None) if final_pinhole else None
    fallback = None
    if final is not None and final["model"] == "PINHOLE":
        aspect, (low, high) = final["params"][1] / final["params"][0], ESTIMATED_ASPECT_RANGE
        if not low <= aspect <= high:
            fallback = aspect
            refine_without_distortion(best, refine_focal=focal is None, square=True)
            messages.append(f"estimated pixel aspect fy/fx = {aspect:.4f} is outside {low:g}-{high:g} (no video "
                            "has such pixels: the estimate failed); fell back to square pixels (one focal length, "
                            "adjusted again). Give pixel_aspect when it is known")
    poses = poses_from_model(best)
    reg = sorted(poses)
    R = np.stack([poses[i][0] for i in reg]) if reg else None
    t = np.stack([poses[i][1] for i in reg]) if reg else None
    camera = best.cameras[next(iter(best.cameras))]
    K, cam_meta = camera_from_colmap(camera)
    cam_meta["mapper"] = name
    if fallback is not None:
        cam_meta["aspect_fallback"] = {"estimated": fallback, "range": list(ESTIMATED_ASPECT_RANGE)}
    if final is not None:
        cam_meta["mapped_as"] = {"model": final["model_before"], "params": final["params_before"]}
        was = final["params_before"]
        mapped = (f"focal {was[0]:.1f} px, k1 = {was[3]:.4f}" if final["model_before"] == "SIMPLE_RADIAL"
                  else f"fx {was[0]:.1f} px, fy {was[1]:.1f} px")
        messages.append(f"{name} SfM mapped with {final['model_before']} ({mapped}); final bundle adjustment "
                        f"without distortion ({final['model']}, Cauchy loss {FINAL_BA_LOSS_SCALE_PX:g} px)")
    if cam_meta["model"] == "SIMPLE_RADIAL":
        messages.append(f"{name} SfM: focal {camera.params[0]:.1f} px, radial distortion k1 = "
                        f"{camera.params[3]:.4f} (dropped: Cameras is pinhole)")
    elif cam_meta["model"] == "PINHOLE":
        messages.append(f"{name} SfM: fx {camera.params[0]:.1f} px, fy {camera.params[1]:.1f} px")
    elif cam_meta["model"] == "SIMPLE_PINHOLE":
        messages.append(f"{name} SfM: focal {camera.params[0]:.1f} px")
    return reg, R, t, K, cam_meta, len(models)
