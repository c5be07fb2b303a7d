"""``raxel prepare``: your videos -> a RealEstate10K-layout training folder, cameras by SfM."""
from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    q = sub.add_parser("prepare", help="your videos -> a RealEstate10K-layout training folder (SfM poses)")
    q.add_argument("video_dir", help="folder of video files")
    q.add_argument("out_dir", help="output folder (videos/ + poses/)")
    q.add_argument("--max-frames", type=int, default=None, help="frames kept per video (default: all)")
    q.add_argument("--max-image-size", type=int, default=640,
                   help="longest side in pixels the frames are reduced to (0 = keep; default: %(default)s)")
    q.add_argument("--seed", type=int, default=0,
                   help="random seed of the pose estimator (same videos and seed, same poses; default: %(default)s)")
    q.set_defaults(func=run)


def run(args) -> int:
    """Estimate every video's cameras (:func:`raxel_core.diffusion.prepare.prepare_dataset`), write
    ``OUT_DIR/videos/<stem>.mp4`` + ``OUT_DIR/poses/<stem>.txt`` and print what was skipped and why;
    status 2 when no clip was written. Use the folder as ``{"kind": "realestate10k", "root": OUT_DIR}``
    in a training config."""
    from ..diffusion.prepare import prepare_dataset
    from ..formats.text_files import check_output_folder

    video_dir = Path(args.video_dir)
    if not video_dir.is_dir():
        raise ValueError(f"{video_dir} is not a folder; give the folder holding your videos")
    if args.max_frames is not None and args.max_frames < 2:
        raise ValueError(f"--max-frames must be at least 2 (a camera path needs two frames); got {args.max_frames}")
    if args.max_image_size < 0:
        raise ValueError(f"--max-image-size must be 0 (keep) or a positive number of pixels; got {args.max_image_size}")
    check_output_folder(args.out_dir)
    report = prepare_dataset(video_dir, args.out_dir, max_frames=args.max_frames,
                             max_image_size=args.max_image_size or None, seed=args.seed,
                             progress=lambda done, total: print(f"[{done}/{total}] videos processed"))
    print(f"wrote {len(report.written)} clip(s) to {args.out_dir}; skipped {len(report.skipped)}")
    for name, reason in report.skipped.items():
        print(f"  skipped {name}: {reason}")
    if not report.written:
        raise ValueError(f"no clip was written: all {len(report.skipped)} video(s) were skipped (reasons above); give "
                         "videos with camera motion and texture")
    return 0
