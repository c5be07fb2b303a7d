"""A real ComfyUI server for the end-to-end tests: started on a free loopback port in a temporary
``--base-directory`` (its own input, output, temp and user folders, and a ``custom_nodes`` holding
only a link to this repository), the few HTTP calls the tests make, and the skip reasons when no
ComfyUI checkout is configured.

Configuration (README, "Testing against ComfyUI"): ``RAXEL_COMFYUI_DIR`` names a ComfyUI checkout
with its requirements installed; ``RAXEL_COMFYUI_SHIMS`` optionally names a folder put first on
the server's ``PYTHONPATH`` (import shims for torchvision / torchaudio on a CPU-only torch).

Used by the ``server`` fixture of tests/conftest.py (one server per test module: test_comfyui_e2e.py,
test_interop_nodes_e2e.py, test_model_nodes_e2e.py), test_browser.py and test_headless.py (their own
fixtures around :func:`start_comfyui`).
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMFYUI_DIR = os.environ.get("RAXEL_COMFYUI_DIR")
SHIMS = os.environ.get("RAXEL_COMFYUI_SHIMS")
#: The folder name the pack is linked under in the server's ``custom_nodes``.
PACK_NAME = "raxel_nodes"
#: Folders made in the server's base directory.
BASE_FOLDERS = ("custom_nodes", "input", "output", "temp", "user")
#: Bound on waiting for the server to answer /object_info after start (start-up only).
STARTUP_SECONDS = 120
#: Bound on one prompt, so a hung server fails the test instead of hanging CI.
PROMPT_SECONDS = 600


def comfyui_skip_reason(purpose: str) -> str | None:
    """None when ``RAXEL_COMFYUI_DIR`` is set; else the skip reason, ending "... installed to <purpose>"."""
    if COMFYUI_DIR:
        return None
    return ("RAXEL_COMFYUI_DIR is not set: point it at a ComfyUI checkout with its requirements "
            f"installed to {purpose}")


def server_environment(shims: str | None) -> dict[str, str]:
    """This process's environment with ``shims`` (``RAXEL_COMFYUI_SHIMS``) first on ``PYTHONPATH``."""
    env = dict(os.environ)
    if shims:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (shims, env.get("PYTHONPATH")) if p)
    return env


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: Widget values of the pack's nodes used by :func:`api_node` unless a test gives its own.
TRAJECTORY_DEFAULTS = {"preset": "orbit_left", "frames": 16, "magnitude": 0.0, "easing": "linear",
                       "width": 384, "height": 256, "fov": 50.0, "distance": 4.0, "keyframes": "[]"}
WIDGET_DEFAULTS = {
    "RaxelCameraTrajectory": TRAJECTORY_DEFAULTS,
    "RaxelEncode": {"reference": 0, "raxel_width": 0, "raxel_height": 0},
    "RaxelTrajectoryPreview": {"width": 1024, "height": 512},
    "RaxelSaveTrajectory": {"filename_prefix": "raxel/e2e", "format": "raxel"},
    "RaxelLoadTrajectory": {"width": 384, "height": 256},
    "RaxelPoseFromVideo": {"focal_px": 0.0},
    "RaxelPointTracks": {"num_points": 300, "reseed": True, "fb_threshold": 1.0, "max_tracks": 0, "tracks_json": ""},
    "RaxelTracksTo4D": {"width": 0, "height": 0, "num_bases": 8, "dynamic_threshold_px": 2.0, "seed": 0,
                        "tracks_json": "", "depth_kind": "depth"},
}


def api_node(class_type: str, **inputs) -> dict:
    """One node of an API-format prompt: :data:`WIDGET_DEFAULTS` of ``class_type`` updated by ``inputs``."""
    return {"class_type": class_type, "inputs": {**WIDGET_DEFAULTS.get(class_type, {}), **inputs}}


def _error_text(entry: dict) -> str:
    return json.dumps(entry["status"], indent=1)[:4000]


class Server:
    """A ComfyUI process and the few HTTP calls the tests make.

    ``base`` is its ``--base-directory`` (``input``, ``output``, ``temp`` below it), ``url`` its
    address; ``object_info`` (the server's ``/object_info``) and ``startup_seconds`` are set once
    it has answered.
    """

    def __init__(self, base: Path, port: int, process: subprocess.Popen, log: Path):
        self.base, self.port, self.process, self.log = base, port, process, log
        self.url = f"http://127.0.0.1:{port}"
        self.input = base / "input"
        self.output = base / "output"
        self.temp = base / "temp"
        self.counter = 0
        self.object_info: dict = {}
        self.startup_seconds = float("nan")

    def log_tail(self, n: int = 60) -> str:
        """The last ``n`` lines of the server's log (stdout and stderr)."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])

    def get(self, path: str):
        """GET ``path``; the decoded JSON body."""
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return json.load(r)

    def post_json(self, path: str, value, timeout: float = 30) -> None:
        """POST ``value`` as a JSON body to ``path``; raises urllib's HTTPError on an error status."""
        request = urllib.request.Request(self.url + path, data=json.dumps(value).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=timeout).close()

    def interrupt(self) -> None:
        """Cancel the prompt that runs now (the UI's cancel button: POST /interrupt)."""
        self.post_json("/interrupt", {})

    def help_page(self, node_id: str) -> str:
        """The pack's help page of ``node_id`` as the server serves it (``web/docs/<node_id>.md``)."""
        with urllib.request.urlopen(f"{self.url}/extensions/{PACK_NAME}/docs/{node_id}.md", timeout=30) as r:
            assert r.status == 200, r.status
            return r.read().decode()

    def post_prompt(self, prompt: dict) -> tuple[int, dict]:
        """Queue an API-format ``prompt``; the HTTP status and the decoded body (also on 400)."""
        body = json.dumps({"prompt": prompt, "client_id": "raxel-e2e"}).encode()
        request = urllib.request.Request(self.url + "/prompt", data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def run(self, prompt: dict) -> dict:
        """Queue ``prompt``; return its history entry (outputs, status) once finished."""
        code, body = self.post_prompt(prompt)
        assert code == 200 and not body.get("node_errors"), f"prompt refused ({code}): {body}"
        prompt_id = body["prompt_id"]
        deadline = time.monotonic() + PROMPT_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"ComfyUI exited:\n{self.log_tail()}"
            history = self.get(f"/history/{prompt_id}")
            if prompt_id in history and history[prompt_id]["status"].get("completed") is not None:
                entry = history[prompt_id]
                if entry["status"]["status_str"] in ("success", "error"):
                    return entry
            time.sleep(0.2)
        raise AssertionError(f"prompt {prompt_id} did not finish in {PROMPT_SECONDS} s:\n{self.log_tail()}")

    def run_ok(self, prompt: dict) -> dict:
        """Run ``prompt``; its history entry, which must say success."""
        entry = self.run(prompt)
        assert entry["status"]["status_str"] == "success", _error_text(entry)
        return entry

    def run_error(self, prompt: dict) -> dict:
        """Run a prompt that must fail inside a node; return the execution_error message."""
        entry = self.run(prompt)
        assert entry["status"]["status_str"] == "error", f"expected an error, got {entry['status']}"
        errors = [m[1] for m in entry["status"]["messages"] if m[0] == "execution_error"]
        assert errors, entry["status"]
        print(f"\n{errors[0]['node_type']}: {errors[0]['exception_message']}")
        return errors[0]

    def assert_healthy(self):
        """A fresh (never cached) cheap prompt still runs to success."""
        self.counter += 1
        prompt = {
            "1": api_node("RaxelCameraTrajectory", preset="dolly_in", frames=3 + self.counter,
                          width=64, height=64),
            "2": api_node("RaxelTrajectoryPreview", trajectory=["1", 0], width=256, height=128),
        }
        entry = self.run_ok(prompt)
        assert entry["outputs"]["2"]["images"], entry["outputs"]

    def _wait_until_up(self, startup_seconds: float) -> None:
        started = time.monotonic()
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"ComfyUI exited during start-up (code {self.process.returncode}):\n{self.log_tail()}")
            try:
                self.object_info = self.get("/object_info")
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() - started > startup_seconds:
                    pytest.fail(f"ComfyUI did not answer in {startup_seconds} s:\n{self.log_tail()}")
                time.sleep(0.5)
        self.startup_seconds = time.monotonic() - started
        print(f"\nComfyUI up in {self.startup_seconds:.1f} s on port {self.port}")


@contextlib.contextmanager
def start_comfyui(base_dir: Path, comfyui_dir: str | Path, shims: str | None = None, with_pack: bool = True,
                  *, startup_seconds: float = STARTUP_SECONDS, extra_custom_nodes: tuple[Path, ...] = (),
                  extra_env: dict[str, str] | None = None) -> Iterator[Server]:
    """Run ComfyUI's ``main.py`` from ``comfyui_dir`` on a free port, CPU only, with ``base_dir`` as
    its base directory; yield the :class:`Server` once ``/object_info`` answers; terminate (then
    kill) that process on exit.

    ``base_dir`` gets the folders of :data:`BASE_FOLDERS`; with ``with_pack`` its ``custom_nodes``
    links this repository as :data:`PACK_NAME` and only that pack is loaded, without it no custom
    node is; each folder of ``extra_custom_nodes`` is linked and loaded too (a test's own node).
    ``shims`` goes first on the server's ``PYTHONPATH``; ``extra_env`` is added to its environment.
    The log is ``base_dir/comfyui.log``. Fails the test (``pytest.fail``, with the log's tail) when
    ``comfyui_dir`` holds no ``main.py``, when the server exits during start-up, or when it does not
    answer within ``startup_seconds``.
    """
    comfy = Path(comfyui_dir).resolve()
    if not (comfy / "main.py").is_file():
        pytest.fail(f"RAXEL_COMFYUI_DIR={comfyui_dir} holds no main.py: point it at a ComfyUI checkout")
    base = Path(base_dir)
    base.mkdir(parents=True, exist_ok=True)
    for name in BASE_FOLDERS:
        (base / name).mkdir()
    if with_pack:
        (base / "custom_nodes" / PACK_NAME).symlink_to(ROOT, target_is_directory=True)
    for folder in extra_custom_nodes:
        (base / "custom_nodes" / Path(folder).name).symlink_to(Path(folder).resolve(), target_is_directory=True)
    allowed = [PACK_NAME] * with_pack + [Path(folder).name for folder in extra_custom_nodes]
    port = free_port()
    log = base / "comfyui.log"
    command = [
        sys.executable, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port),
        "--disable-auto-launch", "--disable-api-nodes", "--base-directory", str(base),
        "--database-url", "sqlite:///:memory:",
        "--disable-all-custom-nodes", *(["--whitelist-custom-nodes", *allowed] if allowed else []),
    ]
    with open(log, "wb") as log_file:
        env = {**server_environment(shims), **(extra_env or {})}
        process = subprocess.Popen(command, cwd=comfy, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        server = Server(base, port, process, log)
        server._wait_until_up(startup_seconds)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
