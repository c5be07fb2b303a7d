"""Load Camera Path accepts an upload (issue 13, item 2), in a real browser on a real ComfyUI: the pack's
button on the node (web/js/raxel_upload.js) opens the file picker, sends a real RealEstate10K pose file to
ComfyUI's input folder, selects it in the `file` widget, and a run reads that file; a file of another kind
is refused with a visible message and nothing is uploaded.

Fixtures and helpers: tests/browser_session.py (skipped with the reason without ComfyUI, Playwright or
Chromium). Screenshots: ``RAXEL_TEST_ARTIFACTS`` (default ``tests/artifacts``), named ``upload_*``.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from browser_session import BROWSER_SKIP, load_workflow, run_prompt, shot, view_state, widget_value

pytestmark = BROWSER_SKIP
pytest_plugins = ("browser_session",)

ROOT = Path(__file__).resolve().parents[1]
BUTTON = "upload camera path file"


def _workflow(start_file: str) -> dict:
    """Load Camera Path -> Preview Camera Path (the preview is the output node that makes the graph run)."""
    return {
        "last_node_id": 2, "last_link_id": 1, "version": 0.4, "groups": [], "config": {}, "extra": {},
        "links": [[1, 1, 0, 2, 0, "CAMERA_TRAJECTORY"]],
        "nodes": [
            {"id": 1, "type": "RaxelLoadTrajectory", "pos": [0, 0], "size": [420, 560], "flags": {}, "order": 0,
             "mode": 0, "inputs": [], "properties": {},
             "outputs": [{"name": "trajectory", "type": "CAMERA_TRAJECTORY", "links": [1]}],
             "widgets_values": [start_file, 0, 0]},
            {"id": 2, "type": "RaxelTrajectoryPreview", "pos": [460, 0], "size": [460, 720], "flags": {},
             "order": 1, "mode": 0, "properties": {},
             "inputs": [{"name": "trajectory", "type": "CAMERA_TRAJECTORY", "link": 1},
                        {"name": "reference", "type": "CAMERA_TRAJECTORY", "link": None}],
             "outputs": [{"name": "image", "type": "IMAGE", "links": []}],
             "widgets_values": [512, 256]},
        ],
    }


def _re10k_frames(path: Path) -> int:
    """Oracle: a RealEstate10K file is a URL line, then one line per frame."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    assert lines[0].startswith("http")
    return len(lines) - 1


def _button_point(pg, node_id: int) -> dict:
    """Page coordinates of the centre of the node's upload button, as the canvas last drew it. Waits (up to
    15 s) until the canvas has drawn the button: ``last_y`` is set by the draw, and a slow machine may not
    have drawn the freshly loaded graph yet."""
    handle = pg.wait_for_function(
        """([id, name]) => {
            const app = window.app, node = app.graph.getNodeById(id);
            const w = node && node.widgets && node.widgets.find((w) => w.name === name);
            if (!w) return {missing: true};
            const y = w.last_y ?? w.y;
            if (!Number.isFinite(y) || y <= 0) return false;
            const at = [node.pos[0] + node.size[0] / 2, node.pos[1] + y + 10];
            const [cx, cy] = app.canvas.ds.convertOffsetToCanvas(at);
            const rect = app.canvas.canvas.getBoundingClientRect();
            return {x: rect.left + cx, y: rect.top + cy};
        }""",
        arg=[node_id, BUTTON], timeout=15_000,
    )
    point = handle.json_value()
    return None if point.get("missing") else point


def _pick_file(pg, node_id: int, path: Path):
    """Click the node's upload button and give ``path`` to the file picker it opens. A click that lands
    while the canvas is still busy (a slow CI machine) is tried once more from a freshly read position."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    for attempt in (1, 2):
        point = _button_point(pg, node_id)
        assert point is not None, f"Load Camera Path has no {BUTTON!r} widget"
        try:
            with pg.expect_file_chooser(timeout=10_000) as chooser:
                pg.mouse.click(point["x"], point["y"])
            break
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
            pg.wait_for_timeout(1000)
    assert set(chooser.value.element.get_attribute("accept").split(",")) == {".txt", ".json", ".npy"}
    chooser.value.set_files(str(path))


def test_upload_button_sends_a_pose_file_selects_it_and_the_run_reads_it(page, server, shared_file, tmp_path):
    start = shared_file("re10k/poses/0bf152ef84195293.txt")
    shutil.copy(start, server.input / "start_poses.txt")
    source = shared_file("re10k/poses/0c11dbe781b1c11c_svdxt.txt")
    upload = tmp_path / "uploaded_svdxt_path.txt"  # a name the input folder does not hold yet
    shutil.copy(source, upload)
    frames, start_frames = _re10k_frames(upload), _re10k_frames(start)
    assert frames != start_frames  # so the run shows which file it read

    load_workflow(page, _workflow("start_poses.txt"))
    assert upload.name not in page.evaluate(
        "() => window.app.graph.getNodeById(1).widgets.find((w) => w.name === 'file').options.values")
    _pick_file(page, 1, upload)
    page.wait_for_function("(name) => window.app.graph.getNodeById(1).widgets.find((w) => w.name === 'file')"
                           ".value === name", arg=upload.name, timeout=30_000)
    # the file is in the server's input folder, byte for byte, and offered by the refreshed list
    assert (server.input / upload.name).read_bytes() == upload.read_bytes()
    assert upload.name in page.evaluate(
        "() => window.app.graph.getNodeById(1).widgets.find((w) => w.name === 'file').options.values")
    page.wait_for_function("() => document.body.innerText.includes('Camera path uploaded')", timeout=10_000)
    shot(page, "upload_selected")
    # saved workflows keep the node's three values (the button is not saved)
    saved = page.evaluate("() => window.app.graph.serialize()")
    assert next(n for n in saved["nodes"] if n["id"] == 1)["widgets_values"][:3] == [upload.name, 0, 0]

    entry = run_prompt(page)
    text = "\n".join(entry["outputs"]["1"]["text"])
    assert re.match(rf"{frames} cameras, 832 x 480 ", text), text
    assert view_state(page, 1)["frustums"] == frames
    assert page.evaluate("() => window.__raxel.report(1)") == text
    shot(page, "upload_after_run")


def test_a_file_of_another_kind_is_refused_with_a_visible_message(page, server, shared_file, tmp_path):
    start = shared_file("re10k/poses/0bf152ef84195293.txt")
    shutil.copy(start, server.input / "start_poses.txt")
    image = tmp_path / "not_a_path.png"
    shutil.copy(ROOT / "workflows" / next(p.name for p in (ROOT / "workflows").glob("*.jpg")), image)
    load_workflow(page, _workflow("start_poses.txt"))
    _pick_file(page, 1, image)
    page.wait_for_function("() => document.body.innerText.includes('Not a camera path file')", timeout=10_000)
    assert "not_a_path.png: Load Camera Path reads .txt, .json, .npy files" in page.evaluate(
        "() => document.body.innerText")
    assert widget_value(page, 1, "file") == "start_poses.txt"
    assert not (server.input / image.name).exists()
    shot(page, "upload_refused")


def test_the_button_is_not_sent_with_the_prompt(page):
    load_workflow(page, _workflow("start_poses.txt"))
    prompt = page.evaluate("async () => (await window.app.graphToPrompt()).output")
    assert set(prompt["1"]["inputs"]) == {"file", "width", "height"}, prompt["1"]
