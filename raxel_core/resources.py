"""Memory guards: estimate what a large array will take before allocating it, and refuse with the
estimate and the limit instead of being killed by the operating system part way.

The limit is ``RAXEL_MEMORY_LIMIT_MB`` (megabytes) when that environment variable is set, else 75 % of
this machine's physical memory. Callers pass the bytes they are about to allocate (the array's own
size times the copies the step makes, stated where they call).
"""
from __future__ import annotations

import os

#: Environment variable overriding the memory limit (in MiB).
LIMIT_VARIABLE = "RAXEL_MEMORY_LIMIT_MB"
#: Share of physical memory allowed when :data:`LIMIT_VARIABLE` is not set.
DEFAULT_SHARE = 0.75


def physical_memory_bytes() -> int | None:
    """Physical memory of this machine in bytes (``os.sysconf``), or None where it cannot be read."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def memory_limit_bytes() -> tuple[int | None, str]:
    """``(limit in bytes or None, where it comes from)``: ``RAXEL_MEMORY_LIMIT_MB`` or 75 % of RAM.

    Raises:
        ValueError: ``RAXEL_MEMORY_LIMIT_MB`` is set but is not a positive number.
    """
    text = os.environ.get(LIMIT_VARIABLE)
    if text:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not value > 0:
            raise ValueError(f"{LIMIT_VARIABLE}={text!r} is not a positive number of MiB; unset it or give e.g. 8000")
        return int(value * 2**20), f"{LIMIT_VARIABLE}={text}"
    total = physical_memory_bytes()
    if total is None:
        return None, "unknown"
    return int(total * DEFAULT_SHARE), f"{DEFAULT_SHARE:.0%} of this machine's {format_bytes(total)} of RAM"


def format_bytes(n: float) -> str:
    """``1536 * 2**20`` -> ``"1.5 GiB"`` (binary units)."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"


def check_memory(nbytes: float, what: str, fix: str) -> None:
    """Refuse an allocation of about ``nbytes`` bytes when it exceeds :func:`memory_limit_bytes`.

    Args:
        nbytes: the estimated peak bytes of the step.
        what: the step, e.g. ``"decoding 455 frames of 640x480"``.
        fix: what the user can do, e.g. ``"pass max_frames or a smaller video"``.
    Raises:
        ValueError: ``"WHAT needs about X of memory, over the limit of Y (SOURCE); FIX"``.
    """
    limit, source = memory_limit_bytes()
    if limit is not None and nbytes > limit:
        raise ValueError(f"{what} needs about {format_bytes(nbytes)} of memory, over the limit of "
                         f"{format_bytes(limit)} ({source}); {fix}")
