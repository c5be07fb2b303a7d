"""Your videos -> a training folder: cameras estimated by SfM as pseudo ground truth (:func:`prepare_dataset`).

The folder it writes has the RealEstate10K layout (``videos/<stem>.mp4`` + ``poses/<stem>.txt``)
that :class:`raxel_core.diffusion.datasets.RealEstate10KClips` reads.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..formats import write_trajectory
from ..formats.text_files import write_text_atomic
from ..pose import estimate_trajectory
from ..video_io import read_video, write_video
from .datasets import VIDEO_SUFFIXES


@dataclass
class PrepareReport:
    """What :func:`prepare_dataset` did: clip stems written, and ``{file name: reason}`` skipped."""

    written: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    out_dir: Path | None = None


def prepare_dataset(video_dir: str | Path, out_dir: str | Path, max_frames: int | None = None,
                    max_image_size: int | None = 640, progress: Callable[[int, int], None] | None = None,
                    should_stop: Callable[[], bool] | None = None, **estimate_options) -> PrepareReport:
    """Turn a folder of videos into the RealEstate10K layout with SfM poses as pseudo ground truth.

    For each video file in ``video_dir`` (suffixes :data:`VIDEO_SUFFIXES`, sorted): decode it,
    estimate its cameras with :func:`raxel_core.pose.estimate_trajectory` (pycolmap),
    and when every frame is registered write ``out_dir/videos/<stem>.mp4`` (the decoded frames
    re-encoded with H.264 so that frame k of the file is pose line k + 1) and
    ``out_dir/poses/<stem>.txt`` (RealEstate10K, intrinsics normalised by the frame's own size).
    A clip that fails (unreadable, too few frames, not every frame registered) is skipped and
    named with the reason in the report and in ``out_dir/prepare_report.json``.

    Args:
        video_dir: folder of videos.
        out_dir: output folder (created).
        max_frames: use at most this many frames of each video (from the start).
        max_image_size: feature extraction on frames downscaled to this longer side (poses at
            full size); ``None``: full size.
        progress: ``progress(done, total)`` after each video.
        should_stop: polled between videos; ``InterruptedError`` when it returns True.
        **estimate_options: passed to ``estimate_trajectory`` (``focal``, ``mapper``, ...).
    Returns:
        :class:`PrepareReport`.
    Raises:
        ValueError: ``video_dir`` missing or without videos.
    """
    video_dir, out_dir = Path(video_dir), Path(out_dir)
    if not video_dir.is_dir():
        raise ValueError(f"video folder {video_dir} does not exist")
    videos = sorted(p for p in video_dir.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise ValueError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) in {video_dir}")
    (out_dir / "videos").mkdir(parents=True, exist_ok=True)
    (out_dir / "poses").mkdir(parents=True, exist_ok=True)
    report = PrepareReport(out_dir=out_dir)
    for i, path in enumerate(videos):
        if should_stop is not None and should_stop():
            raise InterruptedError("dataset preparation stopped")
        try:
            frames, fps = read_video(path, max_frames=max_frames)
            h, w = frames.shape[1] // 2 * 2, frames.shape[2] // 2 * 2   # H.264 needs even sizes
            frames = np.ascontiguousarray(frames[:, :h, :w])              # right / bottom crop: K unchanged
            estimate = estimate_trajectory(frames, fps=fps, max_image_size=max_image_size, **estimate_options)
            if not estimate.complete:
                raise ValueError(f"frames {estimate.unregistered} got no pose ({estimate.method}); "
                                 + " ".join(estimate.messages[-2:]))
            if path.stem in report.written:
                raise ValueError(f"another video with the stem {path.stem!r} was already written")
            write_video(out_dir / "videos" / f"{path.stem}.mp4", frames, fps or 30.0)
            write_trajectory(estimate.cameras, out_dir / "poses" / f"{path.stem}.txt", format="realestate10k")
            report.written.append(path.stem)
        except (ValueError, RuntimeError) as err:
            report.skipped[path.name] = str(err)
        if progress is not None:
            progress(i + 1, len(videos))
    write_text_atomic(out_dir / "prepare_report.json",
                      json.dumps({"written": report.written, "skipped": report.skipped}, indent=2) + "\n")
    return report
