"""The full-size recipe (docs/full_size_training.md, configs/train_wan1.3b.json) end to end at tiny width.

The same steps as on GPUs, on the CPU with random weights: a Wan 2.1 text-to-video checkpoint in the
original Wan / ComfyUI layout (written here from a tiny diffusers ``WanTransformer3DModel``), a Wan VAE
folder (a tiny diffusers ``AutoencoderKLWan``), a folder in the layout ``raxel prepare`` writes
(``videos/<stem>.mp4`` + ``poses/<stem>.txt``; cameras exact from the renderer instead of SfM), and
``accelerate launch --cpu --num_processes 1 -m raxel_core.diffusion CONFIG``, the recipe's command.
The config is ``configs/train_wan1.3b.json`` with only the widths, the paths, the frame size and the
step count changed.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("diffusers", reason="the full-size path needs diffusers")
pytest.importorskip("accelerate", reason="the full-size path trains with accelerate")

from safetensors.torch import save_file

from raxel_core.diffusion.full_size import count_parameters, estimate_memory, format_memory
from raxel_core.diffusion.training import TrainConfig
from raxel_core.formats import write_trajectory
from raxel_core.model import JointModelConfig, JointTransformer
from raxel_core.model.wan_weights import diffusers_to_joint_state_dict, diffusers_to_wan_state_dict, is_wan_parameter
from raxel_core.synthetic.clips import SyntheticClips
from raxel_core.video_io import write_video

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "configs" / "train_wan1.3b.json"
WIDTH = {"num_attention_heads": 2, "attention_head_dim": 16, "ffn_dim": 64, "num_layers": 2, "text_dim": 32,
         "freq_dim": 32}


def tiny_wan_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """A random tiny Wan 2.1 T2V transformer saved in the original Wan layout; returns its diffusers state."""
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    wan = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=16, in_channels=16,
                                out_channels=16, text_dim=32, freq_dim=32, ffn_dim=64, num_layers=2,
                                cross_attn_norm=True, eps=1e-6, rope_max_seq_len=64)
    with torch.no_grad():
        for p in wan.parameters():
            p.add_(0.05 * torch.randn_like(p))
    state = {k: v.contiguous() for k, v in wan.state_dict().items()}
    save_file({"model.diffusion_model." + k: v.contiguous() for k, v in diffusers_to_wan_state_dict(state).items()},
              str(path))
    return state


def prepared_folder(root: Path, clips: int = 2) -> Path:
    """The layout of ``raxel prepare``: 9-frame 64x96 synthetic videos with RealEstate10K pose files."""
    source = SyntheticClips(num_clips=clips, num_frames=9, image_size=(64, 96), seed=2, num_scenes=clips)
    for i in range(clips):
        frames, cams = source.render(i)
        write_video(root / "videos" / f"clip{i}.mp4", frames, 8.0)
        write_trajectory(cams, root / "poses" / f"clip{i}.txt", format="realestate10k")
    return root


def test_the_recipe_trains_end_to_end_at_tiny_width_with_accelerate_on_the_cpu(tmp_path):
    from diffusers import AutoencoderKLWan

    wan_state = tiny_wan_checkpoint(tmp_path / "wan2.1_t2v_tiny.safetensors")
    torch.manual_seed(1)
    AutoencoderKLWan(base_dim=8, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=1, attn_scales=[],
                     temperal_downsample=[False, True, True]).save_pretrained(tmp_path / "vae")
    (tmp_path / "videos").mkdir()
    (tmp_path / "poses").mkdir()
    prepared_folder(tmp_path)
    recipe = json.loads(RECIPE.read_text())
    recipe.update({"model": {"preset": "wan21_1_3b", **WIDTH},
                   "dataset": {"kind": "realestate10k", "root": str(tmp_path)},
                   "image_size": [64, 96], "num_frames": 9, "steps": 2, "batch_size": 1, "learning_rate": 1e-4,
                   "warmup_steps": 1, "mixed_precision": "no", "fsdp": False, "num_workers": 0,
                   "checkpoint_dir": str(tmp_path / "run"), "checkpoint_interval": 2, "log_interval": 1,
                   "wan_checkpoint": str(tmp_path / "wan2.1_t2v_tiny.safetensors"), "vae": str(tmp_path / "vae")})
    config_path = tmp_path / "train_tiny_wan.json"
    config_path.write_text(json.dumps(recipe))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "1",
                          "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                          "-m", "raxel_core.diffusion", str(config_path)],
                         cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "video branch from Wan checkpoint" in run.stdout + run.stderr
    log = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2] and all(torch.isfinite(torch.tensor(r["loss"])) for r in log)
    model = JointTransformer.from_pretrained(tmp_path / "run" / "step_0000002" / "model")
    assert model.config == TrainConfig.from_json(str(config_path)).model_config()
    assert model.config.in_channels == 16 and model.config.text_cross_attention
    # the video branch started from the Wan checkpoint: two AdamW steps of lr 1e-4 move a weight < 1e-3
    wan = diffusers_to_joint_state_dict(wan_state)
    trained = model.state_dict()
    moved = max(float((trained[k] - v).abs().max()) for k, v in wan.items())
    assert moved < 1e-3, moved
    assert set(wan) == {k for k in trained if is_wan_parameter(k)}
    # the ray branch started as a copy of it (Rays as Pixels Sec. 3.3): the same self-attention weights
    q_video = trained["blocks.0.video.attn1.to_q.weight"]
    q_ray = trained["blocks.0.ray.attn1.to_q.weight"]
    assert float((q_video - q_ray).abs().max()) < 2e-3
    # and the memory estimate counts exactly this network's parameters
    config = TrainConfig.from_json(str(config_path))
    assert estimate_memory(config).parameters == model.num_parameters() == count_parameters(model.config)


def test_the_gpu_recipe_config_is_wan_1_3b_and_its_memory_estimate_fits_80_gib_on_8_gpus():
    """The shipped recipe: Wan 2.1 1.3B shapes (the video branch takes the 1.3B checkpoint, 1.419 B parameters
    with the text projection: diffusers' count), raxels, bf16, FSDP, checkpointing; its estimate per GPU on 8
    GPUs under an 80 GiB card, and the parts add up as documented (16 bytes a parameter, sharded)."""
    config = TrainConfig.from_json(str(RECIPE))
    assert config.model_config() == JointModelConfig.wan21_1_3b()
    assert (config.mixed_precision, config.fsdp, config.gradient_checkpointing) == ("bf16", True, True)
    est = estimate_memory(config, num_processes=8)
    base = estimate_memory(config, num_processes=8, video_only=True)
    assert base.parameters == 1_418_996_800                          # Wan2.1-T2V-1.3B-Diffusers transformer
    assert est.tokens_video == 13 * 30 * 52 and est.tokens_rays == 49 * 15 * 26
    parts = {name: value for name, value, _ in est.rows}
    assert parts["weights (fp32)"] + parts["gradients (fp32)"] + parts["AdamW states (2 x fp32)"] == \
        16 * est.parameters / 8
    assert est.total < 0.9 * 80 * 2 ** 30
    text = format_memory(config, 8)
    assert "| **total** |" in text and "joint / video only" in text


def test_raxel_train_estimate_memory_prints_the_table_and_missing_files_stop_before_the_model_is_built(
        capsys, tmp_path):
    from raxel_core import cli

    assert cli.main(["train", str(RECIPE), "--estimate-memory", "--gpus", "8"]) == 0
    out = capsys.readouterr().out
    assert "Memory estimate per GPU" in out and "8 GPU(s), FSDP" in out and "AdamW states" in out
    # the shipped paths do not exist here: one line, status 2, before 3 B parameters are allocated
    assert cli.main(["train", str(RECIPE), "--steps", "1", "--checkpoint-dir", str(tmp_path / "ck")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "wan_checkpoint" in err and "does not exist" in err, err


def test_the_flop_formula_matches_torchs_flop_counter_on_the_projections():
    """forward_flops' projection + FFN + patch / head terms against torch.utils.flop_counter on a real tiny
    forward (the counter does not see CPU attention kernels; its per-frame timestep embedding, left out of the
    formula, is the few percent between them at this tiny width)."""
    from torch.utils.flop_counter import FlopCounterMode

    from raxel_core.diffusion.full_size import forward_flops

    config = JointModelConfig.wan21_1_3b(**WIDTH)
    torch.manual_seed(0)
    model = JointTransformer(config).eval()
    video, rays, text = torch.randn(1, 16, 3, 8, 12), torch.randn(1, 16, 9, 4, 6), torch.randn(1, 7, 32)
    for video_only in (False, True):
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(video, None if video_only else rays, torch.full((1, 3), 500.0),
                  None if video_only else torch.full((1, 9), 500.0), text)
        formula = forward_flops(config, 9, (64, 96), spatial=8, text_tokens=7, video_only=video_only)
        assert 0.93 < formula["projections"] / counter.get_total_flops() <= 1.0, (formula, counter.get_total_flops())
    # attention: closed form for the joint model's token counts (72 video, 54 ray tokens, width 32, 2 blocks)
    lv, lr, d = 72, 54, 32
    assert forward_flops(config, 9, (64, 96), 8, 7)["attention"] == 2 * 2 * (
        2 * lv * lv * d + 2 * lv * 7 * d + 2 * lr * lr * d + 2 * 2 * lv * lr * d)
