"""Tiny random-weight Wan 2.1 model files for the camera-transfer e2e test, built with ComfyUI's own model
classes so that ComfyUI's loaders detect them as the real thing (``comfy/model_detection.py``,
``comfy/sd.py``):

* ``diffusion_models/wan21_fun_camera_tiny.safetensors``: ``comfy.ldm.wan.model.CameraWanModel``,
  ``model_type="camera"`` (Wan 2.1 Fun Camera: ``control_adapter.conv.weight`` and ``img_emb.proj.0.bias``
  make the detector pick ``WAN21_Camera``), one block, ``dim`` 128 (one head: the detector sets
  ``num_heads = dim // 128``), ``in_dim`` 32 (16 noise + 16 start-image channels), the text width 4096 of
  umt5-xxl;
* ``diffusion_models/wan21_vace_tiny.safetensors`` (``vace``): ``comfy.ldm.wan.model.VaceWanModel`` (Wan 2.1
  VACE: ``vace_patch_embedding.weight`` makes the detector pick ``WAN21_Vace``), one block and one VACE block,
  ``in_dim`` 16, ``vace_in_dim`` 96 (16 + 16 channels of the inactive / reactive control latents and the
  64 = 8 x 8 channels of the folded mask that ``WanVaceToVideo`` makes);
* ``diffusion_models/wan21_i2v_tiny.safetensors`` (``i2v``): ``comfy.ldm.wan.model.WanModel``,
  ``model_type="i2v"`` (``img_emb.proj.0.bias`` and ``in_dim`` 36 = 16 noise + 4 mask + 16 image channels make
  the detector pick ``WAN21_I2V``): the architecture of ATI, which ``WanTrackToVideo`` drives (ATI is a
  fine-tune of Wan 2.1 I2V 14B with the same layout; ComfyUI has no separate ATI model class);
* ``vae/wan21_vae_random.safetensors``: ``comfy.ldm.wan.vae.WanVAE`` with the layout ComfyUI builds for
  every Wan 2.1 VAE (``dim`` 96: its shapes are fixed, so this one is full size, 127 M parameters,
  stored in float16).

Run as a script inside ComfyUI's folder (``python wan_tiny_models.py COMFYUI_DIR SHIMS MODELS_DIR
[camera,vace,i2v]``, default ``camera``; the VAE is always written): the
test process itself does not import ComfyUI. Weights: normal(0, 0.02), norm scales 1, biases 0, seed 0.

The text encoder is the one stand-in (:func:`write_text_stand_in`): umt5-xxl, Wan's text encoder, has a
fixed 5.7 B-parameter layout in ComfyUI (``comfy/text_encoders/umt5_config_xxl.json``) that does not fit
the test machine even with random weights, so the tests replace its two nodes (CLIPLoader ->
CLIPTextEncode) by a test node that returns a conditioning of the same shape.
"""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

DIFFUSION_NAME = "wan21_fun_camera_tiny.safetensors"
VAE_NAME = "wan21_vae_random.safetensors"
VACE_NAME = "wan21_vace_tiny.safetensors"
I2V_NAME = "wan21_i2v_tiny.safetensors"

#: The text stand-in, a ComfyUI custom node package (``__init__.py``): ``RaxelTestTextConditioning``.
TEXT_STAND_IN = textwrap.dedent('''
    """Test stand-in for Wan's text encoder (umt5-xxl does not fit the test machine): a conditioning of
    the shape umt5-xxl gives, (1, tokens, 4096), with values seeded by the text."""
    import zlib

    import torch


    class RaxelTestTextConditioning:
        CATEGORY = "testing"
        RETURN_TYPES = ("CONDITIONING",)
        FUNCTION = "encode"

        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {"text": ("STRING", {"multiline": True}), "tokens": ("INT", {"default": 8})}}

        def encode(self, text, tokens):
            generator = torch.Generator().manual_seed(zlib.crc32(text.encode()))
            return ([[torch.randn(1, tokens, 4096, generator=generator), {}]],)


    NODE_CLASS_MAPPINGS = {"RaxelTestTextConditioning": RaxelTestTextConditioning}
''')


def write_text_stand_in(folder: Path) -> Path:
    """Write :data:`TEXT_STAND_IN` as the custom node package ``folder/raxel_test_text_stand_in`` (for
    ``start_comfyui(extra_custom_nodes=...)``); returns that package folder."""
    package = Path(folder) / "raxel_test_text_stand_in"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(TEXT_STAND_IN)
    return package


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


def build(models_dir: Path, kinds: tuple[str, ...] = ("camera",)) -> None:
    import comfy.cli_args

    comfy.cli_args.args.cpu = True  # as the server's --cpu: this machine may have no GPU
    import comfy.ldm.wan.model
    import comfy.ldm.wan.vae
    import comfy.ops
    import torch
    from safetensors.torch import save_file

    common = {"patch_size": (1, 2, 2), "dim": 128, "ffn_dim": 256, "freq_dim": 256, "text_dim": 4096, "out_dim": 16,
              "num_heads": 1, "num_layers": 1, "image_model": "wan2.1", "operations": comfy.ops.manual_cast,
              "device": "cpu", "dtype": torch.float32}
    builders = {
        "camera": (DIFFUSION_NAME, lambda: comfy.ldm.wan.model.CameraWanModel(
            model_type="camera", in_dim=32, in_dim_control_adapter=24, **common)),
        "vace": (VACE_NAME, lambda: comfy.ldm.wan.model.VaceWanModel(
            model_type="vace", in_dim=16, vace_layers=1, vace_in_dim=96, **common)),
        "i2v": (I2V_NAME, lambda: comfy.ldm.wan.model.WanModel(model_type="i2v", in_dim=36, **common)),
    }
    (models_dir / "diffusion_models").mkdir(parents=True, exist_ok=True)
    for kind in kinds:
        name, make = builders[kind]
        unet = make()
        save_file(_randomise(unet, 0), str(models_dir / "diffusion_models" / name))
        del unet
    vae = comfy.ldm.wan.vae.WanVAE(dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                                   temperal_downsample=[False, True, True], dropout=0.0)
    state = {k: v.to(torch.float16) for k, v in _randomise(vae, 1).items()}
    (models_dir / "vae").mkdir(parents=True, exist_ok=True)
    save_file(state, str(models_dir / "vae" / VAE_NAME))


if __name__ == "__main__":
    comfy_dir, shims, models = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    sys.path[:0] = [p for p in (shims, comfy_dir) if p]
    build(models, tuple(sys.argv[4].split(",")) if len(sys.argv) > 4 else ("camera",))
    print("BUILT")
