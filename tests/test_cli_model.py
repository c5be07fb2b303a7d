"""The joint-model commands of `raxel` (raxel_core/cli/): `raxel sample` runs a saved model on real
files and writes the outputs a user opens; a bad model path (missing, pickle, corrupt, config that
does not match the weights) ends with status 2 and one line naming the problem, never a traceback."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from shared_data import DATA

from raxel_core import cli
from raxel_core.model import JointModelConfig, JointTransformer

ROOT = Path(__file__).resolve().parents[1]
RE10K_CLIP = DATA / "re10k" / "videos" / "0bf152ef84195293.mp4"
needs_clip = pytest.mark.shared_data("re10k/videos/0bf152ef84195293.mp4")

#: A pixel-space model with the bundled model's patch layout (64x96 frames, 32x48 raxels) but one
#: small layer: cheap to run, same code path.
TINY = JointModelConfig.small(num_layers=1, num_attention_heads=2, attention_head_dim=16, ffn_dim=64, freq_dim=32)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    import torch

    torch.manual_seed(0)
    folder = JointTransformer(TINY).save_pretrained(tmp_path_factory.mktemp("models") / "tiny")
    # as `raxel train` leaves it: the training frame size recorded beside the weights
    (Path(folder) / "state.json").write_text(
        json.dumps({"step": 0, "config": {"image_size": [64, 96], "num_frames": 5}}))
    return folder


def _source_image(path: Path) -> Path:
    from raxel_core.video_io import read_video_frames

    frame = read_video_frames(RE10K_CLIP, max_frames=1)[0]        # 256x384, the model's 2:3 aspect
    Image.fromarray(frame).save(path)
    return path


def _one_line_error(capsys, argv: list[str], *needles: str) -> str:
    code = cli.main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


@needs_clip
def test_sample_video_mode_writes_the_clip_and_raxels(tiny_model, tmp_path):
    from raxel_core.authoring.trajectory_presets import make_preset
    from raxel_core.formats import write_trajectory
    from raxel_core.video_io import read_video_frames

    image = _source_image(tmp_path / "source.png")
    write_trajectory(make_preset("dolly_in", 5, image_size=(64, 96)), tmp_path / "move.json")
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "raxel_core.cli", "sample", "video", "--model", str(tiny_model),
                          "--image", str(image), "--trajectory", str(tmp_path / "move.json"), "--out", str(out),
                          "--steps-video", "2", "--seed", "3"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr
    frames = read_video_frames(out / "video.mp4")
    assert frames.shape == (5, 64, 96, 3)                      # the trajectory's length at the model's size
    strip = np.asarray(Image.open(out / "raxels.png"))
    assert strip.shape == (32, 5 * 48, 3)                      # one 48x32 raxel image per camera
    assert not (out / "trajectory.txt").exists()               # video mode follows the given cameras
    # frame 0 is the source image, resized and centre-cropped to 96x64 (video coding is lossy)
    expected = np.asarray(Image.open(image).convert("RGB").resize((96, 64), Image.BILINEAR)).astype(float)
    assert np.abs(frames[0].astype(float) - expected).mean() < 20


@needs_clip
def test_sample_a_latent_model_with_a_local_diffusers_wan_vae(tmp_path):
    """`raxel sample video --vae DIR`: a 16-channel latent model through a local diffusers Wan 2.1
    VAE folder (random weights at base width 8, saved as safetensors): 5 frames at the model's size."""
    import torch
    from diffusers import AutoencoderKLWan

    from raxel_core.authoring.trajectory_presets import make_preset
    from raxel_core.formats import write_trajectory
    from raxel_core.video_io import read_video_frames

    torch.manual_seed(0)
    AutoencoderKLWan(base_dim=8, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=1, attn_scales=[],
                     temperal_downsample=[False, True, True]).save_pretrained(tmp_path / "vae")
    config = JointModelConfig.small(in_channels=16, ray_in_channels=16, patch_size=(1, 2, 2), num_layers=1,
                                    num_attention_heads=2, attention_head_dim=16, ffn_dim=64, freq_dim=32,
                                    video_temporal_compression=4)
    model = JointTransformer(config).save_pretrained(tmp_path / "latent")
    (Path(model) / "state.json").write_text(
        json.dumps({"step": 0, "config": {"image_size": [64, 96], "num_frames": 5}}))
    write_trajectory(make_preset("orbit_left", 5, image_size=(64, 96)), tmp_path / "move.json")
    argv = ["sample", "video", "--model", str(model), "--image", str(_source_image(tmp_path / "source.png")),
            "--trajectory", str(tmp_path / "move.json"), "--out", str(tmp_path / "out"), "--steps-video", "2"]
    assert cli.main([*argv, "--vae", str(tmp_path / "vae")]) == 0
    assert read_video_frames(tmp_path / "out" / "video.mp4").shape == (5, 64, 96, 3)
    assert cli.main(argv) == 2                                  # no VAE for a latent model: one clear line


@needs_clip
def test_sample_pose_mode_with_the_bundled_model_writes_a_trajectory(tmp_path):
    if not (cli.BUNDLED_MODEL_DIR / "model.safetensors").is_file():
        pytest.skip(f"the bundled model is not installed at {cli.BUNDLED_MODEL_DIR}")
    from raxel_core.formats import read_trajectory

    out = tmp_path / "out"
    assert cli.main(["sample", "pose", "--video", str(RE10K_CLIP), "--out", str(out), "--frames", "9"]) == 0
    cams = read_trajectory(out / "trajectory.txt", image_size=(32, 48))
    assert len(cams) == 9


@needs_clip
def test_sample_says_what_it_used_and_warns_when_it_resized_or_left_frames_out(tmp_path, capsys):
    """The clip has 16 frames of 256x384; the bundled model was trained on 9 frames of 32x48:
    `raxel sample pose` says it used 9 frames at 32x48 and warns (stderr) about both changes. A
    video that already fits gets the same summary and no warning."""
    if not (cli.BUNDLED_MODEL_DIR / "model.safetensors").is_file():
        pytest.skip(f"the bundled model is not installed at {cli.BUNDLED_MODEL_DIR}")
    from raxel_core.video_io import read_video_frames, write_video

    assert cli.main(["sample", "pose", "--video", str(RE10K_CLIP), "--out", str(tmp_path / "a")]) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2, captured.err
    assert "used the first 9 frames" in warnings[0] and "left out" in warnings[0]
    assert "resized from 256x384 to 32x48" in warnings[1]
    assert "sampled pose: 9 frames at 32x48 (raxels 16x24)" in captured.out, captured.out

    fitting = write_video(tmp_path / "fits.mp4", read_video_frames(RE10K_CLIP, max_frames=9)[:, ::8, ::8], 8.0)
    assert cli.main(["sample", "pose", "--video", str(fitting), "--out", str(tmp_path / "b")]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err, captured.err
    assert "sampled pose: 9 frames at 32x48" in captured.out


def test_missing_model_exits_2_with_one_line(capsys, tmp_path):
    _one_line_error(capsys, ["sample", "joint", "--model", str(tmp_path / "nowhere"), "--image", "x.png",
                             "--out", str(tmp_path / "o")], "no model at", "nowhere")


def test_pickled_checkpoint_is_refused(capsys, tmp_path):
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"\x80\x04not a real pickle")
    _one_line_error(capsys, ["sample", "pose", "--model", str(ckpt), "--video", "v.mp4", "--out", str(tmp_path / "o")],
                    "refusing model.ckpt", "safetensors")


def test_corrupt_safetensors_is_refused(capsys, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "model.safetensors").write_bytes(np.random.default_rng(0).bytes(4096))
    (bad / "config.json").write_text(TINY.to_json())
    _one_line_error(capsys, ["sample", "pose", "--model", str(bad), "--video", "v.mp4", "--out", str(tmp_path / "o")],
                    "not a readable .safetensors file", "corrupt")


def test_config_that_does_not_match_the_weights_is_refused(capsys, tiny_model, tmp_path):
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "model.safetensors").write_bytes((tiny_model / "model.safetensors").read_bytes())
    (wrong / "config.json").write_text(JointModelConfig.small(num_layers=2, num_attention_heads=2,
                                                              attention_head_dim=16, ffn_dim=64,
                                                              freq_dim=32).to_json())
    image = tmp_path / "img.png"
    Image.fromarray(np.zeros((64, 96, 3), np.uint8)).save(image)
    _one_line_error(capsys, ["sample", "joint", "--model", str(wrong), "--image", str(image),
                             "--out", str(tmp_path / "o")], "does not match the config", "blocks.1")


def test_missing_input_file_is_named(capsys, tiny_model, tmp_path):
    _one_line_error(capsys, ["sample", "video", "--model", str(tiny_model), "--image", str(tmp_path / "none.png"),
                             "--trajectory", "t.json", "--out", str(tmp_path / "o")], "--image", "none.png")


@pytest.mark.skipif(not (ROOT / "models" / "raxel-tiny-v1" / "model.safetensors").is_file(),
                    reason="the bundled model models/raxel-tiny-v1 is not in this checkout")
def test_eval_joint_prints_the_tables_for_the_bundled_model(capsys, tmp_path):
    """`raxel eval-joint` end to end on one held-out synthetic clip: the pose, camera-following
    and closed-loop tables, and a JSON with the same sections."""
    code = cli.main(["eval-joint", "--synthetic", "1", "--re10k", "0", "--ablation", "none",
                     "--pose-steps", "2", "--steps-video", "2", "--json", str(tmp_path / "eval.json")])
    out = capsys.readouterr().out
    assert code == 0
    for table in ("### Pose from video", "### Camera following", "### Closed loop"):
        assert table in out
    assert "raxel (raxel-tiny-v1), 2 ray steps" in out
    report = json.loads((tmp_path / "eval.json").read_text())
    assert {"pose", "following"} <= set(report)


def test_train_and_prepare_refuse_bad_paths_in_one_line(capsys, tmp_path):
    _one_line_error(capsys, ["prepare", str(tmp_path / "no_videos"), str(tmp_path / "o")], "is not a folder")
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"steps": "many"}))
    code = cli.main(["train", str(config), "--steps", "1", "--checkpoint-dir", str(tmp_path / "ck")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "raxel train: error" in err, err
