"""``raxel prepare`` on many videos: two worker processes, a deliberately broken video among good ones, and
the Ray backend against a real local Ray instance (skipped with the reason where Ray is not installed: it
is the optional extra ``raxel-nodes[ray]``, kept out of ``[test]``).

Oracle: the renderer's exact cameras of each clip (raxel_core/synthetic), and across backends the
determinism of the estimator (same frames and seed -> the same poses, whatever process ran them)."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from raxel_core.evaluation.metrics import relative_pose_errors
from raxel_core.formats.realestate10k import read_realestate10k
from raxel_core.formats.text_files import current_umask
from raxel_core.synthetic.render import make_scene, render_frames
from raxel_core.synthetic.room_trajectories import default_demo_trajectory
from raxel_core.video_io import write_video

GOOD = ("room0", "room1", "room2")
SIZE = (192, 288)


def cameras():
    return default_demo_trajectory(10, image_size=SIZE)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    for k, stem in enumerate(GOOD):
        write_video(folder / f"{stem}.mp4", render_frames(make_scene(k), cameras()), 8.0)
    # a deliberately broken video: the first 3000 bytes of a good one (a truncated download)
    (folder / "broken.mp4").write_bytes((folder / "room0.mp4").read_bytes()[:3000])
    return folder


@pytest.fixture(scope="module")
def two_workers(videos, tmp_path_factory):
    """``raxel prepare VIDEOS OUT --workers 2``: (exit status, stdout, OUT)."""
    import contextlib
    import io

    from raxel_core.cli import main

    out = tmp_path_factory.mktemp("prepared") / "out"
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        status = main(["prepare", str(videos), str(out), "--workers", "2"])
    return status, text.getvalue(), out


def test_two_workers_write_every_good_video_and_report_the_broken_one(two_workers):
    status, stdout, out = two_workers
    assert status == 1                                               # some video failed
    lines = stdout.splitlines()
    assert sum("broken.mp4: FAILED: " in line and "not a readable video" in line for line in lines) == 1
    assert sum(line.startswith("[") and ": 10 frames" in line for line in lines) == len(GOOD)
    report = json.loads((out / "prepare_report.json").read_text())
    assert report["written"] == list(GOOD) and list(report["failed"]) == ["broken.mp4"]
    assert sorted(p.name for p in (out / "videos").iterdir()) == [f"{s}.mp4" for s in GOOD]
    assert not [p for p in out.rglob("*") if ".partial" in p.name]   # atomic writes left no temporary file
    mode = 0o666 & ~current_umask()
    assert all(p.stat().st_mode & 0o777 == mode for p in [*(out / "poses").iterdir(), *(out / "videos").iterdir()])
    # two worker processes ran the videos, neither of them this one
    processes = {v["process"] for v in report["videos"] if v["frames"]}
    assert len(processes) == 2 and os.getpid() not in processes, report["videos"]


def test_poses_of_the_parallel_run_match_the_rendered_cameras(two_workers):
    _, _, out = two_workers
    truth = cameras()
    for stem in GOOD:
        est = read_realestate10k(out / "poses" / f"{stem}.txt", image_size=SIZE)
        rot, trans = relative_pose_errors(est, truth)
        assert len(est) == 10 and float(np.max(rot)) < 1.0 and float(np.max(trans)) < 5.0, (stem, rot, trans)


def test_a_worker_process_that_dies_fails_the_videos_it_held_and_the_rest_go_on(videos, tmp_path, monkeypatch):
    """The pool's workers killed (as the kernel's out-of-memory killer does) while the first video is in pose
    estimation and the pool holds two videos: both are reported failed with the reason, none is lost, and
    the third video runs in a new pool."""
    import multiprocessing
    import signal
    import threading
    import time

    from raxel_core.diffusion.prepare import run_in_processes

    scratch = tmp_path / "tmp"             # the workers' temporary folder: the pose workspace appears there
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    killed = []

    def kill_the_workers_once_a_pose_estimation_runs():
        deadline = time.monotonic() + 120
        while not any(scratch.glob("raxel_pose_*")) and time.monotonic() < deadline:
            time.sleep(0.005)
        for child in multiprocessing.active_children():
            os.kill(child.pid, signal.SIGKILL)
            killed.append(child.pid)

    killer = threading.Thread(target=kill_the_workers_once_a_pose_estimation_runs)
    killer.start()
    try:
        results = list(run_in_processes([videos / f"{s}.mp4" for s in GOOD], 2, {"max_frames": None}))
    finally:
        killer.join()
    assert killed, "no pose estimation started within 120 s"
    by_name = {r["name"]: r for r in results}
    assert sorted(by_name) == [f"{s}.mp4" for s in GOOD] and len(results) == len(GOOD), results
    for name in ("room0.mp4", "room1.mp4"):                      # the two the first pool held
        assert not by_name[name]["ok"], results
        assert "the worker process died while on this video" in by_name[name]["reason"]
        assert "try fewer --workers" in by_name[name]["reason"]
    assert by_name["room2.mp4"]["ok"] and by_name["room2.mp4"]["frames"] == 10, by_name["room2.mp4"]["reason"]


@pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                    reason="Ray is the optional extra raxel-nodes[ray], not installed here")
def test_ray_backend_on_a_local_ray_instance_gives_the_same_poses(videos, two_workers, tmp_path):
    from raxel_core.diffusion.prepare import prepare_dataset

    lines = []
    report = prepare_dataset(videos, tmp_path / "out", workers=2, ray_address="local", log=lines.append)
    assert report.written == list(GOOD) and list(report.failed) == ["broken.mp4"]
    assert any("broken.mp4: FAILED" in line for line in lines)
    for stem in GOOD:                  # deterministic estimator: the same poses as the process pool's
        assert (tmp_path / "out" / "poses" / f"{stem}.txt").read_text() == \
            (two_workers[2] / "poses" / f"{stem}.txt").read_text()


def test_ray_address_without_ray_names_the_extra(videos, tmp_path):
    # a process where `import ray` fails as it does without the extra (sys.modules["ray"] = None makes
    # Python's import raise ImportError), whether or not Ray is installed here
    code = ("import sys; sys.modules['ray'] = None; from raxel_core.cli import main; "
            f"sys.exit(main(['prepare', {str(videos)!r}, {str(tmp_path / 'o')!r}, '--ray-address', 'local']))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1])
    err = run.stderr.strip()
    assert run.returncode == 2, run.stderr
    assert len(err.splitlines()) == 1 and 'pip install "raxel-nodes[ray]"' in err
    assert not (tmp_path / "o").exists()
