"""``raxel pose``: camera trajectory from a video file or a folder of frames."""
from __future__ import annotations

from .terminal import check_trajectory_output, progress_printer


def register(sub) -> None:
    s = sub.add_parser("pose", help="camera trajectory from a video file or a folder of frames")
    s.add_argument("input", help="video file (.mp4, .avi, ...) or folder of .png/.jpg frames")
    s.add_argument("--out", required=True, help="trajectory file to write (format by extension)")
    s.add_argument("--focal", type=float, default=None, help="known focal length in pixels (optional)")
    s.add_argument("--seed", type=int, default=0,
                   help="random seed of RANSAC and the mappers: the same video and seed give the same "
                        "cameras (default: %(default)s)")
    s.set_defaults(func=run)


def run(args) -> int:
    from ..formats import write_trajectory
    from ..pose import estimate_trajectory
    from ..video_io import read_frames

    check_trajectory_output(args.out)            # before a long estimation, not after it
    frames = read_frames(args.input)
    result = estimate_trajectory(frames, focal=args.focal, seed=args.seed, progress=progress_printer("estimating"))
    write_trajectory(result.cameras, args.out)
    print(f"{len(result.frame_indices)}/{len(frames)} frames registered ({result.method}); wrote {args.out}")
    for message in result.messages:
        print(f"  {message}")
    if result.unregistered:
        print(f"  frames not registered (no pose written for them): {list(result.unregistered)}")
    return 0
