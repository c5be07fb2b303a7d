"""Paired 3D point tracks, source view <-> target view (Track2View, arXiv 2606.15534, Sec. 3 "paired
3D tracks": the same 3D points projected into the source and the target trajectory, each view with
screen xy and depth).

A source track point ``(u, v)`` visible in frame ``k`` is lifted to 3D with the frame's z-depth at
its pixel, ``X = R_k^T (z K_k^-1 [u, v, 1]^T - t_k)``, and projected into target camera ``k``:
``x' = R'_k X + t'_k``, ``u' = fx' x'/z' + cx'``. Per view the pair holds xy (pixels), depth
(camera z, scene units) and visibility. Target visibility is false when the point is behind the
camera (``z' <= 0``), outside the frame, or **occluded**: the warped target depth at its pixel
(:func:`raxel_core.rerender.warp.forward_warp`) is nearer than ``z' * (1 - occlusion_tolerance)``.
Frames where the source point is hidden have no depth to lift: the 3D point of the nearest frame
where it is visible is projected (exact for static points) and both visibilities are false.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..cameras import Cameras
from ..interop import Tracks2D

#: Relative depth margin of the occlusion test against the warped target depth.
OCCLUSION_TOLERANCE = 0.03


@dataclass
class PairedTracks:
    """``N`` tracks over ``T`` frames seen from the source and the target cameras.

    Attributes:
        source_xy, target_xy: ``(T, N, 2)`` float32 pixels ``(x, y)`` (origin top-left corner).
        source_depth, target_depth: ``(T, N)`` float32 camera z-depth, scene units.
        source_visibility, target_visibility: ``(T, N)`` bool.
        world: ``(T, N, 3)`` float64 lifted world points.
    """

    source_xy: np.ndarray
    source_depth: np.ndarray
    source_visibility: np.ndarray
    target_xy: np.ndarray
    target_depth: np.ndarray
    target_visibility: np.ndarray
    world: np.ndarray

    def target_tracks(self) -> Tracks2D:
        """The target view as :class:`~raxel_core.interop.Tracks2D`."""
        return Tracks2D(self.target_xy, self.target_visibility)


def check_tracks(tracks: Tracks2D, num_frames: int, image_size: tuple[int, int]) -> None:
    if tracks.num_frames != num_frames:
        raise ValueError(f"the tracks have {tracks.num_frames} frames but the video has {num_frames}; track "
                         "the same video (or trim it) so the counts match")
    h, w = image_size
    x, y = tracks.points[..., 0], tracks.points[..., 1]
    inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    if not inside.any():
        raise ValueError(f"every track point lies outside the {w}x{h} frame; the tracks belong to another video "
                         "size: rescale them to the video's pixels")
    if not (inside & tracks.visibility).any():
        raise ValueError("no track point is visible inside the frame (all hidden); give tracks with visible points")


def lift_tracks(tracks: Tracks2D, depth, source: Cameras, target: Cameras, target_depth=None,
                occlusion_tolerance: float = OCCLUSION_TOLERANCE) -> PairedTracks:
    """Lift source tracks with depth and project them into the target cameras (module docstring).

    Args:
        tracks: ``T`` frames of ``N`` source tracks (pixels of the source video).
        depth: ``(T, H, W)`` source z-depth in the trajectory's scene units.
        source, target: ``T`` cameras each.
        target_depth: ``(T, H', W')`` warped target depth (0 = not covered) for the occlusion test,
            or ``None`` to skip it.
        occlusion_tolerance: relative margin of the occlusion test.

    Returns:
        :class:`PairedTracks`.

    Raises:
        ValueError: tracks of another frame count, every point outside the frame or hidden, or
            trajectories of another length.
    """
    depth = torch.as_tensor(depth).float()
    t, h, w = depth.shape
    check_tracks(tracks, t, (h, w))
    if len(source) != t or len(target) != t:
        raise ValueError(f"the trajectories have {len(source)} and {len(target)} frames but the depth has {t}")
    pts = tracks.points.astype(np.float64)
    inside = (pts[..., 0] >= 0) & (pts[..., 0] < w) & (pts[..., 1] >= 0) & (pts[..., 1] < h)
    src_vis = tracks.visibility & inside
    cols = np.clip(np.floor(pts[..., 0]), 0, w - 1).astype(np.int64)
    rows = np.clip(np.floor(pts[..., 1]), 0, h - 1).astype(np.int64)
    frame_idx = np.arange(t)[:, None].repeat(pts.shape[1], 1)
    z = depth.numpy()[frame_idx, rows, cols].astype(np.float64)
    Kinv = torch.linalg.inv(source.K).numpy()
    uv1 = np.concatenate([pts, np.ones(pts.shape[:2] + (1,))], -1)
    cam = np.einsum("tij,tnj->tni", Kinv, uv1) * z[..., None]
    R, tt = source.R.numpy(), source.t.numpy()
    world = np.einsum("tji,tnj->tni", R, cam - tt[:, None])  # R^T (x - t)
    # frames where the source point is hidden: the world point of the nearest visible frame
    has_any = src_vis.any(axis=0)
    if not has_any.all():
        world[:, ~has_any] = 0.0
    for n in np.flatnonzero(has_any & ~src_vis.all(axis=0)):
        vis_frames = np.flatnonzero(src_vis[:, n])
        nearest = vis_frames[np.abs(np.arange(t)[:, None] - vis_frames[None]).argmin(axis=1)]
        world[:, n] = world[nearest, n]
    Rt, tt2, Kt = target.R.numpy(), target.t.numpy(), target.K.numpy()
    cam_t = np.einsum("tij,tnj->tni", Rt, world) + tt2[:, None]
    zt = cam_t[..., 2]
    front = zt > 1e-9
    safe = np.where(front, zt, 1.0)
    proj = np.einsum("tij,tnj->tni", Kt, cam_t / safe[..., None])[..., :2]
    th, tw = target.image_size
    in_frame = (proj[..., 0] >= 0) & (proj[..., 0] < tw) & (proj[..., 1] >= 0) & (proj[..., 1] < th)
    tgt_vis = src_vis & front & in_frame
    if target_depth is not None:
        td = torch.as_tensor(target_depth).float().numpy()
        c = np.clip(np.floor(proj[..., 0]), 0, tw - 1).astype(np.int64)
        r = np.clip(np.floor(proj[..., 1]), 0, th - 1).astype(np.int64)
        zw = td[frame_idx, r, c]
        occluded = (zw > 0) & (zw < zt * (1 - occlusion_tolerance))
        tgt_vis &= ~occluded
    proj = np.where(front[..., None], proj, pts)  # behind the camera: no meaningful projection
    return PairedTracks(
        source_xy=pts.astype(np.float32), source_depth=z.astype(np.float32), source_visibility=src_vis,
        target_xy=proj.astype(np.float32), target_depth=zt.astype(np.float32), target_visibility=tgt_vis,
        world=world)
