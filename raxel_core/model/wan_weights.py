"""Wan 2.1 text-to-video checkpoints into the video branch of :class:`JointTransformer`.

Two key layouts are read:

* ``"diffusers"``: ``WanTransformer3DModel`` names (``blocks.N.attn1.to_q.weight``,
  ``condition_embedder.time_embedder.linear_1.weight``, ``proj_out.weight`` ...), e.g. the
  ``transformer/`` folder of ``Wan-AI/Wan2.1-T2V-1.3B-Diffusers``;
* ``"wan"``: the original Wan / ComfyUI names (``blocks.N.self_attn.q.weight``, ``norm_q``,
  ``cross_attn.*``, ``norm3`` (the affine text cross-attention norm), ``ffn.0`` / ``ffn.2``,
  ``modulation``, ``head.head``, ``head.modulation``, ``patch_embedding``, ``text_embedding.0/2``,
  ``time_embedding.0/2``, ``time_projection.1``), optionally under ``model.diffusion_model.``, e.g.
  ComfyUI's ``wan2.1_t2v_1.3B_fp16.safetensors``. Converted to diffusers names with diffusers' own
  ``convert_wan_transformer_to_diffusers``.

The video branch is loaded strictly (every Wan parameter present with its shape, nothing left
over); the ray branch is then initialised from the video branch where shapes match (the paper
copies Wan's weights into the ray branch, Rays as Pixels Sec. 3.3) and the video<->ray
cross-attention output projections are zeroed, so the joint model starts by computing Wan.
Image-to-video checkpoints (CLIP image cross-attention) and fp8-scaled files are refused.
"""
from __future__ import annotations

import re
from pathlib import Path

import torch
from safetensors.torch import load_file

from .joint_transformer import JointTransformer, check_state_dict

WAN_LAYOUTS = ("diffusers", "wan")
_PREFIXES = ("model.diffusion_model.", "diffusion_model.")

# diffusers name -> original Wan / ComfyUI name (exact, anchored rules; the inverse of diffusers'
# convert_wan_transformer_to_diffusers for the text-to-video model).
_DIFFUSERS_TO_WAN = [
    (r"^condition_embedder\.time_embedder\.linear_1\.", "time_embedding.0."),
    (r"^condition_embedder\.time_embedder\.linear_2\.", "time_embedding.2."),
    (r"^condition_embedder\.text_embedder\.linear_1\.", "text_embedding.0."),
    (r"^condition_embedder\.text_embedder\.linear_2\.", "text_embedding.2."),
    (r"^condition_embedder\.time_proj\.", "time_projection.1."),
    (r"^patch_embedding\.", "patch_embedding."),
    (r"^proj_out\.", "head.head."),
    (r"^scale_shift_table$", "head.modulation"),
    (r"^blocks\.(\d+)\.attn1\.to_(q|k|v)\.", r"blocks.\1.self_attn.\2."),
    (r"^blocks\.(\d+)\.attn1\.to_out\.0\.", r"blocks.\1.self_attn.o."),
    (r"^blocks\.(\d+)\.attn1\.norm_(q|k)\.", r"blocks.\1.self_attn.norm_\2."),
    (r"^blocks\.(\d+)\.attn2\.to_(q|k|v)\.", r"blocks.\1.cross_attn.\2."),
    (r"^blocks\.(\d+)\.attn2\.to_out\.0\.", r"blocks.\1.cross_attn.o."),
    (r"^blocks\.(\d+)\.attn2\.norm_(q|k)\.", r"blocks.\1.cross_attn.norm_\2."),
    (r"^blocks\.(\d+)\.norm2\.", r"blocks.\1.norm3."),
    (r"^blocks\.(\d+)\.ffn\.net\.0\.proj\.", r"blocks.\1.ffn.0."),
    (r"^blocks\.(\d+)\.ffn\.net\.2\.", r"blocks.\1.ffn.2."),
    (r"^blocks\.(\d+)\.scale_shift_table$", r"blocks.\1.modulation"),
]

# diffusers name -> JointTransformer name (video branch)
_DIFFUSERS_TO_JOINT = [
    (r"^patch_embedding\.", "video.patch_embedding."),
    (r"^condition_embedder\.time_embedder\.", "video.time_embedder."),
    (r"^condition_embedder\.time_proj\.", "video.time_proj."),
    (r"^condition_embedder\.text_embedder\.", "text_embedder."),
    (r"^proj_out\.", "video.proj_out."),
    (r"^scale_shift_table$", "video.scale_shift_table"),
    (r"^blocks\.(\d+)\.(attn1|attn2|norm2|ffn)\.", r"blocks.\1.video.\2."),
    (r"^blocks\.(\d+)\.scale_shift_table$", r"blocks.\1.video.scale_shift_table"),
]

_IMAGE_TO_VIDEO_MARKERS = ("img_emb", "k_img", "v_img", "image_embedder", "add_k_proj", "add_v_proj",
                           "norm_added_k")


def _rename(key: str, rules, what: str) -> str:
    for pattern, replacement in rules:
        new, n = re.subn(pattern, replacement, key)
        if n:
            return new
    raise ValueError(f"{what}: parameter {key!r} is not part of a Wan 2.1 text-to-video transformer; "
                     "is this a Wan 2.1 T2V checkpoint (not I2V, VACE, Wan 2.2, a LoRA or an fp8-scaled file)?")


def read_state_dict(source: str | Path) -> dict[str, torch.Tensor]:
    """Read every tensor of a ``.safetensors`` file, or of all ``*.safetensors`` shards in a
    directory (a diffusers ``transformer/`` folder; a pipeline folder's ``transformer/`` is used).

    Raises:
        ValueError: a non-safetensors file (pickles are never loaded), or no safetensors found.
    """
    path = Path(source)
    if path.is_dir():
        if not list(path.glob("*.safetensors")) and (path / "transformer").is_dir():
            path = path / "transformer"
        shards = sorted(path.glob("*.safetensors"))
        if not shards:
            raise ValueError(f"no .safetensors files in {path}")
        state: dict[str, torch.Tensor] = {}
        for shard in shards:
            state.update(load_file(str(shard)))
        return state
    if path.suffix != ".safetensors":
        raise ValueError(f"refusing to load {path.name}: only .safetensors weights are read (.pt / .ckpt / .bin "
                         "files are pickles that can run code); download or convert the safetensors version")
    if not path.is_file():
        raise ValueError(f"no such checkpoint file: {path}")
    return load_file(str(path))


def strip_prefixes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop a ``model.diffusion_model.`` / ``diffusion_model.`` prefix (ComfyUI full checkpoints)."""
    return {_strip_key(key): value for key, value in state.items()}


def _strip_key(key: str) -> str:
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def detect_wan_layout(state: dict[str, torch.Tensor]) -> str:
    """``"diffusers"`` or ``"wan"`` (original Wan / ComfyUI) for a Wan transformer state dict.

    Raises:
        ValueError: an image-to-video checkpoint, a raxel joint checkpoint, or neither layout.
    """
    keys = [_strip_key(k) for k in state]
    marker = next((k for k in keys if any(m in k for m in _IMAGE_TO_VIDEO_MARKERS)), None)
    if marker is not None:
        raise ValueError(f"this is a Wan image-to-video checkpoint ({marker!r}); only Wan 2.1 text-to-video "
                         "checkpoints load into the joint model")
    if any(".scale_weight" in k or k == "scaled_fp8" for k in keys):
        raise ValueError("this is an fp8-scaled checkpoint; use the fp16 / bf16 / fp32 Wan 2.1 T2V file")
    if any(re.match(r"^blocks\.\d+\.(video|ray)\.", k) for k in keys):
        raise ValueError("this is a raxel joint-transformer checkpoint, not a Wan one; load it with "
                         "JointTransformer.from_pretrained")
    if any(re.match(r"^blocks\.\d+\.self_attn\.q\.weight$", k) for k in keys):
        return "wan"
    if any(re.match(r"^blocks\.\d+\.attn1\.to_q\.weight$", k) for k in keys):
        return "diffusers"
    raise ValueError("not a Wan transformer checkpoint: found neither blocks.N.self_attn.q.weight (Wan / ComfyUI) "
                     "nor blocks.N.attn1.to_q.weight (diffusers)")


def wan_to_diffusers_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Original Wan / ComfyUI names -> diffusers names, with diffusers'
    ``convert_wan_transformer_to_diffusers`` (the input dict is not modified)."""
    from diffusers.loaders.single_file_utils import convert_wan_transformer_to_diffusers

    return convert_wan_transformer_to_diffusers(strip_prefixes(state))


def diffusers_to_wan_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """diffusers names -> original Wan / ComfyUI names (text-to-video). Raises ValueError on a
    parameter a Wan 2.1 T2V transformer does not have."""
    return {_rename(k, _DIFFUSERS_TO_WAN, "diffusers -> Wan"): v for k, v in state.items()}


def diffusers_to_joint_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """diffusers Wan names -> :class:`JointTransformer` video-branch names (``video.*``,
    ``blocks.N.video.*``, ``text_embedder.*``). Raises ValueError on an unknown parameter."""
    return {_rename(k, _DIFFUSERS_TO_JOINT, "diffusers -> joint"): v for k, v in state.items()}


def is_wan_parameter(name: str) -> bool:
    """True for the joint model's parameters that come from a Wan checkpoint (the video branch
    without the DSCA cross-attention, plus the text projection)."""
    if name.startswith(("video.", "text_embedder.")):
        return True
    m = re.match(r"^blocks\.\d+\.video\.(.*)$", name)
    return bool(m) and not m.group(1).startswith(("attn_cross.", "cross_norm."))


def load_wan_weights(model: JointTransformer, source: str | Path | dict[str, torch.Tensor], *,
                     init_ray_branch: bool = True) -> str:
    """Load a Wan 2.1 text-to-video transformer into the video branch of ``model``.

    Args:
        model: a :class:`JointTransformer` whose config has the checkpoint's video shapes and
            ``text_cross_attention=True`` (e.g. ``JointModelConfig.wan21_1_3b()``).
        source: a ``.safetensors`` file, a directory of shards, or a state dict, in diffusers or
            original Wan / ComfyUI layout (detected).
        init_ray_branch: then copy the video branch into the ray branch
            (:func:`init_ray_branch_from_video`).

    Returns:
        the detected layout, "diffusers" or "wan".

    Raises:
        ValueError: non-safetensors file, unknown layout, image-to-video or fp8-scaled checkpoint,
            or a parameter missing / left over / of another shape (named in the message).
    """
    name = "state dict" if isinstance(source, dict) else str(source)
    state = strip_prefixes(dict(source) if isinstance(source, dict) else read_state_dict(source))
    layout = detect_wan_layout(state)
    if layout == "wan":
        state = wan_to_diffusers_state_dict(state)
    joint = diffusers_to_joint_state_dict(state)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items() if is_wan_parameter(k)}
    try:
        check_state_dict(expected, joint, source=f"Wan checkpoint {name} ({layout} layout)")
    except ValueError as exc:
        raise ValueError(f"{exc}. Build the model with the checkpoint's shapes (e.g. JointModelConfig.wan21_1_3b() "
                         "for Wan 2.1 T2V 1.3B; Wan needs text_cross_attention=True)") from None
    missing, unexpected = model.load_state_dict(joint, strict=False)
    if unexpected or any(is_wan_parameter(k) for k in missing):  # check_state_dict rules this out
        raise ValueError(f"internal key-map error loading {name}: unexpected {unexpected[:3]}, missing {missing[:3]}")
    if init_ray_branch:
        init_ray_branch_from_video(model)
    return layout


@torch.no_grad()
def init_ray_branch_from_video(model: JointTransformer) -> dict[str, list[str]]:
    """Initialise the ray branch and the DSCA cross-attention from the video branch.

    * every ray parameter gets a copy of its video counterpart where the shapes match
      (``ray.X`` <- ``video.X``, ``blocks.N.ray.X`` <- ``blocks.N.video.X``); others (e.g. a ray
      patch embedding with another patch size) keep their random initialisation;
    * each branch's cross-attention q/k/v projections and q/k norms start as that branch's
      self-attention ones, its LayerNorm as identity (weight 1, bias 0), and its output
      projection at zero, so the video output equals the video-only (Wan) output.

    Returns:
        ``{"copied": [...], "kept": [...]}`` ray parameter names.
    """
    state = model.state_dict()
    copied, kept = [], []
    for key, value in state.items():
        m = re.match(r"^(blocks\.\d+\.)ray\.(.*)$", key)
        if m:
            source = f"{m.group(1)}video.{m.group(2)}"
        elif key.startswith("ray."):
            source = "video." + key[len("ray."):]
        else:
            continue
        if ".attn_cross." in key or ".cross_norm." in key:
            continue
        if source in state and state[source].shape == value.shape:
            value.copy_(state[source])
            copied.append(key)
        else:
            kept.append(key)
    for block in model.blocks:
        for branch in (block.video, block.ray):
            for name in ("to_q", "to_k", "to_v", "norm_q", "norm_k"):
                getattr(branch.attn_cross, name).load_state_dict(getattr(branch.attn1, name).state_dict())
            branch.cross_norm.weight.fill_(1.0)
            branch.cross_norm.bias.zero_()
    model.zero_init_cross_outputs()
    return {"copied": copied, "kept": kept}
