"""CamViG camera tokens as the joint model's third ray codec (raxel_core/rays/token_codec.py) and the
equal-budget codec ablation of ``raxel eval-joint --codec-ablation`` (raxel_core/evaluation/codec_ablation.py).

Oracles: the camera tokenizer's own ``encode`` / ``decode`` (the codec must lose nothing beyond it), the
frame-0 intrinsics the trajectory was built with, and rotation errors computed here from the matrices.
"""
from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import torch

pytest.importorskip("diffusers", reason="raxel_core.model needs diffusers (pip install 'diffusers>=0.32')")
pytest.importorskip("vector_quantize_pytorch", reason="camera tokens need vector-quantize-pytorch")

from raxel_core import cli
from raxel_core.authoring.trajectory_presets import make_preset
from raxel_core.cameras import Cameras
from raxel_core.diffusion.sampler import sample
from raxel_core.diffusion.training import TrainConfig, TrainingExamples, collate, train, training_step
from raxel_core.model import JointModelConfig, JointTransformer
from raxel_core.rays.codecs import codec_for, ray_representation_for
from raxel_core.rays.token_codec import CameraTokenCodec, camera_token_channels
from raxel_core.synthetic.clips import SyntheticClips
from raxel_core.tokens import CameraTokenizer
from raxel_core.tokens.camera_features import STATIC_EXTENT

TINY = JointModelConfig.small(num_layers=1, num_attention_heads=2, attention_head_dim=16, ffn_dim=64, freq_dim=32)
TINY_MODEL = {"preset": "small", "num_layers": 1, "num_attention_heads": 2, "attention_head_dim": 16,
              "ffn_dim": 64, "freq_dim": 32}
SIZE = (32, 48)


def angle_deg(Ra: torch.Tensor, Rb: torch.Tensor) -> torch.Tensor:
    """Geodesic angle (degrees) between rotation batches, from the trace (an oracle apart from the code)."""
    cos = ((Ra @ Rb.transpose(-1, -2)).diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
    return torch.rad2deg(torch.arccos(cos.clamp(-1, 1)))


def paths() -> list[Cameras]:
    """Two preset moves (one with non-square pixels: fx != fy) and two synthetic-room paths, 9 frames each."""
    out = [make_preset("orbit_left", num_frames=9, image_size=SIZE),
           make_preset("dolly_in", num_frames=9, image_size=SIZE)]
    K = out[1].K.clone()
    K[:, 1, 1] *= 1.25                                               # non-square pixels
    out[1] = Cameras(K=K, R=out[1].R, t=out[1].t, image_size=SIZE)
    clips = SyntheticClips(num_clips=2, num_frames=9, image_size=SIZE, seed=3, num_scenes=1)
    out += [clips.render(i)[1] for i in range(2)]
    return [c.relative_to(0) for c in out]


@pytest.fixture(scope="module")
def tokenizer():
    return CameraTokenizer.from_pretrained()


def test_the_codec_round_trips_cameras_within_the_tokenizers_own_error(tokenizer):
    """encode -> decode through the stream loses nothing beyond the tokenizer's token round trip: the same
    rotations and centres as ``tokenizer.decode(tokenizer.encode(path))``, the focal lengths exactly, and the
    same token indices."""
    codec = CameraTokenCodec()
    assert codec.channels == camera_token_channels() == tokenizer.config.latent_dim + 2
    for cams in paths():
        stream = codec.encode(cams, codec.grid_size(SIZE))
        assert stream.shape == (9, codec.channels, 16, 24) and stream.dtype == torch.float32
        assert float(stream.abs().max()) < 3                           # normalised to about unit size
        decoded = codec.decode(stream, SIZE)
        indices, frame = tokenizer.encode(cams)
        reference = tokenizer.decode(indices, frame)
        assert decoded.metadata["camera_tokens"] == indices.tolist()
        assert float(angle_deg(decoded.R, reference.R).max()) < 1e-3
        extent = float((cams.centers - cams.centers[0]).norm(dim=-1).max())
        scale = extent if extent > STATIC_EXTENT else 1.0              # a camera that only turns: unit scale
        torch.testing.assert_close(decoded.centers * scale, reference.centers, atol=1e-5 * scale, rtol=0)
        torch.testing.assert_close(decoded.K[0], cams.K[0], atol=1e-4, rtol=1e-5)   # the focal channels
        torch.testing.assert_close(decoded.K, reference.K, atol=1e-4, rtol=1e-5)     # zoom: the tokens' own
        # and the tokenizer's error is what the card measures on such paths: a few degrees, not noise
        assert float(angle_deg(decoded.R, cams.R).mean()) < 15


def test_a_noisy_stream_decodes_by_its_per_frame_mean_and_snaps_to_the_same_tokens(tokenizer):
    """Zero-mean noise over the grid averages out: the decoded tokens are the clean stream's."""
    codec = CameraTokenCodec()
    cams = paths()[0]
    stream = codec.encode(cams, (16, 24))
    noise = torch.randn(stream.shape, generator=torch.Generator().manual_seed(0)) * 0.05
    noise -= noise.mean(dim=(2, 3), keepdim=True)
    assert codec.decode(stream + noise, SIZE).metadata["camera_tokens"] == tokenizer.encode(cams)[0].tolist()
    with pytest.raises(ValueError, match="relative to frame 0"):
        codec.encode(cams, (16, 24), reference=2)
    with pytest.raises(ValueError, match="non-finite"):
        codec.decode(stream * float("nan"), SIZE)
    with pytest.raises(ValueError, match=r"\(F, 10, h, w\)"):
        codec.decode(stream[:, :3], SIZE)


def test_codec_for_picks_camera_tokens_from_ten_ray_channels():
    config = replace(TINY, ray_in_channels=10)
    assert codec_for(config) == CameraTokenCodec(TINY.raxel_downscale)
    assert ray_representation_for(config) == "camera_tokens"


def test_the_joint_model_trains_a_step_on_camera_tokens_and_samples_a_token_path(tmp_path):
    config = TrainConfig(model={**TINY_MODEL, "ray_in_channels": 10}, ray_representation="camera_tokens",
                         dataset={"kind": "synthetic", "num_clips": 2, "num_scenes": 1, "seed": 1},
                         num_frames=5, image_size=SIZE, steps=1, batch_size=2, learning_rate=1e-3, warmup_steps=1,
                         checkpoint_dir=str(tmp_path / "run"), mode_probabilities={"pose": 1.0})
    examples = TrainingExamples(SyntheticClips(num_clips=2, num_frames=5, image_size=SIZE, seed=1, num_scenes=1),
                                config)
    batch = collate([examples[k] for k in range(2)])
    assert batch["rays"].shape == (2, 10, 5, 16, 24)
    torch.manual_seed(0)
    model = JointTransformer(config.model_config())
    before = {k: v.clone() for k, v in model.named_parameters() if k.startswith("ray.")}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss = training_step(model, optimizer, batch, grad_clip=1.0)
    assert torch.isfinite(loss).all()
    changed = [k for k, v in model.named_parameters() if k in before and not torch.equal(v, before[k])]
    assert any("patch_embedding" in k for k in changed), changed   # the 10-channel ray input learnt
    frames = (torch.rand(5, *SIZE, 3, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8).numpy()
    out = sample(model.eval(), "pose", video=frames, steps_rays=2, seed=0)
    assert len(out.cameras) == 5 and out.ray_stream.shape == (5, 10, 16, 24)
    tokens = out.cameras.metadata["camera_tokens"]
    assert len(tokens) == 5 and all(len(t) == 4 for t in tokens)
    assert float(angle_deg(out.cameras.R[:1], torch.eye(3, dtype=torch.float64)[None]).max()) < 1e-6


def _train(tmp_path, name: str, ray_in: int, steps: int = 1) -> str:
    config = TrainConfig(model={**TINY_MODEL, "ray_in_channels": ray_in}, ray_representation=name,
                         dataset={"kind": "synthetic", "num_clips": 1, "num_scenes": 1, "seed": 1,
                                  "cache_dir": str(tmp_path / "cache")},
                         num_frames=5, image_size=SIZE, steps=steps, batch_size=1, warmup_steps=1,
                         checkpoint_dir=str(tmp_path / name), checkpoint_interval=1, log_interval=1)
    train(config, log=lambda line: None)
    return str(tmp_path / name)


def test_eval_joint_codec_ablation_prints_one_table_with_the_three_codecs(capsys, tmp_path):
    """Three 1-step runs that differ only in the codec -> one table: the baseline, and per codec its ceiling
    and its model row; raxels and Plücker rays are exact codecs (ceiling RRA@15 = AUC@30 = 100), tokens are not
    lossless. Runs of unequal length are refused with one line."""
    dirs = [_train(tmp_path, name, ch) for name, ch in (("raxel", 3), ("plucker", 6), ("camera_tokens", 10))]
    code = cli.main(["eval-joint", "--codec-ablation", *dirs, "--synthetic", "2", "--frames", "5",
                     "--pose-steps", "1", "--json", str(tmp_path / "ablation.json")])   # held-out clip 1 translates
    out = capsys.readouterr().out
    assert code == 0, out
    rows = json.loads((tmp_path / "ablation.json").read_text())["codec_ablation"]
    models = [r for r in rows if r["method"].startswith("model")]
    assert [r["codec"] for r in models] == ["raxel", "plucker", "camera_tokens"]
    assert all(f"| {c} | model, step 1 | 1 |" in out for c in ("raxel", "plucker", "camera_tokens"))
    ceilings = {r["codec"]: r for r in rows if r["method"].startswith("codec ceiling")}
    for exact in ("raxel", "plucker"):
        assert ceilings[exact]["rra15"] == 100 and math.isclose(ceilings[exact]["auc30"], 100, abs_tol=1.0)
    assert ceilings["camera_tokens"]["auc30"] < 99                 # the tokenizer's reconstruction error
    assert "equal budget: 1 steps each" in out
    _train(tmp_path, "camera_tokens", 10, steps=2)                  # resumes to step 2: no longer equal
    code = cli.main(["eval-joint", "--codec-ablation", *dirs, "--synthetic", "1", "--frames", "5"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("raxel eval-joint: error: not an equal budget"), err
