"""Tiny random-weight Wan 2.1 model files for the camera-transfer e2e test, built with ComfyUI's own model
classes so that ComfyUI's loaders detect them as the real thing (``comfy/model_detection.py``,
``comfy/sd.py``):

* ``diffusion_models/wan21_fun_camera_tiny.safetensors``: ``comfy.ldm.wan.model.CameraWanModel``,
  ``model_type="camera"`` (Wan 2.1 Fun Camera: ``control_adapter.conv.weight`` and ``img_emb.proj.0.bias``
  make the detector pick ``WAN21_Camera``), one block, ``dim`` 128 (one head: the detector sets
  ``num_heads = dim // 128``), ``in_dim`` 32 (16 noise + 16 start-image channels), the text width 4096 of
  umt5-xxl;
* ``vae/wan21_vae_random.safetensors``: ``comfy.ldm.wan.vae.WanVAE`` with the layout ComfyUI builds for
  every Wan 2.1 VAE (``dim`` 96: its shapes are fixed, so this one is full size, 127 M parameters,
  stored in float16).

Run as a script inside ComfyUI's folder (``python wan_tiny_models.py COMFYUI_DIR SHIMS MODELS_DIR``): the
test process itself does not import ComfyUI. Weights: normal(0, 0.02), norm scales 1, biases 0, seed 0.
"""
from __future__ import annotations

import sys
from pathlib import Path

DIFFUSION_NAME = "wan21_fun_camera_tiny.safetensors"
VAE_NAME = "wan21_vae_random.safetensors"


def _randomise(module, seed: int) -> dict:
    import torch

    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, tensor in module.state_dict().items():
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "bias":
            value = torch.zeros_like(tensor, dtype=torch.float32)
        elif leaf == "gamma" or ("norm" in name and leaf == "weight"):
            value = torch.ones_like(tensor, dtype=torch.float32)
        else:
            value = torch.randn(tensor.shape, generator=generator) * 0.02
        state[name] = value.contiguous()
    return state


def build(models_dir: Path) -> None:
    import comfy.cli_args

    comfy.cli_args.args.cpu = True  # as the server's --cpu: this machine may have no GPU
    import comfy.ldm.wan.model
    import comfy.ldm.wan.vae
    import comfy.ops
    import torch
    from safetensors.torch import save_file

    ops = {"operations": comfy.ops.manual_cast, "device": "cpu", "dtype": torch.float32}
    unet = comfy.ldm.wan.model.CameraWanModel(
        model_type="camera", patch_size=(1, 2, 2), in_dim=32, dim=128, ffn_dim=256, freq_dim=256, text_dim=4096,
        out_dim=16, num_heads=1, num_layers=1, in_dim_control_adapter=24, image_model="wan2.1",
        operations=ops["operations"], device="cpu", dtype=torch.float32)
    (models_dir / "diffusion_models").mkdir(parents=True, exist_ok=True)
    save_file(_randomise(unet, 0), str(models_dir / "diffusion_models" / DIFFUSION_NAME))
    del unet
    vae = comfy.ldm.wan.vae.WanVAE(dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                                   temperal_downsample=[False, True, True], dropout=0.0)
    state = {k: v.to(torch.float16) for k, v in _randomise(vae, 1).items()}
    (models_dir / "vae").mkdir(parents=True, exist_ok=True)
    save_file(state, str(models_dir / "vae" / VAE_NAME))


if __name__ == "__main__":
    comfy_dir, shims, models = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    sys.path[:0] = [p for p in (shims, comfy_dir) if p]
    build(models)
    print("BUILT")
