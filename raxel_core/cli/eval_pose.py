"""``raxel eval-pose``: pose estimation on RealEstate10K-layout clips, ours beside pycolmap's default."""
from __future__ import annotations

import json
import sys


def register(sub) -> None:
    e = sub.add_parser("eval-pose", help="evaluate pose estimation on RealEstate10K-layout clips")
    e.add_argument("video_dir")
    e.add_argument("pose_dir")
    e.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    e.add_argument("--no-baseline", action="store_true", help="skip pycolmap's default pipeline")
    e.add_argument("--seed", type=int, default=0,
                   help="random seed of raxel's estimator (same seed, same cameras; default: %(default)s)")
    e.add_argument("--repeats", type=int, default=1,
                   help="run the whole evaluation N times and print each figure's mean and range "
                        "(default: %(default)s)")
    e.set_defaults(func=run)


def run(args) -> int:
    from ..evaluation.pose import clip_pairs, evaluate_repeats, repeats_to_json, results_to_json
    from ..evaluation.tables import format_runs

    if args.repeats < 1:
        raise ValueError(f"--repeats must be at least 1; got {args.repeats}")
    clip_pairs(args.video_dir, args.pose_dir)              # bad folders fail here, before any log line
    estimators = ("raxel",) if args.no_baseline else ("raxel", "colmap_default")
    log = None if args.json else (lambda line: print(line, file=sys.stderr, flush=True))
    runs = evaluate_repeats(args.video_dir, args.pose_dir, estimators, repeats=args.repeats, log=log,
                            seed=args.seed)
    if args.json:
        print(json.dumps(results_to_json(runs[0]) if args.repeats == 1 else repeats_to_json(runs), indent=1))
    else:
        print(format_runs(runs, args.seed))
    return 0
