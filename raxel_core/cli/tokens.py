"""``raxel tokens``: camera path <-> CamViG-style RVQ tokens (``raxel_core/tokens``).

    raxel tokens encode TRAJ --out tokens.json [--model DIR]
    raxel tokens decode tokens.json --out TRAJ [--levels K] [--model DIR]
    raxel tokens eval [--model DIR] [--data DIR]     reconstruction table on the held-out paths
"""
from __future__ import annotations

import json
from pathlib import Path


def register(sub) -> None:
    t = sub.add_parser("tokens", help="camera path <-> discrete camera tokens (residual VQ, CamViG)",
                       description="Tokenize a camera path with the bundled camera tokenizer (4 residual VQ "
                                   "levels per frame) and decode tokens back to a trajectory.")
    tsub = t.add_subparsers(dest="tokens_command", required=True)
    e = tsub.add_parser("encode", help="trajectory -> tokens.json")
    e.add_argument("trajectory", help="trajectory file (any format raxel convert reads)")
    e.add_argument("--out", required=True, help="tokens JSON file to write")
    e.add_argument("--model", default=None, help="tokenizer folder (default: the bundled raxel-camtok-v1)")
    e.set_defaults(func=run_encode)
    d = tsub.add_parser("decode", help="tokens.json -> trajectory")
    d.add_argument("tokens", help="tokens JSON file written by raxel tokens encode")
    d.add_argument("--out", required=True, help="trajectory file to write; the format follows the extension")
    d.add_argument("--levels", type=int, default=0, help="decode from the first K RVQ levels only (0 = all)")
    d.add_argument("--model", default=None, help="tokenizer folder (default: the bundled raxel-camtok-v1)")
    d.set_defaults(func=run_decode)
    v = tsub.add_parser("eval", help="reconstruction error against token budget on held-out paths")
    v.add_argument("--model", default=None, help="tokenizer folder (default: the bundled raxel-camtok-v1)")
    v.add_argument("--data", default=str(Path(__file__).resolve().parents[3] / "shared" / "data"),
                   help="shared data folder with trajectories/motionctrl and re10k/poses")
    v.add_argument("--json", action="store_true", help="print the rows as JSON")
    v.set_defaults(func=run_eval)


def run_encode(args) -> int:
    from ..formats import read_trajectory
    from ..formats.text_files import write_files_atomic
    from ..tokens import CameraTokenizer, tokens_to_json

    cams = read_trajectory(args.trajectory)
    model = CameraTokenizer.from_pretrained(args.model)
    indices, frame = model.encode(cams)
    name = Path(args.model).name if args.model else "raxel-camtok-v1"
    doc = tokens_to_json(indices, frame, name, model.config)
    write_files_atomic({Path(args.out): json.dumps(doc) + "\n"})
    print(f"encoded {len(cams)} cameras into {indices.numel()} tokens ({indices.shape[1]} per frame): "
          f"{args.trajectory} -> {args.out}")
    return 0


def run_decode(args) -> int:
    from ..formats import write_trajectory
    from ..formats.text_files import load_json
    from ..tokens import CameraTokenizer, tokens_from_json

    indices, frame, _ = tokens_from_json(load_json(args.tokens))
    model = CameraTokenizer.from_pretrained(args.model)
    levels = args.levels or None
    if levels is not None and not 1 <= levels <= indices.shape[1]:
        raise ValueError(f"--levels must be between 1 and {indices.shape[1]} (the levels in the file); got {levels}")
    cams = model.decode(indices, frame, levels=levels)
    write_trajectory(cams, args.out)
    print(f"decoded {len(cams)} cameras from {args.tokens} -> {args.out}")
    return 0


def run_eval(args) -> int:
    from ..tokens import CameraTokenizer
    from ..tokens.training import format_table, reconstruction_table, trajectory_corpus

    model = CameraTokenizer.from_pretrained(args.model)
    corpus = trajectory_corpus(args.data)
    for what in corpus["missing"]:
        print(f"missing: {what}: left out of the table")
    rows = reconstruction_table(model, corpus["held_out"])
    print(json.dumps(rows, indent=1) if args.json else format_table(rows))
    return 0
