"""Structure from motion with pycolmap: image naming in the workspace, features and sequential
matching, the verified pairs read back from the COLMAP database, and the mappers.

Steps 2, 3 and 5a of :func:`raxel_core.pose.estimate.estimate_trajectory` (its module docstring
gives the method and sources): SIFT features with one shared ``SIMPLE_RADIAL`` camera, sequential
matching verified by COLMAP, then global SfM (GLOMAP, Pan et al., ECCV 2024) and incremental SfM
(Schonberger & Frahm, CVPR 2016) when the global model leaves frames out.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

#: Threads of the CPU SIFT matcher (:func:`match_sequential`): 1, the only count that gave the same
#: matches in every run (see there).
MATCHING_THREADS = 1
#: Threads of the mappers (:func:`map_frames`): 1. With several threads the poses differed from run
#: to run in the last bits (1e-14; the mappers' Ceres solves, global positioning and bundle adjustment,
#: sum in a thread-dependent order); with one thread they are bit-identical, and the mapping time was
#: unchanged (2.5 s for 25 frames at 576x320 on 2 cores).
MAPPING_THREADS = 1


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


def extract_features(database: Path, image_dir: Path, image_size: tuple[int, int], focal: float | None,
                     max_num_features: int, max_image_size: int | None, mask_dir: Path | None = None,
                     num_threads: int | None = None) -> None:
    """SIFT features of every image in ``image_dir`` into the COLMAP ``database``
    (``pycolmap.extract_features``), one shared ``SIMPLE_RADIAL`` camera for the clip; a known
    ``focal`` (pixels at ``image_size = (H, W)``) is the camera's prior, principal point centred.

    Deterministic: the images are first imported in name order (``pycolmap.import_images``), so
    image ``k`` of the sorted names has database id ``k + 1``. ``extract_features`` alone writes each
    image when its extraction thread finishes, so the ids (and with them the pair order of matching,
    verification and mapping) changed from run to run; the SIFT features themselves are the same for
    any thread count, so extraction keeps all threads.

    ``mask_dir``: COLMAP mask images (``ImageReaderOptions.mask_path``; for image ``NAME`` the file
    ``NAME.png``, black = no features there), written by :func:`raxel_core.pose.masks.write_mask`.
    ``num_threads``: extraction threads (``None``: COLMAP's default, every core)."""
    import pycolmap

    h, w = image_size
    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = "SIMPLE_RADIAL"
    if focal is not None:
        reader.camera_params = f"{float(focal)},{w / 2},{h / 2},0"
    if mask_dir is not None:
        reader.mask_path = str(mask_dir)
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.sift.max_num_features = int(max_num_features)
    if max_image_size:
        extraction.max_image_size = int(max_image_size)
    if num_threads is not None:
        extraction.num_threads = int(num_threads)
    pycolmap.Database.open(str(database)).close()
    pycolmap.import_images(database, image_dir, camera_mode=pycolmap.CameraMode.SINGLE, options=reader)
    pycolmap.extract_features(
        database, image_dir, camera_mode=pycolmap.CameraMode.SINGLE,
        reader_options=reader, extraction_options=extraction,
    )


def match_sequential(database: Path, overlap: int, quadratic_overlap: bool, seed: int) -> None:
    """Match every frame against its ``overlap`` successors (``pycolmap.match_sequential``, loop
    detection off, optionally the quadratic pairs ``i + 2^k``); COLMAP verifies each pair
    (RANSAC seeded with ``seed``).

    One matching thread: with several, the default CPU SIFT matcher of pycolmap 4 (not
    ``sift.cpu_brute_force_matcher``) returned different matches for a few pairs from run to run
    (2 of 150 pairs in 1 run of 3 on a RealEstate10K clip); with one thread, or with the brute-force
    matcher, the matches were the same in every run (4 of 4). One thread costs little here
    (sequential matching of 16-25 small frames: 0.4-0.8 s either way on 2 cores); the brute-force
    matcher is about 3 times slower."""
    import pycolmap

    pairing = pycolmap.SequentialPairingOptions()
    pairing.overlap = int(overlap)
    pairing.quadratic_overlap = quadratic_overlap
    pairing.loop_detection = False
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = MATCHING_THREADS
    verification = seed_options(pycolmap.TwoViewGeometryOptions(), seed)
    pycolmap.match_sequential(database, matching_options=matching, pairing_options=pairing,
                              verification_options=verification)


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


def map_frames(database, image_dir, workspace, mapper, focal, seed, n, messages, run):
    """Run the mappers (global, then incremental when frames are left out; or incremental only);
    keep the model with the most registered frames.

    Returns ``(registered frames, R (M, 3, 3), t (M, 3), K (3, 3), camera dict, number of models)``;
    ``([], None, None, None, None, 0)`` when no model was built. ``run.check()`` is polled between
    the mappers (``InterruptedError`` on cancel)."""
    import pycolmap

    candidates = []
    if mapper == "global":
        options = seed_options(pycolmap.GlobalPipelineOptions(), seed, num_threads=MAPPING_THREADS)
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
    poses = poses_from_model(best)
    reg = sorted(poses)
    R = np.stack([poses[i][0] for i in reg]) if reg else None
    t = np.stack([poses[i][1] for i in reg]) if reg else None
    camera = best.cameras[next(iter(best.cameras))]
    K, cam_meta = camera_from_colmap(camera)
    cam_meta["mapper"] = name
    if cam_meta["model"] == "SIMPLE_RADIAL":
        messages.append(f"{name} SfM: focal {camera.params[0]:.1f} px, radial distortion k1 = "
                        f"{camera.params[3]:.4f} (dropped: Cameras is pinhole)")
    return reg, R, t, K, cam_meta, len(models)
