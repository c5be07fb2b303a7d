"""What the canvas shows around a run (issue 13, items 3, 4, 6 and 7), in a real browser on a real ComfyUI:
the report text the server sends, 3D views kept across a workflow tab switch, undo and a reopened
workflow, the legend, Fit, Play / Pause, the live preset path before any run, the widgets hidden by
mode, and no two nodes overlapping after each template runs.

Fixtures and helpers: tests/browser_session.py (skipped with the reason without ComfyUI, Playwright or
Chromium). Screenshots go to ``RAXEL_TEST_ARTIFACTS`` (default ``tests/artifacts``), named ``canvas_*``.
"""
from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
from browser_session import (
    BROWSER_SKIP,
    WORKFLOWS,
    author_workflow,
    canvas_pixels,
    drag,
    load_workflow,
    nodes_of,
    run_prompt,
    set_widget,
    shot,
    template_with,
    trajectory_pixels,
    view_state,
    widget_value,
)

pytestmark = BROWSER_SKIP
#: The browser and page fixtures (the server is conftest.py's).
pytest_plugins = ("browser_session",)



def _turbo_rgb(u: float) -> tuple[int, ...]:
    """OpenCV's turbo map at ``u`` in [0, 1], RGB: the oracle of the time colours (raxel_core/preview.py
    samples it on 0.08..0.92, first to last frame)."""
    import cv2

    bgr = cv2.applyColorMap(np.array([[round(u * 255)]], np.uint8), cv2.COLORMAP_TURBO)[0, 0]
    return tuple(int(v) for v in bgr[::-1])


def _copy_inputs(server, shared_file):
    """The real clip and its first frame, under the names the templates use."""
    from PIL import Image

    from raxel_core.video_io import read_video_frames

    clip = shared_file("re10k/videos/0bf152ef84195293.mp4")
    shutil.copy(clip, server.input / "re10k_clip.mp4")
    Image.fromarray(read_video_frames(clip, max_frames=1)[0]).save(server.input / "raxel_source.png")


#: Node types that load model files from ComfyUI's model folders, which this test's server does not have
#: (tests/test_camera_transfer_e2e.py builds tiny ones for its API run of the camera-transfer template).
EXTERNAL_MODEL_LOADERS = ("UNETLoader", "CLIPLoader", "VAELoader", "CheckpointLoaderSimple")


def _with_inputs(workflow: dict, server, shared_file) -> dict:
    """``workflow`` reading the real clip (and its first frame) copied into the server's input folder."""
    _copy_inputs(server, shared_file)
    for node in nodes_of(workflow, "LoadVideo"):
        node["widgets_values"][0] = "re10k_clip.mp4"
    for node in nodes_of(workflow, "LoadImage"):
        node["widgets_values"][0] = "raxel_source.png"
    return workflow


# ------------------------------------------------------------------ item 3: the report text

def test_report_text_is_shown_on_the_nodes_after_a_run(page, server, shared_file):
    workflow = _with_inputs(template_with("RaxelPoseFromVideo", "RaxelSaveTrajectory",
                                          without=("RaxelJointSampler",)), server, shared_file)
    load_workflow(page, workflow)
    pose = nodes_of(workflow, "RaxelPoseFromVideo")[0]["id"]
    save = nodes_of(workflow, "RaxelSaveTrajectory")[0]["id"]
    assert page.evaluate("(id) => window.__raxel.report(id)", pose) == ""
    entry = run_prompt(page)
    sent = {node_id: "\n".join(entry["outputs"][str(node_id)]["text"]) for node_id in (pose, save)}
    assert "registered" in sent[pose] and sent[save].startswith("saved "), sent
    for node_id in (pose, save):
        assert page.evaluate("(id) => window.__raxel.report(id)", node_id) == sent[node_id]
    # visible on the page, as an artist sees it
    shown = page.locator("textarea.raxel-report").all()
    visible = [box.input_value() for box in shown if box.is_visible()]
    assert sent[pose] in visible and sent[save] in visible, visible
    shot(page, "canvas_report_text_after_run")
    # kept with the workflow: a reload of the serialised graph shows both texts again
    saved = page.evaluate("() => window.app.graph.serialize()")
    load_workflow(page, saved)
    for node_id in (pose, save):
        assert page.evaluate("(id) => window.__raxel.report(id)", node_id) == sent[node_id]


# ------------------------------------------------------------------ item 3: views kept

def _frustums(pg, ids):
    return {i: view_state(pg, i)["frustums"] for i in ids}


def test_views_survive_a_tab_switch_undo_and_a_reopened_workflow(page):
    workflow = author_workflow()
    load_workflow(page, workflow)
    view_ids = [n["id"] for n in workflow["nodes"] if n["type"] in
                ("RaxelCameraTrajectory", "RaxelPoseDecode", "RaxelTrajectoryPreview")]
    author = view_ids[0]
    frames = int(widget_value(page, author, "frames"))
    run_prompt(page)
    after_run = _frustums(page, view_ids)
    assert all(n == frames for n in after_run.values()), after_run
    assert all(view_state(page, i)["kept"] for i in view_ids)

    # another workflow tab, then back
    page.evaluate("async () => { await window.app.extensionManager.command.execute('Comfy.NewBlankWorkflow'); }")
    page.wait_for_function("() => window.__raxel.nodeViews().length === 0", timeout=20_000)
    page.evaluate("async () => { await window.app.extensionManager.command.execute("
                  "'Workspace.PreviousOpenedWorkflow'); }")
    page.wait_for_function("(n) => window.__raxel.nodeViews().length === n", arg=len(view_ids), timeout=20_000)
    page.wait_for_timeout(400)
    assert _frustums(page, view_ids) == after_run, "a view lost its result on the tab switch"
    for node_id in view_ids:
        assert not view_state(page, node_id)["stale"]
        assert trajectory_pixels(page, node_id) > 500, f"node {node_id}: the kept trajectory is not drawn"
    shot(page, "canvas_after_tab_switch")

    # an edit, then undo: the graph is rebuilt from the undo state, the views keep the result
    set_widget(page, author, "fov", 60.0)
    page.evaluate("() => window.app.extensionManager.workflow.activeWorkflow.changeTracker.checkState()")
    assert view_state(page, author)["stale"], "changing a widget must mark the shown run as stale"
    page.mouse.click(5, 500)
    page.keyboard.press("Control+z")
    page.wait_for_function("(id) => window.app.graph.getNodeById(id)?.widgets.find(w => w.name === 'fov').value === 50",
                           arg=author, timeout=10_000)
    page.wait_for_function("(n) => window.__raxel.nodeViews().length === n", arg=len(view_ids), timeout=20_000)
    assert _frustums(page, view_ids) == after_run, "a view lost its result on undo"
    assert not view_state(page, author)["stale"]

    # the saved workflow carries the result within the stated bound, and a reopened one shows it
    saved = page.evaluate("() => window.app.graph.serialize()")
    limit = page.evaluate("async () => (await import('/extensions/raxel_nodes/js/raxel_node_state.js')).RESULT_LIMIT")
    for node in saved["nodes"]:
        if node["id"] in view_ids:
            kept = node["properties"]["raxel_last_result"]
            assert len(kept["trajectory"]["frames"]) == frames
            assert len(json.dumps(kept)) <= limit
    page.evaluate("async () => { await window.app.extensionManager.command.execute('Comfy.NewBlankWorkflow'); }")
    load_workflow(page, saved)
    assert _frustums(page, view_ids) == after_run, "a reopened workflow lost a result"


# ------------------------------------------------------------------ item 3: legend, Fit, Play

def test_legend_fit_and_play(page):
    workflow = author_workflow()
    load_workflow(page, workflow)
    author = nodes_of(workflow, "RaxelCameraTrajectory")[0]["id"]
    set_widget(page, author, "preset", "orbit_left")
    page.wait_for_function("(id) => window.__raxel.get(id).view.previewFrustumCount > 0", arg=author, timeout=30_000)

    # the legend names the time colours, the scrubbed frame, the reference, the look-at mark and the axes
    legend = page.locator(".raxel-legend").first
    assert legend.is_visible()
    text = legend.inner_text()
    for words in ("first", "last frame", "look-at", "reference", "axes"):
        assert words in text, text
    ramp_css = page.evaluate("() => document.querySelector('.raxel-legend [data-legend=time] span').style.background")
    ramp = page.evaluate("() => window.__raxel.nodeViews()[0].view.legendRamp")
    first = tuple(int(ramp[0][i:i + 2], 16) for i in (1, 3, 5))
    last = tuple(int(ramp[-1][i:i + 2], 16) for i in (1, 3, 5))
    assert max(abs(a - b) for a, b in zip(first, _turbo_rgb(0.08), strict=True)) <= 1, first
    assert max(abs(a - b) for a, b in zip(last, _turbo_rgb(0.92), strict=True)) <= 1, last
    assert "gradient" in ramp_css

    # Fit resets the viewpoint after an orbit
    camera = "(id) => window.__raxel.get(id).view.camera.position.toArray()"
    fitted = page.evaluate(camera, author)
    box = page.evaluate("(id) => { const r = window.__raxel.get(id).view.canvas.getBoundingClientRect();"
                        " return {x: r.left + r.width * 0.85, y: r.top + r.height * 0.25}; }", author)
    drag(page, box, {"x": box["x"] - 150, "y": box["y"] + 40})
    orbited = page.evaluate(camera, author)
    assert np.linalg.norm(np.subtract(orbited, fitted)) > 1e-3 * np.linalg.norm(fitted), "the drag did not orbit"
    page.locator(".raxel-fit").first.click()  # the first view is the author node's
    page.wait_for_timeout(200)
    assert np.allclose(page.evaluate(camera, author), fitted, rtol=1e-6, atol=1e-9)

    # Play steps the frame (the picture changes); Pause holds it
    frame0 = view_state(page, author)["frame"]
    pixels0 = canvas_pixels(page, author)
    page.locator(".raxel-play").first.click()
    page.wait_for_function("([id, f]) => window.__raxel.get(id).view.frame !== f", arg=[author, frame0],
                           timeout=10_000)
    assert view_state(page, author)["playing"]
    assert page.locator(".raxel-play").first.inner_text().endswith("Pause")
    page.locator(".raxel-play").first.click()
    held = view_state(page, author)["frame"]
    page.wait_for_timeout(400)
    assert view_state(page, author)["frame"] == held and not view_state(page, author)["playing"]
    assert np.abs(canvas_pixels(page, author).astype(int) - pixels0.astype(int)).sum() > 0
    shot(page, "canvas_legend_fit_play")


def test_one_scrubber_drives_the_trajectory_and_its_reference(page):
    workflow = author_workflow()
    load_workflow(page, workflow)
    preview = nodes_of(workflow, "RaxelTrajectoryPreview")[0]["id"]
    run_prompt(page)
    state = view_state(page, preview)
    assert state["frustums"] > 1 and state["referenceFrustums"] == state["frustums"]
    # the highlight holds one camera per drawn path, both at the scrubber's frame
    count = "(id) => window.__raxel.get(id).view._highlight.children.length"
    assert page.evaluate(count, preview) == 2
    page.evaluate("""(id) => { const s = window.__raxel.get(id).scrubber; s.value = s.max;
                     s.dispatchEvent(new Event('input')); }""", preview)
    centres = page.evaluate("""(id) => window.__raxel.get(id).view._highlight.children.map(
                                 g => g.position.toArray())""", preview)
    view = page.evaluate("(id) => { const v = window.__raxel.get(id).view; return"
                         " [v.trajectory.frames.at(-1).position, v.reference.frames.at(-1).position]; }", preview)
    assert np.allclose(centres[0], view[0], atol=1e-5) and np.allclose(centres[1], view[1], atol=1e-5)


# ------------------------------------------------------------------ item 3: live preset path

def _preview_positions(pg, node_id):
    return np.array(pg.evaluate("(id) => window.__raxel.get(id).view.preview.frames.map(f => f.position)", node_id))


def test_the_preset_path_is_drawn_live_before_anyrun_prompt(page):
    workflow = author_workflow()
    load_workflow(page, workflow)
    author = nodes_of(workflow, "RaxelCameraTrajectory")[0]["id"]
    set_widget(page, author, "easing", "linear")
    set_widget(page, author, "frames", 17)
    set_widget(page, author, "magnitude", 2.0)
    set_widget(page, author, "preset", "dolly_in")
    wait = "([id, n]) => window.__raxel.get(id).view.previewFrustumCount === n"
    page.wait_for_function(wait, arg=[author, 17], timeout=30_000)
    state = view_state(page, author)
    assert state["frustums"] == 0, "nothing has run yet"
    # a linear dolly of 2 units: straight ahead along +z in even steps
    expected = np.stack([np.zeros(17), np.zeros(17), np.linspace(0, 2, 17)], -1)
    assert np.allclose(_preview_positions(page, author), expected, atol=1e-5)
    assert trajectory_pixels(page, author) > 500, "the preview path is not on the canvas"
    shot(page, "canvas_live_preset_dolly_in")

    # a widget change redraws it, still without a run
    set_widget(page, author, "preset", "orbit_left")
    set_widget(page, author, "frames", 9)
    page.wait_for_function(wait, arg=[author, 9], timeout=30_000)
    distance = float(widget_value(page, author, "distance"))
    radii = np.linalg.norm(_preview_positions(page, author) - [0, 0, distance], axis=1)
    assert np.allclose(radii, distance, atol=1e-4), radii
    shot(page, "canvas_live_preset_orbit_left")

    # a value the preset refuses is named on the node, before any run
    set_widget(page, author, "preset", "zoom_in")
    set_widget(page, author, "magnitude", -2.0)
    page.wait_for_function("(id) => window.__raxel.get(id).view.error.includes('zoom factor')", arg=author,
                           timeout=30_000)
    assert view_state(page, author)["previewFrustums"] == 0
    set_widget(page, author, "magnitude", 1.5)
    page.wait_for_function(wait, arg=[author, 9], timeout=30_000)
    assert view_state(page, author)["error"] == ""

    # after a run the run's result is drawn; a later change shows the new preview over the stale run
    run_prompt(page)
    state = view_state(page, author)
    assert state["frustums"] == 9 and state["previewFrustums"] == 0 and not state["stale"], state
    set_widget(page, author, "frames", 13)
    page.wait_for_function(wait, arg=[author, 13], timeout=30_000)
    assert view_state(page, author)["stale"]


# ------------------------------------------------------------------ item 4: widgets by mode

def _visible(pg, node_id, name) -> bool:
    return pg.evaluate("([id, name]) => { const n = window.app.graph.getNodeById(id);"
                       " return n.isWidgetVisible(n.widgets.find(w => w.name === name)); }", [node_id, name])


def test_only_the_widgets_of_the_chosen_mode_are_shown(page, server, shared_file):
    workflow = author_workflow()
    load_workflow(page, workflow)
    author = nodes_of(workflow, "RaxelCameraTrajectory")[0]["id"]
    values = nodes_of(workflow, "RaxelCameraTrajectory")[0]["widgets_values"]
    set_widget(page, author, "preset", "keyframes")
    page.wait_for_timeout(200)
    for name in ("magnitude", "easing", "distance"):
        assert not _visible(page, author, name), name
    assert _visible(page, author, "keyframes") and _visible(page, author, "frames")
    page.evaluate("(id) => { const w = window.app.graph.getNodeById(id).widgets.find("
                             "w => w.name === 'keyframes'); w.element.setAttribute('data-raxel-test', 'kf'); }", author)
    assert page.locator("textarea[data-raxel-test=kf]").is_visible()
    shot(page, "canvas_widgets_keyframes_mode")

    set_widget(page, author, "preset", "orbit_left")
    page.wait_for_timeout(300)
    assert not _visible(page, author, "keyframes")
    assert not page.locator("textarea[data-raxel-test=kf]").is_visible(), "the keyframes box still shows"
    assert _visible(page, author, "distance") and _visible(page, author, "magnitude")
    set_widget(page, author, "preset", "pan_left")
    page.wait_for_timeout(200)
    assert not _visible(page, author, "distance") and _visible(page, author, "easing")
    shot(page, "canvas_widgets_preset_mode")
    # hidden, not removed: the saved widget values keep their places (saved workflows stay valid)
    saved = page.evaluate("() => window.app.graph.serialize()")
    node = next(n for n in saved["nodes"] if n["id"] == author)
    assert len(node["widgets_values"]) == len(values)

    # the joint sampler in pose mode: no frame count and no video steps
    joint = _with_inputs(template_with("RaxelJointSampler", "LoadVideo"), server, shared_file)
    load_workflow(page, joint)
    sampler = nodes_of(joint, "RaxelJointSampler")[0]["id"]
    assert widget_value(page, sampler, "mode") == "pose"
    assert not _visible(page, sampler, "frames") and not _visible(page, sampler, "steps_video")
    assert _visible(page, sampler, "steps_rays") and _visible(page, sampler, "seed")
    set_widget(page, sampler, "mode", "joint")
    page.wait_for_timeout(200)
    assert all(_visible(page, sampler, n) for n in ("frames", "steps_video", "steps_rays"))


# ------------------------------------------------------------------ item 6: no overlap after a run

def _boxes(pg):
    """[id, x, y, w, h] of every node on the canvas, title bar included (LiteGraph's bounding box)."""
    return pg.evaluate("() => window.app.graph._nodes.map(n => { const b = n.getBounding(); "
                       "return [n.id, n.type, b[0], b[1], b[2], b[3]]; })")


def _overlaps(boxes):
    found = []
    for i, (a, ta, ax, ay, aw, ah) in enumerate(boxes):
        for b, tb, bx, by, bw, bh in boxes[i + 1:]:
            if not (ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay):
                found.append(f"{a} ({ta}) and {b} ({tb})")
    return found


@pytest.mark.parametrize("workflow_path", WORKFLOWS, ids=[p.stem for p in WORKFLOWS])
def test_no_two_nodes_overlap_after_the_template_runs(page, server, shared_file, workflow_path):
    workflow = json.loads(workflow_path.read_text())
    loaders = sorted({n["type"] for n in workflow["nodes"]} & set(EXTERNAL_MODEL_LOADERS))
    if loaders:
        pytest.skip(f"{workflow_path.name} loads model files ({', '.join(loaders)}) this server does not have")
    workflow = _with_inputs(workflow, server, shared_file)
    load_workflow(page, workflow)
    assert not _overlaps(_boxes(page)), f"overlap on opening: {_overlaps(_boxes(page))}"
    opened = _boxes(page)
    run_prompt(page)
    page.wait_for_timeout(800)  # preview images arrive and nodes resize
    after = _boxes(page)
    overlaps = _overlaps(after)
    grown = [(a[0], a[1], a[4:], b[4:]) for a, b in zip(opened, after, strict=True) if a != b]
    shot(page, f"canvas_after_run_{workflow_path.stem}")
    assert not overlaps, f"{workflow_path.name}: after a run nodes overlap: {overlaps}; changed boxes: {grown}"


def test_the_orbit_preview_matches_a_run_of_the_same_widgets(page):
    """The live path and the run's path are the same cameras (the route computes them with the node's code)."""
    workflow = author_workflow()
    load_workflow(page, workflow)
    author = nodes_of(workflow, "RaxelCameraTrajectory")[0]["id"]
    set_widget(page, author, "preset", "orbit_up")
    set_widget(page, author, "frames", 7)
    page.wait_for_function("(id) => window.__raxel.get(id).view.previewFrustumCount === 7", arg=author,
                           timeout=30_000)
    preview = page.evaluate("(id) => window.__raxel.get(id).view.preview.frames", author)
    run_prompt(page)
    run = page.evaluate("(id) => window.__raxel.get(id).view.trajectory.frames", author)
    for p, r in zip(preview, run, strict=True):
        assert np.allclose(p["position"], r["position"]) and np.allclose(p["rotation"], r["rotation"])
        assert math.isclose(p["fov_y_deg"], r["fov_y_deg"])
