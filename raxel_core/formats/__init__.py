"""Camera trajectory file formats, each converting to / from :class:`raxel_core.cameras.Cameras`
at the edge (the core holds one convention: OpenCV axes, world-to-camera ``R, t``, pixel ``K``).

=================  ===========================================  ===========================
name               file                                         module
=================  ===========================================  ===========================
``realestate10k``  ``*.txt`` (URL line + one line a frame)      :mod:`.realestate10k`
``raxel``          ``*.json`` (this pack's versioned format)    :mod:`.raxel_json`
``motionctrl``     ``*.json`` (list of 12-number RT rows)       :mod:`.motionctrl`
``nerfstudio``     ``transforms.json``                          :mod:`.nerfstudio`
``colmap``         a folder with ``cameras.txt`` + ``images.txt``  :mod:`.colmap_text`
``llff``           ``poses_bounds.npy`` (read only)             :mod:`.llff`
=================  ===========================================  ===========================

:func:`read_trajectory` picks the format from the path (and, for ``.json``, from the content);
:func:`write_trajectory` from the path or the ``format`` flag. Every reader validates what it read
(:meth:`Cameras.validate` with the file name as source), so a bad file raises ``ValueError`` naming
the file, the frame or line, the field and the fix. Every writer writes to a temporary file in the
target folder and renames it into place (``os.replace``), so a failed write never leaves a partial
or corrupt file behind.

Cross-format metadata keys (``Cameras.metadata``): ``"image_names"`` (list of str, one per frame;
written by the nerfstudio / COLMAP / LLFF readers and used by the nerfstudio / COLMAP writers);
format-specific details live under the format's name (``metadata["realestate10k"]`` etc.).
"""
from __future__ import annotations

import inspect
from pathlib import Path

from ..cameras import Cameras
from .colmap_text import read_colmap, write_colmap
from .llff import read_llff
from .motionctrl import is_motionctrl, read_motionctrl, write_motionctrl
from .nerfstudio import is_nerfstudio, read_nerfstudio, write_nerfstudio
from .raxel_json import is_raxel_json, read_raxel_json, write_raxel_json
from .realestate10k import read_realestate10k, write_realestate10k
from .text_files import load_json

#: Names accepted by the ``format`` argument of :func:`read_trajectory` / :func:`write_trajectory`.
FORMATS = ("realestate10k", "raxel", "motionctrl", "nerfstudio", "colmap", "llff")

_READERS = {
    "realestate10k": read_realestate10k,
    "raxel": read_raxel_json,
    "motionctrl": read_motionctrl,
    "nerfstudio": read_nerfstudio,
    "colmap": read_colmap,
    "llff": read_llff,
}
_WRITERS = {
    "realestate10k": write_realestate10k,
    "raxel": write_raxel_json,
    "motionctrl": write_motionctrl,
    "nerfstudio": write_nerfstudio,
    "colmap": write_colmap,
}


def _check_format(format: str | None) -> str | None:
    if format is None:
        return None
    name = str(format).strip().lower()
    if name not in FORMATS:
        raise ValueError(f"unknown trajectory format {format!r}; choose one of {', '.join(FORMATS)}")
    return name


def _detect_json(path: Path) -> str:
    data = load_json(path)
    if is_raxel_json(data):
        return "raxel"
    if is_nerfstudio(data):
        return "nerfstudio"
    if is_motionctrl(data):
        return "motionctrl"
    raise ValueError(
        f"{path.name}: not a recognised JSON trajectory. Expected a raxel trajectory "
        '({"format": "raxel-trajectory", ...}), a nerfstudio transforms.json (an object with '
        '"frames" holding "transform_matrix"), or a MotionCtrl / CameraCtrl list of 12-number RT '
        "rows; pass format= to force one and see its error"
    )


def detect_format(path, for_writing: bool = False) -> str:
    """The format name :func:`read_trajectory` (or, with ``for_writing``, :func:`write_trajectory`)
    would use for ``path``.

    Rules: ``.txt`` -> realestate10k; ``.npy`` -> llff; a folder or a path without suffix ->
    colmap (a folder holding only ``transforms.json`` reads as nerfstudio); ``.json`` -> on read,
    by content (raxel / nerfstudio / motionctrl); on write, nerfstudio for a file named
    ``transforms.json``, else raxel.

    Raises:
        ValueError: for an unknown suffix, or JSON content of no known format.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".txt":
        return "realestate10k"
    if suffix == ".npy":
        return "llff"
    if suffix == ".json":
        if for_writing:
            return "nerfstudio" if path.name.lower() == "transforms.json" else "raxel"
        return _detect_json(path)
    if path.is_dir() or suffix == "":
        if (
            not for_writing
            and path.is_dir()
            and (path / "transforms.json").is_file()
            and not (path / "cameras.txt").is_file()
        ):
            return "nerfstudio"
        return "colmap"
    raise ValueError(
        f"{path.name}: cannot tell the trajectory format from the suffix {path.suffix!r}; use .txt "
        "(RealEstate10K), .json (raxel / MotionCtrl / nerfstudio transforms.json), a folder "
        "(COLMAP text model) or poses_bounds.npy (LLFF), or pass format= one of "
        f"{', '.join(FORMATS)}"
    )


def _call(function, what: str, args: tuple, kw: dict):
    accepted = inspect.signature(function).parameters
    unknown = sorted(k for k in kw if k not in accepted)
    if unknown:
        options = [p for p in list(accepted)[len(args):]]
        raise ValueError(
            f"option(s) {', '.join(unknown)} do not apply to {what}; its options are "
            f"{', '.join(options) or 'none'}"
        )
    return function(*args, **kw)


def read_trajectory(path, format: str | None = None, **kw) -> Cameras:
    """Read a camera trajectory file into :class:`Cameras` (validated).

    Args:
        path: a ``.txt`` / ``.json`` / ``.npy`` file or a COLMAP model folder.
        format: one of :data:`FORMATS` to override detection (see :func:`detect_format`).
        **kw: options of the format's reader, e.g. ``image_size=(H, W)`` and ``source_aspect``
            for RealEstate10K, ``image_size`` / ``fov_y_deg`` for MotionCtrl, ``image_size`` /
            ``downscale`` for LLFF.

    Raises:
        ValueError: unknown format, an option the format does not take, or a bad file (the
            message names the file, the frame or line, and the fix).
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"trajectory file {path} does not exist; check the path")
    name = _check_format(format) or detect_format(path)
    if name == "nerfstudio" and path.is_dir():
        path = path / "transforms.json"
    return _call(_READERS[name], f"{name} files", (path,), kw)


def write_trajectory(cameras: Cameras, path, format: str | None = None, **kw) -> Path:
    """Write ``cameras`` to ``path`` in a file format; returns the path written.

    Args:
        cameras: the trajectory.
        path: target file (``.txt``, ``.json``) or folder (COLMAP).
        format: one of :data:`FORMATS` except ``llff`` (read only); default from the path:
            ``.txt`` realestate10k, ``transforms.json`` nerfstudio, other ``.json`` raxel, a folder
            or a path without suffix colmap. MotionCtrl JSON needs ``format="motionctrl"``.
        **kw: options of the format's writer.

    Raises:
        ValueError: llff (no writer), an unknown format or option, a missing output folder.
    """
    path = Path(path)
    name = _check_format(format) or detect_format(path, for_writing=True)
    if name == "llff":
        raise ValueError(
            "LLFF poses_bounds.npy is a read-only format here (it needs per-frame depth bounds "
            "from a reconstruction); write raxel .json, nerfstudio transforms.json or a COLMAP "
            "folder instead"
        )
    return _call(_WRITERS[name], f"{name} files", (cameras, path), kw)


__all__ = [
    "FORMATS",
    "detect_format",
    "read_trajectory",
    "write_trajectory",
    "read_realestate10k",
    "write_realestate10k",
    "read_raxel_json",
    "write_raxel_json",
    "read_motionctrl",
    "write_motionctrl",
    "read_nerfstudio",
    "write_nerfstudio",
    "read_colmap",
    "write_colmap",
    "read_llff",
]
