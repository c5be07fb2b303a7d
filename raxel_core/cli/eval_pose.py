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
    e.set_defaults(func=run)


def run(args) -> int:
    from ..evaluation.pose import evaluate_clips, results_to_json
    from ..evaluation.tables import format_table

    estimators = ("raxel",) if args.no_baseline else ("raxel", "colmap_default")
    log = None if args.json else (lambda line: print(line, file=sys.stderr, flush=True))
    results = evaluate_clips(args.video_dir, args.pose_dir, estimators, log=log)
    if args.json:
        print(json.dumps(results_to_json(results), indent=1))
    else:
        print(format_table(results))
    return 0
