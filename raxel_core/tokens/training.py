"""Training data, training loop and reconstruction evaluation of the camera tokenizer.

Data (:func:`trajectory_corpus`), split into training and held-out paths by source:

* ``presets``: every move of :mod:`raxel_core.authoring.trajectory_presets` at random magnitudes
  (0.3-2x the default, either sign), easings, fields of view and lengths (16-49 frames); held-out
  paths are drawn with another seed.
* ``synthetic``: :func:`raxel_core.synthetic.room_trajectories.sample_room_trajectory` (presets at
  random poses and keyframe splines inside the synthetic room); held out: another seed.
* ``motionctrl``: MotionCtrl's ``basic/`` and ``realestate10k/`` JSON trajectories; held out: the last
  5 of the 20 RealEstate10K files (sorted names) and 3 basic files.
* ``re10k``: the RealEstate10K pose files of the 5 scenes (3 clips each); held out: the clips of the
  last scene (sorted ids).

Real files come from a data folder (``../shared/data`` layout); each source that is absent is reported
as missing, never silently replaced.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from ..cameras import Cameras
from ..geometry.rotations import rotation_error_deg
from .camera_features import path_to_features
from .tokenizer import CameraTokenizer, TokenizerConfig

#: Training windows are this many consecutive frames (the convolutional model takes any length).
WINDOW = 16
#: Held-out file names per real source (see the module docstring).
HELD_OUT_BASIC = ("test_camera_O_0.4x.json", "test_camera_SPIN-ACW-60.json", "test_camera_U.json")


def _preset_paths(rng: np.random.Generator, count: int) -> list[Cameras]:
    from ..authoring.trajectory_presets import DEFAULT_MAGNITUDES, EASINGS, PRESET_NAMES, make_preset

    paths = []
    for i in range(count):
        name = PRESET_NAMES[i % len(PRESET_NAMES)]
        m = DEFAULT_MAGNITUDES[name] * rng.uniform(0.3, 2.0)
        if name in ("zoom_in", "zoom_out"):
            m = max(1.05, DEFAULT_MAGNITUDES[name] ** rng.uniform(0.3, 2.0))
        elif rng.random() < 0.3:
            m = -m
        paths.append(make_preset(name, int(rng.integers(16, 50)), m, EASINGS[int(rng.integers(len(EASINGS)))],
                                 fov_y_deg=float(rng.uniform(35, 75)), distance=float(rng.uniform(2, 6))))
    return paths


def _synthetic_paths(rng: np.random.Generator, count: int) -> list[Cameras]:
    from ..synthetic.render import make_scene
    from ..synthetic.room_trajectories import sample_room_trajectory

    scene = make_scene(0)
    return [sample_room_trajectory(scene, rng, int(rng.integers(16, 50)), (256, 384)) for _ in range(count)]


def trajectory_corpus(data_dir, seed: int = 0, num_presets: int = 168, num_synthetic: int = 48) -> dict:
    """Training and held-out trajectories: ``{"train": {source: [Cameras]}, "held_out": {...}, "missing": [...]}``.

    Args:
        data_dir: the shared data folder (``trajectories/motionctrl/``, ``re10k/poses/``); may be ``None``.
        seed: seeds the synthetic draws (held-out draws use ``seed + 1000``).
        num_presets / num_synthetic: training paths drawn per synthetic source (held out: a quarter).
    """
    from ..formats import read_trajectory
    from ..formats.realestate10k import read_realestate10k

    train: dict[str, list[Cameras]] = {}
    held: dict[str, list[Cameras]] = {}
    missing: list[str] = []
    rng, rng_held = np.random.default_rng(seed), np.random.default_rng(seed + 1000)
    train["presets"] = _preset_paths(rng, num_presets)
    held["presets"] = _preset_paths(rng_held, max(1, num_presets // 4))
    train["synthetic"] = _synthetic_paths(rng, num_synthetic)
    held["synthetic"] = _synthetic_paths(rng_held, max(1, num_synthetic // 4))
    root = Path(data_dir) if data_dir else None
    mc = root / "trajectories" / "motionctrl" if root else None
    if mc is not None and mc.is_dir():
        real = sorted((mc / "realestate10k").glob("*.json"))
        basic = sorted((mc / "basic").glob("*.json"))
        train["motionctrl"] = [read_trajectory(p) for p in real[:-5]] + [
            read_trajectory(p) for p in basic if p.name not in HELD_OUT_BASIC]
        held["motionctrl"] = [read_trajectory(p) for p in real[-5:]] + [
            read_trajectory(p) for p in basic if p.name in HELD_OUT_BASIC]
    else:
        missing.append(f"MotionCtrl trajectories ({mc})")
    poses = root / "re10k" / "poses" if root else None
    if poses is not None and poses.is_dir():
        files = sorted(poses.glob("*.txt"))
        scenes = sorted({p.name.split("_")[0].removesuffix(".txt") for p in files})
        last = scenes[-1]
        train["re10k"] = [read_realestate10k(p, (256, 384)) for p in files if not p.name.startswith(last)]
        held["re10k"] = [read_realestate10k(p, (256, 384)) for p in files if p.name.startswith(last)]
    else:
        missing.append(f"RealEstate10K poses ({poses})")
    return {"train": train, "held_out": held, "missing": missing}


def _windows(paths: list[Cameras], rng: np.random.Generator, count: int) -> torch.Tensor:
    """``(count, WINDOW, F)`` float32 features of random windows (each made relative to its own first frame)."""
    out = []
    for _ in range(count):
        cams = paths[int(rng.integers(len(paths)))]
        n = len(cams)
        if n >= WINDOW:
            s = int(rng.integers(n - WINDOW + 1))
            window = cams[s:s + WINDOW]
        else:  # short path: hold its last pose (a camera that stops)
            index = torch.clamp(torch.arange(WINDOW), max=n - 1)
            window = cams[index]
        out.append(path_to_features(window)[0])
    return torch.stack(out).float()


def train_tokenizer(train_paths: dict, config: TokenizerConfig | None = None, steps: int = 1500,
                    batch_size: int = 64, lr: float = 2e-3, seed: int = 0, pool_size: int = 1024,
                    log=print) -> CameraTokenizer:
    """Train a :class:`CameraTokenizer` on random windows of ``train_paths`` (``{source: [Cameras]}``).

    ``pool_size`` random windows per source are cut once; each batch draws from them. Sources are
    sampled equally (a batch is a quarter from each), so the 168 presets do not drown the
    15 RealEstate10K clips. Loss: MSE of the decoded features + 0.25 x the RVQ commitment loss; Adam
    with a cosine learning-rate decay. Deterministic for a seed (CPU).
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    sources = [s for s, paths in train_paths.items() if paths]
    if not sources:
        raise ValueError("no training trajectories")
    model = CameraTokenizer(config)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    per_source = max(1, batch_size // len(sources))
    pools = {s: _windows(train_paths[s], rng, pool_size) for s in sources}  # random windows, drawn once
    start = time.time()
    model.train()
    for step in range(steps):
        batch = torch.cat([pools[s][torch.randint(pool_size, (per_source,))] for s in sources])
        recon, _, commit = model(batch)
        loss = torch.nn.functional.mse_loss(recon, batch) + 0.25 * commit
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if log and (step % 250 == 0 or step == steps - 1):
            log(f"step {step:5d}  loss {loss.item():.5f}  ({time.time() - start:.0f} s)")
    return model.eval()


def path_errors(reference: Cameras, estimate: Cameras) -> tuple[float, float]:
    """Mean per-frame errors over frames ``1..N-1`` of two equally long paths, both relative to frame 0:
    rotation (geodesic, degrees) and camera-centre distance divided by the reference path's scale
    (the largest centre distance from frame 0; 1 for a path that does not translate)."""
    if len(reference) < 2:
        return 0.0, 0.0
    a, b = reference.relative_to(0), estimate.relative_to(0)
    rot = rotation_error_deg(a.R[1:], b.R[1:]).mean().item()
    extent = float((a.centers - a.centers[0]).norm(dim=-1).max())
    scale = extent if extent > 1e-6 else 1.0
    trans = ((a.centers[1:] - b.centers[1:]).norm(dim=-1) / scale).mean().item()
    return rot, trans


def static_path(cameras: Cameras) -> Cameras:
    """The constant-camera baseline: every frame is frame 0."""
    return cameras[torch.zeros(len(cameras), dtype=torch.long)]


def reconstruction_table(model: CameraTokenizer, held_out: dict) -> list[dict]:
    """Rows ``{"source", "method", "levels", "tokens_per_frame", "rotation_deg", "translation"}``: the mean
    :func:`path_errors` over each source's held-out paths after decoding from 1..L levels, beside the
    constant-camera baseline (0 tokens)."""
    rows = []
    for source, paths in held_out.items():
        if not paths:
            continue
        errors = {0: []} | {k: [] for k in range(1, model.config.num_levels + 1)}
        for cams in paths:
            errors[0].append(path_errors(cams, static_path(cams)))
            indices, frame = model.encode(cams)
            for k in range(1, model.config.num_levels + 1):
                errors[k].append(path_errors(cams, model.decode(indices, frame, levels=k)))
        for k, errs in errors.items():
            e = np.asarray(errs)
            rows.append({"source": source, "paths": len(paths), "method": "static camera" if k == 0 else "RVQ tokens",
                         "levels": k, "tokens_per_frame": k, "rotation_deg": float(e[:, 0].mean()),
                         "translation": float(e[:, 1].mean())})
    return rows


def format_table(rows: list[dict]) -> str:
    """The reconstruction table as fixed-width text."""
    lines = [f"{'source':<11}{'paths':>6}  {'method':<14}{'levels':>7}{'rot err (deg)':>15}{'centre err / scale':>20}"]
    for r in rows:
        lines.append(f"{r['source']:<11}{r['paths']:>6}  {r['method']:<14}{r['levels']:>7}"
                     f"{r['rotation_deg']:>15.3f}{r['translation']:>20.4f}")
    return "\n".join(lines)

