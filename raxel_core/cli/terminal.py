"""What several commands share: the ``HxW`` size option and a progress bar on stderr."""
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
            if done >= total:
                print(file=sys.stderr)

    return progress
