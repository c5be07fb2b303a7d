"""``raxel retime``: a trajectory at another frame count and / or frame rate (camera transfer)."""
from __future__ import annotations

from .terminal import parse_size


def register(sub) -> None:
    c = sub.add_parser(
        "retime",
        help="resample a trajectory to N frames (and from one frame rate to another)",
        description="Resample a camera path: rotations by SLERP, positions by a cubic spline. Without "
                    "frame rates the whole move is spread over N frames; with --fps-in/--fps-out the "
                    "camera keeps the speed it had in the source.",
    )
    c.add_argument("trajectory", help="trajectory file (any format raxel convert reads)")
    c.add_argument("--frames", type=int, default=0, help="target frame count (0 = auto: the source's)")
    c.add_argument("--nearest-4k1", action="store_true",
                   help="round the frame count to the nearest 4k+1 (Wan 2.1: 49, 81, ...)")
    c.add_argument("--fps-in", type=float, default=0.0, help="source frame rate (0 = the file's, if it has one)")
    c.add_argument("--fps-out", type=float, default=0.0,
                   help="target frame rate; with a source rate the camera keeps its speed (0 = fit the move)")
    c.add_argument("--smooth", type=float, default=0.0, help="Gaussian smoothing sigma in source frames (0 = none)")
    c.add_argument("--recentre", action="store_true", help="make the first camera the world origin")
    c.add_argument("--scale", type=float, default=1.0, help="multiply camera translations by this factor")
    c.add_argument("--size", default=None, help="image size HxW for formats with normalised intrinsics")
    c.add_argument("--out", required=True, help="output file; the format follows the extension")
    c.set_defaults(func=run)


def run(args) -> int:
    from ..authoring.retime import retime
    from ..formats import read_trajectory, write_trajectory

    kw = {}
    size = parse_size(args.size)
    if size is not None:
        kw["image_size"] = size
    cams = read_trajectory(args.trajectory, **kw)
    out = retime(cams, num_frames=args.frames, fps_in=args.fps_in, fps_out=args.fps_out,
                 frame_rule="nearest 4k+1" if args.nearest_4k1 else "exact", smoothing=args.smooth,
                 recentre=args.recentre, scale=args.scale)
    write_trajectory(out, args.out)
    rate = f" at {out.fps:g} fps" if out.fps else ""
    print(f"retimed {len(cams)} cameras to {len(out)}{rate}: {args.trajectory} -> {args.out}")
    return 0
