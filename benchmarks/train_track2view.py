"""Train the toy Track2View models of the ablation (with / without the track conditioner) on synthetic pairs.

    PYTHONPATH=$PWD python benchmarks/train_track2view.py --variant tracks --steps 450
    PYTHONPATH=$PWD python benchmarks/train_track2view.py --variant no_tracks --steps 450

Same base network, data, batch, steps, learning rate and seed for both (raxel_core.diffusion.track2view);
one torch thread each. Writes models/raxel-t2v-toy-<variant>/ (config.json, model.safetensors, state.json
with the frame size, the budget and the loss curve). benchmarks/bench_track2view.py evaluates them.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from raxel_core.diffusion.track2view import TOY_FRAMES, TOY_SIZE, toy_config, toy_pairs, train_track2view
from raxel_core.formats.text_files import write_text_atomic
from raxel_core.model import JointTransformer

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", choices=("tracks", "no_tracks"), required=True)
    parser.add_argument("--steps", type=int, default=450)
    parser.add_argument("--pairs", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with_tracks = args.variant == "tracks"
    out = args.out or ROOT / "models" / f"raxel-t2v-toy-{args.variant.replace('_', '')}"
    start = time.process_time()
    pairs = toy_pairs(args.pairs)
    data_seconds = time.process_time() - start
    torch.manual_seed(args.seed)
    model = JointTransformer(toy_config(with_tracks))
    print(f"{args.variant}: {model.num_parameters()} parameters, {len(pairs)} pairs rendered in {data_seconds:.0f} "
          "CPU s", flush=True)
    log = train_track2view(model, pairs, args.steps, with_tracks, batch_size=args.batch, lr=args.lr, seed=args.seed,
                           log_every=100, log=lambda m: print(m, flush=True))
    model.save_pretrained(out)
    curve = [float(np.mean(log.losses[i:i + 50])) for i in range(0, len(log.losses), 50)]
    state = {"step": args.steps, "config": {"image_size": list(TOY_SIZE), "num_frames": TOY_FRAMES},
             "track2view": {"variant": args.variant, "pairs": len(pairs), "batch": args.batch, "lr": args.lr,
                            "seed": args.seed, "train_cpu_seconds": round(log.cpu_seconds, 1),
                            "data_cpu_seconds": round(data_seconds, 1), "threads": 1,
                            "loss_every_50_steps": [round(v, 4) for v in curve]}}
    write_text_atomic(out / "state.json", json.dumps(state, indent=2) + "\n")
    print(f"saved {out}: final loss (last 100) {np.mean(log.losses[-100:]):.4f}, {log.cpu_seconds:.0f} CPU s")


if __name__ == "__main__":
    main()
