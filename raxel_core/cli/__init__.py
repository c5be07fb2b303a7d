"""The ``raxel`` command: a thin layer over ``raxel_core``.

    raxel demo [--out DIR]                         render a scene, estimate its trajectory, score it
    raxel pose VIDEO_OR_FRAME_DIR --out FILE [--focal PX] [--seed S] [--max-frames N] [--stride N]
               [--max-image-size PX] [--pixel-aspect FY/FX|estimate]   streamed: any length in bounded memory
    raxel tracks VIDEO_OR_FRAME_DIR --out TRACKS.json [--points N] [--no-reseed] [--format xy|tracks]
    raxel eval-pose VIDEO_DIR POSE_DIR [--json] [--no-baseline] [--seed S] [--repeats N]
               [--source-aspect W:H | --estimate-aspect]
    raxel convert IN OUT [--from FMT] [--to FMT] [--size HxW]
    raxel retime TRAJ --frames N [--nearest-4k1] [--fps-in A --fps-out B] [--smooth S] [--recentre] --out FILE
    raxel encode TRAJ --out DIR [--size HxW]       8-bit PNG raxel frames + raxels.json
    raxel decode DIR --out TRAJ
    raxel tokens encode TRAJ --out tokens.json | decode tokens.json --out TRAJ [--levels K] | eval
    raxel run WORKFLOW_API.json [--server URL] [--set NODE.INPUT=VALUE ...] [--out DIR]
    raxel train CONFIG [--steps N] [--checkpoint-dir D] [--no-resume]   train the joint model
    raxel prepare VIDEO_DIR OUT_DIR [--seed S]       your videos -> RealEstate10K-layout training folder
    raxel sample MODE --out DIR [--model M] [--video V] [--image I] [--trajectory T] [--frames N]
                 [--steps-video N] [--steps-rays N] [--seed S]   run the joint model (pose|video|joint)
    raxel eval-joint ...                            evaluate the joint model (raxel eval-joint --help)
    raxel rerender VIDEO (--preset P | --trajectory NEW) --out DIR [--source-trajectory T] [--depth DIR]
                   [--tracks JSON]                  re-render from a new camera: warp, masks, tracks

Output trajectory format follows the file extension: ``.txt`` RealEstate10K, ``.json`` the pack's
own, ``transforms.json`` nerfstudio, a folder (no suffix) COLMAP text.
Errors in the input exit with status 2 and a one-line message (no traceback); Ctrl-C ends with one line
and status 130, leaving no partial output file and no temporary folder (every writer is atomic:
:mod:`raxel_core.formats.text_files`). tests/BAD_INPUT.md lists every bad input tested and what it prints.
``raxel sample`` uses the bundled model (``models/raxel-tiny-v1``) unless ``--model`` names another
(a ``save_pretrained`` folder or its ``model.safetensors``).

Each command is one module of this package (``demo.py``, ``pose.py``, ``eval_pose.py`` ...) holding its
options (``register(sub)``) and ``run(args)``; the work is done by library functions of ``raxel_core``.
"""
from __future__ import annotations

import argparse
import sys

from . import (
    convert,
    decode,
    demo,
    encode,
    eval_joint,
    eval_pose,
    pose,
    prepare,
    rerender,
    retime,
    run,
    sample,
    tokens,
    tracks,
    train,
)
from .sample import BUNDLED_MODEL_DIR
from .terminal import end_progress_line

__all__ = ["BUNDLED_MODEL_DIR", "build_parser", "main"]

#: One module per command, in the order ``raxel --help`` lists them; each has ``register(sub)`` (its
#: options) and ``run(args)`` (returns the exit status).
COMMANDS = (demo, pose, tracks, eval_pose, convert, retime, encode, decode, rerender, tokens, run, train, prepare,
            sample, eval_joint)
#: Commands with their own parser and exit codes: ``raxel NAME ARGS...`` hands ARGS to ``main(ARGS)``.
OWN_PARSER = {"run": run.main, "eval-joint": eval_joint.main}
#: Errors in the input: status 2 and one line ``raxel COMMAND: error: MESSAGE``. OSError covers files the
#: operating system refuses (permissions, a file where a folder is needed, a full disk).
INPUT_ERRORS = (ValueError, OSError, InterruptedError)
#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED_STATUS = 130


def one_line(error: BaseException) -> str:
    """The message of ``error`` on one line: its lines joined with ``"; "``; an ``OSError`` as
    ``STRERROR: FILENAME; check the path and its permissions``."""
    if isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        text = f"{error.strerror}{where}; check the path and its permissions (or free disk space)"
    else:
        text = str(error) or error.__class__.__name__
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


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
    command = argv[0] if argv and not argv[0].startswith("-") else ""
    prefix = f"raxel {command}".strip()
    try:
        if command in OWN_PARSER:
            return OWN_PARSER[command](argv[1:])
        args = build_parser().parse_args(argv)
        return args.func(args)
    except KeyboardInterrupt:
        end_progress_line()
        print(f"{prefix}: interrupted (Ctrl-C); no output file was left half-written", file=sys.stderr)
        return INTERRUPTED_STATUS
    except MemoryError:
        end_progress_line()
        print(f"{prefix}: error: out of memory; give a smaller input (fewer frames, a smaller size)", file=sys.stderr)
        return 2
    except INPUT_ERRORS as exc:
        end_progress_line()
        print(f"{prefix}: error: {one_line(exc)}", file=sys.stderr)
        return 2
