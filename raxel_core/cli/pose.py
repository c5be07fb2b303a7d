"""``raxel pose``: camera trajectory from a video file or a folder of frames (decoded as a stream,
so a clip of any length runs in bounded memory with ``--method sfm``).

``--method``: ``sfm`` (pycolmap; static scenes), ``tracks4d`` (SfM as the start, then the 4D solver on
point tracks, :mod:`raxel_core.tracks4d`: footage with moving objects; the clip is tracked in memory),
``auto`` (SfM's result when it finds no parallax; else both, and the 4D result is kept when SfM left
frames out, or when at least 10 % of the tracks move against the static scene SfM assumes;
:mod:`raxel_core.tracks4d.pose`)."""
from __future__ import annotations

from .terminal import check_trajectory_output, progress_printer


def register(sub) -> None:
    s = sub.add_parser("pose", help="camera trajectory from a video file or a folder of frames")
    s.add_argument("input", help="video file (.mp4, .avi, ...) or folder of .png/.jpg frames")
    s.add_argument("--out", required=True, help="trajectory file to write (format by extension)")
    s.add_argument("--focal", type=float, default=None, help="known focal length in pixels (optional)")
    s.add_argument("--max-frames", type=int, default=None,
                   help="use at most this many frames (after --stride); default: the whole clip")
    s.add_argument("--stride", type=int, default=1,
                   help="use every N-th frame of the clip; trajectory frame k is clip frame k * N and the "
                        "trajectory's fps is the clip's divided by N (default: %(default)s)")
    s.add_argument("--max-image-size", type=int, default=None,
                   help="shrink frames to this longer side in pixels before features are extracted "
                        "(faster; K is still given at the clip's size); default: full size")
    s.add_argument("--pixel-aspect", type=parse_pixel_aspect, default=1.0,
                   help="fy/fx of the frames' pixels when they are not square (a clip squeezed from 16:9 to "
                        "W x H without cropping: (H/W) * 16/9, e.g. 1.185 at 384x256), or 'estimate' (separate "
                        "fx and fy from bundle adjustment); default: 1 (square)")
    s.add_argument("--mask", default=None, metavar="DIR",
                   help="folder of mask images, white = moving things to ignore (no features there): one per "
                        "frame of the clip in name order (before --stride / --max-frames), or one for all frames; "
                        "each at the frames' size")
    s.add_argument("--method", default="sfm",
                   help="sfm: structure from motion (static scenes); tracks4d: SfM as a start, then the 4D "
                        "solver on point tracks (moving people, cars, animals; holds the clip in memory); auto: "
                        "SfM when it finds no parallax (still / tripod camera), else both, keeping the 4D cameras "
                        "when SfM left frames out or at least 10%% of the tracks move against the static scene "
                        "(default: %(default)s)")
    s.add_argument("--seed", type=int, default=0,
                   help="random seed of RANSAC and the mappers: the same video and seed give the same "
                        "cameras (default: %(default)s)")
    s.set_defaults(func=run)


def parse_pixel_aspect(text: str) -> float | None:
    """``--pixel-aspect``: a number (``fy / fx``) or ``"estimate"`` (``None``: estimate_trajectory estimates it)."""
    if str(text).strip().lower() == "estimate":
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"--pixel-aspect must be a number fy/fx (e.g. 1.185) or 'estimate'; got {text!r}") from None


def run(args) -> int:
    from pathlib import Path

    from ..formats import write_trajectory
    from ..pose import estimate_trajectory
    from ..video_io import iter_frames, video_fps

    check_trajectory_output(args.out)            # before a long estimation, not after it
    if args.method not in ("sfm", "tracks4d", "auto"):
        raise ValueError(f"--method must be sfm, tracks4d or auto; got {args.method!r}")
    if args.stride < 1:
        raise ValueError(f"--stride must be a whole number >= 1; got {args.stride}")
    if args.max_frames is not None and args.max_frames < 2:
        raise ValueError(f"--max-frames must be at least 2 (a trajectory needs two frames); got {args.max_frames}")
    if args.max_image_size is not None and args.max_image_size < 16:
        raise ValueError(f"--max-image-size must be at least 16 pixels; got {args.max_image_size}")
    source = Path(args.input)
    fps = video_fps(source) if source.is_file() else None
    if args.method != "sfm":
        if args.mask:
            raise ValueError(f"--mask works with --method sfm only (the 4D solver tells moving points apart by "
                             f"itself); drop --mask or use --method sfm; got --method {args.method}")
        return _run_with_tracks(args, source, fps)
    masks = clip_masks(args.mask, source, args.max_frames, args.stride) if args.mask else None
    frames = iter_frames(source, max_frames=args.max_frames, stride=args.stride)
    result = estimate_trajectory(frames, focal=args.focal, seed=args.seed, max_image_size=args.max_image_size,
                                 pixel_aspect=args.pixel_aspect, masks=masks,
                                 fps=fps / args.stride if fps else None, progress=progress_printer("estimating"))
    result.cameras.metadata["stride"] = args.stride
    write_trajectory(result.cameras, args.out)
    n = result.num_frames
    sampling = [f"stride {args.stride}" if args.stride > 1 else "every frame"]
    if args.max_frames is not None:
        sampling.append(f"at most {args.max_frames} frames")
    if args.pixel_aspect is None:
        sampling.append(f"pixel aspect fy/fx estimated: {result.cameras.metadata['pixel_aspect']:.4f}")
    elif args.pixel_aspect != 1.0:
        sampling.append(f"pixel aspect fy/fx {args.pixel_aspect:g}")
    if args.mask:
        sampling.append(f"masks from {args.mask}")
    if args.max_image_size is not None:
        sampling.append(f"features at a longer side of at most {args.max_image_size} px")
    print(f"{len(result.frame_indices)}/{n} frames registered ({result.method}; {', '.join(sampling)}); "
          f"wrote {args.out}")
    if args.stride > 1:
        print(f"  trajectory frame k is clip frame {args.stride} * k (clip frames 0-{args.stride * (n - 1)})")
    for message in result.messages:
        print(f"  {message}")
    if result.unregistered:
        print(f"  frames not registered (no pose written for them): {list(result.unregistered)}")
    return 0


def clip_masks(mask_dir, source, max_frames, stride):
    """The masks of the frames ``raxel pose`` uses, read one at a time from ``mask_dir``: the folder holds
    one mask per frame of the clip (counted first: the files of a frame folder, the decoded frames of a
    video) or one for all; mask ``k * stride`` goes with trajectory frame ``k``.

    Raises:
        ValueError: the folder is missing or empty, or its mask count is neither the clip's frame count nor 1.
    """
    from ..pose.masks import iter_mask_files, mask_files
    from ..video_io import frame_files, video_info

    count = len(frame_files(source)) if source.is_dir() else video_info(source)["num_frames"]
    files = mask_files(mask_dir, count)
    used = range(0, count, stride)[:max_frames] if max_frames is not None else range(0, count, stride)
    return iter_mask_files(files, used)


def _run_with_tracks(args, source, fps) -> int:
    from ..formats import write_trajectory
    from ..tracks4d.pose import video_pose
    from ..video_io import iter_frames

    result = video_pose(lambda: iter_frames(source, max_frames=args.max_frames, stride=args.stride),
                        method=args.method, seed=args.seed, focal=args.focal, pixel_aspect=args.pixel_aspect,
                        max_image_size=args.max_image_size, fps=fps / args.stride if fps else None,
                        progress=progress_printer("estimating"))
    result.cameras.metadata["stride"] = args.stride
    write_trajectory(result.cameras, args.out)
    share = "" if result.dynamic_share is None else f"; {result.dynamic_share:.0%} of the tracks dynamic"
    print(f"{len(result.frame_indices)}/{result.num_frames} frames posed ({result.method}, --method "
          f"{args.method}{share}); wrote {args.out}")
    for message in result.messages:
        print(f"  {message}")
    return 0
