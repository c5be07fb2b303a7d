"""Cameras and 3D tracks of a moving scene from 2D point tracks: a thin adapter over
:func:`raxel_core.tracks4d.solve_tracks4d` (the low-rank model of TracksTo4D, NeurIPS 2024, Sec. 3).

Socket types: ``TRACKS`` (core, see :mod:`.tracks_nodes`), ``CAMERA_TRAJECTORY`` (:mod:`.types`) and
``RAXEL_TRACKS_3D`` (:mod:`.types`): per-frame 3D points of the kept tracks, their visibility and
dynamic scores.
"""
from __future__ import annotations

import json

import torch
from comfy_api.latest import io

from .interop_nodes import Tracks, validate_tracks_json
from .types import CATEGORY_POSE, CameraTrajectory, RaxelTracks3D, trajectory_ui

DEPTH_KINDS = ("depth", "inverse depth (disparity)")


class RaxelTracksTo4D(io.ComfyNode):
    """TRACKS (+ trajectory, + depth) -> trajectory + 3D tracks + per-track dynamic score."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RaxelTracksTo4D",
            display_name="Solve Cameras From Point Tracks (Moving Scenes)",
            category=CATEGORY_POSE,
            description=(
                "Solves the cameras and a 3D point for every track at every frame from 2D point tracks, "
                "for footage with moving people, cars or animals: each track is a static 3D point plus a "
                "motion built from a few shared movement patterns (TracksTo4D's low-rank model). Tracks "
                "that a static scene cannot explain get little say in the cameras and a high dynamic "
                "score. Starts from a connected camera path (e.g. Camera Path From Video) when given."
            ),
            inputs=[
                Tracks.Input("tracks", optional=True,
                             tooltip="Core TRACKS, e.g. from Follow Points Through A Video: track_path [T, N, 2] "
                                     "pixels, track_visibility [T, N] (use this or tracks_json)."),
                io.String.Input("tracks_json", multiline=True, default="", optional=True,
                                tooltip="Or JSON tracks [[{\"x\": .., \"y\": ..}, ...], ...] (pixels, one point per "
                                        "frame), or core TRACKS as JSON. Leave empty to use 'tracks'."),
                io.Int.Input("width", default=0, min=0, max=16384,
                             tooltip="Frame width in pixels of the tracks' video; 0 = from 'images' or "
                                     "'trajectory'."),
                io.Int.Input("height", default=0, min=0, max=16384,
                             tooltip="Frame height in pixels; 0 = from 'images' or 'trajectory'."),
                io.Int.Input("num_bases", default=8, min=0, max=32,
                             tooltip="How many movement patterns the moving points share (0 = a static scene)."),
                io.Float.Input("dynamic_threshold_px", default=2.0, min=0.1, max=100.0, step=0.1,
                               tooltip="A track whose median distance from any fixed 3D point's projection "
                                       "exceeds this many pixels is flagged as moving."),
                io.Int.Input("seed", default=0, min=0, max=2**31 - 1, control_after_generate=False,
                             tooltip="Seed of the random steps: the same inputs and seed give the same result."),
                io.Image.Input("images", optional=True,
                               tooltip="The video's frames (only their size is read), when width / height are 0."),
                CameraTrajectory.Input("trajectory", optional=True,
                                       tooltip="Start cameras of the same video, every frame (e.g. Camera Path "
                                               "From Video). Without one they are found from the tracks."),
                io.Image.Input("depth", optional=True,
                               tooltip="Optional depth maps of the frames (any scale; the first channel is "
                                       "read), used to lift the tracks to 3D."),
                io.Combo.Input("depth_kind", options=list(DEPTH_KINDS), default="depth", optional=True,
                               tooltip="What 'depth' holds: depth (far = large) or inverse depth / disparity "
                                       "(near = bright, what most depth estimator nodes output)."),
            ],
            outputs=[
                CameraTrajectory.Output(display_name="trajectory",
                                        tooltip="One camera per frame (OpenCV world-to-camera)."),
                RaxelTracks3D.Output(display_name="tracks_3d",
                                     tooltip="3D point of each kept track at each frame, visibility and dynamic "
                                             "scores."),
                io.String.Output(display_name="dynamic_score",
                                 tooltip="JSON: per input track its dynamic score in pixels (null for tracks "
                                         "seen in fewer than 2 frames) and whether it is flagged moving."),
            ],
        )

    @classmethod
    def validate_inputs(cls, tracks_json=None):
        return validate_tracks_json(tracks_json)

    @classmethod
    def execute(cls, width, height, num_bases, dynamic_threshold_px, seed, tracks=None, tracks_json="", images=None,
                trajectory=None, depth=None, depth_kind="depth") -> io.NodeOutput:
        import comfy.model_management
        import comfy.utils

        from ..raxel_core.interop import tracks_from_comfy, tracks_from_json
        from ..raxel_core.tracks4d import Tracks4DSettings, solve_tracks4d

        text = "" if tracks_json is None else str(tracks_json).strip()
        if (tracks is None) == (not text):
            raise ValueError("RaxelTracksTo4D needs exactly one source of tracks: connect 'tracks' (core TRACKS) or "
                             "paste JSON into tracks_json; " + ("both are given" if text else "neither is given"))
        given = tracks_from_comfy(tracks) if tracks is not None else tracks_from_json(text)
        if width and height:
            size = (int(height), int(width))
        elif images is not None:
            size = tuple(int(v) for v in images.shape[1:3])
        elif trajectory is not None:
            size = tuple(trajectory.image_size)
        else:
            raise ValueError("RaxelTracksTo4D needs the frame size of the tracks' video: connect 'images' or a "
                             "'trajectory', or set width and height")
        depth_maps = None
        if depth is not None:
            d = depth[..., 0].double() if depth.ndim == 4 else depth.double()
            if depth_kind == DEPTH_KINDS[1]:
                d = torch.where(d > 1e-6, 1.0 / d.clamp(min=1e-6), torch.zeros_like(d))
            depth_maps = d.cpu().numpy()
        settings = Tracks4DSettings(num_bases=int(num_bases), dynamic_threshold_px=float(dynamic_threshold_px),
                                    seed=int(seed))
        bar = comfy.utils.ProgressBar(100)
        result = solve_tracks4d(
            given, size, trajectory=trajectory, depth=depth_maps, settings=settings,
            progress=lambda done, total: bar.update_absolute(int(100 * done / total)),
            should_stop=comfy.model_management.processing_interrupted)
        scores = [None] * given.num_tracks
        flags = [None] * given.num_tracks
        for k, j in enumerate(result.track_indices):
            scores[int(j)] = round(float(result.dynamic_score[k]), 4)
            flags[int(j)] = bool(result.dynamic[k])
        payload = {
            "points": torch.from_numpy(result.points), "visibility": torch.from_numpy(result.visibility),
            "static_points": torch.from_numpy(result.static_points),
            "dynamic_score": torch.from_numpy(result.dynamic_score), "dynamic": torch.from_numpy(result.dynamic),
            "track_indices": torch.from_numpy(result.track_indices), "trajectory": result.cameras,
        }
        summary = "\n".join(result.messages)
        text = json.dumps({"dynamic_score_px": scores, "dynamic": flags,
                           "threshold_px": float(dynamic_threshold_px)}, separators=(",", ":"))
        return io.NodeOutput(result.cameras, payload, text, ui=trajectory_ui(result.cameras, text=(summary,)))


#: The node classes of this file, in menu order.
NODES = [RaxelTracksTo4D]
