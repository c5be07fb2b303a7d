"""The joint video + ray transformer (raxel_core.model): Wan 2.1 parity, DSCA behaviour, RoPE
alignment, per-frame timesteps, safetensors persistence, and a real RealEstate10K clip with its
real trajectory through the pixel-space model."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import shared_data
import torch

pytest.importorskip("diffusers", reason="raxel_core.model needs diffusers (pip install 'diffusers>=0.32')")

from diffusers import WanTransformer3DModel
from diffusers.models.transformers.transformer_wan import WanRotaryPosEmbed

from raxel_core.model import JointModelConfig, JointTransformer, attention, load_wan_weights
from raxel_core.model.joint_transformer import check_state_dict
from raxel_core.model.rope import (
    ray_frame_to_video_frame,
    ray_token_positions,
    rotary_angles,
    rotary_cos_sin,
    video_token_positions,
)
from raxel_core.model.wan_weights import (
    detect_wan_layout,
    diffusers_to_joint_state_dict,
    diffusers_to_wan_state_dict,
    is_wan_parameter,
    wan_to_diffusers_state_dict,
)

SHARED_DATA = shared_data.DATA

# A tiny Wan 2.1 text-to-video transformer and the joint config whose video branch has its shapes.
WAN_TINY = dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=16, in_channels=4, out_channels=4,
                text_dim=32, freq_dim=32, ffn_dim=64, num_layers=2, cross_attn_norm=True, eps=1e-6,
                rope_max_seq_len=64)
# Rays at half the frame size in (1, 1, 1) patches: the same 4 x 6 token grid as the 8 x 12 video in (1, 2, 2).
TINY = JointModelConfig(in_channels=4, out_channels=4, ray_in_channels=4, patch_size=(1, 2, 2),
                        ray_patch_size=(1, 1, 1), num_attention_heads=2, attention_head_dim=16, ffn_dim=64,
                        num_layers=2, freq_dim=32, text_cross_attention=True, text_dim=32, raxel_downscale=2)


@pytest.fixture(scope="module")
def wan_reference():
    """A seeded tiny diffusers Wan model with every parameter perturbed (RMSNorm weights != 1 ...)."""
    torch.manual_seed(0)
    ref = WanTransformer3DModel(**WAN_TINY).eval()
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return ref


@pytest.fixture(scope="module")
def inputs():
    g = torch.Generator().manual_seed(1)
    video = torch.randn(2, 4, 3, 8, 12, generator=g)
    rays = torch.randn(2, 4, 3, 4, 6, generator=g)
    text = torch.randn(2, 7, 32, generator=g)
    t = torch.tensor([500.0, 120.0])
    return video, rays, text, t


def _joint_from(reference, layout: str) -> JointTransformer:
    state = reference.state_dict()
    if layout == "wan":
        state = diffusers_to_wan_state_dict(state)
    model = JointTransformer(TINY).eval()
    assert load_wan_weights(model, state) == layout
    return model


# ----------------------------------------------------------------------------------- Wan parity
@pytest.mark.parametrize("layout", ["diffusers", "wan"])
def test_video_branch_reproduces_diffusers_wan(wan_reference, inputs, layout):
    video, _, text, t = inputs
    model = _joint_from(wan_reference, layout)
    with torch.no_grad():
        expected = wan_reference(video, t, text, return_dict=False)[0]
        out, rays_out = model(video, None, t[:, None].expand(2, 3), None, text)
    assert rays_out is None
    assert out.shape == expected.shape == video.shape
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_wan_key_map_inverts_diffusers_converter_and_uses_comfy_names(wan_reference):
    state = wan_reference.state_dict()
    wan = diffusers_to_wan_state_dict(state)
    # the names ComfyUI's comfy/ldm/wan/model.py WanModel (t2v, cross_attn_norm) registers
    for key in ["patch_embedding.weight", "text_embedding.0.weight", "text_embedding.2.bias", "time_embedding.0.weight",
                "time_embedding.2.weight", "time_projection.1.weight", "head.head.weight", "head.modulation",
                "blocks.1.self_attn.q.weight", "blocks.1.self_attn.o.bias", "blocks.1.self_attn.norm_q.weight",
                "blocks.1.cross_attn.norm_k.weight", "blocks.1.cross_attn.v.bias", "blocks.1.norm3.weight",
                "blocks.1.ffn.0.weight", "blocks.1.ffn.2.bias", "blocks.1.modulation"]:
        assert key in wan, key
    assert detect_wan_layout(wan) == "wan" and detect_wan_layout(state) == "diffusers"
    # diffusers' own converter maps our Wan names back to exactly the diffusers state dict
    back = wan_to_diffusers_state_dict({"model.diffusion_model." + k: v for k, v in wan.items()})
    assert set(back) == set(state)
    assert all(torch.equal(back[k], state[k]) for k in state)


def test_wan21_1_3b_preset_has_the_diffusers_1_3b_shapes():
    """The preset's video branch takes every parameter of diffusers' Wan 2.1 T2V 1.3B transformer
    (Wan-AI/Wan2.1-T2V-1.3B-Diffusers config), shape for shape (built on the meta device)."""
    with torch.device("meta"):
        ref = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128,
                                    in_channels=16, out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=8960,
                                    num_layers=30, cross_attn_norm=True, eps=1e-6)
        model = JointTransformer(JointModelConfig.wan21_1_3b())
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items() if is_wan_parameter(k)}
    check_state_dict(expected, diffusers_to_joint_state_dict(ref.state_dict()), "Wan 2.1 1.3B")
    assert sum(p.numel() for p in ref.parameters()) == sum(v.numel() for k, v in model.state_dict().items()
                                                          if is_wan_parameter(k))


def test_wan_checkpoint_into_wrong_config_names_the_parameter(wan_reference):
    model = JointTransformer(replace(TINY, ffn_dim=32))
    with pytest.raises(ValueError, match=r"blocks\.0\.video\.ffn\.net\.0\.proj\.weight.*\[64, 32\].*\[32, 32\]"):
        load_wan_weights(model, wan_reference.state_dict())
    with pytest.raises(ValueError, match="text_embedder.*text_cross_attention=True"):
        load_wan_weights(JointTransformer(replace(TINY, text_cross_attention=False)), wan_reference.state_dict())


# ----------------------------------------------------------------------------------- DSCA
def test_both_streams_shapes_and_zero_init_cross_attention(wan_reference, inputs):
    video, rays, text, t = inputs
    model = _joint_from(wan_reference, "wan")
    tv, tr = t[:, None].expand(2, 3), t[:, None].expand(2, 3)
    with torch.no_grad():
        video_only, _ = model(video, None, tv, None, text)
        rays_only = model(None, rays, None, tr, text)[1]
        v_out, r_out = model(video, rays, tv, tr, text)
    assert v_out.shape == video.shape and r_out.shape == rays.shape
    assert torch.isfinite(r_out).all()
    # cross-attention outputs start at zero: each stream is exactly its single-stream output
    torch.testing.assert_close(v_out, video_only, atol=1e-6, rtol=0)
    torch.testing.assert_close(r_out, rays_only, atol=1e-6, rtol=0)


def test_per_frame_timesteps_and_cross_stream_influence(inputs):
    video, rays, text, _ = inputs
    torch.manual_seed(3)
    model = JointTransformer(TINY).eval()
    with torch.no_grad():  # open the video<->ray cross-attention (zero at init) so the streams interact
        for block in model.blocks:
            for branch in (block.video, block.ray):
                branch.attn_cross.to_out[0].weight.normal_(0, 0.2)
    tv = torch.tensor([[0.0, 600.0, 600.0]] * 2)  # frame 0 clean conditioning
    tr = torch.tensor([[0.0, 999.0, 999.0]] * 2)
    with torch.no_grad():
        v0, r0 = model(video, rays, tv, tr, text)
        tv1 = tv.clone()
        tv1[:, 1] = 300.0
        v1, r1 = model(video, rays, tv1, tr, text)
        tr2 = tr.clone()
        tr2[:, 2] = 0.0
        _, r2 = model(video, rays, tv, tr2, text)
        v3, _ = model(video, torch.randn_like(rays), tv, tr, text)
    # changing the noise level of video frame 1 changes that frame's prediction most
    change = (v1 - v0).abs().amax(dim=(0, 1, 3, 4))
    assert change[1] > 1e-3 and change[1] == change.max()
    assert (r1 - r0).abs().max() > 1e-4  # ... and reaches the rays through the cross-attention
    change = (r2 - r0).abs().amax(dim=(0, 1, 3, 4))
    assert change[2] > 1e-3 and change[2] == change.max()
    assert (v3 - v0).abs().max() > 1e-3  # the video prediction depends on the rays


def test_gradient_checkpointing_gives_the_same_gradients(inputs):
    video, rays, text, t = inputs
    torch.manual_seed(8)
    model = JointTransformer(TINY)
    with torch.no_grad():
        for block in model.blocks:
            for branch in (block.video, block.ray):
                branch.attn_cross.to_out[0].weight.normal_(0, 0.1)
    tv = t[:, None].expand(2, 3)

    def gradients(checkpointing: bool) -> list[torch.Tensor]:
        model.zero_grad()
        model.gradient_checkpointing = checkpointing
        v, r = model(video, rays, tv, tv, text)
        (v.square().mean() + r.square().mean()).backward()
        return [p.grad.clone() for p in model.parameters()]

    plain, checkpointed = gradients(False), gradients(True)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(plain, checkpointed, strict=False))
    assert all(g.abs().sum() > 0 for g in plain)  # every parameter is trained, cross-attention included


# ----------------------------------------------------------------------------------- RoPE
def test_rope_equals_diffusers_wan_table():
    rope = WanRotaryPosEmbed(attention_head_dim=128, patch_size=(1, 2, 2), max_seq_len=1024)
    cos_ref, sin_ref = rope(torch.zeros(1, 16, 5, 30, 52))
    cos, sin = rotary_cos_sin(video_token_positions((5, 15, 26)), 128)
    assert torch.equal(cos, cos_ref) and torch.equal(sin, sin_ref)


def test_pixel_aligned_ray_token_gets_the_video_token_angles():
    # pixel space (small preset): same 16 x 24 grid, no temporal compression -> identical angles
    config = JointModelConfig.small()
    assert config.ray_to_video_token_scale == (1.0, 1.0)
    video = rotary_angles(video_token_positions((9, 16, 24)), config.attention_head_dim)
    rays = rotary_angles(ray_token_positions((9, 16, 24), config.ray_to_video_token_scale), config.attention_head_dim)
    assert torch.equal(video, rays)
    # Wan latents: 9 cameras -> 3 video latents (4x causal compression), rays 2x coarser per axis
    wan = JointModelConfig.wan21_1_3b()
    frames = ray_frame_to_video_frame(9, video_temporal_compression=wan.video_temporal_compression)
    assert frames.tolist() == [0, 1, 1, 1, 1, 2, 2, 2, 2]
    rays = rotary_angles(ray_token_positions((9, 15, 26), wan.ray_to_video_token_scale, frames),
                         128).view(9, 15, 26, 64)
    video = rotary_angles(video_token_positions((3, 30, 52)), 128).view(3, 30, 52, 64)
    # ray (camera 6, row 4, col 7) covers video tokens rows 8-9, cols 14-15 of latent frame 2: its
    # angles are those of the centre of that 2 x 2 block
    centre = (video[2, 8, 14] + video[2, 9, 15]) / 2
    torch.testing.assert_close(rays[6, 4, 7], centre, atol=1e-12, rtol=0)
    # the frame band equals that of video latent frame 2 exactly
    t_band = 128 - 4 * (128 // 6)
    assert torch.equal(rays[6, 4, 7, : t_band // 2], video[2, 0, 0, : t_band // 2])


# ----------------------------------------------------------------------------------- persistence
def test_save_load_round_trip(tmp_path, inputs):
    video, rays, text, t = inputs
    torch.manual_seed(4)
    model = JointTransformer(TINY).eval()
    directory = model.save_pretrained(tmp_path / "joint")
    assert sorted(p.name for p in directory.iterdir()) == ["config.json", "model.safetensors"]
    assert JointModelConfig.from_json((directory / "config.json").read_text()) == TINY
    tv = t[:, None].expand(2, 3)
    with torch.no_grad():
        expected = model(video, rays, tv, tv, text)
        for source in (directory, directory / "model.safetensors"):
            loaded = JointTransformer.from_pretrained(source).eval()
            assert loaded.config == TINY
            got = loaded(video, rays, tv, tv, text)
            assert torch.equal(got[0], expected[0]) and torch.equal(got[1], expected[1])


def test_mismatched_config_and_pickles_are_refused(tmp_path):
    directory = JointTransformer(TINY).save_pretrained(tmp_path / "joint")
    with pytest.raises(ValueError, match=r"'blocks\.0\.video\.ffn\.net\.0\.proj\.weight' has shape \[64, 32\] in the "
                                         r"file but the config expects \[32, 32\]"):
        JointTransformer.from_pretrained(directory, config=replace(TINY, ffn_dim=32))
    with pytest.raises(ValueError, match=r"'video\.scale_shift_table' has shape \[1, 2, 32\]"):
        JointTransformer.from_pretrained(directory, config=replace(TINY, attention_head_dim=24))
    with pytest.raises(ValueError, match=r"lacks 'blocks\.2\."):
        JointTransformer.from_pretrained(directory, config=replace(TINY, num_layers=3))
    for suffix in (".pt", ".ckpt"):
        pickle = tmp_path / f"model{suffix}"
        torch.save({"x": torch.zeros(1)}, pickle)
        with pytest.raises(ValueError, match="only .safetensors"):
            JointTransformer.from_pretrained(pickle)
        with pytest.raises(ValueError, match="only .safetensors"):
            load_wan_weights(JointTransformer(TINY), pickle)
    with pytest.raises(ValueError, match="unknown fields"):
        JointModelConfig.from_json('{"format": "raxel-joint-transformer", "version": 1, "hidden": 3}')


def test_config_json_round_trip_and_small_preset_size():
    for config in (JointModelConfig.small(), JointModelConfig.wan21_1_3b(), TINY):
        assert JointModelConfig.from_json(config.to_json()) == config
    small = JointTransformer(JointModelConfig.small())
    assert 10e6 < small.num_parameters() < 30e6


# ----------------------------------------------------------------------------------- input checks
def test_forward_input_errors(inputs):
    video, _, text, t = inputs
    model = JointTransformer(TINY)
    tv = t[:, None].expand(2, 3)
    with pytest.raises(ValueError, match="not pixel-aligned"):
        model(video, torch.randn(2, 4, 3, 8, 12), tv, tv, text)
    with pytest.raises(ValueError, match=r"video_timesteps must be \(B, F\) = \(2, 3\)"):
        model(video, None, torch.zeros(2, 4), None, text)
    with pytest.raises(ValueError, match=r"\[0, 1000\]"):
        model(video, None, tv / 1000 - 0.5, None, text)
    with pytest.raises(ValueError, match="encoder_hidden_states"):
        model(video, None, tv, None, None)
    with pytest.raises(ValueError, match="at least one stream"):
        model(None, None, None, None, text)


def test_attention_matches_softmax_formula():
    g = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(2, n, 3, 8, generator=g, dtype=torch.float64) for n in (5, 7, 7))
    weights = torch.softmax(torch.einsum("bqhd,bkhd->bhqk", q, k) / 8**0.5, dim=-1)
    torch.testing.assert_close(attention(q, k, v), torch.einsum("bhqk,bkhd->bqhd", weights, v))
    if importlib_missing("xformers"):
        with pytest.raises(ValueError, match="xformers is not installed"):
            attention(q, k, v, backend="xformers")


def importlib_missing(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is None


# ----------------------------------------------------------------------------------- real data
def test_real_clip_and_trajectory_in_pose_estimation_mode():
    """A RealEstate10K clip (clean video, t = 0) and the half-noised raxels of its real trajectory
    (t = 500) through the pixel-space preset: the ray prediction has the raxel shape and depends on
    which real video it is conditioned on once the cross-attention is open."""
    clip = SHARED_DATA / "re10k" / "videos" / "0bf152ef84195293.mp4"
    other = SHARED_DATA / "re10k" / "videos" / "0c11dbe781b1c11c.mp4"
    poses = SHARED_DATA / "re10k" / "poses" / "0bf152ef84195293.txt"
    if not (clip.is_file() and other.is_file() and poses.is_file()):
        pytest.skip(f"real RealEstate10K data not found under {SHARED_DATA} (set RAXEL_SHARED_DATA)")
    import cv2

    from raxel_core.formats.realestate10k import read_realestate10k
    from raxel_core.rays.raxel_encode import encode_raxels
    from raxel_core.video_io import read_video_frames

    def frames_tensor(path):
        frames = read_video_frames(path, max_frames=9)  # (9, 256, 384, 3) uint8
        small = np.stack([cv2.resize(f, (96, 64), interpolation=cv2.INTER_AREA) for f in frames])
        return torch.from_numpy(small).float().div(127.5).sub(1).permute(3, 0, 1, 2)[None]  # (1, 3, 9, 64, 96)

    cameras = read_realestate10k(poses, image_size=(64, 96), source_aspect=16 / 9)[list(range(9))]
    raxels = encode_raxels(cameras, size=(32, 48)).to_image()  # (9, 32, 48, 3) in [0, 1]
    ray_clean = raxels.mul(2).sub(1).permute(3, 0, 1, 2)[None]  # (1, 3, 9, 32, 48)
    noise = torch.randn(ray_clean.shape, generator=torch.Generator().manual_seed(6))

    torch.manual_seed(7)
    model = JointTransformer(JointModelConfig.small(num_layers=2)).eval()
    with torch.no_grad():
        for block in model.blocks:
            block.ray.attn_cross.to_out[0].weight.normal_(0, 0.05)
        tv, tr = torch.zeros(1, 9), torch.full((1, 9), 500.0)
        rays = 0.5 * ray_clean.float() + 0.5 * noise  # flow matching halfway (Wan t = 500)
        v_out, r_out = model(frames_tensor(clip), rays, tv, tr)
        _, r_other = model(frames_tensor(other), rays, tv, tr)
    assert v_out.shape == (1, 3, 9, 64, 96) and r_out.shape == (1, 3, 9, 32, 48)
    assert torch.isfinite(r_out).all()
    assert (r_out - r_other).abs().mean() > 1e-3
