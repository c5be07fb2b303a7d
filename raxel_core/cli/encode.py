"""``raxel encode``: a trajectory -> 8-bit PNG raxel frames + ``raxels.json``."""
from __future__ import annotations

from .terminal import parse_size


def register(sub) -> None:
    n = sub.add_parser("encode", help="trajectory -> 8-bit PNG raxel frames + raxels.json")
    n.add_argument("trajectory")
    n.add_argument("--out", required=True, help="output folder")
    n.add_argument("--size", default=None, help="raxel size HxW (default: half the trajectory's image size)")
    n.set_defaults(func=run)


def run(args) -> int:
    from ..formats import read_trajectory
    from ..formats.text_files import check_output_folder
    from ..rays.raxel_encode import encode_raxels
    from ..rays.raxel_files import save_raxel_pngs

    size = parse_size(args.size)
    check_output_folder(args.out, must_be_empty=True)
    cams = read_trajectory(args.trajectory)
    maps = encode_raxels(cams, size=size)
    save_raxel_pngs(maps, args.out)
    h, w = maps.rays.shape[1:3]
    print(f"wrote {len(cams)} raxel frames {w}x{h} (8-bit PNG) and raxels.json to {args.out}")
    return 0
