"""Masks restore static-scene accuracy: pose from a rendered room clip (exact cameras), from the same clip
with a large textured sprite moving across it, and from that clip with the sprite's masks.

    PYTHONPATH=$PWD python benchmarks/bench_pose_masks.py [--coverage 0.2 0.35] [--frames 24]

Prints one row per (coverage, case): frames registered, AUC@30, RRA@15 / RTA@15, ATE RMSE (Sim(3)), mean
rotation error, and CPU seconds. The clip is ``raxel demo``'s (``default_demo_trajectory`` through
``make_scene(0)``, 384x256); the sprite is :func:`raxel_core.synthetic.sprites.paste_moving_sprite`.
"""
from __future__ import annotations

import argparse
import time

from raxel_core.evaluation.metrics import trajectory_metrics
from raxel_core.pose import estimate_trajectory
from raxel_core.synthetic.render import make_scene, render_frames
from raxel_core.synthetic.room_trajectories import default_demo_trajectory
from raxel_core.synthetic.sprites import paste_moving_sprite


def row(name, frames, reference, masks=None) -> dict:
    t = time.process_time()
    est = estimate_trajectory(frames, masks=masks)
    cpu = time.process_time() - t
    m = trajectory_metrics(est.cameras, reference[est.frame_indices])
    return {"case": name, "registered": f"{len(est.frame_indices)}/{est.num_frames}", "method": est.method,
            "auc30": m["auc30"], "rra": m["rra"], "rta": m["rta"], "ate": m["ate_rmse"],
            "rot": m["rot_err_deg"], "cpu": cpu}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coverage", type=float, nargs="+", default=[0.2, 0.35])
    parser.add_argument("--frames", type=int, default=24)
    args = parser.parse_args(argv)
    reference = default_demo_trajectory(args.frames)
    static = render_frames(make_scene(0), reference)
    rows = [dict(row("static room", static, reference), coverage=0.0)]
    for coverage in args.coverage:
        dynamic, masks = paste_moving_sprite(static, coverage)
        rows.append(dict(row("with sprite, no mask", dynamic, reference), coverage=masks.mean()))
        rows.append(dict(row("with sprite, masked", dynamic, reference, masks), coverage=masks.mean()))
    print(f"{'case':<22} {'sprite':>6} {'reg':>6} {'AUC@30':>7} {'RRA@15':>7} {'RTA@15':>7} {'ATE':>7} "
          f"{'rot deg':>8} {'CPU s':>6}")
    for r in rows:
        print(f"{r['case']:<22} {100 * r['coverage']:5.1f}% {r['registered']:>6} {r['auc30']:7.1f} {r['rra']:7.1f} "
              f"{r['rta']:7.1f} {r['ate']:7.4f} {r['rot']:8.2f} {r['cpu']:6.1f}")
    print("sprite: mean share of the frame it covers; ATE in room units after Sim(3) alignment (the room is "
          "~6 units wide); CPU s = process time of the estimate (this process, all threads)")


if __name__ == "__main__":
    main()
