"""Training the joint video + ray model (Rays as Pixels, arXiv 2604.09429, Sec. 3.4).

:func:`train` runs the paper's multi-task flow-matching objective
(:mod:`raxel_core.diffusion.flow_matching`) on a dataset of clips
(:mod:`raxel_core.diffusion.datasets`), with Hugging Face ``accelerate`` so that one script runs
on the CPU, one GPU, or many (``accelerate launch``: DDP; FSDP when ``fsdp`` is set).

Determinism and resume: example ``k`` of the run (``k = (step * processes + rank) * batch + i``)
is a pure function of ``(seed, k)``: which clip, which task, the source frame, time reversal,
the noise levels and the noise itself. Nothing about the data order lives in the checkpoint, so
resuming at step ``s`` continues exactly where the run stopped (same batches, same losses).

Checkpoints (never pickles): ``<checkpoint_dir>/step_XXXXXXX/``, see
:mod:`raxel_core.diffusion.checkpoints`. Logs: ``<checkpoint_dir>/train_log.jsonl``, one JSON line
per log interval with the mean loss per task mode, and the console.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch

from ..rays.codecs import RAY_REPRESENTATIONS, codec_for, ray_representation_for
from ..synthetic.clips import SyntheticClips
from .checkpoints import latest_checkpoint, load_optimizer_state, save_checkpoint
from .datasets import RealEstate10KClips, augment_clip
from .flow_matching import (
    MODES,
    NOISE_LEVELS,
    T_SAMPLINGS,
    clean_masks,
    frame_times,
    joint_loss,
    noise_batch,
)

LOG_NAME = "train_log.jsonl"


# ----------------------------------------------------------------------------------- data
def make_dataset(spec: dict, num_frames: int, image_size: tuple[int, int], raxel_downscale: int = 2):
    """A dataset from a JSON spec: ``{"kind": "synthetic", ...SyntheticClips arguments}`` or
    ``{"kind": "realestate10k", "root": ..., ...RealEstate10KClips arguments}``."""
    spec = dict(spec)
    kind = spec.pop("kind", None)
    common = {"num_frames": num_frames, "image_size": image_size, "raxel_downscale": raxel_downscale}
    try:
        if kind == "synthetic":
            return SyntheticClips(**spec, **common)
        if kind == "realestate10k":
            return RealEstate10KClips(**spec, **common)
    except TypeError as err:
        raise ValueError(f"bad {kind} dataset options {sorted(spec)}: {err}") from None
    raise ValueError(f"unknown dataset kind {kind!r}; use \"synthetic\" or \"realestate10k\"")


# ----------------------------------------------------------------------------------- config
@dataclass
class TrainConfig:
    """Everything a training run needs; saved as JSON (``configs/train_small.json``).

    Attributes:
        model: ``{"preset": "tiny" | "small" | "wan21_1_3b", **overrides}`` or a full
            :meth:`JointModelConfig.to_dict`.
        dataset: ``{"kind": "synthetic", ...}`` or ``{"kind": "realestate10k", "root": ...}``
            (:func:`make_dataset`).
        num_frames, image_size: clip length and frame size ``(H, W)`` (raxels at 1 / raxel_downscale).
        steps: optimizer steps in all (a resumed run stops at the same total).
        batch_size: clips per process per step.
        learning_rate, weight_decay, betas, warmup_steps, grad_clip: AdamW with linear warm-up
            and gradient-norm clipping (0 = off).
        mode_probabilities: ``{"pose": p, "video": p, "joint": p}`` (normalised).
        num_source_frames: clean source frames in the ``video`` / ``joint`` tasks.
        random_source_probability: chance that the canonical (source) frame is a random frame of
            the clip instead of frame 0 (it is moved to the front and the raxels re-encoded).
        reverse_probability: chance of time reversal.
        noise_levels, t_sampling: see :mod:`raxel_core.diffusion.flow_matching`.
        pose_t_levels: paper times ``t`` in ``[0, 1)`` that a few-step pose sample visits (``[0, 0.5]``:
            the 1- and 2-step samplers start their ray stream at ``t = 0`` and the 2-step one steps
            through ``t = 0.5``); in a pose example the ray stream's ``t`` is one of these, chosen
            uniformly, with probability :attr:`pose_t_level_probability`, and drawn by
            :attr:`t_sampling` otherwise. Empty (the default): ``t_sampling`` always. Why: a tiny model
            trained with uniform ``t`` did not give decodable cameras at 1-2 ray steps after 200
            overfitting steps, one trained at the sampler's levels did (``tests/test_joint_learning.py``).
        pose_t_level_probability: see :attr:`pose_t_levels`.
        cosine_weight: weight of the cosine term (the paper: 0.5).
        checkpoint_dir: where checkpoints and logs go.
        checkpoint_interval: save every this many steps (and at the end).
        keep_checkpoints: how many recent checkpoints to keep (0 = all).
        log_interval: log every this many steps.
        seed: seed of the data stream and the model initialisation.
        mixed_precision: ``"no"``, ``"bf16"`` or ``"fp16"`` (accelerate).
        fsdp: shard the model with FSDP (large configs on many GPUs; under ``accelerate launch``).
        gradient_checkpointing: recompute block activations in the backward pass.
        num_workers: DataLoader worker processes.
        init_from: a ``save_pretrained`` directory to start from (ignored when resuming); its weights are
            loaded into this run's model config (which must have the same parameters, e.g. another
            ``cross_attention_locality``).
        ray_representation: ``"raxel"`` (the paper's 3-channel raxels), ``"plucker"`` (6-channel
            Plücker rays on the ray branch; the model needs ``ray_in_channels = 6``) or
            ``"plucker_concat"`` (Plücker rays at the frame size concatenated onto the video
            channels, the paper's ablation baseline; the model needs ``in_channels = 10``,
            ``out_channels = 9``, :class:`raxel_core.model.ChannelConcatModel`), see
            :func:`raxel_core.rays.codecs.codec_for`; or ``"camera_tokens"`` (CamViG's camera tokens,
            :class:`raxel_core.rays.token_codec.CameraTokenCodec`; the model needs ``ray_in_channels = 10``).
        wan_checkpoint: a Wan 2.1 text-to-video checkpoint (safetensors, diffusers or Wan / ComfyUI layout)
            loaded into the video branch and copied into the ray branch when training starts afresh
            (:func:`raxel_core.model.load_wan_weights`); the full-size recipe, ``docs/full_size_training.md``.
        vae: diffusers folder of Wan 2.1's VAE; required by a latent model (``in_channels`` 16): video and
            raxel images are encoded on the fly (:class:`raxel_core.diffusion.full_size.LatentBatches`).
        text_embedding: safetensors file with the text states ``(L, text_dim)`` every clip is trained with
            (a model with text cross-attention); ``None``: one zero token
            (:func:`raxel_core.diffusion.full_size.text_states`).
    """

    model: dict = field(default_factory=lambda: {"preset": "small"})
    dataset: dict = field(default_factory=lambda: {"kind": "synthetic"})
    num_frames: int = 9
    image_size: tuple[int, int] = (64, 96)
    steps: int = 20000
    batch_size: int = 8
    learning_rate: float = 2e-4
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.99)
    warmup_steps: int = 500
    grad_clip: float = 1.0
    mode_probabilities: dict = field(default_factory=lambda: {"pose": 1 / 3, "video": 1 / 3, "joint": 1 / 3})
    num_source_frames: int = 1
    random_source_probability: float = 0.5
    reverse_probability: float = 0.5
    noise_levels: str = "per_stream"
    t_sampling: str = "logit_normal"
    pose_t_levels: tuple[float, ...] = ()
    pose_t_level_probability: float = 0.5
    cosine_weight: float = 0.5
    checkpoint_dir: str = "checkpoints/small"
    checkpoint_interval: int = 1000
    keep_checkpoints: int = 3
    log_interval: int = 20
    seed: int = 0
    mixed_precision: str = "no"
    fsdp: bool = False
    gradient_checkpointing: bool = False
    num_workers: int = 0
    init_from: str | None = None
    ray_representation: str = "raxel"
    wan_checkpoint: str | None = None
    vae: str | None = None
    text_embedding: str | None = None

    def __post_init__(self):
        self.image_size = tuple(int(v) for v in self.image_size)
        self.betas = tuple(float(v) for v in self.betas)
        self.pose_t_levels = tuple(float(v) for v in self.pose_t_levels)
        if any(not 0.0 <= v < 1.0 for v in self.pose_t_levels):
            raise ValueError(f"pose_t_levels are paper times in [0, 1) (0 = pure noise, 1 = clean); "
                             f"got {list(self.pose_t_levels)}")
        if not 0.0 <= float(self.pose_t_level_probability) <= 1.0:
            raise ValueError(f"pose_t_level_probability must be in [0, 1]; got {self.pose_t_level_probability!r}")
        if len(self.image_size) != 2 or min(self.image_size) < 1:
            raise ValueError(f"image_size must be (H, W) positive pixels; got {self.image_size}")
        for name in ("steps", "batch_size", "num_frames", "checkpoint_interval", "log_interval"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"train config {name} must be >= 1; got {getattr(self, name)!r}")
        unknown = sorted(set(self.mode_probabilities) - set(MODES))
        probs = [float(self.mode_probabilities.get(m, 0.0)) for m in MODES]
        if unknown or min(probs) < 0 or sum(probs) <= 0:
            raise ValueError(f"mode_probabilities must map some of {MODES} to non-negative numbers with a "
                             f"positive sum; got {self.mode_probabilities}")
        if self.noise_levels not in NOISE_LEVELS:
            raise ValueError(f"noise_levels must be one of {NOISE_LEVELS}; got {self.noise_levels!r}")
        if self.t_sampling not in T_SAMPLINGS:
            raise ValueError(f"t_sampling must be one of {T_SAMPLINGS}; got {self.t_sampling!r}")
        if self.mixed_precision not in ("no", "bf16", "fp16"):
            raise ValueError(f"mixed_precision must be 'no', 'bf16' or 'fp16'; got {self.mixed_precision!r}")
        if self.ray_representation not in RAY_REPRESENTATIONS:
            raise ValueError(f"ray_representation must be one of {RAY_REPRESENTATIONS}; "
                             f"got {self.ray_representation!r}")
        if not 1 <= self.num_source_frames < self.num_frames:
            raise ValueError(f"num_source_frames must be in [1, num_frames - 1]; got {self.num_source_frames}")

    @classmethod
    def from_json(cls, path_or_text) -> TrainConfig:
        """From a JSON file path or JSON text. ``ValueError`` on bad JSON or an unknown field."""
        text = str(path_or_text)
        if not text.lstrip().startswith("{"):
            path = Path(text)
            if not path.is_file():
                raise ValueError(f"training config {path} does not exist")
            text = path.read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"training config is not valid JSON: {err}") from None
        if not isinstance(data, dict):
            raise ValueError(f"a training config is a JSON object of fields; got a {type(data).__name__} "
                             "(see configs/train_tiny.json)")
        data.pop("_comment", None)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"training config has unknown fields {unknown}; known: {sorted(known)}")
        try:
            return cls(**data)
        except (TypeError, ValueError) as err:   # int("many") and the like: say it is the config
            raise ValueError(f"training config: {err}; compare the field types with configs/train_tiny.json") from None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    def model_config(self):
        """The :class:`JointModelConfig` of :attr:`model`."""
        from ..model import JointModelConfig

        spec = dict(self.model)
        preset = spec.pop("preset", None)
        if preset is None:
            return JointModelConfig.from_dict(spec)
        if preset not in ("tiny", "small", "wan21_1_3b"):
            raise ValueError(f"unknown model preset {preset!r}; use 'tiny', 'small' or 'wan21_1_3b'")
        return getattr(JointModelConfig, preset)(**spec)


# ----------------------------------------------------------------------------------- examples
def _mode_for(u: float, config: TrainConfig) -> int:
    probs = torch.tensor([float(config.mode_probabilities.get(m, 0.0)) for m in MODES])
    cum = torch.cumsum(probs / probs.sum(), 0)
    return int(min((cum <= u).sum().item(), len(MODES) - 1))


class TrainingExamples(torch.utils.data.Dataset):
    """Example ``k`` of a run, deterministic from ``(seed, k)`` (module docstring).

    Returns a dict: ``video`` ``(3, F, H, W)`` and ``rays`` ``(3, F, h, w)`` clean data in ``[-1, 1]``;
    ``video_noise`` / ``ray_noise`` (``x_0``, same shapes); ``video_t`` / ``ray_t`` ``(F,)`` paper
    times (1 = clean conditioning frame); ``mode`` (index into :data:`MODES`); ``clip`` index.
    """

    def __init__(self, clips, config: TrainConfig):
        self.clips, self.config = clips, config
        self.codec = codec_for(config.model_config())        # the ray stream the model denoises

    def __len__(self) -> int:           # examples are addressed by an unbounded index
        return sys.maxsize

    def __getitem__(self, k: int) -> dict[str, Any]:
        c = self.config
        g = torch.Generator().manual_seed(int(c.seed) * 1_000_003 + int(k) + 1)
        clip_index = int(torch.randint(len(self.clips), (1,), generator=g))
        mode = _mode_for(float(torch.rand(1, generator=g)), c)
        clip = self.clips[clip_index]
        n = clip.video.shape[0]
        source = (int(torch.randint(n, (1,), generator=g))
                  if float(torch.rand(1, generator=g)) < c.random_source_probability else 0)
        reverse = float(torch.rand(1, generator=g)) < c.reverse_probability
        clip = augment_clip(clip, source=source, reverse=reverse)
        grid = self.codec.grid_size(tuple(clip.video.shape[-2:]))
        clip = replace(clip, rays=self.codec.encode(clip.cameras, grid, reference=0))
        video_clean, rays_clean = clean_masks(MODES[mode], n, n, c.num_source_frames)
        video_t = frame_times(video_clean, g, c.noise_levels, c.t_sampling)
        ray_t = frame_times(rays_clean, g, c.noise_levels, c.t_sampling)
        if MODES[mode] == "pose" and c.pose_t_levels:   # drawn only when set: older runs replay unchanged
            if float(torch.rand(1, generator=g)) < c.pose_t_level_probability:
                level = c.pose_t_levels[int(torch.randint(len(c.pose_t_levels), (1,), generator=g))]
                ray_t = torch.where(rays_clean, ray_t, torch.full_like(ray_t, level))
        video = clip.video.permute(1, 0, 2, 3).contiguous()
        rays = clip.rays.permute(1, 0, 2, 3).contiguous()
        return {
            "video": video, "rays": rays,
            "video_noise": torch.randn(video.shape, generator=g), "ray_noise": torch.randn(rays.shape, generator=g),
            "video_t": video_t, "ray_t": ray_t, "mode": mode, "clip": clip_index,
        }


class _ExampleIndices(torch.utils.data.Sampler):
    """Indices ``((step * processes + rank) * batch + i)`` for steps from ``start`` to ``stop``."""

    def __init__(self, start: int, stop: int, batch: int, rank: int, processes: int):
        self.start, self.stop, self.batch, self.rank, self.processes = start, stop, batch, rank, processes

    def __iter__(self):
        for step in range(self.start, self.stop):
            base = (step * self.processes + self.rank) * self.batch
            yield from range(base, base + self.batch)

    def __len__(self) -> int:
        return (self.stop - self.start) * self.batch


def collate(examples: list[dict]) -> dict[str, torch.Tensor]:
    """Stack examples into a batch (``mode`` / ``clip`` as ``(B,)`` int64)."""
    return {k: torch.stack([e[k] for e in examples]) if isinstance(examples[0][k], torch.Tensor)
            else torch.tensor([e[k] for e in examples]) for k in examples[0]}


def batch_loss(model, batch: dict, cosine_weight: float = 0.5):
    """Per-example loss ``(B,)`` of a collated batch (on the model's device)."""
    nb = noise_batch(batch["video"], batch["rays"], batch["video_noise"], batch["ray_noise"],
                     batch["video_t"], batch["ray_t"])
    loss, _, _ = joint_loss(model, nb, cosine_weight, batch.get("text"))
    return loss


def training_step(model, optimizer, batch: dict, cosine_weight: float = 0.5, grad_clip: float = 0.0,
                  accelerator=None) -> torch.Tensor:
    """One optimizer step on ``batch``; returns the per-example loss ``(B,)`` (detached)."""
    model.train()
    if accelerator is not None:
        with accelerator.autocast():
            per_example = batch_loss(model, batch, cosine_weight)
    else:
        per_example = batch_loss(model, batch, cosine_weight)
    loss = per_example.mean()
    optimizer.zero_grad(set_to_none=True)
    if accelerator is not None:
        accelerator.backward(loss)
        if grad_clip > 0:
            accelerator.clip_grad_norm_(model.parameters(), grad_clip)
    else:
        loss.backward()
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return per_example.detach()


# ----------------------------------------------------------------------------------- training
@dataclass
class TrainResult:
    """``step`` reached, the last logged losses per mode, the last checkpoint, log file."""

    step: int
    last_losses: dict
    checkpoint: Path | None
    log_path: Path


def _progress_bar(total: int, initial: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, desc="train", unit="step", dynamic_ncols=True)


def train(config: TrainConfig, resume: bool = True, accelerator=None, log=print) -> TrainResult:
    """Train (or resume training) the joint model; see the module docstring.

    Args:
        config: the run (:class:`TrainConfig`).
        resume: continue from the latest complete checkpoint in ``config.checkpoint_dir`` when
            there is one (its model config must match).
        accelerator: an ``accelerate.Accelerator`` to use; default one built from the config
            (mixed precision, FSDP plugin when ``config.fsdp``).
        log: where console lines go (main process only).
    Returns:
        :class:`TrainResult`.
    Raises:
        ValueError: a bad config or dataset, or a checkpoint for another model config.
    """
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    from ..model import ChannelConcatModel, JointTransformer, is_channel_concat, load_wan_weights
    from ..model.channel_concat import uses_pixels

    for name in ("wan_checkpoint", "vae", "text_embedding"):   # before an accelerator or a large model is built
        if getattr(config, name) and not Path(getattr(config, name)).exists():
            raise ValueError(f"{name} {getattr(config, name)} does not exist; fix the path in the training config "
                             "(docs/full_size_training.md)")
    if not uses_pixels(config.model_config()) and not config.vae:
        raise ValueError("a latent model (in_channels 16) trains on Wan 2.1 VAE latents: set vae to the VAE's "
                         "diffusers folder (see docs/full_size_training.md)")
    if accelerator is None:
        kwargs = {"mixed_precision": config.mixed_precision}
        if config.fsdp:
            from accelerate import FullyShardedDataParallelPlugin

            kwargs["fsdp_plugin"] = FullyShardedDataParallelPlugin()
        accelerator = Accelerator(**kwargs)
    main = accelerator.is_main_process
    model_config = config.model_config()
    latent = not uses_pixels(model_config)                         # Wan VAE latents: the full-size path
    if (latent and config.ray_representation != "raxel") or (
            not latent and ray_representation_for(model_config) != config.ray_representation):
        needs = {"raxel": "ray_in_channels 3", "plucker": "ray_in_channels 6",
                 "plucker_concat": "in_channels 10 and out_channels 9",
                 "camera_tokens": "ray_in_channels 10"}[config.ray_representation]
        raise ValueError(f"ray_representation {config.ray_representation!r} needs a model with {needs}; the model "
                         f"config has in_channels {model_config.in_channels}, out_channels "
                         f"{model_config.video_out_channels}, ray_in_channels {model_config.ray_in_channels}")
    if is_channel_concat(model_config) and config.fsdp:
        raise ValueError("the channel-concat ablation trains without FSDP (set fsdp to false)")
    root = Path(config.checkpoint_dir)
    log_path = root / LOG_NAME

    start_step, checkpoint = 0, latest_checkpoint(root) if resume else None
    set_seed(config.seed)
    if checkpoint is not None:
        model = JointTransformer.from_pretrained(checkpoint / "model")
        if model.config != model_config:
            raise ValueError(f"checkpoint {checkpoint} holds a model with another config than {config.model}; "
                             "use a new checkpoint_dir or resume=False")
        start_step = json.loads((checkpoint / "state.json").read_text(encoding="utf-8"))["step"]
    elif config.init_from:                  # the weights into this run's config (e.g. a new cross_attention_locality)
        model = JointTransformer.from_pretrained(config.init_from, config=model_config)
    else:
        model = JointTransformer(model_config)
        if config.wan_checkpoint:
            layout = load_wan_weights(model, config.wan_checkpoint)
            if main:
                log(f"video branch from Wan checkpoint {config.wan_checkpoint} ({layout} layout), ray branch copied")
    model.gradient_checkpointing = bool(config.gradient_checkpointing)
    if is_channel_concat(model_config):
        model = ChannelConcatModel(model)

    clips = make_dataset(config.dataset, config.num_frames, config.image_size, model_config.raxel_downscale)
    examples = TrainingExamples(clips, config)
    to_latents = None
    if latent:
        from .full_size import LatentBatches, load_vae, text_states

        text = text_states(config.text_embedding, model_config.text_dim) if model_config.text_cross_attention else None
        to_latents = LatentBatches(load_vae(config.vae, accelerator.device, config.mixed_precision), model_config,
                                   config, text, accelerator.process_index)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, betas=config.betas,
                                  weight_decay=config.weight_decay)
    model, optimizer = accelerator.prepare(model, optimizer)
    if checkpoint is not None:
        optim_state = load_optimizer_state(checkpoint)
        if config.fsdp:                                                # full (named) state -> this rank's shard
            from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

            optim_state = FSDP.optim_state_dict_to_load(model, optimizer.optimizer, optim_state)
        optimizer.load_state_dict(optim_state)
        if main:
            log(f"resuming from {checkpoint} at step {start_step}")
    if start_step >= config.steps:
        return TrainResult(start_step, {}, checkpoint, log_path)

    loader = torch.utils.data.DataLoader(
        examples, batch_size=config.batch_size, collate_fn=collate, num_workers=config.num_workers,
        sampler=_ExampleIndices(start_step, config.steps, config.batch_size, accelerator.process_index,
                                accelerator.num_processes),
    )
    if main:
        root.mkdir(parents=True, exist_ok=True)
        log(f"training {model_config.num_layers}-layer model ({sum(p.numel() for p in model.parameters()):,} "
            f"parameters) on {len(clips)} clips, {accelerator.num_processes} process(es) on "
            f"{accelerator.device}, steps {start_step} -> {config.steps}")
    bar = _progress_bar(config.steps, start_step, main)
    sums = torch.zeros(len(MODES), 2, device=accelerator.device)       # per mode: loss sum, count
    last_losses: dict = {}
    tick = time.perf_counter()
    step = start_step
    for batch in loader:
        batch = {k: v.to(accelerator.device) for k, v in batch.items()}
        if to_latents is not None:
            batch = to_latents(batch, step)
        for group in optimizer.param_groups:                          # linear warm-up
            group["lr"] = config.learning_rate * min(1.0, (step + 1) / max(1, config.warmup_steps))
        per_example = training_step(model, optimizer, batch, config.cosine_weight, config.grad_clip, accelerator)
        step += 1
        sums.index_add_(0, batch["mode"], torch.stack([per_example.float(), torch.ones_like(per_example.float())], 1))
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{per_example.mean().item():.4f}")
        if step % config.log_interval == 0 or step == config.steps:
            total = accelerator.reduce(sums, reduction="sum")
            elapsed = time.perf_counter() - tick
            last_losses = {m: (total[i, 0] / total[i, 1]).item() for i, m in enumerate(MODES) if total[i, 1] > 0}
            all_count = total[:, 1].sum().clamp_min(1)
            record = {"step": step, "loss": (total[:, 0].sum() / all_count).item(),
                      **{f"loss_{m}": v for m, v in last_losses.items()},
                      "examples": {m: int(total[i, 1]) for i, m in enumerate(MODES)},
                      "lr": optimizer.param_groups[0]["lr"], "seconds_per_step": elapsed / config.log_interval}
            if main:
                with log_path.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(record) + "\n")
                line = (f"step {step}/{config.steps} loss {record['loss']:.4f} "
                        + " ".join(f"{m} {v:.4f}" for m, v in last_losses.items())
                        + f" ({record['seconds_per_step']:.2f} s/step)")
                (bar.write if bar is not None else log)(line)
            sums.zero_()
            tick = time.perf_counter()
        if step % config.checkpoint_interval == 0 or step == config.steps:
            checkpoint = save_checkpoint(accelerator, model, optimizer, config, step)
    if bar is not None:
        bar.close()
    return TrainResult(step, last_losses, checkpoint, log_path)


