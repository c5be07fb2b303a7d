"""``raxel prepare`` on a folder of videos: one video at a time vs ``--workers N`` processes (and the Ray
backend on a local Ray instance with ``--ray``), on the same rendered clips, in one run.

    PYTHONPATH=$PWD python benchmarks/bench_prepare.py [--videos 4] [--frames 12] [--workers 2] [--ray]

Prints, per backend: wall seconds, the speedup over one at a time (wall-clock ratio), and CPU seconds of
this process and its children (resource.getrusage; Ray's workers are not children, so not counted), with
the machine's CPU count. Wall-clock ratios are only meaningful on an otherwise idle machine.
"""
from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from raxel_core.diffusion.prepare import prepare_dataset
from raxel_core.synthetic.render import make_scene, render_frames
from raxel_core.synthetic.room_trajectories import default_demo_trajectory
from raxel_core.video_io import write_video


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(videos: Path, out: Path, **options) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), cpu_seconds()
    report = prepare_dataset(videos, out, **options)
    return time.perf_counter() - wall, cpu_seconds() - cpu, len(report.written)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ray", action="store_true", help="also the Ray backend on a new local Ray instance")
    args = parser.parse_args(argv)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "videos"
        folder.mkdir()
        cams = default_demo_trajectory(args.frames)
        for k in range(args.videos):
            write_video(folder / f"room{k}.mp4", render_frames(make_scene(k), cams), 8.0)
        runs = [("one at a time", {}), (f"--workers {args.workers}", {"workers": args.workers})]
        if args.ray:
            runs.append((f"Ray (local, {args.workers} tasks)", {"workers": args.workers, "ray_address": "local"}))
        rows = []
        for k, (name, options) in enumerate(runs):
            rows.append((name, *timed(folder, Path(scratch) / f"out{k}", **options)))
    print(f"{args.videos} videos of {args.frames} frames at 384x256; {cpus} CPU cores")
    print(f"{'backend':<24} {'wall s':>7} {'speedup':>8} {'CPU s':>7} {'written':>8}")
    for name, wall, cpu, written in rows:
        print(f"{name:<24} {wall:7.1f} {rows[0][1] / wall:7.2f}x {cpu:7.1f} {written:>8}")


if __name__ == "__main__":
    main()
