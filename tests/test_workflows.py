"""The shipped example workflows: both formats are generated from one definition
(workflows/build_workflows.py), the committed files equal what it writes, and each UI file
describes the same graph as its API twin (the one the server runs in tests/test_comfyui_e2e.py)."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / "workflows"


def _load_builder():
    spec = importlib.util.spec_from_file_location("build_workflows", WORKFLOWS / "build_workflows.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


builder = _load_builder()
NAMES = [w.name for w in builder.WORKFLOWS]


def test_committed_files_are_what_the_generator_writes():
    expected = builder.expected_files()
    assert expected, "the generator defines no workflow"
    for path, text in expected.items():
        assert path.is_file(), f"{path.relative_to(ROOT)} is missing: run python workflows/build_workflows.py"
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.relative_to(ROOT)} differs from the generator's output: edit "
            "workflows/build_workflows.py, not the JSON, and rerun it"
        )


def test_no_stray_workflow_files():
    written = set(builder.expected_files())
    present = set(WORKFLOWS.glob("*.json")) | set((WORKFLOWS / "api").glob("*.json"))
    assert present == written, f"files not written by the generator: {sorted(map(str, present - written))}"


@pytest.mark.parametrize("name", NAMES)
def test_ui_file_matches_its_api_twin(name):
    ui = json.loads((WORKFLOWS / f"{name}.json").read_text())
    api = json.loads((WORKFLOWS / "api" / f"{name}.json").read_text())
    assert ui["version"] == 0.4
    nodes = {n["id"]: n for n in ui["nodes"]}
    assert {str(i) for i in nodes} == set(api)
    assert ui["last_node_id"] == max(nodes) and ui["last_link_id"] == len(ui["links"])
    links = {l[0]: l for l in ui["links"]}
    for node_id, node in nodes.items():
        entry = api[str(node_id)]
        assert entry["class_type"] == node["type"]
        spec = builder.NODE_TYPES[node["type"]]
        # widgets_values, in widget order, are the API's literal inputs ("upload" is UI-only).
        literal = {k: v for k, v in entry["inputs"].items() if not isinstance(v, list)}
        values = dict(zip(spec["widgets"], node["widgets_values"]))
        values.pop("upload", None)
        assert values == literal, f"node {node_id} widgets differ from the API inputs"
        # every linked UI socket is an API link to the same node and slot, with matching types.
        linked = {k: v for k, v in entry["inputs"].items() if isinstance(v, list)}
        ui_linked = {}
        for slot, socket in enumerate(node["inputs"]):
            if socket["link"] is None:
                continue
            link_id, origin, origin_slot, target, target_slot, type_ = links[socket["link"]]
            assert (target, target_slot) == (node_id, slot)
            assert nodes[origin]["outputs"][origin_slot]["type"] == type_ == socket["type"]
            assert link_id in nodes[origin]["outputs"][origin_slot]["links"]
            ui_linked[socket["name"]] = [str(origin), origin_slot]
        assert ui_linked == linked, f"node {node_id} links differ between the UI and API files"


def test_template_browser_finds_only_ui_files():
    # ComfyUI lists custom_nodes/<pack>/*workflow*/*.json: files directly in the folder, so the
    # API twins in workflows/api/ are not offered as canvas templates.
    listed = sorted(p.name for p in WORKFLOWS.glob("*.json"))
    assert listed == sorted(f"{n}.json" for n in NAMES)
    for path in WORKFLOWS.glob("*.json"):
        assert "nodes" in json.loads(path.read_text()), f"{path.name} is not a UI-format workflow"


def test_every_optional_ui_socket_is_marked_and_required_ones_are_linked():
    for name in NAMES:
        ui = json.loads((WORKFLOWS / f"{name}.json").read_text())
        for node in ui["nodes"]:
            spec = {n: opt for n, _, opt in builder.NODE_TYPES[node["type"]]["inputs"]}
            for socket in node["inputs"]:
                if spec[socket["name"]]:
                    assert socket.get("shape") == 7
                else:
                    assert socket["link"] is not None, f"{name}: {node['type']}.{socket['name']} unlinked"
