"""Training and sampling of the joint video + ray diffusion model (Rays as Pixels, arXiv 2604.09429).

* ``flow_matching.py`` the objective: path, velocity target, loss, task modes, timestep convention
* ``datasets.py``      clips (synthetic renders, RealEstate10K-layout folders), augmentation,
                       ``prepare_dataset`` (your videos -> RealEstate10K layout with SfM poses)
* ``training.py``      ``train`` / ``TrainConfig`` (accelerate: CPU, one or many GPUs), checkpoints,
                       and the command entry points ``train_main``, ``prepare_main``, ``sample_main``
* ``sampler.py``       ``sample``: Euler integration with separate video / ray step counts
* ``evaluation_joint.py`` ``eval_joint_main`` (``raxel eval-joint``): pose, camera following, closed loop, ablation

The network itself is :class:`raxel_core.model.JointTransformer`.
"""
from .datasets import (
    Clip,
    PrepareReport,
    RealEstate10KClips,
    SyntheticClips,
    augment_clip,
    make_dataset,
    prepare_dataset,
)
from .flow_matching import (
    MODES,
    interpolate,
    paper_velocity,
    stream_loss,
    t_to_timestep,
    timestep_to_t,
    velocity_target,
)
from .sampler import SampleResult, sample
from .training import (
    TrainConfig,
    TrainResult,
    prepare_main,
    sample_main,
    train,
    train_main,
)

__all__ = [
    "MODES",
    "Clip",
    "PrepareReport",
    "RealEstate10KClips",
    "SampleResult",
    "SyntheticClips",
    "TrainConfig",
    "TrainResult",
    "augment_clip",
    "interpolate",
    "make_dataset",
    "paper_velocity",
    "prepare_dataset",
    "prepare_main",
    "sample",
    "sample_main",
    "stream_loss",
    "t_to_timestep",
    "timestep_to_t",
    "train",
    "train_main",
    "velocity_target",
]
