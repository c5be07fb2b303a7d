"""Flow matching for the joint video + ray model (Rays as Pixels, arXiv 2604.09429, Sec. 3.4).

Conventions (one place, used by training and sampling):

* **Paper time** ``t`` in ``[0, 1]``, ``t = 1`` clean: ``x_t = (1 - t) x_0 + t x_1`` with ``x_0``
  Gaussian noise and ``x_1`` data. The velocity along that path is ``u = dx_t / dt = x_1 - x_0``.
* **Network timestep** (Wan 2.1 convention, what :class:`raxel_core.model.JointTransformer` takes):
  ``sigma = 1 - t`` (1 = pure noise) and ``timestep = 1000 * sigma`` in ``[0, 1000]``; a clean
  conditioning frame has ``t = 1``, timestep 0.
* **Network output sign**: the network predicts Wan's velocity ``dx / dsigma = x_0 - x_1 = -u``
  (noise minus data), so a Wan 2.1 checkpoint loaded into the video branch keeps its meaning.
  :func:`paper_velocity` turns the output into ``u``; every loss and Euler step here uses ``u``.
* **Noise levels are per frame and per stream**: each example carries one ``t`` per video frame
  and one per ray frame. Frames the task gives (clean conditioning) have ``t = 1`` and are left
  out of the loss; the frames to generate of one stream share one ``t`` (``noise_levels="per_stream"``,
  what the sampler integrates) or get one each (``"per_frame"``, diffusion-forcing style). The two
  streams draw independent ``t``, so the sampler may run the rays on a coarser grid than the video.
* **Loss** (the paper's, [S] in DIGEST Sec. 1): ``L = ||v - u||^2 + 0.5 (1 - cos(v, u))``. The
  squared error is the mean over the noised frames' elements; the cosine is taken **per frame**
  (between the flattened ``C x H x W`` velocity of one frame and its target; our choice: the paper
  does not say, a per-pixel cosine of 3-vectors is dominated by near-zero pixels) and averaged
  over the noised frames. Each stream's terms are computed separately and summed.

Task modes (Rays as Pixels, Sec. 3.4, table "which latents are clean"):

====== ============================================ ==========================
mode   clean (t = 1, no loss)                       noised (generated)
====== ============================================ ==========================
pose   every video frame                            every ray frame
video  the source video frames and every ray frame  the other video frames
joint  the source video frames                      other video frames + every ray frame
====== ============================================ ==========================

The source frames are the first ``num_source_frames`` frames (the canonical frame is placed
first by :func:`raxel_core.diffusion.datasets.augment_clip`). Ray frames of the source are noised
in ``pose`` / ``joint`` mode: the focal length is not known from the image.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

#: The three tasks of the paper, in a fixed order (index = mode id in batches).
MODES: tuple[str, ...] = ("pose", "video", "joint")

#: Wan 2.1 timesteps run from 0 (clean) to this value (pure noise).
NUM_TRAIN_TIMESTEPS = 1000.0

#: Ways to draw the training time ``t`` of the noised frames.
T_SAMPLINGS: tuple[str, ...] = ("uniform", "logit_normal")
#: Whether the noised frames of one stream share ``t`` or draw one each.
NOISE_LEVELS: tuple[str, ...] = ("per_stream", "per_frame")


def check_mode(mode: str) -> int:
    """Index of ``mode`` in :data:`MODES`; ``ValueError`` naming the valid modes otherwise."""
    if mode not in MODES:
        raise ValueError(f"unknown task mode {mode!r}; choose one of {', '.join(MODES)}")
    return MODES.index(mode)


def _broadcast_frames(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``(B, F)`` per-frame values -> ``(B, 1, F, 1, 1)`` to broadcast over ``(B, C, F, H, W)``."""
    if t.ndim != 2 or t.shape[0] != like.shape[0] or t.shape[1] != like.shape[2]:
        raise ValueError(
            f"per-frame times must be (B, F) = ({like.shape[0]}, {like.shape[2]}) for a stream of shape "
            f"{tuple(like.shape)}; got {tuple(t.shape)}"
        )
    return t.to(like.dtype)[:, None, :, None, None]


def interpolate(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The flow-matching path ``x_t = (1 - t) x_0 + t x_1`` (``t = 1`` clean).

    Args:
        x0: ``(B, C, F, H, W)`` noise.
        x1: ``(B, C, F, H, W)`` data, same shape.
        t: ``(B, F)`` paper time per frame in ``[0, 1]``.
    Returns:
        ``(B, C, F, H, W)`` in the dtype of ``x1``.
    """
    if x0.shape != x1.shape:
        raise ValueError(f"noise {tuple(x0.shape)} and data {tuple(x1.shape)} must have the same shape")
    tb = _broadcast_frames(t, x1)
    return (1 - tb) * x0 + tb * x1


def velocity_target(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """``u = x_1 - x_0``, the velocity of :func:`interpolate` along ``t``."""
    return x1 - x0


def t_to_timestep(t: torch.Tensor) -> torch.Tensor:
    """Paper time ``t`` (1 clean) -> Wan timestep ``1000 * (1 - t)`` (0 clean, 1000 noise)."""
    return NUM_TRAIN_TIMESTEPS * (1 - t)


def timestep_to_t(timestep: torch.Tensor) -> torch.Tensor:
    """Wan timestep -> paper time: ``t = 1 - timestep / 1000``."""
    return 1 - timestep / NUM_TRAIN_TIMESTEPS


def paper_velocity(network_output: torch.Tensor) -> torch.Tensor:
    """The network predicts Wan's ``dx / dsigma = noise - data``; the paper's ``u`` is its negative."""
    return -network_output


def shift_sigma(sigma: torch.Tensor, shift: float) -> torch.Tensor:
    """Wan / SD3 timestep shift ``sigma' = s sigma / (1 + (s - 1) sigma)`` (``s = 1``: identity);
    ``s > 1`` spends more steps at high noise."""
    if not (math.isfinite(shift) and shift > 0):
        raise ValueError(f"shift must be a positive number (1 = no shift); got {shift!r}")
    return shift * sigma / (1 + (shift - 1) * sigma)


@dataclass
class StreamLoss:
    """Per-example loss terms of one stream. Each field is ``(B,)``; ``counted[b]`` is False where
    example ``b`` has no noised frame in this stream (its terms are 0 and add nothing)."""

    mse: torch.Tensor
    cosine: torch.Tensor
    counted: torch.Tensor

    @property
    def total(self) -> torch.Tensor:
        """``(B,)`` ``mse + cosine`` (the cosine term already carries its weight)."""
        return self.mse + self.cosine


def stream_loss(
    v: torch.Tensor, u: torch.Tensor, noised: torch.Tensor, cosine_weight: float = 0.5, eps: float = 1e-8
) -> StreamLoss:
    """``||v - u||^2 + cosine_weight (1 - cos(v, u))`` over the noised frames, per example.

    Args:
        v: ``(B, C, F, H, W)`` predicted paper velocity (:func:`paper_velocity` of the output).
        u: ``(B, C, F, H, W)`` target ``x_1 - x_0``.
        noised: ``(B, F)`` bool, the frames that count (clean conditioning frames are False).
        cosine_weight: weight of the cosine term (the paper: 0.5).
        eps: floor of the norms in the cosine.
    Returns:
        :class:`StreamLoss`: squared error = mean over the noised frames' elements; cosine term =
        ``cosine_weight * mean over noised frames of (1 - cos)``, the cosine between one frame's
        flattened ``C * H * W`` velocity and its target (module docstring). 0 where no frame is noised.
    """
    if v.shape != u.shape:
        raise ValueError(f"prediction {tuple(v.shape)} and target {tuple(u.shape)} must have the same shape")
    if noised.shape != (v.shape[0], v.shape[2]):
        raise ValueError(f"noised mask must be (B, F) = ({v.shape[0]}, {v.shape[2]}); got {tuple(noised.shape)}")
    v, u = v.float(), u.float()
    w = noised.to(v.dtype)                                     # (B, F)
    frames = w.sum(1)                                          # noised frames per example
    counted = frames > 0
    per_frame_se = (v - u).square().mean(dim=(1, 3, 4))        # (B, F) mean over C, H, W
    mse = (per_frame_se * w).sum(1) / frames.clamp_min(1)
    vf = v.transpose(1, 2).flatten(2)                          # (B, F, C*H*W)
    uf = u.transpose(1, 2).flatten(2)
    cos = (vf * uf).sum(-1) / (vf.norm(dim=-1).clamp_min(eps) * uf.norm(dim=-1).clamp_min(eps))
    cosine = cosine_weight * ((1 - cos) * w).sum(1) / frames.clamp_min(1)
    return StreamLoss(mse=mse, cosine=cosine, counted=counted)


def clean_masks(mode: str, num_video_frames: int, num_ray_frames: int, num_source_frames: int = 1):
    """Which frames a task gives clean: ``(video_clean (Fv,), rays_clean (Fr,))`` bool tensors.

    See the module docstring's table. Raises ``ValueError`` for an unknown mode or a number of
    source frames outside ``[1, Fv - 1]`` in the ``video`` / ``joint`` modes.
    """
    check_mode(mode)
    video_clean = torch.zeros(num_video_frames, dtype=torch.bool)
    rays_clean = torch.zeros(num_ray_frames, dtype=torch.bool)
    if mode == "pose":
        video_clean[:] = True
    else:
        if not 1 <= num_source_frames < num_video_frames:
            raise ValueError(
                f"{mode} mode needs between 1 and {num_video_frames - 1} source frames for a "
                f"{num_video_frames}-frame video; got {num_source_frames}"
            )
        video_clean[:num_source_frames] = True
        if mode == "video":
            rays_clean[:] = True
    return video_clean, rays_clean


def sample_t(shape: tuple[int, ...], generator: torch.Generator, method: str = "uniform",
             logit_mean: float = 0.0, logit_std: float = 1.0) -> torch.Tensor:
    """Training times ``t`` in ``(0, 1)``: ``"uniform"`` or ``"logit_normal"``
    (``t = sigmoid(N(logit_mean, logit_std))``, SD3's choice). float32."""
    if method == "uniform":
        return torch.rand(shape, generator=generator).clamp(1e-4, 1 - 1e-4)
    if method == "logit_normal":
        return torch.sigmoid(torch.randn(shape, generator=generator) * logit_std + logit_mean)
    raise ValueError(f"unknown t sampling {method!r}; choose one of {', '.join(T_SAMPLINGS)}")


def frame_times(clean: torch.Tensor, generator: torch.Generator, noise_levels: str = "per_stream",
                t_sampling: str = "uniform") -> torch.Tensor:
    """``(F,)`` float32 paper times for one stream of one example: 1 on clean frames, a drawn
    ``t`` on the others (shared, or one per frame; see :data:`NOISE_LEVELS`)."""
    if noise_levels not in NOISE_LEVELS:
        raise ValueError(f"unknown noise_levels {noise_levels!r}; choose one of {', '.join(NOISE_LEVELS)}")
    n = clean.shape[0]
    draw = sample_t((1,) if noise_levels == "per_stream" else (n,), generator, t_sampling)
    t = draw.expand(n).clone()
    t[clean] = 1.0
    return t


@dataclass
class NoisedBatch:
    """Network inputs and loss targets of one training batch (all ``(B, C, F, H, W)`` / ``(B, F)``)."""

    video: torch.Tensor            # x_t of the video stream
    rays: torch.Tensor             # x_t of the ray stream
    video_timesteps: torch.Tensor  # Wan timesteps (0 clean, 1000 noise)
    ray_timesteps: torch.Tensor
    video_target: torch.Tensor     # u = x_1 - x_0
    ray_target: torch.Tensor
    video_noised: torch.Tensor     # (B, F) bool: frames in the loss
    ray_noised: torch.Tensor


def noise_batch(video: torch.Tensor, rays: torch.Tensor, video_noise: torch.Tensor, ray_noise: torch.Tensor,
                video_t: torch.Tensor, ray_t: torch.Tensor) -> NoisedBatch:
    """Put clean data ``x_1`` on the path at per-frame times ``t`` (1 = clean, kept exactly).

    Args:
        video, rays: ``(B, C, F, H, W)`` clean streams in ``[-1, 1]``.
        video_noise, ray_noise: ``x_0``, same shapes.
        video_t, ray_t: ``(B, Fv)`` / ``(B, Fr)`` paper times; frames with ``t = 1`` are clean
            conditioning and left out of the loss.
    """
    return NoisedBatch(
        video=interpolate(video_noise, video, video_t),
        rays=interpolate(ray_noise, rays, ray_t),
        video_timesteps=t_to_timestep(video_t.float()),
        ray_timesteps=t_to_timestep(ray_t.float()),
        video_target=velocity_target(video_noise, video),
        ray_target=velocity_target(ray_noise, rays),
        video_noised=video_t < 1,
        ray_noised=ray_t < 1,
    )


def joint_loss(model, batch: NoisedBatch, cosine_weight: float = 0.5, text: torch.Tensor | None = None):
    """One forward pass and the per-example loss of both streams.

    Returns ``(loss (B,), video StreamLoss, ray StreamLoss)`` with ``loss = video.total + rays.total``.
    """
    video_out, ray_out = model(batch.video, batch.rays, batch.video_timesteps, batch.ray_timesteps, text)
    video_loss = stream_loss(paper_velocity(video_out), batch.video_target, batch.video_noised, cosine_weight)
    ray_loss = stream_loss(paper_velocity(ray_out), batch.ray_target, batch.ray_noised, cosine_weight)
    return video_loss.total + ray_loss.total, video_loss, ray_loss
