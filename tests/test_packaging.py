"""Packaging: every third-party module the pack imports is declared, and requirements.txt (what
ComfyUI-Manager installs) equals pyproject's runtime dependencies."""
import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
#: Modules a running ComfyUI provides to the node adapters (never installed by the pack).
COMFYUI_MODULES = {"comfy", "comfy_api", "comfy_extras", "folder_paths", "server", "node_helpers", "nodes"}
#: ComfyUI's own web framework (its server is built on it; the pack's HTTP route in nodes/preset_route.py
#: uses it, and is only imported inside a running ComfyUI): it is ComfyUI's requirement, not the pack's.
COMFYUI_MODULES |= {"aiohttp"}
#: The pack's own top-level packages.
OWN = {"raxel_core", "nodes"}


def _requirement_name(spec: str) -> str:
    return re.split(r"[<>=!~;\[ ]", spec, maxsplit=1)[0].strip().lower().replace("_", "-")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _imported_top_levels(folder: Path) -> dict[str, str]:
    """Absolute imports of every ``.py`` under ``folder``: top-level module -> first file using it."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def test_every_third_party_import_is_declared():
    project = _pyproject()["project"]
    declared = {_requirement_name(s) for s in project["dependencies"]}
    for extra in project.get("optional-dependencies", {}).values():
        declared |= {_requirement_name(s) for s in extra}
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for folder in ("raxel_core", "nodes"):
        for module, where in _imported_top_levels(ROOT / folder).items():
            if module in sys.stdlib_module_names or module in OWN or module in COMFYUI_MODULES:
                continue
            dists = {d.lower().replace("_", "-") for d in distributions.get(module, [])}
            if not dists and module.lower().replace("_", "-") in declared:
                continue                                 # an optional extra not installed here
            if not dists:
                missing.append(f"{module} (imported by {where}) is not installed, so its distribution is unknown")
            elif not dists & declared:
                missing.append(f"{module} (imported by {where}) comes from {sorted(dists)}, not declared in pyproject")
    assert not missing, "undeclared imports:\n" + "\n".join(missing)


def test_requirements_txt_equals_runtime_dependencies():
    lines = [ln.strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    requirements = [ln for ln in lines if ln and not ln.startswith("#")]
    assert requirements == _pyproject()["project"]["dependencies"]


def test_license_file_matches_declared_license():
    assert _pyproject()["project"]["license"] == {"text": "Apache-2.0"}
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0" in text
