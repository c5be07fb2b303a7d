"""Files of the pack: reading text with errors that name the file, atomic writes, and the image-name
rules shared by the nerfstudio and COLMAP formats.

Every file the pack writes (trajectories, PNG raxel folders, videos, previews, models and checkpoints,
DCC exports, downloads) goes through :func:`atomic_path` or :func:`write_files_atomic`: it is written
under a hidden temporary name in the target folder (``.NAME.<12 hex>.partial<suffix>``) and renamed
over the target with ``os.replace`` only when complete. A write that fails, is interrupted (Ctrl-C) or
killed leaves the previous file (or none), never a partial one; a killed writer can leave only a hidden
``*.partial*`` file, which no reader of the pack takes for output. Files are created with mode
``0o666`` and folders ``0o777`` less the process umask (0644 / 0755 under the usual umask 022), as
``open`` would, not the 0600 of ``tempfile.mkstemp``."""
from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Largest JSON or text file the readers load (bytes): a trajectory of 100 000 frames is ~50 MB.
MAX_TEXT_BYTES = 256 * 1024 * 1024
#: Largest JSON text given inline (a node's widget, an API prompt value) that the parsers take (bytes).
MAX_INLINE_JSON_BYTES = 16 * 1024 * 1024
#: Marker in the temporary names of :func:`atomic_path` (``.NAME.<hex>.partial<suffix>``).
PARTIAL_MARKER = ".partial"


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


def temporary_name(path: Path) -> Path:
    """A fresh hidden name beside ``path`` for writing it: ``.NAME.<12 hex>.partial<suffix>`` (the
    suffix kept, so that PyAV / Pillow pick the container from it)."""
    return path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}{PARTIAL_MARKER}{path.suffix}"


def current_umask() -> int:
    """The process umask, read from ``/proc/self/status`` where there is one (``os.umask`` sets it to
    read it, which another thread could see for a moment)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


@contextmanager
def atomic_path(path, folder: bool = False) -> Iterator[Path]:
    """``with atomic_path(target) as tmp:`` write the file (or, with ``folder``, fill the folder) at
    ``tmp``; on a normal exit ``tmp`` is renamed over ``target`` (``os.replace``), on any exception,
    Ctrl-C included, it is removed and ``target`` is left as it was.

    Args:
        path: the file (or folder) to write; its folder must exist. A ``folder`` target may exist
            only as an empty folder (it is replaced).
        folder: create ``tmp`` as an empty folder (mode 0777 less the umask) for the caller to fill.
    Yields:
        ``Path`` of the temporary sibling (:func:`temporary_name`); a file there is created by the
        caller; before the rename it is given mode 0666 (a folder 0777) less the umask, whatever
        mode the library that wrote it chose (safetensors creates 0600).
    Raises:
        ValueError: the target's folder does not exist, or a file target is an existing folder.
    """
    path = Path(path)
    if folder:
        if not path.parent.is_dir():
            raise ValueError(f"cannot write {path}: the folder {path.parent} does not exist; create it first")
    else:
        parent_folder(path)
    tmp = temporary_name(path)
    try:
        if folder:
            os.mkdir(tmp, 0o777)
        yield tmp
        # libraries may create their file 0600 (safetensors does): give it what open() would
        os.chmod(tmp, (0o777 if folder else 0o666) & ~current_umask())
        if folder and path.is_dir():
            path.rmdir()                                   # an empty folder (checked by the caller)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def write_files_atomic(files: dict[Path, str | bytes]) -> None:
    """Write each ``{path: text or bytes}`` to a temporary file beside it (:func:`temporary_name`,
    mode 0666 less the umask), then ``os.replace`` them all into place. Nothing is renamed until
    every temporary file is complete; on any error (Ctrl-C included) the temporary files are
    removed and the targets are left as they were.

    Raises:
        ValueError: a target's folder does not exist or a target is a folder (:func:`parent_folder`).
    """
    temps: list[tuple[Path, Path]] = []
    try:
        for path, data in files.items():
            path = Path(path)
            parent_folder(path)
            tmp = temporary_name(path)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)     # the kernel applies the umask
            temps.append((tmp, path))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data.encode("utf-8") if isinstance(data, str) else bytes(data))
                handle.flush()
                os.fsync(handle.fileno())
        for tmp, path in temps:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in temps:
            _remove(tmp)
        raise


def write_text_atomic(path, text: str) -> Path:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` atomically (:func:`write_files_atomic`)."""
    path = Path(path)
    write_files_atomic({path: text})
    return path


def write_bytes_atomic(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`write_files_atomic`)."""
    path = Path(path)
    write_files_atomic({path: data})
    return path


def check_output_file(path) -> Path:
    """Check, before any work starts, that a file can be written at ``path``: its folder exists, is
    writable, and ``path`` is not a folder. Returns ``Path(path)``.

    Raises:
        ValueError: naming the path and the fix.
    """
    path = Path(path)
    parent = parent_folder(path)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write {path}: the folder {parent} is not writable; choose another output path")
    return path


def check_output_folder(path, must_be_empty: bool = False) -> Path:
    """Check, before any work starts, that ``path`` can be an output folder: it is a folder or can be
    created (no file of that name; the nearest existing parent is a writable folder). Returns it.

    Raises:
        ValueError: naming the path and the fix.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"cannot write into {path}: it is a file, not a folder; give a folder path")
    if must_be_empty and path.is_dir() and any(path.iterdir()):
        raise ValueError(f"{path} is not empty; give a new or empty output folder")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(f"cannot create the folder {path}: {probe} is a file; choose another output path")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write into {path}: {probe} is not writable; choose another output path")
    return path


def read_text(path, what: str) -> str:
    """The text of ``path``, or a ``ValueError`` naming the file when it is missing, unreadable or
    over :data:`MAX_TEXT_BYTES`, and the line and column of the first byte that is not UTF-8."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what} file {path} does not exist (or is not a file); check the path")
    size = path.stat().st_size
    if size > MAX_TEXT_BYTES:
        raise ValueError(f"{path.name} is {size / 2**20:.0f} MiB, over the {MAX_TEXT_BYTES / 2**20:.0f} MiB limit of "
                         f"{what} files; is this the right file? (a trajectory of 100 000 frames is ~50 MiB)")
    try:
        data = path.read_bytes()
    except PermissionError as exc:
        raise ValueError(f"cannot read {path}: permission denied; check its permissions") from exc
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


def check_inline_json_size(text, what: str) -> None:
    """Refuse inline JSON text (str or bytes) over :data:`MAX_INLINE_JSON_BYTES` before parsing it.

    Raises:
        ValueError: ``"WHAT is N MiB of JSON, over the 16 MiB limit; ..."``.
    """
    size = len(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    if size > MAX_INLINE_JSON_BYTES:
        raise ValueError(f"{what} is {size / 2**20:.1f} MiB of JSON, over the {MAX_INLINE_JSON_BYTES / 2**20:.0f} MiB "
                         "limit of text typed or pasted into a node; load it from a file instead")


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


