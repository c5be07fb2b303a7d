"""The paper's ablation baseline: Plücker rays concatenated channel-wise onto the video.

Rays as Pixels (arXiv 2604.09429), Sec. 4.4 (closed-loop ablation, "Plücker rays concatenated
channel-wise instead of raxels"): no ray branch and no cross-attention between streams; every video
pixel carries its camera ray as 6 extra input channels ``(d, m)`` (CameraCtrl-style conditioning),
and the network predicts both velocities from the one token sequence.

One stream has one timestep per frame, but the paper's three tasks noise the two modalities
independently (pose: clean video, noisy rays). The video stream's per-frame timestep therefore goes
through the time embedding as usual, and the ray stream's noise level ``sigma = timestep / 1000``
enters as one more constant input channel (our choice; the paper does not say how its baseline
learns the pose task). So the inner :class:`JointTransformer` has ``in_channels = 3 + 6 + 1`` and
``out_channels = 3 + 6`` and is called with the ray stream absent (its ray branch is unused).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .config import JointModelConfig
from .joint_transformer import JointTransformer

#: Channels of the channel-concat model: video RGB, Plücker rays (d, m), the rays' noise level.
VIDEO_CHANNELS, PLUCKER_CHANNELS, LEVEL_CHANNELS = 3, 6, 1


def is_channel_concat(config: JointModelConfig) -> bool:
    """Whether ``config`` is a channel-concat ablation model (10 channels in, 9 out)."""
    return (config.in_channels == VIDEO_CHANNELS + PLUCKER_CHANNELS + LEVEL_CHANNELS
            and config.video_out_channels == VIDEO_CHANNELS + PLUCKER_CHANNELS)


def uses_pixels(config: JointModelConfig) -> bool:
    """Whether a :class:`~raxel_core.model.JointModelConfig` works on pixels (no VAE): 3 video
    channels (raxel and Plücker-ray models), or 10 for the channel-concat ablation
    (:func:`is_channel_concat`). Any other model works on VAE latents."""
    return config.in_channels == VIDEO_CHANNELS or is_channel_concat(config)

class ChannelConcatModel(nn.Module):
    """A :class:`JointTransformer` run as the channel-concat baseline, with the two-stream call of
    the joint model (``model(video, rays, video_timesteps, ray_timesteps, text)``), so training,
    losses and the sampler treat both alike.

    Args:
        inner: a ``JointTransformer`` whose config passes :func:`is_channel_concat`.

    Raises:
        ValueError: ``inner`` has another channel layout.
    """

    def __init__(self, inner: JointTransformer):
        super().__init__()
        if not is_channel_concat(inner.config):
            raise ValueError("a channel-concat model needs in_channels "
                             f"{VIDEO_CHANNELS + PLUCKER_CHANNELS + LEVEL_CHANNELS} "
                             f"and out_channels {VIDEO_CHANNELS + PLUCKER_CHANNELS}; this one has "
                             f"{inner.config.in_channels} / {inner.config.video_out_channels}")
        self.inner = inner

    @property
    def config(self) -> JointModelConfig:
        return self.inner.config

    def forward(self, video: torch.Tensor, rays: torch.Tensor, video_timesteps: torch.Tensor,
                ray_timesteps: torch.Tensor, encoder_hidden_states: torch.Tensor | None = None):
        """Velocities of both streams.

        Args:
            video: ``(B, 3, F, H, W)`` noisy video.
            rays: ``(B, 6, F, H, W)`` noisy Plücker rays **at the video's size**.
            video_timesteps, ray_timesteps: ``(B, F)`` Wan timesteps (0 clean, 1000 noise).
            encoder_hidden_states: text states, as :meth:`JointTransformer.forward`.

        Returns:
            ``(video_velocity (B, 3, F, H, W), ray_velocity (B, 6, F, H, W))``.

        Raises:
            ValueError: the streams differ in frames or size, or wrong channel counts.
        """
        if rays is None or video is None:
            raise ValueError("the channel-concat model needs both streams (video and Plücker rays)")
        if rays.shape[0] != video.shape[0] or rays.shape[2:] != video.shape[2:] or rays.shape[1] != PLUCKER_CHANNELS:
            raise ValueError(f"channel-concat rays must be (B, {PLUCKER_CHANNELS}, F, H, W) like the video "
                             f"{tuple(video.shape)}; got {tuple(rays.shape)}")
        b, _, f, h, w = video.shape
        level = torch.as_tensor(ray_timesteps, device=video.device).float() / 1000.0
        if level.ndim == 1:
            level = level[:, None].expand(b, f)
        level = level.to(video.dtype)[:, None, :, None, None].expand(b, LEVEL_CHANNELS, f, h, w)
        out, _ = self.inner(torch.cat([video, rays.to(video.dtype), level], 1), None, video_timesteps, None,
                            encoder_hidden_states)
        return out[:, :VIDEO_CHANNELS], out[:, VIDEO_CHANNELS:]

    def save_pretrained(self, directory: str | Path) -> Path:
        """Save the inner model (:meth:`JointTransformer.save_pretrained`); its config marks it."""
        return self.inner.save_pretrained(directory)

    def num_parameters(self) -> int:
        return self.inner.num_parameters()
