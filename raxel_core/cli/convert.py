"""``raxel convert``: a trajectory from one file format to another."""
from __future__ import annotations

import sys

from .terminal import check_trajectory_output, parse_size


def register(sub) -> None:
    c = sub.add_parser("convert", help="convert a trajectory between file formats")
    c.add_argument("input")
    c.add_argument("output")
    c.add_argument("--from", dest="from_format", default=None, help="input format (default: by extension)")
    c.add_argument("--to", dest="to_format", default=None, help="output format (default: by extension)")
    c.add_argument("--size", default=None, help="image size HxW for formats with normalised intrinsics")
    c.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..formats import detect_format, read_trajectory, write_trajectory

    kw = {}
    size = parse_size(args.size)
    if size is not None:
        kw["image_size"] = size
    out_format = args.to_format or detect_format(args.output, for_writing=True)
    check_trajectory_output(args.output, out_format)
    if not Path(args.input).exists():
        raise ValueError(f"trajectory file {args.input} does not exist; check the path")
    in_format = args.from_format or detect_format(args.input)
    if in_format == "realestate10k" and size is None and out_format != "realestate10k":
        raise ValueError(f"{Path(args.input).name} is a RealEstate10K file: its intrinsics are fractions of the image "
                         "size, which it does not record; give the clip's size, e.g. --size 256x384")
    cams = read_trajectory(args.input, format=args.from_format, **kw)
    write_trajectory(cams, args.output, format=args.to_format)
    print(f"converted {len(cams)} cameras: {args.input} -> {args.output}")
    if out_format == "motionctrl":
        print("note: MotionCtrl files hold poses only: the intrinsics (K) and the image size were not written; "
              "keep the source file (or write .json / transforms.json) to keep them", file=sys.stderr)
    return 0
