"""``raxel convert``: a trajectory from one file format to another."""
from __future__ import annotations

from .terminal import parse_size


def register(sub) -> None:
    c = sub.add_parser("convert", help="convert a trajectory between file formats")
    c.add_argument("input")
    c.add_argument("output")
    c.add_argument("--from", dest="from_format", default=None, help="input format (default: by extension)")
    c.add_argument("--to", dest="to_format", default=None, help="output format (default: by extension)")
    c.add_argument("--size", default=None, help="image size HxW for formats with normalised intrinsics")
    c.set_defaults(func=run)


def run(args) -> int:
    from ..formats import read_trajectory, write_trajectory

    kw = {}
    size = parse_size(args.size)
    if size is not None:
        kw["image_size"] = size
    cams = read_trajectory(args.input, format=args.from_format, **kw)
    write_trajectory(cams, args.output, format=args.to_format)
    print(f"converted {len(cams)} cameras: {args.input} -> {args.output}")
    return 0
