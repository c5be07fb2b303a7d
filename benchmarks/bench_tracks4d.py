"""Dynamic scenes: the 4D solver from point tracks (``raxel_core.tracks4d``) beside the SfM estimator
(``raxel_core.pose.estimate_trajectory``) on the same clips, in one run.

    python benchmarks/bench_tracks4d.py                 # synthetic table + real static clips
    python benchmarks/bench_tracks4d.py --seeds 0 1 2 --frames 16 --size 128x192 --no-real

Synthetic clips (:func:`raxel_core.synthetic.dynamic.make_dynamic_clip`): the room of ``raxel demo``
with textured boxes moving on curved paths while the camera trucks and pans, at moving fractions 0,
10, 30, 40 and 50 % of the frame (measured share printed). Per clip:

* **SfM**: ``estimate_trajectory`` on the rendered frames (a clip it cannot register fully counts
  AUC@30 0 and has no ATE; the count is printed).
* **4D (exact tracks)**: ``solve_tracks4d`` on exact tracks of the renderer (+0.3 px Gaussian noise),
  started from the SfM result when SfM registered every frame.
* **4D (LK tracks)**: the same on ``track_points`` tracks of the rendered video (the real path).

Columns: camera AUC@30 (VGGT protocol) and ATE (Sim(3)-aligned RMSE of camera centres, in units of
the room, which is 6 x 3 x 7), mean over the seeds; 3D point error: RMSE of the per-frame 3D points
of the exact tracks after a Sim(3) fit (Umeyama) of the static tracks' points to the exact ones, in
room units, for static and for moving tracks; and
how well the dynamic score ranks moving above static tracks (ROC AUC, %).

Real clips: RealEstate10K (``../shared/data/re10k``, 16-frame 384x256, pixel aspect 1.185): SfM
and the 4D solver (LK tracks, started from SfM) against the released poses, and their agreement
(median rotation difference); ``static_camera/tree.avi`` (a still camera, moving objects): the 4D
solver's largest rotation and camera travel relative to the median scene depth.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from raxel_core.evaluation.metrics import trajectory_metrics  # noqa: E402
from raxel_core.geometry.alignment import umeyama_alignment  # noqa: E402
from raxel_core.geometry.rotations import rotation_angle_deg, rotation_error_deg  # noqa: E402
from raxel_core.interop import Tracks2D  # noqa: E402
from raxel_core.pose import estimate_trajectory  # noqa: E402
from raxel_core.synthetic.dynamic import exact_tracks, make_dynamic_clip  # noqa: E402
from raxel_core.tracks import TrackerSettings, track_points  # noqa: E402
from raxel_core.tracks4d import solve_tracks4d  # noqa: E402

DATA = Path(os.environ.get("RAXEL_SHARED_DATA", ROOT.parent / "shared" / "data"))


def ranking_auc(score: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC in % of ``score`` separating ``positive`` from the rest (Mann-Whitney U)."""
    pos, neg = score[positive], score[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    ranks = np.argsort(np.argsort(np.r_[pos, neg])) + 1.0
    return 100.0 * (ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def point_error(result, world: np.ndarray, moving: np.ndarray) -> tuple[float, float, float]:
    """RMSE of the solved per-frame points (visible ones) against the exact ones after one Sim(3) fit of
    the static tracks' points (room units): ``(static tracks, moving tracks, median error of the moving tracks)``
    (a moving point's depth is not observable from its track; the median shows the typical error along the ray,
    the RMSE any far outlier)."""
    vis = result.visibility.T
    est = result.points.transpose(1, 0, 2)
    ref = world[:, result.track_indices].transpose(1, 0, 2)
    mov = moving[result.track_indices]
    s, R, t = umeyama_alignment(est[~mov][vis[~mov]], ref[~mov][vis[~mov]])
    err = np.linalg.norm(s * est @ R.T + t - ref, axis=2)
    rmse = [float(np.sqrt((err[sel][vis[sel]] ** 2).mean())) if (vis[sel]).any() else float("nan")
            for sel in (~mov, mov)]
    median_moving = float(np.median(err[mov][vis[mov]])) if vis[mov].any() else float("nan")
    return rmse[0], rmse[1], median_moving


def camera_scores(cameras, reference) -> tuple[float, float]:
    m = trajectory_metrics(cameras, reference)
    return m["auc30"], m["ate_rmse"]


def synthetic_rows(fractions, seeds, frames, size, log):
    rows = []
    for fraction in fractions:
        acc = {k: [] for k in ("share", "sfm_auc", "sfm_ate", "ex_auc", "ex_ate", "ex_pts", "ex_pts_moving",
                               "ex_pts_moving_median", "ex_rank", "lk_auc", "lk_ate", "lk_rank", "sfm_fail",
                               "cpu_sfm", "cpu_4d")}
        for seed in seeds:
            clip = make_dynamic_clip(fraction, num_frames=frames, image_size=size, seed=seed, antialias=2)
            acc["share"].append(clip.moving_fraction)
            c0 = time.process_time()
            try:
                sfm = estimate_trajectory(clip.frames, seed=0)
            except ValueError:
                sfm = None
            acc["cpu_sfm"].append(time.process_time() - c0)
            start = sfm.cameras if sfm is not None and sfm.complete else None
            if start is None:
                acc["sfm_fail"].append(1)
                acc["sfm_auc"].append(0.0)
            else:
                acc["sfm_fail"].append(0)
                auc, ate = camera_scores(sfm.cameras, clip.cameras)
                acc["sfm_auc"].append(auc)
                acc["sfm_ate"].append(ate)
            tracks, world, moving = exact_tracks(clip, 800, seed=seed, seed_frames=(0, frames // 3, 2 * frames // 3))
            noisy = Tracks2D(tracks.points + np.random.default_rng(seed).normal(0, 0.3, tracks.points.shape),
                             tracks.visibility)
            c0 = time.process_time()
            ex = solve_tracks4d(noisy, size, trajectory=start)
            acc["cpu_4d"].append(time.process_time() - c0)
            auc, ate = camera_scores(ex.cameras, clip.cameras)
            acc["ex_auc"].append(auc)
            acc["ex_ate"].append(ate)
            static_err, moving_err, moving_median = point_error(ex, world, moving)
            acc["ex_pts"].append(static_err)
            acc["ex_pts_moving"].append(moving_err)
            acc["ex_pts_moving_median"].append(moving_median)
            acc["ex_rank"].append(ranking_auc(ex.dynamic_score, moving[ex.track_indices]))
            lk = track_points(clip.frames, TrackerSettings(num_points=800)).tracks
            lk_result = solve_tracks4d(lk, size, trajectory=start)
            auc, ate = camera_scores(lk_result.cameras, clip.cameras)
            acc["lk_auc"].append(auc)
            acc["lk_ate"].append(ate)
            first = np.argmax(lk.visibility, axis=0)[lk_result.track_indices]
            p = lk.points[first, lk_result.track_indices]
            on_box = clip.moving_mask[first, np.clip(p[:, 1].astype(int), 0, size[0] - 1),
                                      np.clip(p[:, 0].astype(int), 0, size[1] - 1)]
            acc["lk_rank"].append(ranking_auc(lk_result.dynamic_score, on_box))
            log(f"  moving {fraction:.0%} seed {seed}: SfM AUC {acc['sfm_auc'][-1]:.1f}, "
                f"4D exact {acc['ex_auc'][-1]:.1f}, 4D LK {acc['lk_auc'][-1]:.1f}")
        rows.append((fraction, {k: (float(np.nanmean(v)) if np.isfinite(v).any() else float("nan"))
                                for k, v in acc.items()},
                     sum(acc["sfm_fail"])))
    return rows


def print_synthetic(rows, seeds, frames, size):
    print(f"\nDynamic scenes ({len(seeds)} seeds each, {frames} frames at {size[1]}x{size[0]}); mean over seeds")
    print("| moving (target / measured) | SfM AUC@30 | 4D AUC@30 (exact tracks) | 4D AUC@30 (LK tracks) | "
          "SfM ATE | 4D ATE (exact) | 4D ATE (LK) | 4D 3D point RMSE static / moving (median) | "
          "dyn. ranking AUC exact / LK | "
          "SfM failures | CPU s SfM / 4D |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for fraction, m, fails in rows:
        gain_ex, gain_lk = m["ex_auc"] - m["sfm_auc"], m["lk_auc"] - m["sfm_auc"]
        print(f"| {fraction:.0%} / {m['share']:.1%} | {m['sfm_auc']:.1f} | {m['ex_auc']:.1f} ({gain_ex:+.1f}) | "
              f"{m['lk_auc']:.1f} ({gain_lk:+.1f}) | {m['sfm_ate']:.4f} | {m['ex_ate']:.4f} | {m['lk_ate']:.4f} | "
              f"{m['ex_pts']:.3f} / {m['ex_pts_moving']:.3f} ({m['ex_pts_moving_median']:.3f}) | "
              f"{m['ex_rank']:.1f} / {m['lk_rank']:.1f} | "
              f"{fails}/{len(seeds)} | {m['cpu_sfm']:.1f} / {m['cpu_4d']:.1f} |")
    print("targets: 4D >= SfM + 10 AUC@30 where moving >= 30 %; within 1 point of SfM at 0 %")
    for fraction, m, _ in rows:
        for name, key in (("exact tracks", "ex_auc"), ("LK tracks", "lk_auc")):
            gain = m[key] - m["sfm_auc"]
            if fraction >= 0.3:
                verdict = "met" if gain >= 10 else "NOT met"
                room = 100 - m["sfm_auc"]  # AUC@30 is at most 100: where SfM scores above 90, +10 cannot be reached
                ceiling = f" (SfM's {m['sfm_auc']:.1f} leaves at most {room:+.1f})" if room < 10 else ""
                print(f"  moving {fraction:.0%} (measured {m['share']:.0%}), {name}: 4D - SfM = {gain:+.1f} -> "
                      f"{verdict}{ceiling}")
            elif fraction == 0:
                verdict = "met" if abs(gain) <= 1 else "NOT met"
                print(f"  static scene, {name}: 4D - SfM = {gain:+.1f} -> {verdict}")


def real_rows(log):
    from raxel_core.formats.realestate10k import read_realestate10k
    from raxel_core.video_io import read_video_frames

    video_dir, pose_dir = DATA / "re10k" / "videos", DATA / "re10k" / "poses"
    if not video_dir.is_dir():
        print(f"\n(real clips skipped: {video_dir} not found)")
        return
    print("\nRealEstate10K (384x256, 16 frames; pixel aspect 1.185): SfM and 4D (LK tracks, started from SfM)")
    print("| clip | SfM AUC@30 | 4D AUC@30 | median rotation difference 4D vs SfM (deg) | dynamic tracks |")
    print("|---|---|---|---|---|")
    for video in sorted(p for p in video_dir.glob("*.mp4") if "_svd" not in p.stem):
        frames = read_video_frames(video)
        h, w = frames.shape[1:3]
        reference = read_realestate10k(pose_dir / f"{video.stem}.txt", image_size=(h, w), source_aspect=16 / 9)
        reference = reference[: len(frames)]
        sfm = estimate_trajectory(frames, seed=0, pixel_aspect=h / w * 16 / 9)
        if not sfm.complete:
            print(f"| {video.stem} | SfM registered {len(sfm.frame_indices)}/{len(frames)} | - | - | - |")
            continue
        tracks = track_points(frames, TrackerSettings(num_points=800)).tracks
        result = solve_tracks4d(tracks, (h, w), trajectory=sfm.cameras)
        diff = rotation_error_deg(sfm.cameras.relative_to(0).R, result.cameras.relative_to(0).R)
        print(f"| {video.stem} | {camera_scores(sfm.cameras, reference)[0]:.1f} | "
              f"{camera_scores(result.cameras, reference)[0]:.1f} | {float(diff.median()):.3f} | "
              f"{result.dynamic_share:.1%} |")
    still = DATA / "static_camera" / "tree.avi"
    if still.exists():
        frames = read_video_frames(still)
        tracks = track_points(frames, TrackerSettings(num_points=800)).tracks
        result = solve_tracks4d(tracks, frames.shape[1:3])
        cams = result.cameras.relative_to(0)
        depth = np.median(np.linalg.norm(result.static_points - cams.centers.numpy()[0], axis=1))
        travel = float(np.linalg.norm(cams.centers.numpy(), axis=1).max() / depth)
        print(f"\nstatic_camera/tree.avi ({len(frames)} frames, still camera, moving objects), 4D from tracks alone: "
              f"largest rotation {float(rotation_angle_deg(cams.R).max()):.3f} deg, largest camera travel "
              f"{travel:.4f} x median scene depth, {result.dynamic_share:.1%} tracks dynamic")
        for note in result.messages:
            print(f"  {note}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.0, 0.1, 0.3, 0.4, 0.5])
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", default="192x288", help="H x W of the synthetic clips")
    parser.add_argument("--no-real", action="store_true", help="skip the real clips")
    args = parser.parse_args(argv)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    t0 = time.perf_counter()
    rows = synthetic_rows(args.fractions, args.seeds, args.frames, size, log=lambda s: print(s, flush=True))
    print_synthetic(rows, args.seeds, args.frames, size)
    if not args.no_real:
        real_rows(print)
    print(f"\n(total {time.perf_counter() - t0:.0f} s wall; CPU seconds are process time on a shared 2-core machine)")


if __name__ == "__main__":
    main()
