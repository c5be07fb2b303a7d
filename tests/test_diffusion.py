"""Flow matching, training clips and the sampler of the joint video + ray model
(raxel_core.diffusion; Rays as Pixels, arXiv 2604.09429, Sec. 3.4-3.5)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from shared_data import DATA

pytest.importorskip("diffusers", reason="raxel_core.model needs diffusers (pip install 'diffusers>=0.32')")

from raxel_core.cameras import Cameras
from raxel_core.diffusion.datasets import (
    RealEstate10KClips,
    augment_clip,
    clip_order,
    spread_indices,
    tensor_to_frames,
)
from raxel_core.diffusion.flow_matching import (
    clean_masks,
    interpolate,
    noise_batch,
    stream_loss,
    t_to_timestep,
    timestep_to_t,
    velocity_target,
)
from raxel_core.diffusion.prepare import prepare_dataset
from raxel_core.diffusion.sampler import sample
from raxel_core.formats.realestate10k import read_realestate10k
from raxel_core.geometry.rotations import rotation_error_deg
from raxel_core.model import ChannelConcatModel, JointModelConfig, JointTransformer, is_channel_concat
from raxel_core.rays.codecs import encode_plucker_rays, encode_rays, ray_representation_for, rays_to_cameras
from raxel_core.synthetic.clips import SyntheticClips

RE10K = DATA / "re10k"
needs_re10k = pytest.mark.shared_data("re10k/videos")

# A 1-layer pixel-space model on 32x48 frames (16x24 raxels): the small preset's token layout, tiny widths.
TINY = JointModelConfig.small(num_layers=1, num_attention_heads=2, attention_head_dim=16, ffn_dim=64, freq_dim=32)
SIZE = (32, 48)


def relative(cams: Cameras) -> Cameras:
    """Cameras relative to frame 0 with the farthest centre at distance 1 (what raxels keep)."""
    rel = cams.relative_to(0)
    scale = float(torch.linalg.norm(rel.centers, dim=-1).max())
    return rel.scaled(1 / scale) if scale > 1e-9 else rel


def assert_same_trajectory(a: Cameras, b: Cameras, rot_deg=1e-4, centre=1e-5, focal=1e-4):
    assert len(a) == len(b)
    assert float(rotation_error_deg(a.R, b.R).max()) < rot_deg
    assert float((a.centers - b.centers).abs().max()) < centre
    assert float(((a.K - b.K).abs() / b.K.abs().clamp_min(1)).max()) < focal


@pytest.fixture(scope="module")
def clips():
    return SyntheticClips(num_clips=6, num_frames=5, image_size=SIZE, seed=3, num_scenes=2)


# ------------------------------------------------------------------------------ flow matching
def test_loss_is_zero_for_the_exact_velocity_and_the_cosine_term_measures_direction():
    g = torch.Generator().manual_seed(0)
    u = torch.randn(2, 3, 4, 8, 12, generator=g)
    noised = torch.ones(2, 4, dtype=torch.bool)
    exact = stream_loss(u.clone(), u, noised)
    assert torch.allclose(exact.total, torch.zeros(2), atol=1e-6)
    opposite = stream_loss(-u, u, noised)                     # cos = -1: 0.5 * (1 - (-1)) = 1
    assert torch.allclose(opposite.cosine, torch.ones(2), atol=1e-6)
    longer = stream_loss(2 * u, u, noised)                    # same direction: cosine term 0, mse = mean u^2
    assert torch.allclose(longer.cosine, torch.zeros(2), atol=1e-6)
    assert torch.allclose(longer.mse, u.square().mean(dim=(1, 2, 3, 4)), rtol=1e-5)


def test_interpolation_endpoints_velocity_and_timestep_convention():
    g = torch.Generator().manual_seed(1)
    x0, x1 = torch.randn(1, 3, 3, 4, 4, generator=g), torch.randn(1, 3, 3, 4, 4, generator=g)
    t = torch.tensor([[0.0, 0.25, 1.0]])
    xt = interpolate(x0, x1, t)
    assert torch.equal(xt[:, :, 0], x0[:, :, 0]) and torch.equal(xt[:, :, 2], x1[:, :, 2])
    assert torch.allclose(xt[:, :, 1], 0.75 * x0[:, :, 1] + 0.25 * x1[:, :, 1])
    h = 1e-3                                                  # d x_t / dt = x1 - x0
    deriv = (interpolate(x0, x1, t.clamp(max=1 - h) + h) - interpolate(x0, x1, t.clamp(max=1 - h))) / h
    assert torch.allclose(deriv, velocity_target(x0, x1), atol=1e-3)
    assert t_to_timestep(torch.tensor(1.0)) == 0 and t_to_timestep(torch.tensor(0.0)) == 1000
    assert torch.allclose(timestep_to_t(t_to_timestep(t)), t)


def test_clean_frames_are_kept_exact_and_left_out_of_the_loss():
    g = torch.Generator().manual_seed(2)
    video, noise = torch.randn(1, 3, 4, 8, 8, generator=g), torch.randn(1, 3, 4, 8, 8, generator=g)
    t = torch.tensor([[1.0, 0.3, 0.3, 0.3]])
    nb = noise_batch(video, video, noise, noise, t, t)
    assert torch.equal(nb.video[:, :, 0], video[:, :, 0]) and nb.video_timesteps[0, 0] == 0
    assert nb.video_noised.tolist() == [[False, True, True, True]]
    v = torch.randn(1, 3, 4, 8, 8, generator=g)
    spoiled = v.clone()
    spoiled[:, :, 0] = 1e6                                    # garbage on the clean frame changes nothing
    a, b = stream_loss(v, nb.video_target, nb.video_noised), stream_loss(spoiled, nb.video_target, nb.video_noised)
    assert torch.equal(a.total, b.total)
    none = stream_loss(v, nb.video_target, torch.zeros(1, 4, dtype=torch.bool))
    assert none.total.item() == 0 and not none.counted.item()


def test_task_modes_follow_the_paper_table():
    vc, rc = clean_masks("pose", 5, 5)
    assert vc.all() and not rc.any()                          # video given, rays generated
    vc, rc = clean_masks("video", 5, 5, num_source_frames=2)
    assert vc.tolist() == [True, True, False, False, False] and rc.all()
    vc, rc = clean_masks("joint", 5, 5)
    assert vc.tolist() == [True, False, False, False, False] and not rc.any()
    with pytest.raises(ValueError, match="unknown task mode"):
        clean_masks("depth", 5, 5)
    with pytest.raises(ValueError, match="source frames"):
        clean_masks("joint", 5, 5, num_source_frames=5)


# ------------------------------------------------------------------------------ datasets
def test_synthetic_clips_are_deterministic_shaped_and_decode_to_their_cameras(clips, tmp_path):
    clip = clips[1]
    assert clip.video.shape == (5, 3, *SIZE) and clip.video.dtype == torch.float32
    assert clip.rays.shape == (5, 3, SIZE[0] // 2, SIZE[1] // 2)
    assert -1 <= clip.video.min() and clip.video.max() <= 1 and clip.rays.abs().max() <= 1
    assert clip.video.std() > 0.1                             # a textured room, not a blank frame
    again = SyntheticClips(num_clips=6, num_frames=5, image_size=SIZE, seed=3, num_scenes=2, cache_dir=tmp_path)[1]
    assert torch.equal(again.video, clip.video) and torch.equal(again.rays, clip.rays)
    cached = SyntheticClips(num_clips=6, num_frames=5, image_size=SIZE, seed=3, num_scenes=2, cache_dir=tmp_path)[1]
    assert torch.equal(cached.video, clip.video) and torch.equal(cached.cameras.K, clip.cameras.K)
    assert not torch.equal(clips[2].cameras.R, clip.cameras.R)
    # the float ray path (no 8-bit rounding) decodes back to the exact cameras, in world units
    assert_same_trajectory(rays_to_cameras(clip.rays, clip.raxel_metadata), clip.cameras)
    assert_same_trajectory(rays_to_cameras(clip.rays, None, SIZE), relative(clip.cameras))


def test_time_reversal_and_source_frame_reorder_the_decoded_trajectory(clips):
    clip = clips[0]
    reversed_clip = augment_clip(clip, source=4, reverse=True)       # source = last frame = first after reversal
    assert clip_order(5, 4, True) == [4, 3, 2, 1, 0]
    assert torch.equal(reversed_clip.video, clip.video.flip(0))
    decoded = rays_to_cameras(reversed_clip.rays, None, SIZE)
    assert_same_trajectory(decoded, relative(clip.cameras[torch.arange(4, -1, -1)]))
    moved = augment_clip(clip, source=2, reverse=False)
    assert clip_order(5, 2, False) == [2, 0, 1, 3, 4]
    assert torch.equal(moved.video[0], clip.video[2])
    assert_same_trajectory(rays_to_cameras(moved.rays, None, SIZE),
                           relative(clip.cameras[torch.tensor([2, 0, 1, 3, 4])]))


@needs_re10k
def test_realestate10k_clips_resize_frames_and_cameras_together():
    ds = RealEstate10KClips(RE10K, num_frames=9, image_size=(64, 96), source_aspect=16 / 9,
                            stems=["0bf152ef84195293"])
    clip = ds[0]
    assert clip.video.shape == (9, 3, 64, 96) and clip.rays.shape == (9, 3, 32, 48)
    full = read_realestate10k(RE10K / "poses" / "0bf152ef84195293.txt", image_size=(256, 384), source_aspect=16 / 9)
    idx = spread_indices(16, 9)
    assert idx[0] == 0 and idx[-1] == 15
    assert torch.allclose(clip.cameras.R, full.R[idx])
    # 384x256 -> crop 384x256 to 3:2 is the whole frame, then a plain resize by 1/4
    expected_K = full.K[idx].clone()
    expected_K[:, :2] /= 4
    assert torch.allclose(clip.cameras.K, expected_K)
    assert_same_trajectory(rays_to_cameras(clip.rays, clip.raxel_metadata), clip.cameras)


@needs_re10k
def test_prepare_dataset_writes_the_realestate10k_layout_and_names_failures(tmp_path):
    from raxel_core.video_io import read_video_frames, write_video

    src = tmp_path / "mine"
    src.mkdir()
    frames = read_video_frames(RE10K / "videos" / "0bf152ef84195293.mp4")
    write_video(src / "room.mp4", frames, 8.0)
    write_video(src / "single.mp4", frames[:1], 8.0)         # one frame: no trajectory
    report = prepare_dataset(src, tmp_path / "prepared")
    assert report.written == ["room"]
    assert "single.mp4" in report.skipped and "frames" in report.skipped["single.mp4"]
    assert (tmp_path / "prepared" / "prepare_report.json").is_file()
    clip = RealEstate10KClips(tmp_path / "prepared", num_frames=9, image_size=(64, 96))[0]
    clip.cameras.validate()
    reference = read_realestate10k(RE10K / "poses" / "0bf152ef84195293.txt", image_size=(256, 384),
                                   source_aspect=16 / 9)
    idx = spread_indices(16, 9)
    rel_angle = rotation_error_deg(clip.cameras.R[1:] @ clip.cameras.R[:1].transpose(1, 2),
                                   reference.R[idx][1:] @ reference.R[:1].transpose(1, 2))
    assert float(rel_angle.max()) < 3.0                        # pseudo ground truth agrees with the SLAM poses


# ------------------------------------------------------------------------------ sampler
class ExactVelocity(torch.nn.Module):
    """The exact flow-matching velocity towards known data: for x = sigma * n + (1 - sigma) * d the
    network velocity dx/dsigma is n - d = (x - d) / sigma (0 on clean frames). Records the timesteps
    it is called with. Closed form: Euler integration of it is exact in any number of steps."""

    def __init__(self, video, rays):
        super().__init__()
        self.config = TINY
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.video, self.rays = video, rays
        self.calls = []

    def forward(self, video, rays, video_timesteps, ray_timesteps, text=None):
        self.calls.append((video_timesteps.clone(), ray_timesteps.clone()))

        def v(x, data, ts):
            sigma = (ts / 1000)[:, None, :, None, None]
            return torch.where(sigma > 0, (x - data) / sigma.clamp_min(1e-12), torch.zeros_like(x))

        return v(video, self.video, video_timesteps), v(rays, self.rays, ray_timesteps)


def _stream_data(clip):
    return clip.video.permute(1, 0, 2, 3)[None], clip.rays.permute(1, 0, 2, 3)[None]


def test_joint_sampling_with_the_exact_velocity_recovers_video_and_cameras_with_separate_step_counts(clips):
    clip = clips[1]
    oracle = ExactVelocity(*_stream_data(clip))
    frames = tensor_to_frames(clip.video)
    result = sample(oracle, "joint", source_frames=frames[:1], num_frames=5, steps_video=6, steps_rays=2, seed=0)
    assert result.model_calls == {"forward": 6, "video": 6, "rays": 2}   # merged grid {1, 5/6, .., 0}
    assert len(oracle.calls) == 6
    video_levels = {round(float(ts[0, 1]), 6) for ts, _ in oracle.calls}
    ray_levels = {round(float(ts[0, 0]), 6) for _, ts in oracle.calls}
    assert len(video_levels) == 6 and ray_levels == {1000.0, 500.0, 0.0}  # rays clean after their 2 steps
    assert all(float(ts[0, 0]) == 0 for ts, _ in oracle.calls)           # the source frame stays clean
    assert torch.allclose(result.video, (clip.video.permute(0, 2, 3, 1) + 1) / 2, atol=1e-5)
    assert_same_trajectory(result.cameras, relative(clip.cameras), rot_deg=1e-3, centre=1e-4, focal=1e-3)


def test_pose_mode_returns_valid_cameras_in_two_steps(clips):
    clip = clips[2]
    oracle = ExactVelocity(*_stream_data(clip))
    result = sample(oracle, "pose", video=tensor_to_frames(clip.video), steps_rays=2, seed=5)
    assert result.model_calls == {"forward": 2, "video": 0, "rays": 2}
    result.cameras.validate("pose mode")
    assert result.cameras.image_size == SIZE
    # the video is given as 8-bit frames, so only the rays (float) matter: exact cameras
    assert_same_trajectory(result.cameras, relative(clip.cameras), rot_deg=1e-3, centre=1e-4, focal=1e-3)


class LinearVelocity(torch.nn.Module):
    """The smallest trainable network that can represent the flow towards one fixed clip: per stream
    and per training timestep (1000, 500) an output ``a * x + b`` (``a`` a scalar, ``b`` a tensor of
    the stream's shape). The flow's velocity at noise level sigma is linear in ``x`` with
    ``a = 1 / sigma`` and ``b = -data / sigma`` (either sign, depending on the convention): training
    finds whichever sign the loss asks for. A timestep it was not trained at raises."""

    LEVELS = (1000.0, 500.0)

    def __init__(self, video, rays):
        super().__init__()
        self.config = TINY
        # a starts at 0.5, not 0: a zero output has no direction, and the loss's cosine term would give it
        # a gradient of ~1e9 that stalls Adam for thousands of steps
        self.a = torch.nn.ParameterDict({f"{s}_{int(k)}": torch.nn.Parameter(torch.tensor(0.5))
                                         for s in ("video", "rays") for k in self.LEVELS})
        self.b = torch.nn.ParameterDict({f"{s}_{int(k)}": torch.nn.Parameter(torch.zeros(x.shape[1:]))
                                         for s, x in (("video", video), ("rays", rays)) for k in self.LEVELS})

    def forward(self, video, rays, video_timesteps, ray_timesteps, text=None):
        def out(name, x, ts):
            known = (ts == 0) | (ts == self.LEVELS[0]) | (ts == self.LEVELS[1])
            assert bool(known.all()), f"timesteps {ts.tolist()} were never trained"
            y = torch.zeros_like(x)
            for level in self.LEVELS:
                key = f"{name}_{int(level)}"
                y = torch.where((ts == level)[:, None, :, None, None], self.a[key] * x + self.b[key], y)
            return y

        return out("video", video, video_timesteps), out("rays", rays, ray_timesteps)


def test_the_sampler_integrates_what_training_learns_from_noise_to_the_data(clips):
    """The train / sample velocity sign contract, end to end: a network trained by
    :func:`raxel_core.diffusion.training.training_step` (the flow-matching loss of training) on one
    clip, then run by the sampler (2 + 2 Euler steps, joint mode), returns that clip's video and
    cameras. A sign flipped in training (the loss's target or the network's output convention) or
    in the sampler's Euler step sends the sample to ``2 * noise - data`` instead."""
    from raxel_core.diffusion.training import training_step

    clip = clips[1]
    video, rays = _stream_data(clip)
    model = LinearVelocity(video, rays)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(0)
    batch_size, n = 8, video.shape[2]
    t = torch.tensor([0.0, 0.5] * (batch_size // 2))[:, None]          # sigma 1 and 0.5: the sampler's grid
    video_t = torch.cat([torch.ones(batch_size, 1), t.expand(batch_size, n - 1)], dim=1)  # joint: frame 0 given
    ray_t = t.expand(batch_size, rays.shape[2]).clone()
    for _ in range(150):
        batch = {"video": video.expand(batch_size, -1, -1, -1, -1), "rays": rays.expand(batch_size, -1, -1, -1, -1),
                 "video_noise": torch.randn((batch_size, *video.shape[1:]), generator=g),
                 "ray_noise": torch.randn((batch_size, *rays.shape[1:]), generator=g),
                 "video_t": video_t, "ray_t": ray_t}
        loss = training_step(model, optimizer, batch)
    assert float(loss.mean()) < 1e-3                                   # trained to the exact flow (measured 1e-7)
    model.eval()
    with torch.no_grad():
        result = sample(model, "joint", source_frames=tensor_to_frames(clip.video)[:1], num_frames=n,
                        steps_video=2, steps_rays=2, seed=11)
    assert result.model_calls == {"forward": 2, "video": 2, "rays": 2}
    assert float((result.video - (clip.video.permute(0, 2, 3, 1) + 1) / 2).abs().max()) < 0.02
    assert_same_trajectory(result.cameras, relative(clip.cameras), rot_deg=0.5, centre=0.01, focal=0.01)


def test_pose_mode_with_an_untrained_model_names_the_problem(clips):
    torch.manual_seed(0)
    model = JointTransformer(TINY).eval()
    with pytest.raises(ValueError, match="do not decode to cameras"):
        sample(model, "pose", video=tensor_to_frames(clips[0].video), steps_rays=2)


def test_sampling_is_seeded_and_interruptible_with_a_real_model(clips):
    torch.manual_seed(0)
    model = JointTransformer(TINY).eval()
    clip = clips[0]
    kwargs = {"source_frames": tensor_to_frames(clip.video)[:1], "cameras": clip.cameras, "steps_video": 3}
    a, b = sample(model, "video", seed=7, **kwargs), sample(model, "video", seed=7, **kwargs)
    c = sample(model, "video", seed=8, **kwargs)
    assert torch.equal(a.video, b.video) and not torch.equal(a.video, c.video)
    assert a.model_calls == {"forward": 3, "video": 3, "rays": 0}
    assert torch.equal(a.video[0], (clip.video[0].permute(1, 2, 0) + 1) / 2)   # the source frame is kept
    assert a.cameras is clip.cameras or torch.equal(a.cameras.R, clip.cameras.R)
    seen = []
    with pytest.raises(InterruptedError):
        sample(model, "video", seed=7, progress=lambda d, t: seen.append((d, t)),
               should_stop=lambda: len(seen) >= 2, **kwargs)
    assert seen == [(1, 3), (2, 3)]


def test_sampler_rejects_bad_lengths_resolutions_and_inputs(clips):
    model = JointTransformer(TINY).eval()
    clip = clips[0]
    frames = tensor_to_frames(clip.video)
    with pytest.raises(ValueError, match="resample"):
        sample(model, "video", source_frames=frames[:1], cameras=clip.cameras, num_frames=7)
    with pytest.raises(ValueError, match=r"cannot take 30x48 frames.*e.g. 32x48"):
        sample(model, "pose", video=np.zeros((5, 30, 48, 3), np.uint8))
    with pytest.raises(ValueError, match="needs source_frames"):
        sample(model, "joint", num_frames=5)
    with pytest.raises(ValueError, match="num_frames"):
        sample(model, "pose", video=frames, num_frames=9)
    with pytest.raises(ValueError, match="another aspect"):
        sample(model, "video", source_frames=frames[:1], cameras=clip.cameras.with_image_size((48, 48)))
    rays, _ = encode_rays(clip.cameras, (16, 24))
    with pytest.raises(ValueError, match="exactly one of"):
        sample(model, "video", source_frames=frames[:1], cameras=clip.cameras, rays=rays)


# ------------------------------------------------------------------------------ channel-concat ablation
CONCAT = replace(TINY, in_channels=10, out_channels=9)


class ExactConcatVelocity(torch.nn.Module):
    """The inner network of a channel-concat model that returns the exact velocity: the video
    channels at the video timestep, the Plücker channels at the noise level of the tenth input
    channel (which is how the ray stream's timestep must reach it)."""

    def __init__(self, video, plucker):
        super().__init__()
        self.config = CONCAT
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.data = torch.cat([video, plucker], 1)
        self.levels = []

    def forward(self, x, rays, video_timesteps, ray_timesteps, text=None):
        assert rays is None and ray_timesteps is None and x.shape[1] == 10
        level = x[:, 9:10]
        self.levels.append(float(level.mean()))
        sigma = torch.cat([(video_timesteps / 1000)[:, None, :, None, None].expand_as(x[:, :3]),
                           level.expand_as(x[:, 3:9])], 1)
        v = torch.where(sigma > 0, (x[:, :9] - self.data) / sigma.clamp_min(1e-12), torch.zeros_like(x[:, :9]))
        return v, None


def test_channel_concat_model_routes_both_streams_through_one_token_sequence():
    torch.manual_seed(0)
    inner = JointTransformer(CONCAT).eval()
    model = ChannelConcatModel(inner)
    assert ray_representation_for(CONCAT) == "plucker_concat" and is_channel_concat(CONCAT)
    video, rays = torch.randn(2, 3, 5, 32, 48), torch.randn(2, 6, 5, 32, 48)
    tv, tr = torch.zeros(2, 5), torch.full((2, 5), 400.0)
    with torch.no_grad():
        v, r = model(video, rays, tv, tr)
        level = torch.full((2, 1, 5, 32, 48), 0.4)
        direct, none = inner(torch.cat([video, rays, level], 1), None, tv, None)
    assert none is None and v.shape == video.shape and r.shape == rays.shape
    assert torch.equal(torch.cat([v, r], 1), direct)
    with pytest.raises(ValueError, match="like the video"):
        model(video, rays[..., :16, :24], tv, tr)
    with pytest.raises(ValueError, match="in_channels 10"):
        ChannelConcatModel(JointTransformer(TINY))


def test_channel_concat_pose_and_video_modes_use_plucker_rays_at_the_frame_size(clips):
    clip = clips[2]
    plucker = encode_plucker_rays(clip.cameras, SIZE, reference=0).permute(1, 0, 2, 3)[None]
    oracle = ExactConcatVelocity(clip.video.permute(1, 0, 2, 3)[None], plucker)
    result = sample(oracle, "pose", video=tensor_to_frames(clip.video), steps_rays=2, seed=5)
    assert result.model_calls == {"forward": 2, "video": 0, "rays": 2}
    assert oracle.levels == pytest.approx([1.0, 0.5])               # the rays' sigma reaches the network
    assert result.ray_stream.shape == (5, 6, *SIZE)
    assert_same_trajectory(result.cameras, relative(clip.cameras), rot_deg=1e-3, centre=1e-4, focal=1e-3)
    torch.manual_seed(0)
    model = JointTransformer(CONCAT).eval()
    followed = sample(model, "video", source_frames=tensor_to_frames(clip.video)[:1], cameras=clip.cameras,
                      steps_video=2)
    assert followed.video.shape == (5, *SIZE, 3) and followed.model_calls == {"forward": 2, "video": 2, "rays": 0}
    with pytest.raises(ValueError, match="do not decode to cameras"):
        sample(model, "pose", video=tensor_to_frames(clip.video), steps_rays=2)


def test_a_plucker_ray_branch_model_samples_on_pixels_and_refuses_a_vae(clips):
    clip = clips[2]
    model = JointTransformer(replace(TINY, ray_in_channels=6)).eval()
    result = sample(model, "video", source_frames=tensor_to_frames(clip.video)[:1], cameras=clip.cameras,
                    steps_video=2)
    assert result.video.shape == (5, *SIZE, 3) and result.ray_stream.shape == (5, 6, 16, 24)
    with pytest.raises(ValueError, match="plucker ablation model runs on pixels"):
        sample(model, "pose", video=tensor_to_frames(clip.video), latent_space=SpaceToDepth())


# ------------------------------------------------------------------------------ latent spaces
class SpaceToDepth:
    """An exactly invertible latent space (pixel unshuffle by 2: 12 channels, no temporal
    compression), so sampling through a latent space can be checked to the last bit."""

    name, channels, spatial_factor, temporal_factor = "space-to-depth", 12, 2, 1

    def encode_video(self, video):
        return torch.nn.functional.pixel_unshuffle(video.transpose(0, 1), 2).transpose(0, 1)

    def decode_video(self, latents):
        return torch.nn.functional.pixel_shuffle(latents.transpose(0, 1), 2).transpose(0, 1)

    encode_images, decode_images = encode_video, decode_video


LATENT12 = replace(TINY, in_channels=12, ray_in_channels=12)


def test_pose_and_joint_sampling_through_a_latent_space_encode_inputs_and_decode_results(clips):
    clip, space = clips[2], SpaceToDepth()
    video, rays = _stream_data(clip)
    z_video, z_rays = space.encode_video(video[0])[None], space.encode_images(rays[0])[None]
    oracle = ExactVelocity(z_video, z_rays)
    oracle.config = LATENT12
    result = sample(oracle, "pose", video=tensor_to_frames(clip.video), steps_rays=2, seed=5, latent_space=space)
    assert oracle.calls[0][1].shape == (1, 5) and result.latents["rays"].shape == (12, 5, 8, 12)
    assert torch.allclose(result.latents["rays"], z_rays[0], atol=1e-6)
    assert_same_trajectory(result.cameras, relative(clip.cameras), rot_deg=1e-3, centre=1e-4, focal=1e-3)
    joint = sample(oracle, "joint", source_frames=tensor_to_frames(clip.video)[:1], num_frames=5, steps_video=3,
                   steps_rays=2, latent_space=space)
    assert torch.allclose(joint.video, (clip.video.permute(0, 2, 3, 1) + 1) / 2, atol=1e-5)
    assert_same_trajectory(joint.cameras, relative(clip.cameras), rot_deg=1e-3, centre=1e-4, focal=1e-3)


def test_a_wan_vae_compresses_video_4x_in_time_but_encodes_raxels_one_per_camera(clips):
    """diffusers' AutoencoderKLWan (Wan 2.1's VAE layers, random weights at base width 8) as the
    latent space of a latent model: 5 frames -> 2 video latent frames, 5 ray latents."""
    from diffusers import AutoencoderKLWan

    from raxel_core.diffusion.latent_space import DiffusersWanVAE

    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=8, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=1, attn_scales=[],
                           temperal_downsample=[False, True, True])
    space = DiffusersWanVAE(vae)
    assert (space.channels, space.spatial_factor, space.temporal_factor) == (16, 8, 4)
    config = JointModelConfig.small(in_channels=16, ray_in_channels=16, patch_size=(1, 2, 2), num_layers=1,
                                    num_attention_heads=2, attention_head_dim=16, ffn_dim=64, freq_dim=32,
                                    video_temporal_compression=4)
    model = JointTransformer(config).eval()
    clip = SyntheticClips(num_clips=1, num_frames=5, image_size=(64, 96), seed=3, num_scenes=1)[0]
    frames = tensor_to_frames(clip.video)
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append((args[0].shape, args[1].shape)))
    result = sample(model, "video", source_frames=frames[:1], cameras=clip.cameras, steps_video=2, latent_space=space)
    assert seen[0] == ((1, 16, 2, 8, 12), (1, 16, 5, 4, 6))
    assert result.video.shape == (5, 64, 96, 3) and result.latents["video"].shape == (16, 2, 8, 12)
    assert torch.allclose(result.video[0], torch.from_numpy(frames[0]).float() / 255, atol=1e-6)  # the given frame
    assert result.cameras is not None and len(result.cameras) == 5
    with pytest.raises(ValueError, match=r"2 frames do not fill whole latent frames"):     # source images too
        sample(model, "video", source_frames=frames[:2], cameras=clip.cameras, latent_space=space)
    with pytest.raises(ValueError, match=r"1 \+ 4k frames, e.g. 5 or 9"):
        sample(model, "pose", video=np.zeros((6, 64, 96, 3), np.uint8), latent_space=space)
    with pytest.raises(ValueError, match="cannot take 48x96 frames"):
        sample(model, "pose", video=np.zeros((5, 48, 96, 3), np.uint8), latent_space=space)
    with pytest.raises(ValueError, match="VAE latents: give it the VAE"):
        sample(model, "pose", video=frames)
    with pytest.raises(ValueError, match="works on pixels directly"):
        sample(JointTransformer(TINY).eval(), "pose", video=tensor_to_frames(clips[0].video), latent_space=space)
    with pytest.raises(ValueError, match="compresses time 4x but the model was built for 1x"):
        sample(JointTransformer(replace(config, video_temporal_compression=1)).eval(), "pose", video=frames,
               latent_space=space)
