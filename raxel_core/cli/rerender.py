"""``raxel rerender``: a video seen from a new camera: warped frames, masks, latent masks, tracks, preview.

    raxel rerender VIDEO (--preset orbit_left | --trajectory NEW.json [--absolute]) --out DIR
                   [--source-trajectory TRAJ] [--depth DIR --depth-form inverse_relative|metric|exact
                   [--depth-scale S]] [--tracks TRACKS.json] [--angle DEG] [--dolly FRACTION]

Writes into DIR (a new or empty folder; written to a temporary sibling and renamed into place when
complete): ``warped/00000.png ...`` (the target-view render), ``masks/`` (white = the video model
must generate, 5 x 5-dilated holes), ``latent_masks/`` (the same on the 8 x / 4 x latent grid),
``tracks.json`` (target-view tracks as ``[{x, y}, ...]`` per track, one point per frame, with ``--tracks``),
``tracks_ati.json`` (the same in ATI's 121-sample layout, what core's ``WanTrackToVideo`` reads),
``preview.png`` (source | warp | mask), ``target_trajectory.json`` and ``report.json``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

DEPTH_FORMS = ("inverse_relative", "metric", "exact")


def register(sub) -> None:
    r = sub.add_parser("rerender", help="re-render a video from a new camera (warp + masks + tracks)")
    r.add_argument("video", help="video file or folder of frames")
    target = r.add_mutually_exclusive_group(required=True)
    target.add_argument("--preset", help="orbit_left, orbit_right, orbit_up, orbit_down, dolly_in or dolly_out")
    target.add_argument("--trajectory", help="target trajectory file (by default a motion on top of the source path)")
    r.add_argument("--absolute", action="store_true",
                   help="read --trajectory as cameras in the source trajectory's world, not as a relative move")
    r.add_argument("--out", required=True, help="output folder (new or empty)")
    r.add_argument("--source-trajectory", default=None,
                   help="cameras of the video (any trajectory format); default: estimated with SfM")
    r.add_argument("--depth", default=None, help="folder of depth images, one per frame (PNG 8/16-bit or .npy)")
    r.add_argument("--depth-form", default="inverse_relative", choices=DEPTH_FORMS,
                   help="inverse_relative (depth-node disparity in [0, 1], aligned), metric (aligned by "
                        "scale) or exact (z-depth already in the trajectory's units); default %(default)s")
    r.add_argument("--depth-scale", type=float, default=None,
                   help="multiplier from stored values to depth (default: 1/255 for 8-bit, 1/65535 for 16-bit)")
    r.add_argument("--tracks", default=None, help='source tracks JSON ([[{"x": .., "y": ..}, ...], ...])')
    r.add_argument("--angle", type=float, default=15.0, help="orbit angle at the last frame, degrees")
    r.add_argument("--dolly", type=float, default=0.25,
                   help="dolly distance at the last frame (fraction of scene depth)")
    r.set_defaults(func=run)


def read_depth_dir(folder, form: str, scale: float | None) -> np.ndarray:
    """``(N, H, W)`` float32 depth values from a folder of images or ``.npy`` arrays (sorted by name).

    Raises:
        ValueError: no such folder, no depth files, or an unreadable file.
    """
    import cv2

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"--depth {folder} is not a folder; give a folder of depth images, one per frame")
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in (".png", ".tif", ".tiff", ".npy", ".exr")),
                   key=lambda p: p.name)
    if not files:
        raise ValueError(f"--depth {folder} holds no .png / .tif / .npy depth files")
    maps = []
    for p in files:
        if p.suffix.lower() == ".npy":
            a = np.load(p, allow_pickle=False)
        else:
            a = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
            if a is None:
                raise ValueError(f"depth file {p} could not be read as an image")
        if a.ndim == 3:
            a = a[..., 0]
        s = scale
        if s is None:
            s = 1 / 255 if a.dtype == np.uint8 else 1 / 65535 if a.dtype == np.uint16 else 1.0
        maps.append(a.astype(np.float32) * s)
    shapes = {m.shape for m in maps}
    if len(shapes) != 1:
        raise ValueError(f"the depth files in {folder} have different sizes {sorted(shapes)}; give one size")
    return np.stack(maps)


def _source_cameras(args, frames):
    from ..formats import detect_format, read_trajectory
    from ..pose import estimate_trajectory
    from .terminal import progress_printer

    n, h, w = frames.shape[:3]
    if args.source_trajectory:
        kw = {"image_size": (h, w)} if detect_format(Path(args.source_trajectory)) == "realestate10k" else {}
        return read_trajectory(args.source_trajectory, **kw)
    result = estimate_trajectory(frames, progress=progress_printer("estimating the source cameras"))
    if not result.complete:
        raise ValueError(f"SfM registered only {len(result.frame_indices)} of {n} frames; give the cameras with "
                         "--source-trajectory")
    return result.cameras


def _write_png(path: Path, image) -> None:
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(image)).save(path)


def run(args) -> int:
    import torch

    from ..formats import read_trajectory, write_trajectory
    from ..formats.text_files import atomic_path
    from ..interop import ati_tracks, tracks_from_json, tracks_to_json
    from ..rerender.pipeline import preview, rerender, source_depth, target_cameras
    from ..rerender.targets import PRESETS
    from ..rerender.tracks3d import check_tracks
    from ..video_io import read_frames

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} already exists and is not an empty folder; choose a new output folder")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"the parent folder {parent} does not exist; create it first")
    # the options a user can get wrong are checked before the video is read or its cameras estimated
    if args.preset is not None and args.preset not in PRESETS:
        raise ValueError(f"unknown --preset {args.preset!r}; choose one of {', '.join(PRESETS)}")
    for option, value in (("--depth", args.depth), ("--tracks", args.tracks), ("--trajectory", args.trajectory),
                          ("--source-trajectory", args.source_trajectory)):
        if value and not Path(value).exists():
            raise ValueError(f"{option} {value} does not exist; check the path")
    frames = read_frames(args.video)
    n, h, w = frames.shape[:3]
    source = _source_cameras(args, frames)
    source.validate("the source trajectory")
    if len(source) != n or tuple(source.image_size) != (h, w):
        raise ValueError(
            f"the source trajectory ({len(source)} frames, {source.image_size[1]}x{source.image_size[0]}) does not "
            f"belong to this video ({n} frames, {w}x{h}); give the cameras of this video"
        )
    tracks = None
    if args.tracks:
        tracks = tracks_from_json(Path(args.tracks).read_text())
        check_tracks(tracks, n, (h, w))
    trajectory = None
    if args.trajectory:
        trajectory = read_trajectory(args.trajectory)
        trajectory.check_frame_count(n, "the source video")
    depth_image = None
    if args.depth:
        form = "metric" if args.depth_form == "exact" else args.depth_form
        depth_image = read_depth_dir(args.depth, form, args.depth_scale)
    depth = source_depth(frames, source, depth_image=None if depth_image is None else torch.from_numpy(depth_image),
                         depth_form="metric" if args.depth_form == "exact" else args.depth_form,
                         exact=args.depth_form == "exact")
    target = target_cameras(source, depth, preset=args.preset, trajectory=trajectory,
                            mode="absolute" if args.absolute else "relative", angle_deg=args.angle,
                            dolly_fraction=args.dolly)
    result = rerender(frames, source, target, depth, tracks=tracks)
    with atomic_path(out, folder=True) as tmp:  # filled beside out, renamed into place when complete
        for sub in ("warped", "masks", "latent_masks"):
            (tmp / sub).mkdir()
        warped = np.clip(np.round(result.warp.image.numpy() * 255), 0, 255).astype(np.uint8)
        for k in range(n):
            _write_png(tmp / "warped" / f"{k:05d}.png", warped[k])
            _write_png(tmp / "masks" / f"{k:05d}.png", (~result.visible[k].numpy()).astype(np.uint8) * 255)
        for k, cell in enumerate(result.latent_visible.numpy()):
            _write_png(tmp / "latent_masks" / f"{k:05d}.png", (~cell).astype(np.uint8) * 255)
        _write_png(tmp / "preview.png", preview(frames, result))
        write_trajectory(result.target, tmp / "target_trajectory.json")
        report = {"frames": n, "size": [h, w], "coverage": result.coverage, "depth": result.depth.summary(),
                  "latent_frames": int(result.latent_visible.shape[0])}
        if result.tracks is not None:
            seen = result.tracks.target_tracks()
            (tmp / "tracks.json").write_text(tracks_to_json(seen))
            ati = ati_tracks(seen)
            (tmp / "tracks_ati.json").write_text(json.dumps(ati, separators=(",", ":")))
            report["target_track_visibility"] = float(result.tracks.target_visibility.mean())
            report["ati_tracks"] = len(ati)
        (tmp / "report.json").write_text(json.dumps(report, indent=1))
    print(f"re-rendered {n} frames {w}x{h}: coverage {result.coverage:.3f}; {result.depth.summary()}; wrote {out}")
    return 0
