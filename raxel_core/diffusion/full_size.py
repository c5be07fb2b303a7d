"""The full-size path: the joint model on Wan 2.1 VAE latents, started from a Wan 2.1 checkpoint.

Rays as Pixels (arXiv 2604.09429, Sec. 3.2-3.4) fine-tunes Wan 2.1 with a ray branch: video frames and
raxel images go through Wan's frozen VAE (video: 4x temporal compression; raxels: one latent per
camera), the video branch starts from Wan's weights and the ray branch from a copy of them
(:func:`raxel_core.model.load_wan_weights`). This module holds what :func:`raxel_core.diffusion.training.train`
needs for that beside its pixel-space path:

* :class:`LatentBatches`: a pixel batch of :class:`~raxel_core.diffusion.training.TrainingExamples`
  (video and raxel stream in ``[-1, 1]``) -> the same examples in the VAE's latent space, with the noise
  and the per-frame times drawn again at the latent shapes (the same task per example; deterministic in
  ``(seed, step, rank, example)``), and the text states;
* :func:`text_states`: the text-encoder states every clip is trained with. A folder prepared by
  ``raxel prepare`` has no captions, so one fixed embedding is used for all clips: a safetensors file
  with a ``(L, text_dim)`` tensor (e.g. Wan's umT5 states of your prompt or of the empty prompt,
  computed once with ComfyUI or diffusers), or, when none is given, one zero token (training then
  ignores the text: Wan's text cross-attention sees a constant);
* :func:`estimate_memory`: bytes per GPU of a training config (parameters, gradients, AdamW states,
  activations with or without gradient checkpointing, the frozen VAE, the text states), printed by
  ``raxel train CONFIG --estimate-memory``.

The recipe (config, command, memory) is in ``docs/full_size_training.md``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .flow_matching import MODES, clean_masks, frame_times
from .latent_space import check_latent_space, latent_frames

#: Spatial downsampling of Wan 2.1's VAE (8x8 per latent pixel), used by the memory estimate.
WAN_VAE_SPATIAL = 8
#: Parameters of Wan 2.1's VAE (diffusers ``AutoencoderKLWan``, base_dim 96), for the memory estimate.
WAN_VAE_PARAMETERS = 126_892_531
#: Text tokens Wan's pipeline pads umT5 states to.
WAN_TEXT_TOKENS = 512


def text_states(path: str | Path | None, text_dim: int) -> torch.Tensor:
    """``(1, L, text_dim)`` float32 text states for every clip (module docstring).

    Args:
        path: safetensors file with one tensor ``(L, text_dim)`` or ``(1, L, text_dim)``; ``None``: one
            zero token.
    Raises:
        ValueError: a missing file, not one tensor, or another width than ``text_dim``.
    """
    if path is None:
        return torch.zeros(1, 1, text_dim)
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"text_embedding {path} does not exist; give a safetensors file with the umT5 states "
                         "(L, 4096) of your prompt, or leave text_embedding null")
    tensors = load_file(str(path))
    if len(tensors) != 1:
        raise ValueError(f"text_embedding {path} must hold one tensor (L, {text_dim}); it holds {sorted(tensors)}")
    states = next(iter(tensors.values())).float()
    states = states[None] if states.ndim == 2 else states
    if states.ndim != 3 or states.shape[0] != 1 or states.shape[2] != text_dim:
        raise ValueError(f"text_embedding {path} must be (L, {text_dim}); got {tuple(states.shape)}")
    return states


def load_vae(path: str | Path, device, mixed_precision: str = "no"):
    """The frozen Wan 2.1 VAE of a diffusers folder as a latent space
    (:class:`raxel_core.diffusion.latent_space.DiffusersWanVAE`), on ``device``, bf16 / fp16 under mixed
    precision. ``ValueError`` for a missing folder."""
    from .latent_space import DiffusersWanVAE

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(mixed_precision, torch.float32)
    space = DiffusersWanVAE.from_pretrained(path, device=device, dtype=dtype)
    for p in space.vae.parameters():
        p.requires_grad_(False)
    return space


class LatentBatches:
    """Pixel training batches -> latent ones (module docstring).

    Args:
        space: the latent space (a :class:`~raxel_core.diffusion.latent_space.DiffusersWanVAE`).
        model_config: the model's :class:`~raxel_core.model.JointModelConfig` (checked against ``space``).
        config: the :class:`~raxel_core.diffusion.training.TrainConfig` (seed, noise levels, t sampling,
            source frames).
        text: ``(1, L, text_dim)`` states (:func:`text_states`) or ``None`` for a model without text.
        rank: this process's index (draws differ per process).
    Raises:
        ValueError: a model that does not fit the space, or ``num_source_frames`` that do not fill whole
            latent frames.
    """

    def __init__(self, space, model_config, config, text: torch.Tensor | None, rank: int = 0):
        check_latent_space(model_config, space)
        self.space, self.config, self.text, self.rank = space, config, text, rank
        self.num_source = latent_frames(config.num_source_frames, space.temporal_factor)

    def __call__(self, batch: dict, step: int) -> dict:
        """``batch`` (pixel streams on any device) -> latent streams, new noise and times, ``text``; on the
        device of ``batch["video"]``."""
        c, device = self.config, batch["video"].device
        out = {k: [] for k in ("video", "rays", "video_noise", "ray_noise", "video_t", "ray_t")}
        size = batch["video"].shape[0]
        for b in range(size):
            g = torch.Generator().manual_seed(int(c.seed) * 1_000_003 + 7_919 * ((step * 65_536 + self.rank) * size + b)
                                              + 11)
            video = self.space.encode_video(batch["video"][b].float().cpu())
            rays = self.space.encode_images(batch["rays"][b].float().cpu())
            video_clean, rays_clean = clean_masks(MODES[int(batch["mode"][b])], video.shape[1], rays.shape[1],
                                                  self.num_source)
            out["video_t"].append(frame_times(video_clean, g, c.noise_levels, c.t_sampling))
            out["ray_t"].append(frame_times(rays_clean, g, c.noise_levels, c.t_sampling))
            out["video"].append(video)
            out["rays"].append(rays)
            out["video_noise"].append(torch.randn(video.shape, generator=g))
            out["ray_noise"].append(torch.randn(rays.shape, generator=g))
        result = {k: torch.stack(v).to(device) for k, v in out.items()}
        result["mode"], result["clip"] = batch["mode"], batch["clip"]
        if self.text is not None:
            result["text"] = self.text.expand(size, -1, -1).to(device)
        return result


# ----------------------------------------------------------------------------------- memory
@dataclass
class MemoryEstimate:
    """Bytes per GPU of one training process (:func:`estimate_memory`); ``rows`` in print order."""

    parameters: int
    trainable: int
    tokens_video: int
    tokens_rays: int
    rows: list[tuple[str, float, str]]

    @property
    def total(self) -> float:
        return sum(r[1] for r in self.rows)


def count_parameters(model_config) -> int:
    """Exact parameter count of a :class:`~raxel_core.model.JointTransformer` (built on the meta device)."""
    from ..model import JointTransformer

    with torch.device("meta"):
        model = JointTransformer(model_config)
    return sum(p.numel() for p in model.parameters())


def token_counts(model_config, num_frames: int, image_size: tuple[int, int], spatial: int) -> tuple[int, int]:
    """``(video tokens, ray tokens)`` of one clip: latent grid / patch (raxels at ``1 / raxel_downscale``,
    one latent per camera; video with the model's temporal compression)."""
    c = model_config
    h, w = image_size
    fv = latent_frames(num_frames, c.video_temporal_compression)
    video = (fv // c.patch_size[0]) * (h // spatial // c.patch_size[1]) * (w // spatial // c.patch_size[2])
    rh, rw = h // c.raxel_downscale // spatial, w // c.raxel_downscale // spatial
    rays = (num_frames // c.ray_patch_size[0]) * (rh // c.ray_patch_size[1]) * (rw // c.ray_patch_size[2])
    return video, rays


def estimate_memory(config, num_processes: int = 1, video_only: bool = False) -> MemoryEstimate:
    """Memory per GPU of training ``config`` (a :class:`~raxel_core.diffusion.training.TrainConfig`) on
    ``num_processes`` GPUs, computed from the shapes (not measured).

    * parameters fp32 (accelerate keeps fp32 weights; mixed precision computes in bf16 / fp16), gradients
      fp32, AdamW ``exp_avg`` + ``exp_avg_sq`` fp32: 16 bytes a parameter; divided by ``num_processes``
      under FSDP (full sharding), not under DDP (which adds one fp32 gradient bucket copy: 4 more bytes);
    * activations, per example: with gradient checkpointing, each block's input kept (the residual stream
      of both branches, fp32, ``(Lv + Lr) dim``), plus one block recomputed in the backward pass; without,
      every block's working set. A block's working set, per token and branch, is counted as
      ``16 dim + 3 ffn`` elements at the compute width (norm outputs, q k v and outputs of the self-,
      cross- and text attention, FFN hidden and activation; memory-efficient attention, no L x L matrix);
    * the frozen Wan VAE's weights at the compute width and the text states (umT5, 512 x 4096).

    ``video_only``: the same for Wan alone (no ray branch, no ray tokens), the baseline of the cost ratio.
    The VAE's own encode working set and the CUDA context / allocator slack (~1-3 GiB) are not counted.
    """
    from ..model.wan_weights import is_wan_parameter

    mc = config.model_config()
    compute_bytes = 2 if config.mixed_precision in ("bf16", "fp16") else 4
    latent = mc.in_channels != 3
    spatial = WAN_VAE_SPATIAL if latent else 1
    lv, lr = token_counts(mc, config.num_frames, tuple(config.image_size), spatial)
    if video_only:
        from ..model import JointTransformer

        with torch.device("meta"):
            model = JointTransformer(mc)
        params = sum(p.numel() for n, p in model.named_parameters() if is_wan_parameter(n))
        lr = 0
    else:
        params = count_parameters(mc)
    fsdp = bool(config.fsdp) and num_processes > 1
    shard = num_processes if fsdp else 1
    rows = [("weights (fp32)", 4 * params / shard, "sharded by FSDP" if fsdp else "replicated"),
            ("gradients (fp32)", 4 * params / shard, "sharded by FSDP" if fsdp else "replicated"),
            ("AdamW states (2 x fp32)", 8 * params / shard, "sharded by FSDP" if fsdp else "replicated")]
    if not fsdp and num_processes > 1:
        rows.append(("DDP gradient buckets (fp32)", 4 * params, "DDP"))
    b, dim, layers = config.batch_size, mc.dim, mc.num_layers
    tokens = lv + lr
    block = b * (lv * (16 * dim + 3 * mc.ffn_dim) + lr * (16 * dim + 3 * mc.ray_ffn_width)) * compute_bytes
    if config.gradient_checkpointing:
        rows.append(("activations: block inputs kept", b * tokens * dim * 4 * layers,
                     f"{layers} blocks x {tokens:,} tokens x {dim} x fp32 x batch {b}"))
        rows.append(("activations: one block recomputed", block, "16 dim + 3 ffn a token"))
    else:
        rows.append(("activations: every block", block * layers, f"{layers} blocks, 16 dim + 3 ffn a token"))
    if latent:
        rows.append(("frozen VAE weights", WAN_VAE_PARAMETERS * compute_bytes, "Wan 2.1 VAE"))
    if mc.text_cross_attention:
        rows.append(("text states", b * WAN_TEXT_TOKENS * mc.text_dim * compute_bytes, "512 x text_dim"))
    return MemoryEstimate(params, params, lv, lr, rows)


def format_memory(config, num_processes: int = 1) -> str:
    """The estimate of :func:`estimate_memory` as a Markdown table, with the video-only baseline and their
    ratio (what ``raxel train CONFIG --estimate-memory`` prints)."""
    est = estimate_memory(config, num_processes)
    base = estimate_memory(config, num_processes, video_only=True)
    gib = 2.0 ** 30
    mode = ("FSDP" if config.fsdp else "DDP") if num_processes > 1 else "1 process"
    lines = [f"Memory estimate per GPU (computed from the shapes, not measured): {num_processes} GPU(s), {mode}, "
             f"mixed precision {config.mixed_precision}, gradient checkpointing "
             f"{'on' if config.gradient_checkpointing else 'off'}, batch {config.batch_size} per GPU, "
             f"{config.num_frames} frames of {config.image_size[0]}x{config.image_size[1]}",
             f"joint model: {est.parameters / 1e9:.3f} B parameters, {est.tokens_video:,} video + "
             f"{est.tokens_rays:,} ray tokens a clip; video only (Wan): {base.parameters / 1e9:.3f} B parameters",
             "", "| part | joint (GiB) | video only (GiB) | note |", "|---|---|---|---|"]
    base_rows = {r[0]: r[1] for r in base.rows}
    for name, value, note in est.rows:
        lines.append(f"| {name} | {value / gib:.2f} | {base_rows.get(name, 0.0) / gib:.2f} | {note} |")
    lines.append(f"| **total** | **{est.total / gib:.2f}** | **{base.total / gib:.2f}** | "
                 f"joint / video only {est.total / base.total:.2f}x |")
    lines.append("Not counted: the VAE's encode working set, CUDA context and allocator slack (~1-3 GiB).")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------- compute
def forward_flops(model_config, num_frames: int, image_size: tuple[int, int], spatial: int = WAN_VAE_SPATIAL,
                  text_tokens: int = WAN_TEXT_TOKENS, video_only: bool = False) -> dict[str, int]:
    """Matrix-multiply FLOPs (2 per multiply-add) of one forward pass of :class:`~raxel_core.model.JointTransformer`
    on one clip, from the shapes: ``{"projections": ..., "attention": ..., "total": ...}``; ``video_only``:
    the video branch alone (``rays=None``, Wan's computation).

    Per DSCA block (Rays as Pixels Sec. 3.3; ``L`` tokens of a branch, ``d`` width, ``f`` FFN width,
    ``T`` text tokens), multiply-adds: self-attention projections ``4 L d^2``, scores and values
    ``2 L^2 d``; text cross-attention (video; rays only with ``ray_text_cross_attention``) ``2 L d^2 + 2 T d^2``
    and ``2 L T d``; the DSCA cross-attention, each way, ``2 L_q d^2 + 2 L_kv d^2`` and ``2 L_q L_kv d``;
    FFN ``2 L d f``. Plus the patch embedding and the output head, ``L d C p`` each. Norms, modulation,
    RoPE and the per-frame timestep embedding are left out (< 1 % at Wan's shapes). The projections are
    checked against ``torch.utils.flop_counter`` in ``tests/test_full_size_recipe.py``.
    """
    c = model_config
    lv, lr = token_counts(c, num_frames, image_size, spatial)
    d, t = c.dim, (text_tokens if c.text_cross_attention else 0)
    pv = c.patch_size[0] * c.patch_size[1] * c.patch_size[2]
    pr = c.ray_patch_size[0] * c.ray_patch_size[1] * c.ray_patch_size[2]
    proj = c.num_layers * (4 * lv * d * d + 2 * lv * d * c.ffn_dim + (2 * lv * d * d + 2 * t * d * d if t else 0))
    attn = c.num_layers * (2 * lv * lv * d + 2 * lv * t * d)
    proj += lv * d * pv * (c.in_channels + c.video_out_channels)
    if not video_only:
        ray_text = t if c.ray_text_cross_attention else 0
        proj += c.num_layers * (4 * lr * d * d + 2 * lr * d * c.ray_ffn_width
                                + (2 * lr * d * d + 2 * ray_text * d * d if ray_text else 0))
        attn += c.num_layers * (2 * lr * lr * d + 2 * lr * ray_text * d)
        proj += c.num_layers * 2 * (2 * lv * d * d + 2 * lr * d * d)       # DSCA cross-attention, both ways
        attn += c.num_layers * 2 * (2 * lv * lr * d)
        proj += lr * d * pr * (c.ray_in_channels + c.rays_out_channels)
    return {"projections": 2 * proj, "attention": 2 * attn, "total": 2 * (proj + attn)}
