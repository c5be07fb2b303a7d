"""The pack's own versioned trajectory JSON (``format: "raxel-trajectory"``).

Convention: exactly :class:`raxel_core.cameras.Cameras`, stored as text::

    {
      "format": "raxel-trajectory",
      "version": 1,
      "convention": "opencv_w2c",
      "image_size": [H, W],
      "fps": 16.0 | null,
      "frames": [{"K": [[fx, s, cx], [0, fy, cy], [0, 0, 1]], "R": 3x3, "t": [t1, t2, t3]}, ...],
      "metadata": {...}
    }

``R, t`` world-to-camera (``x_cam = R X + t``), OpenCV axes (x right, y down, z forward); ``K`` in
pixels for ``image_size``. Numbers are written as exact float64 text, so a round trip is lossless.
``metadata`` must be JSON-safe (tensors / arrays / tuples / paths are converted; anything else is
an error naming the key). Files of an unknown ``version`` or ``convention`` are rejected.
"""
from __future__ import annotations

import json
import math
from pathlib import Path, PurePath

import numpy as np
import torch

from ..cameras import Cameras
from .text_files import load_json, write_text_atomic

FORMAT_NAME = "raxel-trajectory"
VERSION = 1
CONVENTION = "opencv_w2c"


def is_raxel_json(data) -> bool:
    """Whether parsed JSON ``data`` declares itself a raxel trajectory (any version)."""
    return isinstance(data, dict) and data.get("format") == FORMAT_NAME


def _json_safe(value, where: str):
    """``value`` as plain JSON types; ``ValueError`` naming ``where`` for anything else."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().tolist()
    elif isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, PurePath):
        return str(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value}, which JSON cannot hold; replace it with a finite number or null")
        return value
    if isinstance(value, (list, tuple)):
        return [_json_safe(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for key, v in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where} has a non-string key {key!r}; JSON keys must be strings")
            out[key] = _json_safe(v, f"{where}[{key!r}]")
        return out
    raise ValueError(
        f"{where} holds a {type(value).__name__}, which cannot be written to JSON; convert it to "
        "numbers, strings, lists or dicts (or remove it) before writing"
    )


def write_raxel_json(cameras: Cameras, path, indent: int | None = 1) -> Path:
    """Write ``cameras`` (with ``fps`` and ``metadata``) as raxel trajectory JSON, atomically.

    Raises:
        ValueError: invalid cameras, metadata that is not JSON-safe (naming the key), missing
            output folder. Nothing is written when it raises.
    """
    path = Path(path)
    cameras.validate(source=f"writing {path.name}")
    fps = cameras.fps
    if fps is not None and not (math.isfinite(float(fps)) and float(fps) > 0):
        raise ValueError(f"cannot write {path.name}: fps must be a positive number or None; got {fps!r}")
    document = {
        "format": FORMAT_NAME,
        "version": VERSION,
        "convention": CONVENTION,
        "image_size": list(cameras.image_size),
        "fps": None if fps is None else float(fps),
        "frames": [
            {"K": K, "R": R, "t": t}
            for K, R, t in zip(cameras.K.tolist(), cameras.R.tolist(), cameras.t.tolist(), strict=True)
        ],
        "metadata": _json_safe(dict(cameras.metadata or {}), "metadata"),
    }
    text = json.dumps(document, indent=indent, allow_nan=False) + "\n"
    return write_text_atomic(path, text)


def _matrix(value, shape, where: str) -> torch.Tensor:
    try:
        m = torch.tensor(value, dtype=torch.float64)
    except (TypeError, ValueError):
        m = None
    if m is None or tuple(m.shape) != shape:
        got = "not numbers" if m is None else f"shape {tuple(m.shape)}"
        raise ValueError(f"{where} must be {'x'.join(map(str, shape))} numbers; got {got}; fix that frame")
    return m


def read_raxel_json(path) -> Cameras:
    """Read a raxel trajectory JSON file into validated :class:`Cameras`.

    Raises:
        ValueError: naming the file for a wrong ``format`` / unknown ``version`` or
            ``convention`` / missing keys, and the frame and field for a malformed or invalid
            frame (non-finite, non-rotation, non-positive focal).
    """
    path = Path(path)
    data = load_json(path)
    name = path.name
    if not is_raxel_json(data):
        raise ValueError(f'{name}: not a raxel trajectory (expected "format": "{FORMAT_NAME}")')
    version = data.get("version")
    if version != VERSION:
        raise ValueError(
            f"{name}: raxel trajectory version {version!r} is not supported (this pack reads version "
            f"{VERSION}); update the pack or re-export the file as version {VERSION}"
        )
    if data.get("convention") != CONVENTION:
        raise ValueError(
            f'{name}: convention {data.get("convention")!r} is not supported; version {VERSION} files '
            f'hold "{CONVENTION}" (OpenCV axes, world-to-camera)'
        )
    for key in ("image_size", "frames"):
        if key not in data:
            raise ValueError(f'{name}: missing "{key}"; the file is incomplete, re-export it')
    size = data["image_size"]
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
        raise ValueError(f'{name}: "image_size" must be [H, W] positive integers; got {size!r}')
    frames = data["frames"]
    if not isinstance(frames, list) or not frames:
        raise ValueError(f'{name}: "frames" must be a non-empty list of {{"K", "R", "t"}} objects')
    K, R, t = [], [], []
    for k, frame in enumerate(frames):
        if not isinstance(frame, dict) or any(key not in frame for key in ("K", "R", "t")):
            raise ValueError(f'{name}: frame {k} must be an object with "K", "R" and "t"; fix that frame')
        K.append(_matrix(frame["K"], (3, 3), f"{name}: frame {k} K"))
        R.append(_matrix(frame["R"], (3, 3), f"{name}: frame {k} R"))
        t.append(_matrix(frame["t"], (3,), f"{name}: frame {k} t"))
    fps = data.get("fps")
    if fps is not None and not (isinstance(fps, (int, float)) and not isinstance(fps, bool)
                                and math.isfinite(fps) and fps > 0):
        raise ValueError(f'{name}: "fps" must be a positive number or null; got {fps!r}')
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ValueError(f'{name}: "metadata" must be an object; got {type(metadata).__name__}')
    metadata = dict(metadata)
    metadata["source_file"] = name
    cameras = Cameras(
        K=torch.stack(K), R=torch.stack(R), t=torch.stack(t), image_size=tuple(size),
        fps=None if fps is None else float(fps), metadata=metadata,
    )
    return cameras.validate(source=name)
