"""Camera tokens (CamViG-style RVQ): reconstruction error against token budget, beside a still camera.

    python benchmarks/bench_camera_tokens.py                 # table for the bundled tokenizer
    python benchmarks/bench_camera_tokens.py --train [--steps N] [--codebook-size K] [--save DIR]

Held-out paths per source (``raxel_core/tokens/training.py``): presets and synthetic room paths drawn
with another seed, 8 MotionCtrl files, the 3 clips of one RealEstate10K scene. Errors are means over
frames 1..N-1 of each path, relative to frame 0: rotation (degrees) and camera-centre distance divided by
the path's scale (largest centre distance from frame 0). Baseline: the constant (still) camera.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from raxel_core.tokens import BUNDLED_TOKENIZER_DIR, CameraTokenizer, TokenizerConfig  # noqa: E402
from raxel_core.tokens.training import (  # noqa: E402
    format_table,
    reconstruction_table,
    train_tokenizer,
    trajectory_corpus,
)

DATA = Path(os.environ.get("RAXEL_SHARED_DATA", ROOT.parent / "shared" / "data"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--train", action="store_true", help="train a tokenizer first (else load --model)")
    p.add_argument("--model", default=str(BUNDLED_TOKENIZER_DIR), help="tokenizer folder to evaluate")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--codebook-size", type=int, default=256)
    p.add_argument("--latent-dim", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", default=None, help="with --train: write the tokenizer here")
    args = p.parse_args(argv)
    torch.set_num_threads(1)  # the model is tiny: one thread is faster than two on a shared machine
    start = time.time()
    corpus = trajectory_corpus(DATA, seed=args.seed)
    for what in corpus["missing"]:
        print(f"MISSING: {what}: that source is left out")
    counts = {k: (len(v), len(corpus["held_out"].get(k, []))) for k, v in corpus["train"].items()}
    print("paths (train, held out):", counts, f"({time.time() - start:.0f} s)")
    if args.train:
        config = TokenizerConfig(codebook_size=args.codebook_size, latent_dim=args.latent_dim)
        model = train_tokenizer(corpus["train"], config, steps=args.steps, seed=args.seed)
        print(f"trained {args.steps} steps in {time.time() - start:.0f} s")
        if args.save:
            model.save_pretrained(args.save)
            print(f"saved {args.save}")
    else:
        model = CameraTokenizer.from_pretrained(args.model)
    print(f"tokenizer: {model.config}")
    print(format_table(reconstruction_table(model, corpus["held_out"])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
