"""The ``raxel`` command: a thin layer over ``raxel_core``.

    raxel demo [--out DIR]                         render a scene, estimate its trajectory, score it
    raxel pose VIDEO_OR_FRAME_DIR --out FILE [--focal PX]
    raxel eval-pose VIDEO_DIR POSE_DIR [--json] [--no-baseline]
    raxel convert IN OUT [--from FMT] [--to FMT] [--size HxW]
    raxel encode TRAJ --out DIR [--size HxW]       8-bit PNG raxel frames + raxels.json
    raxel decode DIR --out TRAJ
    raxel run WORKFLOW_API.json [--server URL] [--set NODE.INPUT=VALUE ...] [--out DIR]
    raxel train CONFIG [--steps N] [--checkpoint-dir D] [--no-resume]   train the joint model
    raxel prepare VIDEO_DIR OUT_DIR                 your videos -> RealEstate10K-layout training folder
    raxel sample MODE --out DIR [--model M] [--video V] [--image I] [--trajectory T] [--frames N]
                 [--steps-video N] [--steps-rays N] [--seed S]   run the joint model (pose|video|joint)
    raxel eval-joint ...                            evaluate the joint model (raxel eval-joint --help)

Output trajectory format follows the file extension: ``.txt`` RealEstate10K, ``.json`` the pack's
own, ``transforms.json`` nerfstudio, a folder (no suffix) COLMAP text.
Errors in the input exit with status 2 and a one-line message (no traceback).
``raxel sample`` uses the bundled model (``models/raxel-tiny-v1``) unless ``--model`` names another
(a ``save_pretrained`` folder or its ``model.safetensors``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

#: The bundled joint model (config.json + model.safetensors), the default of ``raxel sample``.
BUNDLED_MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "raxel-tiny-v1"
#: Module of ``raxel eval-joint`` (imported only when that command runs).
EVAL_JOINT_MODULE = "raxel_core.diffusion.evaluation_joint"


def _parse_size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must be HxW in pixels, e.g. 240x416; got {text!r}") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"--size must be positive, e.g. 240x416; got {text!r}")
    return h, w


def _progress_printer(label: str):
    state = {"last": -1}

    def progress(done: int, total: int) -> None:
        pct = int(100 * done / max(total, 1))
        if pct != state["last"]:
            state["last"] = pct
            bar = "#" * (pct // 4)
            print(f"\r{label} [{bar:<25}] {pct:3d}%", end="", file=sys.stderr, flush=True)
            if done >= total:
                print(file=sys.stderr)

    return progress


# --------------------------------------------------------------------------- demo
def cmd_demo(args) -> int:
    from . import metrics, preview
    from .formats import write_trajectory
    from .pose import estimate_trajectory
    from .synthetic import render
    from .synthetic.room_trajectories import default_demo_trajectory

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    truth = default_demo_trajectory(num_frames=args.frames)
    scene = render.make_scene(seed=args.seed)
    t0 = time.perf_counter()
    frames = render.render_frames(scene, truth)
    t_render = time.perf_counter() - t0
    print(f"rendered {len(frames)} frames {frames.shape[2]}x{frames.shape[1]} of a textured room "
          f"along a known trajectory in {t_render:.1f} s")
    from .video_io import write_video

    write_video(out / "demo_clip.mp4", frames, fps=truth.fps or 8.0)

    t0 = time.perf_counter()
    result = estimate_trajectory(frames, progress=_progress_printer("estimating"))
    t_pose = time.perf_counter() - t0
    est = result.cameras
    print(f"estimated the trajectory in {t_pose:.1f} s: {len(result.frame_indices)}/{len(frames)} "
          f"frames registered, method {result.method}")
    for message in result.messages:
        print(f"  {message}")
    write_trajectory(est, out / "estimated_trajectory.json")
    write_trajectory(truth, out / "true_trajectory.json")
    preview.save_preview(out / "trajectory_preview.png", est, reference=truth[list(result.frame_indices)])
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


# --------------------------------------------------------------------------- pose
def cmd_pose(args) -> int:
    from .formats import write_trajectory
    from .pose import estimate_trajectory
    from .video_io import read_frames

    frames = read_frames(args.input)
    result = estimate_trajectory(frames, focal=args.focal, progress=_progress_printer("estimating"))
    write_trajectory(result.cameras, args.out)
    print(f"{len(result.frame_indices)}/{len(frames)} frames registered ({result.method}); wrote {args.out}")
    for message in result.messages:
        print(f"  {message}")
    if result.unregistered:
        print(f"  frames not registered (no pose written for them): {list(result.unregistered)}")
    return 0


def cmd_eval_pose(args) -> int:
    from .evaluation import evaluate_clips, format_table, results_to_json

    estimators = ("raxel",) if args.no_baseline else ("raxel", "colmap_default")
    log = None if args.json else (lambda line: print(line, file=sys.stderr, flush=True))
    results = evaluate_clips(args.video_dir, args.pose_dir, estimators, log=log)
    if args.json:
        print(json.dumps(results_to_json(results), indent=1))
    else:
        print(format_table(results))
    return 0


# --------------------------------------------------------------------------- files
def cmd_convert(args) -> int:
    from .formats import read_trajectory, write_trajectory

    kw = {}
    size = _parse_size(args.size)
    if size is not None:
        kw["image_size"] = size
    cams = read_trajectory(args.input, format=args.from_format, **kw)
    write_trajectory(cams, args.output, format=args.to_format)
    print(f"converted {len(cams)} cameras: {args.input} -> {args.output}")
    return 0


def cmd_encode(args) -> int:
    from .formats import read_trajectory
    from .rays.raxel_encode import encode_raxels
    from .rays.raxel_files import save_raxel_pngs

    size = _parse_size(args.size)
    cams = read_trajectory(args.trajectory)
    maps = encode_raxels(cams, size=size)
    save_raxel_pngs(maps, args.out)
    h, w = maps.rays.shape[1:3]
    print(f"wrote {len(cams)} raxel frames {w}x{h} (8-bit PNG) and raxels.json to {args.out}")
    return 0


def cmd_decode(args) -> int:
    from .formats import write_trajectory
    from .rays.raxel_decode import decode_raxels
    from .rays.raxel_files import load_raxel_pngs

    maps = load_raxel_pngs(args.input)
    cams = decode_raxels(maps)
    write_trajectory(cams, args.out)
    print(f"decoded {len(cams)} cameras from {args.input} -> {args.out}")
    return 0


# --------------------------------------------------------------------------- joint model
def cmd_train(args) -> int:
    from .diffusion.training import train_main

    result = train_main(args.config, resume=not args.no_resume, steps=args.steps,
                        checkpoint_dir=args.checkpoint_dir)
    print(f"trained to step {result.step}; last checkpoint {result.checkpoint}; log {result.log_path}")
    return 0


def cmd_prepare(args) -> int:
    from .diffusion.training import prepare_main

    video_dir = Path(args.video_dir)
    if not video_dir.is_dir():
        raise ValueError(f"{video_dir} is not a folder; give the folder holding your videos")
    report = prepare_main(video_dir, args.out_dir, max_frames=args.max_frames,
                          max_image_size=args.max_image_size or None)
    return 0 if report.written else 2


def check_model_path(path: str | Path) -> Path:
    """The weights of a joint model at ``path`` (a ``save_pretrained`` folder or a ``.safetensors``
    file), after checking that they exist, are safetensors and have a readable header.

    Raises:
        ValueError: missing path, a pickle / non-safetensors file, or a file whose safetensors
            header cannot be read (corrupt or truncated); the message names the file and the fix.
    """
    path = Path(path)
    weights = path / "model.safetensors" if path.is_dir() else path
    if not path.exists():
        raise ValueError(f"no model at {path}; give --model a folder holding config.json + model.safetensors "
                         "(or its model.safetensors)")
    if weights.suffix != ".safetensors":
        raise ValueError(f"refusing {weights.name}: only .safetensors models are loaded (.pt / .ckpt / .bin are "
                         "pickles that can run code); convert it to safetensors")
    if not weights.is_file():
        raise ValueError(f"{path} holds no model.safetensors; give the folder written by training "
                         "(step_XXXXXXX/model) or the file itself")
    from safetensors import safe_open

    try:
        with safe_open(str(weights), framework="pt") as handle:
            handle.metadata()
    except Exception as err:  # noqa: BLE001 (safetensors' own error types: a header that does not parse)
        raise ValueError(f"{weights} is not a readable .safetensors file ({err}); it is corrupt or incomplete: "
                         "copy or export it again") from None
    return weights


def cmd_sample(args) -> int:
    from .diffusion.training import sample_main

    model = Path(args.model) if args.model else BUNDLED_MODEL_DIR
    if args.model is None and not BUNDLED_MODEL_DIR.is_dir():
        raise ValueError(f"the bundled model is not installed at {BUNDLED_MODEL_DIR}; give --model")
    check_model_path(model)
    for name in ("video", "image", "trajectory", "vae"):
        value = getattr(args, name)
        if value is not None and not Path(value).exists():
            raise ValueError(f"--{name} {value} does not exist")
    progress = _progress_printer(f"sampling ({args.mode})")

    def log(line: str) -> None:
        if line.startswith("step "):
            done, total = (int(v) for v in line[5:].split("/"))
            progress(done, total)
        else:
            print(line)

    frames = args.frames if args.frames is not None or args.mode != "joint" else 9
    sample_main(model, args.mode, args.out, video=args.video, image=args.image, trajectory=args.trajectory,
                num_frames=frames, steps_video=args.steps_video, steps_rays=args.steps_rays, seed=args.seed,
                device=args.device, log=log, vae=args.vae)
    return 0


def eval_joint_main(argv: list[str]) -> int:
    """``raxel eval-joint ...``: hand ``argv`` to :func:`raxel_core.diffusion.evaluation_joint.eval_joint_main`
    (imported here, so the rest of the command does not need it); status 2 with one line if absent."""
    import importlib

    try:
        module = importlib.import_module(EVAL_JOINT_MODULE)
    except ModuleNotFoundError as err:
        if err.name not in (EVAL_JOINT_MODULE, EVAL_JOINT_MODULE.rsplit(".", 1)[0]):
            raise
        print(f"raxel eval-joint: error: the joint-model evaluation ({EVAL_JOINT_MODULE}) is not part of this "
              "installation; update raxel_core", file=sys.stderr)
        return 2
    result = module.eval_joint_main(argv)
    return int(result) if isinstance(result, int) else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="raxel", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="render a textured scene along a known path, estimate the path, score it")
    d.add_argument("--out", default="raxel_demo_output", help="output folder (default: %(default)s)")
    d.add_argument("--frames", type=int, default=24, help="number of frames (default: %(default)s)")
    d.add_argument("--seed", type=int, default=0, help="scene seed (default: %(default)s)")
    d.set_defaults(func=cmd_demo)

    s = sub.add_parser("pose", help="camera trajectory from a video file or a folder of frames")
    s.add_argument("input", help="video file (.mp4, .avi, ...) or folder of .png/.jpg frames")
    s.add_argument("--out", required=True, help="trajectory file to write (format by extension)")
    s.add_argument("--focal", type=float, default=None, help="known focal length in pixels (optional)")
    s.set_defaults(func=cmd_pose)

    e = sub.add_parser("eval-pose", help="evaluate pose estimation on RealEstate10K-layout clips")
    e.add_argument("video_dir")
    e.add_argument("pose_dir")
    e.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    e.add_argument("--no-baseline", action="store_true", help="skip pycolmap's default pipeline")
    e.set_defaults(func=cmd_eval_pose)

    c = sub.add_parser("convert", help="convert a trajectory between file formats")
    c.add_argument("input")
    c.add_argument("output")
    c.add_argument("--from", dest="from_format", default=None, help="input format (default: by extension)")
    c.add_argument("--to", dest="to_format", default=None, help="output format (default: by extension)")
    c.add_argument("--size", default=None, help="image size HxW for formats with normalised intrinsics")
    c.set_defaults(func=cmd_convert)

    n = sub.add_parser("encode", help="trajectory -> 8-bit PNG raxel frames + raxels.json")
    n.add_argument("trajectory")
    n.add_argument("--out", required=True, help="output folder")
    n.add_argument("--size", default=None, help="raxel size HxW (default: half the trajectory's image size)")
    n.set_defaults(func=cmd_encode)

    r = sub.add_parser("decode", help="PNG raxel frames + raxels.json -> trajectory")
    r.add_argument("input", help="folder written by `raxel encode`")
    r.add_argument("--out", required=True, help="trajectory file to write (format by extension)")
    r.set_defaults(func=cmd_decode)

    sub.add_parser("run", help="post an API workflow to a running ComfyUI, follow progress, download outputs "
                   "(raxel run --help)", add_help=False)

    t = sub.add_parser("train", help="train the joint video + ray model from a JSON config")
    t.add_argument("config", help="TrainConfig JSON, e.g. configs/train_small.json")
    t.add_argument("--steps", type=int, default=None, help="override the config's total steps")
    t.add_argument("--checkpoint-dir", default=None, help="override the config's checkpoint_dir")
    t.add_argument("--no-resume", action="store_true", help="start afresh even if checkpoints exist")
    t.set_defaults(func=cmd_train)

    q = sub.add_parser("prepare", help="your videos -> a RealEstate10K-layout training folder (SfM poses)")
    q.add_argument("video_dir", help="folder of video files")
    q.add_argument("out_dir", help="output folder (videos/ + poses/)")
    q.add_argument("--max-frames", type=int, default=None, help="frames kept per video (default: all)")
    q.add_argument("--max-image-size", type=int, default=640,
                   help="longest side in pixels the frames are reduced to (0 = keep; default: %(default)s)")
    q.set_defaults(func=cmd_prepare)

    m = sub.add_parser("sample", help="run the joint model: pose (video -> camera), video (image + camera -> "
                       "video) or joint (image -> video + camera)")
    m.add_argument("mode", choices=("pose", "video", "joint"))
    m.add_argument("--model", default=None,
                   help=f"model folder (config.json + model.safetensors) or its .safetensors (default: the bundled "
                        f"{BUNDLED_MODEL_DIR.name})")
    m.add_argument("--video", default=None, help="pose: video file or frame folder")
    m.add_argument("--image", default=None, help="video / joint: the source image (first frame)")
    m.add_argument("--trajectory", default=None, help="video: trajectory file (any format raxel convert reads)")
    m.add_argument("--frames", type=int, default=None,
                   help="frames (joint: to generate, default 9; pose: read from the video, default 9)")
    m.add_argument("--out", required=True, help="output folder: video.mp4, trajectory.txt, raxels.png")
    m.add_argument("--steps-video", type=int, default=30, help="Euler steps of the video stream (default: %(default)s)")
    m.add_argument("--steps-rays", type=int, default=2, help="Euler steps of the ray stream (default: %(default)s)")
    m.add_argument("--seed", type=int, default=0, help="noise seed (default: %(default)s)")
    m.add_argument("--device", default="cpu", help="torch device (default: %(default)s)")
    m.add_argument("--vae", default=None, help="latent models only: a local diffusers folder of the Wan 2.1 VAE "
                   "(AutoencoderKLWan: config.json + diffusion_pytorch_model.safetensors)")
    m.set_defaults(func=cmd_sample)

    sub.add_parser("eval-joint", help="evaluate the joint model (raxel eval-joint --help)", add_help=False)
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["run"]:  # the headless runner has its own parser and exit codes
        from .headless import run_main

        return run_main(argv[1:])
    if argv[:1] == ["eval-joint"]:  # its own parser, in raxel_core.diffusion.evaluation_joint
        return eval_joint_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, NotADirectoryError, InterruptedError) as exc:
        print(f"raxel {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
