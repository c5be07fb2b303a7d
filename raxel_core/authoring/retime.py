"""Retiming a camera path for a generation: another frame count, another frame rate.

Artists take the camera move of a video (e.g. 97 frames at 30 fps, estimated by
:mod:`raxel_core.pose`) and reuse it for a model with its own frame count and rate (Wan 2.1:
``4k + 1`` frames at 16 fps). :func:`retime` resamples the path (rotations by SLERP, camera
centres by a natural cubic spline, focal length ``log`` linear: :func:`.trajectory_ops.sample_at`)
and optionally smooths, re-centres and rescales it.

Two timings:

* **fit** (no frame rates given): the whole move spread over the target frames
  (:func:`.trajectory_ops.resample`); the speed changes with the frame count.
* **keep speed** (``fps_in`` and ``fps_out``): target frame ``j`` shows the source at time
  ``j / fps_out`` seconds, i.e. source frame ``j * fps_in / fps_out``, so the camera moves at the
  speed it had in the video; the target covers ``(M - 1) / fps_out`` seconds of it. A source too
  short for that is an error naming both durations (no silent hold of the last pose).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..cameras import Cameras
from .trajectory_ops import resample, sample_at, smooth
from .trajectory_presets import is_whole_number

#: Frame-count rules: ``"exact"`` uses the count given; ``"nearest 4k+1"`` the nearest count of
#: the form ``4k + 1`` (Wan 2.1 / 2.2 latents pack 4 frames after the first); ``"source"`` the
#: source's own count (then, with frame rates, the count that covers the source's duration).
FRAME_RULES = ("exact", "nearest 4k+1", "source")


def nearest_4k_plus_1(frames: float) -> int:
    """The whole number ``4k + 1 >= 1`` nearest to ``frames`` (ties go up: 47 -> 49, 3 -> 5)."""
    if not (isinstance(frames, (int, float, np.integer, np.floating)) and math.isfinite(frames)):
        raise ValueError(f"frame count must be a finite number; got {frames!r}")
    k = math.floor((float(frames) - 1) / 4 + 0.5)
    return 4 * max(k, 0) + 1


def _positive_rate(value, name: str) -> float | None:
    if value is None or value == 0:
        return None
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive frame rate in frames per second (0 = auto); got {value!r}")
    return value


def retime(
    cameras: Cameras,
    num_frames: int | None = None,
    fps_in: float | None = None,
    fps_out: float | None = None,
    frame_rule: str = "exact",
    smoothing: float = 0.0,
    recentre: bool = False,
    scale: float = 1.0,
) -> Cameras:
    """The camera path of ``cameras`` retimed to another frame count and / or frame rate.

    Args:
        cameras: the source path, ``N >= 1`` frames.
        num_frames: target frame count ``M`` (``None`` or 0 = auto: the source's count, or with
            both frame rates the count that covers the source's duration). Adjusted by
            ``frame_rule``.
        fps_in: the source's frame rate (``None`` / 0 = auto: ``cameras.fps``).
        fps_out: the target's frame rate (``None`` / 0 = no speed matching: the whole move is
            fitted to ``M`` frames). With both rates known the camera keeps its speed.
        frame_rule: one of :data:`FRAME_RULES`.
        smoothing: Gaussian sigma in source frames applied before resampling
            (:func:`.trajectory_ops.smooth`; 0 = none). Estimated poses jitter; 1-2 removes it.
        recentre: express the result in its first camera's frame (first pose ``R = I, t = 0``),
            as camera-control models expect.
        scale: multiply translations (camera centres about the world origin) by this factor.

    Returns:
        validated :class:`Cameras` of ``M`` frames, float64; ``fps`` = ``fps_out`` when given,
        else the fitted rate (duration kept) or ``None`` when the source has none.

    Raises:
        ValueError: an unknown ``frame_rule``; a target count < 1; a rate that is not positive;
            ``fps_out`` without a source rate; in keep-speed timing a source shorter than the
            target (the message gives both durations and the longest target that fits).
    """
    if frame_rule not in FRAME_RULES:
        raise ValueError(f"unknown frame rule {frame_rule!r}; choose one of {', '.join(FRAME_RULES)}")
    scale = float(scale)
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale multiplies the camera translations and must be > 0; got {scale!r}")
    fps_out = _positive_rate(fps_out, "fps_out")
    fps_in = _positive_rate(fps_in, "fps_in") or cameras.fps
    if fps_out is not None and fps_in is None:
        raise ValueError(
            "fps_out is set but the source path has no frame rate; give fps_in (the video's frame rate), "
            "or set fps_out to 0 to fit the whole move to the target frames"
        )
    n = len(cameras)
    keep_speed = fps_out is not None
    auto = num_frames in (None, 0) or frame_rule == "source"
    if auto:
        # auto: the source's count; with both rates, the count covering the source's duration
        target = (n - 1) * fps_out / fps_in + 1 if keep_speed else n
        target = math.floor(target + 1e-9)
    else:
        if not is_whole_number(num_frames, 1):
            raise ValueError(f"target frame count must be a whole number >= 1 (0 = auto); got {num_frames!r}")
        target = int(num_frames)
    if frame_rule == "nearest 4k+1":
        rounded = nearest_4k_plus_1(target)
        if auto and keep_speed and rounded > target:  # auto never asks for more than the source holds
            rounded = max(rounded - 4, 1)
        target = rounded
    source = smooth(cameras, smoothing) if smoothing else cameras
    if keep_speed:
        times = np.arange(target, dtype=np.float64) * fps_in / fps_out
        if times[-1] > n - 1 + 1e-9:
            longest = math.floor((n - 1) * fps_out / fps_in + 1e-9) + 1
            if frame_rule == "nearest 4k+1":  # the longest the rule can give
                longest = 4 * ((longest - 1) // 4) + 1
            raise ValueError(
                f"the source path lasts {(n - 1) / fps_in:.2f} s ({n} frames at {fps_in:g} fps) but {target} frames "
                f"at {fps_out:g} fps last {(target - 1) / fps_out:.2f} s; use at most {longest} frames, a higher "
                "fps_out, or fps_out 0 to fit the whole move to the frames"
            )
        out = replace(sample_at(source, times), fps=fps_out)
    else:
        out = resample(source, target)
    if recentre:
        out = out.relative_to(0)
    if scale != 1.0:
        out = out.scaled(scale)
    return out.validate("retimed trajectory")
