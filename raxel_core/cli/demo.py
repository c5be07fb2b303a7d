"""``raxel demo``: render a textured scene along a known path, estimate the path, score it."""
from __future__ import annotations

import time
from pathlib import Path

from .terminal import progress_printer


def register(sub) -> None:
    d = sub.add_parser("demo", help="render a textured scene along a known path, estimate the path, score it")
    d.add_argument("--out", default="raxel_demo_output", help="output folder (default: %(default)s)")
    d.add_argument("--frames", type=int, default=24, help="number of frames (default: %(default)s)")
    d.add_argument("--seed", type=int, default=0, help="scene seed (default: %(default)s)")
    d.set_defaults(func=run)


def run(args) -> int:
    from .. import preview
    from ..evaluation import metrics
    from ..formats import write_trajectory
    from ..formats.text_files import check_output_folder
    from ..pose import estimate_trajectory
    from ..resources import check_memory
    from ..synthetic import render
    from ..synthetic.room_trajectories import default_demo_trajectory
    from ..video_io import write_video

    out = check_output_folder(Path(args.out))
    if args.frames < 2:
        raise ValueError(f"--frames must be at least 2 (a camera path needs two views); got {args.frames}")
    # the rendered clip (256x384 RGB) and the estimator's copies of it: ~8x the clip's bytes per frame
    check_memory(8 * args.frames * 256 * 384 * 3, f"the demo with {args.frames} frames",
                 "give fewer --frames (the default is 24)")
    out.mkdir(parents=True, exist_ok=True)
    truth = default_demo_trajectory(num_frames=args.frames)
    scene = render.make_scene(seed=args.seed)
    t0 = time.perf_counter()
    frames = render.render_frames(scene, truth)
    t_render = time.perf_counter() - t0
    print(f"rendered {len(frames)} frames {frames.shape[2]}x{frames.shape[1]} of a textured room "
          f"along a known trajectory in {t_render:.1f} s")
    write_video(out / "demo_clip.mp4", frames, fps=truth.fps or 8.0)

    t0 = time.perf_counter()
    result = estimate_trajectory(frames, progress=progress_printer("estimating"))
    t_pose = time.perf_counter() - t0
    est = result.cameras
    print(f"estimated the trajectory in {t_pose:.1f} s: {len(result.frame_indices)}/{len(frames)} "
          f"frames registered, method {result.method}")
    for message in result.messages:
        print(f"  {message}")
    write_trajectory(est, out / "estimated_trajectory.json")
    write_trajectory(truth, out / "true_trajectory.json")
    reference = truth[list(result.frame_indices)]
    try:
        shown, scale = preview.align_to_reference(est, reference)
        title = f"estimate (colour) aligned by Sim(3) to the true path (grey), scale {scale:.3g}"
    except ValueError as err:                    # a static / rotation-only estimate has no Sim(3) scale
        shown, title = est, f"estimate (colour) NOT aligned to the true path (grey): {err}"[:120]
    preview.save_preview(out / "trajectory_preview.png", shown, reference=reference, title=title)
    print(f"preview: {title}")
    m = metrics.trajectory_metrics(est, truth[list(result.frame_indices)])
    extent = float((truth.centers - truth.centers[0]).norm(dim=1).max())
    focal_err = abs(float(est.fx.mean()) / float(truth.fx.mean()) - 1) * 100
    print(f"error against the known trajectory (path extent {extent:.2f} scene units; estimate aligned by Sim(3)):")
    rows = [
        ("ATE RMSE", m["ate_rmse"], "scene units"),
        ("RPE translation RMSE", m["rpe_trans_rmse"], "scene units"),
        ("RPE rotation RMSE", m["rpe_rot_rmse_deg"], "deg"),
        ("RRA@15", m["rra"], "%"),
        ("RTA@15", m["rta"], "%"),
        ("auc30", m["auc30"], "% (AUC@30)"),
        ("RotErr", m["rot_err_deg"], "deg, summed over frames"),
        ("TransErr", m["trans_err"], "unit-extent, summed over frames"),
        ("focal", focal_err, f"% error ({float(est.fx.mean()):.1f} px vs {float(truth.fx.mean()):.1f} px)"),
    ]
    for name, value, unit in rows:
        print(f"  {name:22s} {value:10.4f}  {unit}")
    print(f"wrote {out / 'estimated_trajectory.json'}, {out / 'trajectory_preview.png'}, "
          f"{out / 'demo_clip.mp4'}")
    return 0
