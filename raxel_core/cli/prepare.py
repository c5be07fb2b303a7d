"""``raxel prepare``: your videos -> a RealEstate10K-layout training folder, cameras by SfM; several videos at
once (``--workers``) or on a Ray cluster (``--ray-address``)."""
from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    q = sub.add_parser("prepare", help="your videos -> a RealEstate10K-layout training folder (SfM poses)",
                       description="Exit status: 0 every video written, 1 some failed (each named with its reason, "
                                   "and in OUT_DIR/prepare_report.json), 2 bad input or none written.")
    q.add_argument("video_dir", help="folder of video files")
    q.add_argument("out_dir", help="output folder (videos/ + poses/)")
    q.add_argument("--max-frames", type=int, default=None, help="frames kept per video (default: all)")
    q.add_argument("--max-image-size", type=int, default=640,
                   help="longest side in pixels the frames are reduced to (0 = keep; default: %(default)s)")
    q.add_argument("--seed", type=int, default=0,
                   help="random seed of the pose estimator (same videos and seed, same poses; default: %(default)s)")
    q.add_argument("--workers", type=int, default=1,
                   help="videos prepared at once, each in its own process with cores/N threads (default: %(default)s)")
    q.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="run the videos as tasks on a Ray cluster: 'auto' (the running one), 'local' (a new one "
                        "here) or ray://HOST:10001; needs pip install \"raxel-nodes[ray]\" and the pack on every node")
    q.set_defaults(func=run)


def run(args) -> int:
    """Estimate every video's cameras (:func:`raxel_core.diffusion.prepare.prepare_dataset`), write
    ``OUT_DIR/videos/<stem>.mp4`` + ``OUT_DIR/poses/<stem>.txt``, print one line per video (failures with
    the reason) and a summary; status 1 when some video failed, 2 when none was written. Use the folder as
    ``{"kind": "realestate10k", "root": OUT_DIR}`` in a training config."""
    from ..diffusion.prepare import RAY_MISSING, prepare_dataset
    from ..formats.text_files import check_output_folder

    video_dir = Path(args.video_dir)
    if not video_dir.is_dir():
        raise ValueError(f"{video_dir} is not a folder; give the folder holding your videos")
    if args.max_frames is not None and args.max_frames < 2:
        raise ValueError(f"--max-frames must be at least 2 (a camera path needs two frames); got {args.max_frames}")
    if args.max_image_size < 0:
        raise ValueError(f"--max-image-size must be 0 (keep) or a positive number of pixels; got {args.max_image_size}")
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1 (videos at once); got {args.workers}")
    if args.ray_address is not None:
        try:
            import ray  # noqa: F401 - checked before any work
        except ImportError:
            raise ValueError(RAY_MISSING) from None
    check_output_folder(args.out_dir)
    report = prepare_dataset(video_dir, args.out_dir, max_frames=args.max_frames,
                             max_image_size=args.max_image_size or None, seed=args.seed, workers=args.workers,
                             ray_address=args.ray_address, log=lambda line: print(line, flush=True))
    print(f"wrote {len(report.written)} clip(s) to {args.out_dir}; {len(report.failed)} failed "
          f"(list: {Path(args.out_dir) / 'prepare_report.json'})")
    for name, reason in report.failed.items():
        print(f"  failed {name}: {reason}")
    if not report.written:
        raise ValueError(f"no clip was written: all {len(report.failed)} video(s) failed (reasons above); give "
                         "videos with camera motion and texture")
    return 1 if report.failed else 0
