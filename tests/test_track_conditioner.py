"""Track2View's track conditioner (raxel_core/model/track_conditioner.py) and its training / sampling path
(raxel_core/diffusion/track2view.py, raxel_core/synthetic/track_pairs.py).

The sample / scatter oracles are written out by hand (bilinear weights computed on paper), not with the
code under test.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from raxel_core.diffusion.track2view import (
    pair_streams,
    render_target_view,
    track2view_inputs,
    train_track2view,
    training_loss,
)
from raxel_core.model import JointModelConfig, JointTransformer
from raxel_core.model.track_conditioner import TrackCondition, sample_tokens, scatter_tokens, stack_conditions
from raxel_core.synthetic.track_pairs import make_track_pair

#: A 2 x 3 token grid over a 20 x 30 frame: each token covers 10 x 10 pixels, centres at (5 + 10 j, 5 + 10 i).
IMAGE, GRID = (20, 30), (2, 3)
VALUES = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])


def _grid(dtype=torch.float32) -> torch.Tensor:
    return VALUES.to(dtype).view(1, 1, 2, 3, 1)


def _tiny_config(**overrides) -> JointModelConfig:
    shapes = {"num_layers": 1, "num_attention_heads": 2, "attention_head_dim": 16, "ffn_dim": 64, "freq_dim": 32,
              "track_conditioner_layers": 1, "track_fourier_bands": 4}
    return JointModelConfig.small(**{**shapes, **overrides})


@pytest.fixture(scope="module")
def pairs():
    return [make_track_pair(seed, num_frames=3, image_size=(32, 48), num_tracks=96, scene_seed=seed % 2)
            for seed in range(4)]


# ------------------------------------------------------------------------------------------ sample / scatter
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sample_is_bilinear_on_the_token_grid(dtype):
    # (x=10, y=7.5): token coords (0.5, 0.25) -> 0.75 * (1 + 2) / 2 + 0.25 * (4 + 5) / 2 = 2.25
    # (x=25, y=15): the centre of token (1, 2) -> 6
    # (x=2, y=5): left of the first centre, border -> token (0, 0) = 1
    # (x=15, y=10): token coords (1.0, 0.5) -> (2 + 5) / 2 = 3.5
    xy = torch.tensor([[10.0, 7.5], [25.0, 15.0], [2.0, 5.0], [15.0, 10.0]], dtype=dtype).view(1, 1, 4, 2)
    out = sample_tokens(_grid(dtype), xy, IMAGE)
    assert out.shape == (1, 1, 4, 1)
    torch.testing.assert_close(out.flatten(), torch.tensor([2.25, 6.0, 1.0, 3.5], dtype=dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_scatter_splats_bilinearly_and_normalises_by_weight(dtype):
    # p1 value 8 at (10, 7.5): token coords (0.5, 0.25): weights (0,0) .375, (0,1) .375, (1,0) .125, (1,1) .125
    # p2 value 2 at the centre of token (1, 2): weight 1 there
    # p3 value 4 at (15, 5): token coords (1.0, 0.0): weight 1 on token (0, 1)
    # p4 value 100 invisible (weight 0): adds nothing
    xy = torch.tensor([[10.0, 7.5], [25.0, 15.0], [15.0, 5.0], [5.0, 5.0]], dtype=dtype).view(1, 1, 4, 2)
    values = torch.tensor([8.0, 2.0, 4.0, 100.0], dtype=dtype).view(1, 1, 4, 1)
    weight = torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=dtype).view(1, 1, 4)
    grid, total = scatter_tokens(values, xy, weight, IMAGE, GRID)
    expected_total = torch.tensor([[0.375, 1.375, 0.0], [0.125, 0.125, 1.0]], dtype=dtype)
    expected = torch.tensor([[8.0, (0.375 * 8 + 4) / 1.375, 0.0], [8.0, 8.0, 2.0]], dtype=dtype)
    torch.testing.assert_close(total[0, 0], expected_total)
    torch.testing.assert_close(grid[0, 0, ..., 0], expected)


def test_scatter_drops_neighbours_outside_the_grid():
    # (x=2, y=2): token coords (-0.3, -0.3): only token (0, 0) is inside, weight 0.7 * 0.7
    grid, total = scatter_tokens(torch.tensor([[[[3.0]]]]), torch.tensor([[[[2.0, 2.0]]]]), torch.ones(1, 1, 1),
                                 IMAGE, GRID)
    assert total[0, 0, 0, 0].item() == pytest.approx(0.49)
    assert total.sum().item() == pytest.approx(0.49)
    assert grid[0, 0, 0, 0, 0].item() == pytest.approx(3.0)


def test_scatter_of_sample_at_the_token_centres_is_the_identity_and_back():
    torch.manual_seed(0)
    b, t, ht, wt, d = 2, 3, 4, 6, 5
    image = (32, 48)
    tokens = torch.randn(b, t, ht, wt, d, dtype=torch.float64)
    ii, jj = torch.meshgrid(torch.arange(ht), torch.arange(wt), indexing="ij")
    centres = torch.stack([(jj + 0.5) * 48 / wt, (ii + 0.5) * 32 / ht], -1).reshape(-1, 2).double()
    perm = torch.stack([torch.stack([torch.randperm(ht * wt) for _ in range(t)]) for _ in range(b)])
    xy = centres[perm]                                                     # (B, T, N, 2), shuffled per frame
    sampled = sample_tokens(tokens, xy, image)
    back, total = scatter_tokens(sampled, xy, torch.ones(b, t, ht * wt, dtype=torch.float64), image, (ht, wt))
    torch.testing.assert_close(back, tokens)
    assert torch.equal(total, torch.ones_like(total))
    values = torch.randn(b, t, ht * wt, d, dtype=torch.float64)
    grid, _ = scatter_tokens(values, xy, torch.ones(b, t, ht * wt, dtype=torch.float64), image, (ht, wt))
    torch.testing.assert_close(sample_tokens(grid, xy, image), values)


# ------------------------------------------------------------------------------------------ the network
def _condition(pair) -> TrackCondition:
    return pair.condition


def _randomise_outputs(model: JointTransformer) -> None:
    torch.manual_seed(1)
    with torch.no_grad():
        for layer in (model.track_conditioner.out_source, model.track_conditioner.out_target):
            layer.weight.normal_(0, 0.2)
            layer.bias.normal_(0, 0.2)


def test_zero_initialised_conditioner_leaves_the_model_unchanged_and_gradients_reach_it(pairs):
    torch.manual_seed(0)
    model = JointTransformer(_tiny_config())
    video, rays = (x[None] for x in pair_streams(model.config, pairs[0].source_frames, pairs[0].target_frames,
                                                  pairs[0].source, pairs[0].target))
    vt = torch.cat([torch.zeros(1, 3), torch.full((1, 3), 600.0)], 1)
    rt = torch.zeros(1, 6)
    plain, _ = model(video, rays, vt, rt)
    with_tracks, _ = model(video, rays, vt, rt, track_condition=_condition(pairs[0]))
    torch.testing.assert_close(with_tracks, plain)                      # zero-initialised outputs: no effect yet

    _randomise_outputs(model)
    out, _ = model(video, rays, vt, rt, track_condition=_condition(pairs[0]))
    out[:, :, 3:].square().mean().backward()
    conditioner = model.track_conditioner
    for name, param in [("temporal", next(conditioner.temporal.parameters())), ("position_proj",
                        conditioner.position_proj.weight), ("depth_proj_target", conditioner.depth_proj_target.weight),
                        ("sample_norm", conditioner.sample_norm.weight)]:
        assert param.grad is not None and param.grad.abs().sum() > 0, f"no gradient reaches the conditioner's {name}"


def test_target_tracks_move_the_target_frames_only_through_their_positions(pairs):
    torch.manual_seed(0)
    model = JointTransformer(_tiny_config())
    _randomise_outputs(model)
    p = pairs[0]
    video, rays = (x[None] for x in pair_streams(model.config, p.source_frames, p.target_frames, p.source, p.target))
    vt, rt = torch.cat([torch.zeros(1, 3), torch.full((1, 3), 600.0)], 1), torch.zeros(1, 6)
    cond = _condition(p)
    base, _ = model(video, rays, vt, rt, track_condition=cond)
    hidden = TrackCondition(cond.source_xy, cond.target_xy, cond.source_depth, cond.target_depth,
                            cond.source_visibility, torch.zeros_like(cond.target_visibility), cond.image_size)
    out, _ = model(video, rays, vt, rt, track_condition=hidden)
    assert (out - base).abs().max() > 1e-4                     # the target view's tracks reach the output


def test_a_short_training_run_lowers_the_loss_on_its_pairs(pairs):
    torch.manual_seed(0)
    model = JointTransformer(_tiny_config())

    def loss() -> float:
        streams = [pair_streams(model.config, p.source_frames, p.target_frames, p.source, p.target) for p in pairs]
        video, rays = torch.stack([s[0] for s in streams]), torch.stack([s[1] for s in streams])
        cond = stack_conditions([p.condition for p in pairs])
        with torch.no_grad():
            return float(np.mean([training_loss(model, video, rays, cond, torch.Generator().manual_seed(k))
                                  for k in range(4)]))

    before = loss()
    log = train_track2view(model, pairs, steps=40, use_tracks=True, batch_size=4, lr=3e-3, seed=0)
    after = loss()
    assert len(log.losses) == 40 and log.cpu_seconds > 0
    assert after < 0.8 * before, (before, after)


# ------------------------------------------------------------------------------------------ data and errors
def test_pairs_share_the_first_camera_and_tracks_agree_with_the_rendered_depth(pairs):
    p = pairs[1]
    torch.testing.assert_close(p.source.R[0], p.target.R[0])
    torch.testing.assert_close(p.source.t[0], p.target.t[0])
    c = p.condition
    torch.testing.assert_close(c.source_xy[0, 0], c.target_xy[0, 0])
    # visible target points lie on the rendered surface: rendered depth at their pixel within 5 %
    vis = c.target_visibility[0].numpy()
    xy = c.target_xy[0].numpy()[vis]
    frame = np.nonzero(vis)[0]
    depth = p.target_depth.numpy()[frame, xy[:, 1].astype(int), xy[:, 0].astype(int)]
    rel = np.abs(depth - c.target_depth[0].numpy()[vis]) / depth
    assert vis.mean() > 0.5 and np.median(rel) < 0.01 and np.mean(rel < 0.05) > 0.9


def test_conditions_that_do_not_fit_fail_naming_the_fix(pairs):
    p = pairs[0]
    plain = JointTransformer(_tiny_config(track_conditioner_layers=0))
    with pytest.raises(ValueError, match="no track conditioner"):
        render_target_view(plain, p.source_frames, p.source, p.target, p.condition, steps=1)
    model = JointTransformer(_tiny_config())
    short = TrackCondition(*(getattr(p.condition, k)[:, :2] for k in ("source_xy", "target_xy", "source_depth",
                                                                      "target_depth", "source_visibility",
                                                                      "target_visibility")), image_size=(32, 48))
    with pytest.raises(ValueError, match=r"\[source \| target\]"):
        render_target_view(model, p.source_frames, p.source, p.target, short, steps=1)
    wrong_size = TrackCondition(*(getattr(p.condition, k) for k in ("source_xy", "target_xy", "source_depth",
                                                                    "target_depth", "source_visibility",
                                                                    "target_visibility")), image_size=(64, 96))
    with pytest.raises(ValueError, match="make the tracks at the model's frame size"):
        render_target_view(model, p.source_frames, p.source, p.target, wrong_size, steps=1)
    with pytest.raises(ValueError, match="video_temporal_compression=1"):
        _tiny_config(video_temporal_compression=4)
    payload = {"source_frames": torch.zeros(3, 32, 48, 3), "source_trajectory": p.source,
               "target_trajectory": p.target, **{k: None for k in ("source_xy", "target_xy", "source_depth",
                                                                   "target_depth", "source_visibility",
                                                                   "target_visibility")}}
    with pytest.raises(ValueError, match="connect source tracks"):
        track2view_inputs(payload)


def test_render_target_view_gives_the_target_frames(pairs):
    p = pairs[2]
    torch.manual_seed(0)
    model = JointTransformer(_tiny_config())
    frames, result = render_target_view(model, p.source_frames, p.source, p.target, p.condition, steps=2)
    assert frames.shape == (3, 32, 48, 3) and result.video.shape[0] == 6
    assert torch.allclose(result.video[:3], torch.from_numpy(p.source_frames).float() / 255, atol=1e-6)


def test_conditioner_tokens_land_where_each_view_sees_its_tracks(pairs):
    torch.manual_seed(0)
    model = JointTransformer(_tiny_config())
    _randomise_outputs(model)
    p = pairs[3]
    c = p.condition
    video, _ = pair_streams(model.config, p.source_frames, p.target_frames, p.source, p.target)
    tokens, grid = model.video.embed(video[None])
    with torch.no_grad():
        added = model.track_conditioner(tokens, grid, c).view(1, 6, 8, 12, -1)
    nonzero = added.abs().sum(-1) > 0
    # the cells a visible track reaches, by hand: the four token centres around each point
    expected = torch.zeros(1, 6, 8, 12, dtype=torch.bool)
    for view, (xy, vis) in enumerate(((c.source_xy, c.source_visibility), (c.target_xy, c.target_visibility))):
        for f in range(3):
            for (x, y), v in zip(xy[0, f].tolist(), vis[0, f].tolist(), strict=True):
                if not v:
                    continue
                gx, gy = x / 4 - 0.5, y / 4 - 0.5               # 4 x 4 pixel tokens
                for cy in {int(np.floor(gy)), int(np.floor(gy)) + 1}:
                    for cx in {int(np.floor(gx)), int(np.floor(gx)) + 1}:
                        wx, wy = 1 - abs(gx - cx), 1 - abs(gy - cy)
                        if 0 <= cx < 12 and 0 <= cy < 8 and wx * wy > 1e-6:
                            expected[0, 3 * view + f, cy, cx] = True
    assert torch.equal(nonzero, expected)
    # each view's depth reaches that view's tokens only: a target depth change moves the target frames alone
    moved = TrackCondition(c.source_xy, c.target_xy, c.source_depth, c.target_depth * 1.7, c.source_visibility,
                           c.target_visibility, c.image_size)
    with torch.no_grad():
        again = model.track_conditioner(tokens, grid, moved).view(1, 6, 8, 12, -1)
    assert torch.equal(again[:, :3], added[:, :3])
    assert (again[:, 3:] - added[:, 3:]).abs().max() > 1e-4


@pytest.mark.parametrize("name, layers", [("raxel-t2v-toy-tracks", 2), ("raxel-t2v-toy-notracks", 0)])
def test_bundled_toy_models_load_small_with_their_training_size(name, layers):
    from pathlib import Path

    from raxel_core.diffusion.checkpoints import training_resolution

    folder = Path(__file__).resolve().parents[1] / "models" / name
    if not (folder / "model.safetensors").is_file():
        pytest.skip(f"{folder} is not in this checkout (benchmarks/train_track2view.py makes it)")
    model = JointTransformer.from_pretrained(folder)
    assert model.config.track_conditioner_layers == layers
    assert (model.track_conditioner is None) == (layers == 0)
    assert (folder / "model.safetensors").stat().st_size < 4 * 2**20
    assert training_resolution(folder) == ((32, 48), 4)
