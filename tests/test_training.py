"""Training the joint video + ray model (raxel_core.diffusion.training): real optimisation on a fixed
batch, exact resume from a checkpoint (safetensors + JSON, no pickles), deterministic examples, and
the bundled training config."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

pytest.importorskip("diffusers", reason="raxel_core.model needs diffusers (pip install 'diffusers>=0.32')")
pytest.importorskip("accelerate", reason="training needs accelerate (pip install accelerate)")

from raxel_core.diffusion.checkpoints import latest_checkpoint, load_optimizer_state
from raxel_core.diffusion.flow_matching import MODES
from raxel_core.diffusion.training import (
    TrainConfig,
    TrainingExamples,
    batch_loss,
    collate,
    train,
    training_step,
)
from raxel_core.model import JointTransformer
from raxel_core.synthetic.clips import SyntheticClips

ROOT = Path(__file__).resolve().parents[1]
TINY_MODEL = {"preset": "small", "num_layers": 1, "num_attention_heads": 2, "attention_head_dim": 16,
              "ffn_dim": 64, "freq_dim": 32}


def tiny_config(tmp_path: Path, **overrides) -> TrainConfig:
    values = {"model": TINY_MODEL, "dataset": {"kind": "synthetic", "num_clips": 3, "num_scenes": 1, "seed": 1,
                                             "cache_dir": str(tmp_path / "cache")},
                  "num_frames": 5, "image_size": (32, 48), "steps": 3, "batch_size": 2, "learning_rate": 1e-3,
                  "warmup_steps": 1, "checkpoint_dir": str(tmp_path / "run"), "checkpoint_interval": 2,
                  "log_interval": 1, "keep_checkpoints": 0}
    values.update(overrides)
    return TrainConfig(**values)


def logged(run_dir: Path) -> dict[int, float]:
    lines = (run_dir / "train_log.jsonl").read_text().splitlines()
    return {r["step"]: r["loss"] for r in map(json.loads, lines)}


def test_a_few_steps_overfit_a_fixed_batch(tmp_path):
    config = tiny_config(tmp_path, mode_probabilities={"pose": 0.5, "joint": 0.5})
    clips = SyntheticClips(num_clips=2, num_frames=5, image_size=(32, 48), seed=1, num_scenes=1)
    batch = collate([TrainingExamples(clips, config)[k] for k in range(2)])
    torch.manual_seed(0)
    model = JointTransformer(config.model_config())
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    with torch.no_grad():
        before = batch_loss(model.eval(), batch).mean().item()
    for _ in range(30):
        training_step(model, optimizer, batch, grad_clip=1.0)
    with torch.no_grad():
        after = batch_loss(model.eval(), batch).mean().item()
    assert after < 0.75 * before, (before, after)


def test_resume_from_a_checkpoint_gives_the_identical_next_step(tmp_path):
    config = tiny_config(tmp_path)
    first = train(config, log=lambda *_: None)
    assert first.step == 3
    losses = logged(Path(config.checkpoint_dir))
    assert sorted(losses) == [1, 2, 3]
    step2 = Path(config.checkpoint_dir) / "step_0000002"
    assert sorted(p.name for p in step2.iterdir()) == ["model", "optimizer.json", "optimizer.safetensors", "state.json"]
    state = load_optimizer_state(step2)
    assert state["state"][0]["exp_avg"].dtype == torch.float32 and state["param_groups"][0]["betas"] == (0.9, 0.99)

    # a second run that only has the step-2 checkpoint continues with the same step 3
    resumed_dir = tmp_path / "resumed"
    resumed_dir.mkdir()
    shutil.copytree(step2, resumed_dir / step2.name)
    config2 = tiny_config(tmp_path, checkpoint_dir=str(resumed_dir))
    assert latest_checkpoint(resumed_dir).name == "step_0000002"
    second = train(config2, log=lambda *_: None)
    assert second.step == 3
    resumed = logged(resumed_dir)
    assert list(resumed) == [3]
    assert resumed[3] == pytest.approx(losses[3], rel=1e-6, abs=1e-7)
    a = JointTransformer.from_pretrained(Path(config.checkpoint_dir) / "step_0000003" / "model")
    b = JointTransformer.from_pretrained(resumed_dir / "step_0000003" / "model")
    for (name, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items(), strict=False):
        assert torch.allclose(pa, pb, atol=1e-7), name


def test_examples_are_deterministic_and_follow_the_mode_probabilities(tmp_path):
    clips = SyntheticClips(num_clips=3, num_frames=5, image_size=(32, 48), seed=1, num_scenes=1)
    config = tiny_config(tmp_path, mode_probabilities={"video": 1.0}, num_source_frames=2)
    examples = TrainingExamples(clips, config)
    a, b = examples[11], examples[11]
    assert all(torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k] for k in a)
    assert not torch.equal(examples[12]["video_noise"], a["video_noise"])
    for k in range(4):
        e = examples[k]
        assert MODES[e["mode"]] == "video"
        assert e["video_t"][:2].tolist() == [1.0, 1.0] and (e["video_t"][2:] < 1).all()
        assert (e["ray_t"] == 1).all()                        # video mode: the whole trajectory is given
        assert len(set(e["video_t"][2:].tolist())) == 1       # per_stream: one noise level per stream


def test_train_config_json_and_the_bundled_small_config(tmp_path):
    config = TrainConfig.from_json(ROOT / "configs" / "train_small.json")
    model_config = config.model_config()
    assert model_config.num_layers == 8 and model_config.patch_size == (1, 4, 4)
    assert config.image_size == (64, 96) and config.num_frames == 9
    again = TrainConfig.from_json(config.to_json())
    assert again == config
    with pytest.raises(ValueError, match="unknown fields"):
        TrainConfig.from_json('{"stepz": 3}')
    with pytest.raises(ValueError, match="mode_probabilities"):
        TrainConfig(mode_probabilities={"depth": 1.0})


def test_the_channel_concat_ablation_trains_saves_and_resumes(tmp_path):
    model = {**TINY_MODEL, "in_channels": 10, "out_channels": 9}
    config = tiny_config(tmp_path, model=model, ray_representation="plucker_concat", steps=2)
    example = TrainingExamples(SyntheticClips(num_clips=1, num_frames=5, image_size=(32, 48), seed=1, num_scenes=1),
                               config)[0]
    assert example["rays"].shape == (6, 5, 32, 48)                   # Plücker rays at the frame size
    result = train(config, log=lambda line: None)
    loaded = JointTransformer.from_pretrained(result.checkpoint / "model")
    assert loaded.config.in_channels == 10 and loaded.config.video_out_channels == 9
    config.steps = 3
    assert train(config, log=lambda line: None).step == 3
    with pytest.raises(ValueError, match="in_channels 10 and out_channels 9"):
        train(tiny_config(tmp_path, ray_representation="plucker_concat"), log=lambda line: None)
