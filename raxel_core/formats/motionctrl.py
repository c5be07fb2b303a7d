"""MotionCtrl / CameraCtrl camera-motion JSON (the ``RT`` lists of MotionCtrl's CMCM examples).

Convention (Wang et al., "MotionCtrl", SIGGRAPH 2024, Sec. 3.2 and the released
``examples/camera_poses/*.json``):

* A JSON list with one entry per frame; each entry is the 3x4 **world-to-camera** matrix
  ``[R | t]`` as 12 numbers, row-major (``[r11, r12, r13, t1, r21, ..., t3]``), OpenCV axes.
  A nested ``[[4 numbers] x 3]`` entry is accepted too. Frame 0 is usually the identity.
* The format carries **no intrinsics and no image size**: the reader takes ``image_size`` and a
  vertical field of view ``fov_y_deg`` and builds a centred, square-pixel ``K``
  (``f = H / (2 tan(fov_y / 2))``); both are recorded in ``metadata["motionctrl"]``. The writer
  drops ``K`` (write the raxel JSON format to keep it).
"""
from __future__ import annotations

import json
import math
from numbers import Real
from pathlib import Path

import torch

from ..cameras import Cameras
from .text_files import load_json, write_text_atomic

#: Frame size when none is given (the pack's default generation size, Wan 480p).
DEFAULT_IMAGE_SIZE = (480, 832)
#: Vertical field of view in degrees when none is given.
DEFAULT_FOV_Y_DEG = 50.0


def _flatten(entry) -> list | None:
    if isinstance(entry, list) and len(entry) == 3 and all(isinstance(r, list) and len(r) == 4 for r in entry):
        entry = [v for r in entry for v in r]
    if isinstance(entry, list) and len(entry) == 12 and all(
        isinstance(v, Real) and not isinstance(v, bool) for v in entry
    ):
        return entry
    return None


def is_motionctrl(data) -> bool:
    """Whether parsed JSON ``data`` looks like a MotionCtrl RT list (checks the first frame)."""
    return isinstance(data, list) and len(data) > 0 and _flatten(data[0]) is not None


def read_motionctrl(path, image_size=None, fov_y_deg=None) -> Cameras:
    """Read a MotionCtrl / CameraCtrl RT JSON file into validated :class:`Cameras`.

    Args:
        path: the ``.json`` file (a list of per-frame 12-number world-to-camera rows).
        image_size: ``(H, W)`` pixels for the intrinsics (default :data:`DEFAULT_IMAGE_SIZE`).
        fov_y_deg: vertical field of view in degrees, in (0, 180) (default 50).

    Returns:
        ``Cameras`` (float64) with the file's ``R, t`` and a centred ``K`` from ``fov_y_deg``.

    Raises:
        ValueError: naming the file and frame for an entry that is not 12 numbers, non-finite
            values or a non-rotation; a bad ``fov_y_deg`` / ``image_size``.
    """
    path = Path(path)
    data = load_json(path)
    if not isinstance(data, list) or not data:
        raise ValueError(
            f"{path.name}: a MotionCtrl trajectory is a non-empty JSON list with one 12-number "
            "world-to-camera row per frame; got " + ("an empty list" if data == [] else type(data).__name__)
        )
    rows = []
    for k, entry in enumerate(data):
        flat = _flatten(entry)
        if flat is None:
            size = len(entry) if isinstance(entry, list) else type(entry).__name__
            raise ValueError(
                f"{path.name}: frame {k} must be 12 numbers (the 3x4 world-to-camera matrix, "
                f"row-major); got {size!r} values; fix or remove that frame"
            )
        rows.append(flat)
    image_size = tuple(int(v) for v in (image_size or DEFAULT_IMAGE_SIZE))
    if len(image_size) != 2 or min(image_size) <= 0:
        raise ValueError(f"{path.name}: image_size must be (H, W) positive pixels; got {image_size}")
    fov = float(DEFAULT_FOV_Y_DEG if fov_y_deg is None else fov_y_deg)
    if not (math.isfinite(fov) and 0 < fov < 180):
        raise ValueError(f"{path.name}: fov_y_deg must be between 0 and 180 degrees; got {fov_y_deg!r}")
    w2c = torch.tensor(rows, dtype=torch.float64).reshape(-1, 3, 4)
    cameras = Cameras(
        K=Cameras.intrinsics_from_fov(fov, image_size, n=len(rows)),
        R=w2c[:, :, :3],
        t=w2c[:, :, 3],
        image_size=image_size,
        metadata={"source_file": path.name, "motionctrl": {"fov_y_deg": fov, "intrinsics": "assumed"}},
    )
    return cameras.validate(source=path.name)


def write_motionctrl(cameras: Cameras, path) -> Path:
    """Write the world-to-camera ``[R | t]`` of ``cameras`` as a MotionCtrl RT JSON list
    (atomically; numbers as exact float64 text). ``K`` and the image size are not stored.

    Raises:
        ValueError: invalid cameras, missing output folder.
    """
    path = Path(path)
    cameras.validate(source=f"writing {path.name}")
    w2c = torch.cat([cameras.R, cameras.t[:, :, None]], dim=2).reshape(len(cameras), 12)
    rows = ["  [" + ", ".join(repr(float(v)) for v in row) + "]" for row in w2c]
    text = "[\n" + ",\n".join(rows) + "\n]\n"
    json.loads(text)  # the file must parse back; fails loudly before anything is written
    return write_text_atomic(path, text)
