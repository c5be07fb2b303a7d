"""Source / target video pairs with exact paired 3D tracks, for training and testing Track2View's conditioner.

Track2View (arXiv 2606.15534, Sec. 3, "training data") makes a pair from one camera path: the source
clip (camera A) **reversed** and concatenated with the target clip (camera B) that **shares its first
frame**, so that one tracking pass over the concatenation yields one-to-one source / target
correspondences. Here the path is a synthetic one through a textured room
(:func:`raxel_core.synthetic.room_trajectories.sample_room_trajectory`) of ``2 T - 1`` cameras ``P``:
the source is ``A = P[T-1], P[T-2], ..., P[0]`` (the first half, reversed) and the target
``B = P[T-1], ..., P[2T-2]`` (the second half); ``A[0] = B[0]``. Both are rendered with exact z-depth
(:func:`raxel_core.synthetic.render.render_frames`), and the tracks come from the geometry instead of a
tracker: ``N`` pixel centres drawn on the source frames are lifted with their exact depth
``X = R^T (z K^-1 [u, v, 1]^T - t)`` and projected into every source and target camera. A projection
is visible when it is in front of the camera, inside the frame, and not behind the rendered surface:
``z <= (1 + tol) * max`` of the rendered depth at the four pixel centres around it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ..cameras import Cameras
from ..model.track_conditioner import TrackCondition
from .render import make_scene, render_frames
from .room_trajectories import sample_room_trajectory

#: Relative depth margin of the visibility test against the rendered depth.
VISIBILITY_TOLERANCE = 0.03


@dataclass
class TrackPair:
    """One source / target pair of ``T`` frames of ``H x W``.

    Attributes:
        source_frames, target_frames: ``(T, H, W, 3)`` uint8.
        source_depth, target_depth: ``(T, H, W)`` float32 rendered z-depth, scene units.
        source, target: ``T`` cameras each; ``source[0]`` and ``target[0]`` are the same camera.
        condition: the exact paired tracks (:class:`~raxel_core.model.track_conditioner.TrackCondition`, batch 1).
        world: ``(N, 3)`` float64 the tracked 3D points.
    """

    source_frames: np.ndarray
    target_frames: np.ndarray
    source_depth: torch.Tensor
    target_depth: torch.Tensor
    source: Cameras
    target: Cameras
    condition: TrackCondition
    world: np.ndarray


@lru_cache(maxsize=64)
def _room(seed: int):
    return make_scene(seed)


def project_points(world: np.ndarray, cameras: Cameras, depth: torch.Tensor,
                   tolerance: float = VISIBILITY_TOLERANCE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Project ``(N, 3)`` world points into ``T`` cameras with a visibility test against ``(T, H, W)`` depth.

    Returns:
        ``xy (T, N, 2)`` float32 pixels, ``z (T, N)`` float32 camera depth, ``visible (T, N)`` bool
        (module docstring).
    """
    R, t, K = cameras.R.numpy(), cameras.t.numpy(), cameras.K.numpy()
    cam = np.einsum("tij,nj->tni", R, world) + t[:, None]                    # x_c = R X + t
    z = cam[..., 2]
    safe = np.where(z > 1e-9, z, 1.0)
    uv = np.einsum("tij,tnj->tni", K, cam / safe[..., None])[..., :2]        # u = fx x / z + cx
    h, w = cameras.image_size
    inside = (z > 1e-9) & (uv[..., 0] >= 0) & (uv[..., 0] < w) & (uv[..., 1] >= 0) & (uv[..., 1] < h)
    d = depth.numpy()
    frame = np.arange(len(cameras))[:, None]
    nearest = np.zeros_like(z)
    x0 = np.floor(uv[..., 0] - 0.5)
    y0 = np.floor(uv[..., 1] - 0.5)
    for dy in (0, 1):
        for dx in (0, 1):
            c = np.clip(x0 + dx, 0, w - 1).astype(np.int64)
            r = np.clip(y0 + dy, 0, h - 1).astype(np.int64)
            nearest = np.maximum(nearest, d[frame, r, c])
    visible = inside & (z <= (1 + tolerance) * nearest)
    xy = np.where(inside[..., None], uv, 0.0)
    return xy.astype(np.float32), z.astype(np.float32), visible


def make_track_pair(seed: int, num_frames: int = 4, image_size: tuple[int, int] = (32, 48), num_tracks: int = 192,
                    scene_seed: int | None = None, antialias: int = 2) -> TrackPair:
    """One pair (module docstring), fully determined by ``seed``.

    Args:
        seed: seed of the path, the tracked points and (unless ``num_scenes``) the room.
        num_frames: ``T`` frames per view (>= 2).
        image_size: ``(H, W)``.
        num_tracks: ``N`` tracked points, drawn uniformly over the source frames' pixel centres.
        scene_seed: the room (:func:`~raxel_core.synthetic.render.make_scene` seed); None = ``seed``.
        antialias: supersampling of the renderer.
    Raises:
        ValueError: ``num_frames < 2`` or no path inside the room.
    """
    if num_frames < 2:
        raise ValueError(f"a track pair needs at least 2 frames per view, got {num_frames}")
    rng = np.random.default_rng(seed)
    scene = _room(seed if scene_seed is None else int(scene_seed))
    path = sample_room_trajectory(scene, rng, 2 * num_frames - 1, image_size)
    source = path[torch.arange(num_frames - 1, -1, -1)]
    target = path[num_frames - 1:]
    frames = render_frames(scene, Cameras.concatenate([source, target]), antialias=antialias, return_depth=True)
    rgb, depth = np.asarray(frames[0]), torch.as_tensor(np.asarray(frames[1]), dtype=torch.float32)
    src_rgb, tgt_rgb = rgb[:num_frames], rgb[num_frames:]
    src_depth, tgt_depth = depth[:num_frames], depth[num_frames:]
    h, w = image_size
    k = rng.integers(0, num_frames, num_tracks)
    rows, cols = rng.integers(0, h, num_tracks), rng.integers(0, w, num_tracks)
    z = src_depth.numpy()[k, rows, cols].astype(np.float64)
    uv1 = np.stack([cols + 0.5, rows + 0.5, np.ones(num_tracks)], -1)
    Kinv = np.linalg.inv(source.K.numpy()[k])
    cam = np.einsum("nij,nj->ni", Kinv, uv1) * z[:, None]
    world = np.einsum("nji,nj->ni", source.R.numpy()[k], cam - source.t.numpy()[k])   # R^T (x - t)
    s_xy, s_z, s_vis = project_points(world, source, src_depth)
    t_xy, t_z, t_vis = project_points(world, target, tgt_depth)
    cond = TrackCondition(torch.from_numpy(s_xy)[None], torch.from_numpy(t_xy)[None], torch.from_numpy(s_z)[None],
                          torch.from_numpy(t_z)[None], torch.from_numpy(s_vis)[None], torch.from_numpy(t_vis)[None],
                          image_size=(h, w))
    return TrackPair(src_rgb, tgt_rgb, src_depth, tgt_depth, source, target, cond, world)
