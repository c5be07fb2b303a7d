"""The joint model's training path learns what it is trained on (issue 12, item 1).

A small two-branch model (:class:`JointModelConfig` ``tiny`` layout: video pixels in (1, 4, 4) patches,
raxels in (1, 2, 2) patches, 8 x 12 tokens per frame in both streams; 2 DSCA blocks, dim 64) is
trained on 4 synthetic clips of 5 frames with the real training step
(:func:`raxel_core.diffusion.training.training_step`, the paper's flow-matching loss), then sampled
with the real sampler:

* pose mode recovers each clip's cameras (rotation error per frame, translation direction per frame,
  both relative to frame 0, computed here with numpy from ``R`` / ``t``: the oracle shares no code with
  the decoder), far below the constant-camera baseline on the same clips;
* video mode, from frame 0 and the clip's cameras, reproduces the clip better than repeating frame 0;
* the same training with the ray branch's cross-attention (video -> rays) zeroed and frozen cannot
  tell the clips apart: its pose errors stay at the constant-camera level. With the cross-attention
  on, the pose loss sends gradient into the ray branch through the video tokens.

The sign / time conventions of training against sampling are checked in
``tests/test_diffusion.py::test_the_sampler_integrates_what_training_learns_from_noise_to_the_data``.
About 1-2 minutes of CPU time in all (two trainings of a 0.2 M-parameter model).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers", reason="raxel_core.model needs diffusers (pip install 'diffusers>=0.32')")

import raxel_core.diffusion  # noqa: F401  (import order: the synthetic clips import the diffusion package)
from raxel_core.cameras import Cameras
from raxel_core.diffusion.datasets import tensor_to_frames
from raxel_core.diffusion.sampler import sample
from raxel_core.diffusion.training import TrainConfig, TrainingExamples, collate, training_step
from raxel_core.model import JointModelConfig, JointTransformer
from raxel_core.synthetic.clips import SyntheticClips

SIZE, FRAMES, NUM_CLIPS = (32, 48), 5, 4
MODEL = JointModelConfig.tiny(num_layers=2, attention_head_dim=16, ffn_dim=256, freq_dim=64,
                              cross_attention_locality=1.0)
POSE_STEPS = 300          # optimizer steps of batch 8 on the 4 clips
#: Steps of the run without cross-attention: blind to the video, no step count gets it past the mean trajectory.
BLIND_STEPS = 100
VIDEO_STEPS = 150         # video-mode steps on one clip
#: The issue's bounds: rotation error per frame "under a few degrees" (measured at 300 steps: max 5.3 at 1 ray
#: step, 4.6 at 2; the constant camera: median 10.7, max 26.7), translation direction under 15 degrees.
MAX_ROTATION_DEG, MAX_DIRECTION_DEG = 6.0, 15.0


def train_model(clips, modes: dict, steps: int, zero_cross: bool = False, seed: int = 0) -> JointTransformer:
    """``steps`` real training steps (batch 8, AdamW 2e-3) on ``clips``; no source / reversal augmentation.
    Pose examples are trained at the noise levels a 1- and a 2-step pose sample visits (t = 0 and 0.5,
    half the batch each), so a short run suffices. ``zero_cross``: the ray branch's cross-attention
    output (video -> rays) zeroed and frozen."""
    config = TrainConfig(model=MODEL.to_dict(), dataset={"kind": "synthetic"}, num_frames=FRAMES, image_size=SIZE,
                         mode_probabilities=modes, random_source_probability=0.0, reverse_probability=0.0,
                         t_sampling="uniform", seed=seed, batch_size=8)
    torch.manual_seed(seed)
    model = JointTransformer(MODEL)
    if zero_cross:
        for block in model.blocks:
            for p in block.ray.attn_cross.to_out[0].parameters():
                p.data.zero_()
                p.requires_grad_(False)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-3, weight_decay=0.0)
    examples = TrainingExamples(clips, config)
    grid = torch.tensor([0.0, 0.5] * 4)[:, None]
    for step in range(steps):
        batch = collate([examples[8 * step + i] for i in range(8)])
        if "video" not in modes:
            batch["ray_t"] = grid.expand_as(batch["ray_t"]).clone()
        training_step(model, optimizer, batch, grad_clip=1.0)
    return model.eval()


def frame_errors(estimate: Cameras, truth: Cameras) -> tuple[np.ndarray, np.ndarray]:
    """Per frame k >= 1, relative to frame 0: rotation error (degrees) of ``R_k R_0^T``, and the angle
    (degrees) between the estimated and true camera centre in frame 0's camera coordinates (90 where the
    estimate has the centre at frame 0's). Frames whose true centre is frame 0's are left out of the second."""
    def relative(c: Cameras):
        R, t = c.R.double().numpy(), c.t.double().numpy()
        centres = -np.einsum("nji,nj->ni", R, t)
        return R @ R[0].T, (R[0] @ (centres - centres[0]).T).T

    (Re, Ce), (Rg, Cg) = relative(estimate), relative(truth)
    cos = (np.einsum("nij,nij->n", Re, Rg) - 1) / 2
    rotation = np.degrees(np.arccos(np.clip(cos, -1, 1)))[1:]
    # a pan / tilt / zoom has no translation direction: its float32 centres differ by ~1e-7 of the scene's
    # scale; real baselines by > 1e-3 (the eval-joint rule, TRANSLATION_DEFINED_RTOL = 1e-4)
    scale = max(float(np.linalg.norm(-np.einsum("nji,nj->ni", truth.R.double().numpy(),
                                                truth.t.double().numpy()), axis=1).max()), 1e-12)
    moving = np.linalg.norm(Cg, axis=1) > 1e-4 * scale
    ne, ng = np.linalg.norm(Ce, axis=1), np.linalg.norm(Cg, axis=1)
    cos_t = np.einsum("ni,ni->n", Ce, Cg) / np.maximum(ne * ng, 1e-300)
    direction = np.where(ne > 1e-12, np.degrees(np.arccos(np.clip(cos_t, -1, 1))), 90.0)
    return rotation, direction[1:][moving[1:]]


def constant_camera(truth: Cameras) -> Cameras:
    n = len(truth)
    return Cameras(K=truth.K, R=truth.R[:1].repeat(n, 1, 1), t=truth.t[:1].repeat(n, 1), image_size=truth.image_size)


def pose_errors(model, clips, ray_steps: int, failed_as_wrong: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Errors of :func:`frame_errors` over ``clips``; ``failed_as_wrong``: a clip whose sampled rays do not
    decode counts 90 degrees on every frame (the eval-joint protocol) instead of raising."""
    rot, direction = [], []
    for clip in clips:
        try:
            cams = sample(model, "pose", video=tensor_to_frames(clip.video), steps_rays=ray_steps, seed=0).cameras
        except ValueError:
            if not failed_as_wrong:
                raise
            truth = frame_errors(constant_camera(clip.cameras), clip.cameras)
            rot.append(np.full_like(truth[0], 90.0))
            direction.append(np.full_like(truth[1], 90.0))
            continue
        r, d = frame_errors(cams, clip.cameras)
        rot.append(r)
        direction.append(d)
    return np.concatenate(rot), np.concatenate(direction)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / max(mse, 1e-12)))


@pytest.fixture(scope="module")
def clips():
    data = SyntheticClips(NUM_CLIPS, FRAMES, SIZE, 2, seed=5, num_scenes=NUM_CLIPS)
    return [data[i] for i in range(NUM_CLIPS)]


@pytest.fixture(scope="module")
def trained(clips):
    return train_model(clips, {"pose": 1.0}, POSE_STEPS)


@pytest.fixture(scope="module")
def trained_without_cross_attention(clips):
    return train_model(clips, {"pose": 1.0}, BLIND_STEPS, zero_cross=True)


def test_the_clips_move_enough_for_the_bounds_to_mean_something(clips):
    """The constant-camera baseline misses these clips by far more than the bounds."""
    rot, direction = [], []
    for clip in clips:
        r, d = frame_errors(constant_camera(clip.cameras), clip.cameras)
        rot.append(r)
        direction.append(d)
    rot, direction = np.concatenate(rot), np.concatenate(direction)
    assert np.median(rot) > MAX_ROTATION_DEG and rot.max() > 3 * MAX_ROTATION_DEG, np.round(rot, 1)
    assert len(direction) >= 8 and np.all(direction == 90.0)


@pytest.mark.parametrize("ray_steps", [1, 2])
def test_pose_mode_overfits_the_cameras_of_four_clips(trained, clips, ray_steps):
    rot, direction = pose_errors(trained, clips, ray_steps)
    print(f"\n{ray_steps} ray step(s): rotation error max {rot.max():.2f} deg (median {np.median(rot):.2f}), "
          f"translation direction max {direction.max():.1f} deg (median {np.median(direction):.1f})")
    baseline = np.concatenate([frame_errors(constant_camera(c.cameras), c.cameras)[0] for c in clips])
    assert rot.max() < MAX_ROTATION_DEG, f"rotation errors (deg) {np.round(rot, 2)}"
    assert np.median(rot) < 0.4 * np.median(baseline), (np.median(rot), np.median(baseline))
    assert direction.max() < MAX_DIRECTION_DEG, f"translation direction errors (deg) {np.round(direction, 1)}"


def test_without_the_cross_attention_pose_collapses_to_the_constant_camera_level(
        trained_without_cross_attention, clips):
    """Zeroing the ray branch's cross-attention leaves the rays blind to the video: the model can only
    learn one trajectory for all four clips, and its errors are those of a constant camera."""
    rot, direction = pose_errors(trained_without_cross_attention, clips, 2, failed_as_wrong=True)
    baseline = np.concatenate([frame_errors(constant_camera(c.cameras), c.cameras)[0] for c in clips])
    print(f"\nno cross-attention: rotation error median {np.median(rot):.2f} deg (constant camera "
          f"{np.median(baseline):.2f}), translation direction median {np.median(direction):.1f} deg")
    assert np.median(rot) > 0.5 * np.median(baseline), (np.median(rot), np.median(baseline))
    assert np.median(direction) > 2 * MAX_DIRECTION_DEG, np.round(direction, 1)


def test_pose_loss_sends_gradient_into_the_ray_branch_through_the_video_tokens(clips):
    """At initialisation (cross-attention outputs zero) the pose loss already has a gradient on the ray
    branch's cross-attention output projection, so it can open; once open, d(ray output)/d(video) is
    non-zero, and exactly zero again with the ray branch's cross-attention zeroed."""
    clip = clips[0]
    video = clip.video.permute(1, 0, 2, 3)[None].clone().requires_grad_(True)
    rays = torch.randn(1, 3, FRAMES, SIZE[0] // 2, SIZE[1] // 2, generator=torch.Generator().manual_seed(0))
    tv, tr = torch.zeros(1, FRAMES), torch.full((1, FRAMES), 1000.0)
    torch.manual_seed(0)
    model = JointTransformer(MODEL)
    _, out = model(video.detach(), rays, tv, tr)
    out.square().sum().backward()
    assert all(block.ray.attn_cross.to_out[0].weight.grad.abs().max() > 0 for block in model.blocks)
    with torch.no_grad():
        for block in model.blocks:
            torch.nn.init.normal_(block.ray.attn_cross.to_out[0].weight, 0, 0.2)
    _, out = model(video, rays, tv, tr)
    (grad,) = torch.autograd.grad(out.square().sum(), video)
    assert grad.abs().max() > 1e-4
    with torch.no_grad():
        for block in model.blocks:
            torch.nn.init.zeros_(block.ray.attn_cross.to_out[0].weight)
            torch.nn.init.zeros_(block.ray.attn_cross.to_out[0].bias)
    _, out = model(video, rays, tv, tr)
    (grad,) = torch.autograd.grad(out.square().sum(), video, allow_unused=True)
    assert grad is None or grad.abs().max() == 0


def test_video_mode_reproduces_a_trained_clip_better_than_repeating_frame_0(clips):
    model = train_model(clips[:1], {"video": 1.0}, VIDEO_STEPS, seed=1)
    clip = clips[0]
    frames = tensor_to_frames(clip.video)
    out = sample(model, "video", source_frames=frames[:1], cameras=clip.cameras, steps_video=10, seed=0)
    generated = (out.video.numpy() * 255).round().astype(np.uint8)
    gain = psnr(generated[1:], frames[1:]) - psnr(np.repeat(frames[:1], FRAMES - 1, 0), frames[1:])
    print(f"\nvideo mode: PSNR {psnr(generated[1:], frames[1:]):.2f} dB, repeating frame 0 "
          f"{psnr(np.repeat(frames[:1], FRAMES - 1, 0), frames[1:]):.2f} dB")
    # measured 1.07 dB at 150 steps (17.83 vs 16.76 dB); the claim is "measurably better", not a quality level
    assert gain > 0.5, f"PSNR gain over repeating frame 0: {gain:.2f} dB"


def test_the_locality_bias_favours_the_pixel_aligned_partner_and_is_off_by_default():
    """``cross_attention_locality``: ``-a 2^-h |p_q - p_k|^2`` on the cross-attention logits (0 on the
    pixel-aligned partner, ALiBi-like slopes per head); 0 by default, so older configs (raxel-tiny-v1's
    config.json has no such field) load and compute as before."""
    from raxel_core.model.joint_transformer import locality_bias
    from raxel_core.model.rope import ray_token_positions, video_token_positions

    assert JointModelConfig.tiny().cross_attention_locality == 0.0
    assert JointModelConfig.from_dict({k: v for k, v in JointModelConfig.tiny().to_dict().items()
                                       if k != "cross_attention_locality"}).cross_attention_locality == 0.0
    with pytest.raises(ValueError, match="cross_attention_locality"):
        JointModelConfig.tiny(cross_attention_locality=-1.0)
    grid = (2, 3, 4)
    bias = locality_bias(video_token_positions(grid), ray_token_positions(grid, (1.0, 1.0)), 4, 1.0)
    assert bias.shape == (1, 4, 24, 24)
    assert torch.all(bias[0].diagonal(dim1=-2, dim2=-1) == 0)
    off = ~torch.eye(24, dtype=torch.bool)
    assert torch.all(bias[0][:, off] < 0)
    torch.testing.assert_close(bias[0, 1], bias[0, 0] / 2)
    # token (frame 0, row 0, column 0) against (frame 1, row 2, column 3): squared distance 1 + 4 + 9
    assert float(bias[0, 0, 0, 23]) == -14.0
    # on: the ray prediction changes (the bias reaches the cross-attention); off: the same weights, as before
    torch.manual_seed(0)
    model = JointTransformer(MODEL)
    with torch.no_grad():
        for block in model.blocks:
            torch.nn.init.normal_(block.ray.attn_cross.to_out[0].weight, 0, 0.2)
    plain = JointTransformer(JointModelConfig.from_dict({**MODEL.to_dict(), "cross_attention_locality": 0.0}))
    plain.load_state_dict(model.state_dict())
    video, rays = torch.rand(1, 3, 2, 32, 48) * 2 - 1, torch.randn(1, 3, 2, 16, 24)
    t0, t1 = torch.zeros(1, 2), torch.full((1, 2), 1000.0)
    with torch.no_grad():
        assert (model(video, rays, t0, t1)[1] - plain(video, rays, t0, t1)[1]).abs().max() > 1e-3


def test_source_heads_centre_the_ray_to_video_bias_on_the_source_frame():
    """``cross_attention_source_heads``: the last heads of the ray -> video cross-attention are local
    around the source frame (frame 0) at the ray token's own row and column; the other heads are
    unchanged. Oracle: the squared distances written out by hand for a (3 frames, 2 rows, 2 columns) grid."""
    from raxel_core.model.joint_transformer import locality_bias
    from raxel_core.model.rope import ray_token_positions, video_token_positions

    grid = (3, 2, 2)
    rays, video = ray_token_positions(grid, (1.0, 1.0)), video_token_positions(grid)
    plain = locality_bias(rays, video, 4, 1.0)
    mixed = locality_bias(rays, video, 4, 1.0, source_heads=2)
    torch.testing.assert_close(mixed[0, :2], plain[0, :2])        # heads 0, 1: as before
    index = {(f, y, x): (f * 2 + y) * 2 + x for f in range(3) for y in range(2) for x in range(2)}
    query = index[(2, 1, 0)]                                       # a ray token of frame 2
    for (f, y, x), k in index.items():
        d2 = f**2 + (y - 1) ** 2 + x**2                            # distance to the source frame's partner
        assert float(mixed[0, 2, query, k]) == -d2
        assert float(mixed[0, 3, query, k]) == -d2 / 2
    assert float(mixed[0, 2, query].max()) == 0.0 and int(mixed[0, 2, query].argmax()) == index[(0, 1, 0)]
    assert int(plain[0, 0, query].argmax()) == index[(2, 1, 0)]
    with pytest.raises(ValueError, match="source_heads"):
        locality_bias(rays, video, 4, 1.0, source_heads=4)
    with pytest.raises(ValueError, match="cross_attention_source_heads"):
        JointModelConfig.tiny(cross_attention_source_heads=2)              # needs the locality bias
    with pytest.raises(ValueError, match="cross_attention_source_heads"):
        JointModelConfig.tiny(cross_attention_locality=1.0, cross_attention_source_heads=4)
    assert JointModelConfig.tiny().cross_attention_source_heads == 0


def test_absolute_position_embedding_is_a_fixed_sine_cosine_table_of_row_and_column():
    """``absolute_position_embedding``: ``a sin / cos(p w_i)`` with ``w_i = 10000^(-i / (D/4))`` for the
    row in the first half of the channels and the column in the second; nothing for the frame; no
    parameters; off by default. Oracle: the formula in numpy."""
    import numpy as np

    from raxel_core.model.rope import absolute_position_embedding

    positions = torch.tensor([[0.0, 2.0, 5.0], [3.0, 2.0, 5.0], [0.0, 0.5, 1.5]])
    table = absolute_position_embedding(positions, 16, 0.5).numpy()
    w = 10000.0 ** -(np.arange(4) / 4)
    for row, (_, y, x) in zip(table, positions.numpy(), strict=True):
        expected = 0.5 * np.concatenate([np.sin(y * w), np.cos(y * w), np.sin(x * w), np.cos(x * w)])
        np.testing.assert_allclose(row, expected, atol=1e-6)
    np.testing.assert_array_equal(table[0], table[1])                    # frames share the table
    with pytest.raises(ValueError, match="divisible by 4"):
        absolute_position_embedding(positions, 18, 1.0)
    assert JointModelConfig.tiny().absolute_position_embedding == 0.0
    with pytest.raises(ValueError, match="absolute_position_embedding"):
        JointModelConfig.tiny(absolute_position_embedding=-1.0)
    # on: both streams change; the same weights with it off compute as before
    torch.manual_seed(0)
    on = JointTransformer(JointModelConfig.from_dict({**MODEL.to_dict(), "absolute_position_embedding": 0.5}))
    off = JointTransformer(JointModelConfig.from_dict({**MODEL.to_dict(), "absolute_position_embedding": 0.0}))
    off.load_state_dict(on.state_dict())
    assert sum(p.numel() for p in on.parameters()) == sum(p.numel() for p in off.parameters())
    video, rays = torch.rand(1, 3, 2, 32, 48) * 2 - 1, torch.randn(1, 3, 2, 16, 24)
    t = torch.full((1, 2), 500.0)
    with torch.no_grad():
        for a, b in zip(on(video, rays, t, t), off(video, rays, t, t), strict=True):
            assert (a - b).abs().max() > 1e-4
