"""Speed of point tracking (``raxel_core.tracks.track_points``) beside its floor, and its accuracy.

    python benchmarks/bench_tracks.py              # 81 frames x 2,000 tracks at 480x832: time vs plain LK
    python benchmarks/bench_tracks.py --accuracy   # synthetic clips (exact tracks) + real clips (round trip)

Speed input: a real moving-camera clip of ``../shared/data/re10k`` (the 25-frame 576x320 ``_svdxt``
clip) resized to 832x480 and played forward, back and forward again to 81 frames (the Wan clip
length). Printed beside it, in the same run and on the same frames: the floor of the method, plain
forward Lucas-Kanade of the same number of points with the same window and pyramid (no
forward-backward check, no re-seeding: what any LK tracker pays), and the decode time of the clip.
Wall time and process CPU time (all threads) are both printed, with the load average: on a shared
machine the wall time grows with the other processes' load, the CPU time much less.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from raxel_core.tracks import TrackerSettings, track_points  # noqa: E402
from raxel_core.video_io import iter_video_frames  # noqa: E402

DATA = Path(os.environ.get("RAXEL_SHARED_DATA", ROOT.parent / "shared" / "data"))
CLIP = DATA / "re10k" / "videos" / "0bf152ef84195293_svdxt.mp4"


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def speed(num_frames: int, num_points: int, size: tuple[int, int], repeats: int) -> None:
    h, w = size
    decoded, decode_wall, decode_cpu = timed(lambda: list(iter_video_frames(CLIP)))
    clip = [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in decoded]
    order = []
    while len(order) < num_frames:  # forward, back, forward ... (ping-pong) to the wanted length
        order += list(range(len(clip))) if len(order) // len(clip) % 2 == 0 else list(range(len(clip)))[::-1]
    frames = np.stack([clip[k] for k in order[:num_frames]])
    settings = TrackerSettings(num_points=num_points)

    def plain_lk():
        grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
        pts = cv2.goodFeaturesToTrack(grey[0], num_points, 1e-6, 1).astype(np.float32)
        for k in range(1, len(grey)):
            pts, _, _ = cv2.calcOpticalFlowPyrLK(grey[k - 1], grey[k], pts, None,
                                                 winSize=(settings.window_size,) * 2,
                                                 maxLevel=settings.pyramid_levels,
                                                 criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 0.01))
        return len(pts)

    print(f"{num_frames} frames at {w}x{h}, about {num_points} live tracks, {cv2.getNumThreads()} OpenCV threads, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'':34s} {'wall s':>8s} {'CPU s':>8s} {'x plain LK (wall)':>18s}")
    best = {}
    for _ in range(repeats):
        for name, fn in (("plain forward LK (floor)", plain_lk), ("track_points (FB check, re-seed)",
                                                                   lambda: track_points(frames, settings))):
            out, wall, cpu = timed(fn)
            if name not in best or wall < best[name][1]:
                best[name] = (out, wall, cpu)
    base = best["plain forward LK (floor)"][1]
    for name, (_, wall, cpu) in best.items():
        print(f"{name:34s} {wall:8.2f} {cpu:8.2f} {wall / base:18.2f}")
    result = best["track_points (FB check, re-seed)"][0]
    print(f"decode of the {len(decoded)}-frame clip: {decode_wall:.2f} s wall, {decode_cpu:.2f} s CPU "
          f"({decode_wall / len(decoded) * num_frames:.2f} s for {num_frames} frames)")
    met = "met" if best["track_points (FB check, re-seed)"][1] <= 5 else "NOT met"
    print(f"tracks: {result.num_tracks} in total, {int(result.tracks.visibility[-1].sum())} visible in the last "
          f"frame; target: within 5 s wall -> {met}")


def accuracy() -> None:
    import torch  # noqa: F401  (the renderer)

    from raxel_core.evaluation.tracks import ground_truth_tracks, round_trip_error, track_metrics
    from raxel_core.synthetic.render import make_scene, render_frames
    from raxel_core.synthetic.room_trajectories import default_demo_trajectory, sample_room_trajectory
    from raxel_core.video_io import read_video_frames

    settings = TrackerSettings(num_points=500)
    rt_settings = TrackerSettings(num_points=300)
    scene = make_scene(0)
    clips = {"demo path": default_demo_trajectory(24, (256, 384)),
             "random path (seed 1)": sample_room_trajectory(scene, np.random.default_rng(1), 24, (256, 384))}
    print("synthetic rooms, 24 frames at 384x256, exact tracks from depth + cameras (TAP-Vid query-first):")
    print(f"{'clip':24s} {'tracks':>7s} {'median EPE px':>14s} {'<=1px':>7s} {'EPE all true-visible':>21s} "
          f"{'visibility acc':>15s}")
    for name, cams in clips.items():
        frames, depth, _ = render_frames(scene, cams, antialias=1, return_depth=True)
        res = track_points(frames, settings)
        tr = res.tracks
        seeds = tr.points[res.seed_frames, np.arange(tr.num_tracks)]
        gp, gv = ground_truth_tracks(cams, depth, seeds, res.seed_frames)
        m = track_metrics(tr.points, tr.visibility, gp, gv, res.seed_frames)
        print(f"{name:24s} {m['num_tracks']:7d} {m['median_epe_visible']:14.3f} {m['within_1px']:7.1%} "
              f"{m['median_epe_true_visible']:21.3f} {m['visibility_accuracy']:15.1%}")
    print("real RealEstate10K clips (no ground truth): round trip first -> k-th -> first frame, over the first")
    print("8 frames and over the whole clip (survived: share of the grid seeds in view both ways)")
    print(f"{'clip':28s} {'frames':>6s} {'median px':>10s} {'p90 px':>8s} {'survived':>9s}")
    for path in sorted((DATA / "re10k" / "videos").glob("*.mp4")):
        frames = read_video_frames(path)
        for span in (8, None):
            r = round_trip_error(frames, rt_settings, span=span)
            print(f"{path.name:28s} {r['num_frames']:6d} {r['median_px']:10.3f} {r['p90_px']:8.3f} "
                  f"{r['survived']:9.1%}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--accuracy", action="store_true", help="accuracy tables instead of speed")
    p.add_argument("--frames", type=int, default=81)
    p.add_argument("--points", type=int, default=2000)
    p.add_argument("--size", default="480x832", help="HxW")
    p.add_argument("--repeats", type=int, default=1, help="speed: best of this many runs")
    args = p.parse_args()
    if args.accuracy:
        accuracy()
        return
    if not CLIP.is_file():
        sys.exit(f"the speed benchmark reads {CLIP}; put ../shared/data in place (or set RAXEL_SHARED_DATA)")
    h, w = (int(v) for v in args.size.split("x"))
    speed(args.frames, args.points, (h, w), args.repeats)


if __name__ == "__main__":
    main()
