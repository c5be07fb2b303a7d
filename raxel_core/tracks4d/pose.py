"""Camera trajectory of a video by SfM, by the 4D solver from point tracks, or chosen automatically
(``raxel pose --method sfm|tracks4d|auto``).

* ``sfm``: :func:`raxel_core.pose.estimate_trajectory` (pycolmap; static scenes).
* ``tracks4d``: SfM first (its result is the solver's start when it registers every frame), then 2D
  tracks (:func:`raxel_core.tracks.track_points`) and :func:`raxel_core.tracks4d.solve_tracks4d`,
  which down-weights the tracks a static scene cannot explain (moving objects) and returns a pose for
  every frame.
* ``auto``: keeps SfM's result when SfM finds no parallax (``static`` / ``rotation_only``: a still or
  tripod camera, where depth and camera travel cannot be measured from tracks); otherwise runs both
  and keeps the 4D result when SfM left frames out or failed, or when at least
  :data:`AUTO_DYNAMIC_SHARE` of the tracks are flagged dynamic (their median static reprojection
  residual under the solved cameras exceeds the solver's threshold, 2 px by default: a share of the
  footage that SfM, which assumes a static scene, cannot explain); otherwise the SfM result.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..cameras import Cameras
from .solver import Tracks4DSettings, solve_tracks4d

METHODS = ("sfm", "tracks4d", "auto")
#: Share of dynamic tracks from which ``auto`` keeps the 4D solver's result.
AUTO_DYNAMIC_SHARE = 0.10


@dataclass
class VideoPose:
    """Result of :func:`video_pose`.

    Attributes:
        cameras: the trajectory (registered frames only for SfM; every frame for the 4D solver).
        method: ``"sfm"``, ``"rotation_only"``, ``"static"`` (SfM's methods) or ``"tracks4d"``.
        num_frames: frames of the clip; frame_indices: clip frame of each camera.
        dynamic_share: share of tracks flagged dynamic (``None`` when the 4D solver did not run).
        messages: what was done and why.
    """

    cameras: Cameras
    method: str
    num_frames: int
    frame_indices: list
    dynamic_share: float | None = None
    messages: list = field(default_factory=list)


def video_pose(frames_factory: Callable[[], object], method: str = "auto", seed: int = 0, focal=None,
               pixel_aspect: float = 1.0, max_image_size=None, fps=None, num_points: int = 800,
               settings: Tracks4DSettings | None = None, progress=None) -> VideoPose:
    """Camera trajectory of a video by ``method`` (module docstring).

    Args:
        frames_factory: returns a fresh iterable of ``(H, W, 3)`` uint8 frames on each call (the clip is
            read twice for ``tracks4d`` / ``auto``: once for SfM, once for tracking).
        method: one of :data:`METHODS`.
        seed, focal, pixel_aspect, max_image_size, fps: as :func:`raxel_core.pose.estimate_trajectory`.
        num_points: grid points of the tracker.
        settings: :class:`Tracks4DSettings` of the solver.
        progress: ``progress(done, total)`` of the SfM stages.

    Raises:
        ValueError: unknown method; bad frames; SfM failed under ``sfm``; too few usable tracks.
    """
    from ..pose import estimate_trajectory
    from ..tracks import TrackerSettings, track_points

    if method not in METHODS:
        raise ValueError(f"unknown pose method {method!r}; choose one of {', '.join(METHODS)}")
    messages: list[str] = []
    try:
        sfm = estimate_trajectory(frames_factory(), focal=focal, seed=seed, max_image_size=max_image_size,
                                  pixel_aspect=pixel_aspect, fps=fps, progress=progress)
    except ValueError as err:
        if method == "sfm" or "could be registered" not in str(err):
            raise
        sfm = None
        messages.append(f"SfM failed ({err}); the 4D solver starts from the tracks alone")
    if method == "sfm":
        return VideoPose(sfm.cameras, sfm.method, sfm.num_frames, sfm.frame_indices, None, list(sfm.messages))
    if method == "auto" and sfm is not None and sfm.complete and sfm.method in ("static", "rotation_only"):
        # no parallax: the 4D model cannot measure depth or camera travel there, SfM's own solver can
        messages.append(f"auto: SfM found no parallax ({sfm.method}: every camera centre at the origin); kept the "
                        "SfM cameras (the 4D solver needs parallax)")
        return VideoPose(sfm.cameras, sfm.method, sfm.num_frames, sfm.frame_indices, None,
                         list(sfm.messages) + messages)
    frames = np.stack(list(frames_factory()))
    tracks = track_points(frames, TrackerSettings(num_points=int(num_points))).tracks
    start = sfm.cameras if sfm is not None and sfm.complete else None
    if sfm is not None and not sfm.complete:
        messages.append(f"SfM registered {len(sfm.frame_indices)} of {sfm.num_frames} frames; the 4D solver starts "
                        "from the tracks alone")
    result = solve_tracks4d(tracks, frames.shape[1:3], trajectory=start, settings=settings,
                            focal=focal if start is None else None)
    messages.extend(result.messages)
    four_d = VideoPose(result.cameras, "tracks4d", len(frames), list(range(len(frames))), result.dynamic_share,
                       messages)
    if method == "tracks4d" or start is None:
        return four_d
    if result.dynamic_share >= AUTO_DYNAMIC_SHARE:
        messages.append(f"auto: {result.dynamic_share:.0%} of the tracks move against the static scene (>= "
                        f"{AUTO_DYNAMIC_SHARE:.0%}): kept the 4D solver's cameras")
        return four_d
    messages.append(f"auto: only {result.dynamic_share:.0%} of the tracks move against the static scene (< "
                    f"{AUTO_DYNAMIC_SHARE:.0%}): kept the SfM cameras")
    return VideoPose(sfm.cameras, sfm.method, sfm.num_frames, sfm.frame_indices, result.dynamic_share,
                     list(sfm.messages) + messages)
