"""Text files of the trajectory formats: reading with errors that name the file, atomic writes
(a temporary file in the target folder, then ``os.replace``: a failed write never leaves a partial or
corrupt file), and the image-name rules shared by the nerfstudio and COLMAP formats."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def parent_folder(path: Path) -> Path:
    """The folder a file at ``path`` will be written into; it must already exist."""
    parent = path.parent
    if not parent.is_dir():
        raise ValueError(
            f"cannot write {path}: the folder {parent} does not exist; create it first or choose "
            "another output path"
        )
    if path.is_dir():
        raise ValueError(f"cannot write {path}: a folder of that name exists; choose a file name")
    return parent


def write_files_atomic(files: dict[Path, str]) -> None:
    """Write each ``{path: text}`` to a temporary file beside it, then ``os.replace`` them all into
    place. Nothing is renamed until every temporary file is complete; on any error the temporary
    files are removed and the targets are left as they were."""
    temps: list[tuple[str, Path]] = []
    try:
        for path, text in files.items():
            parent = parent_folder(path)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
            temps.append((tmp, path))
            os.chmod(tmp, 0o644)  # mkstemp makes 0600; an output file is readable like any other
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
        for tmp, path in temps:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in temps:
            if os.path.exists(tmp):
                os.unlink(tmp)
        raise


def write_text_atomic(path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temporary file in the same folder + ``os.replace``)."""
    path = Path(path)
    write_files_atomic({path: text})
    return path


def read_text(path, what: str) -> str:
    """The text of ``path``, or a ``ValueError`` naming the file when it is missing / unreadable."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what} file {path} does not exist (or is not a file); check the path")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path.name}: not a UTF-8 text file ({exc}); is this the right file?") from exc


def load_json(path) -> object:
    """Parsed JSON of ``path``; ``ValueError`` naming the file and the line on a syntax error."""
    path = Path(path)
    text = read_text(path, "JSON")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{path.name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); fix "
            "the file or re-export it"
        ) from exc


def image_names(metadata: dict, n: int) -> list[str] | None:
    """``metadata["image_names"]`` when it is a list of ``n`` unique strings in sorted order (so
    that readers that order frames by name give the frames back in the same order), else None."""
    names = metadata.get("image_names") if isinstance(metadata, dict) else None
    if not isinstance(names, (list, tuple)) or len(names) != n:
        return None
    if not all(isinstance(s, str) and s and s.strip() == s and " " not in s for s in names):
        return None
    if len(set(names)) != n or list(names) != sorted(names):
        return None
    return list(names)


def frame_names(n: int, prefix: str = "") -> list[str]:
    """Default image names ``frame_00001.png`` ... (1-based, as nerfstudio's own tools write)."""
    return [f"{prefix}frame_{k + 1:05d}.png" for k in range(n)]


