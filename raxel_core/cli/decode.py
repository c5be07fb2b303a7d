"""``raxel decode``: PNG raxel frames + ``raxels.json`` -> a trajectory."""
from __future__ import annotations

from .terminal import check_trajectory_output


def register(sub) -> None:
    r = sub.add_parser("decode", help="PNG raxel frames + raxels.json -> trajectory")
    r.add_argument("input", help="folder written by `raxel encode`")
    r.add_argument("--out", required=True, help="trajectory file to write (format by extension)")
    r.set_defaults(func=run)


def run(args) -> int:
    from ..formats import write_trajectory
    from ..rays.raxel_decode import decode_raxels
    from ..rays.raxel_files import load_raxel_pngs

    check_trajectory_output(args.out)
    maps = load_raxel_pngs(args.input)
    cams = decode_raxels(maps)
    write_trajectory(cams, args.out)
    print(f"decoded {len(cams)} cameras from {args.input} -> {args.out}")
    return 0
