"""The `raxel` command as a user runs it: real files in, real files out, clear errors."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from shared_data import DATA

from raxel_core.formats import read_trajectory
from raxel_core.geometry.rotations import rotation_error_deg

ROOT = Path(__file__).resolve().parents[1]
RE10K_POSES = DATA / "re10k" / "poses"
needs_data = pytest.mark.shared_data("re10k/poses")


def raxel(*args, cwd=None):
    """Run the installed entry point's module exactly as the `raxel` script does."""
    return subprocess.run([sys.executable, "-m", "raxel_core.cli", *map(str, args)], cwd=cwd or ROOT,
                          capture_output=True, text=True, timeout=900)


@needs_data
def test_convert_encode_decode_round_trip_on_a_realestate10k_file(tmp_path):
    src = RE10K_POSES / "0c11dbe781b1c11c_svdxt.txt"
    run = raxel("convert", src, tmp_path / "traj.json", "--size", "320x576")
    assert run.returncode == 0, run.stderr
    run = raxel("encode", tmp_path / "traj.json", "--out", tmp_path / "raxels", "--size", "160x288")
    assert run.returncode == 0, run.stderr
    pngs = sorted((tmp_path / "raxels").glob("raxel_*.png"))
    meta = json.loads((tmp_path / "raxels" / "raxels.json").read_text())
    assert len(pngs) == 25 and meta["image_size"] == [160, 288] and meta["scale"] > 0
    run = raxel("decode", tmp_path / "raxels", "--out", tmp_path / "back.txt")
    assert run.returncode == 0, run.stderr

    truth = read_trajectory(tmp_path / "traj.json")
    back = read_trajectory(tmp_path / "back.txt", image_size=(320, 576))
    extent = float((truth.centers - truth.centers[0]).norm(dim=1).max())
    # 8-bit raxels: the bounds (rotation <= 0.05 deg, centre <= 0.2 % of extent, focal <= 0.2 %)
    assert float(rotation_error_deg(truth.R, back.R).max()) <= 0.05
    assert float((truth.centers - back.centers).norm(dim=1).max()) <= 0.002 * extent
    assert float(((back.fx - truth.fx) / truth.fx).abs().max()) <= 0.002


@needs_data
def test_convert_to_every_writer_format_by_extension(tmp_path):
    """Each writer, chosen by the output name, keeps every camera: read back, R, t and K equal the
    RealEstate10K file read at the same size (what `convert --size 256x384` reads)."""
    src = RE10K_POSES / "0bf152ef84195293.txt"
    truth = read_trajectory(src, image_size=(256, 384))
    assert len(truth) == 16
    for out in ("a.json", "transforms.json", "colmap_model", "b.txt"):
        run = raxel("convert", src, tmp_path / out, "--size", "256x384")
        assert run.returncode == 0, run.stderr
        back = read_trajectory(tmp_path / out, **({"image_size": (256, 384)} if out.endswith(".txt") else {}))
        assert len(back) == len(truth) and back.image_size == (256, 384), out
        assert float(rotation_error_deg(back.R, truth.R).max()) < 1e-4, out
        assert torch.allclose(back.centers, truth.centers, atol=1e-6), out
        assert torch.allclose(back.K, truth.K, rtol=1e-6, atol=1e-6), out


def test_bad_input_exits_2_with_a_one_line_message(tmp_path):
    bad = tmp_path / "nan.json"
    bad.write_text(json.dumps({"format": "raxel-trajectory", "version": 1, "convention": "opencv_w2c",
                               "image_size": [4, 4], "frames": [
                                   {"K": [[2, 0, 2], [0, 2, 2], [0, 0, 1]],
                                    "R": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "t": [0, float("nan"), 0]}]}))
    run = raxel("encode", bad, "--out", tmp_path / "r")
    assert run.returncode == 2
    assert "non-finite" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "r").exists()
    run = raxel("encode", bad, "--out", tmp_path / "r", "--size", "12by4")
    assert run.returncode == 2 and "HxW" in run.stderr
    run = raxel("pose", tmp_path / "missing.mp4", "--out", tmp_path / "t.json")
    assert run.returncode == 2 and "missing.mp4" in run.stderr
    assert not (tmp_path / "t.json").exists()


def test_demo_runs_end_to_end_and_reports_its_error(tmp_path):
    """The README's main job: render, estimate, write the files, print the error."""
    run = raxel("demo", "--out", tmp_path / "demo", "--frames", "16")
    assert run.returncode == 0, run.stderr + run.stdout
    for name in ("estimated_trajectory.json", "trajectory_preview.png", "demo_clip.mp4"):
        assert (tmp_path / "demo" / name).stat().st_size > 0
    assert "16/16 frames registered" in run.stdout
    auc_line = next(line for line in run.stdout.splitlines() if line.strip().startswith("auc30"))
    assert float(auc_line.split()[1]) >= 90.0
    # the preview draws the estimate aligned to the true path (Sim(3)) and says so in its title: the
    # picture is laid out for the true path alone, and the coloured estimate lies on it
    assert "preview: estimate (colour) aligned by Sim(3) to the true path (grey)" in run.stdout
    import cv2
    import numpy as np

    from raxel_core.preview import preview_layout

    img = cv2.imread(str(tmp_path / "demo" / "trajectory_preview.png"))[..., ::-1].astype(int)
    truth = read_trajectory(tmp_path / "demo" / "true_trajectory.json")
    layout = preview_layout(truth, reference=truth)
    on_path = 0
    for x, y in layout.project(truth.centers.numpy(), "top"):
        patch = img[int(round(y)) - 2:int(round(y)) + 3, int(round(x)) - 2:int(round(x)) + 3]
        on_path += bool((np.ptp(patch, axis=-1) > 60).any())      # a saturated (time-coloured) pixel
    assert on_path >= 14, on_path                                  # of 16 true centres
