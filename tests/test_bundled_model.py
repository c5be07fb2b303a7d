"""The bundled model ``models/raxel-tiny-v1`` loads and runs the paper's three tasks on real input.

Inputs: a held-out synthetic clip (rendered room, exact cameras; a seed the training never used)
and a RealEstate10K clip of the shared data, centre-cropped and resized to the model's 32x48.
Few sampler steps: this checks shapes, ranges, conditioning and that the pose output decodes,
not quality (see models/raxel-tiny-v1/MODEL_CARD.md and ``raxel eval-joint`` for the numbers).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from raxel_core.cameras import Cameras
from raxel_core.diffusion.datasets import RealEstate10KClips, tensor_to_frames
from raxel_core.diffusion.sampler import sample
from raxel_core.model import JointModelConfig, JointTransformer
from raxel_core.synthetic.clips import SyntheticClips

ROOT = Path(__file__).resolve().parents[1]
MODEL_DIR = ROOT / "models" / "raxel-tiny-v1"
SIZE = (32, 48)
FRAMES = 9

pytestmark = pytest.mark.skipif(not (MODEL_DIR / "model.safetensors").is_file(),
                                reason=f"bundled model absent at {MODEL_DIR} (train with configs/train_tiny.json)")


@pytest.fixture(scope="module")
def model():
    return JointTransformer.from_pretrained(MODEL_DIR).eval()


@pytest.fixture(scope="module")
def synthetic_clip():
    clip = SyntheticClips(1, FRAMES, SIZE, seed=1000, num_scenes=1)[0]
    return tensor_to_frames(clip.video), clip.cameras


@pytest.fixture(scope="module")
def re10k_clip(shared_file):
    root = shared_file("re10k")
    clip = RealEstate10KClips(root, FRAMES, SIZE, source_aspect=16 / 9, stems=["0bf152ef84195293"])[0]
    return tensor_to_frames(clip.video), clip.cameras


def test_bundled_model_is_small_and_is_the_tiny_preset(model):
    size = sum(p.stat().st_size for p in MODEL_DIR.iterdir() if p.is_file())
    assert size <= 50 * 2**20, f"models/raxel-tiny-v1 is {size / 2**20:.1f} MB; the bundle must stay <= 50 MB"
    assert model.config == JointModelConfig.tiny()
    assert (MODEL_DIR / "MODEL_CARD.md").is_file()
    assert all(torch.isfinite(p).all() for p in model.parameters())


def _check_cameras(cameras: Cameras):
    assert len(cameras) == FRAMES
    assert tuple(cameras.image_size) == SIZE
    cameras.validate("bundled model output")
    assert torch.isfinite(cameras.K).all() and bool((cameras.fx > 0).all()) and bool((cameras.fy > 0).all())
    # decoded from generated raxels: the reference length the sampler divided by is reported
    assert 0.5 < cameras.metadata["reference_ray_length"] < 2.0


@pytest.mark.parametrize("clip_name", ["synthetic_clip", "re10k_clip"])
def test_pose_mode_returns_cameras_that_validate(model, clip_name, request):
    frames, _ = request.getfixturevalue(clip_name)
    result = sample(model, "pose", video=frames, steps_rays=2, seed=0)
    _check_cameras(result.cameras)
    assert result.model_calls == {"forward": 2, "video": 0, "rays": 2}
    assert tuple(result.video.shape) == (FRAMES, *SIZE, 3)            # the input video, passed through
    assert np.abs(result.video.numpy() * 255 - frames).max() <= 0.51


@pytest.mark.parametrize("clip_name", ["synthetic_clip", "re10k_clip"])
def test_video_mode_follows_given_trajectory_shapes(model, clip_name, request):
    frames, cameras = request.getfixturevalue(clip_name)
    result = sample(model, "video", source_frames=frames[:1], cameras=cameras, steps_video=4, seed=0)
    video = result.video.numpy()
    assert video.shape == (FRAMES, *SIZE, 3) and video.dtype == np.float32
    assert np.isfinite(video).all() and video.min() >= 0 and video.max() <= 1
    assert np.abs(video[0] * 255 - frames[0]).max() <= 0.51               # the source frame is kept
    assert result.cameras is not None and len(result.cameras) == FRAMES
    assert result.model_calls["video"] == 4 and result.model_calls["rays"] == 0


def test_joint_mode_generates_video_and_cameras(model, synthetic_clip):
    frames, _ = synthetic_clip
    result = sample(model, "joint", source_frames=frames[:1], num_frames=FRAMES, steps_video=4, steps_rays=2, seed=0)
    assert tuple(result.video.shape) == (FRAMES, *SIZE, 3)
    assert np.abs(result.video[0].numpy() * 255 - frames[0]).max() <= 0.51
    _check_cameras(result.cameras)
    assert result.model_calls == {"forward": 4, "video": 4, "rays": 2}
