"""The shipped example workflows: both formats are generated from one definition
(workflows/build_workflows.py), the committed files equal what it writes, and each UI file
describes the same graph as its API twin (the one the server runs in tests/test_comfyui_e2e.py
and tests/test_interop_nodes_e2e.py). Every template carries a Markdown note (UI only), and every
node of the pack has a documentation page with the same sections. (Tooltips on every input and
output are checked against the running server's /object_info in tests/test_interop_nodes_e2e.py.)"""
from __future__ import annotations

import json
import re
from pathlib import Path

import build_workflows as builder
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / "workflows"
DOCS = ROOT / "web" / "docs"
#: Sections every node page has, in this order (what a user looks for, in that order).
DOC_SECTIONS = ["## Inputs", "## Outputs", "## Example", "## Common errors"]



NAMES = [w.name for w in builder.WORKFLOWS]


def _pack_node_ids() -> list[str]:
    """Every ``node_id`` declared in nodes/*.py (read from the source: the node modules import
    ComfyUI, which this test does not need)."""
    ids = []
    for path in sorted((ROOT / "nodes").glob("*.py")):
        ids += re.findall(r'node_id="(Raxel\w+)"', path.read_text(encoding="utf-8"))
    return ids


PACK_NODES = _pack_node_ids()


def _ui_nodes(ui: dict) -> tuple[dict, list]:
    """(nodes that run, keyed by id; the note nodes) of a UI workflow."""
    runnable = {n["id"]: n for n in ui["nodes"] if n["type"] != builder.NOTE_TYPE}
    notes = [n for n in ui["nodes"] if n["type"] == builder.NOTE_TYPE]
    return runnable, notes


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
    ui = json.loads(builder.ui_path(name).read_text())
    api = json.loads((WORKFLOWS / "api" / f"{name}.json").read_text())
    assert ui["version"] == 0.4
    nodes, notes = _ui_nodes(ui)
    assert {str(i) for i in nodes} == set(api)
    assert ui["last_node_id"] == max(n["id"] for n in ui["nodes"])
    assert ui["last_link_id"] == len(ui["links"])
    links = {link[0]: link for link in ui["links"]}
    for node_id, node in nodes.items():
        entry = api[str(node_id)]
        assert entry["class_type"] == node["type"]
        spec = builder.NODE_TYPES[node["type"]]
        # widgets_values, in widget order, are the API's literal inputs ("upload" and the seed's
        # "control_after_generate" are UI-only; a widget fed by a link is a link in the API).
        literal = {k: v for k, v in entry["inputs"].items() if not isinstance(v, list)}
        values = dict(zip(spec["widgets"], node["widgets_values"], strict=False))
        linked_widgets = {i["name"] for i in node["inputs"] if "widget" in i}
        values = {k: v for k, v in values.items() if k not in builder.UI_ONLY_WIDGETS | linked_widgets}
        assert values == literal, f"node {node_id} widgets differ from the API inputs"
        # every linked UI socket is an API link to the same node and slot, with matching types.
        linked = {k: v for k, v in entry["inputs"].items() if isinstance(v, list)}
        ui_linked = {}
        for slot, socket in enumerate(node["inputs"]):
            if socket["link"] is None:
                continue
            link_id, origin, origin_slot, target, target_slot, type_ = links[socket["link"]]
            assert (target, target_slot) == (node_id, slot)
            # a link carries its source's type; a multi-type socket ("IMAGE,VIDEO") accepts any listed
            assert nodes[origin]["outputs"][origin_slot]["type"] == type_ and type_ in socket["type"].split(",")
            assert link_id in nodes[origin]["outputs"][origin_slot]["links"]
            ui_linked[socket["name"]] = [str(origin), origin_slot]
        assert ui_linked == linked, f"node {node_id} links differ between the UI and API files"


def test_template_browser_finds_only_ui_files():
    # ComfyUI lists custom_nodes/<pack>/*workflow*/*.json: files directly in the folder, so the
    # API twins in workflows/api/ are not offered as canvas templates.
    listed = sorted(p.name for p in WORKFLOWS.glob("*.json"))
    assert listed == sorted(builder.ui_path(n).name for n in NAMES)
    for path in WORKFLOWS.glob("*.json"):
        assert "nodes" in json.loads(path.read_text()), f"{path.name} is not a UI-format workflow"


def test_every_optional_ui_socket_is_marked_and_required_ones_are_linked():
    for name in NAMES:
        ui = json.loads(builder.ui_path(name).read_text())
        for node in _ui_nodes(ui)[0].values():
            spec = {n: opt for n, _, opt in builder.NODE_TYPES[node["type"]]["inputs"]}
            for socket in node["inputs"]:
                if "widget" in socket:  # a widget fed by a link: linked by definition
                    assert socket["link"] is not None
                    continue
                if spec[socket["name"]]:
                    assert socket.get("shape") == 7
                else:
                    assert socket["link"] is not None, f"{name}: {node['type']}.{socket['name']} unlinked"


@pytest.mark.parametrize("name", NAMES)
def test_every_template_has_a_note_in_the_ui_file_and_none_in_the_api_twin(name):
    ui = json.loads(builder.ui_path(name).read_text())
    api = json.loads((WORKFLOWS / "api" / f"{name}.json").read_text())
    _, notes = _ui_nodes(ui)
    assert notes, f"{name}.json has no {builder.NOTE_TYPE} node explaining it"
    for note in notes:
        text = note["widgets_values"][0]
        assert text.startswith("## ") and len(text) > 200, f"{name}: note too short: {text!r}"
        assert note["inputs"] == [] and note["outputs"] == []
        assert not any(link[1] == note["id"] or link[3] == note["id"] for link in ui["links"])
    # notes are front-end only: the server has no such node type, so the API twin must not hold one
    assert all(entry["class_type"] != builder.NOTE_TYPE for entry in api.values())
    assert {str(n["id"]) for n in notes}.isdisjoint(api)
    # the note names every raxel node of the workflow, by the name shown on the canvas
    raxel_types = {e["class_type"] for e in api.values() if e["class_type"].startswith("Raxel")}
    text = " ".join(" ".join(n["widgets_values"][0].split()) for n in notes)  # lines re-wrapped
    for node_type in raxel_types:
        title = _doc_title(node_type)
        assert title in text, f"{name}: the note never mentions {title}"


def test_the_templates_cover_the_three_tasks():
    used = {w.name: {n.type for n in w.nodes} for w in builder.WORKFLOWS}
    assert any("RaxelPoseFromVideo" in t for t in used.values()), "no pose-from-video template"
    assert any({"RaxelCameraTrajectory", "RaxelEncode"} <= t for t in used.values()), "no author/encode template"
    exports = {"RaxelToCameraCtrlPoses", "RaxelExportBlender", "RaxelExportNerfstudioPath",
               "RaxelToLoad3DCamera", "Preview3D"}
    assert any(exports <= t for t in used.values()), "no export template"


def test_note_type_is_not_a_server_node():
    # The builder's socket table is checked against /object_info; a note must never enter it.
    assert builder.NOTE_TYPE not in builder.NODE_TYPES


def _doc_title(node_id: str) -> str:
    page = DOCS / f"{node_id}.md"
    assert page.is_file(), f"web/docs/{node_id}.md is missing (ComfyUI shows it as the node's help)"
    return page.read_text(encoding="utf-8").splitlines()[0].removeprefix("# ")


def test_the_source_declares_the_pack_nodes():
    assert len(PACK_NODES) >= 14 and len(set(PACK_NODES)) == len(PACK_NODES), PACK_NODES


@pytest.mark.parametrize("node_id", PACK_NODES)
def test_every_node_has_a_doc_page_with_the_standard_sections(node_id):
    text = (DOCS / f"{node_id}.md").read_text(encoding="utf-8") if (DOCS / f"{node_id}.md").is_file() else ""
    assert text.startswith("# "), f"web/docs/{node_id}.md is missing or has no title"
    positions = [text.find("\n" + s + "\n") for s in DOC_SECTIONS]
    assert all(p > 0 for p in positions), f"{node_id}.md lacks one of {DOC_SECTIONS}"
    assert positions == sorted(positions), f"{node_id}.md sections are out of order"
    intro = text[:positions[0]]
    assert len(intro.split()) >= 25, f"{node_id}.md: say what the node does before the inputs"
    for section, start, end in zip(DOC_SECTIONS, positions, positions[1:] + [len(text)], strict=False):
        body = text[start + len(section) + 2:end].strip()
        assert len(body) > 20, f"{node_id}.md: section {section} is empty"


@pytest.mark.parametrize("name", NAMES)
def test_every_node_in_every_workflow_has_a_doc_page_naming_its_sockets(name):
    api = json.loads((WORKFLOWS / "api" / f"{name}.json").read_text())
    for entry in api.values():
        node_type = entry["class_type"]
        if not node_type.startswith("Raxel"):
            continue  # core nodes: ComfyUI documents them
        assert node_type in PACK_NODES
        text = (DOCS / f"{node_type}.md").read_text(encoding="utf-8")
        inputs = text[text.index("## Inputs"):text.index("## Outputs")]
        outputs = text[text.index("## Outputs"):text.index("## Example")]
        spec = builder.NODE_TYPES[node_type]
        for socket in [n for n, _, _ in spec["inputs"]] + spec["widgets"]:
            assert f"**{socket}" in inputs or re.search(rf"\*\*[\w /]*\b{socket}\b", inputs), (
                f"{node_type}.md does not describe input {socket!r}")
        for socket, _ in spec["outputs"]:
            assert re.search(rf"\*\*[\w /]*\b{socket}\b", outputs), (
                f"{node_type}.md does not describe output {socket!r}")


def _ui_files():
    return sorted(WORKFLOWS.glob("*.json"))


@pytest.mark.parametrize("path", _ui_files(), ids=lambda p: p.stem)
def test_no_two_nodes_overlap_on_the_canvas(path):
    """Templates open tidy: no node or note covers another (3D views included)."""
    boxes = [(n["id"], *n["pos"], *n["size"]) for n in json.loads(path.read_text())["nodes"]]
    for i, (a, ax, ay, aw, ah) in enumerate(boxes):
        for b, bx, by, bw, bh in boxes[i + 1:]:
            apart = ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay
            assert apart, f"{path.name}: nodes {a} and {b} overlap"


def test_layout_reserves_room_for_exactly_the_nodes_with_a_3d_view():
    js = (ROOT / "web" / "js" / "raxel_extension.js").read_text()
    block = re.search(r"VIEW_NODES = new Set\(\[(.*?)\]\)", js, re.S).group(1)
    assert set(re.findall(r'"(\w+)"', block)) == builder.VIEW_NODE_TYPES


@pytest.mark.parametrize("name", NAMES)
def test_every_template_has_a_plain_title_and_a_same_name_jpeg_thumbnail(name):
    """ComfyUI's template browser shows a custom pack's template by its file name and its
    ``<name>.jpg`` as the thumbnail (front end ``getTemplateThumbnailUrl``, ``mediaSubtype: "jpg"``)."""
    from PIL import Image

    workflow = next(w for w in builder.WORKFLOWS if w.name == name)
    path = builder.ui_path(name)
    assert path.stem == workflow.title and "_" not in workflow.title, workflow.title
    assert not set(workflow.title) & set("#?%/\\:*\"<>|"), f"{workflow.title!r}: not safe in a URL / file name"
    thumb = path.with_suffix(".jpg")
    assert thumb.is_file(), f"{thumb.name} is missing: run python workflows/build_workflows.py"
    with Image.open(thumb) as image:
        assert image.format == "JPEG" and image.size == (512, 512)
        pixels = np.asarray(image.convert("L"), dtype=np.float64)
    assert pixels.std() > 10, f"{thumb.name} is blank"
    # one line, in plain words, not the file name again
    assert "\n" not in workflow.description and workflow.name not in workflow.description
    assert json.loads(path.read_text())["extra"]["info"]["title"] == workflow.title


def test_templates_are_numbered_in_order_starting_with_camera_transfer():
    titles = [w.title for w in builder.WORKFLOWS]
    numbers = [int(t.split(".")[0]) for t in titles]
    # increasing from 1; 9 and 10 are reserved for templates merged from another branch (template 11,
    # "Find the camera path of a video with moving objects", was numbered after them)
    assert numbers[0] == 1 and all(b > a for a, b in zip(numbers, numbers[1:], strict=False)), numbers
    assert set(range(1, max(numbers) + 1)) - set(numbers) <= {9, 10}, numbers
    assert builder.WORKFLOWS[0].name == "raxel_camera_transfer"


@pytest.mark.parametrize("name", NAMES)
def test_notes_have_no_words_run_together(name):
    """Proof-reading: no Markdown bold glued to the next word ("**Preview**draws") and no known
    run-together word of earlier notes."""
    ui = json.loads(builder.ui_path(name).read_text())
    for note in _ui_nodes(ui)[1]:
        text = note["widgets_values"][0]
        for bold in re.finditer(r"\*\*[^*]+?\*\*", text):  # spans paired from the start
            assert not text[bold.end():bold.end() + 1].isalpha(), f"{name}: {bold.group()} runs into the next word"
            assert not text[bold.start() - 1:bold.start()].isalpha(), f"{name}: {bold.group()} follows a word"
        for glued in ("keyframesand", "Previewdraws"):
            assert glued not in text


@pytest.mark.parametrize("name", NAMES)
def test_keyframes_of_the_templates_lie_inside_their_frames(name):
    from raxel_core.authoring import check_keyframes_in_range, parse_keyframes_json

    workflow = next(w for w in builder.WORKFLOWS if w.name == name)
    for node in workflow.nodes:
        if node.type == "RaxelCameraTrajectory" and node.widgets["keyframes"].strip() not in ("", "[]"):
            check_keyframes_in_range(parse_keyframes_json(node.widgets["keyframes"]), node.widgets["frames"])
