"""The pack's 3D trajectory view and keyframe editor in a real browser, on a real ComfyUI server.

Needs ``RAXEL_COMFYUI_DIR`` (a ComfyUI checkout with its requirements; ``RAXEL_COMFYUI_SHIMS``
optionally goes first on the server's ``PYTHONPATH``, as in test_comfyui_e2e.py), Python
``playwright`` and a Chromium (``RAXEL_CHROMIUM``, else ``chromium`` / ``chromium-browser`` on
``PATH``; Playwright's own browser download is not needed). Skipped with the reason otherwise.

Screenshots of every view go to ``RAXEL_TEST_ARTIFACTS`` (default ``tests/artifacts``).
"""
from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
from pathlib import Path

import build_workflows
import numpy as np
import pytest
from comfyui_server import COMFYUI_DIR, ROOT, SHIMS, comfyui_skip_reason, start_comfyui

ARTIFACTS = Path(os.environ.get("RAXEL_TEST_ARTIFACTS", ROOT / "tests" / "artifacts"))
WORKFLOWS = sorted((ROOT / "workflows").glob("*.json"))
#: Bound on waiting for one prompt, so a hung server or page fails instead of hanging CI.
PROMPT_MS = 600_000
#: Node types that get the 3D view: read from the extension itself (tests/test_workflows.py checks
#: the workflow layout reserves room for exactly these).
VIEW_NODES = set(re.findall(r'"(\w+)"', re.search(
    r"VIEW_NODES = new Set\(\[(.*?)\]\)",
    (Path(__file__).resolve().parents[1] / "web" / "js" / "raxel_extension.js").read_text(), re.S).group(1)))


def _chromium() -> str | None:
    for candidate in (os.environ.get("RAXEL_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def _skip_reason() -> str | None:
    missing_comfyui = comfyui_skip_reason("test the 3D view in a browser")
    if missing_comfyui:
        return missing_comfyui
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python playwright is not installed (pip install playwright; no browser download needed)"
    if not _chromium():
        return "no Chromium found: install Debian's chromium or set RAXEL_CHROMIUM to its executable"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A ComfyUI server with only this pack, in a temporary base directory, on a free port."""
    with start_comfyui(tmp_path_factory.mktemp("comfyui_browser"), COMFYUI_DIR, SHIMS) as srv:
        # Skip the first-visit tutorial dialog.
        srv.post_json("/settings/Comfy.TutorialCompleted", True, timeout=10)
        yield srv


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=_chromium(),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--enable-unsafe-swiftshader",
                  "--use-angle=swiftshader"],
        )
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def page(server, browser):
    """A fresh ComfyUI page with the pack's extension loaded; fails on any uncaught page error."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda err: errors.append(f"{err}"))
    pg.on("console",
          lambda msg: errors.append(msg.text) if msg.type == "error" and "raxel" in msg.text.lower() else None)
    pg.goto(server.url, wait_until="domcontentloaded")
    pg.wait_for_function("() => window.app && window.app.graph && window.__raxel", timeout=120_000)
    pg.raxel_errors = errors
    yield pg
    context.close()
    raxel_errors = [e for e in errors if "raxel" in e.lower() or "three" in e.lower()]
    assert not raxel_errors, f"errors in the page: {raxel_errors}"


ARTIFACTS.mkdir(parents=True, exist_ok=True)


def _shot(pg, name: str) -> Path:
    """Screenshot of the page, and of each 3D view's canvas alone (``<name>_node<id>.png``)."""
    from PIL import Image

    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(path))
    for state in _states(pg):
        Image.fromarray(_canvas_pixels(pg, state["id"])).save(ARTIFACTS / f"{name}_node{state['id']}.png")
    return path


def _load(pg, workflow: dict):
    pg.evaluate("async (w) => { await window.app.loadGraphData(w); }", workflow)
    # views are created with the nodes; let them lay out and draw
    pg.wait_for_timeout(500)


def _states(pg) -> list[dict]:
    return pg.evaluate("() => window.__raxel.states()")


def _state(pg, node_id) -> dict:
    return pg.evaluate("(id) => window.__raxel.get(id).debugState()", node_id)


def _canvas_pixels(pg, node_id) -> np.ndarray:
    """The node's WebGL canvas as an RGB array (the renderer keeps its drawing buffer)."""
    from PIL import Image

    url = pg.evaluate("(id) => window.__raxel.get(id).view.canvas.toDataURL('image/png')", node_id)
    data = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _drawn_fraction(pixels: np.ndarray) -> float:
    """Share of pixels that differ from the view's background colour (#15171c)."""
    background = np.array([0x15, 0x17, 0x1C])
    return float((np.abs(pixels.astype(int) - background).sum(-1) > 30).mean())


def _trajectory_pixels(pg, node_id) -> int:
    """Pixels of the canvas that change when the trajectory (frustums, path) is hidden. Both images
    are taken in one synchronous script, so the node cannot be resized (e.g. by its preview image
    arriving) between them."""
    from PIL import Image

    urls = pg.evaluate(
        "(id) => { const v = window.__raxel.get(id).view; v.render();"
        " const shown = v.canvas.toDataURL('image/png');"
        " v.trajGroup.visible = false; v.render(); const hidden = v.canvas.toDataURL('image/png');"
        " v.trajGroup.visible = true; v.render(); return [shown, hidden]; }",
        node_id,
    )
    shown, hidden = (np.asarray(Image.open(io.BytesIO(base64.b64decode(u.split(",", 1)[1]))).convert("RGB"))
                     for u in urls)
    return int((np.abs(shown.astype(int) - hidden.astype(int)).sum(-1) > 30).sum())


def _nodes_of(workflow: dict, node_type: str) -> list[dict]:
    return [n for n in workflow["nodes"] if n["type"] == node_type]


def _widget(pg, node_id, name):
    return pg.evaluate("([id, name]) => window.app.graph.getNodeById(id).widgets.find(w => w.name === name).value",
                       [node_id, name])


def _set_widget(pg, node_id, name, value):
    pg.evaluate(
        """([id, name, value]) => {
            const node = window.app.graph.getNodeById(id);
            const w = node.widgets.find(w => w.name === name);
            w.value = value; w.callback?.(value, window.app.canvas, node);
            node.setDirtyCanvas(true, true);
        }""",
        [node_id, name, value],
    )


def _queue_and_wait(pg, node_id, frustums_at_least=1):
    pg.evaluate("async () => { await window.app.queuePrompt(0, 1); }")
    pg.wait_for_function("([id, n]) => { const v = window.__raxel.get(id); return v && v.view.frustumCount >= n; }",
                         arg=[node_id, frustums_at_least], timeout=PROMPT_MS)


@pytest.mark.parametrize("workflow_path", WORKFLOWS, ids=[p.stem for p in WORKFLOWS])
def test_every_workflow_loads_with_a_drawn_view_per_trajectory_node(page, workflow_path):
    workflow = json.loads(workflow_path.read_text())
    _load(page, workflow)
    expected = {n["id"] for n in workflow["nodes"] if n["type"] in VIEW_NODES}
    states = {s["id"]: s for s in _states(page)}
    assert set(states) == expected, f"views {sorted(states)} for nodes {sorted(expected)}"
    for node_id, state in states.items():
        assert state["webgl"], f"node {node_id}: no WebGL renderer ({state['error']})"
        assert not state["error"], f"node {node_id}: {state['error']}"
        pixels = _canvas_pixels(page, node_id)
        assert pixels.shape[0] > 100 and pixels.shape[1] > 200, pixels.shape
        # the grid and the axes are drawn before any run
        assert _drawn_fraction(pixels) > 0.01, f"node {node_id}: the canvas is empty"
    # the view is not saved with the workflow: the pack's nodes keep exactly the widgets_values
    # that were loaded (core nodes such as Preview3D may add their own)
    saved = page.evaluate("() => window.app.graph.serialize()")
    loaded = {n["id"]: n.get("widgets_values") for n in workflow["nodes"]}
    for node in saved["nodes"]:
        if node["type"] in VIEW_NODES:
            assert node.get("widgets_values") == loaded[node["id"]], f"node {node['id']} ({node['type']})"
    _shot(page, f"workflow_{workflow_path.stem}")


def _author_workflow() -> dict:
    path = build_workflows.ui_path("raxel_author_encode_decode")
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return json.loads(path.read_text())


def test_authored_trajectory_is_drawn_after_a_run_with_one_frustum_per_frame(page):
    workflow = _author_workflow()
    _load(page, workflow)
    author = _nodes_of(workflow, "RaxelCameraTrajectory")[0]["id"]
    decode = _nodes_of(workflow, "RaxelPoseDecode")[0]["id"]
    preview = _nodes_of(workflow, "RaxelTrajectoryPreview")[0]["id"]
    frames = int(_widget(page, author, "frames"))
    _queue_and_wait(page, author, frames)
    page.wait_for_function("(id) => window.__raxel.get(id).view.frustumCount > 0", arg=decode, timeout=PROMPT_MS)
    page.wait_for_function("(id) => window.__raxel.get(id).view.frustumCount > 0", arg=preview, timeout=PROMPT_MS)
    page.wait_for_timeout(300)
    for node_id in (author, decode, preview):
        state = _state(page, node_id)
        assert state["frustums"] == frames, (node_id, state)
        assert not state["error"], state
    # the preview's reference input is linked to the authored trajectory: drawn underneath in grey
    assert any(link[3] == preview and link[4] == 1 for link in workflow["links"]), "the workflow links no reference"
    assert _state(page, preview)["referenceFrustums"] == frames
    after = _canvas_pixels(page, author)
    assert _trajectory_pixels(page, author) > 500, "the frustums did not show on the canvas"
    # the scrubber highlights another camera: the picture changes, the count does not
    page.evaluate("""(id) => { const s = window.__raxel.get(id).scrubber; s.value = s.max;
                     s.dispatchEvent(new Event('input')); }""", author)
    page.wait_for_timeout(200)
    scrubbed = _canvas_pixels(page, author)
    assert _state(page, author)["frame"] == frames - 1
    assert np.abs(scrubbed.astype(int) - after.astype(int)).sum() > 0
    _shot(page, "author_encode_decode_after_run")


def _to_keyframes_mode(page, node_id, text=None):
    if text is not None:
        _set_widget(page, node_id, "keyframes", text)
    _set_widget(page, node_id, "preset", "keyframes")
    page.wait_for_function("(id) => window.__raxel.get(id).view.keys !== null", arg=node_id)


def _drag(page, start, end, steps=12):
    page.mouse.move(start["x"], start["y"])
    page.mouse.down()
    page.mouse.move(end["x"], end["y"], steps=steps)
    page.mouse.up()
    page.wait_for_timeout(200)


def test_dragging_a_keyframe_rewrites_the_widget_json_and_the_graph_runs(page):
    from raxel_core.authoring.keyframes import parse_keyframes_json

    workflow = _author_workflow()
    _load(page, workflow)
    node = _nodes_of(workflow, "RaxelCameraTrajectory")[0]["id"]
    _to_keyframes_mode(page, node)
    text_before = _widget(page, node, "keyframes")
    keys_before = parse_keyframes_json(text_before)
    assert _state(page, node)["keyframes"] == len(keys_before)
    _shot(page, "keyframes_before_drag")

    start = page.evaluate("(id) => window.__raxel.get(id).view.keyScreenPosition(1)", node)
    _drag(page, start, {"x": start["x"] + 70, "y": start["y"] - 40})
    text_after = _widget(page, node, "keyframes")
    assert text_after != text_before, "the drag did not change the keyframes widget"
    keys_after = parse_keyframes_json(text_after)  # the server's own parser accepts it
    assert len(keys_after) == len(keys_before)
    moved = float((keys_after[1].position - keys_before[1].position).norm())
    assert moved > 0.05, f"key 1 moved only {moved} units"
    assert float((keys_after[0].position - keys_before[0].position).norm()) == 0.0
    # the workflow that would be saved holds the new text
    saved = page.evaluate("() => window.app.graph.serialize()")
    assert text_after in next(n for n in saved["nodes"] if n["id"] == node)["widgets_values"]
    _shot(page, "keyframes_after_drag")

    # undo (ComfyUI's own change tracker) brings the old text back; redo the drag's result
    page.mouse.click(5, 500)  # focus the page outside any text field
    page.keyboard.press("Control+z")
    page.wait_for_function("([id, t]) => window.app.graph.getNodeById(id)"
                           "?.widgets.find(w => w.name === 'keyframes').value === t",
                           arg=[node, text_before], timeout=10_000)
    page.keyboard.press("Control+y")
    page.wait_for_function("([id, t]) => window.app.graph.getNodeById(id)"
                           "?.widgets.find(w => w.name === 'keyframes').value === t",
                           arg=[node, text_after], timeout=10_000)
    page.wait_for_function("(id) => window.__raxel.get(id)?.view.keys?.length === 2", arg=node)

    # add a key with the toolbar (it is selected), then delete it: the JSON follows
    page.get_by_role("button", name="+ Key").click()
    added = parse_keyframes_json(_widget(page, node, "keyframes"))
    assert len(added) == len(keys_before) + 1 and _state(page, node)["keyframes"] == len(added)
    assert _state(page, node)["selected"] >= 0
    page.get_by_role("button", name="− Key").click()
    kept = parse_keyframes_json(_widget(page, node, "keyframes"))
    assert [k.frame for k in kept] == [k.frame for k in keys_after]
    assert kept[1].position.tolist() == keys_after[1].position.tolist()

    # rotating key 0 (what the rotate rings do) writes a rotation key the server reads back
    # as the same camera: 20 degrees about the camera's own y axis
    page.evaluate("""(id) => { const v = window.__raxel.get(id).view; v.select(0); v.setTransformMode('rotate');
                     const h = v.keyHandles[0]; h.rotateY(20 * Math.PI / 180);
                     v._rotating = true; v._handleMoved(h, 'commit'); v._rotating = false; }""", node)
    rotated = parse_keyframes_json(_widget(page, node, "keyframes"))
    assert rotated[0].rotation is not None and rotated[0].look_at is None
    expected = keys_after[0].w2c_rotation()  # look-at key: identity camera looking along +z
    angle = float(np.degrees(np.arccos(np.clip((np.trace((rotated[0].rotation @ expected.T).numpy()) - 1) / 2, -1, 1))))
    assert abs(angle - 20.0) < 0.01, angle

    # the edited keyframes run: one frustum per frame, through the moved key
    frames = int(_widget(page, node, "frames"))
    _queue_and_wait(page, node, frames)
    state = _state(page, node)
    assert state["frustums"] == frames and not state["stale"], state
    _shot(page, "keyframes_after_run")


def test_malformed_keyframe_json_shows_an_error_and_the_view_keeps_working(page):
    workflow = _author_workflow()
    _load(page, workflow)
    node = _nodes_of(workflow, "RaxelCameraTrajectory")[0]["id"]
    _to_keyframes_mode(page, node)
    good = _widget(page, node, "keyframes")
    # type into the widget's text area as a user would
    page.evaluate("""(id) => { const w = window.app.graph.getNodeById(id).widgets.find(w => w.name === 'keyframes');
                     (w.inputEl || w.element).setAttribute('data-raxel-test', 'keyframes'); }""", node)
    textarea = page.locator("textarea[data-raxel-test=keyframes]")
    textarea.click()
    page.keyboard.press("Control+End")
    page.keyboard.type(', {"frame": 3, "position": [0, 0')
    page.wait_for_function("(id) => window.__raxel.get(id).view.error !== ''", arg=node, timeout=10_000)
    state = _state(page, node)
    assert state["error"].startswith("keyframes are not valid JSON"), state
    error_box = page.locator(".raxel-error").first
    assert error_box.is_visible() and "not valid JSON" in error_box.inner_text()
    assert not state["editable"], "the editor must not overwrite text being typed"
    _shot(page, "keyframes_malformed_json")

    # the view still renders and still orbits
    before = _canvas_pixels(page, node)
    assert _drawn_fraction(before) > 0.01
    box = page.evaluate("(id) => { const r = window.__raxel.get(id).view.canvas.getBoundingClientRect();"
                        " return {x: r.left + r.width * 0.85, y: r.top + r.height * 0.2}; }", node)
    _drag(page, box, {"x": box["x"] + 120, "y": box["y"] - 30})
    after = _canvas_pixels(page, node)
    assert np.abs(after.astype(int) - before.astype(int)).sum() > 0, "orbiting no longer redraws"
    # the workflow still serialises, with what the user typed
    saved = page.evaluate("() => JSON.stringify(window.app.graph.serialize())")
    assert '{\\"frame\\": 3, \\"position\\": [0, 0' in saved

    # a wrong field is named too; valid JSON clears the error
    _set_widget(page, node, "keyframes", '[{"frame": 0, "position": [0, 0, 0], "lookat": [0, 0, 4]}]')
    page.wait_for_function("(id) => window.__raxel.get(id).view.error.includes('lookat')", arg=node)
    _set_widget(page, node, "keyframes", good)
    page.wait_for_function("(id) => window.__raxel.get(id).view.error === ''", arg=node)
    assert _state(page, node)["editable"]


def test_pose_from_video_draws_one_frustum_per_registered_frame(page, server, shared_file):
    clip = shared_file("re10k/videos/0bf152ef84195293.mp4")
    path = build_workflows.ui_path("raxel_pose_from_video")
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    shutil.copy(clip, server.input / "re10k_clip.mp4")
    workflow = json.loads(path.read_text())
    for node in _nodes_of(workflow, "LoadVideo"):
        node["widgets_values"][0] = "re10k_clip.mp4"
    _load(page, workflow)
    pose = _nodes_of(workflow, "RaxelPoseFromVideo")[0]["id"]
    _queue_and_wait(page, pose, 2)
    page.wait_for_timeout(300)
    report = page.evaluate(
        """async (id) => { const r = await fetch('/history?max_items=1'); const h = await r.json();
               const entry = Object.values(h)[0]; return entry.outputs[String(id)].text[0]; }""", pose)
    match = re.search(r"registered: (\d+) of (\d+) frames", report)
    assert match, report
    registered = int(match.group(1))
    state = _state(page, pose)
    assert state["frustums"] == registered, (state, report)
    assert _drawn_fraction(_canvas_pixels(page, pose)) > 0.01
    previews = [n["id"] for n in _nodes_of(workflow, "RaxelTrajectoryPreview")]
    for node_id in previews:
        assert _state(page, node_id)["frustums"] == registered
    _shot(page, "pose_from_video_after_run")


def test_loaded_trajectory_file_is_drawn_frame_for_frame(page, server, shared_file):
    from raxel_core.formats import read_trajectory

    poses = shared_file("re10k/poses/0bf152ef84195293.txt")
    shutil.copy(poses, server.input / "re10k_poses.txt")
    expected = len(read_trajectory(poses, image_size=(360, 640)))
    # a two-node UI workflow: Load Trajectory -> Trajectory Preview
    workflow = {
        "last_node_id": 2, "last_link_id": 1, "version": 0.4, "groups": [], "config": {}, "extra": {},
        "links": [[1, 1, 0, 2, 0, "CAMERA_TRAJECTORY"]],
        "nodes": [
            {"id": 1, "type": "RaxelLoadTrajectory", "pos": [0, 0], "size": [420, 520], "flags": {}, "order": 0,
             "mode": 0, "inputs": [], "properties": {},
             "outputs": [{"name": "trajectory", "type": "CAMERA_TRAJECTORY", "links": [1]}],
             "widgets_values": ["re10k_poses.txt", 640, 360]},
            {"id": 2, "type": "RaxelTrajectoryPreview", "pos": [460, 0], "size": [460, 720], "flags": {},
             "order": 1, "mode": 0, "properties": {},
             "inputs": [{"name": "trajectory", "type": "CAMERA_TRAJECTORY", "link": 1},
                        {"name": "reference", "type": "CAMERA_TRAJECTORY", "link": None}],
             "outputs": [{"name": "image", "type": "IMAGE", "links": []}],
             "widgets_values": [512, 256]},
        ],
    }
    _load(page, workflow)
    _queue_and_wait(page, 1, expected)
    page.wait_for_function("(n) => window.__raxel.get(2).view.frustumCount === n", arg=expected, timeout=PROMPT_MS)
    for node_id in (1, 2):
        state = _state(page, node_id)
        assert state["frustums"] == expected and state["referenceFrustums"] == 0, state
        assert _trajectory_pixels(page, node_id) > 500
    _shot(page, "load_trajectory_re10k")
