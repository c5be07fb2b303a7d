"""Training and sampling of the joint video + ray diffusion model (Rays as Pixels, arXiv 2604.09429).

* ``flow_matching.py`` the objective: path, velocity target, loss, task modes, timestep convention
* ``datasets.py``      clips (synthetic renders, RealEstate10K-layout folders), augmentation,
                       ``prepare_dataset`` (your videos -> RealEstate10K layout with SfM poses)
* ``training.py``      ``train`` / ``TrainConfig`` (accelerate: CPU, one or many GPUs), checkpoints
* ``sampler.py``       ``sample``: Euler integration with separate video / ray step counts
* ``sample_files.py``  ``sample_to_files`` (``raxel sample``): a saved model run on files, inputs fitted to
                       its frame size

The network itself is :class:`raxel_core.model.JointTransformer`; its evaluation is
:mod:`raxel_core.evaluation.joint` (``raxel eval-joint``); the commands are in :mod:`raxel_core.cli`.
"""
from .datasets import (
    Clip,
    PrepareReport,
    RealEstate10KClips,
    SyntheticClips,
    augment_clip,
    encode_plucker_rays,
    encode_rays,
    make_dataset,
    plucker_rays_to_cameras,
    prepare_dataset,
    ray_representation_for,
    rays_to_cameras,
    rays_to_raxel_maps,
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
from .sample_files import sample_to_files
from .sampler import SampleResult, sample
from .training import TrainConfig, TrainResult, train

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
    "encode_plucker_rays",
    "encode_rays",
    "interpolate",
    "make_dataset",
    "paper_velocity",
    "plucker_rays_to_cameras",
    "prepare_dataset",
    "ray_representation_for",
    "rays_to_cameras",
    "rays_to_raxel_maps",
    "sample",
    "sample_to_files",
    "stream_loss",
    "t_to_timestep",
    "timestep_to_t",
    "train",
    "velocity_target",
]
