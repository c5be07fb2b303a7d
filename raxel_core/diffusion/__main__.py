"""``python -m raxel_core.diffusion CONFIG`` / ``accelerate launch -m raxel_core.diffusion CONFIG``:
train the joint video + ray model from a :class:`~raxel_core.diffusion.training.TrainConfig` JSON file
(resumes from the latest checkpoint in its ``checkpoint_dir``); the command is :mod:`raxel_core.cli.train`."""
from ..cli.train import module_main

if __name__ == "__main__":
    module_main()
