"""Fixtures and markers shared by the tests (pytest loads this file; no test imports it).

Fixtures:

* ``server``: a real ComfyUI server with only this pack (:func:`comfyui_server.start_comfyui`), one per
  test module; skipped with the reason while ``RAXEL_COMFYUI_DIR`` is not set.
* ``shared_file``: ``shared_file("re10k/poses/x.txt")`` is that path under the shared data folder
  (:data:`shared_data.DATA`), or skips the test naming the missing path.

Markers:

* ``comfyui(purpose)``: the test needs a ComfyUI checkout; skipped while ``RAXEL_COMFYUI_DIR`` is not
  set, with :func:`comfyui_server.comfyui_skip_reason` ("... installed to <purpose>").
* ``shared_data(*paths)``: the test needs these files or folders under the shared data folder; skipped
  naming the first one absent.

The modules stay importable on their own: tests/comfyui_server.py (the server, its HTTP calls and the
skip reason) and tests/shared_data.py (where the data is) hold what module-level code needs.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from comfyui_server import COMFYUI_DIR, SHIMS, comfyui_skip_reason, start_comfyui
from shared_data import DATA

# The browser tests' fixtures module (a plugin of tests/test_browser*.py): asserts in it explain themselves too.
pytest.register_assert_rewrite("browser_session")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "comfyui(purpose): needs a real ComfyUI checkout (RAXEL_COMFYUI_DIR)")
    config.addinivalue_line("markers", "shared_data(*paths): needs these paths under the shared data folder")


def shared_data_skip_reason(*paths: str) -> str | None:
    """None when every one of ``paths`` (relative to the shared data folder) exists; else the skip reason."""
    missing = next((DATA / p for p in paths if not (DATA / p).exists()), None)
    if missing is None:
        return None
    return f"{missing} is absent (shared data not available; set RAXEL_SHARED_DATA)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("comfyui")
        if marker is not None and not COMFYUI_DIR:
            item.add_marker(pytest.mark.skip(reason=comfyui_skip_reason(*marker.args or ("run these tests",))))
        for marker in item.iter_markers("shared_data"):
            reason = shared_data_skip_reason(*marker.args)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A ComfyUI server with only this pack (:func:`comfyui_server.start_comfyui`), one per test module."""
    reason = comfyui_skip_reason("run the pack inside a real ComfyUI server")
    if reason:
        pytest.skip(reason)
    with start_comfyui(tmp_path_factory.mktemp("comfyui"), COMFYUI_DIR, SHIMS) as srv:
        yield srv


@pytest.fixture(scope="session")
def shared_file() -> Callable[[str], Path]:
    """``shared_file(relative)``: the path under the shared data folder, or skip the test naming it."""

    def find(relative: str) -> Path:
        reason = shared_data_skip_reason(relative)
        if reason:
            pytest.skip(reason)
        return DATA / relative

    return find
