"""Where the joint model's streams live: pixels, or the latent space of a video VAE.

Rays as Pixels (arXiv 2604.09429), Sec. 3.2: a raxel image is encoded by the video VAE "like a
frame", so the video and the ray stream share one latent space; video frames are encoded as one
clip (Wan 2.1's causal VAE: frame 0 alone, then 4 frames per latent frame), raxel images **one by
one**, without temporal compression (one latent per camera).

A latent space here is four conversions between ``[-1, 1]`` pixel tensors and the tensors the
model sees:

* ``encode_video((3, F, H, W)) -> (C, F', H / s, W / s)`` with ``F' = 1 + (F - 1) / T``;
* ``decode_video((C, F', h, w)) -> (3, F, H, W)``;
* ``encode_images((3, N, H, W)) -> (C, N, H / s, W / s)``, each frame encoded alone;
* ``decode_images((C, N, h, w)) -> (3, N, H, W)``;

with ``C = channels``, ``s = spatial_factor`` and ``T = temporal_factor``. Implementations:

* :class:`PixelSpace`: the identity (pixel-space models such as ``raxel-tiny-v1``);
* :class:`DiffusersWanVAE`: diffusers' ``AutoencoderKLWan`` (Wan 2.1's VAE) from a local folder,
  latents normalised with the VAE config's ``latents_mean`` / ``latents_std`` as Wan's pipeline does;
* the ComfyUI node wraps a ComfyUI ``VAE`` the same way (``nodes/model_nodes.py``), with ComfyUI's
  ``Wan21`` latent format (the same mean and std), so a model sees one latent space either way.
"""
from __future__ import annotations

from pathlib import Path

import torch


class PixelSpace:
    """The identity latent space: the model works on ``[-1, 1]`` pixels (3 channels, no compression)."""

    name = "pixels"
    channels = 3
    spatial_factor = 1
    temporal_factor = 1

    def encode_video(self, video: torch.Tensor) -> torch.Tensor:
        return video

    def decode_video(self, latents: torch.Tensor) -> torch.Tensor:
        return latents

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        return images

    def decode_images(self, latents: torch.Tensor) -> torch.Tensor:
        return latents


def latent_frames(frames: int, temporal_factor: int) -> int:
    """Latent frames of a ``frames``-frame clip under a causal VAE: ``1 + (frames - 1) / T``.

    Raises:
        ValueError: ``frames - 1`` is not a multiple of ``T`` (the fix: 1 + k T frames).
    """
    if temporal_factor == 1:
        return frames
    if frames < 1 or (frames - 1) % temporal_factor:
        low = 1 + max(0, (frames - 1) // temporal_factor) * temporal_factor
        raise ValueError(f"{frames} frames do not fill whole latent frames of this VAE ({temporal_factor}x temporal "
                         f"compression after frame 0): use 1 + {temporal_factor}k frames, e.g. {low} or "
                         f"{low + temporal_factor}")
    return 1 + (frames - 1) // temporal_factor


def check_latent_space(config, space) -> None:
    """``ValueError`` naming the mismatch when a model config cannot run in ``space``.

    The video and ray streams must both have ``space.channels`` channels, the video stream the
    space's temporal compression, and the ray stream none (one latent per camera, Sec. 3.2).
    """
    if config.in_channels != space.channels or config.ray_in_channels != space.channels:
        if space.channels == 3:
            raise ValueError(f"this model works on {config.in_channels}-channel VAE latents: give it the VAE it "
                             "was trained with (e.g. the Wan 2.1 VAE)")
        if config.in_channels == 3:
            raise ValueError(f"this model works on pixels directly (3 channels) but was given a VAE with "
                             f"{space.channels} latent channels: run it without the VAE")
        raise ValueError(f"the VAE gives {space.channels} latent channels but the model expects "
                         f"{config.in_channels}; use the VAE the model was trained with")
    if config.video_temporal_compression != space.temporal_factor:
        raise ValueError(f"the VAE compresses time {space.temporal_factor}x but the model was built for "
                         f"{config.video_temporal_compression}x (video_temporal_compression); use the VAE the "
                         "model was trained with")
    if config.ray_temporal_compression != 1:
        raise ValueError("the sampler encodes raxel images one by one (one latent per camera); this model has "
                         f"ray_temporal_compression {config.ray_temporal_compression}")


class DiffusersWanVAE:
    """Wan 2.1's VAE through diffusers' ``AutoencoderKLWan`` as a latent space.

    Latents are normalised as Wan's diffusers pipeline does: ``(z - latents_mean) / latents_std``
    (per channel, from the VAE's config); the posterior mode is used (no sampling noise).

    Args:
        vae: an ``AutoencoderKLWan`` (its device and dtype are used).

    Raises:
        ValueError: ``vae`` is not an ``AutoencoderKLWan``.
    """

    name = "wan2.1-vae (diffusers)"

    def __init__(self, vae):
        from diffusers import AutoencoderKLWan

        if not isinstance(vae, AutoencoderKLWan):
            raise ValueError(f"DiffusersWanVAE needs a diffusers AutoencoderKLWan, got {type(vae).__name__}")
        self.vae = vae.eval()
        cfg = vae.config
        self.channels = int(cfg.z_dim)
        self.spatial_factor = 2 ** (len(cfg.temperal_downsample))
        self.temporal_factor = 2 ** sum(bool(t) for t in cfg.temperal_downsample)
        self.mean = torch.tensor(cfg.latents_mean, dtype=torch.float32).view(-1, 1, 1, 1)
        self.std = torch.tensor(cfg.latents_std, dtype=torch.float32).view(-1, 1, 1, 1)

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str | torch.device = "cpu",
                        dtype: torch.dtype = torch.float32) -> DiffusersWanVAE:
        """Load a local diffusers folder (``config.json`` + safetensors); never downloads.

        Raises:
            ValueError: no such folder, or a folder that holds no safetensors VAE.
        """
        from diffusers import AutoencoderKLWan

        path = Path(path)
        if not (path / "config.json").is_file():
            raise ValueError(f"no diffusers VAE at {path} (expected config.json + diffusion_pytorch_model.safetensors)")
        vae = AutoencoderKLWan.from_pretrained(str(path), local_files_only=True, use_safetensors=True,
                                               torch_dtype=dtype)
        return cls(vae.to(device))

    def _param(self):
        return next(self.vae.parameters())

    @torch.no_grad()
    def encode_video(self, video: torch.Tensor) -> torch.Tensor:
        latent_frames(video.shape[1], self.temporal_factor)
        p = self._param()
        z = self.vae.encode(video[None].to(p.device, p.dtype)).latent_dist.mode()[0].float().cpu()
        return (z - self.mean) / self.std

    @torch.no_grad()
    def decode_video(self, latents: torch.Tensor) -> torch.Tensor:
        p = self._param()
        z = latents.float().cpu() * self.std + self.mean
        return self.vae.decode(z[None].to(p.device, p.dtype)).sample[0].float().cpu().clamp(-1, 1)

    @torch.no_grad()
    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        p = self._param()
        frames = images.permute(1, 0, 2, 3)[:, :, None]                    # (N, 3, 1, H, W): one clip per image
        z = self.vae.encode(frames.to(p.device, p.dtype)).latent_dist.mode()[:, :, 0].float().cpu()
        return ((z.permute(1, 0, 2, 3) - self.mean) / self.std).contiguous()

    @torch.no_grad()
    def decode_images(self, latents: torch.Tensor) -> torch.Tensor:
        p = self._param()
        z = (latents.float().cpu() * self.std + self.mean).permute(1, 0, 2, 3)[:, :, None]
        x = self.vae.decode(z.to(p.device, p.dtype)).sample[:, :, 0].float().cpu().clamp(-1, 1)
        return x.permute(1, 0, 2, 3).contiguous()
