"""Camera tokens (raxel_core/tokens, CamViG-style RVQ): exact feature round trip, the bundled tokenizer's
indices, determinism and reconstruction error on held-out real paths, and `raxel tokens` on bad input.

The reconstruction bounds are set just above what `python benchmarks/bench_camera_tokens.py` measured for
the bundled tokenizer (model card: models/raxel-camtok-v1/README.md); errors are computed here with numpy
(arccos of the relative rotation's trace, centre distances), not with the package's own metric.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from shared_data import DATA

from raxel_core.authoring.trajectory_presets import make_preset
from raxel_core.cameras import Cameras
from raxel_core.tokens import CameraTokenizer, features_to_path, path_to_features

ROOT = Path(__file__).resolve().parents[1]
RE10K_HELD_OUT_SCENE = "0f68374b76390082"  # the last scene id: held out of training (training.py)


@pytest.fixture(scope="module")
def tokenizer():
    return CameraTokenizer.from_pretrained()


def _held_out_real() -> list[Cameras]:
    from raxel_core.formats import read_trajectory
    from raxel_core.formats.realestate10k import read_realestate10k

    poses = sorted((DATA / "re10k" / "poses").glob(f"{RE10K_HELD_OUT_SCENE}*.txt"))
    motionctrl = sorted((DATA / "trajectories" / "motionctrl" / "realestate10k").glob("*.json"))[-5:]
    if len(poses) != 3 or len(motionctrl) != 5:
        pytest.skip(f"held-out RealEstate10K / MotionCtrl trajectories not found under {DATA}")
    return [read_realestate10k(p, (256, 384)) for p in poses] + [read_trajectory(p) for p in motionctrl]


def _errors(reference: Cameras, estimate: Cameras) -> tuple[float, float]:
    """Mean rotation error (deg) and centre error / path extent over frames 1.., in numpy."""
    Ra, Rb = reference.R.numpy(), estimate.R.numpy()
    ca = np.einsum("nji,nj->ni", Ra, -reference.t.numpy())  # c = -R^T t
    cb = np.einsum("nji,nj->ni", Rb, -estimate.t.numpy())
    # both relative to their own frame 0
    rel_a = Ra @ Ra[0].T
    rel_b = Rb @ Rb[0].T
    cos = (np.einsum("nij,nij->n", rel_a, rel_b) - 1) / 2  # trace(rel_a^T rel_b) = sum of elementwise products
    rot = np.degrees(np.arccos(np.clip(cos, -1, 1)))[1:].mean()
    da = (ca - ca[0]) @ Ra[0].T
    db = (cb - cb[0]) @ Rb[0].T
    extent = np.linalg.norm(da, axis=1).max()
    trans = (np.linalg.norm(da - db, axis=1) / (extent if extent > 1e-6 else 1.0))[1:].mean()
    return float(rot), float(trans)


# ------------------------------------------------------------------------------------------ features
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_features_round_trip_exactly_on_a_moved_zoomed_path(dtype):
    cams = make_preset("arc", 20, 50.0)
    # move the whole path somewhere else in the world and zoom, so frame 0 is not the identity
    from raxel_core.geometry import rotation_from_euler_deg
    G = rotation_from_euler_deg(20.0, -35.0, 10.0)
    c2w = cams.c2w.clone()
    c2w[:, :3, :3] = G @ c2w[:, :3, :3]
    c2w[:, :3, 3] = (G @ c2w[:, :3, 3:])[..., 0] * 3.0 + torch.tensor([1.0, -2.0, 5.0], dtype=torch.float64)
    K = cams.K.clone()
    K[:, :2, :2] *= torch.linspace(1.0, 1.8, 20, dtype=torch.float64)[:, None, None]
    moved = Cameras.from_c2w(c2w, K, cams.image_size, fps=12.0)
    features, frame = path_to_features(moved)
    assert features.shape == (20, 10)
    assert abs(features[:, 6:9].norm(dim=-1).max().item() - 1.0) < 1e-12  # scale-normalised
    assert abs(frame.scale - 3.0 * (cams.centers - cams.centers[0]).norm(dim=-1).max().item()) < 1e-9
    back = features_to_path(features.to(dtype), frame)
    tol = 1e-9 if dtype == torch.float64 else 1e-5
    assert torch.allclose(back.R, moved.R, atol=tol) and torch.allclose(back.K, moved.K, rtol=tol)
    assert torch.allclose(back.t, moved.t, atol=tol * 10) and back.fps == 12.0


def test_a_path_that_only_turns_keeps_scale_one():
    features, frame = path_to_features(make_preset("pan_left", 10, 40.0))
    assert frame.scale == 1.0 and features[:, 6:9].abs().max().item() < 1e-12


# ------------------------------------------------------------------------------------------ bundled tokenizer
def test_indices_are_in_range_and_encoding_is_deterministic(tokenizer):
    cams = make_preset("orbit_right", 33, 25.0, "ease_in_out")
    a, frame = tokenizer.encode(cams)
    b, _ = CameraTokenizer.from_pretrained().encode(cams)
    assert a.dtype == torch.int64 and a.shape == (33, tokenizer.config.num_levels) == (33, 4)
    assert int(a.min()) >= 0 and int(a.max()) < tokenizer.config.codebook_size
    assert torch.equal(a, b)
    assert torch.equal(tokenizer.encode(cams)[0], a)
    # the tokens carry the motion: another move gives other tokens
    assert not torch.equal(tokenizer.encode(make_preset("orbit_left", 33, 25.0, "ease_in_out"))[0], a)


def test_held_out_real_paths_decode_within_the_measured_error(tokenizer):
    paths = _held_out_real()
    errors = {k: [] for k in (0, 1, 2, 4)}
    for cams in paths:
        indices, frame = tokenizer.encode(cams)
        errors[0].append(_errors(cams, cams[torch.zeros(len(cams), dtype=torch.long)]))
        for k in (1, 2, 4):
            errors[k].append(_errors(cams, tokenizer.decode(indices, frame, levels=k)))
    mean = {k: np.asarray(v).mean(axis=0) for k, v in errors.items()}
    rot4, trans4 = mean[4]
    # measured (bundled raxel-camtok-v1, these 8 paths): 4 levels 5.81 deg / 0.088; 1 level 13.2 / 0.18;
    # still camera 25.1 / 0.58
    assert rot4 < 7.0 and trans4 < 0.10, mean
    assert mean[4][0] < 0.6 * mean[1][0] and mean[4][1] < 0.6 * mean[1][1], mean  # more tokens, smaller error
    assert mean[4][0] < 0.3 * mean[0][0] and mean[4][1] < 0.25 * mean[0][1], mean  # far better than still


def test_decoding_keeps_the_first_pose_and_intrinsics_in_place(tokenizer):
    cams = make_preset("truck_right", 16, 2.0).scaled(5.0)
    from raxel_core.geometry import rotation_from_euler_deg
    G = rotation_from_euler_deg(90.0, 0.0, 0.0)
    cams = Cameras(K=cams.K, R=cams.R @ G, t=cams.t + 1.0, image_size=cams.image_size)
    indices, frame = tokenizer.encode(cams)
    back = tokenizer.decode(indices, frame)
    assert torch.allclose(back.R[0], cams.R[0], atol=1e-12) and torch.allclose(back.t[0], cams.t[0], atol=1e-12)
    assert torch.allclose(back.K[0], cams.K[0])
    rot, trans = _errors(cams, back)
    assert rot < 1.0 and trans < 0.025, (rot, trans)  # measured 0.84 deg / 0.017
    # the last camera is ~10 units to the right of the first in camera-0 axes (truck of 2 x scale 5)
    d = (back.centers[-1] - back.centers[0]) @ cams.R[0].T
    assert abs(d[0].item() - 10.0) < 0.6, d


def test_out_of_range_indices_are_refused(tokenizer):
    indices, frame = tokenizer.encode(make_preset("dolly_in", 8))
    bad = indices.clone()
    bad[3, 1] = tokenizer.config.codebook_size
    with pytest.raises(ValueError, match="must lie in"):
        tokenizer.decode(bad, frame)
    with pytest.raises(ValueError, match="levels must be in"):
        tokenizer.decode(indices, frame, levels=5)


# ------------------------------------------------------------------------------------------ CLI
def _raxel(*args):
    return subprocess.run([sys.executable, "-m", "raxel_core.cli", "tokens", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_cli_encode_decode_round_trip_and_bad_input(tmp_path):
    from raxel_core.formats import read_trajectory, write_trajectory

    cams = make_preset("orbit_up", 25, 15.0)
    src = tmp_path / "path.json"
    write_trajectory(cams, src)
    tokens = tmp_path / "tokens.json"
    r = _raxel("encode", src, "--out", tokens)
    assert r.returncode == 0, r.stderr
    doc = json.loads(tokens.read_text())
    assert doc["format"] == "raxel-camera-tokens" and np.asarray(doc["indices"]).shape == (25, 4)
    assert oct(tokens.stat().st_mode & 0o777) == "0o644"
    out = tmp_path / "back.txt"
    r = _raxel("decode", tokens, "--out", out, "--levels", "4")
    assert r.returncode == 0, r.stderr
    rot, trans = _errors(cams, read_trajectory(out, image_size=cams.image_size))
    assert rot < 5.0 and trans < 0.045, (rot, trans)  # measured 4.1 deg / 0.036

    doc["indices"][2][0] = 99999
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    cases = [
        (("decode", bad, "--out", tmp_path / "x.json"), "must lie in"),
        (("decode", src, "--out", tmp_path / "y.json"), "not a camera tokens file"),
        (("decode", tokens, "--out", tmp_path / "z.json", "--levels", "7"), "--levels must be between"),
        (("encode", tmp_path / "missing.json", "--out", tmp_path / "w.json"), "missing.json"),
    ]
    for args, message in cases:
        r = _raxel(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and message in r.stderr, r.stderr
        assert not Path(args[args.index("--out") + 1]).exists()  # no partial file
