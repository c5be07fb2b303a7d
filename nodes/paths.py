"""Safe file paths for the nodes: a ComfyUI server is often reachable over a network, so a file
name typed into a widget (or sent in an API prompt) must never reach a file outside the folder
the node is allowed to use.

Rules (:func:`resolve_inside`): a name is relative (no absolute path, no drive), and the path it
names, with every ``..`` and symbolic link resolved, lies inside the allowed folder (itself
resolved). Anything else raises ``ValueError`` naming the folder that is allowed.
"""
from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath

import folder_paths

#: Suffixes of trajectory files listed by RaxelLoadTrajectory (folders holding ``cameras.txt``
#: are listed too: COLMAP text models).
POSE_FILE_SUFFIXES = (".txt", ".json", ".npy")

#: How deep below the input folder pose files are listed (0 = the folder itself).
LIST_DEPTH = 2


def input_directory() -> Path:
    """ComfyUI's input folder, resolved."""
    return Path(folder_paths.get_input_directory()).resolve()


def output_directory() -> Path:
    """ComfyUI's output folder, resolved."""
    return Path(folder_paths.get_output_directory()).resolve()


def resolve_inside(name: str, base: Path, what: str) -> Path:
    """The path ``base / name`` after checking it cannot escape ``base``.

    Args:
        name: a relative path typed by the user (``/`` or ``\\`` separators).
        base: the allowed folder (e.g. :func:`input_directory`).
        what: the folder's name for the message, e.g. ``"input"``.

    Returns:
        the resolved path (it may not exist).

    Raises:
        ValueError: ``name`` is empty, absolute, or resolves outside ``base`` (through ``..`` or
            a symbolic link); the message names the folder allowed.
    """
    text = str(name).strip()
    base = Path(base).resolve()
    if not text:
        raise ValueError(f"no file name given; pick a file inside ComfyUI's {what} folder ({base})")
    if PurePosixPath(text).is_absolute() or PureWindowsPath(text).is_absolute() or PureWindowsPath(text).drive:
        raise ValueError(
            f"{text!r} is an absolute path; only files inside ComfyUI's {what} folder ({base}) "
            f"can be used: give a path relative to it"
        )
    path = (base / text.replace("\\", "/")).resolve()
    if path != base and base not in path.parents:
        raise ValueError(
            f"{text!r} resolves outside ComfyUI's {what} folder ({base}); only files inside that "
            "folder can be used (no '..', no links pointing elsewhere)"
        )
    return path


def resolve_input_file(name: str) -> Path:
    """A trajectory file or folder picked in the input folder; must exist.

    Raises:
        ValueError: as :func:`resolve_inside`, or when nothing exists at that path.
    """
    path = resolve_inside(name, input_directory(), "input")
    if not path.exists():
        raise ValueError(
            f"{name!r} does not exist in ComfyUI's input folder ({input_directory()}); copy the "
            "trajectory file there and refresh the node"
        )
    return path


#: ComfyUI's annotation of a file in the output folder (``folder_paths.annotated_filepath``).
OUTPUT_MARK = " [output]"


def resolve_pose_file(name: str) -> Path:
    """A trajectory file or folder picked from the input folder (``"shot.txt"`` or
    ``"shot.txt [input]"``) or the output folder (``"raxel/shot_00001_.json [output]"``, ComfyUI's
    annotated-path convention, as :func:`list_pose_files` writes it); must exist.

    Raises:
        ValueError: another annotation (e.g. ``[temp]``), or as :func:`resolve_inside` (absolute,
            ``..``, a link leaving the folder), or when nothing exists at that path.
    """
    text = str(name).strip()
    relative, base = folder_paths.annotated_filepath(text)
    if base is None:
        return resolve_input_file(text)
    if Path(base).resolve() == output_directory():
        what = "output"
    elif Path(base).resolve() == input_directory():
        what = "input"
    else:
        raise ValueError(
            f"{text!r}: trajectories are read from ComfyUI's input or output folder only; pick a file "
            "listed by the node"
        )
    path = resolve_inside(relative.strip(), Path(base), what)
    if not path.exists():
        raise ValueError(
            f"{text!r} does not exist in ComfyUI's {what} folder ({Path(base).resolve()}); refresh the "
            "node to see the files there"
        )
    return path


def resolve_output_prefix(filename_prefix: str) -> tuple[Path, str, str]:
    """Folder, subfolder and file name stem for ``filename_prefix`` inside the output folder.

    ``"trajectories/shot"`` gives ``(<output>/trajectories, "trajectories", "shot")``; the folder
    is created. ComfyUI's ``%date%``-style variables are not expanded (names are kept literal).

    Raises:
        ValueError: as :func:`resolve_inside`, or a prefix that names no file (ends in ``/``).
    """
    base = output_directory()
    text = str(filename_prefix).strip().replace("\\", "/")
    if not text or text.endswith("/"):
        raise ValueError(
            f"filename_prefix {filename_prefix!r} names no file; give a name such as "
            "'trajectories/shot' (saved inside ComfyUI's output folder)"
        )
    target = resolve_inside(text, base, "output")
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    subfolder = "" if folder == base else folder.relative_to(base).as_posix()
    return folder, subfolder, target.name


def next_counter(folder: Path, stem: str) -> int:
    """1 + the largest ``N`` of the entries ``<stem>_<N>_...`` in ``folder`` (ComfyUI's own
    numbering, so saved files never overwrite earlier ones)."""
    largest = 0
    prefix = stem + "_"
    for entry in os.listdir(folder):
        if entry.startswith(prefix):
            digits = entry[len(prefix):].split("_")[0]
            if digits.isdigit():
                largest = max(largest, int(digits))
    return largest + 1


def saved_output(subfolder: str, filename: str, format: str) -> tuple[str, dict]:
    """A file the pack wrote into the output folder: its path relative to that folder and the
    ``ui`` entry (``filename``, ``subfolder``, ``type: output``, ``format``) the node shows."""
    relative = f"{subfolder}/{filename}" if subfolder else filename
    return relative, {"filename": filename, "subfolder": subfolder, "type": "output", "format": format}


def _pose_files_in(base: Path) -> list[str]:
    if not base.is_dir():
        return []
    found: list[str] = []
    for root, dirs, files in os.walk(base, followlinks=False):
        rel = Path(root).relative_to(base)
        depth = 0 if rel == Path(".") else len(rel.parts)
        dirs[:] = [d for d in dirs if not d.startswith(".")] if depth < LIST_DEPTH else []
        if depth > 0 and "cameras.txt" in files:
            found.append(rel.as_posix())  # a COLMAP text model: the folder is the trajectory
            continue
        for f in files:
            if not f.startswith(".") and f.lower().endswith(POSE_FILE_SUFFIXES):
                found.append((rel / f).as_posix())
    return sorted(found)


def list_pose_files() -> list[str]:
    """What RaxelLoadTrajectory can read: relative names (``/`` separated, sorted) in the input
    folder, then those in the output folder marked ``" [output]"`` (so a trajectory just saved by
    Save Camera Path is offered without moving it): files ending in :data:`POSE_FILE_SUFFIXES` and
    folders holding ``cameras.txt``, at most :data:`LIST_DEPTH` folders deep. Links are not
    followed; hidden entries are skipped."""
    inputs = _pose_files_in(input_directory())
    outputs = [name + OUTPUT_MARK for name in _pose_files_in(output_directory())]
    return inputs + outputs
