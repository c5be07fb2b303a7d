"""The joint video + ray diffusion transformer (Rays as Pixels, arXiv 2604.09429, Sec. 3.3).

* ``config.py``            :class:`JointModelConfig` (JSON beside the weights; presets ``small`` / ``wan21_1_3b``)
* ``attention.py``         :func:`attention`, the one attention function (PyTorch SDPA / xformers)
* ``rope.py``              3D RoPE with ray tokens placed on the video token grid
* ``joint_transformer.py`` :class:`JointTransformer` (DSCA blocks on Wan 2.1 layers), save / load
* ``wan_weights.py``       Wan 2.1 T2V checkpoints (diffusers or Wan / ComfyUI keys) into the video branch
* ``channel_concat.py``    :class:`ChannelConcatModel`, the paper's ablation: Plücker rays concatenated onto the
                           video channels

Needs ``diffusers`` (the Wan layers are diffusers' own).
"""
from .attention import attention
from .channel_concat import ChannelConcatModel, is_channel_concat, uses_pixels
from .config import JointModelConfig
from .joint_transformer import JointTransformer
from .wan_weights import (
                          detect_wan_layout,
                          diffusers_to_wan_state_dict,
                          init_ray_branch_from_video,
                          load_wan_weights,
                          wan_to_diffusers_state_dict,
)

__all__ = [
    "ChannelConcatModel",
    "JointModelConfig",
    "JointTransformer",
    "attention",
    "detect_wan_layout",
    "diffusers_to_wan_state_dict",
    "init_ray_branch_from_video",
    "is_channel_concat",
    "uses_pixels",
    "load_wan_weights",
    "wan_to_diffusers_state_dict",
]
