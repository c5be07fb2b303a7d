"""Long videos: peak memory and seconds per frame of ``raxel pose`` at 100 / 400 / 800 frames.

Issue 10, item 1. Targets (2-core CPU): ``static_camera/box.mp4`` (455 frames, 640x480) and an
800-frame 768x576 clip under 2 GB peak resident memory; seconds per frame at 400 frames at most 1.5x
those at 100 frames of the same video. Baseline named in the issue: before the streaming decoder and
the sparse Jacobian, ``raxel pose box.mp4`` was killed by the kernel at 22.9 GB.

The shared data has no 800-frame 768x576 video, so one is made at run time in a temporary folder
(never kept): ``box.mp4`` played forward then backward (910 frames, the first 800 kept), each frame
resized to 768x576 with OpenCV and written with ``cv2.VideoWriter`` one frame at a time.

Each run is ``python -m raxel_core.cli pose CLIP --out ... --max-frames N [--max-image-size S]`` in its
own process; its peak resident memory is that process's ``ru_maxrss`` (``os.wait4``), its time the
wall-clock seconds of the process (start-up and import included).

    python benchmarks/bench_pose_long.py                       # 100 / 400 / 455 of box.mp4, 800 of the 768x576 clip
    python benchmarks/bench_pose_long.py --max-image-size 0    # full-size frames (slower)
    python benchmarks/bench_pose_long.py --frames 100 400      # box.mp4 only at these lengths

Data: ``$RAXEL_SHARED_DATA`` or ``../shared/data`` beside the project.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Peak resident memory target of the issue (bytes) and the allowed growth of seconds per frame.
MEMORY_TARGET_GB = 2.0
GROWTH_TARGET = 1.5


def make_long_clip(source: Path, out: Path, frames: int = 800, size=(768, 576)) -> Path:
    """``frames`` frames of ``source`` played forward then backward, resized to ``size`` (W, H)."""
    import cv2

    from raxel_core.video_io import iter_video_frames, video_fps

    forward = list(range(sum(1 for _ in iter_video_frames(source))))
    order = (forward + forward[::-1])[:frames]
    if len(order) < frames:
        raise ValueError(f"{source} is too short to make {frames} frames")
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), video_fps(source) or 30.0, size)
    # one decoding pass: each resized frame is written and kept as a PNG for the backward part
    frame_dir = out.parent / f"{out.stem}_frames"
    frame_dir.mkdir()
    for k, rgb in enumerate(iter_video_frames(source)):
        bgr = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)[..., ::-1]
        writer.write(bgr)
        cv2.imwrite(str(frame_dir / f"{k:06d}.png"), bgr)
    for k in order[len(forward):]:
        writer.write(cv2.imread(str(frame_dir / f"{k:06d}.png")))
    writer.release()
    return out


def run_pose(clip: Path, frames: int, max_image_size: int | None, out_dir: Path) -> dict:
    """One ``raxel pose`` process: seconds, peak RSS (bytes), registered frames, method."""
    cmd = [sys.executable, "-m", "raxel_core.cli", "pose", str(clip), "--out", str(out_dir / f"{frames}.json"),
           "--max-frames", str(frames)]
    if max_image_size:
        cmd += ["--max-image-size", str(max_image_size)]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    log = out_dir / f"{frames}.log"
    with open(log, "w") as f:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    text = log.read_text()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"raxel pose failed on {clip} ({frames} frames):\n{text[-2000:]}")
    line = next(ln for ln in text.splitlines() if "frames registered" in ln)
    registered, rest = line.split(" frames registered (")
    return {"seconds": seconds, "peak_bytes": usage.ru_maxrss * 1024, "registered": registered.strip(),
            "method": rest.split(";")[0], "frames": frames}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path,
                   default=Path(os.environ.get("RAXEL_SHARED_DATA", ROOT.parent / "shared" / "data")))
    p.add_argument("--frames", type=int, nargs="*", default=[100, 400, 455], help="lengths of box.mp4 to run")
    p.add_argument("--long", type=int, default=800, help="frames of the 768x576 clip (0: skip it)")
    p.add_argument("--max-image-size", type=int, default=320,
                   help="passed to raxel pose (0: full-size frames); default %(default)s to keep the run short")
    args = p.parse_args(argv)
    box = args.data / "static_camera" / "box.mp4"
    if not box.exists():
        print(f"skipped: {box} not found (set RAXEL_SHARED_DATA)")
        return 0
    size = args.max_image_size or None
    print(f"raxel pose --max-image-size {size or 'none (full size)'}; one process per run; "
          f"targets: peak < {MEMORY_TARGET_GB} GB, s/frame(400) <= {GROWTH_TARGET} x s/frame(100); "
          "baseline (issue 10): box.mp4 killed by the kernel at 22.9 GB")
    print(f"{'clip':<26}{'frames':>7}{'registered':>11}{'method':>8}{'seconds':>9}{'s/frame':>9}{'peak GB':>9}")
    rows = {}
    with tempfile.TemporaryDirectory(prefix="raxel_bench_long_") as tmp:
        tmp = Path(tmp)
        runs = [("box.mp4 640x480", box, n) for n in args.frames]
        if args.long:
            clip = make_long_clip(box, tmp / "box_pingpong_768x576.mp4", frames=args.long)
            runs.append(("box ping-pong 768x576", clip, args.long))
        for name, clip, n in runs:
            r = run_pose(clip, n, size, tmp)
            rows[(name, n)] = r
            print(f"{name:<26}{n:>7}{r['registered']:>11}{r['method']:>8}{r['seconds']:>9.1f}"
                  f"{r['seconds'] / n:>9.3f}{r['peak_bytes'] / 1e9:>9.2f}", flush=True)
    box_rows = {n: r for (name, n), r in rows.items() if name.startswith("box.mp4")}
    if 100 in box_rows and 400 in box_rows:
        growth = (box_rows[400]["seconds"] / 400) / (box_rows[100]["seconds"] / 100)
        print(f"s/frame growth 100 -> 400 frames of box.mp4: {growth:.2f}x (target <= {GROWTH_TARGET}x: "
              f"{'met' if growth <= GROWTH_TARGET else 'NOT met'})")
    peak = max(r["peak_bytes"] for r in rows.values()) / 1e9
    print(f"largest peak resident memory: {peak:.2f} GB (target < {MEMORY_TARGET_GB} GB: "
          f"{'met' if peak < MEMORY_TARGET_GB else 'NOT met'}; baseline 22.9 GB and killed)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
