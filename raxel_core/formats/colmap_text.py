"""COLMAP text models: a folder with ``cameras.txt``, ``images.txt`` (and ``points3D.txt``).

Convention (COLMAP documentation, "Output Format"):

* ``cameras.txt``: ``CAMERA_ID MODEL WIDTH HEIGHT PARAMS...`` per line; ``#`` lines are comments.
  Read here: ``SIMPLE_PINHOLE (f, cx, cy)``, ``PINHOLE (fx, fy, cx, cy)``, ``SIMPLE_RADIAL
  (f, cx, cy, k)``, ``RADIAL (f, cx, cy, k1, k2)``, ``OPENCV (fx, fy, cx, cy, k1, k2, p1, p2)``.
  Distortion is not modelled: its coefficients are ignored and listed in
  ``metadata["colmap"]["distortion_ignored"]``. Principal points are in COLMAP's pixel frame
  (origin at the image's top-left corner, as :class:`Cameras`), so they are used unchanged.
* ``images.txt``: two lines per image, ``IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME`` then the
  2D points line (may be empty). ``(QW, QX, QY, QZ)`` is the unit quaternion of the
  **world-to-camera** rotation and ``(TX, TY, TZ)`` its translation, COLMAP = OpenCV axes, so
  ``R = R(q)``, ``t = T`` directly.
* Frames are ordered by image ``NAME`` (COLMAP's image ids follow registration, not time).
  All cameras used must share one image size.

A folder holding a *binary* model (``cameras.bin`` + ``images.bin`` + ``points3D.bin``) and no
``cameras.txt`` is read through ``pycolmap.Reconstruction`` (converted to text in a temporary
folder, then parsed as above).

The writer writes ``PINHOLE`` cameras (one shared camera when every frame has the same ``K``,
else one per frame), images named from ``metadata["image_names"]`` when those sort in frame order
(else ``frame_00001.png ...``), and an empty ``points3D.txt``; numbers as exact float64 text.
"""
from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import torch

from ..cameras import Cameras
from .text_files import frame_names, image_names, read_text, write_files_atomic

#: Supported camera models -> (number of parameters, index of fx, fy, cx, cy in the parameters).
CAMERA_MODELS = {
    "SIMPLE_PINHOLE": (3, (0, 0, 1, 2)),
    "PINHOLE": (4, (0, 1, 2, 3)),
    "SIMPLE_RADIAL": (4, (0, 0, 1, 2)),
    "RADIAL": (5, (0, 0, 1, 2)),
    "OPENCV": (8, (0, 1, 2, 3)),
}


def quaternion_to_rotation(q: np.ndarray) -> np.ndarray:
    """``(N, 3, 3)`` rotation matrices from ``(N, 4)`` quaternions ``(w, x, y, z)`` (normalised
    first, as COLMAP does). Hamilton convention, ``R = I + 2 w [v]x + 2 [v]x^2``."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=1,
    )


def rotation_to_quaternion(R: np.ndarray) -> np.ndarray:
    """``(N, 4)`` unit quaternions ``(w, x, y, z)`` with ``w >= 0`` from ``(N, 3, 3)`` rotations,
    by Shepperd's method (the largest of ``w, x, y, z`` is computed from the diagonal, the others
    from off-diagonal sums, so no branch divides by a small number)."""
    R = np.asarray(R, dtype=np.float64)
    out = np.empty((R.shape[0], 4))
    for k, m in enumerate(R):
        tr = m[0, 0] + m[1, 1] + m[2, 2]
        i = int(np.argmax([tr, m[0, 0], m[1, 1], m[2, 2]]))
        if i == 0:  # 4 w^2 = 1 + tr
            s = 2.0 * math.sqrt(max(1.0 + tr, 0.0))
            q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
        elif i == 1:  # 4 x^2 = 1 + r00 - r11 - r22
            s = 2.0 * math.sqrt(max(1.0 + m[0, 0] - m[1, 1] - m[2, 2], 0.0))
            q = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
        elif i == 2:  # 4 y^2 = 1 - r00 + r11 - r22
            s = 2.0 * math.sqrt(max(1.0 - m[0, 0] + m[1, 1] - m[2, 2], 0.0))
            q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
        else:  # 4 z^2 = 1 - r00 - r11 + r22
            s = 2.0 * math.sqrt(max(1.0 - m[0, 0] - m[1, 1] + m[2, 2], 0.0))
            q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
        q = np.asarray(q)
        q /= np.linalg.norm(q)
        out[k] = q if q[0] >= 0 else -q
    return out


def _data_lines(text: str):
    """``(line_number, tokens)`` of the non-empty, non-comment lines."""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield number, stripped.split()


def _floats(tokens, file: str, number: int) -> list[float]:
    try:
        return [float(v) for v in tokens]
    except ValueError:
        bad = next(v for v in tokens if not _is_float(v))
        raise ValueError(f"{file} line {number}: {bad!r} is not a number; fix that line") from None


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _read_cameras_txt(path: Path) -> tuple[dict, dict]:
    file = f"{path.parent.name}/{path.name}"
    cameras, ignored = {}, {}
    for number, tokens in _data_lines(read_text(path, "COLMAP cameras.txt")):
        if len(tokens) < 4:
            raise ValueError(
                f"{file} line {number}: expected CAMERA_ID MODEL WIDTH HEIGHT PARAMS..., got "
                f"{len(tokens)} values; fix that line"
            )
        camera_id, model = tokens[0], tokens[1].upper()
        if model not in CAMERA_MODELS:
            raise ValueError(
                f"{file} line {number}: camera model {tokens[1]!r} is not supported; use one of "
                f"{', '.join(CAMERA_MODELS)} (undistort the images with COLMAP's image_undistorter "
                "to get PINHOLE cameras)"
            )
        count, (ifx, ify, icx, icy) = CAMERA_MODELS[model]
        if len(tokens) != 4 + count:
            raise ValueError(
                f"{file} line {number}: a {model} camera has {count} parameters, got "
                f"{len(tokens) - 4}; fix that line"
            )
        values = _floats(tokens[2:], file, number)
        width, height, params = values[0], values[1], values[2:]
        if not all(math.isfinite(v) and v == int(v) and v > 0 for v in (width, height)):
            raise ValueError(f"{file} line {number}: WIDTH and HEIGHT must be positive integers; fix that line")
        if not all(math.isfinite(v) for v in params):
            raise ValueError(f"{file} line {number}: a camera parameter is NaN or infinite; fix that line")
        if params[ifx] <= 0 or params[ify] <= 0:
            raise ValueError(f"{file} line {number}: the focal length must be positive pixels; fix that line")
        if camera_id in cameras:
            raise ValueError(f"{file} line {number}: camera id {camera_id} is defined twice; ids must be unique")
        cameras[camera_id] = (
            (int(height), int(width)),
            (params[ifx], params[ify], params[icx], params[icy]),
        )
        extra = params[4:] if model in ("PINHOLE", "OPENCV") else params[3:]
        if any(v != 0.0 for v in extra):
            ignored[camera_id] = {"model": model, "params": params}
    if not cameras:
        raise ValueError(f"{file}: no cameras; a COLMAP model needs at least one camera line")
    return cameras, ignored


def _read_images_txt(path: Path) -> list[tuple[int, str, list[float], str]]:
    """``(line, name, [qw qx qy qz tx ty tz], camera_id)`` of every image."""
    file = f"{path.parent.name}/{path.name}"
    lines = read_text(path, "COLMAP images.txt").splitlines()
    images = []
    number = 0
    while number < len(lines):
        line = lines[number].strip()
        number += 1
        if not line or line.startswith("#"):
            continue
        tokens = line.split()
        if len(tokens) < 10:
            raise ValueError(
                f"{file} line {number}: expected IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME, got "
                f"{len(tokens)} values; fix that line (each image is this line then its 2D points line)"
            )
        values = _floats(tokens[1:8], file, number)
        images.append((number, " ".join(tokens[9:]), values, tokens[8]))
        number += 1  # the POINTS2D line that follows (may be empty)
    if not images:
        raise ValueError(f"{file}: no images; a COLMAP model needs at least one registered image")
    return images


def read_colmap(path) -> Cameras:
    """Read a COLMAP model folder (text, or binary through pycolmap) into validated
    :class:`Cameras`, frames ordered by image name.

    Returns:
        ``Cameras`` (float64; OpenCV world-to-camera as COLMAP stores it), per-frame ``K``,
        ``metadata["image_names"]`` (sorted), ``metadata["colmap"]`` (image and camera ids; the
        distortion ignored, if any).

    Raises:
        ValueError: naming the file and line for a line with the wrong number of values, a
            non-number, an unsupported camera model or an image whose CAMERA_ID is not in
            cameras.txt; naming the image for duplicate names, cameras of different sizes, and
            (via :meth:`Cameras.validate`) non-finite or invalid poses.
    """
    path = Path(path)
    if path.is_file() and path.name in ("cameras.txt", "images.txt", "points3D.txt"):
        path = path.parent
    if not path.is_dir():
        raise ValueError(f"COLMAP model folder {path} does not exist; "
                         "give the folder holding cameras.txt and images.txt")
    if not (path / "cameras.txt").is_file() and (path / "cameras.bin").is_file():
        return _read_colmap_binary(path)
    for needed in ("cameras.txt", "images.txt"):
        if not (path / needed).is_file():
            raise ValueError(
                f"{path.name}: no {needed} in the folder; a COLMAP text model needs cameras.txt and "
                "images.txt (export one with `colmap model_converter --output_type TXT`)"
            )
    cameras_txt, ignored = _read_cameras_txt(path / "cameras.txt")
    images = _read_images_txt(path / "images.txt")
    for number, name, _, camera_id in images:
        if camera_id not in cameras_txt:
            raise ValueError(
                f"{path.name}/images.txt line {number}: image {name!r} uses camera {camera_id}, which "
                f"cameras.txt does not define ({len(cameras_txt)} cameras: "
                f"{', '.join(sorted(cameras_txt)[:10])}); the two files do not belong together"
            )
    names = [image[1] for image in images]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"{path.name}/images.txt: image name {dup!r} appears twice; names must be unique")
    images.sort(key=lambda image: image[1])
    sizes = {cameras_txt[image[3]][0] for image in images}
    if len(sizes) != 1:
        raise ValueError(
            f"{path.name}: the images use cameras of different sizes {sorted(sizes)} (H, W); one "
            "trajectory needs one image size, undistort / resize to a common size first"
        )
    pose = np.array([image[2] for image in images], dtype=np.float64)
    R = quaternion_to_rotation(pose[:, :4])
    bad = ~np.isfinite(pose).all(axis=1) | (np.linalg.norm(pose[:, :4], axis=1) < 1e-12)
    if bad.any():
        k = int(np.nonzero(bad)[0][0])
        raise ValueError(
            f"{path.name}/images.txt line {images[k][0]}: image {images[k][1]!r} (frame {k}) has a "
            "non-finite or zero quaternion / translation; fix or remove that image"
        )
    fx, fy, cx, cy = np.array([cameras_txt[image[3]][1] for image in images], dtype=np.float64).T
    metadata = {
        "source_file": path.name,
        "image_names": [image[1] for image in images],
        "colmap": {"camera_ids": [image[3] for image in images]},
    }
    if ignored:
        metadata["colmap"]["distortion_ignored"] = {
            "cameras": ignored,
            "note": "lens distortion is not modelled; the cameras are treated as pinhole",
        }
    cameras = Cameras(
        K=Cameras.intrinsics_matrix(fx, fy, cx, cy),
        R=torch.from_numpy(R),
        t=torch.from_numpy(pose[:, 4:7].copy()),
        image_size=sizes.pop(),
        metadata=metadata,
    )
    return cameras.validate(source=f"{path.name} (frames in image-name order)")


def _read_colmap_binary(path: Path) -> Cameras:
    import pycolmap

    try:
        reconstruction = pycolmap.Reconstruction(str(path))
    except Exception as exc:  # pycolmap raises its own error types with file details
        raise ValueError(
            f"{path.name}: pycolmap could not read the binary COLMAP model ({exc}); it needs "
            "cameras.bin, images.bin and points3D.bin"
        ) from exc
    with tempfile.TemporaryDirectory() as folder:
        reconstruction.write_text(folder)
        cameras = read_colmap(folder)
    cameras.metadata["source_file"] = path.name
    return cameras


def write_colmap(cameras: Cameras, path, shared_camera: bool | None = None) -> Path:
    """Write ``cameras`` as a COLMAP text model folder (created if missing; its parent must exist).

    Args:
        cameras: the trajectory; ``K`` must have zero skew (PINHOLE has none).
        path: the model folder; ``cameras.txt``, ``images.txt`` and an empty ``points3D.txt`` are
            written into it, each atomically.
        shared_camera: one camera for all frames; default: when every frame has the same ``K``.

    Raises:
        ValueError: invalid cameras, skew, ``shared_camera=True`` with differing ``K``, a path
            that is a file, a missing parent folder.
    """
    path = Path(path)
    cameras.validate(source=f"writing {path.name}")
    if (cameras.K[:, 0, 1].abs() > 1e-9).any():
        raise ValueError(
            f"cannot write {path.name}: COLMAP PINHOLE cameras have no skew but K[0, 1] is non-zero; "
            "remove the skew first"
        )
    if path.exists() and not path.is_dir():
        raise ValueError(f"cannot write the COLMAP model {path}: it is a file; give a folder path")
    if not path.parent.is_dir():
        raise ValueError(
            f"cannot write the COLMAP model {path}: the folder {path.parent} does not exist; create "
            "it first or choose another output path"
        )
    n = len(cameras)
    h, w = cameras.image_size
    intrinsics = torch.stack([cameras.fx, cameras.fy, cameras.cx, cameras.cy], dim=1).tolist()
    same = all(row == intrinsics[0] for row in intrinsics)
    if shared_camera is None:
        shared_camera = same
    if shared_camera and not same:
        raise ValueError(
            f"cannot write {path.name} with one shared camera: the frames have different K; "
            "use shared_camera=False"
        )
    rows = intrinsics[:1] if shared_camera else intrinsics
    cameras_txt = [
        "# Camera list with one line of data per camera:",
        "#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]",
        f"# Number of cameras: {len(rows)}",
    ] + [f"{i + 1} PINHOLE {w} {h} " + " ".join(repr(float(v)) for v in row) for i, row in enumerate(rows)]
    names = image_names(cameras.metadata, n) or frame_names(n)
    q = rotation_to_quaternion(cameras.R.numpy())
    t = cameras.t.numpy()
    images_txt = [
        "# Image list with two lines of data per image:",
        "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME",
        "#   POINTS2D[] as (X, Y, POINT3D_ID)",
        f"# Number of images: {n}, mean observations per image: 0",
    ]
    for k in range(n):
        numbers = " ".join(repr(float(v)) for v in (*q[k], *t[k]))
        images_txt += [f"{k + 1} {numbers} {1 if shared_camera else k + 1} {names[k]}", ""]
    points_txt = [
        "# 3D point list with one line of data per point:",
        "#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)",
        "# Number of points: 0, mean track length: 0",
    ]
    created = not path.exists()
    path.mkdir(exist_ok=True)
    try:
        write_files_atomic(
            {
                path / "cameras.txt": "\n".join(cameras_txt) + "\n",
                path / "images.txt": "\n".join(images_txt) + "\n",
                path / "points3D.txt": "\n".join(points_txt) + "\n",
            }
        )
    except BaseException:
        if created:
            path.rmdir()  # only the folder this call made (empty again after the cleanup)
        raise
    return path
