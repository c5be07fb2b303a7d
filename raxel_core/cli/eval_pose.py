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
    e.add_argument("--source-aspect", default=None, metavar="W:H",
                   help="the clips were squeezed from a source of this aspect without cropping (e.g. 16:9 for "
                        "RealEstate10K): raxel's estimator gets each clip's pixel aspect fy/fx = (H/W) * W:H")
    e.add_argument("--estimate-aspect", action="store_true",
                   help="raxel's estimator estimates each clip's pixel aspect fy/fx (separate fx, fy by bundle "
                        "adjustment; pixel_aspect=None) instead of assuming square pixels")
    e.set_defaults(func=run)


def parse_aspect(text: str | None) -> float | None:
    """``"16:9"`` -> 1.777..., ``"1.5"`` -> 1.5, ``None`` -> ``None``; ``ValueError`` naming the format."""
    if text is None:
        return None
    try:
        parts = [float(x) for x in str(text).split(":")]
        value = parts[0] / parts[1] if len(parts) == 2 else (parts[0] if len(parts) == 1 else float("nan"))
    except (ValueError, ZeroDivisionError):
        value = float("nan")
    if not (value == value and 0.1 < value < 10):
        raise ValueError(f"--source-aspect must be W:H (e.g. 16:9) or a number between 0.1 and 10; got {text!r}")
    return value


def aspect_options(source_aspect: str | None, estimate_aspect: bool) -> dict:
    """Keyword arguments of :func:`raxel_core.evaluation.pose.evaluate_repeats` for ``--source-aspect`` /
    ``--estimate-aspect`` (at most one of them); ``ValueError`` when both are given."""
    if estimate_aspect and source_aspect is not None:
        raise ValueError("give --source-aspect (a known pixel aspect) or --estimate-aspect, not both")
    if estimate_aspect:
        return {"pixel_aspect": None}
    return {"source_aspect": parse_aspect(source_aspect)}


def run(args) -> int:
    from ..evaluation.pose import clip_pairs, evaluate_repeats, repeats_to_json, results_to_json
    from ..evaluation.tables import format_runs

    if args.repeats < 1:
        raise ValueError(f"--repeats must be at least 1; got {args.repeats}")
    clip_pairs(args.video_dir, args.pose_dir)              # bad folders fail here, before any log line
    estimators = ("raxel",) if args.no_baseline else ("raxel", "colmap_default")
    log = None if args.json else (lambda line: print(line, file=sys.stderr, flush=True))
    options = aspect_options(args.source_aspect, args.estimate_aspect)
    runs = evaluate_repeats(args.video_dir, args.pose_dir, estimators, repeats=args.repeats, log=log,
                            seed=args.seed, **options)
    if args.json:
        print(json.dumps(results_to_json(runs[0]) if args.repeats == 1 else repeats_to_json(runs), indent=1))
    else:
        print(format_runs(runs, args.seed))
    return 0
