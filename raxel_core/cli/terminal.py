"""What several commands share: the ``HxW`` size option and progress bars on stderr."""
from __future__ import annotations

import sys
from collections.abc import Callable


def parse_size(text: str | None) -> tuple[int, int] | None:
    """``"240x416"`` -> ``(240, 416)`` (height, width in pixels); None stays None.

    Raises:
        ValueError: not two integers joined by ``x``, or a size that is not positive.
    """
    if text is None:
        return None
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must be HxW in pixels, e.g. 240x416; got {text!r}") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"--size must be positive, e.g. 240x416; got {text!r}")
    return h, w


def check_trajectory_output(path, format: str | None = None) -> None:
    """Check, before the work starts, that a trajectory can be written at ``path`` (the format from
    the suffix, a folder for COLMAP): a known format and an existing, writable folder.

    Raises:
        ValueError: naming the path and the fix (as :func:`raxel_core.formats.detect_format`,
            :func:`raxel_core.formats.text_files.check_output_file` / ``check_output_folder``).
    """
    from pathlib import Path

    from ..formats import detect_format
    from ..formats.text_files import check_output_file, check_output_folder

    name = format or detect_format(path, for_writing=True)
    if name == "colmap":
        check_output_folder(Path(path))
        if not Path(path).parent.is_dir():
            raise ValueError(f"cannot write the COLMAP model {path}: the folder {Path(path).parent} does not exist; "
                             "create it first")
    else:
        check_output_file(path)


#: Whether a progress bar has left the stderr line unfinished (:func:`end_progress_line` ends it).
_BAR = {"open": False}


def end_progress_line() -> None:
    """End a progress bar's unfinished stderr line, so that an error message starts a line of its own."""
    if _BAR["open"]:
        _BAR["open"] = False
        print(file=sys.stderr, flush=True)


def progress_printer(label: str) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback that redraws ``label [####    ]  42%`` on stderr when the
    whole percentage changes, and ends the line when ``done >= total``."""
    state = {"last": -1}

    def progress(done: int, total: int) -> None:
        pct = int(100 * done / max(total, 1))
        if pct != state["last"]:
            state["last"] = pct
            bar = "#" * (pct // 4)
            print(f"\r{label} [{bar:<25}] {pct:3d}%", end="", file=sys.stderr, flush=True)
            _BAR["open"] = True
            if done >= total:
                end_progress_line()

    return progress


class TerminalProgress:
    """A one-line progress bar on a terminal stream (``progress`` callback for
    :func:`raxel_core.headless.run_workflow`, ``raxel run``): nodes done / to run, the running node's
    class, and its own step bar (``progress`` messages)."""

    def __init__(self, stream=None, width: int = 30):
        self.stream = stream or sys.stderr
        self.width = width
        self._last_len = 0

    def __call__(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "message":
            self._clear()
            print(event["text"], file=self.stream, flush=True)
            return
        if kind == "progress":
            done, total = event["nodes_done"], max(event["nodes_total"], 1)
            filled = int(self.width * min(done, total) / total)
            bar = "#" * filled + "-" * (self.width - filled)
            line = f"[{bar}] {done}/{total} nodes"
            if event.get("node"):
                line += f"  {event['node']} {event.get('node_type', '')}".rstrip()
            if event.get("max"):
                line += f"  step {event['value']}/{event['max']}"
            self._write(line)
        elif kind == "done":
            self._clear()

    def _write(self, line: str) -> None:
        pad = max(0, self._last_len - len(line))
        if getattr(self.stream, "isatty", lambda: False)():
            self.stream.write("\r" + line + " " * pad)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self._last_len = len(line)

    def _clear(self) -> None:
        if self._last_len and getattr(self.stream, "isatty", lambda: False)():
            self.stream.write("\r" + " " * self._last_len + "\r")
            self.stream.flush()
        self._last_len = 0
