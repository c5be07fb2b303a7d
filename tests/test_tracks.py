"""Point tracks (raxel_core.tracks): accuracy against exact correspondences (image shifts, rendered
rooms with depth and cameras), visibility, streaming input, the checks of brought tracks, the
overlay, and the ``raxel tracks`` command."""
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from shared_data import DATA

from raxel_core.evaluation.tracks import ground_truth_tracks, round_trip_error, track_metrics
from raxel_core.interop import Tracks2D, tracks_from_json
from raxel_core.synthetic.render import make_scene, render_frames
from raxel_core.synthetic.room_trajectories import default_demo_trajectory
from raxel_core.tracks import TrackerSettings, track_points
from raxel_core.tracks.overlay import check_tracks_fit_video, draw_tracks
from raxel_core.video_io import iter_video_frames, read_video_frames, write_video

ROOT = Path(__file__).resolve().parents[1]
CLIP = "re10k/videos/0bf152ef84195293_svdxt.mp4"


@pytest.fixture(scope="module")
def photo(shared_file):
    """A real 576x320 frame (RealEstate10K) to cut shifted windows from."""
    return read_video_frames(shared_file(CLIP), max_frames=1)[0]


def shifted_windows(photo, shift, num_frames, size=(200, 360)):
    """Frame k is the window of ``size`` whose top-left corner is at ``k * shift`` (x, y whole pixels):
    content at (x, y) of frame 0 is at ``(x, y) - k * shift`` in frame k, exactly."""
    h, w = size
    x0, y0 = 100, 50
    return np.stack([photo[y0 + k * shift[1]:y0 + k * shift[1] + h, x0 + k * shift[0]:x0 + k * shift[0] + w]
                     for k in range(num_frames)])


def test_tracks_follow_an_exact_image_shift(photo):
    shift = np.array([6, 2])
    frames = shifted_windows(photo, shift, 12)
    result = track_points(frames, TrackerSettings(num_points=300, reseed=False))
    tracks = result.tracks
    truth = tracks.points[0][None] - np.arange(12)[:, None, None] * shift
    inside = (truth[..., 0] > 8) & (truth[..., 0] < 360 - 8) & (truth[..., 1] > 8) & (truth[..., 1] < 200 - 8)
    error = np.linalg.norm(tracks.points - truth, axis=2)
    assert tracks.num_tracks >= 100
    assert np.median(error[tracks.visibility]) < 0.05
    assert (error[tracks.visibility] < 0.5).mean() > 0.97
    # points that left the frame are invisible; points well inside are still tracked
    assert not tracks.visibility[~((truth[..., 0] >= 0) & (truth[..., 0] <= 360))].any()
    assert tracks.visibility[inside].mean() > 0.9


def test_points_covered_by_a_moving_occluder_become_invisible(photo):
    """A textured patch slides over a still background: background points under it are hidden (the
    forward-backward check ends their tracks); uncovered ones stay visible."""
    frames, covered = [], []
    for k in range(12):
        frame = photo[50:250, 100:460].copy()
        x0 = 20 + 12 * k
        frame[40:160, x0:x0 + 80] = photo[0:120, 420:500]
        mask = np.zeros(frame.shape[:2], bool)
        mask[40:160, x0:x0 + 80] = True
        frames.append(frame)
        covered.append(mask)
    frames, covered = np.stack(frames), np.stack(covered)
    tracks = track_points(frames, TrackerSettings(num_points=300, reseed=False)).tracks
    col, row = (tracks.points[0] - 0.5).round().astype(int).T
    background = ~covered[0, row, col]
    hidden = covered[:, row, col] & background[None]  # the background is still: hidden = under the patch
    shown = ~covered[:, row, col] & background[None]
    assert hidden.sum() > 50
    assert (~tracks.visibility[hidden]).mean() > 0.75
    assert tracks.visibility[shown].mean() > 0.9


def test_seeds_sit_on_the_pixel_centre_of_each_cells_most_trackable_pixel(photo):
    frames = shifted_windows(photo, (1, 0), 2)
    result = track_points(frames, TrackerSettings(num_points=40, reseed=False))
    s = result.spacing
    grey = cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    score = cv2.cornerMinEigenVal(grey, 5, ksize=3)
    seeds = result.tracks.points[0]
    assert np.array_equal(seeds - 0.5, np.round(seeds - 0.5))  # pixel centres (j + 0.5, i + 0.5)
    for x, y in seeds:
        col, row = int(x), int(y)
        cy, cx = row // s, col // s
        cell = score[cy * s:(cy + 1) * s, cx * s:(cx + 1) * s]
        best = np.unravel_index(cell.argmax(), cell.shape)
        assert (cy * s + best[0], cx * s + best[1]) == (row, col)


@pytest.fixture(scope="module")
def rendered_room():
    """24 frames at 384x256 of the textured room along the demo path, with depth (exact geometry)."""
    cameras = default_demo_trajectory(24, (256, 384))
    frames, depth, _ = render_frames(make_scene(0), cameras, antialias=1, return_depth=True)
    return frames, depth, cameras


def test_tracks_on_a_rendered_room_meet_the_accuracy_bounds(rendered_room):
    frames, depth, cameras = rendered_room
    result = track_points(frames, TrackerSettings(num_points=500))
    tracks = result.tracks
    seeds = tracks.points[result.seed_frames, np.arange(tracks.num_tracks)]
    true_points, true_visible = ground_truth_tracks(cameras, depth, seeds, result.seed_frames)
    metrics = track_metrics(tracks.points, tracks.visibility, true_points, true_visible, result.seed_frames)
    scored = np.arange(24)[:, None] > result.seed_frames[None]
    # the clip has real occlusion / exits to get right: >= 10 % of the scored points are hidden
    assert (~true_visible[scored]).mean() > 0.10
    assert metrics["median_epe_visible"] <= 1.0
    assert metrics["visibility_accuracy"] >= 0.90
    assert result.seed_frames.max() > 0  # re-seeding happened (the camera trucks right)


def test_ground_truth_tracks_project_back_to_their_seeds(rendered_room):
    _, depth, cameras = rendered_room
    seeds = np.array([[10.5, 20.5], [200.5, 100.5], [383.5, 255.5]])
    points, visible = ground_truth_tracks(cameras, depth, seeds, np.array([0, 5, 23]))
    assert np.allclose(points[[0, 5, 23], [0, 1, 2]], seeds, atol=1e-3)
    assert visible[[0, 5, 23], [0, 1, 2]].all()


def test_frames_streamed_from_a_file_give_the_same_tracks(shared_file, tmp_path):
    path = shared_file(CLIP)
    settings = TrackerSettings(num_points=200)
    from_array = track_points(read_video_frames(path), settings).tracks
    from_stream = track_points(iter_video_frames(path), settings).tracks
    assert np.array_equal(from_array.points, from_stream.points)
    assert np.array_equal(from_array.visibility, from_stream.visibility)


@pytest.mark.shared_data("re10k/videos")
def test_round_trip_on_real_clips_is_consistent():
    # first -> eighth -> first frame (over whole clips the fast cameras take most points out of view)
    clips = sorted(p for p in (DATA / "re10k" / "videos").glob("*.mp4") if "_" not in p.stem)
    assert len(clips) == 5
    for path in clips:
        r = round_trip_error(read_video_frames(path), TrackerSettings(num_points=300), span=8)
        assert r["survived"] > 0.2, (path.name, r)
        assert r["median_px"] < 0.3, (path.name, r)


def test_max_tracks_caps_the_total_and_reseeding_adds_tracks(photo):
    frames = shifted_windows(photo, (8, 3), 10)
    free = track_points(frames, TrackerSettings(num_points=200)).tracks
    capped = track_points(frames, TrackerSettings(num_points=200, max_tracks=150)).tracks
    first = track_points(frames, TrackerSettings(num_points=200, reseed=False)).tracks
    assert free.num_tracks > first.num_tracks and first.num_tracks < 150 < free.num_tracks
    assert capped.num_tracks == 150


def test_bad_inputs_raise_one_line_errors(photo):
    frames = shifted_windows(photo, (1, 0), 3)
    with pytest.raises(ValueError, match="1 frame; point tracks need at least 2"):
        track_points(frames[:1])
    with pytest.raises(ValueError, match="no frames"):
        track_points([])
    with pytest.raises(ValueError, match="frame 1 is .* but frame 0 is"):
        track_points([frames[0], frames[1][:, :-2]])
    with pytest.raises(ValueError, match="no trackable texture"):
        track_points(np.full((3, 64, 64, 3), 128, np.uint8))
    with pytest.raises(ValueError, match="outside the 360x200 frame"):
        track_points(frames, initial_points=[[10, 10], [400, 10]])
    with pytest.raises(ValueError, match="num_points"):
        TrackerSettings(num_points=0)


def test_brought_tracks_are_checked_against_the_video():
    points = np.full((5, 3, 2), 10.0, np.float32)
    visible = np.ones((5, 3), bool)
    check_tracks_fit_video(Tracks2D(points, visible), 5, (32, 48))
    with pytest.raises(ValueError, match="the tracks have 5 frames but the video has 6"):
        check_tracks_fit_video(Tracks2D(points, visible), 6, (32, 48))
    with pytest.raises(ValueError, match="all 3 tracks are invisible"):
        check_tracks_fit_video(Tracks2D(points, np.zeros_like(visible)), 5, (32, 48))
    far = points.copy()
    far[2, 1] = (100.0, 5.0)
    with pytest.raises(ValueError, match=r"track 1 is visible at \(100.0, 5.0\) in frame 2, outside the 48x32"):
        check_tracks_fit_video(Tracks2D(far, visible), 5, (32, 48))
    hidden = visible.copy()
    hidden[2, 1] = False  # outside but marked invisible: fine
    check_tracks_fit_video(Tracks2D(far, hidden), 5, (32, 48))


def test_overlay_draws_visible_points_only():
    frames = np.zeros((3, 40, 60, 3), np.uint8)
    points = np.array([[[10.5, 10.5], [40.5, 30.5]]] * 3, np.float32)
    visible = np.array([[True, False], [True, False], [True, True]])
    drawn = draw_tracks(frames, Tracks2D(points, visible), radius=2)
    assert drawn.shape == frames.shape and not frames.any()
    assert drawn[0, 10, 10].any() and not drawn[0, 30, 40].any() and drawn[2, 30, 40].any()
    assert not drawn[0, 30:, :30].any()  # nothing drawn away from the points


def raxel(*args):
    return subprocess.run([sys.executable, "-m", "raxel_core.cli", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)


def test_cli_writes_tracks_json_that_reads_back(shared_file, tmp_path):
    out = tmp_path / "tracks.json"
    run = raxel("tracks", shared_file(CLIP), "--out", out, "--points", "200", "--max-frames", "8")
    assert run.returncode == 0, run.stderr
    tracks = tracks_from_json(out.read_text())
    assert tracks.num_frames == 8 and tracks.num_tracks >= 100
    assert (out.stat().st_mode & 0o777) == 0o644
    data = json.loads(out.read_text())
    assert set(data[0][0]) <= {"x", "y", "visible"}
    core = tmp_path / "core.json"
    run = raxel("tracks", shared_file(CLIP), "--out", core, "--points", "200", "--max-frames", "8",
                "--format", "tracks")
    assert run.returncode == 0, run.stderr
    back = tracks_from_json(core.read_text())
    assert np.allclose(back.points, tracks.points, atol=1e-3) and np.array_equal(back.visibility, tracks.visibility)


def test_cli_bad_input_exits_2(photo, tmp_path):
    still = tmp_path / "still.mp4"
    write_video(still, photo[None, :320, :576], fps=8)
    run = raxel("tracks", still, "--out", tmp_path / "t.json")
    assert run.returncode == 2 and "at least 2 frames" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "t.json").exists()
    run = raxel("tracks", tmp_path / "missing.mp4", "--out", tmp_path / "t.json")
    assert run.returncode == 2 and "missing.mp4" in run.stderr
