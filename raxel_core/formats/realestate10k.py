"""RealEstate10K camera files (``<clip>.txt``), as used by RealEstate10K, CameraCtrl and CamI2V.

Convention (Zhou et al., "Stereo Magnification", SIGGRAPH 2018, dataset release notes):

* Line 1: the source video URL.
* Each further line is one frame, 19 numbers::

      timestamp_us  fx fy cx cy  0 0  r11 r12 r13 t1  r21 r22 r23 t2  r31 r32 r33 t3

  ``timestamp_us`` in microseconds of the source video; ``fx fy cx cy`` **normalised** by the
  *original* video's width (``fx, cx``) and height (``fy, cy``); two zeros (unused distortion);
  then the 3x4 **world-to-camera** matrix ``[R | t]`` row-major, OpenCV axes (x right, y down,
  z forward). The scale of ``t`` is arbitrary per clip (SLAM).

Pixel intrinsics for the frames you use (resize + centre crop)
----------------------------------------------------------------
Datasets built on RealEstate10K resize the 16:9 video and centre-crop it to their own size
``(H, W)``. With ``a = source_aspect = W0 / H0`` of the original video, the resize that covers
``(H, W)`` before the crop gives an intermediate image of ``(Hr, Wr)``:

* ``a >= W / H`` (source wider, e.g. 16:9 -> 384x256): ``Hr = H``, ``Wr = H * a``; the crop removes
  ``(Wr - W) / 2`` columns on each side.
* ``a < W / H`` (source taller): ``Wr = W``, ``Hr = W / a``; the crop removes ``(Hr - H) / 2`` rows.

Normalised coordinates scale with the intermediate image and the crop shifts the principal
point, so::

    fx = fx_n * Wr          cx = W / 2 + (cx_n - 0.5) * Wr
    fy = fy_n * Hr          cy = H / 2 + (cy_n - 0.5) * Hr

(for the 384x256 clips cut from 16:9 video: ``Wr = 256 * 16 / 9 = 455.1``, so a RealEstate10K
``fx_n = 0.4748`` gives ``fx = 216.1`` px = ``fy``, square pixels as the source had). With
``source_aspect`` equal to the image's own aspect this is the plain ``fx = fx_n * W``,
``fy = fy_n * H``. The writer inverts the same map, so read -> write -> read is exact.

``Cameras.metadata["realestate10k"]`` keeps ``url``, ``timestamps_us`` (list of int) and
``source_aspect`` so that :func:`write_realestate10k` reproduces them.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch

from ..cameras import Cameras
from .text_files import read_text, write_text_atomic

#: Nominal frame size when none is given: the 720p of most RealEstate10K source videos.
DEFAULT_IMAGE_SIZE = (720, 1280)
#: Timestamp step written when the trajectory carries neither timestamps nor fps (30 fps).
DEFAULT_FPS = 30.0

_VALUES_PER_LINE = 19


def _resized_size(image_size, source_aspect: float) -> tuple[float, float]:
    """``(Hr, Wr)``: the source resized to cover ``image_size`` before the centre crop."""
    h, w = image_size
    if source_aspect >= w / h:
        return float(h), float(h) * source_aspect
    return float(w) / source_aspect, float(w)


def _check_aspect(source_aspect, where: str) -> float:
    try:
        a = float(source_aspect)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: source_aspect must be a number W/H (e.g. 16/9); got {source_aspect!r}") from exc
    if not math.isfinite(a) or a <= 0:
        raise ValueError(f"{where}: source_aspect must be a positive width / height ratio (e.g. 16/9); "
                         f"got {source_aspect!r}")
    return a


def read_realestate10k(path, image_size=None, source_aspect=None) -> Cameras:
    """Read a RealEstate10K camera file into validated :class:`Cameras`.

    Args:
        path: the ``.txt`` file.
        image_size: ``(H, W)`` pixels of the frames the trajectory will be used with (default
            :data:`DEFAULT_IMAGE_SIZE`, the nominal 720p source).
        source_aspect: ``W0 / H0`` of the video the normalised intrinsics refer to (16/9 for
            RealEstate10K); default: ``image_size``'s own aspect (frames resized without a crop).

    Returns:
        ``Cameras`` with float64 ``K`` in pixels for ``image_size`` (module docstring for the crop
        geometry), ``R, t`` world-to-camera (OpenCV), ``fps=None`` (the timestamps are of the
        source video, kept in ``metadata["realestate10k"]["timestamps_us"]``).

    Raises:
        ValueError: naming the file and line for a line without 19 numbers or a value that is not
            a number; naming the frame (and its line) for non-finite values, a non-rotation or a
            non-positive focal length.
    """
    path = Path(path)
    text = read_text(path, "RealEstate10K camera")
    image_size = tuple(int(v) for v in (image_size or DEFAULT_IMAGE_SIZE))
    if len(image_size) != 2 or min(image_size) <= 0:
        raise ValueError(f"{path.name}: image_size must be (H, W) positive pixels; got {image_size}")
    aspect = _check_aspect(
        source_aspect if source_aspect is not None else image_size[1] / image_size[0], path.name
    )

    lines = text.splitlines()
    url = ""
    rows: list[list[float]] = []
    line_numbers: list[int] = []
    for number, line in enumerate(lines, start=1):
        tokens = line.split()
        if not tokens:
            continue
        if number == 1 and len(tokens) == 1 and not _is_number(tokens[0]):
            url = tokens[0]
            continue
        if len(tokens) != _VALUES_PER_LINE:
            raise ValueError(
                f"{path.name} line {number}: expected {_VALUES_PER_LINE} numbers (timestamp_us, "
                f"fx fy cx cy, 0 0, then the 12 numbers of the 3x4 world-to-camera matrix), got "
                f"{len(tokens)}; fix or remove that line"
            )
        try:
            values = [float(v) for v in tokens]
        except ValueError:
            bad = next(v for v in tokens if not _is_number(v))
            raise ValueError(
                f"{path.name} line {number}: {bad!r} is not a number; fix or remove that line"
            ) from None
        rows.append(values)
        line_numbers.append(number)
    if not rows:
        raise ValueError(
            f"{path.name}: no camera lines (expected the URL line then one line of "
            f"{_VALUES_PER_LINE} numbers per frame); is this a RealEstate10K camera file?"
        )

    data = torch.tensor(rows, dtype=torch.float64)
    timestamps = data[:, 0]
    fx_n, fy_n, cx_n, cy_n = data[:, 1], data[:, 2], data[:, 3], data[:, 4]
    w2c = data[:, 7:].reshape(-1, 3, 4)
    h, w = image_size
    hr, wr = _resized_size(image_size, aspect)
    # fx = fx_n * Wr, cx = W/2 + (cx_n - 1/2) * Wr (resize to (Hr, Wr), then centre crop to (H, W))
    K = Cameras.intrinsics_matrix(
        fx_n * wr, fy_n * hr, w / 2 + (cx_n - 0.5) * wr, h / 2 + (cy_n - 0.5) * hr
    )
    first, last = line_numbers[0], line_numbers[-1]
    contiguous = line_numbers == list(range(first, last + 1))
    where = (
        f"{path.name} (frame k is on line k + {first})" if contiguous else f"{path.name} (lines {line_numbers})"
    )
    bad = ~torch.isfinite(data).all(dim=1)
    if bad.any():
        k = int(bad.nonzero()[0])
        fields = ["timestamp_us", "fx", "fy", "cx", "cy", "0", "0"] + [
            f"{'R' if c < 3 else 't'}[{r}{',' + str(c) if c < 3 else ''}]" for r in range(3) for c in range(4)
        ]
        names = [fields[i] for i in range(_VALUES_PER_LINE) if not math.isfinite(float(data[k, i]))]
        raise ValueError(
            f"{path.name} line {line_numbers[k]}: frame {k} has a non-finite value (NaN or inf) in "
            f"{', '.join(names)}; fix or remove that line"
        )
    cameras = Cameras(
        K=K,
        R=w2c[:, :, :3],
        t=w2c[:, :, 3],
        image_size=image_size,
        metadata={
            "source_file": path.name,
            "realestate10k": {
                "url": url,
                "timestamps_us": [int(round(v)) for v in timestamps.tolist()],
                "source_aspect": aspect,
            },
        },
    )
    return cameras.validate(source=where)


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def write_realestate10k(cameras: Cameras, path, source_aspect=None, url=None, timestamps_us=None) -> Path:
    """Write ``cameras`` as a RealEstate10K camera file (atomically).

    Args:
        cameras: the trajectory; ``K`` must have zero skew (the format has no skew term).
        path: target ``.txt``; its folder must exist.
        source_aspect: ``W0 / H0`` to normalise the intrinsics by (module docstring); default
            ``metadata["realestate10k"]["source_aspect"]`` when present, else the cameras' own
            aspect (plain ``fx / W``, ``fy / H``).
        url: line 1; default the metadata's URL, else an empty line.
        timestamps_us: N integers; default the metadata's timestamps when there are N of them,
            else ``round(k * 1e6 / fps)`` with ``cameras.fps`` (30 when unknown).

    Returns:
        the path written. Numbers are written with ``repr`` (shortest exact float64 text), so
        reading the file back reproduces ``R, t`` exactly and ``K`` to rounding.

    Raises:
        ValueError: invalid cameras, non-zero skew, wrong timestamp count, missing folder.
    """
    path = Path(path)
    cameras.validate(source=f"writing {path.name}")
    if (cameras.K[:, 0, 1].abs() > 1e-9).any():
        raise ValueError(
            f"cannot write {path.name}: RealEstate10K intrinsics have no skew term but K[0, 1] is "
            "non-zero; remove the skew first"
        )
    n = len(cameras)
    meta = cameras.metadata.get("realestate10k", {}) if isinstance(cameras.metadata, dict) else {}
    if source_aspect is None:
        source_aspect = meta.get("source_aspect") or cameras.image_size[1] / cameras.image_size[0]
    aspect = _check_aspect(source_aspect, f"writing {path.name}")
    if url is None:
        url = str(meta.get("url", ""))
    if any(c.isspace() for c in url):
        raise ValueError(f"cannot write {path.name}: the URL line must not contain spaces; got {url!r}")
    if timestamps_us is None:
        stored = meta.get("timestamps_us")
        if isinstance(stored, (list, tuple)) and len(stored) == n:
            timestamps_us = stored
        else:
            fps = cameras.fps or DEFAULT_FPS
            timestamps_us = [round(k * 1e6 / fps) for k in range(n)]
    if len(timestamps_us) != n:
        raise ValueError(
            f"cannot write {path.name}: {len(timestamps_us)} timestamps for {n} frames; give one "
            "timestamp per frame"
        )

    h, w = cameras.image_size
    hr, wr = _resized_size((h, w), aspect)
    # inverse of the reader: fx_n = fx / Wr, cx_n = 1/2 + (cx - W/2) / Wr
    fx_n = cameras.fx / wr
    fy_n = cameras.fy / hr
    cx_n = 0.5 + (cameras.cx - w / 2) / wr
    cy_n = 0.5 + (cameras.cy - h / 2) / hr
    w2c = torch.cat([cameras.R, cameras.t[:, :, None]], dim=2).reshape(n, 12)
    lines = [url]
    for k in range(n):
        numbers = [fx_n[k], fy_n[k], cx_n[k], cy_n[k], 0.0, 0.0, *w2c[k]]
        lines.append(" ".join([str(int(timestamps_us[k]))] + [repr(float(v)) for v in numbers]))
    return write_text_atomic(path, "\n".join(lines) + "\n")
