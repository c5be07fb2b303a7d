"""Raxel maps on disk: a folder of 8-bit PNG frames plus ``raxels.json``.

Layout written by :func:`save_raxel_pngs` (and the ``raxel encode`` command)::

    DIR/raxel_00000.png ... raxel_{N-1:05d}.png   8-bit RGB, uint8 = round(255 * (value + 2) / 4)
    DIR/raxels.json                               RaxelMaps.metadata() + {"frames": [file names]}

``raxels.json`` carries the translation scale, the reference camera's pose and ``K`` so that
:func:`load_raxel_pngs` + :func:`raxel_core.rays.raxel_decode.decode_raxels` restore the trajectory in its
original units and world frame (to 8-bit precision, see ``raxel_maps.py``).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from ..formats.text_files import atomic_path
from .raxel_maps import RaxelMaps

METADATA_NAME = "raxels.json"


def save_raxel_pngs(maps: RaxelMaps, folder) -> Path:
    """Write ``maps`` as 8-bit PNG frames plus ``raxels.json`` into ``folder``.

    The folder must not exist or be empty; the frames are written into a temporary sibling folder
    that is renamed into place only when complete, so a failure never leaves a partial set.

    Raises:
        ValueError: ``folder`` exists and is not an empty folder, or its parent does not exist.
    """
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ValueError(
            f"{folder} already exists and is not an empty folder; choose a new output folder so "
            "old raxel frames are not mixed with new ones"
        )
    parent = folder.parent if str(folder.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"the parent folder {parent} does not exist; create it first")
    images = maps.to_uint8()
    names = [f"raxel_{k:05d}.png" for k in range(len(images))]
    with atomic_path(folder, folder=True) as tmp:
        for name, image in zip(names, images, strict=True):
            Image.fromarray(image, mode="RGB").save(tmp / name)
        meta = dict(maps.metadata(), frames=names)
        (tmp / METADATA_NAME).write_text(json.dumps(meta, indent=1))
    return folder


def load_raxel_pngs(folder) -> RaxelMaps:
    """Read a folder written by :func:`save_raxel_pngs` into :class:`RaxelMaps`.

    Raises:
        ValueError: the folder or ``raxels.json`` is missing or unreadable, a listed frame is
            missing, or a frame is not an RGB image of the common size.
    """
    folder = Path(folder)
    meta_path = folder / METADATA_NAME
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder; give the folder written by `raxel encode`")
    if not meta_path.is_file():
        raise ValueError(
            f"{folder} has no {METADATA_NAME}; it holds the scale and intrinsics needed to decode. "
            "Re-encode the trajectory with `raxel encode`"
        )
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{meta_path} is not valid JSON ({exc}); re-encode the trajectory") from None
    names = meta.pop("frames", None)
    if not isinstance(names, list) or not names:
        raise ValueError(f"{meta_path} lists no frames; re-encode the trajectory")
    frames = []
    for name in names:
        path = folder / Path(name).name  # names only: never follow a path out of the folder
        if not path.is_file():
            raise ValueError(f"raxel frame {path} listed in {METADATA_NAME} is missing")
        with Image.open(path) as im:
            if im.mode != "RGB":
                raise ValueError(f"raxel frame {path} is {im.mode}, not 8-bit RGB; re-encode it")
            frames.append(np.asarray(im))
    if len({f.shape for f in frames}) != 1:
        raise ValueError(f"raxel frames in {folder} have different sizes; re-encode the trajectory")
    return RaxelMaps.from_uint8(np.stack(frames), meta)
