"""The pixel-centre convention of ``raxel_core``.

Pixel ``(x, y)`` (column, row, integers from 0 at the top-left) covers ``[x, x + 1) x [y, y + 1)``
in the pixel coordinates of :class:`~raxel_core.cameras.Cameras`, so its centre is
``(u, v) = (x + 0.5, y + 0.5)`` and the image centre of a ``W x H`` image is ``(W / 2, H / 2)``
(COLMAP's convention; OpenCV's puts pixel centres at integers).
"""
from __future__ import annotations

import torch


def pixel_centers(size: tuple[int, int], dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates ``(u, v)`` of an ``(h, w)`` grid, each ``(h * w,)``, row-major:
    ``u = x + 0.5``, ``v = y + 0.5`` in pixels from the top-left corner (the ``Cameras`` convention,
    image centre ``(w / 2, h / 2)``); ``dtype`` float64 unless given."""
    h, w = size
    v, u = torch.meshgrid(
        torch.arange(h, dtype=dtype) + 0.5, torch.arange(w, dtype=dtype) + 0.5, indexing="ij"
    )
    return u.reshape(-1), v.reshape(-1)
