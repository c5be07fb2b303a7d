"""The ray codecs (raxel_core/rays/codecs.py) and the sampler's stages (prepare / integrate / decode).

A codec encodes a trajectory into the stream a model denoises and decodes it back; the model config
picks the codec (``codec_for``), and the sampler reports its input errors once, typed, so the ComfyUI
node can word them for its sockets.
"""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

pytest.importorskip("diffusers", reason="raxel_core.model needs diffusers (pip install 'diffusers>=0.32')")

from raxel_core.cameras import Cameras, look_at_w2c
from raxel_core.diffusion.sampler import (
    SamplerInputError,
    check_resolution,
    decode,
    integrate,
    model_calls,
    prepare,
    sample,
)
from raxel_core.geometry.rotations import rotation_error_deg
from raxel_core.model import JointModelConfig, JointTransformer
from raxel_core.rays.codecs import (
    RAY_REPRESENTATIONS,
    PluckerCodec,
    RaxelCodec,
    codec_for,
    encode_plucker_rays,
    encode_rays,
    ray_representation_for,
)

TINY = JointModelConfig.small(num_layers=1, num_attention_heads=2, attention_head_dim=16, ffn_dim=64, freq_dim=32)
CONCAT = replace(TINY, in_channels=10, out_channels=9)
SIZE = (32, 48)


def orbit(n: int = 5, image_size=SIZE) -> Cameras:
    """``n`` cameras on an arc around the origin, looking at it (a moving, rotating trajectory)."""
    angles = torch.linspace(0, 0.6, n, dtype=torch.float64)
    eyes = torch.stack([2 * torch.sin(angles), 0.2 * angles, -2 * torch.cos(angles)], -1)
    w2c = look_at_w2c(eyes, torch.zeros(n, 3, dtype=torch.float64))
    f = 0.9 * image_size[1]
    K = Cameras.intrinsics_matrix(f, f, image_size[1] / 2, image_size[0] / 2).reshape(1, 3, 3).expand(n, 3, 3)
    return Cameras.from_w2c(w2c, K, image_size)


def relative(cams: Cameras) -> Cameras:
    rel = cams.relative_to(0)
    return rel.scaled(1 / float(torch.linalg.norm(rel.centers, dim=-1).max()))


@pytest.mark.parametrize("codec", [RaxelCodec(2), PluckerCodec(2), PluckerCodec(1)],
                         ids=lambda c: f"{c.name}/{c.downscale}")
def test_each_codec_round_trips_a_trajectory_relative_to_frame_0(codec):
    cams = orbit()
    grid = codec.grid_size(SIZE)
    assert grid == (SIZE[0] // codec.downscale, SIZE[1] // codec.downscale)
    stream = codec.encode(cams, grid)
    assert stream.shape == (5, codec.channels, *grid) and stream.dtype == torch.float32
    assert float(stream.abs().max()) <= 1 + 1e-6                      # both streams lie in [-1, 1]
    decoded = codec.decode(stream, SIZE)
    expected = relative(cams)
    assert decoded.image_size == SIZE
    assert float(rotation_error_deg(decoded.R, expected.R).max()) < 0.05
    assert float((decoded.centers - expected.centers).abs().max()) < 5e-3
    assert float(((decoded.K - expected.K).abs() / expected.K.abs().clamp_min(1)).max()) < 5e-3
    maps = codec.raxel_maps(stream, decoded, (16, 24))
    assert maps.rays.shape == (5, 16, 24, 3)


def test_the_codecs_are_the_stream_functions():
    cams = orbit()
    assert torch.equal(RaxelCodec(2).encode(cams, (16, 24)), encode_rays(cams, (16, 24))[0])
    assert torch.equal(PluckerCodec(2).encode(cams, (16, 24)), encode_plucker_rays(cams, (16, 24)))
    stream = RaxelCodec(2).encode(cams, (16, 24))
    scaled, k = RaxelCodec(2).normalize_reference(1.5 * stream)
    assert k == pytest.approx(1.5, rel=1e-5) and torch.allclose(scaled, stream, atol=1e-6)
    same, none = PluckerCodec(2).normalize_reference(stream)
    assert same is stream and none is None
    with pytest.raises(ValueError, match="not divisible by the raxel downscale 2"):
        RaxelCodec(2).grid_size((33, 48))


def test_codec_for_reads_the_codec_from_the_model_config_and_the_saved_names_stay():
    assert codec_for(TINY) == RaxelCodec(TINY.raxel_downscale)
    assert codec_for(replace(TINY, ray_in_channels=6)) == PluckerCodec(TINY.raxel_downscale)
    assert codec_for(CONCAT) == PluckerCodec(downscale=1)           # Plücker at the frame size
    assert codec_for(replace(TINY, in_channels=12, ray_in_channels=12)) == RaxelCodec(TINY.raxel_downscale)
    assert RAY_REPRESENTATIONS == ("raxel", "plucker", "plucker_concat", "camera_tokens")
    assert [ray_representation_for(c) for c in (TINY, replace(TINY, ray_in_channels=6), CONCAT)] == list(
        RAY_REPRESENTATIONS[:3])
    with pytest.raises(ValueError, match="3 \\(raxel\\), 6 \\(Plücker\\) or 10 \\(camera tokens\\) channels"):
        codec_for(replace(TINY, ray_in_channels=4))


def test_model_calls_is_the_number_of_forward_passes_of_sample():
    torch.manual_seed(0)
    model = JointTransformer(TINY).eval()
    frames = (torch.rand(5, *SIZE, 3) * 255).to(torch.uint8)
    for mode, kwargs in (("pose", {"video": frames}),
                         ("joint", {"source_frames": frames[:1], "num_frames": 5}),
                         ("video", {"source_frames": frames[:1], "cameras": orbit()})):
        seen: list[tuple[int, int]] = []
        try:
            result = sample(model, mode, steps_video=3, steps_rays=2,
                            progress=lambda *call, seen=seen: seen.append(call), **kwargs)
            assert result.model_calls["forward"] == len(seen)
        except ValueError as err:                 # an untrained model's rays: decoding comes after the loop
            assert "do not decode to cameras" in str(err)
        assert seen == [(k, model_calls(mode, 3, 2)) for k in range(1, model_calls(mode, 3, 2) + 1)]
    assert model_calls("joint", 3, 2) == 4                            # grids {1, 2/3, 1/3, 0} and {1, 1/2, 0}
    with pytest.raises(ValueError, match="unknown task mode"):
        model_calls("depth", 3, 2)


def test_sample_is_prepare_integrate_decode():
    torch.manual_seed(0)
    model = JointTransformer(TINY).eval()
    frames = (torch.rand(5, *SIZE, 3) * 255).to(torch.uint8)
    whole = sample(model, "video", source_frames=frames[:1], cameras=orbit(), steps_video=2, seed=4)
    prepared = prepare(model, "video", source_frames=frames[:1], cameras=orbit())
    assert prepared.codec == RaxelCodec(2) and prepared.ray_size == prepared.raxel_size == (16, 24)
    staged = decode(prepared, *integrate(prepared, steps_video=2, seed=4))
    assert torch.equal(whole.video, staged.video) and torch.equal(whole.rays.rays, staged.rays.rays)


@pytest.mark.parametrize("mode, kwargs, problem", [
    ("pose", {}, "missing_video"),
    ("pose", {"video": "frames", "source_frames": "frames"}, "extra_inputs"),
    ("joint", {"num_frames": 5}, "missing_source"),
    ("video", {"source_frames": "first"}, "missing_trajectory"),
    ("joint", {"source_frames": "first", "num_frames": 5, "cameras": "orbit"}, "trajectory_given"),
    ("joint", {"source_frames": "frames", "num_frames": 5}, "source_count"),
    ("video", {"source_frames": "first", "cameras": "orbit", "num_frames": 4}, "trajectory_length"),
])
def test_input_errors_are_typed_once_in_the_core(mode, kwargs, problem):
    frames = (torch.rand(5, *SIZE, 3) * 255).to(torch.uint8)
    values = {"frames": frames, "first": frames[:1], "orbit": orbit()}
    model = JointTransformer(TINY).eval()
    with pytest.raises(SamplerInputError) as info:
        sample(model, mode, **{k: values.get(v, v) if isinstance(v, str) else v for k, v in kwargs.items()})
    assert info.value.problem == problem and isinstance(info.value, ValueError)
    if problem == "source_count":
        assert info.value.details == {"source_frames": 5, "frames": 5}


def test_a_frame_size_the_model_cannot_take_is_a_typed_error_with_the_fix():
    with pytest.raises(SamplerInputError, match="resize or crop to e.g. 48x72") as info:
        check_resolution(TINY, (50, 70))
    assert info.value.problem == "frame_size"
    assert info.value.details == {"image_size": (50, 70), "multiples": (4, 4), "nearest": (48, 72)}
