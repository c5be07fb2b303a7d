"""LLFF ``poses_bounds.npy`` (read only).

Convention (Mildenhall et al., "Local Light Field Fusion", SIGGRAPH 2019, ``imgs2poses.py``; also
the NeRF data loader):

* An ``(N, 17)`` float array. ``P = a[:, :15].reshape(N, 3, 5)``: columns 0-2 are the
  camera-to-world rotation with the camera axes in **[down, right, back]** order, column 3 the
  camera centre, column 4 ``[H, W, f]`` at the full resolution of the original photos. The last
  two numbers of each row are the near / far depth bounds of that view.
* OpenCV camera-to-world (x right, y down, z forward) is therefore
  ``[P[:, :, 1], P[:, :, 0], -P[:, :, 2], P[:, :, 3]]``.
* Rows are in the order of the sorted image file names. The principal point is the image centre.
* Downscaled image folders (``images_4``, ``images_8``) scale ``H, W, f`` by the factor.

``metadata["llff"]`` keeps the bounds (``[[near, far], ...]``), the full-resolution size and the
downscale factor; ``metadata["image_names"]`` the sorted image names when an image folder is found.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..cameras import Cameras

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".JPG", ".PNG", ".JPEG")


def read_llff(path, image_size=None, downscale=None) -> Cameras:
    """Read LLFF ``poses_bounds.npy`` into validated :class:`Cameras` (``np.load`` with
    ``allow_pickle=False``).

    Args:
        path: the ``.npy`` file, or the scene folder holding ``poses_bounds.npy``.
        image_size: ``(H, W)`` pixels of the images you use; ``fx = f * W / W_full``,
            ``fy = f * H / H_full``.
        downscale: integer-like factor of the image folder (8 for ``images_8``): ``image_size =
            round(H_full / d), round(W_full / d)`` and ``f / d``. With neither, full resolution.
            With both, they must agree.

    Returns:
        ``Cameras`` (float64, OpenCV world-to-camera), ``K`` centred; ``metadata["image_names"]``
        from ``images_<d>/`` (or ``images/`` at full size) beside the file when that folder exists.

    Raises:
        ValueError: naming the file for a wrong shape, a pickled / unreadable array, inconsistent
            ``[H, W, f]`` across rows, ``image_size`` / ``downscale`` that disagree, an image folder
            whose count differs from the number of poses; naming the frame (row) for non-finite
            values or a non-rotation (via :meth:`Cameras.validate`).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "poses_bounds.npy"
    if not path.is_file():
        raise ValueError(f"LLFF file {path} does not exist; give poses_bounds.npy or its scene folder")
    name = path.name
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - a corrupt header or payload raises ValueError, EOFError,
        # OSError, SyntaxError, tokenize.TokenError ... (numpy parses the header as a Python literal)
        problem = " ".join(f"{type(exc).__name__}: {exc}".split())[:160]
        raise ValueError(
            f"{name}: not a plain numeric .npy array ({problem}); pickled files are never loaded"
        ) from None
    if not isinstance(data, np.ndarray) or data.dtype.kind not in "fiu":
        kind = data.dtype if isinstance(data, np.ndarray) else type(data).__name__
        raise ValueError(f"{name}: expected an (N, 17) array of numbers; got an array of {kind}")
    if data.ndim != 2 or data.shape[1] != 17 or data.shape[0] == 0:
        raise ValueError(
            f"{name}: expected an (N, 17) array (15 numbers of the 3x5 pose + near, far); got shape "
            f"{data.shape}"
        )
    data = data.astype(np.float64)
    P = data[:, :15].reshape(-1, 3, 5)
    hwf = P[:, :, 4]
    if not np.isfinite(hwf).all() or (hwf <= 0).any():
        k = int(np.nonzero(~(np.isfinite(hwf) & (hwf > 0)).all(axis=1))[0][0])
        raise ValueError(f"{name}: row {k} (frame {k}) has a non-positive or non-finite [H, W, f]; fix that row")
    if np.abs(hwf[:, :2] - hwf[:1, :2]).max() > 0:
        raise ValueError(f"{name}: rows give different image sizes [H, W]; one trajectory needs one size")
    full_h, full_w = float(hwf[0, 0]), float(hwf[0, 1])
    if min(full_h, full_w) < 1:
        raise ValueError(f"{name}: [H, W] = [{full_h:g}, {full_w:g}] is under one pixel; fix the file")

    if downscale is not None:
        d = float(downscale)
        if not d > 0:
            raise ValueError(f"{name}: downscale must be a positive factor; got {downscale!r}")
        size_d = (int(round(full_h / d)), int(round(full_w / d)))
        if image_size is not None and tuple(int(v) for v in image_size) != size_d:
            raise ValueError(
                f"{name}: image_size {tuple(image_size)} does not match downscale {downscale} of the "
                f"full size {int(full_h)}x{int(full_w)} (-> {size_d}); give one of them"
            )
        image_size = size_d
        sx = sy = 1.0 / d
    elif image_size is not None:
        image_size = tuple(int(v) for v in image_size)
        if len(image_size) != 2 or min(image_size) <= 0:
            raise ValueError(f"{name}: image_size must be (H, W) positive pixels; got {image_size}")
        sx, sy = image_size[1] / full_w, image_size[0] / full_h
        d = full_w / image_size[1]
    else:
        image_size = (int(round(full_h)), int(round(full_w)))
        sx = sy = d = 1.0

    if min(image_size) < 1:
        raise ValueError(f"{name}: downscale {downscale} of {int(full_h)}x{int(full_w)} leaves {image_size} pixels; "
                         "give a smaller factor")
    # OpenCV c2w = [right, down, forward] = [P1, P0, -P2] with centre P3
    c2w = np.stack([P[:, :, 1], P[:, :, 0], -P[:, :, 2], P[:, :, 3]], axis=2)
    f = hwf[:, 2]
    h, w = image_size
    K = Cameras.intrinsics_matrix(f * sx, f * sy, np.full_like(f, w / 2), np.full_like(f, h / 2))

    metadata = {
        "source_file": name,
        "llff": {
            "bounds": data[:, 15:17].tolist(),
            "full_image_size": [int(round(full_h)), int(round(full_w))],
            "downscale": d,
        },
    }
    folder = path.parent / ("images" if d == 1.0 else f"images_{int(round(d))}")
    if folder.is_dir():
        names = sorted(p.name for p in folder.iterdir() if p.suffix in _IMAGE_SUFFIXES)
        if len(names) != len(data):
            raise ValueError(
                f"{name} holds {len(data)} poses but {folder.name}/ holds {len(names)} images; the "
                "poses and the images must match one to one (sorted by name)"
            )
        metadata["image_names"] = names
    # R and t from the c2w: validate first that the rotation block is a rotation (named by row)
    R_c2w = torch.from_numpy(np.ascontiguousarray(c2w[:, :, :3]))
    probe = Cameras(K=K, R=R_c2w, t=torch.zeros(len(data), 3), image_size=image_size)
    probe.validate(source=f"{name} (frame k is row k)")
    cameras = Cameras.from_c2w(torch.from_numpy(c2w), K, image_size)
    cameras = Cameras(cameras.K, cameras.R, cameras.t, cameras.image_size, metadata=metadata)
    return cameras.validate(source=f"{name} (frame k is row k)")
