"""Raxel encode / decode: speed against the memory floor, and accuracy on RealEstate10K.

    python benchmarks/bench_raxels.py              # speed: 81 frames, 240x416 raxels, CPU
    python benchmarks/bench_raxels.py --accuracy   # accuracy table over every RealEstate10K clip

Speed: milliseconds per frame (median over repeats) of ``encode_raxels`` and ``decode_raxels``
(float64) and of the 8-bit image round trip, printed beside the memory floor measured in the same
run: the time to copy a tensor of the raxel maps' size (float64 and float32), as a ratio.

Accuracy: each RealEstate10K pose file in ``shared/data/re10k/poses`` (or ``$RAXEL_SHARED_DATA``)
read for 256x416 frames (16:9 source, centre crop) with rotations projected onto SO(3), encoded at
128x208 raxels and decoded in three regimes: float64 maps, 8-bit images, and 8-bit images with 5 %
of pixels replaced by uniform random values. Errors: rotation (degrees, geodesic, atan2 form),
camera centre (fraction of the trajectory's extent, the largest distance from the reference
camera), focal length (relative, worse of fx and fy); max and median over all frames of all clips.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from raxel_core.cameras import Cameras, look_at_w2c
from raxel_core.evaluation.metrics import per_frame_camera_errors
from raxel_core.geometry.rotations import project_to_rotation
from raxel_core.rays.raxel_decode import decode_raxels
from raxel_core.rays.raxel_encode import encode_raxels
from raxel_core.rays.raxel_maps import RaxelMaps

REGIMES = ("float64", "uint8", "uint8 + 5% random pixels")
#: Accuracy bounds (the spec the tests assert): rotation deg, centre / extent, focal relative.
BOUNDS = {
    "float64": (1e-6, 1e-9, 1e-9),
    "uint8": (0.05, 2e-3, 2e-3),
    "uint8 + 5% random pixels": (0.05, 2e-3, 2e-3),
}


def shared_data() -> Path:
    env = os.environ.get("RAXEL_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _time_ms(fn, repeats: int) -> tuple[float, float]:
    """(median, minimum) wall time in ms over ``repeats`` calls; on a shared machine the minimum
    is the steadier figure."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times), 1000 * min(times)


def orbit_trajectory(n: int = 81, image_size=(480, 832)) -> Cameras:
    """A 60-degree orbit at radius 3 around the origin, slowly rising, 50-degree vertical FOV."""
    angle = torch.linspace(-math.pi / 6, math.pi / 6, n, dtype=torch.float64)
    eye = torch.stack([3 * torch.sin(angle), -0.3 * torch.linspace(0, 1, n, dtype=torch.float64),
                       -3 * torch.cos(angle)], -1)
    w2c = look_at_w2c(eye, torch.zeros_like(eye))
    K = Cameras.intrinsics_from_fov(50.0, image_size, n)
    return Cameras.from_w2c(w2c, K, image_size)


def speed(frames: int = 81, size=(240, 416), repeats: int = 5) -> None:
    cams = orbit_trajectory(frames, (2 * size[0], 2 * size[1]))
    maps = encode_raxels(cams)
    assert maps.image_size == tuple(size)
    images = maps.to_uint8()
    meta = maps.metadata()
    f64 = maps.rays
    f32 = maps.rays.to(torch.float32)
    floor64 = _time_ms(lambda: f64.clone(), repeats)
    floor32 = _time_ms(lambda: f32.clone(), repeats)
    rows = [
        ("encode_raxels (float64)", _time_ms(lambda: encode_raxels(cams), repeats)),
        ("decode_raxels (float64)", _time_ms(lambda: decode_raxels(maps), repeats)),
        ("to_uint8 + from_uint8", _time_ms(lambda: RaxelMaps.from_uint8(maps.to_uint8(), meta), repeats)),
        ("from_uint8 + decode_raxels", _time_ms(lambda: decode_raxels(RaxelMaps.from_uint8(images, meta)), repeats)),
    ]
    rows.insert(2, ("encode + decode", tuple(a + b for a, b in zip(rows[0][1], rows[1][1], strict=True))))

    def per(ms: float) -> float:
        return ms / frames

    print(f"raxels: {frames} frames at {size[0]}x{size[1]}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {repeats} repeats; ms per frame as median (min)")
    print(f"memory floor (copy of the maps): float64 {per(floor64[0]):.3f} ({per(floor64[1]):.3f}), "
          f"float32 {per(floor32[0]):.3f} ({per(floor32[1]):.3f})")
    print(f"{'step':28s} {'ms/frame':>16s} {'x f64 copy':>14s} {'x f32 copy':>14s}")
    for name, (med, best) in rows:
        print(f"{name:28s} {per(med):7.3f} ({per(best):6.3f}) {med / floor64[0]:6.1f} ({best / floor64[1]:5.1f})"
              f" {med / floor32[0]:6.1f} ({best / floor32[1]:5.1f})")


def re10k_cameras(path: Path) -> Cameras:
    """A RealEstate10K clip for 256x416 frames, rotations projected onto SO(3), centres kept."""
    from raxel_core.formats import read_trajectory

    cams = read_trajectory(path, format="realestate10k", image_size=(256, 416), source_aspect=16 / 9)
    R = project_to_rotation(cams.R)
    return Cameras(cams.K, R, -(R @ cams.centers[..., None])[..., 0], cams.image_size)


def corrupt(images: np.ndarray, fraction: float = 0.05, seed: int = 0) -> np.ndarray:
    """Replace ``fraction`` of the pixels (all 3 channels) by uniform random uint8 values."""
    rng = np.random.default_rng(seed)
    out = images.copy()
    mask = rng.random(images.shape[:3]) < fraction
    out[mask] = rng.integers(0, 256, (int(mask.sum()), 3), dtype=np.uint8)
    return out


def decode_regimes(cams: Cameras, seed: int = 0) -> dict[str, Cameras]:
    maps = encode_raxels(cams, size=(128, 208))
    meta = maps.metadata()
    images = maps.to_uint8()
    return {
        "float64": decode_raxels(maps),
        "uint8": decode_raxels(RaxelMaps.from_uint8(images, meta)),
        "uint8 + 5% random pixels": decode_raxels(RaxelMaps.from_uint8(corrupt(images, 0.05, seed), meta)),
    }


def accuracy() -> None:
    poses = sorted((shared_data() / "re10k" / "poses").glob("*.txt"))
    if not poses:
        raise SystemExit(f"no RealEstate10K poses under {shared_data()}; set RAXEL_SHARED_DATA")
    per_regime = {r: [[], [], []] for r in REGIMES}
    for path in poses:
        cams = re10k_cameras(path)
        for regime, dec in decode_regimes(cams).items():
            for acc, e in zip(per_regime[regime], per_frame_camera_errors(cams, dec), strict=True):
                acc.append(e)
    frames = sum(len(re10k_cameras(p)) for p in poses)
    print(f"raxel round trip on {len(poses)} RealEstate10K clips ({frames} frames), 128x208 raxels; "
          "deterministic (fixed pixel samples and corruption seed): every run prints the same figures")
    print(f"{'regime':26s} {'rotation deg max / median':>27s} {'centre/extent max / median':>28s} "
          f"{'focal rel max / median':>24s}   bounds")
    for regime in REGIMES:
        cells = []
        for acc in per_regime[regime]:
            e = torch.cat(acc)
            cells.append(f"{float(e.max()):.2e} / {float(e.median()):.2e}")
        b = BOUNDS[regime]
        print(f"{regime:26s} {cells[0]:>27s} {cells[1]:>28s} {cells[2]:>24s}   "
              f"{b[0]:g} deg, {b[1]:g}, {b[2]:g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accuracy", action="store_true", help="print the RealEstate10K accuracy table")
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.accuracy:
        accuracy()
    else:
        speed(args.frames, repeats=args.repeats)


if __name__ == "__main__":
    main()
