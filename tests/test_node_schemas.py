"""The templates' node table is the nodes' own: workflows/node_schemas.py reads every ``define_schema`` in
nodes/*.py from the source (CI has no ComfyUI to import them with), workflows/build_workflows.py writes
the templates from it, and a widget or socket renamed in a node but not in the templates fails here, not
first on a user's canvas. (tests/test_comfyui_e2e.py checks the same table against a running server.)"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import build_workflows
import node_schemas
import pytest

ROOT = Path(__file__).resolve().parents[1]

SCHEMAS = node_schemas.read_node_schemas()
#: A template node of the pack and a widget of it to rename: (node module, node_id, widget).
RENAMED = ("pose_nodes.py", "RaxelPoseFromVideo", "focal_px")


def test_every_node_of_the_pack_is_read():
    declared = []
    for path in sorted((ROOT / "nodes").glob("*.py")):
        declared += re.findall(r'node_id="(\w+)"', path.read_text(encoding="utf-8"))
    assert list(SCHEMAS) == declared
    for schema in SCHEMAS.values():
        assert schema.outputs, f"{schema.node_id} has no output"
        names = [i.name for i in schema.inputs]
        assert len(names) == len(set(names)), f"{schema.node_id}: input names repeat"


def test_the_templates_use_the_nodes_table():
    for node_id, schema in SCHEMAS.items():
        assert build_workflows.NODE_TYPES[node_id] == schema.node_type()
    assert not set(build_workflows.CORE_NODE_TYPES) & set(SCHEMAS), "a core node type shadows a pack node"


@pytest.mark.parametrize("workflow", build_workflows.WORKFLOWS, ids=lambda w: w.name)
def test_template_widget_values_fit_the_nodes_schema(workflow):
    for node in workflow.nodes:
        if node.type not in SCHEMAS:
            continue
        widgets = SCHEMAS[node.type].widgets
        where = f"{workflow.name} node {node.id} ({node.type})"
        assert list(node.widgets) == [w.name for w in widgets], f"{where}: widget names differ from the node's"
        for spec in widgets:
            value = node.widgets[spec.name]
            expected = {"INT": int, "FLOAT": (int, float), "STRING": str, "BOOLEAN": bool, "COMBO": str}[spec.type]
            assert isinstance(value, expected) and not (spec.type != "BOOLEAN" and isinstance(value, bool)), (
                f"{where}: {spec.name}={value!r} is not {spec.type}")
            if spec.options is not None:
                assert value in spec.options, f"{where}: {spec.name}={value!r} is not one of {spec.options}"
            if spec.minimum is not None:
                assert value >= spec.minimum, f"{where}: {spec.name}={value!r} < min {spec.minimum}"
            if spec.maximum is not None:
                assert value <= spec.maximum, f"{where}: {spec.name}={value!r} > max {spec.maximum}"


def _nodes_with(tmp_path: Path, module: str, old: str, new: str) -> Path:
    """A copy of nodes/ with ``old`` replaced by ``new`` once in ``module``."""
    copy = tmp_path / "nodes"
    shutil.copytree(ROOT / "nodes", copy, ignore=shutil.ignore_patterns("__pycache__"))
    text = (copy / module).read_text(encoding="utf-8")
    assert text.count(old) >= 1, f"{old} not in {module}: update RENAMED"
    (copy / module).write_text(text.replace(old, new, 1), encoding="utf-8")
    return copy


def test_a_widget_renamed_in_a_node_but_not_in_the_templates_fails(tmp_path, monkeypatch):
    module, node_id, widget = RENAMED
    renamed = node_schemas.read_node_schemas(_nodes_with(tmp_path, module, f'"{widget}"', f'"{widget}_renamed"'))
    before = [w.name for w in SCHEMAS[node_id].widgets]
    after = [f"{name}_renamed" if name == widget else name for name in before]
    assert widget in before and [w.name for w in renamed[node_id].widgets] == after
    monkeypatch.setitem(build_workflows.NODE_TYPES, node_id, renamed[node_id].node_type())
    with pytest.raises(ValueError, match=re.escape(f"widgets {before} != {after}")):
        build_workflows.expected_files()


def test_a_socket_renamed_in_a_node_but_not_in_the_templates_fails(tmp_path, monkeypatch):
    renamed = node_schemas.read_node_schemas(
        _nodes_with(tmp_path, "raxel_nodes.py", 'RaxelMetadata.Input("metadata"', 'RaxelMetadata.Input("meta"'))
    monkeypatch.setitem(build_workflows.NODE_TYPES, "RaxelPoseDecode", renamed["RaxelPoseDecode"].node_type())
    with pytest.raises(ValueError, match="bad link metadata"):
        build_workflows.expected_files()


def test_an_output_renamed_in_a_node_changes_the_templates(tmp_path, monkeypatch):
    renamed = node_schemas.read_node_schemas(
        _nodes_with(tmp_path, "raxel_nodes.py", 'display_name="metadata"', 'display_name="meta"'))
    monkeypatch.setitem(build_workflows.NODE_TYPES, "RaxelEncode", renamed["RaxelEncode"].node_type())
    changed = [path.name for path, text in build_workflows.expected_files().items()
               if path.read_text(encoding="utf-8") != text]
    assert build_workflows.ui_path("raxel_author_encode_decode").name in changed


def test_a_schema_form_the_reader_does_not_know_fails_loudly(tmp_path):
    copy = _nodes_with(tmp_path, "raxel_nodes.py", 'RaxelMetadata.Input("metadata"',
                       'make_input("metadata"')
    with pytest.raises(ValueError, match="raxel_nodes.py class RaxelPoseDecode"):
        node_schemas.read_node_schemas(copy)
