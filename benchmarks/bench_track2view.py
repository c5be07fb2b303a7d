"""Track2View ablation at toy scale: target-view PSNR / SSIM on held-out synthetic pairs, with vs without tracks.

    PYTHONPATH=$PWD python benchmarks/bench_track2view.py [--pairs 16] [--steps 20]

Rows (all on the same held-out pairs: rooms never seen in training, target frames 1 .. T-1, the new
views; frame 0 is the shared first frame):

* ``warp only (exact depth)``: part 7's forward warp of the source frames with the renderer's exact depth
  (raxel_core.rerender.warp.forward_warp), holes left black; also its coverage;
* ``joint model, no tracks``: models/raxel-t2v-toy-notracks (cameras only, through the ray stream);
* ``joint model + tracks``: models/raxel-t2v-toy-tracks (cameras + Track2View track conditioner);
* ``model + tracks, tracks dropped``: the tracks model sampled without its condition (what the tracks carry).

Both models: same base network, data, steps, batch, seed (benchmarks/train_track2view.py; the training
budget is in each model's state.json and printed here). PSNR on [0, 1] RGB over the whole frame; SSIM
by kornia.metrics.ssim (11 x 11 Gaussian window) averaged over the frame. Means over frames, +- the
standard error over pairs.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import kornia
import numpy as np
import torch

from raxel_core.diffusion.track2view import TOY_FRAMES, render_target_view, toy_pairs
from raxel_core.model import JointTransformer
from raxel_core.rerender.warp import forward_warp

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"tracks": ROOT / "models" / "raxel-t2v-toy-tracks", "no_tracks": ROOT / "models" / "raxel-t2v-toy-notracks"}


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR (dB) of ``(N, H, W, 3)`` images in [0, 1]."""
    mse = float((a.double() - b.double()).square().mean())
    return 10 * np.log10(1.0 / max(mse, 1e-12))


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean SSIM of ``(N, H, W, 3)`` images in [0, 1] (kornia.metrics.ssim, 11 x 11 window)."""
    x, y = a.permute(0, 3, 1, 2).float(), b.permute(0, 3, 1, 2).float()
    return float(kornia.metrics.ssim(x, y, window_size=11).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=16, help="held-out pairs")
    parser.add_argument("--steps", type=int, default=20, help="Euler steps of the video stream")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    missing = [str(p) for p in MODELS.values() if not (p / "model.safetensors").is_file()]
    if missing:
        raise SystemExit(f"missing toy model(s) {missing}; train them with benchmarks/train_track2view.py")
    models = {k: JointTransformer.from_pretrained(p).eval() for k, p in MODELS.items()}
    for name, path in MODELS.items():
        state = json.loads((path / "state.json").read_text())
        t2v = state["track2view"]
        print(f"{path.name}: {models[name].num_parameters()} parameters, {state['step']} steps x batch "
              f"{t2v['batch']} on {t2v['pairs']} pairs, {t2v['train_cpu_seconds']:.0f} CPU s training "
              f"({t2v['threads']} thread), loss {t2v['loss_every_50_steps'][0]:.3f} -> "
              f"{t2v['loss_every_50_steps'][-1]:.3f}")
    start = time.process_time()
    pairs = toy_pairs(args.pairs, held_out=True)
    rows = {"warp only (exact depth)": [], "joint model, no tracks": [], "joint model + tracks": [],
            "model + tracks, tracks dropped": []}
    coverage = []
    for i, p in enumerate(pairs):
        truth = torch.from_numpy(p.target_frames[1:]).float() / 255.0
        warp = forward_warp(p.source_frames, p.source_depth, p.source, p.target)
        coverage.append(float(warp.covered[1:].float().mean()))
        rendered = {
            "warp only (exact depth)": warp.image[1:],
            "joint model, no tracks": render_target_view(models["no_tracks"], p.source_frames, p.source, p.target,
                                                         None, steps=args.steps, seed=i)[0][1:],
            "joint model + tracks": render_target_view(models["tracks"], p.source_frames, p.source, p.target,
                                                       p.condition, steps=args.steps, seed=i)[0][1:],
            "model + tracks, tracks dropped": render_target_view(models["tracks"], p.source_frames, p.source,
                                                                 p.target, None, steps=args.steps, seed=i)[0][1:],
        }
        for name, image in rendered.items():
            rows[name].append((psnr(image, truth), ssim(image, truth)))
    print(f"\nTrack2View ablation, toy scale: {len(pairs)} held-out pairs (unseen rooms), {TOY_FRAMES} frames per "
          f"view at 48x32, target frames 1..{TOY_FRAMES - 1}; {args.steps} Euler steps; warp coverage "
          f"{np.mean(coverage):.3f}; eval {time.process_time() - start:.0f} CPU s")
    print(f"{'method':34s} {'PSNR dB':>16s} {'SSIM':>16s}")
    for name, values in rows.items():
        v = np.asarray(values)
        se = v.std(0, ddof=1) / np.sqrt(len(v)) if len(v) > 1 else np.zeros(2)
        print(f"{name:34s} {v[:, 0].mean():9.2f} +- {se[0]:4.2f} {v[:, 1].mean():9.3f} +- {se[1]:5.3f}")
    with_t, without = np.asarray(rows["joint model + tracks"]), np.asarray(rows["joint model, no tracks"])
    diff = with_t - without
    print(f"tracks - no tracks (paired over pairs): PSNR {diff[:, 0].mean():+.2f} dB "
          f"(better on {int((diff[:, 0] > 0).sum())}/{len(diff)} pairs), SSIM {diff[:, 1].mean():+.3f}")


if __name__ == "__main__":
    main()
