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
    """The text of ``path``, or a ``ValueError`` naming the file when it is missing / unreadable,
    and the line and column of the first byte that is not UTF-8."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what} file {path} does not exist (or is not a file); check the path")
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ValueError(
            f"{path.name} line {line}: not a UTF-8 text file (byte 0x{data[exc.start]:02x} at column {column}); "
            "is this the right file?"
        ) from None


#: Integers of more digits than this are beyond float64 (max ~1.8e308) and are refused when read.
MAX_INTEGER_DIGITS = 308


class JSONTextError(ValueError):
    """JSON text that cannot be parsed. ``problem`` is the reason without a subject (``"not valid
    JSON (Expecting value at line 1 column 1)"``), so that callers can phrase the error for what the
    text is (``f"keyframes are {problem}"``); ``str()`` is ``f"{source}: {problem}; ..."``."""

    def __init__(self, source: str, problem: str):
        super().__init__(f"{source}: {problem}; fix the file or re-export it")
        self.source = source
        self.problem = problem


class _NumberTooLarge(ValueError):
    pass


def _bounded_int(token: str) -> int:
    if len(token.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise _NumberTooLarge(token)
    return int(token)


def parse_json(text: str | bytes, source: str) -> object:
    """Parsed JSON of ``text`` (str, or UTF-8 bytes).

    Raises:
        JSONTextError: (a ``ValueError``, one line, starting with ``source``: a file or widget name)
            for a syntax error (line and column), bytes that are not UTF-8 (the line of the bad byte),
            an integer of more than :data:`MAX_INTEGER_DIGITS` digits (beyond float64; Python's own
            4300-digit limit would raise a bare ``ValueError``) with its line, and nesting deeper
            than the parser's recursion limit (``RecursionError`` otherwise). ``NaN`` / ``Infinity``
            literals and floats that overflow to ``inf`` are returned as floats: the readers refuse
            them where a value must be finite, naming the frame and field.
    """
    if isinstance(text, (bytes, bytearray)):
        data = bytes(text)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise JSONTextError(source, f"not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line})") from None
    try:
        return json.loads(text, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        raise JSONTextError(
            source, f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except _NumberTooLarge as exc:
        token = str(exc)
        line = text.count("\n", 0, max(text.find(token), 0)) + 1
        raise JSONTextError(
            source,
            f"not readable: the integer {token[:12]}... on line {line} has {len(token.lstrip('-'))} digits, "
            "beyond any float",
        ) from None
    except RecursionError:
        raise JSONTextError(source, "not readable: JSON nested more deeply than the parser allows") from None


def load_json(path) -> object:
    """Parsed JSON of ``path``; ``ValueError`` naming the file and the line on a syntax error
    (see :func:`parse_json`)."""
    path = Path(path)
    return parse_json(read_text(path, "JSON"), path.name)


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


