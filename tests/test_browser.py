"""The pack's 3D trajectory view and keyframe editor in a real browser, on a real ComfyUI server.

Fixtures and helpers (server, browser, page, screenshots to ``RAXEL_TEST_ARTIFACTS``): tests/browser_session.py,
which says what the tests need (``RAXEL_COMFYUI_DIR``, Python ``playwright``, a Chromium); skipped with the
reason otherwise.
"""
from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from browser_session import (
    BROWSER_SKIP,
    PROMPT_MS,
    VIEW_NODES,
    WORKFLOWS,
    author_workflow,
    canvas_pixels,
    drag,
    drawn_fraction,
    load_workflow,
    nodes_of,
    queue_and_wait,
    run_prompt,
    set_widget,
    shot,
    template_with,
    trajectory_pixels,
    view_state,
    view_states,
    widget_value,
)

pytestmark = BROWSER_SKIP
#: The browser and page fixtures (the server is conftest.py's).
pytest_plugins = ("browser_session",)


@pytest.mark.parametrize("workflow_path", WORKFLOWS, ids=[p.stem for p in WORKFLOWS])
def test_every_workflow_loads_with_a_drawn_view_per_trajectory_node(page, workflow_path):
    workflow = json.loads(workflow_path.read_text())
    load_workflow(page, workflow)
    expected = {n["id"] for n in workflow["nodes"] if n["type"] in VIEW_NODES}
    states = {s["id"]: s for s in view_states(page)}
    assert set(states) == expected, f"views {sorted(states)} for nodes {sorted(expected)}"
    for node_id, state in states.items():
        assert state["webgl"], f"node {node_id}: no WebGL renderer ({state['error']})"
        assert not state["error"], f"node {node_id}: {state['error']}"
        pixels = canvas_pixels(page, node_id)
        assert pixels.shape[0] > 100 and pixels.shape[1] > 200, pixels.shape
        # the grid and the axes are drawn before any run
        assert drawn_fraction(pixels) > 0.01, f"node {node_id}: the canvas is empty"
    # the view is not saved with the workflow: the pack's nodes keep exactly the widgets_values
    # that were loaded (core nodes such as Preview3D may add their own)
    saved = page.evaluate("() => window.app.graph.serialize()")
    loaded = {n["id"]: n.get("widgets_values") for n in workflow["nodes"]}
    for node in saved["nodes"]:
        if node["type"] in VIEW_NODES:
            assert node.get("widgets_values") == loaded[node["id"]], f"node {node['id']} ({node['type']})"
    shot(page, f"workflow_{workflow_path.stem}")


def test_authored_trajectory_is_drawn_after_a_run_with_one_frustum_per_frame(page):
    workflow = author_workflow()
    load_workflow(page, workflow)
    author = nodes_of(workflow, "RaxelCameraTrajectory")[0]["id"]
    decode = nodes_of(workflow, "RaxelPoseDecode")[0]["id"]
    preview = nodes_of(workflow, "RaxelTrajectoryPreview")[0]["id"]
    frames = int(widget_value(page, author, "frames"))
    queue_and_wait(page, author, frames)
    page.wait_for_function("(id) => window.__raxel.get(id).view.frustumCount > 0", arg=decode, timeout=PROMPT_MS)
    page.wait_for_function("(id) => window.__raxel.get(id).view.frustumCount > 0", arg=preview, timeout=PROMPT_MS)
    page.wait_for_timeout(300)
    for node_id in (author, decode, preview):
        state = view_state(page, node_id)
        assert state["frustums"] == frames, (node_id, state)
        assert not state["error"], state
    # the preview's reference input is linked to the authored trajectory: drawn underneath in grey
    assert any(link[3] == preview and link[4] == 1 for link in workflow["links"]), "the workflow links no reference"
    assert view_state(page, preview)["referenceFrustums"] == frames
    after = canvas_pixels(page, author)
    assert trajectory_pixels(page, author) > 500, "the frustums did not show on the canvas"
    # the scrubber highlights another camera: the picture changes, the count does not
    page.evaluate("""(id) => { const s = window.__raxel.get(id).scrubber; s.value = s.max;
                     s.dispatchEvent(new Event('input')); }""", author)
    page.wait_for_timeout(200)
    scrubbed = canvas_pixels(page, author)
    assert view_state(page, author)["frame"] == frames - 1
    assert np.abs(scrubbed.astype(int) - after.astype(int)).sum() > 0
    shot(page, "author_encode_decode_after_run")


def _to_keyframes_mode(page, node_id, text=None):
    if text is not None:
        set_widget(page, node_id, "keyframes", text)
    set_widget(page, node_id, "preset", "keyframes")
    page.wait_for_function("(id) => window.__raxel.get(id).view.keys !== null", arg=node_id)


def test_dragging_a_keyframe_rewrites_the_widget_json_and_the_graph_runs(page):
    from raxel_core.authoring.keyframes import parse_keyframes_json

    workflow = author_workflow()
    load_workflow(page, workflow)
    node = nodes_of(workflow, "RaxelCameraTrajectory")[0]["id"]
    _to_keyframes_mode(page, node)
    text_before = widget_value(page, node, "keyframes")
    keys_before = parse_keyframes_json(text_before)
    assert view_state(page, node)["keyframes"] == len(keys_before)
    shot(page, "keyframes_before_drag")

    start = page.evaluate("(id) => window.__raxel.get(id).view.keyScreenPosition(1)", node)
    drag(page, start, {"x": start["x"] + 70, "y": start["y"] - 40})
    text_after = widget_value(page, node, "keyframes")
    assert text_after != text_before, "the drag did not change the keyframes widget"
    keys_after = parse_keyframes_json(text_after)  # the server's own parser accepts it
    assert len(keys_after) == len(keys_before)
    moved = float((keys_after[1].position - keys_before[1].position).norm())
    assert moved > 0.05, f"key 1 moved only {moved} units"
    assert float((keys_after[0].position - keys_before[0].position).norm()) == 0.0
    # the workflow that would be saved holds the new text
    saved = page.evaluate("() => window.app.graph.serialize()")
    assert text_after in next(n for n in saved["nodes"] if n["id"] == node)["widgets_values"]
    shot(page, "keyframes_after_drag")

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
    added = parse_keyframes_json(widget_value(page, node, "keyframes"))
    assert len(added) == len(keys_before) + 1 and view_state(page, node)["keyframes"] == len(added)
    assert view_state(page, node)["selected"] >= 0
    page.get_by_role("button", name="− Key").click()
    kept = parse_keyframes_json(widget_value(page, node, "keyframes"))
    assert [k.frame for k in kept] == [k.frame for k in keys_after]
    assert kept[1].position.tolist() == keys_after[1].position.tolist()

    # rotating key 0 (what the rotate rings do) writes a rotation key the server reads back
    # as the same camera: 20 degrees about the camera's own y axis
    page.evaluate("""(id) => { const v = window.__raxel.get(id).view; v.select(0); v.setTransformMode('rotate');
                     const h = v.keyHandles[0]; h.rotateY(20 * Math.PI / 180);
                     v._rotating = true; v._handleMoved(h, 'commit'); v._rotating = false; }""", node)
    rotated = parse_keyframes_json(widget_value(page, node, "keyframes"))
    assert rotated[0].rotation is not None and rotated[0].look_at is None
    expected = keys_after[0].w2c_rotation()  # look-at key: identity camera looking along +z
    angle = float(np.degrees(np.arccos(np.clip((np.trace((rotated[0].rotation @ expected.T).numpy()) - 1) / 2, -1, 1))))
    assert abs(angle - 20.0) < 0.01, angle

    # the edited keyframes run: one frustum per frame, through the moved key
    frames = int(widget_value(page, node, "frames"))
    queue_and_wait(page, node, frames)
    state = view_state(page, node)
    assert state["frustums"] == frames and not state["stale"], state
    shot(page, "keyframes_after_run")


def test_malformed_keyframe_json_shows_an_error_and_the_view_keeps_working(page):
    workflow = author_workflow()
    load_workflow(page, workflow)
    node = nodes_of(workflow, "RaxelCameraTrajectory")[0]["id"]
    _to_keyframes_mode(page, node)
    good = widget_value(page, node, "keyframes")
    # type into the widget's text area as a user would
    page.evaluate("""(id) => { const w = window.app.graph.getNodeById(id).widgets.find(w => w.name === 'keyframes');
                     (w.inputEl || w.element).setAttribute('data-raxel-test', 'keyframes'); }""", node)
    textarea = page.locator("textarea[data-raxel-test=keyframes]")
    textarea.click()
    page.keyboard.press("Control+End")
    page.keyboard.type(', {"frame": 3, "position": [0, 0')
    page.wait_for_function("(id) => window.__raxel.get(id).view.error !== ''", arg=node, timeout=10_000)
    state = view_state(page, node)
    assert state["error"].startswith("keyframes are not valid JSON"), state
    error_box = page.locator(".raxel-error").first
    assert error_box.is_visible() and "not valid JSON" in error_box.inner_text()
    assert not state["editable"], "the editor must not overwrite text being typed"
    shot(page, "keyframes_malformed_json")

    # the view still renders and still orbits
    before = canvas_pixels(page, node)
    assert drawn_fraction(before) > 0.01
    box = page.evaluate("(id) => { const r = window.__raxel.get(id).view.canvas.getBoundingClientRect();"
                        " return {x: r.left + r.width * 0.85, y: r.top + r.height * 0.2}; }", node)
    drag(page, box, {"x": box["x"] + 120, "y": box["y"] - 30})
    after = canvas_pixels(page, node)
    assert np.abs(after.astype(int) - before.astype(int)).sum() > 0, "orbiting no longer redraws"
    # the workflow still serialises, with what the user typed
    saved = page.evaluate("() => JSON.stringify(window.app.graph.serialize())")
    assert '{\\"frame\\": 3, \\"position\\": [0, 0' in saved

    # a wrong field is named too; valid JSON clears the error
    set_widget(page, node, "keyframes", '[{"frame": 0, "position": [0, 0, 0], "lookat": [0, 0, 4]}]')
    page.wait_for_function("(id) => window.__raxel.get(id).view.error.includes('lookat')", arg=node)
    set_widget(page, node, "keyframes", good)
    page.wait_for_function("(id) => window.__raxel.get(id).view.error === ''", arg=node)
    assert view_state(page, node)["editable"]


def test_pose_from_video_draws_one_frustum_per_registered_frame(page, server, shared_file):
    clip = shared_file("re10k/videos/0bf152ef84195293.mp4")
    shutil.copy(clip, server.input / "re10k_clip.mp4")
    workflow = template_with("RaxelPoseFromVideo", "RaxelSaveTrajectory", without=("RaxelJointSampler",))
    for node in nodes_of(workflow, "LoadVideo"):
        node["widgets_values"][0] = "re10k_clip.mp4"
    load_workflow(page, workflow)
    pose = nodes_of(workflow, "RaxelPoseFromVideo")[0]["id"]
    entry = run_prompt(page)  # the whole prompt, not only the pose node, has finished
    report = entry["outputs"][str(pose)]["text"][0]
    match = re.search(r"registered: (\d+) of (\d+) frames", report)
    assert match, report
    registered = int(match.group(1))
    state = view_state(page, pose)
    assert state["frustums"] == registered, (state, report)
    assert drawn_fraction(canvas_pixels(page, pose)) > 0.01
    previews = [n["id"] for n in nodes_of(workflow, "RaxelTrajectoryPreview")]
    for node_id in previews:
        assert view_state(page, node_id)["frustums"] == registered
    shot(page, "pose_from_video_after_run")


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
    load_workflow(page, workflow)
    queue_and_wait(page, 1, expected)
    page.wait_for_function("(n) => window.__raxel.get(2).view.frustumCount === n", arg=expected, timeout=PROMPT_MS)
    for node_id in (1, 2):
        state = view_state(page, node_id)
        assert state["frustums"] == expected and state["referenceFrustums"] == 0, state
        assert trajectory_pixels(page, node_id) > 500
    shot(page, "load_trajectory_re10k")
