"""``python -m raxel_core.diffusion CONFIG`` / ``accelerate launch -m raxel_core.diffusion CONFIG``:
train the joint video + ray model from a :class:`~raxel_core.diffusion.training.TrainConfig` JSON file
(resumes from the latest checkpoint in its ``checkpoint_dir``)."""
import argparse

from .training import train_main


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m raxel_core.diffusion",
                                     description="Train the joint video + ray model from a JSON config.")
    parser.add_argument("config", help="TrainConfig JSON, e.g. configs/train_small.json")
    parser.add_argument("--steps", type=int, default=None, help="override the config's total steps")
    parser.add_argument("--checkpoint-dir", default=None, help="override the config's checkpoint_dir")
    parser.add_argument("--no-resume", action="store_true", help="start afresh even if checkpoints exist")
    args = parser.parse_args(argv)
    train_main(args.config, resume=not args.no_resume, steps=args.steps, checkpoint_dir=args.checkpoint_dir)


if __name__ == "__main__":
    main()
