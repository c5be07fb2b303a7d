"""Soak test against a real ComfyUI server: every shipped API workflow (workflows/api/), good and bad
inputs interleaved, posted by two clients at once, one prompt cancelled mid-run through /interrupt.

Checks:

* every good prompt returns the same outputs as when it ran alone (first round, one client): the
  pixels of every image written, the trajectory files written (bytes), the trajectories shown on the
  canvas and the text of the nodes that do not name a file;
* every bad prompt ends in an ``execution_error`` from the node at fault, naming the problem;
* the cancelled prompt ends ``execution_interrupted`` and the next prompts run;
* the server's resident memory (``VmRSS`` of its process) after the run is within
  :data:`RSS_GROWTH_BOUND_MIB` of its value after the first round, and the server still serves.

``RAXEL_SOAK_PROMPTS`` sets the number of prompts posted in all (default 24 for CI: the first round
of one good and one bad prompt of each soaked workflow, then the rest from two clients); the full run
of the issue is ``RAXEL_SOAK_PROMPTS=100``. The figures (prompts, seconds, memory after the first round
and at the end) are printed (``pytest -s``).

Memory: the server runs with ``MALLOC_ARENA_MAX=2`` (``RAXEL_SOAK_MALLOC_ARENA_MAX``; empty for glibc's
default of 8 arenas per core). Measured (/work/notes/wt-soakmem.md): with glibc's default the server's
RSS grows ~4 MiB a prompt (+110 MiB over 24 prompts after the first round) while its live Python objects
grow ~0.1 MiB a prompt (tracemalloc), its live torch tensors not at all (26 storages, 6.0 MiB, after
every round) and its history ~11 KB a prompt; ``malloc_trim`` does not give it back, one arena per
thread fragments; with 2 arenas the same prompts grow it +9 MiB. So the default-arena figure measures
glibc, not a leak; the bound is checked with 2 arenas, where a leak of the pack shows. The size of
ComfyUI's retained ``/history`` (JSON bytes, entries) is printed beside the memory figures.

The joint-sampler templates run with 2 video steps instead of their 30 (the artists' setting), to keep
CI short; the pose template runs as shipped.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from comfyui_server import PROMPT_SECONDS, ROOT
from PIL import Image, ImageSequence

pytestmark = pytest.mark.comfyui("run the soak test against a real ComfyUI server")

#: Prompts posted in all (first round included); the issue's full run is 100.
SOAK_PROMPTS = int(os.environ.get("RAXEL_SOAK_PROMPTS", "24"))
#: Bound on the growth of the server's resident memory from the end of the first round to the end.
RSS_GROWTH_BOUND_MIB = 150
#: The RealEstate10K clip (16 frames, 384x256) the video workflows read.
RE10K_CLIP = "re10k/videos/0bf152ef84195293.mp4"

#: A duration in a node's report ("features 5.5 s"), which differs from run to run.
SECONDS = re.compile(r"\d+(?:\.\d+)? s\b")

#: glibc malloc arenas of the server (module docstring); empty: glibc's default.
MALLOC_ARENA_MAX = os.environ.get("RAXEL_SOAK_MALLOC_ARENA_MAX", "2")
#: Shipped API workflows the soak leaves out, and why: each needs what the soak's server cannot have.
NOT_SOAKED = {
    "raxel_camera_transfer": "needs Wan 2.1 model files and a text encoder; tests/test_camera_transfer_e2e.py runs it "
                             "on its own server with tiny random-weight files",
    "raxel_rerender_wan_vace": "needs Wan 2.1 VACE model files and a text encoder; "
                               "tests/test_rerender_templates_e2e.py runs it on its own server with tiny files",
    "raxel_rerender_wan_ati": "needs Wan 2.1 ATI model files and a text encoder; "
                              "tests/test_rerender_templates_e2e.py runs it on its own server with tiny files",
}
WORKFLOWS = sorted(p.stem for p in (ROOT / "workflows" / "api").glob("*.json") if p.stem not in NOT_SOAKED)


#: The input of the cancelled pose prompt (written by the ``inputs`` fixture).
CANCEL_VIDEO = "long_clip_to_cancel.mp4"


def good_prompt(name: str) -> dict:
    prompt = json.loads((ROOT / "workflows" / "api" / f"{name}.json").read_text())
    for node in prompt.values():
        if node["class_type"] == "RaxelJointSampler":
            node["inputs"]["steps_video"] = 2
    return prompt


def _set(prompt: dict, class_type: str, **inputs) -> dict:
    node = next(v for v in prompt.values() if v["class_type"] == class_type)
    node["inputs"].update(inputs)
    return prompt


#: Per workflow: the bad input (applied to the good prompt), the node that must fail and the words its
#: execution_error must hold. Each passes ComfyUI's validation and fails while running.
BAD = {
    "raxel_author_encode_decode": (
        lambda p: _set(p, "RaxelEncode", reference=99), "RaxelEncode", ("99", "25")),
    "raxel_export_to_other_packs": (
        lambda p: _set(p, "RaxelToLoad3DCamera", frame=99), "RaxelToLoad3DCamera", ("frame 99", "25 frames")),
    "raxel_joint_camera_to_video": (
        lambda p: _set(p, "ImageScale", width=56), "RaxelJointSampler", ("takes 48x32 frames", "56x32")),
    "raxel_joint_image_to_video_and_camera": (
        lambda p: _set(p, "ImageScale", height=40), "RaxelJointSampler", ("takes 48x32 frames", "48x40")),
    "raxel_joint_pose_from_video": (
        lambda p: _set(p, "ImageScale", width=64, height=24), "RaxelJointSampler", ("takes 48x32 frames", "64x24")),
    "raxel_point_tracks": (
        lambda p: _set(p, "LoadVideo", file="one_frame.mp4"), "RaxelPointTracks", ("1 frame", "at least 2 frames")),
    "raxel_pose_from_video": (
        lambda p: _set(p, "LoadVideo", file="one_frame.mp4"), "RaxelPoseFromVideo", ("at least 2 frames", "got 1")),
    "raxel_moving_scene_pose": (
        lambda p: _set(p, "RaxelPointTracks", max_tracks=3), "RaxelTracksTo4D", ("needs at least 8", "tracks")),
}
#: The node whose work each good prompt must really do (not taken from ComfyUI's cache) in the soak.
MAIN_NODE = {
    "raxel_author_encode_decode": "RaxelPoseDecode",
    "raxel_export_to_other_packs": "RaxelFromCameraCtrlPoses",
    "raxel_joint_camera_to_video": "RaxelJointSampler",
    "raxel_joint_image_to_video_and_camera": "RaxelJointSampler",
    "raxel_joint_pose_from_video": "RaxelJointSampler",
    "raxel_point_tracks": "RaxelPointTracks",
    "raxel_pose_from_video": "RaxelPoseFromVideo",
    "raxel_moving_scene_pose": "RaxelTracksTo4D",
}


def bad_prompt(name: str) -> dict:
    return BAD[name][0](good_prompt(name))


# --------------------------------------------------------------------------- talking to the server


def rss_mib(pid: int) -> float:
    """Resident memory of process ``pid`` in MiB (``VmRSS`` of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


def post(server, prompt: dict, client_id: str) -> str:
    body = json.dumps({"prompt": prompt, "client_id": client_id}).encode()
    request = urllib.request.Request(server.url + "/prompt", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            answer = json.load(r)
    except urllib.error.HTTPError as err:
        raise AssertionError(f"prompt refused ({err.code}): {err.read()[:2000]!r}") from None
    assert not answer.get("node_errors"), answer
    return answer["prompt_id"]


def wait(server, prompt_id: str) -> dict:
    deadline = time.monotonic() + PROMPT_SECONDS
    while time.monotonic() < deadline:
        assert server.process.poll() is None, f"ComfyUI exited:\n{server.log_tail()}"
        history = server.get(f"/history/{prompt_id}")
        if prompt_id in history and history[prompt_id]["status"].get("completed") is not None:
            return history[prompt_id]
        time.sleep(0.1)
    raise AssertionError(f"prompt {prompt_id} did not finish in {PROMPT_SECONDS} s:\n{server.log_tail()}")


def messages(entry: dict, kind: str) -> list[dict]:
    return [m[1] for m in entry["status"]["messages"] if m[0] == kind]


def file_of(server, item: dict) -> Path:
    base = {"temp": server.temp, "output": server.output, "input": server.input}[item["type"]]
    return base / item["subfolder"] / item["filename"]


def pixels_digest(path: Path) -> str:
    """sha256 of the decoded pixels of every frame (a PNG, or each frame of an animated WEBP)."""
    h = hashlib.sha256()
    with Image.open(path) as image:
        for frame in ImageSequence.Iterator(image):
            array = np.asarray(frame.convert("RGBA"))
            h.update(str(array.shape).encode() + array.tobytes())
    return h.hexdigest()


def outputs_digest(server, entry: dict) -> dict:
    """What a good prompt returned, comparable across runs: decoded pixels of the images, bytes of the
    trajectory files (their own name masked), the canvas trajectories, and the text of nodes that write
    no file (a saving node's text names the file, whose name has a run counter)."""
    digest = {}
    for node, ui in entry["outputs"].items():
        for key, items in ui.items():
            if key == "images":
                digest[f"{node}.images"] = [pixels_digest(file_of(server, item)) for item in items]
            elif key == "trajectory_files":  # a Blender script names itself (with the run counter): masked
                texts = [file_of(server, i).read_bytes().replace(i["filename"].encode(), b"<self>") for i in items]
                digest[f"{node}.files"] = [hashlib.sha256(text).hexdigest() for text in texts]
            elif key == "text" and "trajectory_files" in ui:
                continue
            elif key == "text":  # reports end with the time each step took: masked
                digest[f"{node}.text"] = [SECONDS.sub("<s> s", text) for text in items]
            else:
                digest[f"{node}.{key}"] = json.dumps(items, sort_keys=True)
    return digest


# --------------------------------------------------------------------------- the soak


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The conftest server, started with :data:`MALLOC_ARENA_MAX` glibc arenas (module docstring)."""
    from comfyui_server import COMFYUI_DIR, SHIMS, comfyui_skip_reason, start_comfyui

    reason = comfyui_skip_reason("run the soak test against a real ComfyUI server")
    if reason:
        pytest.skip(reason)
    extra_env = {"MALLOC_ARENA_MAX": MALLOC_ARENA_MAX} if MALLOC_ARENA_MAX else {}
    with start_comfyui(tmp_path_factory.mktemp("comfyui"), COMFYUI_DIR, SHIMS, extra_env=extra_env) as srv:
        yield srv


@pytest.fixture(scope="module")
def inputs(server, shared_file):
    """The input files the templates name (the RealEstate10K clip as ``video.mp4`` and
    ``re10k_clip.mp4``, its first frame as ``raxel_source.png``) and a one-frame video (bad input)."""
    from raxel_core.video_io import read_video_frames, write_video

    clip = shared_file(RE10K_CLIP)
    if not (ROOT / "models" / "raxel-tiny-v1" / "model.safetensors").is_file():
        pytest.skip("the bundled model models/raxel-tiny-v1 is not installed; the joint templates need it")
    shutil.copy(clip, server.input / "video.mp4")
    shutil.copy(clip, server.input / "re10k_clip.mp4")
    frames = read_video_frames(clip)
    Image.fromarray(frames[0]).save(server.input / "raxel_source.png")
    write_video(server.input / "one_frame.mp4", frames[:1], fps=8)
    # the prompt that is cancelled poses a longer clip (the clip forth and back, 8 times: 128 frames), so that
    # the cancel lands while it runs: the 16-frame clip alone now takes about a second
    write_video(server.input / CANCEL_VIDEO, np.concatenate([frames, frames[::-1]] * 4), fps=8)


def schedule(count: int) -> list[tuple[str, bool, bool]]:
    """``count`` (workflow, good?, cancel?) triples: workflows in turn, good and bad alternating, so that
    no two neighbours are the same prompt (ComfyUI would serve the second from its cache); the first
    good pose-estimation prompt is the one cancelled. The turn starts with pose estimation, so that its
    good prompt (the cancel) is the first of the plan whatever the number of workflows (with the pose
    workflow at an odd place its good prompt came only in the second turn, after ``count`` ran out)."""
    order = sorted(WORKFLOWS, key=lambda name: name != "raxel_pose_from_video")  # stable: pose first
    out = []
    k = 0
    while len(out) < count:
        name = order[k % len(order)]
        good = (k // len(WORKFLOWS) + k) % 2 == 0
        cancel = good and name == "raxel_pose_from_video" and not any(c for _, _, c in out)
        out.append((name, good, cancel))
        k += 1
    return out


def check_bad(name: str, entry: dict) -> str:
    assert entry["status"]["status_str"] == "error", f"{name} bad input: {entry['status']}"
    errors = messages(entry, "execution_error")
    assert errors, entry["status"]
    _, node_type, words = BAD[name]
    message = errors[0]["exception_message"]
    assert errors[0]["node_type"] == node_type, (name, errors[0]["node_type"], message)
    assert all(w in message for w in words), (name, words, message)
    assert "Traceback" not in message and "\n" not in message.strip(), message
    return message


def test_soak_all_workflows_two_clients_good_bad_and_a_cancel(server, inputs):
    missing = sorted(set(WORKFLOWS) - set(BAD) - set(MAIN_NODE))
    assert set(WORKFLOWS) == set(BAD) == set(MAIN_NODE), f"templates without a bad input / main node: {missing}"
    assert SOAK_PROMPTS >= 2 * len(WORKFLOWS) + 2, f"give RAXEL_SOAK_PROMPTS >= {2 * len(WORKFLOWS) + 2}"
    started = time.monotonic()
    pid = server.process.pid
    rss_start = rss_mib(pid)

    # first round, one client, one prompt at a time: the outputs of each good prompt run alone
    reference, first_errors = {}, {}
    for name in WORKFLOWS:
        entry = wait(server, post(server, good_prompt(name), "soak-alone"))
        assert entry["status"]["status_str"] == "success", (name, entry["status"])
        reference[name] = outputs_digest(server, entry)
        first_errors[name] = check_bad(name, wait(server, post(server, bad_prompt(name), "soak-alone")))
    rss_first_round = rss_mib(pid)
    first_round_seconds = time.monotonic() - started

    # the soak: two clients take the next prompt of the schedule, post it and wait for it; the first
    # good pose-estimation prompt is cancelled while it runs
    plan = schedule(SOAK_PROMPTS - 2 * len(WORKFLOWS))
    expected_cancels = sum(c for _, _, c in plan)
    lock = threading.Lock()
    results: list[tuple[str, bool, dict, bool]] = []
    failures: list[BaseException] = []

    def client(index: int):
        client_id = f"soak-client-{index}"
        try:
            while True:
                with lock:
                    if not plan:
                        return
                    name, good, cancelling = plan.pop(0)
                prompt = good_prompt(name) if good else bad_prompt(name)
                if cancelling:
                    prompt = _set(prompt, "LoadVideo", file=CANCEL_VIDEO)
                prompt_id = post(server, prompt, client_id)
                if cancelling:
                    while prompt_id not in [item[1] for item in server.get("/queue")["queue_running"]]:
                        time.sleep(0.05)
                    time.sleep(1.0)  # inside pose estimation (seconds long)
                    server.post_json("/interrupt", {"prompt_id": prompt_id})
                entry = wait(server, prompt_id)
                with lock:
                    results.append((name, good, entry, cancelling))
        except BaseException as err:  # reported by the main thread
            failures.append(err)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    soak_seconds = time.monotonic() - started - first_round_seconds

    cancelled = [entry for _, _, entry, c in results if c]
    for name, good, entry, was_cancelled in results:
        if was_cancelled:
            interrupted = messages(entry, "execution_interrupted")
            assert interrupted and interrupted[0]["node_type"] == "RaxelPoseFromVideo", entry["status"]
        elif good:
            assert entry["status"]["status_str"] == "success", (name, entry["status"])
            assert outputs_digest(server, entry) == reference[name], f"{name}: outputs differ from the run alone"
            cached = {n for m in messages(entry, "execution_cached") for n in m["nodes"]}
            prompt = good_prompt(name)
            main = next(k for k, v in prompt.items() if v["class_type"] == MAIN_NODE[name])
            assert main not in cached, f"{name}: {MAIN_NODE[name]} came from the cache, the soak did no work"
        else:
            assert check_bad(name, entry) == first_errors[name]
    server.assert_healthy()
    rss_end = rss_mib(pid)
    history = server.get("/history")
    history_kib = len(json.dumps(history).encode()) / 1024
    good_runs = sum(1 for _, g, _, c in results if g and not c)
    print(
        f"\nsoak: {SOAK_PROMPTS} prompts ({2 * len(WORKFLOWS)} in the first round alone, {len(results)} from two "
        f"clients: {good_runs} good, {len(results) - good_runs - len(cancelled)} bad, {len(cancelled)} cancelled) "
        f"in {first_round_seconds:.0f} s + {soak_seconds:.0f} s; server RSS {rss_start:.0f} MiB at start, "
        f"{rss_first_round:.0f} MiB after the first round, {rss_end:.0f} MiB at the end "
        f"(growth {rss_end - rss_first_round:+.0f} MiB, bound {RSS_GROWTH_BOUND_MIB} MiB; "
        f"MALLOC_ARENA_MAX={MALLOC_ARENA_MAX or 'glibc default'}); ComfyUI's /history holds {len(history)} "
        f"entries, {history_kib:.0f} KiB of JSON ({history_kib / max(len(history), 1):.1f} KiB an entry)"
    )
    assert len(cancelled) == expected_cancels == 1
    assert rss_end - rss_first_round <= RSS_GROWTH_BOUND_MIB, (rss_first_round, rss_end)
