"""Long videos in bounded memory (issue 10, item 1): frames decoded as a stream and written one at a
time, the rotation-only solver's analytic sparse Jacobian, ``--max-frames / --stride /
--max-image-size`` on ``raxel pose``. Memory and seconds per frame are measured by
``benchmarks/bench_pose_long.py``, not asserted here."""
from __future__ import annotations

import gc
import io
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest
from shared_data import DATA

from raxel_core.geometry.rotations import rotation_angle_deg
from raxel_core.pose import estimate_trajectory
from raxel_core.pose.estimate import check_frame_memory, frame_memory_bytes
from raxel_core.pose.rotation_only import RotationProblem
from raxel_core.video_io import iter_frames, iter_video_frames, read_video_frames, video_fps

ROOT = Path(__file__).resolve().parents[1]
BOX = DATA / "static_camera" / "box.mp4"
RE10K_CLIP = DATA / "re10k" / "videos" / "0bf152ef84195293.mp4"


@pytest.mark.shared_data("static_camera/box.mp4")
def test_streamed_frames_equal_the_decoded_clip_from_a_path_and_a_file_object():
    whole = read_video_frames(BOX, max_frames=12, stride=3)
    streamed = np.stack(list(iter_video_frames(BOX, max_frames=12, stride=3)))
    assert np.array_equal(streamed, whole)
    with open(BOX, "rb") as f:
        from_bytes = np.stack(list(iter_video_frames(io.BytesIO(f.read()), max_frames=12, stride=3)))
    assert np.array_equal(from_bytes, whole)
    assert video_fps(BOX) == pytest.approx(30.0, abs=1.0)


@pytest.mark.parametrize("refine_f", [False, True])
def test_rotation_only_jacobian_matches_finite_differences(refine_f):
    """The analytic sparse Jacobian against scipy's central differences of the residuals."""
    from scipy.optimize import approx_fprime

    rng = np.random.default_rng(1)
    m, n = 6, 60
    obs_i = rng.integers(0, m - 1, n)
    obs_j = np.minimum(obs_i + rng.integers(1, 3, n), m - 1)
    x1, x2 = rng.uniform(0, 320, (n, 2)), rng.uniform(0, 240, (n, 2))
    problem = RotationProblem(obs_i, obs_j, x1, x2, m, (240, 320), 300.0, refine_f)
    p = rng.normal(0.0, 0.3, problem.num_params)
    if refine_f:
        p[-1] = np.log(280.0)
    analytic = problem.jacobian(p)
    numeric = approx_fprime(p, problem.residuals, 1e-6)
    assert analytic.shape == numeric.shape == (2 * n, problem.num_params)
    assert np.abs(analytic.toarray() - numeric).max() < 1e-4 * np.abs(numeric).max()
    assert analytic.nnz <= 2 * n * (6 + int(refine_f))  # sparse: two frames (and f) per match


def test_frames_are_written_one_at_a_time_not_gathered():
    """An iterable of frames is consumed lazily: a frame is freed before the next but one arrives."""
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    alive: list[weakref.ref] = []

    def frames():
        for k in range(6):
            gc.collect()
            assert all(r() is None for r in alive[:-1]), f"frame {k - 2} still held when frame {k} is decoded"
            frame = np.roll(texture, 2 * k, axis=1).copy()
            alive.append(weakref.ref(frame))
            yield frame
            del frame

    try:
        estimate_trajectory(frames())
    except ValueError as err:  # random texture may not register: only the streaming is under test
        assert "could be registered" in str(err)


@pytest.mark.shared_data("re10k/videos/0bf152ef84195293.mp4")
def test_streamed_clip_gives_the_same_cameras_as_the_array():
    a = estimate_trajectory(read_video_frames(RE10K_CLIP))
    b = estimate_trajectory(iter_frames(RE10K_CLIP))
    assert a.frame_indices == b.frame_indices
    for key in ("R", "t", "K"):
        assert np.array_equal(getattr(a.cameras, key).numpy(), getattr(b.cameras, key).numpy()), key


@pytest.mark.shared_data("re10k/videos/0bf152ef84195293.mp4")
def test_max_image_size_keeps_K_at_the_input_size():
    frames = read_video_frames(RE10K_CLIP)
    est = estimate_trajectory(frames, max_image_size=192)
    h, w = frames.shape[1:3]
    assert est.cameras.image_size == (h, w)
    assert float(est.cameras.cx[0]) == pytest.approx(w / 2) and float(est.cameras.cy[0]) == pytest.approx(h / 2)
    full = estimate_trajectory(frames)
    # the same focal length within 5 % at half the resolution (measured: see the benchmark note)
    assert abs(float(est.cameras.fx[0]) / float(full.cameras.fx[0]) - 1) < 0.05
    assert any("shrunk from 384x256 to 192x128" in m for m in est.messages)


@pytest.mark.shared_data("static_camera/box.mp4")
def test_raxel_pose_stride_max_frames_max_image_size_on_a_static_clip(tmp_path):
    from raxel_core.formats import read_trajectory

    out = tmp_path / "box.json"
    run = subprocess.run([sys.executable, "-m", "raxel_core.cli", "pose", str(BOX), "--out", str(out),
                          "--max-frames", "30", "--stride", "4", "--max-image-size", "320"],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    assert "30/30 frames registered (static; stride 4, at most 30 frames, features at a longer side of at " \
           "most 320 px)" in run.stdout, run.stdout
    assert "trajectory frame k is clip frame 4 * k" in run.stdout
    cameras = read_trajectory(out)
    assert len(cameras) == 30 and cameras.image_size == (480, 640)
    assert cameras.fps == pytest.approx(video_fps(BOX) / 4)
    assert float(rotation_angle_deg(cameras.R).max()) < 0.5  # a fixed camera
    for bad, says in ((["--stride", "0"], "--stride"), (["--max-frames", "1"], "--max-frames"),
                      (["--max-image-size", "8"], "--max-image-size")):
        run = subprocess.run([sys.executable, "-m", "raxel_core.cli", "pose", str(BOX), "--out",
                              str(tmp_path / "bad.json"), *bad], cwd=ROOT, capture_output=True, text=True,
                             timeout=900)
        assert run.returncode == 2 and says in run.stderr and "Traceback" not in run.stderr, run.stderr
        assert not (tmp_path / "bad.json").exists()


def test_frames_over_the_memory_limit_are_refused_before_any_is_written_naming_max_image_size(monkeypatch, tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 64, 96, 3), dtype=np.uint8)
    # one frame's peak (frames stream): decoded RGB + YUV 4:2:0 (4.5 B/px) at 96x64, then its RGB copy (3 B/px)
    # and OpenCV's SIFT (300 B/px) at the size features are extracted on
    assert frame_memory_bytes((64, 96), None) == int(4.5 * 64 * 96 + 303 * 64 * 96)
    assert frame_memory_bytes((64, 96), 32) == int(4.5 * 64 * 96 + 303 * 21 * 32)       # 96x64 -> 32x21
    assert frame_memory_bytes((64, 96), None, 2.0) == int(4.5 * 64 * 96 + 303 * 64 * 192)  # stretched to square
    assert frame_memory_bytes((64, 96), None, None) == frame_memory_bytes((64, 96), None)  # estimated: as 1
    monkeypatch.setenv("RAXEL_MEMORY_LIMIT_MB", "1")
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with pytest.raises(ValueError, match=r"^estimating cameras on 96x64 frames \(features at 96x64\) needs about "
                                         r"1\.8 MiB of memory, over the limit of 1\.0 MiB \(RAXEL_MEMORY_LIMIT_MB=1\); "
                                         r"set max_image_size \(raxel pose --max-image-size\), e\.g\. 1920"):
        estimate_trajectory(iter(frames))
    assert list(tmp_path.iterdir()) == []          # the workspace is removed, no frame left behind
    check_frame_memory((64, 96), 32)               # the fix it names: features on smaller frames fit
