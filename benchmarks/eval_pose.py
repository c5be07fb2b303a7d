"""Camera trajectory from real video: raxel's estimator beside pycolmap's default pipeline.

Runs :func:`raxel_core.evaluation.pose.evaluate_clips` on the RealEstate10K clips of the shared data
(``<data>/re10k/videos/<stem>.mp4`` with ``<data>/re10k/poses/<stem>.txt``) and prints a table per
clip and the aggregate (registration, time, AUC@30, RRA / RTA @15, RotErr, TransErr, ATE, focal errors),
then the speed table of issue 10 (item 2): per clip and in total, raxel's and the baseline's wall time and
CPU time (process and children, every thread; the figure to compare on a shared machine), the ratios
baseline / raxel of both (target: 3 or more) and the AUC@30 of both, all measured in the same run. The
ground-truth focal length is never given to either estimator. raxel's estimator is
deterministic for a given ``--seed`` (bit-identical cameras in every run); the baseline is not:
``--repeats N`` prints each figure's mean and range over N runs.

    python benchmarks/eval_pose.py                 # all clips, both estimators
    python benchmarks/eval_pose.py --json out.json # also write the per-clip results
    python benchmarks/eval_pose.py --clips 0bf152ef84195293 --estimators raxel
    python benchmarks/eval_pose.py --repeats 3     # mean and range of each figure over 3 runs
    python benchmarks/eval_pose.py --estimators raxel --source-aspect 16:9 --clips 0bf152ef84195293 \
        0c11dbe781b1c11c 0c9b371cc6225682 0f47577ab3441480 0f68374b76390082   # 384x256, non-square pixels
    python benchmarks/eval_pose.py --estimators raxel --estimate-aspect --clips ...   # fx, fy estimated

Data: ``$RAXEL_SHARED_DATA`` or ``../shared/data`` beside the project.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from raxel_core.cli.eval_pose import aspect_options
from raxel_core.evaluation.pose import ESTIMATORS, evaluate_repeats, repeats_to_json, results_to_json
from raxel_core.evaluation.tables import format_runs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path,
                        default=Path(os.environ.get("RAXEL_SHARED_DATA", ROOT.parent / "shared" / "data")))
    parser.add_argument("--estimators", nargs="+", default=list(ESTIMATORS), choices=ESTIMATORS)
    parser.add_argument("--clips", nargs="+", default=None, help="clip stems (default: all)")
    parser.add_argument("--json", type=Path, default=None, help="write per-clip results and the aggregate here")
    parser.add_argument("--seed", type=int, default=0, help="random seed of raxel's estimator (default: 0)")
    parser.add_argument("--repeats", type=int, default=1, help="runs; above 1, each figure's mean and range")
    parser.add_argument("--source-aspect", default=None, metavar="W:H",
                        help="clips squeezed from this aspect (16:9 for RealEstate10K): raxel gets each clip's "
                             "pixel aspect fy/fx = (H/W) * W:H (non-square pixels); default: square pixels")
    parser.add_argument("--estimate-aspect", action="store_true",
                        help="raxel estimates each clip's pixel aspect fy/fx (separate fx, fy; pixel_aspect=None)")
    args = parser.parse_args(argv)
    video_dir, pose_dir = args.data / "re10k" / "videos", args.data / "re10k" / "poses"
    if not video_dir.is_dir():
        print(f"no RealEstate10K clips at {video_dir}; set RAXEL_SHARED_DATA or pass --data", file=sys.stderr)
        return 2
    runs = evaluate_repeats(video_dir, pose_dir, args.estimators, repeats=args.repeats, stems=args.clips,
                            log=lambda line: print(line, file=sys.stderr, flush=True), seed=args.seed,
                            **aspect_options(args.source_aspect, args.estimate_aspect))
    print(format_runs(runs, args.seed))
    if args.json:
        payload = results_to_json(runs[0]) if args.repeats == 1 else repeats_to_json(runs)
        args.json.write_text(json.dumps(payload, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
