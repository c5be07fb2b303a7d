"""Re-render a video from a new camera: depth in, targets, forward warp, masks, paired tracks, preview.

One function, :func:`rerender`, that the ``raxel rerender`` command and the
``RaxelTrack2ViewCondition`` node both call; each step lives in its own module
(:mod:`.depth`, :mod:`.targets`, :mod:`.warp`, :mod:`.tracks3d`).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ..cameras import Cameras
from ..interop import Tracks2D
from .depth import SceneDepth, align_depth, check_depth, coarse_depth, depth_values, sparse_points
from .targets import PRESETS, absolute_targets, preset_targets, relative_targets, scene_distance
from .tracks3d import PairedTracks, check_tracks, lift_tracks
from .warp import WarpResult, forward_warp, latent_mask, visibility_mask

#: How a target trajectory is read: as cameras in the source's world, or as a motion on top of it.
TARGET_MODES = ("absolute", "relative")


@dataclass
class Rerender:
    """Everything :func:`rerender` makes for ``N`` frames of ``H x W``.

    Attributes:
        warp: :class:`~raxel_core.rerender.warp.WarpResult` (warped frames, depth, weights).
        visible: ``(N, H, W)`` bool visibility after the 5 x 5 hole dilation.
        latent_visible: ``(1 + ceil((N - 1) / 4), ceil(H / 8), ceil(W / 8))`` bool.
        depth: the source :class:`~raxel_core.rerender.depth.SceneDepth` used.
        target: the ``N`` target cameras.
        tracks: :class:`~raxel_core.rerender.tracks3d.PairedTracks` or ``None``.
    """

    warp: WarpResult
    visible: torch.Tensor
    latent_visible: torch.Tensor
    depth: SceneDepth
    target: Cameras
    tracks: PairedTracks | None = None

    @property
    def generate_mask(self) -> torch.Tensor:
        """``(N, H, W)`` float32, 1 where the video model must generate (``WanVaceToVideo`` control_masks)."""
        return (~self.visible).float()

    @property
    def latent_generate_mask(self) -> torch.Tensor:
        """Latent-grid counterpart of :attr:`generate_mask`."""
        return (~self.latent_visible).float()

    @property
    def coverage(self) -> float:
        """Fraction of target pixels the warp shows (after the dilation of the holes)."""
        return float(self.visible.float().mean())


def source_depth(frames, cameras: Cameras, depth_image=None, depth_form: str = "inverse_relative",
                 depth_range: float = 1.0, exact: bool = False) -> SceneDepth:
    """The source video's z-depth in the trajectory's scene units.

    With ``depth_image`` (an IMAGE batch of a depth node, ``form`` as in :mod:`.depth`): aligned per
    frame to points triangulated from the video with its cameras; with ``exact=True`` taken as z-depth
    in scene units as it is (e.g. a renderer's or a calibrated sensor's). Without it: the coarse
    depth densified from those points.

    Raises:
        ValueError: depth of another size / frame count, NaN / zero / negative depth, a trajectory
            from another video, or too little parallax to triangulate.
    """
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        frames = np.clip(np.round(frames * 255.0), 0, 255).astype(np.uint8)
    n, h, w = frames.shape[:3]
    if len(cameras) != n or tuple(cameras.image_size) != (h, w):
        raise ValueError(
            f"the source trajectory ({len(cameras)} frames, {cameras.image_size[1]}x{cameras.image_size[0]}) "
            f"does not belong to this video ({n} frames, {w}x{h}); estimate or load the trajectory of this video"
        )
    if depth_image is not None and exact:
        return SceneDepth(check_depth(depth_image, n, (h, w)), "exact")
    if depth_image is not None:
        values = depth_values(depth_image, depth_form)
        check_depth(values + 1.0, n, (h, w))  # size and frame count (values may be 0 in inverse form)
        return align_depth(values, depth_form, sparse_points(frames, cameras), depth_range)
    return coarse_depth(sparse_points(frames, cameras), (h, w))


def target_cameras(source: Cameras, depth: SceneDepth, preset: str | None = None, trajectory: Cameras | None = None,
                   mode: str = "relative", angle_deg: float = 15.0, dolly_fraction: float = 0.25) -> Cameras:
    """Target cameras from a preset (sized by the depth) or a trajectory (``mode`` in :data:`TARGET_MODES`).

    Raises:
        ValueError: neither or both of ``preset`` / ``trajectory``, an unknown preset or mode, or a
            trajectory with another frame count.
    """
    if (preset is None) == (trajectory is None):
        raise ValueError("give either a preset or a target trajectory (not both, not neither)")
    if trajectory is not None:
        if mode not in TARGET_MODES:
            raise ValueError(f"unknown target mode {mode!r}; choose one of {TARGET_MODES}")
        trajectory.validate("target trajectory")
        return absolute_targets(source, trajectory) if mode == "absolute" else relative_targets(source, trajectory)
    if preset not in PRESETS:
        raise ValueError(f"unknown re-render preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return preset_targets(source, preset, scene_distance(depth.depth), angle_deg, dolly_fraction)


def rerender(frames, source: Cameras, target: Cameras, depth: SceneDepth, tracks: Tracks2D | None = None,
             should_stop=None) -> Rerender:
    """Warp ``frames`` (``(N, H, W, 3)`` uint8 or float in [0, 1]) from ``source`` to ``target`` with
    ``depth``; masks, latent masks and (with ``tracks``) the paired tracks.

    Raises:
        ValueError: any input that does not match the video (frame count, size), or tracks all
            outside the frame / all hidden.
    """
    source.validate("source trajectory")
    target.validate("target trajectory")
    if tracks is not None:  # check the tracks before the (long) warp
        check_tracks(tracks, len(source), source.image_size)
    result = forward_warp(frames, depth.depth, source, target, should_stop=should_stop)
    visible = visibility_mask(result.covered)
    paired = None
    if tracks is not None:
        paired = lift_tracks(tracks, depth.depth, source, target, target_depth=result.depth)
    return Rerender(result, visible, latent_mask(visible), depth, target, paired)


def preview(frames, result: Rerender, max_width: int = 1536) -> np.ndarray:
    """``(H', W', 3)`` uint8: rows for the first, middle and last frame, each source | warp | mask (red
    where the model must generate), scaled so the width is at most ``max_width``."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        frames = np.clip(np.round(frames * 255.0), 0, 255).astype(np.uint8)
    warped = np.clip(np.round(result.warp.image.numpy() * 255.0), 0, 255).astype(np.uint8)
    n = len(frames)
    rows = []
    for k in sorted({0, n // 2, n - 1}):
        mask = np.zeros_like(warped[k])
        mask[~result.visible[k].numpy()] = (230, 40, 40)
        shown = warped[k].copy()
        shown[~result.visible[k].numpy()] = (shown[~result.visible[k].numpy()] // 3) + np.array((80, 0, 0), np.uint8)
        row = np.concatenate([frames[k], shown, mask], axis=1)
        cv2.putText(row, f"frame {k}", (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        rows.append(row)
    out = np.concatenate(rows, axis=0)
    if out.shape[1] > max_width:
        scale = max_width / out.shape[1]
        out = cv2.resize(out, (max_width, max(1, round(out.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    return out
