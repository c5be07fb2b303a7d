"""A moving foreground for a rendered clip: a textured rectangle pasted over the frames, moving across
them on its own path (:func:`paste_moving_sprite`), with its exact masks.

It stands for the people, cars and animals of real footage: a large textured thing whose image motion
has nothing to do with the camera's. Its features match well from frame to frame (same texture, a 2D
translation), so structure from motion that does not ignore it fits the sprite's motion instead of
the room's; with its mask (:mod:`raxel_core.pose.masks`) only the room is left. The room's cameras are
unchanged by the paste, so the rendered clip's exact cameras are the ground truth of the result.
"""
from __future__ import annotations

import cv2
import numpy as np


def paste_moving_sprite(frames: np.ndarray, coverage: float = 0.35, seed: int = 0,
                        texture_cell: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Paste a textured rectangle that moves across ``frames``.

    The rectangle has aspect 4:3 (width : height) and an area of ``coverage`` of the frame (its height
    capped at the frame's); its texture is colour value noise (uniform random RGB on a grid of
    ``texture_cell`` pixels, bicubic-interpolated: many SIFT features). Over the clip its left edge
    moves linearly from ``-0.1 w`` to ``W - 0.8 w`` (left to right, partly out of the frame at the
    ends) while its top bobs by ``0.15 H sin(2 pi a)`` (``a`` from 0 to 1 over the clip).

    Args:
        frames: ``(N, H, W, 3)`` uint8 RGB, ``N >= 2``.
        coverage: area of the rectangle as a fraction of the frame, in (0, 0.9].
        seed: texture seed (``numpy.random.default_rng``).
        texture_cell: texture grid spacing in pixels (>= 1).

    Returns:
        ``(frames (N, H, W, 3) uint8, masks (N, H, W) float32)``: a copy of the frames with the sprite,
        and the exact masks (1 where the sprite covers the pixel, as ComfyUI's ``MASK``).

    Raises:
        ValueError: bad frames or ``coverage`` outside (0, 0.9].
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or frames.shape[0] < 2:
        raise ValueError(f"frames must be (N >= 2, H, W, 3) uint8; got {frames.dtype} {frames.shape}")
    if not 0 < coverage <= 0.9:
        raise ValueError(f"coverage must be in (0, 0.9]; got {coverage}")
    n, H, W, _ = frames.shape
    area = coverage * H * W
    h = min(H, max(1, int(round(np.sqrt(area * 0.75)))))
    w = min(W, max(1, int(round(area / h))))
    rng = np.random.default_rng(seed)
    cell = max(1, int(texture_cell))
    grid = rng.integers(0, 256, size=(h // cell + 2, w // cell + 2, 3)).astype(np.float32)
    texture = np.clip(cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)
    out = frames.copy()
    masks = np.zeros((n, H, W), np.float32)
    for k in range(n):
        a = k / (n - 1)
        x0 = int(round(-0.1 * w + a * (W - 0.7 * w)))
        y0 = int(round((H - h) / 2 + 0.15 * H * np.sin(2 * np.pi * a)))
        xs, xe, ys, ye = max(0, x0), min(W, x0 + w), max(0, y0), min(H, y0 + h)
        if xe > xs and ye > ys:
            out[k, ys:ye, xs:xe] = texture[ys - y0:ye - y0, xs - x0:xe - x0]
            masks[k, ys:ye, xs:xe] = 1.0
    return out, masks
