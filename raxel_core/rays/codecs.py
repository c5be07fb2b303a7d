"""The joint model's ray streams: one codec per way of writing cameras as the tensor the model denoises.

The joint video + ray model (Rays as Pixels, arXiv 2604.09429) carries one ray stream beside the
video. Three value scales are easily confused, so each has its own name here:

* **raxel values** (:attr:`RaxelMaps.rays <raxel_core.rays.raxel_maps.RaxelMaps>`): the 3-vector
  ``d + o / scale`` per pixel, each channel in ``[-2, 2]`` (:data:`~raxel_core.rays.raxel_maps.VALUE_RANGE`);
  as an image ``(value + 2) / 4`` in ``[0, 1]``.
* **raxel stream** (:class:`RaxelCodec`; ``Clip.rays``, ``sample(rays=...)``): the model's 3-channel
  ray tensor ``(d + o / scale) / 2`` in ``[-1, 1]`` (:data:`RAXEL_STREAM_RANGE`), ``(F, 3, h, w)``
  float32, i.e. ``2 * image - 1`` of the raxel image. The paper's representation.
* **Plücker stream** (:class:`PluckerCodec`): the 6-channel tensor ``(d, m)`` with ``m = (o / scale) x d``,
  each channel in ``[-1, 1]`` (:data:`PLUCKER_STREAM_RANGE`), ``(F, 6, h, w)`` float32. The paper's
  ablation baseline (Sec. 4.4), decoded as RayDiffusion does.

A :class:`RayCodec` encodes cameras into its stream and decodes a stream back; :func:`codec_for`
gives the codec of a model config. What the model *is* (a two-branch
:class:`~raxel_core.model.JointTransformer` or the channel-concat ablation,
:func:`raxel_core.model.is_channel_concat`) is kept apart from what its ray codec is: the
channel-concat ablation is the Plücker codec at the frame size (``downscale = 1``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from ..cameras import Cameras
from .plucker import plucker_maps, plucker_rays_to_cameras
from .raxel_decode import decode_raxels
from .raxel_encode import encode_raxels
from .raxel_maps import RaxelMaps

#: Value range of the raxel stream ``(d + o / scale) / 2`` per channel.
RAXEL_STREAM_RANGE = (-1.0, 1.0)
#: Value range of the Plücker stream ``(d, (o / scale) x d)`` per channel.
PLUCKER_STREAM_RANGE = (-1.0, 1.0)


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
        from ..geometry.rotations import rotation_angle_deg

        residual = {"rotation_deg": float(rotation_angle_deg(cams.R[0])), "centre": float(cams.centers[0].norm())}
        cams = cams.relative_to(0)
        cams.metadata["reference_frame_residual"] = residual
    return cams if image_size is None else cams.with_image_size(image_size)


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


# ----------------------------------------------------------------------------------- codecs
class RayCodec(Protocol):
    """How a model writes cameras as its ray stream, and reads them back.

    Attributes:
        name: the codec's name (``"raxel"``, ``"plucker"``).
        channels: channels of the stream.
        downscale: the stream's grid is the frame size divided by this (Rays as Pixels: 2).
        vae_encodable: whether the stream is a 3-channel image in ``[-1, 1]`` that an image VAE
            can encode (raxels: latent models denoise VAE latents of raxel images); a codec that
            is not runs on pixels only.
    """

    name: str
    channels: int
    downscale: int
    vae_encodable: bool

    def grid_size(self, image_size: tuple[int, int]) -> tuple[int, int]:
        """``(h, w)`` of the stream for frames of ``image_size = (H, W)``; ``ValueError`` when the
        frame size is not divisible by :attr:`downscale`."""
        ...

    def encode(self, cameras: Cameras, grid_size: tuple[int, int], reference: int = 0) -> torch.Tensor:
        """``(F, channels, h, w)`` float32 stream of ``cameras`` at ``grid_size``, with camera
        ``reference`` as the reference frame."""
        ...

    def decode(self, stream: torch.Tensor, image_size: tuple[int, int] | None = None) -> Cameras:
        """Cameras (relative to frame 0, unit translation scale) of a stream ``(F, channels, h, w)``,
        at ``image_size`` (default the stream's grid). ``ValueError`` when it does not decode."""
        ...

    def normalize_reference(self, stream: torch.Tensor) -> tuple[torch.Tensor, float | None]:
        """A generated stream made consistent with its reference frame before decoding, and the
        factor it was divided by (``None`` when the codec has no such step)."""
        ...

    def check_stream(self, stream: torch.Tensor) -> None:
        """``ValueError`` when ``stream`` cannot be a stream of this codec (shape, non-finite values)."""
        ...

    def raxel_maps(self, stream: torch.Tensor, cameras: Cameras | None, raxel_size: tuple[int, int]) -> RaxelMaps:
        """The raxel maps shown for ``stream`` (reference frame 0, no metadata): the stream itself
        for raxels; the raxels of ``cameras`` (its decoded or given cameras) at ``raxel_size`` otherwise."""
        ...


@dataclass(frozen=True)
class RaxelCodec:
    """The raxel stream ``(d + o / scale) / 2`` (Rays as Pixels, Sec. 3.2 / 3.5), 3 channels, on a
    grid ``downscale`` times smaller than the frames (the paper: 2)."""

    downscale: int = 2
    name: str = "raxel"
    channels: int = 3
    vae_encodable: bool = True

    def grid_size(self, image_size: tuple[int, int]) -> tuple[int, int]:
        return raxel_size_for(image_size, self.downscale)

    def encode(self, cameras: Cameras, grid_size: tuple[int, int], reference: int = 0) -> torch.Tensor:
        return encode_rays(cameras, grid_size, reference=reference)[0]

    def decode(self, stream: torch.Tensor, image_size: tuple[int, int] | None = None,
               metadata: dict | None = None) -> Cameras:
        """:func:`rays_to_cameras`; ``metadata`` (the encoder's) restores scale and world frame."""
        return rays_to_cameras(stream, metadata, image_size)

    def normalize_reference(self, stream: torch.Tensor) -> tuple[torch.Tensor, float | None]:
        """:func:`normalize_reference_rays`: divide by the median ray length of frame 0."""
        return normalize_reference_rays(stream)

    def check_stream(self, stream: torch.Tensor) -> None:
        rays_to_raxel_maps(stream)

    def raxel_maps(self, stream: torch.Tensor, cameras: Cameras | None, raxel_size: tuple[int, int]) -> RaxelMaps:
        return rays_to_raxel_maps(stream)


@dataclass(frozen=True)
class PluckerCodec:
    """The Plücker stream ``(d, (o / scale) x d)``, 6 channels (the ablation baseline of Rays as
    Pixels, Sec. 4.4; decoded as RayDiffusion does, :func:`raxel_core.rays.plucker.plucker_rays_to_cameras`).
    ``downscale`` is the model's raxel downscale on the ray branch, 1 for the channel-concat
    ablation (rays at the frame size, one per video pixel)."""

    downscale: int = 2
    name: str = "plucker"
    channels: int = 6
    vae_encodable: bool = False

    def grid_size(self, image_size: tuple[int, int]) -> tuple[int, int]:
        return raxel_size_for(image_size, self.downscale)

    def encode(self, cameras: Cameras, grid_size: tuple[int, int], reference: int = 0) -> torch.Tensor:
        return encode_plucker_rays(cameras, grid_size, reference=reference)

    def decode(self, stream: torch.Tensor, image_size: tuple[int, int] | None = None) -> Cameras:
        return plucker_rays_to_cameras(stream, image_size)

    def normalize_reference(self, stream: torch.Tensor) -> tuple[torch.Tensor, float | None]:
        """Unchanged (the decoder fits the focal and the centres without a length convention)."""
        return stream, None

    def check_stream(self, stream: torch.Tensor) -> None:
        """Nothing beyond what :meth:`decode` checks."""

    def raxel_maps(self, stream: torch.Tensor, cameras: Cameras | None, raxel_size: tuple[int, int]) -> RaxelMaps:
        return encode_raxels(cameras, size=raxel_size, reference=0)


#: The saved ``ray_representation`` values (``TrainConfig``, ``configs/*.json``): raxels, Plücker
#: rays on the ray branch, and Plücker rays concatenated channel-wise onto the video (the ablation
#: as the paper words it; no ray branch, :class:`raxel_core.model.ChannelConcatModel`; rays at the
#: video's size), and CamViG's camera tokens on the ray branch
#: (:class:`raxel_core.rays.token_codec.CameraTokenCodec`). Each is a codec on a kind of model
#: (:func:`ray_representation_for`).
RAY_REPRESENTATIONS = ("raxel", "plucker", "plucker_concat", "camera_tokens")


def _pixel_codec(config) -> RayCodec:
    """The codec of a pixel-space two-branch model, from its ray channels (3 raxels, 6 Plücker,
    :func:`~raxel_core.rays.token_codec.camera_token_channels` camera tokens: 10)."""
    from .token_codec import CameraTokenCodec

    for codec in (RaxelCodec(config.raxel_downscale), PluckerCodec(config.raxel_downscale),
                  CameraTokenCodec(config.raxel_downscale)):
        if config.ray_in_channels == codec.channels and config.rays_out_channels == codec.channels:
            return codec
    raise ValueError(f"a pixel-space ray stream has 3 (raxel), 6 (Plücker) or {CameraTokenCodec().channels} (camera "
                     f"tokens) channels; this model has {config.ray_in_channels} in / {config.rays_out_channels} out")


def codec_for(config) -> RayCodec:
    """The ray codec of a :class:`~raxel_core.model.JointModelConfig`.

    * channel-concat ablation (:func:`raxel_core.model.is_channel_concat`): Plücker rays at the
      frame size (``PluckerCodec(downscale=1)``);
    * a VAE-latent model (:func:`raxel_core.model.uses_pixels` false): raxels
      (its ray stream is VAE latents of raxel images);
    * a pixel-space model: by its ray channels, 3 = raxels, 6 = Plücker rays, 10 = camera tokens
      (:class:`~raxel_core.rays.token_codec.CameraTokenCodec`), at ``config.raxel_downscale``.

    Raises:
        ValueError: a pixel-space model whose ray channels are neither 3 nor 6.
    """
    from ..model.channel_concat import is_channel_concat, uses_pixels

    if is_channel_concat(config):
        return PluckerCodec(downscale=1)
    if not uses_pixels(config):
        return RaxelCodec(config.raxel_downscale)
    return _pixel_codec(config)


def ray_representation_for(config) -> str:
    """The saved ``ray_representation`` value (:data:`RAY_REPRESENTATIONS`) of a pixel-space
    :class:`~raxel_core.model.JointModelConfig`: ``"plucker_concat"`` for a channel-concat model
    (:func:`raxel_core.model.is_channel_concat`), else its codec's name from the ray channels
    (3 = ``"raxel"``, 6 = ``"plucker"``, 10 = ``"camera_tokens"``). ``ValueError`` for any other count
    (a VAE-latent model has no pixel-space representation to train)."""
    from ..model.channel_concat import is_channel_concat

    if is_channel_concat(config):
        return "plucker_concat"
    return _pixel_codec(config).name
