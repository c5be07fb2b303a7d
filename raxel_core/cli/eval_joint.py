"""``raxel eval-joint``: the evaluation tables of a trained joint model (:mod:`raxel_core.evaluation.joint`).
It has its own parser; status 2 with one line when the model, the data or the evaluation module is
missing."""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

from ..formats.text_files import check_output_file, write_text_atomic

#: Module of ``raxel eval-joint`` (imported only when that command runs).
EVAL_JOINT_MODULE = "raxel_core.evaluation.joint"


def register(sub) -> None:
    sub.add_parser("eval-joint", help="evaluate the joint model (raxel eval-joint --help)", add_help=False)


def build_parser(joint) -> argparse.ArgumentParser:
    """The options of ``raxel eval-joint``; ``joint`` is the imported :data:`EVAL_JOINT_MODULE`, whose
    defaults (model, ablation folders, pose steps) they show."""
    ablation_dirs = ", ".join(str(d.relative_to(joint.PROJECT_ROOT)) for d in joint.DEFAULT_ABLATION_DIRS)
    parser = argparse.ArgumentParser(prog="raxel eval-joint", description=joint.__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=joint.DEFAULT_MODEL,
                        help="save_pretrained directory of the model")
    parser.add_argument("--ablation", nargs="+", default=["auto"],
                        help="other models (e.g. the Plücker ablations) to score beside it: directories, 'auto' "
                             f"(latest checkpoint in each of {ablation_dirs}) or 'none'")
    parser.add_argument("--synthetic", type=int, default=10, help="held-out synthetic clips")
    parser.add_argument("--re10k", type=int, default=5, help="RealEstate10K clips (held out)")
    parser.add_argument("--clips", type=int, default=None, help="set both --synthetic and --re10k")
    parser.add_argument("--frames", type=int, default=9, help="frames per clip")
    parser.add_argument("--size", type=int, nargs=2, default=[32, 48], metavar=("H", "W"),
                        help="frame size the model was trained at (raxel-tiny-v1: 32 48)")
    parser.add_argument("--steps-video", type=int, default=20, help="Euler steps of generated video")
    parser.add_argument("--pose-steps", type=int, nargs="+", default=list(joint.POSE_STEPS),
                        help="ray steps of the pose table")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=None,
                        help="shared data folder (default $RAXEL_SHARED_DATA or ../shared/data)")
    parser.add_argument("--json", type=Path, default=None, help="also write every row here")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--codec-ablation", nargs="*", default=None, metavar="DIR",
                        help="print only the equal-budget codec ablation (raxel / Plücker / camera tokens, one row "
                             "each, pose mode on --synthetic clips at --pose-steps): model or checkpoint folders, "
                             "default checkpoints/ablation_{raxel,plucker,camera_tokens} "
                             "(configs/ablation_codec_*.json)")
    parser.add_argument("--pose-only", action="store_true",
                        help="only the pose table (skip camera following and the closed loop, which need video steps)")
    return parser


def run_codec_ablation(args) -> int:
    """``--codec-ablation``: the table of :mod:`raxel_core.evaluation.codec_ablation`; status 2 when a
    model is missing or the models are not at equal budget."""
    import torch

    from ..evaluation import codec_ablation
    from ..evaluation.joint import load_eval_clips

    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    try:
        models = codec_ablation.load_codec_models(args.codec_ablation or codec_ablation.DEFAULT_CODEC_DIRS)
        budget = codec_ablation.check_equal_budget(models)
        if args.synthetic < 1 or args.frames < 2 or min(args.pose_steps) < 1:
            raise ValueError("give --synthetic of at least 1, --frames of at least 2 and --pose-steps of at least 1")
    except ValueError as err:
        print(f"raxel eval-joint: error: {err}", file=sys.stderr)
        return 2
    clips = load_eval_clips(tuple(args.size), args.frames, args.synthetic, 0, args.data,
                            models[0].model.config.raxel_downscale)
    rows = codec_ablation.evaluate_codecs(models, clips, tuple(args.pose_steps), args.seed,
                                          lambda line: print(line, file=sys.stderr, flush=True))
    command_line = getattr(args, "command_line", "raxel eval-joint").strip()
    print(f"<!-- {command_line} ; {len(clips)} clips, {time.perf_counter() - t0:.0f} s -->")
    print(codec_ablation.format_codec_table(rows, budget, len(clips)))
    if args.json:
        write_text_atomic(args.json, json.dumps({"codec_ablation": rows, "budget": budget}, indent=2,
                                                default=str) + "\n")
    return 0


def run(args) -> int:
    """Print the tables of :mod:`raxel_core.evaluation.joint` for ``args.model`` and its ablations
    (and write every row to ``--json``); status 2 when the model or the data is missing."""
    import torch

    from ..evaluation.joint import evaluate_following, evaluate_pose, load_eval_clips, load_models
    from ..evaluation.tables import format_tables

    if args.clips is not None:
        args.synthetic = args.re10k = args.clips
    if args.codec_ablation is not None:
        if args.json is not None:
            check_output_file(args.json)
        return run_codec_ablation(args)
    if args.threads:
        torch.set_num_threads(args.threads)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if not (args.model / "config.json").is_file():
        print(f"raxel eval-joint: error: no model at {args.model} (config.json + model.safetensors); train one "
              "with `python -m raxel_core.diffusion configs/train_tiny.json`", file=sys.stderr)
        return 2
    checks = {"--frames": (args.frames, 2), "--synthetic": (args.synthetic, 0), "--re10k": (args.re10k, 0),
              "--steps-video": (args.steps_video, 1)}
    for option, (value, least) in checks.items():
        if value < least:
            print(f"raxel eval-joint: error: {option} must be at least {least}; got {value}", file=sys.stderr)
            return 2
    if args.synthetic + args.re10k < 1 or min(args.size) < 1 or min(args.pose_steps) < 1:
        print("raxel eval-joint: error: give at least one clip (--synthetic / --re10k), a positive --size and "
              "--pose-steps of at least 1", file=sys.stderr)
        return 2
    if args.json is not None:
        check_output_file(args.json)
    models = load_models(args.model, args.ablation)
    main_model = next(iter(models.values()))
    image_size = tuple(args.size)
    t0 = time.perf_counter()
    try:
        clips = load_eval_clips(image_size, args.frames, args.synthetic, args.re10k, args.data,
                                main_model.config.raxel_downscale)
    except ValueError as err:
        print(f"raxel eval-joint: error: {err}", file=sys.stderr)
        return 2
    log(f"{len(clips)} clips at {image_size[0]}x{image_size[1]}, {args.frames} frames "
        f"({time.perf_counter() - t0:.0f} s)")
    pose_rows = evaluate_pose(models, clips, tuple(args.pose_steps), args.seed, log)
    follow_rows = [] if args.pose_only else evaluate_following(models, clips, args.steps_video, args.seed, log)
    command_line = getattr(args, "command_line", "raxel eval-joint").strip()
    print(f"<!-- {command_line} ; {len(clips)} clips, {time.perf_counter() - t0:.0f} s -->")
    print("<!-- deterministic: the same model, --seed and --threads give the same figures (seeded noise; "
          "pycolmap seeded, single-threaded matching and mapping); only the times vary -->")
    tables = format_tables(pose_rows, follow_rows, models)
    print(tables.split("\n### Camera following")[0] if args.pose_only else tables)
    if args.json:
        write_text_atomic(args.json, json.dumps({"pose": pose_rows, "following": follow_rows}, indent=2,
                                                default=str) + "\n")
    return 0


def main(argv: list[str]) -> int:
    """``raxel eval-joint ARGS...``: parse ``argv`` and :func:`run`; status 2 with one line when
    :data:`EVAL_JOINT_MODULE` is not part of this installation."""
    try:
        joint = importlib.import_module(EVAL_JOINT_MODULE)
    except ModuleNotFoundError as err:
        if err.name not in (EVAL_JOINT_MODULE, EVAL_JOINT_MODULE.rsplit(".", 1)[0]):
            raise
        print(f"raxel eval-joint: error: the joint-model evaluation ({EVAL_JOINT_MODULE}) is not part of this "
              "installation; update raxel_core", file=sys.stderr)
        return 2
    args = build_parser(joint).parse_args(argv)
    args.command_line = "raxel eval-joint " + " ".join(argv)
    return run(args)
