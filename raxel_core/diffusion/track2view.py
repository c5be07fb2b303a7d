"""Track2View with the joint model: training on synthetic pairs, target-view rendering, the node's inputs.

Track2View (arXiv 2606.15534, Sec. 3) re-renders a source video from a target camera path with a video
DiT whose video tokens ``[clean source | noised target]`` (concatenated along frames) receive the
track conditioner's tokens (:mod:`raxel_core.model.track_conditioner`). Here the DiT is the joint
model (:class:`raxel_core.model.JointTransformer`) in its ``video`` task (Rays as Pixels Sec. 3.4): the
ray stream carries the ``2 T`` cameras ``[source | target]`` clean, so a model **without** tracks still
knows the target camera, and the ablation "with vs without tracks" isolates the conditioner.

Training (:func:`train_track2view`): flow matching with the conventions of
:mod:`raxel_core.diffusion.flow_matching` (the loss of :func:`~raxel_core.diffusion.flow_matching.stream_loss`
on the target frames only; the source frames and every ray frame clean), one ``t`` per example for the
target frames (uniform), AdamW. Rendering (:func:`render_target_view`): :func:`raxel_core.diffusion.sampler.sample`
in ``video`` mode with the ``T`` source frames as source frames and the track condition.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ..cameras import Cameras
from ..model.config import JointModelConfig
from ..model.track_conditioner import TrackCondition, stack_conditions
from ..rays.codecs import codec_for
from .flow_matching import paper_velocity, stream_loss
from .sampler import sample

#: The toy setting of the bundled Track2View models: ``T`` frames per view, frame size ``(H, W)``, tracks per pair.
TOY_FRAMES, TOY_SIZE, TOY_TRACKS = 4, (32, 48), 192
#: Training pairs draw their rooms from this many scenes (seeds ``0 .. TRAIN_SCENES - 1``).
TRAIN_SCENES = 32
#: Held-out pairs use path and room seeds from here on (rooms never seen in training).
HELD_OUT_SEED = 100_000


def toy_config(with_tracks: bool) -> JointModelConfig:
    """The toy model of the ablation: :meth:`JointModelConfig.small`'s layout (pixels, 4x4 video patches,
    32x48 frames -> 8x12 tokens) at width 64 (2 heads x 32), FFN 256, 3 DSCA blocks; with tracks a
    2-layer track conditioner, without none (the base network is the same)."""
    return JointModelConfig.small(num_attention_heads=2, attention_head_dim=32, ffn_dim=256, num_layers=3,
                                  freq_dim=64, track_conditioner_layers=2 if with_tracks else 0)


def toy_pairs(count: int, held_out: bool = False) -> list:
    """``count`` synthetic pairs (:func:`raxel_core.synthetic.track_pairs.make_track_pair`) of the toy
    setting: training pairs ``i`` in room ``i % TRAIN_SCENES``; held-out pairs in unseen rooms."""
    from ..synthetic.track_pairs import make_track_pair

    if held_out:
        return [make_track_pair(HELD_OUT_SEED + i, TOY_FRAMES, TOY_SIZE, TOY_TRACKS, scene_seed=HELD_OUT_SEED + i)
                for i in range(count)]
    return [make_track_pair(i, TOY_FRAMES, TOY_SIZE, TOY_TRACKS, scene_seed=i % TRAIN_SCENES) for i in range(count)]


def pair_streams(model_config, source_frames, target_frames, source: Cameras, target: Cameras
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """The clean streams of one pair: video ``(3, 2T, H, W)`` in ``[-1, 1]`` ``[source | target]`` and the
    ray stream ``(C, 2T, h, w)`` of the cameras ``[source | target]`` (reference: source frame 0)."""
    frames = np.concatenate([np.asarray(source_frames), np.asarray(target_frames)])
    video = torch.from_numpy(frames).float().div(255.0).mul(2).sub(1).permute(3, 0, 1, 2).contiguous()
    cams = Cameras.concatenate([source, target])
    codec = codec_for(model_config)
    rays = codec.encode(cams, codec.grid_size(tuple(video.shape[2:])), reference=0).permute(1, 0, 2, 3).float()
    return video, rays


@dataclass
class TrainLog:
    """What :func:`train_track2view` returns: the loss per step and the CPU seconds spent."""

    losses: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0


def training_loss(model, video: torch.Tensor, rays: torch.Tensor, cond: TrackCondition | None,
                  generator: torch.Generator, cosine_weight: float = 0.5) -> torch.Tensor:
    """Flow-matching loss of a batch: ``video (B, 3, 2T, H, W)``, ``rays (B, C, 2T, h, w)`` clean; the target
    frames ``T .. 2T-1`` are noised with one uniform ``t`` per example and are the only frames in the loss."""
    b, _, frames = video.shape[:3]
    t_frames = frames // 2
    x0 = torch.randn(video.shape, generator=generator)
    t = torch.rand(b, generator=generator)
    noised = torch.zeros(b, frames, dtype=torch.bool)
    noised[:, t_frames:] = True
    t_frame = torch.where(noised, t[:, None], torch.ones(b, frames))              # paper time, 1 = clean
    tb = t_frame[:, None, :, None, None]
    x_t = (1 - tb) * x0 + tb * video
    v_net, _ = model(x_t, rays, 1000.0 * (1 - t_frame), torch.zeros(b, rays.shape[2]), track_condition=cond)
    return stream_loss(paper_velocity(v_net), video - x0, noised, cosine_weight).total.mean()


def train_track2view(model, pairs: list, steps: int, use_tracks: bool, batch_size: int = 4, lr: float = 1e-3,
                     seed: int = 0, log_every: int = 0, log: Callable[[str], None] = print) -> TrainLog:
    """Train ``model`` on ``pairs`` (:class:`raxel_core.synthetic.track_pairs.TrackPair`) for ``steps`` AdamW
    steps (linear warm-up over the first 5 %, then cosine decay); ``use_tracks`` feeds the pairs' tracks.

    Returns:
        :class:`TrainLog`.
    Raises:
        ValueError: ``use_tracks`` with a model that has no track conditioner.
    """
    if use_tracks and getattr(model, "track_conditioner", None) is None:
        raise ValueError("use_tracks needs a model with a track conditioner (config.track_conditioner_layers > 0)")
    streams = [pair_streams(model.config, p.source_frames, p.target_frames, p.source, p.target) for p in pairs]
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda k: min(1.0, (k + 1) / warmup) * 0.5 * (1 + np.cos(np.pi * min(k, steps) / steps)))
    model.train()
    out = TrainLog()
    start = time.process_time()
    for step in range(steps):
        idx = torch.randint(len(pairs), (batch_size,), generator=generator).tolist()
        video = torch.stack([streams[i][0] for i in idx])
        rays = torch.stack([streams[i][1] for i in idx])
        cond = stack_conditions([pairs[i].condition for i in idx]) if use_tracks else None
        loss = training_loss(model, video, rays, cond, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        out.losses.append(float(loss.detach()))
        if log_every and (step + 1) % log_every == 0:
            log(f"step {step + 1}/{steps} loss {np.mean(out.losses[-log_every:]):.4f} "
                f"cpu {time.process_time() - start:.0f}s")
    out.cpu_seconds = time.process_time() - start
    model.eval()
    return out


def render_target_view(model, source_frames, source: Cameras, target: Cameras, condition: TrackCondition | None,
                       steps: int = 20, seed: int = 0, progress=None, should_stop=None):
    """The target view ``(T, H, W, 3)`` float32 in ``[0, 1]`` sampled by ``model`` from the ``T`` source frames,
    the cameras ``[source | target]`` and (optionally) the paired tracks; also the sampler's result.

    Raises:
        ValueError: as :func:`raxel_core.diffusion.sampler.sample`; a condition for a model without a
            track conditioner, or one whose frame count or frame size does not fit.
    """
    cams = Cameras.concatenate([source, target.with_image_size(source.image_size)])
    result = sample(model, "video", source_frames=source_frames, cameras=cams, steps_video=steps, seed=seed,
                    track_condition=condition, progress=progress, should_stop=should_stop)
    return result.video[len(source):], result


def track2view_inputs(payload: dict) -> tuple[torch.Tensor, Cameras, Cameras, TrackCondition]:
    """The ``RAXEL_TRACK_CONDITION`` payload of ``RaxelTrack2ViewCondition`` as the sampler takes it:
    ``(source frames (T, H, W, 3) float in [0, 1], source cameras, target cameras, condition)``.

    Raises:
        ValueError: a payload without tracks, or whose trajectories do not have ``T`` cameras.
    """
    cond = TrackCondition.from_payload(payload)
    frames = torch.as_tensor(payload["source_frames"]).float()
    source, target = payload["source_trajectory"], payload["target_trajectory"]
    t = frames.shape[0]
    if len(source) != t or len(target) != t or cond.num_frames != t:
        raise ValueError(f"the track condition is inconsistent: {t} source frames, {len(source)} source and "
                         f"{len(target)} target cameras, {cond.num_frames} track frames; rebuild it with "
                         "Warp A Video To A New Camera")
    return frames, source, target, cond
