"""The model's ray streams: cameras <-> the tensors the joint model denoises.

The joint video + ray model (Rays as Pixels, arXiv 2604.09429) carries one ray stream beside the
video: raxels ``(d + o / scale) / 2`` in ``[-1, 1]`` (3 channels, the paper's), or Plücker rays
``(d, m)`` (6 channels, the paper's ablation baseline, Sec. 4.4). This module encodes cameras into
those streams and decodes them back.
"""
from __future__ import annotations

import numpy as np
import torch

from ..cameras import Cameras
from .plucker import plucker_maps
from .raxel_decode import decode_raxels
from .raxel_encode import encode_raxels
from .raxel_maps import RaxelMaps


def raxel_size_for(image_size: tuple[int, int], raxel_downscale: int = 2) -> tuple[int, int]:
    """The raxel grid for frames of ``image_size``: ``(H, W) / raxel_downscale``. ``ValueError`` when
    it does not divide (the model aligns each ray token with its video pixels)."""
    h, w = image_size
    if h % raxel_downscale or w % raxel_downscale:
        raise ValueError(
            f"frame size {h}x{w} is not divisible by the raxel downscale {raxel_downscale}; choose a "
            f"size that is a multiple of {raxel_downscale}"
        )
    return h // raxel_downscale, w // raxel_downscale


def encode_rays(cameras: Cameras, raxel_size: tuple[int, int], reference: int = 0) -> tuple[torch.Tensor, dict]:
    """Raxels of ``cameras`` as the model's ray stream: ``(F, 3, h, w)`` float32 ``(d + o / scale) / 2``
    in ``[-1, 1]`` (= ``2 * RaxelMaps.to_image() - 1`` without its float32 rounding first), and the
    maps' metadata."""
    maps = encode_raxels(cameras, size=raxel_size, reference=reference)
    return (maps.rays / 2).permute(0, 3, 1, 2).float().contiguous(), maps.metadata()


def rays_to_raxel_maps(rays: torch.Tensor, metadata: dict | None = None) -> RaxelMaps:
    """The model's ray stream ``(F, 3, h, w)`` in ``[-1, 1]`` -> :class:`RaxelMaps`.

    Values are clamped to ``[-1, 1]`` (a generator can overshoot) and mapped by
    ``image = (x + 1) / 2`` (:meth:`RaxelMaps.from_image`). ``metadata`` as there (``None`` for a
    model's output: reference = frame 0, unit scale).
    """
    if rays.ndim != 4 or rays.shape[1] != 3:
        raise ValueError(f"rays must be (F, 3, h, w); got {tuple(rays.shape)}")
    image = ((rays.detach().double().cpu().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1)
    return RaxelMaps.from_image(image, metadata)


def rays_to_cameras(rays: torch.Tensor, metadata: dict | None = None,
                    image_size: tuple[int, int] | None = None) -> Cameras:
    """Decode the ray stream to cameras (Rays as Pixels, Sec. 3.5, :func:`decode_raxels`).

    Args:
        rays: ``(F, 3, h, w)`` in ``[-1, 1]``.
        metadata: raxel metadata (restores scale and world frame) or ``None`` (cameras relative
            to frame 0, unit scale as normalised by the encoder: the farthest camera at distance 1).
        image_size: ``(H, W)`` of the video the cameras belong to (K scaled up from the raxel
            grid); default the metadata's source size, else the raxel grid.

    Without metadata the trajectory is re-expressed relative to the decoded frame 0, so frame 0 is
    the identity as the contract says even when a model's frame-0 rays are not exact unit rays.
    How far the decoded frame 0 was from the identity is kept in
    ``metadata["reference_frame_residual"]`` (``rotation_deg``, ``centre``) so it is reported, not hidden.
    """
    cams = decode_raxels(rays_to_raxel_maps(rays, metadata))
    if metadata is None:
        from ..cameras import rotation_angle_deg

        residual = {"rotation_deg": float(rotation_angle_deg(cams.R[0])), "centre": float(cams.centers[0].norm())}
        cams = cams.relative_to(0)
        cams.metadata["reference_frame_residual"] = residual
    return cams if image_size is None else cams.with_image_size(image_size)


#: Ray-stream representations: raxels (3 channels, the paper's), Plücker rays (6 channels, the
#: paper's ablation baseline, Sec. 4.4, decoded as RayDiffusion does) on the ray branch, and Plücker
#: rays concatenated channel-wise onto the video (the ablation as the paper words it; no ray
#: branch, :class:`raxel_core.model.ChannelConcatModel`; rays at the video's size).
RAY_REPRESENTATIONS = ("raxel", "plucker", "plucker_concat")
RAY_CHANNELS = {"raxel": 3, "plucker": 6, "plucker_concat": 6}


def ray_representation_for(config) -> str:
    """The ray representation a :class:`~raxel_core.model.JointModelConfig` was built for:
    ``"plucker_concat"`` for a channel-concat model (:func:`raxel_core.model.is_channel_concat`),
    else from the ray channels: 3 = raxels, 6 = Plücker rays. ``ValueError`` for any other count."""
    from ..model.channel_concat import is_channel_concat

    if is_channel_concat(config):
        return "plucker_concat"
    for name in ("raxel", "plucker"):
        channels = RAY_CHANNELS[name]
        if config.ray_in_channels == channels and config.rays_out_channels == channels:
            return name
    raise ValueError(f"a pixel-space ray stream has 3 (raxel) or 6 (Plücker) channels; this model has "
                     f"{config.ray_in_channels} in / {config.rays_out_channels} out")


def encode_plucker_rays(cameras: Cameras, raxel_size: tuple[int, int], reference: int = 0) -> torch.Tensor:
    """Plücker rays ``(d, m)`` of ``cameras`` as a 6-channel ray stream ``(F, 6, h, w)`` float32 in ``[-1, 1]``.

    ``d`` the unit direction, ``m = (o / scale) x d`` the moment, both in the reference camera's
    frame (:func:`raxel_core.rays.plucker.plucker_maps`), with the same translation normalisation as
    the raxels (``scale`` = distance of the farthest camera from the reference, so ``|m| <= 1``).
    The ablation baseline of Rays as Pixels (Sec. 4.4: Plücker rays instead of raxels): on the ray
    branch at the raxel grid, or at the frame size for the channel-concat model.
    """
    maps = encode_raxels(cameras, size=raxel_size, reference=reference)     # for the scale only
    pl = plucker_maps(cameras, size=raxel_size, reference=reference)
    pl[..., 3:] /= maps.scale
    return pl.permute(0, 3, 1, 2).float().contiguous()


def normalize_reference_rays(rays: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Divide a generated raxel stream by the median ray length of its reference frame.

    The reference (source) frame's raxels are its own unit rays (``o = 0``), so their lengths
    are 1 by construction; a generator's raxels can come out uniformly too long or too short
    (a few-step sample of a small model: ~1.4x for ``raxel-tiny-v1`` at 2 steps). A uniform
    factor ``k`` on ``d + o / scale`` changes nothing but the length of every ray, so dividing the
    whole stream by ``k = median |d_ref|`` restores it exactly; anything else the generator got
    wrong is left for the robust decoder (:func:`raxel_core.rays.raxel_decode.decode_raxels`) to judge. Exact
    raxels give ``k = 1`` (up to rounding) and come back unchanged.

    Args:
        rays: ``(F, 3, h, w)`` ray stream ``(d + o / scale) / 2`` with the reference at frame 0.
    Returns:
        ``(rays / k, k)``.
    Raises:
        ValueError: ``k`` is not a positive finite number (an all-zero or broken stream).
    """
    if rays.ndim != 4 or rays.shape[1] != 3:
        raise ValueError(f"rays must be (F, 3, h, w); got {tuple(rays.shape)}")
    k = float(torch.linalg.norm(2 * rays[0].double(), dim=0).median())
    if not (np.isfinite(k) and k > 1e-6):
        raise ValueError(f"the reference frame's rays have median length {k}; the ray stream is empty or broken "
                         "(the model is untrained or needs more ray steps)")
    return (rays / k).to(rays.dtype), k
