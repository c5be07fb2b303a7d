"""A real browser on a real ComfyUI server with this pack: the fixtures and page helpers of the browser tests
(tests/test_browser.py, tests/test_browser_canvas.py).

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

import numpy as np
import pytest
from comfyui_server import ROOT, comfyui_skip_reason

ARTIFACTS = Path(os.environ.get("RAXEL_TEST_ARTIFACTS", ROOT / "tests" / "artifacts"))
WORKFLOWS = sorted((ROOT / "workflows").glob("*.json"))
#: Bound on waiting for one prompt, so a hung server or page fails instead of hanging CI.
PROMPT_MS = 600_000
#: Node types that get the 3D view: read from the extension itself (tests/test_workflows.py checks
#: the workflow layout reserves room for exactly these).
VIEW_NODES = set(re.findall(r'"(\w+)"', re.search(
    r"VIEW_NODES = new Set\(\[(.*?)\]\)",
    (Path(__file__).resolve().parents[1] / "web" / "js" / "raxel_extension.js").read_text(), re.S).group(1)))


def chromium_path() -> str | None:
    for candidate in (os.environ.get("RAXEL_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def browser_skip_reason() -> str | None:
    missing_comfyui = comfyui_skip_reason("test the 3D view in a browser")
    if missing_comfyui:
        return missing_comfyui
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python playwright is not installed (pip install playwright; no browser download needed)"
    if not chromium_path():
        return "no Chromium found: install Debian's chromium or set RAXEL_CHROMIUM to its executable"
    return None


#: Skip mark for browser test modules: ``pytestmark = BROWSER_SKIP``.
BROWSER_SKIP = pytest.mark.skipif(browser_skip_reason() is not None, reason=browser_skip_reason() or "")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=chromium_path(),
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
    server.post_json("/settings/Comfy.TutorialCompleted", True, timeout=10)  # no first-visit tutorial
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


def shot(pg, name: str) -> Path:
    """Screenshot of the page, and of each 3D view's canvas alone (``<name>_node<id>.png``)."""
    from PIL import Image

    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(path))
    for state in view_states(pg):
        Image.fromarray(canvas_pixels(pg, state["id"])).save(ARTIFACTS / f"{name}_node{state['id']}.png")
    return path


def load_workflow(pg, workflow: dict):
    pg.evaluate("async (w) => { await window.app.loadGraphData(w); }", workflow)
    # views are created with the nodes; let them lay out and draw
    pg.wait_for_timeout(500)


def view_states(pg) -> list[dict]:
    return pg.evaluate("() => window.__raxel.states()")


def view_state(pg, node_id) -> dict:
    return pg.evaluate("(id) => window.__raxel.get(id).debugState()", node_id)


def canvas_pixels(pg, node_id) -> np.ndarray:
    """The node's WebGL canvas as an RGB array (the renderer keeps its drawing buffer)."""
    from PIL import Image

    url = pg.evaluate("(id) => window.__raxel.get(id).view.canvas.toDataURL('image/png')", node_id)
    data = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def drawn_fraction(pixels: np.ndarray) -> float:
    """Share of pixels that differ from the view's background colour (#15171c)."""
    background = np.array([0x15, 0x17, 0x1C])
    return float((np.abs(pixels.astype(int) - background).sum(-1) > 30).mean())


def trajectory_pixels(pg, node_id) -> int:
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


def nodes_of(workflow: dict, node_type: str) -> list[dict]:
    return [n for n in workflow["nodes"] if n["type"] == node_type]


def widget_value(pg, node_id, name):
    return pg.evaluate("([id, name]) => window.app.graph.getNodeById(id).widgets.find(w => w.name === name).value",
                       [node_id, name])


def set_widget(pg, node_id, name, value):
    pg.evaluate(
        """([id, name, value]) => {
            const node = window.app.graph.getNodeById(id);
            const w = node.widgets.find(w => w.name === name);
            w.value = value; w.callback?.(value, window.app.canvas, node);
            node.setDirtyCanvas(true, true);
        }""",
        [node_id, name, value],
    )


def queue_and_wait(pg, node_id, frustums_at_least=1):
    pg.evaluate("async () => { await window.app.queuePrompt(0, 1); }")
    pg.wait_for_function("([id, n]) => { const v = window.__raxel.get(id); return v && v.view.frustumCount >= n; }",
                         arg=[node_id, frustums_at_least], timeout=PROMPT_MS)


def run_prompt(pg) -> dict:
    """Queue the graph, wait for ComfyUI's own end-of-prompt event, then for the prompt's history entry
    (written just after that event); return the entry, failing on an error status."""
    pg.evaluate("""() => { window.__raxelRun = null; const api = window.app.api;
                    for (const type of ['execution_success', 'execution_error', 'execution_interrupted'])
                      api.addEventListener(type, (e) => { window.__raxelRun ??= e.detail?.prompt_id ?? type; },
                                           {once: true}); }""")
    pg.evaluate("async () => { await window.app.queuePrompt(0, 1); }")
    pg.wait_for_function("() => window.__raxelRun !== null", timeout=PROMPT_MS, polling=200)
    entry = pg.evaluate("""async ([id, tries]) => {
        for (let i = 0; i < tries; i++) {
          const h = await (await fetch('/history/' + id)).json();
          if (h[id]) return h[id];
          await new Promise((r) => setTimeout(r, 200));
        }
        return null; }""", [pg.evaluate("() => window.__raxelRun"), 300])
    assert entry is not None, "the prompt finished but its history entry did not appear within 60 s"
    assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[:3000]
    pg.wait_for_timeout(400)  # the "executed" messages reach the nodes
    return entry


def template_with(*node_types: str, without: tuple[str, ...] = ()) -> dict:
    """The first template (UI workflow under workflows/, by file name) holding every one of ``node_types``
    and none of ``without``: found by what it does, so renaming a template's file or title breaks no
    test. Skips the test, naming the types, when no template has them."""
    for path in WORKFLOWS:
        workflow = json.loads(path.read_text())
        types = {n["type"] for n in workflow["nodes"]}
        if set(node_types) <= types and not types & set(without):
            return workflow
    pytest.skip(f"no template under {ROOT / 'workflows'} holds {', '.join(node_types)}")


def author_workflow() -> dict:
    """The template that authors a camera path and encodes and decodes it."""
    return template_with("RaxelCameraTrajectory", "RaxelEncode", "RaxelPoseDecode")


def drag(page, start, end, steps=12):
    page.mouse.move(start["x"], start["y"])
    page.mouse.down()
    page.mouse.move(end["x"], end["y"], steps=steps)
    page.mouse.up()
    page.wait_for_timeout(200)
