"""2D point tracks from video: pyramidal Lucas-Kanade on a grid, re-seeded where tracks die, with a
forward-backward check for visibility.

Method
------
* **Lucas-Kanade** optical flow in an image pyramid (Bouguet, "Pyramidal implementation of the
  Lucas Kanade feature tracker", Intel 2000), OpenCV's ``cv2.calcOpticalFlowPyrLK``; each frame's
  pyramid is built once (``cv2.buildOpticalFlowPyramid``) and used by the forward and the backward
  pass.
* **Seeds on a grid**: the frame is cut into square cells of ``spacing`` pixels (``spacing`` chosen
  so that the grid has about ``num_points`` cells); each cell is seeded at its most trackable pixel,
  the maximum of the smaller eigenvalue of the structure tensor (Shi and Tomasi, "Good features to
  track", CVPR 1994; ``cv2.cornerMinEigenVal``), when that value is at least ``min_eigenvalue`` (a
  cell of flat colour gets no seed: LK cannot follow it).
* **Forward-backward check** (Kalal, Mikolajczyk and Matas, "Forward-backward error: automatic
  detection of tracking failures", ICPR 2010): a point tracked from frame k to k+1 and back must
  land within ``fb_threshold`` pixels of where it started; else, or when it leaves the frame or LK
  reports failure, the track **ends** (invisible from k+1 on; its position is held at the last
  visible one).
* **Re-seeding**: after every step, cells that hold no live track get a new track (seeded as
  above), so the frame stays covered while the camera moves. A new track is invisible before its
  seed frame (its position there is held at the seed position).

Coordinates: pixels ``(x, y)`` with the origin at the image's top-left **corner** (this core's
``K`` convention: the centre of pixel ``(row i, col j)`` is ``(j + 0.5, i + 0.5)``); OpenCV's
integer pixel centres are shifted by ``+0.5`` on the way out. Seeds lie on pixel centres.

Frames are consumed one at a time (any iterable: a decoded stream, a list, an array), so memory is
two image pyramids plus the tracks, whatever the video's length.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..interop import Tracks2D

#: OpenCV's pixel centres are integers; this core's are at ``+0.5`` (module docstring).
PIXEL_CENTRE_OFFSET = 0.5


@dataclass(frozen=True)
class TrackerSettings:
    """Parameters of :func:`track_points`.

    Attributes:
        num_points: about how many grid cells (so live tracks) cover the frame (>= 1).
        window_size: LK window edge in pixels at each pyramid level (odd, >= 5).
        pyramid_levels: pyramid levels above the full image (0 = no pyramid).
        fb_threshold: forward-backward distance in pixels above which a track ends (> 0).
        min_eigenvalue: smallest structure-tensor eigenvalue (``cv2.cornerMinEigenVal`` on a
            [0, 1] grey image, 5x5 block) for a seed; cells below get no seed.
        reseed: seed new tracks in empty cells after every frame.
        max_tracks: cap on the total number of tracks (``None``: no cap); re-seeding stops there.
    """

    num_points: int = 2000
    window_size: int = 15
    pyramid_levels: int = 3
    fb_threshold: float = 1.0
    min_eigenvalue: float = 1e-3
    reseed: bool = True
    max_tracks: int | None = None

    def __post_init__(self):
        if int(self.num_points) != self.num_points or self.num_points < 1:
            raise ValueError(f"num_points must be a whole number >= 1; got {self.num_points}")
        if int(self.window_size) != self.window_size or self.window_size < 5 or self.window_size % 2 == 0:
            raise ValueError(f"window_size must be an odd whole number >= 5 pixels; got {self.window_size}")
        if int(self.pyramid_levels) != self.pyramid_levels or not 0 <= self.pyramid_levels <= 8:
            raise ValueError(f"pyramid_levels must be a whole number in 0..8; got {self.pyramid_levels}")
        if not (math.isfinite(self.fb_threshold) and self.fb_threshold > 0):
            raise ValueError(f"fb_threshold must be a positive number of pixels; got {self.fb_threshold}")
        if not (math.isfinite(self.min_eigenvalue) and self.min_eigenvalue >= 0):
            raise ValueError(f"min_eigenvalue must be >= 0; got {self.min_eigenvalue}")
        if self.max_tracks is not None and (int(self.max_tracks) != self.max_tracks or self.max_tracks < 1):
            raise ValueError(f"max_tracks must be None or a whole number >= 1; got {self.max_tracks}")


@dataclass(frozen=True)
class PointTracks:
    """Result of :func:`track_points`.

    Attributes:
        tracks: :class:`~raxel_core.interop.Tracks2D`, ``points (T, N, 2)`` float32 pixels (x, y),
            ``visibility (T, N)`` bool (visible from the seed frame until the track ends).
        seed_frames: ``(N,)`` int64 frame where each track was seeded.
        image_size: ``(H, W)`` of the frames.
        fb_errors: ``(T - 1,)`` float64 median forward-backward distance in pixels of the tracks
            followed from frame k to k + 1 (those LK followed both ways; NaN where none).
        spacing: grid cell edge in pixels.
        messages: plain notes (e.g. cells without texture).
    """

    tracks: Tracks2D
    seed_frames: np.ndarray
    image_size: tuple[int, int]
    fb_errors: np.ndarray
    spacing: int
    messages: list = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        return self.tracks.num_frames

    @property
    def num_tracks(self) -> int:
        return self.tracks.num_tracks


def grid_spacing(image_size, num_points: int) -> int:
    """Cell edge in whole pixels so that an ``H x W`` frame holds about ``num_points`` square cells:
    ``round(sqrt(H * W / num_points))``, at least 2."""
    h, w = image_size
    return max(2, int(round(math.sqrt(h * w / max(1, int(num_points))))))


def to_grey(frame: np.ndarray, what: str = "frame") -> np.ndarray:
    """``uint8 (H, W, 3)`` RGB (or ``(H, W)`` grey) -> ``uint8 (H, W)`` grey (``cv2.cvtColor``).

    Raises:
        ValueError: not a uint8 ``(H, W, 3)`` / ``(H, W)`` array.
    """
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] != 3):
        raise ValueError(f"{what} must be a uint8 RGB image (H, W, 3); got {frame.dtype} {frame.shape}")
    if frame.ndim == 2:
        return np.ascontiguousarray(frame)
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)


def cell_seeds(grey: np.ndarray, spacing: int, min_eigenvalue: float) -> tuple[np.ndarray, np.ndarray]:
    """The most trackable pixel of every ``spacing x spacing`` cell (Shi-Tomasi score).

    Args:
        grey: ``uint8 (H, W)``.
        spacing: cell edge in pixels; cells are laid from the top-left corner, a partial last row /
            column of cells is dropped.
        min_eigenvalue: cells whose best score is below get no seed.

    Returns:
        ``(points, cells)``: ``(M, 2)`` float32 OpenCV pixel coordinates (x, y) of the seeds (integer
        pixel centres) and ``(M,)`` int64 cell indices ``row * cells_per_row + col``.
    """
    h, w = grey.shape
    gh, gw = h // spacing, w // spacing
    if gh == 0 or gw == 0:
        return np.zeros((0, 2), np.float32), np.zeros(0, np.int64)
    score = cv2.cornerMinEigenVal(grey.astype(np.float32) / 255.0, blockSize=5, ksize=3)
    blocks = score[:gh * spacing, :gw * spacing].reshape(gh, spacing, gw, spacing).transpose(0, 2, 1, 3)
    blocks = blocks.reshape(gh * gw, spacing * spacing)
    best = blocks.argmax(axis=1)
    keep = blocks[np.arange(gh * gw), best] >= min_eigenvalue
    cells = np.flatnonzero(keep)
    dy, dx = np.divmod(best[cells], spacing)
    rows, cols = np.divmod(cells, gw)
    points = np.stack([cols * spacing + dx, rows * spacing + dy], axis=1).astype(np.float32)
    return points, cells.astype(np.int64)


def _cells_of(points: np.ndarray, spacing: int, grid_shape: tuple[int, int]) -> np.ndarray:
    gh, gw = grid_shape
    col = np.floor(points[:, 0] / spacing).astype(np.int64)
    row = np.floor(points[:, 1] / spacing).astype(np.int64)
    inside = (col >= 0) & (col < gw) & (row >= 0) & (row < gh)
    return (row * gw + col)[inside]


def _lk(src: np.ndarray, dst: np.ndarray, points: np.ndarray, settings: TrackerSettings):
    win = (settings.window_size, settings.window_size)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 0.01)
    moved, status, _ = cv2.calcOpticalFlowPyrLK(
        src, dst, points.reshape(-1, 1, 2), None, winSize=win, maxLevel=settings.pyramid_levels,
        criteria=criteria)
    return moved.reshape(-1, 2), status.reshape(-1).astype(bool)


def track_points(frames: Iterable[np.ndarray], settings: TrackerSettings | None = None,
                 progress: Callable[[int, int | None], None] | None = None,
                 should_stop: Callable[[], bool] | None = None, num_frames: int | None = None,
                 initial_points=None) -> PointTracks:
    """Track points through a video (module docstring for the method).

    Args:
        frames: the frames in order, each ``uint8 (H, W, 3)`` RGB (an ``(T, H, W, 3)`` array, a
            list, or a generator such as :func:`raxel_core.video_io.iter_video_frames`); at least 2.
        settings: :class:`TrackerSettings` (default: its defaults).
        progress: called as ``progress(frames_done, num_frames)`` after every frame.
        should_stop: polled after every frame; when it returns true, ``InterruptedError`` is raised.
        num_frames: the frame count, passed to ``progress`` (``len(frames)`` when it has one).
        initial_points: ``(M, 2)`` pixels (x, y, this core's convention) to track from frame 0
            instead of the grid seeds (e.g. query points, or the ends of a forward pass for a
            round trip); points outside the frame are refused.

    Returns:
        :class:`PointTracks`.

    Raises:
        ValueError: fewer than 2 frames, frames of different sizes or not uint8 RGB, a frame too
            small for one grid cell, or no trackable texture in the first frame.
        InterruptedError: ``should_stop`` returned true.
    """
    settings = settings or TrackerSettings()
    if num_frames is None and hasattr(frames, "__len__"):
        num_frames = len(frames)
    iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        raise ValueError("the video has no frames; point tracks need at least 2 frames")
    grey = to_grey(first, "frame 0")
    h, w = grey.shape
    spacing = grid_spacing((h, w), settings.num_points)
    grid_shape = (h // spacing, w // spacing)
    if 0 in grid_shape:
        raise ValueError(f"frames of {w}x{h} pixels are smaller than one grid cell ({spacing} px); use fewer "
                         "points or larger frames")
    if initial_points is None:
        seeds, _ = cell_seeds(grey, spacing, settings.min_eigenvalue)
    else:
        seeds = _check_initial_points(initial_points, (h, w))
    if settings.max_tracks is not None:
        seeds = seeds[:settings.max_tracks]
    if len(seeds) == 0:
        raise ValueError("frame 0 has no trackable texture (a flat image?); point tracks need a textured video")
    # live tracks: their OpenCV positions; history: per frame the positions / visibility of all tracks so far
    positions = seeds.copy()
    alive = np.ones(len(seeds), dtype=bool)
    seed_frames = [np.zeros(len(seeds), dtype=np.int64)]
    seed_points = [seeds.copy()]
    history_points = [positions.copy()]
    history_visible = [alive.copy()]
    fb_errors = []
    previous = grey
    k = 0
    if progress is not None:
        progress(1, num_frames)
    for frame in iterator:
        k += 1
        grey = to_grey(frame, f"frame {k}")
        if grey.shape != (h, w):
            raise ValueError(f"frame {k} is {grey.shape[1]}x{grey.shape[0]} but frame 0 is {w}x{h} (W x H); "
                             "all frames of a video must have one size")
        current = grey
        live = np.flatnonzero(alive)
        if len(live):
            start = positions[live]
            forward, ok_forward = _lk(previous, current, start, settings)
            backward, ok_backward = _lk(current, previous, forward, settings)
            distance = np.linalg.norm(backward - start, axis=1)
            both = ok_forward & ok_backward
            fb_errors.append(float(np.median(distance[both])) if both.any() else math.nan)
            inside = ((forward[:, 0] >= 0) & (forward[:, 0] <= w - 1)
                      & (forward[:, 1] >= 0) & (forward[:, 1] <= h - 1))
            keep = both & inside & (distance <= settings.fb_threshold)
            positions[live[keep]] = forward[keep]
            alive[live[~keep]] = False
        else:
            fb_errors.append(math.nan)
        if settings.reseed:
            room = None if settings.max_tracks is None else settings.max_tracks - len(positions)
            new = _reseed(grey, positions[alive], spacing, grid_shape, settings.min_eigenvalue, room)
            if len(new):
                positions = np.concatenate([positions, new])
                alive = np.concatenate([alive, np.ones(len(new), dtype=bool)])
                seed_frames.append(np.full(len(new), k, dtype=np.int64))
                seed_points.append(new)
        history_points.append(positions.copy())
        history_visible.append(alive.copy())
        previous = current
        if progress is not None:
            progress(k + 1, num_frames)
        if should_stop is not None and should_stop():
            raise InterruptedError(f"point tracking stopped by the user after {k + 1} frames")
    if k == 0:
        raise ValueError("the video has 1 frame; point tracks need at least 2 frames (a clip, not a still)")
    tracks = _assemble(history_points, history_visible, np.concatenate(seed_points))
    messages = []
    covered = len(seed_points[0])
    if covered < grid_shape[0] * grid_shape[1]:
        messages.append(f"{grid_shape[0] * grid_shape[1] - covered} of {grid_shape[0] * grid_shape[1]} grid "
                        "cells of frame 0 had too little texture for a track")
    return PointTracks(tracks, np.concatenate(seed_frames), (h, w), np.asarray(fb_errors, dtype=np.float64),
                       spacing, messages)


def _check_initial_points(points, image_size) -> np.ndarray:
    h, w = image_size
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise ValueError(f"initial_points must have shape (M, 2) (x, y pixels) with M >= 1; got {points.shape}")
    bad = ~(np.isfinite(points).all(axis=1) & (points[:, 0] >= 0) & (points[:, 0] <= w)
            & (points[:, 1] >= 0) & (points[:, 1] <= h))
    if bad.any():
        m = int(np.flatnonzero(bad)[0])
        raise ValueError(f"initial point {m} at {points[m].tolist()} is outside the {w}x{h} frame; give points "
                         f"with 0 <= x <= {w} and 0 <= y <= {h}")
    return (points - PIXEL_CENTRE_OFFSET).astype(np.float32)


def _reseed(grey, live_positions, spacing, grid_shape, min_eigenvalue, room):
    if room is not None and room <= 0:
        return np.zeros((0, 2), np.float32)
    occupied = np.zeros(grid_shape[0] * grid_shape[1], dtype=bool)
    occupied[_cells_of(live_positions, spacing, grid_shape)] = True
    if occupied.all():
        return np.zeros((0, 2), np.float32)
    seeds, cells = cell_seeds(grey, spacing, min_eigenvalue)
    new = seeds[~occupied[cells]]
    return new if room is None else new[:room]


def _assemble(history_points, history_visible, seeds) -> Tracks2D:
    t, n = len(history_points), len(seeds)
    points = np.empty((t, n, 2), dtype=np.float32)
    visible = np.zeros((t, n), dtype=bool)
    for k, (p, v) in enumerate(zip(history_points, history_visible, strict=True)):
        m = len(p)
        points[k, :m] = p
        points[k, m:] = seeds[m:]  # not yet seeded: held at the seed position, invisible
        visible[k, :m] = v
    return Tracks2D(points + PIXEL_CENTRE_OFFSET, visible)
