"""``raxel train`` (and ``python -m raxel_core.diffusion``, the form ``accelerate launch -m`` runs): train
the joint video + ray model from a :class:`~raxel_core.diffusion.training.TrainConfig` JSON file,
resuming from the latest checkpoint in its ``checkpoint_dir``."""
from __future__ import annotations

import argparse

#: Description of ``python -m raxel_core.diffusion --help``.
DESCRIPTION = "Train the joint video + ray model from a JSON config."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``raxel train`` and of ``python -m raxel_core.diffusion`` (the same)."""
    parser.add_argument("config", help="TrainConfig JSON, e.g. configs/train_small.json")
    parser.add_argument("--steps", type=int, default=None, help="override the config's total steps")
    parser.add_argument("--checkpoint-dir", default=None, help="override the config's checkpoint_dir")
    parser.add_argument("--no-resume", action="store_true", help="start afresh even if checkpoints exist")
    parser.add_argument("--estimate-memory", action="store_true",
                        help="print the memory per GPU this config needs (computed from the shapes) and exit")
    parser.add_argument("--gpus", type=int, default=1, help="with --estimate-memory: GPUs the run is spread over")


def register(sub) -> None:
    t = sub.add_parser("train", help="train the joint video + ray model from a JSON config")
    add_arguments(t)
    t.set_defaults(func=run)


def train_from_args(args):
    """Read the config, apply ``--steps`` / ``--checkpoint-dir``, train; returns the
    :class:`~raxel_core.diffusion.training.TrainResult` (the trained model is
    ``<checkpoint_dir>/step_XXXXXXX/model``), or ``None`` after printing the memory estimate
    (``--estimate-memory``, :func:`raxel_core.diffusion.full_size.format_memory`)."""
    from dataclasses import replace

    from ..diffusion.training import TrainConfig, train
    from ..formats.text_files import check_output_folder

    config = TrainConfig.from_json(args.config)
    if args.steps is not None:
        config = replace(config, steps=int(args.steps))             # replace() validates again
    if args.checkpoint_dir is not None:
        config = replace(config, checkpoint_dir=str(args.checkpoint_dir))
    if getattr(args, "estimate_memory", False):
        from ..diffusion.full_size import format_memory

        if args.gpus < 1:
            raise ValueError(f"--gpus must be at least 1; got {args.gpus}")
        print(format_memory(config, args.gpus))
        return None
    check_output_folder(config.checkpoint_dir)
    return train(config, resume=not args.no_resume)


def run(args) -> int:
    result = train_from_args(args)
    if result is None:                                               # --estimate-memory
        return 0
    print(f"trained to step {result.step}; last checkpoint {result.checkpoint}; log {result.log_path}")
    return 0


def module_main(argv=None) -> None:
    """``python -m raxel_core.diffusion CONFIG [--steps N] [--checkpoint-dir D] [--no-resume]``: train
    (errors end in a traceback; the training log is the run's only output)."""
    parser = argparse.ArgumentParser(prog="python -m raxel_core.diffusion", description=DESCRIPTION)
    add_arguments(parser)
    train_from_args(parser.parse_args(argv))
