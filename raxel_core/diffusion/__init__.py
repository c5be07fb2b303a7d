"""Training and sampling of the joint video + ray diffusion model (Rays as Pixels, arXiv 2604.09429).

* ``flow_matching.py`` the objective: path, velocity target, loss, task modes, timestep convention
* ``datasets.py``      the ``Clip`` type, RealEstate10K-layout folders, augmentation
                       (synthetic rooms: :class:`raxel_core.synthetic.clips.SyntheticClips`)
* ``prepare.py``       ``prepare_dataset`` (your videos -> RealEstate10K layout with SfM poses)
* ``training.py``      ``train`` / ``TrainConfig`` (accelerate: CPU, one or many GPUs), ``make_dataset``
* ``checkpoints.py``   checkpoint folders (safetensors + JSON, no pickles), ``training_resolution``
* ``sampler.py``       ``sample``: Euler integration with separate video / ray step counts
* ``sample_files.py``  ``sample_to_files`` (``raxel sample``): a saved model run on files, inputs fitted to
                       its frame size

The network itself is :class:`raxel_core.model.JointTransformer`; its evaluation is
:mod:`raxel_core.evaluation.joint` (``raxel eval-joint``); the commands are in :mod:`raxel_core.cli`.
"""
from .datasets import (
    Clip,
    RealEstate10KClips,
    augment_clip,
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
from .prepare import PrepareReport, prepare_dataset
from .sample_files import sample_to_files
from .sampler import SampleResult, sample
from .training import TrainConfig, TrainResult, make_dataset, train

__all__ = [
    "MODES",
    "Clip",
    "PrepareReport",
    "RealEstate10KClips",
    "SampleResult",
    "TrainConfig",
    "TrainResult",
    "augment_clip",
    "interpolate",
    "make_dataset",
    "paper_velocity",
    "prepare_dataset",
    "sample",
    "sample_to_files",
    "stream_loss",
    "t_to_timestep",
    "timestep_to_t",
    "train",
    "velocity_target",
]
