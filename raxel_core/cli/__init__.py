"""The ``raxel`` command: a thin layer over ``raxel_core``.

    raxel demo [--out DIR]                         render a scene, estimate its trajectory, score it
    raxel pose VIDEO_OR_FRAME_DIR --out FILE [--focal PX] [--seed S] [--max-frames N] [--stride N]
               [--max-image-size PX] [--pixel-aspect FY/FX]   streamed: any length in bounded memory
    raxel eval-pose VIDEO_DIR POSE_DIR [--json] [--no-baseline] [--seed S] [--repeats N] [--source-aspect W:H]
    raxel convert IN OUT [--from FMT] [--to FMT] [--size HxW]
    raxel encode TRAJ --out DIR [--size HxW]       8-bit PNG raxel frames + raxels.json
    raxel decode DIR --out TRAJ
    raxel run WORKFLOW_API.json [--server URL] [--set NODE.INPUT=VALUE ...] [--out DIR]
    raxel train CONFIG [--steps N] [--checkpoint-dir D] [--no-resume]   train the joint model
    raxel prepare VIDEO_DIR OUT_DIR [--seed S]       your videos -> RealEstate10K-layout training folder
    raxel sample MODE --out DIR [--model M] [--video V] [--image I] [--trajectory T] [--frames N]
                 [--steps-video N] [--steps-rays N] [--seed S]   run the joint model (pose|video|joint)
    raxel eval-joint ...                            evaluate the joint model (raxel eval-joint --help)

Output trajectory format follows the file extension: ``.txt`` RealEstate10K, ``.json`` the pack's
own, ``transforms.json`` nerfstudio, a folder (no suffix) COLMAP text.
Errors in the input exit with status 2 and a one-line message (no traceback).
``raxel sample`` uses the bundled model (``models/raxel-tiny-v1``) unless ``--model`` names another
(a ``save_pretrained`` folder or its ``model.safetensors``).

Each command is one module of this package (``demo.py``, ``pose.py``, ``eval_pose.py`` ...) holding its
options (``register(sub)``) and ``run(args)``; the work is done by library functions of ``raxel_core``.
"""
from __future__ import annotations

import argparse
import sys

from . import convert, decode, demo, encode, eval_joint, eval_pose, pose, prepare, run, sample, train
from .sample import BUNDLED_MODEL_DIR

__all__ = ["BUNDLED_MODEL_DIR", "build_parser", "main"]

#: One module per command, in the order ``raxel --help`` lists them; each has ``register(sub)`` (its
#: options) and ``run(args)`` (returns the exit status).
COMMANDS = (demo, pose, eval_pose, convert, encode, decode, run, train, prepare, sample, eval_joint)
#: Commands with their own parser and exit codes: ``raxel NAME ARGS...`` hands ARGS to ``main(ARGS)``.
OWN_PARSER = {"run": run.main, "eval-joint": eval_joint.main}
#: Errors in the input: status 2 and one line ``raxel COMMAND: error: MESSAGE``.
INPUT_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, InterruptedError)


def build_parser() -> argparse.ArgumentParser:
    """The ``raxel`` parser: one subcommand per module of :data:`COMMANDS`."""
    p = argparse.ArgumentParser(prog="raxel", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return p


def main(argv=None) -> int:
    """``raxel ARGS...`` (``argv`` defaults to ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] and argv[0] in OWN_PARSER:
        return OWN_PARSER[argv[0]](argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except INPUT_ERRORS as exc:
        print(f"raxel {args.command}: error: {exc}", file=sys.stderr)
        return 2
