"""Tracks against a video: the checks that tracks brought from another node fit the frames
(:func:`check_tracks_fit_video`) and the overlay picture of the tracks on the frames
(:func:`draw_tracks`, OpenCV drawing)."""
from __future__ import annotations

import cv2
import numpy as np

from ..interop import Tracks2D

#: A visible point may lie this many pixels outside the frame (trackers report points on the border
#: pixels' outer edge, and sub-pixel refinement can step just past it).
BORDER_MARGIN_PX = 1.0


def check_tracks_fit_video(tracks: Tracks2D, num_frames: int, image_size) -> None:
    """Check that ``tracks`` belong to a video of ``num_frames`` frames of ``image_size``.

    Args:
        tracks: the tracks (pixels, this core's convention: origin at the top-left corner).
        num_frames: frames of the video.
        image_size: ``(H, W)`` pixels.

    Raises:
        ValueError: a frame count that differs, no visible point at all, or a visible point more
            than :data:`BORDER_MARGIN_PX` outside the frame (the message names the track and frame
            and says how to fix it).
    """
    h, w = (int(v) for v in image_size)
    if tracks.num_frames != num_frames:
        raise ValueError(
            f"the tracks have {tracks.num_frames} frames but the video has {num_frames}; track the same clip, or "
            "trim / resample one of them to the other's length"
        )
    if not tracks.visibility.any():
        raise ValueError(
            f"all {tracks.num_tracks} tracks are invisible in every frame, so there is nothing to use; check the "
            "tracker's visibility output (a threshold too strict?) or mark the points visible"
        )
    x, y = tracks.points[..., 0], tracks.points[..., 1]
    m = BORDER_MARGIN_PX
    outside = tracks.visibility & ((x < -m) | (x > w + m) | (y < -m) | (y > h + m))
    if outside.any():
        frame, track = (int(v) for v in np.argwhere(outside)[0])
        px, py = (float(v) for v in tracks.points[frame, track])
        raise ValueError(
            f"track {track} is visible at ({px:.1f}, {py:.1f}) in frame {frame}, outside the {w}x{h} frame "
            f"({outside.sum()} such points); the tracks were made for another frame size (resize them: x * "
            f"{w} / their width, y * {h} / their height) or mark points outside the frame invisible"
        )


def track_colours(points0: np.ndarray, image_size) -> np.ndarray:
    """``(N, 3)`` uint8 RGB colour of each track from its position ``(x, y)`` in its first frame: hue
    by angle around the frame centre, full saturation, so neighbouring tracks share a colour and a
    swap between far tracks shows."""
    h, w = image_size
    angle = np.arctan2(points0[:, 1] - h / 2, points0[:, 0] - w / 2)
    hue = ((angle + np.pi) / (2 * np.pi) * 179).astype(np.uint8)
    hsv = np.stack([hue, np.full_like(hue, 255), np.full_like(hue, 255)], axis=1)[None]
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0]


def draw_tracks(frames, tracks: Tracks2D, trail: int = 8, max_tracks: int = 1000, radius: int = 2) -> np.ndarray:
    """The frames with the tracks drawn on them: per visible point a dot and a trail through its
    positions over the previous ``trail`` frames (visible ones only).

    Args:
        frames: ``uint8 (T, H, W, 3)`` RGB (the tracks' frame count).
        tracks: the tracks (this core's pixel convention).
        trail: trail length in frames (0: dots only).
        max_tracks: draw at most this many tracks, evenly spaced in track order.
        radius: dot radius in pixels.

    Returns:
        ``uint8 (T, H, W, 3)`` RGB, a new array.

    Raises:
        ValueError: frames of another count than the tracks.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[0] != tracks.num_frames:
        raise ValueError(f"frames {frames.shape} do not match tracks of {tracks.num_frames} frames")
    h, w = frames.shape[1:3]
    keep = np.linspace(0, tracks.num_tracks - 1, min(max_tracks, tracks.num_tracks)).round().astype(int)
    keep = np.unique(keep)
    points = tracks.points[:, keep] - 0.5  # OpenCV draws with integer pixel centres
    visible = tracks.visibility[:, keep]
    first = visible.argmax(axis=0)
    colours = track_colours(points[first, np.arange(len(keep))], (h, w)).astype(int)
    shift = 4  # sub-pixel drawing: coordinates in 1/16 pixel
    scaled = np.round(points * (1 << shift)).astype(np.int32)
    out = frames.copy()
    for k in range(tracks.num_frames):
        canvas = np.ascontiguousarray(out[k])
        for n in np.flatnonzero(visible[k]):
            colour = tuple(int(c) for c in colours[n])
            start = k
            while start > max(0, k - trail) and visible[start - 1, n]:
                start -= 1
            if start < k:
                cv2.polylines(canvas, [scaled[start:k + 1, n]], False, colour, 1, cv2.LINE_AA, shift)
            cv2.circle(canvas, tuple(int(v) for v in scaled[k, n]), radius << shift, colour, -1, cv2.LINE_AA, shift)
        out[k] = canvas
    return out
