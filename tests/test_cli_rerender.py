"""``raxel rerender`` as a user runs it: real files in (frames, trajectories, depth, tracks), the warped
frames, masks, latent masks, tracks and preview out; bad input exits 2 with one line and writes nothing."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from shared_data import DATA

from raxel_core.formats import write_trajectory

ROOT = Path(__file__).resolve().parents[1]
STEM = "0bf152ef84195293"


def raxel(*args):
    return subprocess.run([sys.executable, "-m", "raxel_core.cli", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """4 rendered frames (96x128) with their exact depth (.npy) and cameras (.json)."""
    from raxel_core.synthetic.render import make_scene, render_frames
    from raxel_core.synthetic.room_trajectories import default_demo_trajectory

    base = tmp_path_factory.mktemp("rerender_cli")
    cams = default_demo_trajectory(4, (96, 128))
    frames, depth, _ = render_frames(make_scene(0), cams, antialias=1, return_depth=True)
    (base / "frames").mkdir()
    (base / "depth").mkdir()
    for k in range(4):
        Image.fromarray(frames[k]).save(base / "frames" / f"{k:03d}.png")
        np.save(base / "depth" / f"{k:03d}.npy", depth[k])
    write_trajectory(cams, base / "cams.json")
    return base, frames, depth, cams


def test_rerender_writes_frames_masks_latent_masks_tracks_and_preview(synthetic, tmp_path):
    from raxel_core.rerender.targets import preset_targets, scene_distance
    from raxel_core.rerender.warp import forward_warp, visibility_mask

    base, frames, depth, cams = synthetic
    tracks = [[{"x": 20.0 + 10 * n, "y": 50.0} for _ in range(4)] for n in range(8)]
    (tmp_path / "tracks.json").write_text(json.dumps(tracks))
    out = tmp_path / "out"
    run = raxel("rerender", base / "frames", "--source-trajectory", base / "cams.json", "--preset", "orbit_right",
                "--depth", base / "depth", "--depth-form", "exact", "--tracks", tmp_path / "tracks.json",
                "--out", out)
    assert run.returncode == 0, run.stderr
    assert "coverage" in run.stdout and "depth: exact" in run.stdout
    warped = np.stack([np.asarray(Image.open(p)) for p in sorted((out / "warped").glob("*.png"))])
    masks = np.stack([np.asarray(Image.open(p)) for p in sorted((out / "masks").glob("*.png"))])
    latent = sorted((out / "latent_masks").glob("*.png"))
    assert warped.shape == (4, 96, 128, 3) and masks.shape == (4, 96, 128) and len(latent) == 2
    assert np.asarray(Image.open(latent[0])).shape == (12, 16)
    # the library's own warp of the same inputs
    target = preset_targets(cams, "orbit_right", scene_distance(torch.from_numpy(depth)))
    lib = forward_warp(frames, torch.from_numpy(depth), cams, target)
    expected = np.clip(np.round(lib.image.numpy() * 255), 0, 255)
    assert np.abs(warped.astype(int) - expected).max() <= 1
    np.testing.assert_array_equal(masks > 127, ~visibility_mask(lib.covered).numpy())
    assert not (masks[0] > 127).any()  # frame 0 is the source camera: nothing to generate
    target_tracks = json.loads((out / "tracks.json").read_text())
    assert len(target_tracks) == 8 and len(target_tracks[0]) == 4
    assert target_tracks[0][0] == {"x": pytest.approx(20.0), "y": pytest.approx(50.0)}
    # ATI's layout for WanTrackToVideo: 121 points from the first to the last frame, hidden tracks cut
    ati = json.loads((out / "tracks_ati.json").read_text())
    whole = [k for k, t in enumerate(target_tracks) if all(p.get("visible", True) for p in t)]
    assert whole and len(ati) >= len(whole) and all(1 <= len(t) <= 121 for t in ati)
    assert sum(len(t) == 121 for t in ati) == len(whole)
    first = ati[[len(t) for t in ati].index(121)]
    k = whole[0]  # the first whole track is the first ATI track of 121 points
    assert first[0] == {"x": pytest.approx(target_tracks[k][0]["x"], abs=1e-3),
                        "y": pytest.approx(target_tracks[k][0]["y"], abs=1e-3)}
    assert first[-1] == {"x": pytest.approx(target_tracks[k][-1]["x"], abs=1e-3),
                         "y": pytest.approx(target_tracks[k][-1]["y"], abs=1e-3)}
    assert (out / "preview.png").stat().st_mode & 0o777 == 0o644
    report = json.loads((out / "report.json").read_text())
    assert report["frames"] == 4 and report["latent_frames"] == 2


def _bad_depth(folder: Path, kind: str, depth: np.ndarray) -> Path:
    folder.mkdir()
    n = 3 if kind == "frames" else 4
    for k in range(n):
        d = depth[k].copy()
        if kind == "nan":
            d[5, 5] = np.nan
        elif kind == "zero":
            d[:10] = 0
        elif kind == "negative":
            d[:10] = -1
        elif kind == "size":
            d = d[:-2]
        np.save(folder / f"{k:03d}.npy", d)
    return folder


@pytest.mark.parametrize("kind, message", [
    ("nan", "NaN"), ("zero", "zero or negative"), ("negative", "zero or negative"),
    ("size", "resize the depth maps"), ("frames", "has 3 frames but the video has 4"),
])
def test_bad_depth_exits_2_with_one_line(synthetic, tmp_path, kind, message):
    base, _, depth, _ = synthetic
    run = raxel("rerender", base / "frames", "--source-trajectory", base / "cams.json", "--preset", "dolly_in",
                "--depth", _bad_depth(tmp_path / "d", kind, depth), "--depth-form", "exact", "--out", tmp_path / "o")
    assert run.returncode == 2 and message in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_bad_trajectories_and_tracks_exit_2(synthetic, tmp_path):
    base, _, _, cams = synthetic
    write_trajectory(cams[:3], tmp_path / "three.json")
    common = ["--depth", base / "depth", "--depth-form", "exact", "--out", tmp_path / "o"]
    run = raxel("rerender", base / "frames", "--source-trajectory", base / "cams.json", "--trajectory",
                tmp_path / "three.json", *common)
    assert run.returncode == 2 and "has 3 frames but the source video has 4" in run.stderr, run.stderr
    run = raxel("rerender", base / "frames", "--source-trajectory", tmp_path / "three.json", "--preset", "orbit_up",
                *common)
    assert run.returncode == 2 and "does not belong to this video" in run.stderr, run.stderr
    (tmp_path / "far.json").write_text(json.dumps([[{"x": 900.0, "y": 10.0}] * 4]))
    run = raxel("rerender", base / "frames", "--source-trajectory", base / "cams.json", "--preset", "orbit_up",
                "--tracks", tmp_path / "far.json", *common)
    assert run.returncode == 2 and "outside the 128x96 frame" in run.stderr, run.stderr
    hidden = [[{"x": 10.0, "y": 10.0, "visible": False}] * 4]
    (tmp_path / "hidden.json").write_text(json.dumps(hidden))
    run = raxel("rerender", base / "frames", "--source-trajectory", base / "cams.json", "--preset", "orbit_up",
                "--tracks", tmp_path / "hidden.json", *common)
    assert run.returncode == 2 and "all hidden" in run.stderr, run.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.shared_data(f"re10k/videos/{STEM}.mp4", f"re10k/poses/{STEM}.txt")
def test_rerender_a_real_clip_with_its_dataset_cameras_and_coarse_depth(tmp_path):
    run = raxel("rerender", DATA / "re10k" / "videos" / f"{STEM}.mp4", "--source-trajectory",
                DATA / "re10k" / "poses" / f"{STEM}.txt", "--preset", "dolly_out", "--out", tmp_path / "out")
    assert run.returncode == 0, run.stderr
    assert "depth: coarse" in run.stdout
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["frames"] == 16 and 0.3 < report["coverage"] < 1.0
    assert len(list((tmp_path / "out" / "warped").glob("*.png"))) == 16
