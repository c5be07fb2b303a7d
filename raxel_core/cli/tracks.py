"""``raxel tracks``: 2D point tracks of a video (pyramidal Lucas-Kanade on a grid) as JSON."""
from __future__ import annotations

from .terminal import progress_printer

#: ``--format`` values: the per-frame ``{x, y}`` point lists (KJNodes, the pack's nodes), core ``TRACKS``, or
#: ATI's 121-sample ``{x, y}`` lists that core's ``WanTrackToVideo`` reads (:func:`raxel_core.interop.ati_tracks`).
FORMATS = ("xy", "tracks", "ati")


def register(sub) -> None:
    s = sub.add_parser("tracks", help="2D point tracks of a video (Lucas-Kanade on a grid) as JSON")
    s.add_argument("input", help="video file (.mp4, .avi, ...) or folder of .png/.jpg frames")
    s.add_argument("--out", required=True, help="JSON file to write")
    s.add_argument("--points", type=int, default=2000,
                   help="about how many grid points cover the frame (default: %(default)s)")
    s.add_argument("--no-reseed", action="store_true",
                   help="only track the points of the first frame (no new tracks where tracks end)")
    s.add_argument("--fb-threshold", type=float, default=1.0,
                   help="forward-backward distance in pixels above which a track ends (default: %(default)s)")
    s.add_argument("--format", choices=FORMATS, default="xy",
                   help="xy: a list per track of {\"x\", \"y\"} points, one per frame (\"visible\": false on "
                        "hidden ones); tracks: core TRACKS {\"track_path\": [T][N][2], \"track_visibility\": "
                        "[T][N]}; ati: 121 {\"x\", \"y\"} points per track spanning the clip, the layout core's "
                        "WanTrackToVideo reads (give it length = the clip's frames; tracks hidden in the first "
                        "frame left out, each cut where it hides; use with --no-reseed) (default: %(default)s)")
    s.add_argument("--max-tracks", type=int, default=None,
                   help="cap on the total number of tracks; re-seeding stops there (default: no cap)")
    s.add_argument("--max-frames", type=int, default=None, help="track at most this many frames")
    s.add_argument("--overlay", default=None, help="also write the tracks drawn on the frames to this video file")
    s.set_defaults(func=run)


def run(args) -> int:
    import json
    from pathlib import Path

    import numpy as np

    from ..formats.text_files import parent_folder, write_text_atomic
    from ..interop import tracks_to_ati_json, tracks_to_json
    from ..tracks import TrackerSettings, track_points
    from ..video_io import iter_video_frames, read_frame_dir, video_info

    source = Path(args.input)
    out = Path(args.out)
    parent_folder(out)  # refuse a missing folder before the work
    settings = TrackerSettings(num_points=args.points, reseed=not args.no_reseed, fb_threshold=args.fb_threshold,
                               max_tracks=args.max_tracks)
    if source.is_dir():
        frames = read_frame_dir(source, max_frames=args.max_frames)
        total = len(frames)
    elif source.is_file():
        info = video_info(source)
        total = info["num_frames"] if args.max_frames is None else min(info["num_frames"], args.max_frames)
        frames = iter_video_frames(source, max_frames=args.max_frames)
    else:
        raise ValueError(f"no video file or image folder at {source}; check the path")
    result = track_points(frames, settings, progress=progress_printer("tracking"), num_frames=total)
    tracks = result.tracks
    if args.format == "xy":
        text = tracks_to_json(tracks)
    elif args.format == "ati":
        text = tracks_to_ati_json(tracks)
        if text == "[]":
            raise ValueError("no track is visible in the first frame, so the ATI layout would be empty; check the "
                             "video, or use --format xy")
    else:
        text = json.dumps({"track_path": np.round(tracks.points.astype(np.float64), 3).tolist(),
                           "track_visibility": tracks.visibility.tolist()}, separators=(",", ":"))
    write_text_atomic(out, text)
    visible = float(tracks.visibility.mean()) * 100
    fb = result.fb_errors[np.isfinite(result.fb_errors)]
    fb_text = f"{float(np.median(fb)):.3f} px" if len(fb) else "n/a"
    print(f"{tracks.num_tracks} tracks x {tracks.num_frames} frames ({visible:.0f}% of points visible, median "
          f"forward-backward error {fb_text}); wrote {out}")
    for message in result.messages:
        print(f"  {message}")
    if args.overlay:
        from ..tracks.overlay import draw_tracks
        from ..video_io import read_frames, write_video

        fps = 24.0 if source.is_dir() else (info["fps"] or 24.0)
        drawn = draw_tracks(read_frames(source, max_frames=args.max_frames), tracks)
        write_video(args.overlay, drawn, fps)
        print(f"  wrote the overlay video {args.overlay}")
    return 0
