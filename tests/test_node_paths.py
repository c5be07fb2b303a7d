"""The nodes' path refusal (nodes/paths.py) without a ComfyUI server: ComfyUI's folder lookup
(``folder_paths``) is replaced by a stub module that returns two temporary folders, and the module
is loaded from its file. The same refusals against the real server: tests/test_comfyui_e2e.py and
tests/test_interop_nodes_e2e.py."""
from __future__ import annotations

import importlib.util
import os
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """``(paths module, input folder, output folder)`` with ``folder_paths`` stubbed."""
    inp, out = tmp_path / "comfy" / "input", tmp_path / "comfy" / "output"
    inp.mkdir(parents=True)
    out.mkdir(parents=True)
    stub = types.ModuleType("folder_paths")
    stub.get_input_directory = lambda: str(inp)
    stub.get_output_directory = lambda: str(out)
    monkeypatch.setitem(sys.modules, "folder_paths", stub)
    spec = importlib.util.spec_from_file_location("raxel_node_paths_under_test", ROOT / "nodes" / "paths.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, inp.resolve(), out.resolve()


@pytest.mark.parametrize("name", ["../secret.json", "a/../../secret.json", "..\\secret.json", "/etc/passwd",
                                  "C:\\Windows\\win.ini", "\\\\server\\share\\x.json", "  "])
def test_names_leaving_the_input_folder_are_refused(folders, name):
    paths, inp, _ = folders
    (inp.parent / "secret.json").write_text("{}")
    with pytest.raises(ValueError, match="input folder"):
        paths.resolve_input_file(name)


def test_a_link_pointing_outside_is_refused_and_not_listed(folders, tmp_path):
    paths, inp, _ = folders
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "poses.json").write_text("{}")
    os.symlink(outside, inp / "link")
    os.symlink(outside / "poses.json", inp / "direct.json")
    for name in ("link/poses.json", "direct.json"):
        with pytest.raises(ValueError, match="resolves outside ComfyUI's input folder"):
            paths.resolve_input_file(name)
    assert paths.list_pose_files() == []


def test_names_inside_are_resolved_and_listed(folders):
    paths, inp, _ = folders
    (inp / "shots").mkdir()
    (inp / "shots" / "a.json").write_text("{}")
    (inp / "shots" / "colmap").mkdir()
    (inp / "shots" / "colmap" / "cameras.txt").write_text("")
    assert paths.resolve_input_file("shots/a.json") == inp / "shots" / "a.json"
    assert paths.resolve_input_file("shots\\a.json") == inp / "shots" / "a.json"
    assert paths.resolve_input_file("shots/x/../a.json") == inp / "shots" / "a.json"   # stays inside
    assert paths.list_pose_files() == ["shots/a.json", "shots/colmap"]
    with pytest.raises(ValueError, match="does not exist in ComfyUI's input folder"):
        paths.resolve_input_file("shots/missing.json")


@pytest.mark.parametrize("prefix", ["../x", "/tmp/x", "a/../../x", "sub/"])
def test_output_prefixes_leaving_the_output_folder_are_refused_before_any_folder_is_made(folders, prefix):
    paths, _, out = folders
    before = sorted(out.parent.rglob("*"))
    with pytest.raises(ValueError, match="output folder|names no file"):
        paths.resolve_output_prefix(prefix)
    assert sorted(out.parent.rglob("*")) == before


def test_output_prefix_inside_makes_its_subfolder(folders):
    paths, _, out = folders
    folder, subfolder, stem = paths.resolve_output_prefix("trajectories/shot")
    assert (folder, subfolder, stem) == (out / "trajectories", "trajectories", "shot") and folder.is_dir()
