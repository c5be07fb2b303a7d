"""Tracks in ATI's layout (raxel_core.interop.ati_tracks), what core ComfyUI's WanTrackToVideo reads: 121
points per track spanning the clip, a track hidden in the first frame left out, a track cut where it is
hidden. Closed forms here; the parity test runs core's own parser (comfy_extras/nodes_wan.py: parse_json_tracks,
pad_pts, process_tracks) on the JSON and checks that core places every point where the track is at that
frame, which the per-frame layout does not (core reads it 1.5x too fast and drops its last third).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from comfyui_server import COMFYUI_DIR, SHIMS, comfyui_skip_reason

from raxel_core.interop import ATI_TRACK_SAMPLES, Tracks2D, ati_tracks, tracks_to_ati_json, tracks_to_json


def _linear_tracks(frames: int, starts, velocities, visibility=None) -> Tracks2D:
    """Tracks moving at constant velocity: x_k = start + k * velocity (pixels)."""
    k = np.arange(frames, dtype=np.float64)[:, None, None]
    points = np.asarray(starts, np.float64)[None] + k * np.asarray(velocities, np.float64)[None]
    vis = np.ones(points.shape[:2], bool) if visibility is None else np.asarray(visibility, bool)
    return Tracks2D(points.astype(np.float32), vis)


def test_every_track_is_121_samples_spanning_the_clip():
    tracks = _linear_tracks(9, [[10.0, 20.0], [100.0, 50.0]], [[3.0, -1.0], [-2.0, 0.5]])
    out = ati_tracks(tracks)
    assert len(out) == 2 and all(len(t) == ATI_TRACK_SAMPLES == 121 for t in out)
    for track, (start, velocity) in zip(out, [((10, 20), (3, -1)), ((100, 50), (-2, 0.5))], strict=True):
        for j, point in enumerate(track):
            time = j * 8 / 120  # sample j of 121 lies at this frame of the 9
            assert point["x"] == pytest.approx(start[0] + velocity[0] * time, abs=2e-3)
            assert point["y"] == pytest.approx(start[1] + velocity[1] * time, abs=2e-3)
    assert json.loads(tracks_to_ati_json(tracks)) == out


def test_a_track_hidden_in_the_first_frame_is_left_out_and_one_that_hides_is_cut():
    visibility = np.ones((9, 3), bool)
    visibility[0, 0] = False     # appears at frame 1: ATI cannot say "not yet"
    visibility[5:, 1] = False    # hidden from frame 5: samples up to frame 4 stay
    tracks = _linear_tracks(9, [[10.0, 10.0], [20.0, 20.0], [30.0, 30.0]], [[1.0, 0.0]] * 3, visibility)
    out = ati_tracks(tracks)
    assert len(out) == 2
    # samples at times j * 8 / 120 <= 4 (frame 4 itself, not between 4 and the hidden 5): j = 0 .. 60
    assert len(out[0]) == 61 and out[0][-1]["x"] == pytest.approx(24.0)
    assert len(out[1]) == 121 and out[1][0] == {"x": 30.0, "y": 30.0}
    everything_hidden = _linear_tracks(3, [[5.0, 5.0]], [[1.0, 1.0]], np.array([[False], [True], [True]]))
    assert ati_tracks(everything_hidden) == []
    with pytest.raises(ValueError, match="at least 2 samples"):
        ati_tracks(tracks, samples=1)


def test_a_one_frame_clip_gives_its_points_held():
    out = ati_tracks(_linear_tracks(1, [[7.0, 8.0]], [[0.0, 0.0]]))
    assert out == [[{"x": 7.0, "y": 8.0}] * 121]


_CORE_READS = """
import json, sys
sys.path[:0] = [p for p in sys.argv[1:3] if p]
import comfy.cli_args
comfy.cli_args.args.cpu = True
import numpy as np
from comfy_extras.nodes_wan import pad_pts, parse_json_tracks, process_tracks
width, height, length = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
out = {}
for name, text in json.loads(sys.stdin.read()).items():
    tracks = parse_json_tracks(text)
    arrays = np.stack([pad_pts(t) for t in tracks], axis=0)
    out[name] = process_tracks(arrays, (width, height), length - 1).tolist()  # (length, N, 4): t, x, y, visible
print("CORE" + json.dumps(out))
"""


def test_core_wan_track_to_video_reads_each_point_where_the_track_is_at_that_frame():
    """Core's WanTrackToVideo for 832 x 480, 81 frames, on our JSON: frame i's point is the track's position
    at frame i within 0.7 frame of motion (core's resampling of 121 onto 81 samples by index), normalised as
    core does ((x - W / 2) / (short side / 2)); visibility +1 while the track lasts, -1 after its cut."""
    reason = comfyui_skip_reason("run core's WanTrackToVideo track parser")
    if reason:
        pytest.skip(reason)
    width, height, length = 832, 480, 81
    velocity = np.array([[4.0, 1.5], [-3.0, 2.0], [2.5, -2.5]])
    visibility = np.ones((length, 3), bool)
    visibility[60:, 2] = False  # the third track hides at frame 60
    tracks = _linear_tracks(length, [[100.0, 100.0], [700.0, 80.0], [300.0, 400.0]], velocity, visibility)
    texts = {"ati": tracks_to_ati_json(tracks), "per_frame": tracks_to_json(tracks)}
    run = subprocess.run([sys.executable, "-c", _CORE_READS, SHIMS or "", str(Path(COMFYUI_DIR).resolve()),
                          str(width), str(height), str(length)], input=json.dumps(texts),
                         cwd=str(Path(COMFYUI_DIR).resolve()), capture_output=True, text=True, timeout=600)
    line = next((ln for ln in run.stdout.splitlines() if ln.startswith("CORE")), None)
    assert line, run.stdout[-2000:] + run.stderr[-3000:]
    core = {name: np.array(value) for name, value in json.loads(line[4:]).items()}
    frames = np.arange(length)
    truth = tracks.points.astype(np.float64)                          # (81, 3, 2) pixels at each frame
    centre, half_short = np.array([width / 2, height / 2]), min(width, height) / 2
    expected = (truth - centre) / half_short
    slack = 0.7 * np.abs(velocity).max() / half_short + 1e-4          # 0.7 frame of the fastest motion
    ati = core["ati"]
    assert ati.shape == (length, 3, 4)
    shown = ati[..., 3] > 0
    np.testing.assert_array_equal(shown[:, :2], True)
    last = frames[shown[:, 2]].max()
    assert 58 <= last <= 60 and not shown[last + 1:, 2].any()        # gone at its cut, not before frame 58
    error = np.abs(ati[..., 1:3] - expected)[shown]
    assert error.max() <= slack, error.max() * half_short
    # the per-frame layout (81 points) is read as 121: 1.5x too fast, and hidden from frame 54 on
    per_frame = core["per_frame"]
    assert not (per_frame[54:, :2, 3] > 0).any()
    fast = np.abs(per_frame[1:54, :2, 1:3] - expected[1:54, :2]).max()
    assert fast > 10 * slack


def test_cli_writes_the_ati_layout_of_the_tracks_it_finds(shared_file, tmp_path):
    """``raxel tracks --format ati``: the same tracks as ``--format xy``, each resampled to 121 points over the
    clip (oracle: numpy's linear interpolation of the per-frame points), cut where the track hides."""
    clip = shared_file("re10k/videos/0bf152ef84195293.mp4")
    root = Path(__file__).resolve().parents[1]
    common = [clip, "--points", "60", "--no-reseed", "--max-frames", "8"]
    outs = {}
    for layout in ("xy", "ati"):
        outs[layout] = tmp_path / f"{layout}.json"
        run = subprocess.run([sys.executable, "-m", "raxel_core.cli", "tracks", *map(str, common), "--out",
                              str(outs[layout]), "--format", layout], cwd=root, capture_output=True, text=True,
                             timeout=900)
        assert run.returncode == 0, run.stderr
    per_frame = json.loads(outs["xy"].read_text())
    ati = json.loads(outs["ati"].read_text())
    assert (outs["ati"].stat().st_mode & 0o777) == 0o644
    assert len(ati) == len(per_frame) >= 20  # no reseeding: every track starts visible in frame 0
    times = np.arange(121) * 7 / 120
    for track, frames in zip(ati, per_frame, strict=True):
        shown = [p.get("visible", True) for p in frames]
        last = shown.index(False) - 1 if False in shown else 7
        expect_len = int(np.sum(times <= last + 1e-9))
        assert len(track) == expect_len
        for axis in "xy":
            expected = np.interp(times[:expect_len], np.arange(8), [p[axis] for p in frames])
            np.testing.assert_allclose([p[axis] for p in track], expected, atol=2e-3)
