"""2D point tracks of a video: a thin adapter over :func:`raxel_core.tracks.track_points` (pyramidal
Lucas-Kanade on a grid, forward-backward visibility) that also takes tracks from any other tracker
node (core ``TRACKS`` or ``{x, y}`` JSON), checks them against the video and hands them on in both
formats with an overlay picture.

Socket types (declared in :mod:`.interop_nodes`): ``TRACKS`` is core ComfyUI's WanMove tracks
``{"track_path": [T, N, 2] float32 pixels (x, y), "track_visibility": [T, N] bool}`` (torch
tensors, unbatched, time first); the JSON ``STRING`` is one list per track of per-frame
``{"x", "y"}`` pixel points (``"visible": false`` on hidden ones), KJNodes' layout. Core's ``WanTrackToVideo``
reads every track as ATI's 121 samples of the whole clip (:func:`raxel_core.interop.ati_tracks` writes that).
"""
from __future__ import annotations

import numpy as np
import torch
from comfy_api.latest import io

from .interop_nodes import Tracks, validate_tracks_json
from .pose_nodes import frames_to_uint8
from .types import CATEGORY_POSE, video_components

#: Category of the point-track nodes.


class RaxelPointTracks(io.ComfyNode):
    """Point tracks of a video (IMAGE or VIDEO) -> core TRACKS + {x, y} JSON + overlay IMAGE."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RaxelPointTracks",
            display_name="Follow Points Through A Video",
            category=CATEGORY_POSE,
            description=(
                "Tracks points through a video with OpenCV's pyramidal Lucas-Kanade: seeds on a grid "
                "(the most textured pixel of each cell), a forward-backward check that ends a track "
                "when it fails (occlusion, leaving the frame), new seeds where tracks ended. Or, with "
                "'tracks' or 'tracks_json' given, takes the tracks of another tracker node, checks "
                "them against the video and passes them on. Outputs core TRACKS, the {x, y} JSON "
                "that WanTrackToVideo reads, and the tracks drawn on the frames."
            ),
            inputs=[
                io.Image.Input("images", optional=True,
                               tooltip="The video's frames as an IMAGE batch (use this or video)."),
                io.Video.Input("video", optional=True,
                               tooltip="A VIDEO, e.g. from Load Video (use this or images)."),
                io.Int.Input("num_points", default=400, min=1, max=100000,
                             tooltip="About how many grid points cover the frame (live tracks at "
                                     "any time; re-seeding adds tracks where others end)."),
                io.Boolean.Input("reseed", default=True,
                                 tooltip="Seed new tracks in grid cells left empty when tracks end. "
                                         "Off: only the tracks of the first frame (what "
                                         "WanTrackToVideo, which reads first-frame points, wants)."),
                io.Float.Input("fb_threshold", default=1.0, min=0.01, max=100.0, step=0.05,
                               tooltip="A point tracked to the next frame and back must return "
                                       "within this many pixels, else its track ends."),
                io.Int.Input("max_tracks", default=0, min=0, max=1000000,
                             tooltip="Cap on the total number of tracks (re-seeding stops there); "
                                     "0 = no cap."),
                Tracks.Input("tracks", optional=True,
                             tooltip="Core TRACKS from another tracker node: used instead of "
                                     "tracking (checked against the video)."),
                io.String.Input("tracks_json", multiline=True, default="", optional=True,
                                tooltip="JSON tracks [[{\"x\": .., \"y\": ..}, ...], ...] (pixels, "
                                        "one point per frame) or core TRACKS as JSON: used instead "
                                        "of tracking. Leave empty to track the video."),
            ],
            outputs=[
                Tracks.Output(display_name="tracks",
                              tooltip="Core TRACKS: track_path [T, N, 2] pixels (x, y), "
                                      "track_visibility [T, N] bool."),
                io.String.Output(display_name="tracks_json",
                                 tooltip="The tracks as {x, y} JSON point lists, one point per "
                                         "frame; hidden points carry \"visible\": false. (WanTrackToVideo "
                                         "reads 121 points per track: raxel tracks --format ati.)"),
                io.Image.Output(display_name="overlay",
                                tooltip="The frames with the tracks drawn: a dot per visible "
                                        "point and a short trail."),
            ],
        )

    @classmethod
    def validate_inputs(cls, tracks_json=None):
        return validate_tracks_json(tracks_json)

    @classmethod
    def execute(cls, num_points, reseed, fb_threshold, max_tracks=0, images=None, video=None, tracks=None,
                tracks_json="") -> io.NodeOutput:
        import comfy.model_management
        import comfy.utils

        from ..raxel_core.interop import tracks_from_comfy, tracks_from_json, tracks_to_comfy, tracks_to_json
        from ..raxel_core.tracks import TrackerSettings, track_points
        from ..raxel_core.tracks.overlay import check_tracks_fit_video, draw_tracks

        if (images is None) == (video is None):
            raise ValueError(
                "RaxelPointTracks needs exactly one source of frames: connect either 'images' (an IMAGE "
                "batch) or 'video' (a VIDEO from Load Video); "
                + ("both are connected" if images is not None else "neither is connected")
            )
        text = "" if tracks_json is None else str(tracks_json).strip()
        if tracks is not None and text:
            raise ValueError("RaxelPointTracks got both 'tracks' (connected) and tracks_json text; clear the JSON "
                             "to use the connected tracks, or disconnect 'tracks'")
        what = "the video" if video is not None else "the images input"
        if video is not None:
            images = video_components(video, what).images
        frames = frames_to_uint8(images, what)
        num_frames, image_size = len(frames), frames.shape[1:3]
        if tracks is not None or text:
            given = tracks_from_comfy(tracks) if tracks is not None else tracks_from_json(text)
            check_tracks_fit_video(given, num_frames, image_size)
            result, lines = given, [f"{given.num_tracks} tracks from the input, checked against {what}"]
        else:
            if num_frames < 2:
                raise ValueError(f"{what} has {num_frames} frame; point tracks need at least 2 frames (a clip, "
                                 "not a still image)")
            bar = comfy.utils.ProgressBar(num_frames)
            settings = TrackerSettings(num_points=int(num_points), reseed=bool(reseed),
                                       fb_threshold=float(fb_threshold),
                                       max_tracks=int(max_tracks) if max_tracks else None)
            try:
                tracked = track_points(frames, settings, progress=lambda done, total: bar.update_absolute(done),
                                       should_stop=comfy.model_management.processing_interrupted)
            except InterruptedError:
                comfy.model_management.throw_exception_if_processing_interrupted()
                raise
            result = tracked.tracks
            fb = float(np.nanmedian(tracked.fb_errors)) if np.isfinite(tracked.fb_errors).any() else float("nan")
            lines = [f"{result.num_tracks} tracks (grid of {tracked.spacing} px cells), median forward-backward "
                     f"error {fb:.3f} px", *tracked.messages]
        visible = float(result.visibility.mean()) * 100
        lines.insert(1, f"{result.num_frames} frames, {visible:.0f}% of points visible")
        overlay = torch.from_numpy(draw_tracks(frames, result)).float() / 255.0
        summary = "\n".join(lines)
        return io.NodeOutput(tracks_to_comfy(result), tracks_to_json(result), overlay, ui={"text": (summary,)})


#: The node classes of this file, in menu order.
NODES = [RaxelPointTracks]
