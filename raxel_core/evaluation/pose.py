"""Evaluation of camera-trajectory estimation on real clips with ground truth (RealEstate10K layout).

Layout: ``video_dir/<stem>.mp4`` and ``pose_dir/<stem>.txt`` (RealEstate10K camera files; line
``k + 1`` is frame ``k``). Ground truth is read by :func:`read_reference`: the clips were resized from
the 16:9 source **without cropping** (``../shared/data/README.md``), so ``fx = fx_n * W``, ``fy = fy_n * H``
at the clip's own size (non-square pixels on the 384x256 clips); errors come from
:func:`raxel_core.evaluation.metrics.trajectory_metrics` on the registered frames
(ATE after Sim(3) alignment, RPE, RRA@15 / RTA@15, AUC@30, CamI2V RotErr / TransErr).

Two estimators run on the same decoded frames in the same process, each timed end to end:

* ``"raxel"``: :func:`raxel_core.pose.estimate_trajectory` with its defaults (unknown
  focal length: the ground-truth focal is never passed). Deterministic for a given ``seed``: two
  runs give bit-identical cameras (``tests/test_pose_determinism.py``).
* ``"colmap_default"``: the baseline, pycolmap's default pipeline: ``extract_features``,
  ``match_exhaustive`` and ``incremental_mapping`` with default options, largest model kept.
  Its defaults seed RANSAC and the mapper from the clock and use every thread, so its figures move
  from run to run.

:func:`evaluate_repeats` runs the whole evaluation several times and :func:`spread` gives each
aggregate figure's mean and range over the runs (``raxel eval-pose --repeats N``).
"""
from __future__ import annotations

import math
import resource
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from ..cameras import Cameras
from ..pose import (
    PoseEstimate,
    estimate_trajectory,
    frame_of,
    image_name,
    raise_too_few,
)
from .tables import format_pose_row

ESTIMATORS = ("raxel", "colmap_default")


def cpu_seconds() -> float:
    """CPU seconds used so far by this process (every thread) and its waited-for children, user + system
    (``resource.getrusage``). The difference around a run is its CPU time: unlike wall time, it is not
    stretched by other programs on a shared machine (a multi-threaded run counts every thread's time)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def colmap_default_trajectory(frames: np.ndarray, fps: float | None = None) -> PoseEstimate:
    """The baseline: pycolmap's default incremental SfM with exhaustive matching.

    ``pycolmap.extract_features`` (default options, default camera mode), ``match_exhaustive``,
    ``incremental_mapping`` (Schonberger & Frahm, CVPR 2016), all with default options, in a
    temporary folder; the model with the most registered frames is kept.

    Args:
        frames: ``(N, H, W, 3)`` uint8 RGB.
        fps: stored on the cameras.

    Returns:
        :class:`PoseEstimate` with ``method="colmap_default"``; per-image ``K`` from COLMAP.

    Raises:
        ValueError: fewer than 2 frames registered.
    """
    import pycolmap

    frames = np.asarray(frames)
    n, h, w = frames.shape[:3]
    workspace = Path(tempfile.mkdtemp(prefix="raxel_colmap_"))
    old_level = pycolmap.logging.minloglevel
    pycolmap.logging.minloglevel = 2
    t0 = time.perf_counter()
    try:
        image_dir, database = workspace / "images", workspace / "database.db"
        image_dir.mkdir()
        for i, frame in enumerate(frames):
            cv2.imwrite(str(image_dir / image_name(i)), np.ascontiguousarray(frame[..., ::-1]))
        pycolmap.extract_features(database, image_dir)
        pycolmap.match_exhaustive(database)
        (workspace / "sparse").mkdir()
        models = pycolmap.incremental_mapping(database, image_dir, workspace / "sparse")
    finally:
        pycolmap.logging.minloglevel = old_level
        shutil.rmtree(workspace, ignore_errors=True)
    best = max(models.values(), key=lambda r: r.num_reg_images()) if models else None
    poses = {}
    if best is not None:
        for image in best.images.values():
            if image.has_pose:
                T = image.cam_from_world()
                poses[frame_of(image.name)] = (
                    np.asarray(T.rotation.matrix()), np.asarray(T.translation),
                    np.asarray(image.camera.calibration_matrix()),
                )
    reg = sorted(poses)
    if len(reg) < 2:
        raise_too_few(len(reg), n, "colmap_default")
    cameras = Cameras(
        K=torch.as_tensor(np.stack([poses[i][2] for i in reg])),
        R=torch.as_tensor(np.stack([poses[i][0] for i in reg])),
        t=torch.as_tensor(np.stack([poses[i][1] for i in reg])),
        image_size=(h, w), fps=fps,
    )
    registered = [i in poses for i in range(n)]
    return PoseEstimate(
        cameras=cameras, frame_indices=reg, registered=registered, num_frames=n,
        method="colmap_default", messages=[f"{len(models)} models; kept the largest"],
        timings={"total": time.perf_counter() - t0},
    )


def read_reference(pose_path, image_size) -> Cameras:
    """Ground truth of a clip: :func:`raxel_core.formats.realestate10k.read_realestate10k` at the clip's size
    ``(H, W)`` with the source aspect equal to the clip's own (a resize without a crop, as CameraCtrl made
    these clips): ``fx = fx_n * W``, ``fy = fy_n * H``, ``(cx, cy) = (W / 2, H / 2)``. On the 384x256 clips
    (squeezed from 16:9) that is ``fy / fx = 1.185``; reading them with ``source_aspect=16/9`` (a centre
    crop) gave ``fx = fy = fx_n * 455`` px, 18.5 % too large in ``x``."""
    from ..formats.realestate10k import read_realestate10k

    return read_realestate10k(pose_path, image_size=tuple(image_size))


def evaluate_clip(frames: np.ndarray, reference: Cameras, estimator: str = "raxel", **kwargs) -> dict:
    """Run one estimator on ``frames`` and score it against ``reference`` (same frame count).

    Returns a flat dict: ``estimator, num_frames, registered``, ``focal_px`` / ``focal_y_px`` (mean ``fx``,
    ``fy``) and ``focal_x_err`` / ``focal_y_err`` (relative to ``reference``'s), ``time_s`` (wall seconds),
    ``cpu_s`` (CPU seconds of the process and its children, every thread: :func:`cpu_seconds`), ``method``
    plus every key of
    :func:`raxel_core.evaluation.metrics.trajectory_metrics` on the registered frames, or ``error`` (the
    estimator's message) when it raised ``ValueError``.
    """
    from .metrics import trajectory_metrics

    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}; got {estimator!r}")
    reference.check_frame_count(len(frames), "the clip")
    out: dict = {"estimator": estimator, "num_frames": len(frames)}
    t0, c0 = time.perf_counter(), cpu_seconds()
    try:
        if estimator == "raxel":
            est = estimate_trajectory(frames, **kwargs)
        else:
            est = colmap_default_trajectory(frames)
    except ValueError as err:
        out.update({"time_s": time.perf_counter() - t0, "cpu_s": cpu_seconds() - c0, "registered": 0,
                    "error": str(err), "method": "failed"})
        return out
    out.update({"time_s": time.perf_counter() - t0, "cpu_s": cpu_seconds() - c0,
                "registered": len(est.frame_indices), "method": est.method,
                "focal_px": float(est.cameras.fx.mean()), "focal_y_px": float(est.cameras.fy.mean()),
                "focal_x_err": float(est.cameras.fx.mean() / reference.fx.mean() - 1),
                "focal_y_err": float(est.cameras.fy.mean() / reference.fy.mean() - 1)})
    metrics = trajectory_metrics(est.cameras, reference[est.frame_indices])
    metrics.pop("num_frames", None)
    out.update(metrics)
    return out


def clip_pairs(video_dir, pose_dir, stems=None) -> list[Path]:
    """The ``VIDEO_DIR/<stem>.mp4`` that have a ``POSE_DIR/<stem>.txt`` (only ``stems`` when given), sorted.

    Raises:
        ValueError: a folder is missing, or no video has its pose file.
    """
    video_dir, pose_dir = Path(video_dir), Path(pose_dir)
    for folder, what in ((video_dir, "video"), (pose_dir, "pose")):
        if not folder.is_dir():
            raise ValueError(f"the {what} folder {folder} does not exist; give VIDEO_DIR POSE_DIR "
                             "(RealEstate10K layout: <stem>.mp4 and <stem>.txt)")
    videos = sorted(p for p in video_dir.glob("*.mp4") if (pose_dir / f"{p.stem}.txt").exists())
    if stems is not None:
        videos = [p for p in videos if p.stem in set(stems)]
    if not videos:
        raise ValueError(
            f"no clip with ground truth: expected {video_dir}/<stem>.mp4 beside {pose_dir}/<stem>.txt"
        )
    return videos


def evaluate_clips(video_dir, pose_dir, estimators=ESTIMATORS, stems=None, log=None, source_aspect=None,
                   **kwargs) -> list[dict]:
    """Evaluate estimators on every ``<stem>.mp4`` of ``video_dir`` that has ``pose_dir/<stem>.txt``.

    Args:
        video_dir, pose_dir: the RealEstate10K layout described in the module docstring.
        estimators: a name or a sequence of names from :data:`ESTIMATORS`.
        stems: restrict to these clip names (default: all, sorted).
        log: optional ``callable(str)`` called with a line per finished run.
        source_aspect: when given (e.g. ``16 / 9``), the clips are taken as squeezed from a source of
            this width / height without cropping, and raxel's estimator gets each clip's pixel aspect
            ``fy / fx = (H / W) * source_aspect`` (``estimate_trajectory(pixel_aspect=...)``; 1.185 for
            RealEstate10K's 384x256 clips). The baseline gets nothing (its default pipeline).
        **kwargs: passed to :func:`estimate_trajectory` for ``"raxel"``.

    Returns:
        one dict per (clip, estimator) as :func:`evaluate_clip`, with ``clip`` added.

    Raises:
        ValueError: no clip with ground truth found.
    """
    from ..video_io import read_video_frames

    video_dir, pose_dir = Path(video_dir), Path(pose_dir)
    if isinstance(estimators, str):
        estimators = (estimators,)
    videos = clip_pairs(video_dir, pose_dir, stems)
    results = []
    for video in videos:
        frames = read_video_frames(video)
        h, w = frames.shape[1:3]
        reference = read_reference(pose_dir / f"{video.stem}.txt", (h, w))
        reference = reference[: len(frames)] if len(reference) > len(frames) else reference
        for name in estimators:
            options = dict(kwargs)
            if source_aspect is not None:
                options["pixel_aspect"] = h / w * float(source_aspect)
            r = evaluate_clip(frames, reference, name, **(options if name == "raxel" else {}))
            r["clip"] = video.stem
            results.append(r)
            if log is not None:
                log(format_pose_row(r))
    return results


def aggregate(results: list[dict]) -> dict:
    """Per estimator: clips, complete clips (every frame registered), failures, frames registered,
    total wall time and CPU time, mean / median AUC@30 over the scored clips, mean AUC@30 counting failed and
    partial clips as 0, mean RRA / RTA, median RotErr (deg) / TransErr / ATE."""
    out = {}
    for name in dict.fromkeys(r["estimator"] for r in results):
        rs = [r for r in results if r["estimator"] == name]
        scored = [r for r in rs if "auc30" in r]

        def mean(key, rows=scored):
            v = [r[key] for r in rows if not math.isnan(r.get(key, math.nan))]
            return float(np.mean(v)) if v else math.nan

        def median(key, rows=scored):
            v = [r[key] for r in rows if not math.isnan(r.get(key, math.nan))]
            return float(np.median(v)) if v else math.nan

        out[name] = {
            "clips": len(rs),
            "complete": sum(r["registered"] == r["num_frames"] for r in rs),
            "failed": sum("error" in r for r in rs),
            "frames_registered": sum(r["registered"] for r in rs),
            "frames": sum(r["num_frames"] for r in rs),
            "time_s": float(sum(r["time_s"] for r in rs)),
            "cpu_s": float(sum(r.get("cpu_s", math.nan) for r in rs)),
            "auc30_mean": mean("auc30"),
            "auc30_median": median("auc30"),
            "auc30_mean_strict": float(np.mean([
                r["auc30"] if "auc30" in r and r["registered"] == r["num_frames"] else 0.0 for r in rs])),
            "rra_mean": mean("rra"),
            "rta_mean": mean("rta"),
            "rot_err_deg_median": median("rot_err_deg"),
            "trans_err_median": median("trans_err"),
            "ate_rmse_median": median("ate_rmse"),
        }
    return out


#: The aggregate figures of :func:`aggregate` whose spread over repeated runs :func:`spread` reports.
SPREAD_FIGURES = ("auc30_mean", "auc30_median", "auc30_mean_strict", "rra_mean", "rta_mean",
                  "rot_err_deg_median", "trans_err_median", "ate_rmse_median", "frames_registered", "time_s", "cpu_s")


def evaluate_repeats(video_dir, pose_dir, estimators=ESTIMATORS, repeats: int = 3, stems=None, log=None,
                     **kwargs) -> list[list[dict]]:
    """Run :func:`evaluate_clips` ``repeats`` times on the same clips (same ``kwargs``, so the same
    ``seed`` for ``"raxel"``); returns one result list per run, for :func:`spread`.

    Raises:
        ValueError: ``repeats < 1``, or as :func:`evaluate_clips`.
    """
    if int(repeats) < 1:
        raise ValueError(f"repeats must be at least 1; got {repeats}")
    runs = []
    for k in range(int(repeats)):
        if log is not None:
            log(f"run {k + 1} of {repeats}")
        runs.append(evaluate_clips(video_dir, pose_dir, estimators, stems=stems, log=log, **kwargs))
    return runs


def spread(runs: list[list[dict]]) -> dict:
    """Mean and range of each figure of :data:`SPREAD_FIGURES` over repeated runs.

    Args:
        runs: result lists of :func:`evaluate_clips` on the same clips (e.g. :func:`evaluate_repeats`).

    Returns:
        ``{estimator: {figure: {"mean", "min", "max", "range"}, "runs": R, "identical_clips": C,
        "clips": N}}``; NaN figures are left out of the statistics (all NaN: NaN). ``identical_clips``
        counts the clips whose scored metrics (everything but the time) are equal in every run.
    """
    aggregates = [aggregate(results) for results in runs]
    out: dict = {}
    for name in dict.fromkeys(n for agg in aggregates for n in agg):
        figures: dict = {"runs": len(runs)}
        for key in SPREAD_FIGURES:
            values = [float(agg[name][key]) for agg in aggregates if name in agg]
            values = [v for v in values if not math.isnan(v)]
            if values:
                figures[key] = {"mean": float(np.mean(values)), "min": min(values), "max": max(values),
                                "range": max(values) - min(values)}
            else:
                figures[key] = {"mean": math.nan, "min": math.nan, "max": math.nan, "range": math.nan}
        per_clip: dict = {}
        for results in runs:
            for r in results:
                if r["estimator"] == name:
                    scored = {k: v for k, v in r.items() if k not in ("time_s", "cpu_s")}
                    per_clip.setdefault(r["clip"], []).append(json_safe(scored))
        figures["clips"] = len(per_clip)
        figures["identical_clips"] = sum(all(v == rows[0] for v in rows) for rows in per_clip.values())
        out[name] = figures
    return out


def json_safe(value):
    """``value`` with NaN floats as ``None`` and non-JSON leaves as ``str`` (dicts and lists walked)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(x) for k, x in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(x) for x in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def results_to_json(results: list[dict]) -> dict:
    """One JSON-safe object: ``{"results": per-clip dicts, "aggregate": aggregate(results)}``
    (NaN becomes ``null``)."""
    return json_safe({"results": results, "aggregate": aggregate(results)})


def repeats_to_json(runs: list[list[dict]]) -> dict:
    """One JSON-safe object for repeated runs: ``{"runs": [results_to_json(run) ...], "spread": spread(runs)}``."""
    return json_safe({"runs": [results_to_json(results) for results in runs], "spread": spread(runs)})
