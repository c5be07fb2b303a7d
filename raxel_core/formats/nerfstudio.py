"""nerfstudio / Instant-NGP ``transforms.json``.

Convention (nerfstudio docs, "Data conventions" and ``nerfstudio_dataparser.py``):

* ``frames``: a list of ``{"file_path": ..., "transform_matrix": 4x4}``; ``transform_matrix`` is
  **camera-to-world in OpenGL axes** (x right, y up, camera looks along -z). Converted here with
  :meth:`Cameras.from_c2w_opengl` (flip the camera's y and z axes, then invert).
* Intrinsics in pixels ``fl_x, fl_y, cx, cy`` and image size ``w, h``: top level (shared) or per
  frame (a per-frame value overrides the top-level one). All frames must share one ``w, h``.
* Frames are ordered by ``file_path`` as nerfstudio's own data parser does (the writer uses names
  that sort in frame order). Distortion (``k1..k4, p1, p2``) is not modelled: non-zero values are
  ignored and listed in ``metadata["nerfstudio"]["distortion_ignored"]``.
* ``applied_transform`` (a world transform nerfstudio's tools already applied to the poses) is kept
  in metadata; the poses are used as stored.

The writer stores ``camera_model: "PINHOLE"``, shared intrinsics at the top level when every frame
has the same ``K`` (else per frame), and ``file_path`` from ``metadata["image_names"]`` when those
sort in frame order, else ``images/frame_00001.png ...``.
"""
from __future__ import annotations

import json
import math
from numbers import Real
from pathlib import Path

import torch

from ..cameras import Cameras
from .text_files import frame_names, image_names, load_json, write_text_atomic

_INTRINSICS = ("fl_x", "fl_y", "cx", "cy", "w", "h")
_DISTORTION = ("k1", "k2", "k3", "k4", "p1", "p2")


def is_nerfstudio(data) -> bool:
    """Whether parsed JSON ``data`` is a transforms.json (frames with ``transform_matrix``)."""
    return (
        isinstance(data, dict)
        and isinstance(data.get("frames"), list)
        and len(data["frames"]) > 0
        and isinstance(data["frames"][0], dict)
        and "transform_matrix" in data["frames"][0]
    )


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{where} must be a number; got {value!r}")
    return float(value)


def read_nerfstudio(path) -> Cameras:
    """Read a nerfstudio ``transforms.json`` into validated :class:`Cameras`.

    Returns:
        ``Cameras`` (float64; OpenCV world-to-camera), ``metadata["image_names"]`` = the frames'
        ``file_path`` values in the order returned.

    Raises:
        ValueError: naming the file, the frame and the key for a missing / non-numeric intrinsic,
            a ``transform_matrix`` that is not 4x4 (or 3x4) numbers, frames of different ``w, h``,
            and (via :meth:`Cameras.validate`) non-finite values or non-rotations.
    """
    path = Path(path)
    data = load_json(path)
    name = path.name
    if not is_nerfstudio(data):
        raise ValueError(
            f'{name}: not a nerfstudio transforms.json (expected an object with "frames", each '
            'holding a "transform_matrix")'
        )
    frames = data["frames"]
    for k, frame in enumerate(frames):
        if not isinstance(frame, dict) or "transform_matrix" not in frame:
            raise ValueError(f'{name}: frame {k} has no "transform_matrix"; fix or remove that frame')
    paths = [frame.get("file_path") for frame in frames]
    order = list(range(len(frames)))
    if all(isinstance(p, str) for p in paths):
        order = sorted(order, key=lambda k: paths[k])

    c2w, intrinsics, sizes, distortion = [], [], set(), {}
    for k in order:
        frame = frames[k]
        where = f"{name}: frame {k} ({paths[k]})" if isinstance(paths[k], str) else f"{name}: frame {k}"
        values = {}
        for key in _INTRINSICS:
            if key in frame:
                values[key] = _number(frame[key], f"{where} {key}")
            elif key in data:
                values[key] = _number(data[key], f"{name}: {key}")
            else:
                raise ValueError(
                    f'{where}: no "{key}" in the frame or at the top level; nerfstudio needs fl_x, '
                    "fl_y, cx, cy, w and h in pixels"
                )
        for key in ("w", "h"):
            if not (math.isfinite(values[key]) and round(values[key]) >= 1):
                raise ValueError(f"{where}: {key} must be a positive number of pixels; got {values[key]!r}")
        sizes.add((int(round(values["h"])), int(round(values["w"]))))
        intrinsics.append([values["fl_x"], values["fl_y"], values["cx"], values["cy"]])
        for key in _DISTORTION:
            value = frame.get(key, data.get(key, 0.0))
            if _number(value, f"{where} {key}") != 0.0:
                distortion.setdefault(key, []).append(k)
        try:
            m = torch.tensor(frame["transform_matrix"], dtype=torch.float64)
        except (TypeError, ValueError):
            m = None
        if m is None or tuple(m.shape) not in ((4, 4), (3, 4)):
            got = "not numbers" if m is None else f"shape {tuple(m.shape)}"
            raise ValueError(f"{where}: transform_matrix must be 4x4 numbers; got {got}; fix that frame")
        c2w.append(m[:3])
    if len(sizes) != 1:
        raise ValueError(
            f"{name}: frames have different image sizes {sorted(sizes)} (h, w); one trajectory needs "
            "one image size, split the file or resize the frames"
        )
    fx, fy, cx, cy = torch.tensor(intrinsics, dtype=torch.float64).T
    metadata = {"source_file": name}
    if all(isinstance(p, str) for p in paths):
        metadata["image_names"] = [paths[k] for k in order]
    ns = {}
    if "applied_transform" in data:
        ns["applied_transform"] = data["applied_transform"]
    if distortion:
        ns["distortion_ignored"] = {
            "frames_by_coefficient": distortion,
            "note": "lens distortion is not modelled; the cameras are treated as pinhole",
        }
    if ns:
        metadata["nerfstudio"] = ns
    # OpenGL -> OpenCV camera axes: negate the y and z columns; then w2c = c2w^-1. The exact
    # inverse (not [R^T | -R^T c]) keeps files whose rotations are orthonormal only to ~1e-7
    # (6-7 printed digits) bit-faithful through a write / read round trip.
    c2w_opencv = torch.eye(4, dtype=torch.float64).repeat(len(c2w), 1, 1)
    c2w_opencv[:, :3] = torch.stack(c2w)
    c2w_opencv[:, :3, 1:3] *= -1
    K = Cameras.intrinsics_matrix(fx, fy, cx, cy)
    image_size = sizes.pop()
    where = f"{name} (frames in file_path order)" if order != list(range(len(frames))) else name
    # check the c2w blocks before inverting, so a bad frame is named rather than a singular matrix
    Cameras(K, c2w_opencv[:, :3, :3], c2w_opencv[:, :3, 3], image_size).validate(source=where)
    w2c = torch.linalg.inv(c2w_opencv)
    cameras = Cameras(
        K=K, R=w2c[:, :3, :3], t=w2c[:, :3, 3], image_size=image_size, metadata=metadata
    )
    return cameras.validate(source=where)


def write_nerfstudio(cameras: Cameras, path) -> Path:
    """Write ``cameras`` as a nerfstudio ``transforms.json`` (atomically; exact float64 text).

    Raises:
        ValueError: invalid cameras, a ``K`` with skew (not representable), missing folder.
    """
    path = Path(path)
    cameras.validate(source=f"writing {path.name}")
    if (cameras.K[:, 0, 1].abs() > 1e-9).any():
        raise ValueError(
            f"cannot write {path.name}: nerfstudio intrinsics have no skew term but K[0, 1] is "
            "non-zero; remove the skew first"
        )
    n = len(cameras)
    h, w = cameras.image_size
    names = image_names(cameras.metadata, n) or frame_names(n, prefix="images/")
    intrinsics = torch.stack([cameras.fx, cameras.fy, cameras.cx, cameras.cy], dim=1).tolist()
    shared = all(row == intrinsics[0] for row in intrinsics)
    document = {"camera_model": "PINHOLE"}
    if shared:
        document.update(zip(("fl_x", "fl_y", "cx", "cy"), intrinsics[0], strict=True))
    document.update({"w": w, "h": h})
    # c2w = w2c^-1 (exact inverse, see read_nerfstudio), then OpenCV -> OpenGL axes (negate y, z)
    c2w = torch.linalg.inv(cameras.w2c)
    c2w[:, :3, 1:3] *= -1
    c2w = c2w.tolist()
    frames = []
    for k in range(n):
        frame = {"file_path": names[k], "transform_matrix": c2w[k]}
        if not shared:
            frame.update(zip(("fl_x", "fl_y", "cx", "cy"), intrinsics[k], strict=True))
        frames.append(frame)
    document["frames"] = frames
    return write_text_atomic(path, json.dumps(document, indent=2, allow_nan=False) + "\n")
