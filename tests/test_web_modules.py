"""The pack's browser modules as ComfyUI loads them: it imports every .js under WEB_DIRECTORY (web/) as
an extension, so exactly one file registers the extension, the others only export (loading them does
nothing), every relative import names a file that is there, and no test file sits where ComfyUI would
load it (the JS tests live in tests/js/)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
JS = sorted((WEB / "js").glob("*.js"))
IMPORT = re.compile(r'^\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"', re.M | re.S)


def test_exactly_one_module_registers_the_extension():
    registering = [p.name for p in JS if "registerExtension(" in p.read_text(encoding="utf-8")]
    assert registering == ["raxel_extension.js"]


def test_every_relative_import_resolves():
    assert JS
    for path in JS:
        for target in IMPORT.findall(path.read_text(encoding="utf-8")):
            if target.endswith("/scripts/app.js"):  # ComfyUI's own front end, served beside the extensions
                continue
            assert target.startswith("."), f"{path.name} imports {target}: only relative imports are served"
            assert (path.parent / target).resolve().is_file(), f"{path.name} imports {target}, which is not there"


def test_no_test_files_where_comfyui_loads_extensions():
    tests = [p for p in WEB.rglob("*.js") if re.search(r"(\.test\.|\.spec\.|/tests?/)", str(p.relative_to(WEB)))]
    assert not tests, f"ComfyUI would load these as extensions; move them to tests/js/: {tests}"


def test_upload_suffixes_are_the_ones_load_camera_path_lists():
    source = (WEB / "js" / "raxel_upload.js").read_text(encoding="utf-8")
    listed = re.search(r"POSE_UPLOAD_SUFFIXES = \[(.*?)\]", source).group(1)
    python = re.search(r"POSE_FILE_SUFFIXES = \((.*?)\)", (ROOT / "nodes" / "paths.py").read_text(encoding="utf-8"))
    assert re.findall(r'"([^"]+)"', listed) == re.findall(r'"([^"]+)"', python.group(1))
