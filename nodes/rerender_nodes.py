"""Re-render a video from a new camera: a thin adapter over :mod:`raxel_core.rerender.pipeline`
(Reangle-A-Video's depth warp and masks, Track2View's paired tracks), with ComfyUI's interrupt
button wired in. Its outputs plug into core's ``WanVaceToVideo`` (``control_video`` /
``control_masks``) and ``WanTrackToVideo`` (``tracks`` JSON).
"""
from __future__ import annotations

import json

import torch
from comfy_api.latest import io

from .interop_nodes import RaxelTracks, Tracks
from .pose_nodes import frames_to_uint8
from .types import CATEGORY_CAMERA, CameraTrajectory, RaxelTrackCondition

#: Category of the re-render nodes.

#: What the ``target`` widget offers: the six presets, or the connected target trajectory.
TARGET_CHOICES = ("orbit_left", "orbit_right", "orbit_up", "orbit_down", "dolly_in", "dolly_out",
                  "trajectory (relative to the source)", "trajectory (absolute)")
DEPTH_FORMS = ("inverse_relative", "metric", "exact")


def track_condition(frames: torch.Tensor, result, source, target) -> dict:
    """The ``RAXEL_TRACK_CONDITION`` payload (layout in :mod:`nodes.types`)."""
    paired = result.tracks
    as_tensor = (lambda a: None if paired is None else torch.from_numpy(a.copy()))  # noqa: E731
    return {
        "source_frames": frames,
        "target_frames": result.warp.image,
        "target_mask": result.generate_mask,
        "source_trajectory": source,
        "target_trajectory": target,
        "source_xy": as_tensor(paired.source_xy) if paired else None,
        "source_depth": as_tensor(paired.source_depth) if paired else None,
        "source_visibility": as_tensor(paired.source_visibility) if paired else None,
        "target_xy": as_tensor(paired.target_xy) if paired else None,
        "target_depth": as_tensor(paired.target_depth) if paired else None,
        "target_visibility": as_tensor(paired.target_visibility) if paired else None,
    }


class RaxelTrack2ViewCondition(io.ComfyNode):
    """Source video + cameras + a new camera -> the warped target view, its masks and paired tracks."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RaxelTrack2ViewCondition",
            display_name="Warp A Video To A New Camera",
            category=CATEGORY_CAMERA,
            description=(
                "Re-renders a video from a new camera: each frame is lifted with its depth and "
                "splatted into the target camera (nearer points win), and what the warp cannot see "
                "is masked for a video model to generate (Reangle-A-Video). Feed 'render' and 'mask' "
                "to WanVaceToVideo's control_video / control_masks; with tracks connected, "
                "'tracks_json' feeds WanTrackToVideo. Without a depth input a coarse depth is "
                "triangulated from the video (it needs camera translation)."
            ),
            inputs=[
                io.Image.Input("images", tooltip="The source video's frames (IMAGE batch)."),
                CameraTrajectory.Input("trajectory", tooltip="The source video's cameras, one per frame "
                                                               "(e.g. Raxel Pose From Video)."),
                io.Combo.Input("target", options=list(TARGET_CHOICES), default="orbit_left",
                               tooltip="A preset move about the scene centre (sized from the scene depth), "
                                       "or the connected target_trajectory: relative = its motion applied "
                                       "on top of the source path; absolute = cameras in the source's world."),
                io.Float.Input("angle_deg", default=15.0, min=0.0, max=90.0, step=0.5,
                               tooltip="Orbit presets: the angle reached at the last frame (degrees)."),
                io.Float.Input("dolly_fraction", default=0.25, min=0.0, max=0.9, step=0.01,
                               tooltip="Dolly presets: distance moved by the last frame, as a fraction of "
                                       "the scene's median depth."),
                io.Combo.Input("depth_form", options=list(DEPTH_FORMS), default="inverse_relative",
                               tooltip="Form of the depth input: inverse_relative (depth-node disparity in "
                                       "[0, 1], brighter = nearer; aligned by scale and shift), metric "
                                       "(value x depth_range, aligned by scale) or exact (value x "
                                       "depth_range already in the trajectory's units)."),
                io.Float.Input("depth_range", default=1.0, min=1e-6, max=1e6, step=0.01,
                               tooltip="metric / exact depth: the depth a value of 1.0 stands for."),
                CameraTrajectory.Input("target_trajectory", optional=True,
                                       tooltip="Target cameras (same frame count) when target is a "
                                               "trajectory choice."),
                io.Image.Input("depth", optional=True,
                               tooltip="Depth maps of the source frames (same size and count), e.g. from "
                                       "a depth node. Without it: coarse depth from the video itself."),
                io.MultiType.Input("tracks", types=[Tracks, RaxelTracks], optional=True,
                                   tooltip="Tracks of the source video, core TRACKS {track_path [T, N, 2] px, "
                                           "track_visibility [T, N]} or RAXEL_TRACKS (Raxel Tracks From "
                                           "JSON): projected into the target view."),
            ],
            outputs=[
                io.Image.Output(display_name="render",
                                tooltip="The target-view render (black where nothing was seen): control_video."),
                io.Mask.Output(display_name="mask",
                               tooltip="1 where the video model must generate (holes dilated 5x5): "
                                       "control_masks."),
                io.Mask.Output(display_name="latent_mask",
                               tooltip="The mask on the latent grid (8x spatial; frame 0, then each group of "
                                       "4 frames reduced by AND on visibility): 1 = generate."),
                io.Image.Output(display_name="preview", tooltip="Source | warp | mask for the first, middle "
                                                                "and last frame."),
                Tracks.Output(display_name="target_tracks",
                              tooltip="The tracks seen from the target cameras (core TRACKS); None without "
                                      "a tracks input."),
                io.String.Output(display_name="tracks_json",
                                 tooltip="Target-view tracks in ATI's layout for WanTrackToVideo (set its "
                                         "length to this video's frame count): [[{x, y}, ...], ...], 121 "
                                         "points per track spanning the clip; tracks hidden in the first "
                                         "frame left out, each cut where it is hidden ('[]' without tracks)."),
                RaxelTrackCondition.Output(display_name="condition",
                                           tooltip="Paired xy, depth and visibility of both views plus the "
                                                   "source frames (RAXEL_TRACK_CONDITION)."),
                CameraTrajectory.Output(display_name="target_trajectory_out",
                                        tooltip="The target cameras used (one per frame)."),
                io.String.Output(display_name="report", tooltip="Depth kind, alignment residual, coverage."),
            ],
        )

    @classmethod
    def execute(cls, images, trajectory, target, angle_deg, dolly_fraction, depth_form, depth_range,
                target_trajectory=None, depth=None, tracks=None) -> io.NodeOutput:
        import comfy.model_management

        from ..raxel_core.interop import ATI_TRACK_SAMPLES, Tracks2D, ati_tracks, tracks_from_comfy, tracks_to_comfy
        from ..raxel_core.rerender.pipeline import preview, rerender, source_depth, target_cameras

        frames = frames_to_uint8(images, "the images input")
        trajectory.validate("the source trajectory")
        source_tracks = tracks if tracks is None or isinstance(tracks, Tracks2D) else tracks_from_comfy(tracks)
        if target.startswith("trajectory") and target_trajectory is None:
            raise ValueError(f"target is '{target}' but no target_trajectory is connected; connect one or pick a "
                             "preset")
        depth_values = None
        if depth is not None:
            depth_values = depth[..., 0].float().cpu() * (depth_range if depth_form != "inverse_relative" else 1.0)
        scene_depth = source_depth(frames, trajectory, depth_image=depth_values,
                                   depth_form="metric" if depth_form == "exact" else depth_form,
                                   exact=depth_form == "exact")
        if target.startswith("trajectory"):
            cams = target_cameras(trajectory, scene_depth, trajectory=target_trajectory,
                                  mode="absolute" if "absolute" in target else "relative")
        else:
            cams = target_cameras(trajectory, scene_depth, preset=target, angle_deg=angle_deg,
                                  dolly_fraction=dolly_fraction)
        result = rerender(frames, trajectory, cams, scene_depth, tracks=source_tracks,
                          should_stop=comfy.model_management.processing_interrupted)
        comfy.model_management.throw_exception_if_processing_interrupted()
        shown = torch.from_numpy(preview(frames, result)).float()[None] / 255.0
        target_tracks, tracks_json = None, "[]"
        report = f"{result.depth.summary()}; coverage {result.coverage:.3f}"
        if result.tracks is not None:
            seen = result.tracks.target_tracks()
            target_tracks = tracks_to_comfy(seen)
            ati = ati_tracks(seen)
            tracks_json = json.dumps(ati, separators=(",", ":"))
            report += (f"; target track visibility {float(result.tracks.target_visibility.mean()):.3f}; "
                       f"tracks_json: {len(ati)} of {seen.num_tracks} tracks x {ATI_TRACK_SAMPLES} samples")
            if not ati:
                report += " (none is visible in the first target frame: WanTrackToVideo would ignore the tracks)"
        condition = track_condition(torch.from_numpy(frames).float() / 255.0, result, trajectory, cams)
        return io.NodeOutput(result.warp.image, result.generate_mask, result.latent_generate_mask, shown,
                             target_tracks, tracks_json, condition, cams, report,
                             ui={"text": (report,)})


#: The node classes of this file, in menu order.
NODES = [RaxelTrack2ViewCondition]
