"""Nodes that hand a raxel ``CAMERA_TRAJECTORY`` to other node packs, to ComfyUI core and to other
programs (Blender, nerfstudio), and that bring 2D point tracks in.

Thin adapters over :mod:`raxel_core.interop` and :mod:`raxel_core.dcc_export`, where every
conversion is documented from the source that defines the other side and tested without ComfyUI.

Socket types declared here and what travels on each:

=========================  ==================================================================
socket type                payload
=========================  ==================================================================
``CAMERACTRL_POSES``       AnimateDiff-Evolved's type (``animatediff/nodes_cameractrl.py``):
                           ``list[list[float]]``, one entry of 19 numbers per frame
                           ``[timestamp, fx/W0, fy/H0, cx/W0, cy/H0, W0, H0, r11 r12 r13 t1 r21
                           r22 r23 t2 r31 r32 r33 t3]``: normalised intrinsics, the pose size
                           ``(W0, H0)`` they refer to, and the **world-to-camera** ``[R | t]``
                           row-major in OpenCV axes (:func:`raxel_core.interop.to_cameractrl_poses`).
``LOAD3D_CAMERA``          core ComfyUI's type (``comfy_api/latest/_io.py`` ``Load3DCamera``):
                           ``{"position": {x, y, z}, "target": {x, y, z}, "zoom": int,
                           "cameraType": str}`` in three.js axes (right-handed, Y up)
                           (:func:`raxel_core.interop.to_load3d_camera`).
``TRACKS``                 core ComfyUI's WanMove tracks (newer ComfyUI than v0.3.64):
                           ``{"track_path": [T, N, 2] float pixels (x, y), "track_visibility":
                           [T, N] bool}``.
``RAXEL_TRACKS``           a :class:`raxel_core.interop.Tracks2D`: ``points`` ``(T, N, 2)``
                           float32 pixels (x, y), ``visibility`` ``(T, N)`` bool. Consumed by
                           the track-conditioned nodes of part 4 (not written yet).
=========================  ==================================================================
"""
from __future__ import annotations

from comfy_api.latest import io

from . import paths
from .types import CATEGORY_INTEROP, CameraTrajectory, trajectory_ui

#: AnimateDiff-Evolved's camera poses: ``list[list[float]]`` of 19 numbers per frame (table above).
CameraCtrlPoses = io.Custom("CAMERACTRL_POSES")

#: Core's Load 3D camera dict (table above); declared by name where ``io`` lacks the class.
Load3DCamera = getattr(io, "Load3DCamera", None) or io.Custom("LOAD3D_CAMERA")

#: Core's WanMove tracks dict (table above); not in every ComfyUI version, so declared by name.
Tracks = io.Custom("TRACKS")

#: 2D point tracks inside the pack: :class:`raxel_core.interop.Tracks2D` (table above).
RaxelTracks = io.Custom("RAXEL_TRACKS")


def _prefix_input(default: str, what: str) -> io.String.Input:
    return io.String.Input(
        "filename_prefix", default=default,
        tooltip=f"Name of the {what} inside ComfyUI's output folder; a '/' makes subfolders, a "
                "number is appended so files are never overwritten. Paths leaving the output "
                "folder are refused.",
    )


def _check_prefix(filename_prefix) -> bool | str:
    """``validate_inputs`` check of a ``filename_prefix`` widget (no folder is created)."""
    if filename_prefix is None:  # linked from another node: checked when the node runs
        return True
    text = str(filename_prefix).strip().replace("\\", "/")
    if not text or text.endswith("/"):
        return (f"filename_prefix {filename_prefix!r} names no file; give a name such as "
                "'raxel/shot' (saved inside ComfyUI's output folder)")
    try:
        paths.resolve_inside(text, paths.output_directory(), "output")
    except ValueError as err:
        return str(err)
    return True


class RaxelToCameraCtrlPoses(io.ComfyNode):
    """Trajectory -> AnimateDiff-Evolved ``CAMERACTRL_POSES``."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RaxelToCameraCtrlPoses",
            display_name="Camera Path To AnimateDiff CameraCtrl",
            category=CATEGORY_INTEROP,
            description=(
                "Converts a trajectory into AnimateDiff-Evolved's CAMERACTRL_POSES (19 numbers per "
                "frame: timestamp, normalised fx fy cx cy, the pose size W0 H0, world-to-camera "
                "[R | t]) for its CameraCtrl nodes. The intrinsics are normalised by the "
                "trajectory's own image size, so AnimateDiff rescales them correctly to any "
                "sample size."
            ),
            inputs=[
                CameraTrajectory.Input("trajectory",
                                       tooltip="The trajectory; one pose per frame of the "
                                               "animation (AnimateDiff takes as many as it has "
                                               "frames)."),
            ],
            outputs=[
                CameraCtrlPoses.Output(display_name="poses",
                                       tooltip="CAMERACTRL_POSES: list of [19 numbers] per frame; "
                                               "connect to AnimateDiff-Evolved's CameraCtrl "
                                               "'cameractrl_poses' input."),
            ],
        )

    @classmethod
    def execute(cls, trajectory) -> io.NodeOutput:
        from ..raxel_core.interop import to_cameractrl_poses
        return io.NodeOutput(to_cameractrl_poses(trajectory))


class RaxelFromCameraCtrlPoses(io.ComfyNode):
    """AnimateDiff-Evolved ``CAMERACTRL_POSES`` -> trajectory."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RaxelFromCameraCtrlPoses",
            display_name="AnimateDiff CameraCtrl To Camera Path",
            category=CATEGORY_INTEROP,
            description=(
                "Reads AnimateDiff-Evolved's CAMERACTRL_POSES (e.g. from its Load CameraCtrl Poses "
                "nodes) as a trajectory, with the pixel intrinsics AnimateDiff itself derives for "
                "a sample of width x height (so the cameras are the ones its CameraCtrl model "
                "sees)."
            ),
            inputs=[
                CameraCtrlPoses.Input("poses", tooltip="CAMERACTRL_POSES: per frame 19 numbers "
                                                       "(timestamp, fx fy cx cy, pose width and "
                                                       "height, 3x4 world-to-camera)."),
                io.Int.Input("width", default=512, min=16, max=8192, step=8,
                             tooltip="Width in pixels of the frames the poses drive (the "
                                     "AnimateDiff sample width)."),
                io.Int.Input("height", default=512, min=16, max=8192, step=8,
                             tooltip="Height in pixels of the frames the poses drive."),
            ],
            outputs=[
                CameraTrajectory.Output(display_name="trajectory",
                                        tooltip="The poses as a camera path for width x height "
                                                "frames."),
            ],
        )

    @classmethod
    def execute(cls, poses, width, height) -> io.NodeOutput:
        from ..raxel_core.interop import from_cameractrl_poses
        cameras = from_cameractrl_poses(poses, (int(height), int(width)))
        return io.NodeOutput(cameras, ui=trajectory_ui(cameras))


class RaxelToLoad3DCamera(io.ComfyNode):
    """One frame of a trajectory -> core's ``LOAD3D_CAMERA`` (for Preview 3D)."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RaxelToLoad3DCamera",
            display_name="Camera Path Frame To Load 3D Camera",
            category=CATEGORY_INTEROP,
            description=(
                "Turns one camera of a trajectory into core ComfyUI's LOAD3D_CAMERA (position, "
                "target, zoom, cameraType in three.js axes, Y up) for Preview 3D's camera_info, "
                "so a 3D model is viewed from that camera. The dict holds no roll and no field "
                "of view: the fov output is the value for the 3D viewer's FOV setting."
            ),
            inputs=[
                CameraTrajectory.Input("trajectory", tooltip="The trajectory."),
                io.Int.Input("frame", default=0, min=-65536, max=65536,
                             tooltip="Which camera of the trajectory; negative counts from the "
                                     "end (-1 = the last)."),
                io.Float.Input("target_distance", default=1.0, min=0.001, max=100000.0, step=0.1,
                               tooltip="Distance in scene units from the camera to the target "
                                       "point along its optical axis (the orbit centre of the "
                                       "3D viewer's controls)."),
            ],
            outputs=[
                Load3DCamera.Output(display_name="camera_info",
                                    tooltip="LOAD3D_CAMERA {position, target, zoom, cameraType} "
                                            "for Preview 3D's camera_info input."),
                io.Float.Output(display_name="fov",
                                tooltip="Vertical field of view of that camera in degrees (set "
                                        "the 3D viewer's FOV to it)."),
            ],
        )

    @classmethod
    def execute(cls, trajectory, frame, target_distance) -> io.NodeOutput:
        from ..raxel_core.interop import load3d_fov_deg, to_load3d_camera
        frame = int(frame)
        camera = to_load3d_camera(trajectory, frame=frame, target_distance=float(target_distance))
        return io.NodeOutput(camera, load3d_fov_deg(trajectory, frame))


def validate_tracks_json(tracks_json) -> bool | str:
    """ComfyUI's ``validate_inputs`` answer for a ``tracks_json`` widget: ``True``, or the one-line
    problem. ``None`` or blank: the text comes from another node's link (checked when the node runs)
    or is not used."""
    if tracks_json is None or not str(tracks_json).strip():
        return True
    from ..raxel_core.interop import tracks_from_json
    try:
        tracks_from_json(str(tracks_json))
    except ValueError as err:
        return f"tracks_json: {err}"
    return True


class RaxelTracksFromJSON(io.ComfyNode):
    """JSON point tracks or core ``TRACKS`` -> ``RAXEL_TRACKS``."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RaxelTracksFromJSON",
            display_name="Point Tracks From Text Or Core Tracks",
            category=CATEGORY_INTEROP,
            is_output_node=True,
            description=(
                "Reads 2D point tracks into the pack's RAXEL_TRACKS: either JSON text (one list per "
                "track of per-frame {\"x\", \"y\"} pixel points, optional \"visible\": false; the "
                "layout of KJNodes' spline editor and many packs) or core's TRACKS (WanMove). "
                "The track-conditioned nodes that consume RAXEL_TRACKS come with part 4; for now "
                "the node checks the tracks and shows their size."
            ),
            inputs=[
                io.String.Input("tracks_json", multiline=True, default="",
                                tooltip="Point tracks as text: one list per tracked point, one x, y "
                                        "position per frame, in pixels from the top-left corner "
                                        "(format on the help page). Leave empty when 'tracks' is "
                                        "connected."),
                Tracks.Input("tracks", optional=True,
                             tooltip="Tracks from core's WanMove nodes; used instead of the text "
                                     "(then leave the text empty)."),
            ],
            outputs=[
                RaxelTracks.Output(display_name="tracks",
                                   tooltip="The checked point tracks (positions and visibility "
                                           "per frame)."),
                io.String.Output(display_name="summary",
                                 tooltip="Number of tracks and frames and the share of visible "
                                         "points."),
            ],
        )

    @classmethod
    def validate_inputs(cls, tracks_json=None):
        return validate_tracks_json(tracks_json)

    @classmethod
    def execute(cls, tracks_json, tracks=None) -> io.NodeOutput:
        from ..raxel_core.interop import tracks_from_comfy, tracks_from_json
        text = "" if tracks_json is None else str(tracks_json).strip()
        if tracks is not None and text:
            raise ValueError(
                "RaxelTracksFromJSON got both 'tracks' (connected) and tracks_json text; clear the "
                "JSON to use the connected tracks, or disconnect 'tracks'"
            )
        if tracks is None and not text:
            raise ValueError(
                "RaxelTracksFromJSON has no tracks: paste JSON tracks ([[{\"x\": .., \"y\": ..}, "
                "...], ...]) into tracks_json or connect core TRACKS to 'tracks'"
            )
        result = tracks_from_comfy(tracks) if tracks is not None else tracks_from_json(text)
        visible = float(result.visibility.mean()) * 100.0
        summary = (f"{result.num_tracks} tracks x {result.num_frames} frames, "
                   f"{visible:.0f}% of points visible")
        return io.NodeOutput(result, summary, ui={"text": (summary,)})


class RaxelExportBlender(io.ComfyNode):
    """Trajectory -> a Blender Python script in the output folder."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RaxelExportBlender",
            display_name="Export Camera Path To Blender",
            category=CATEGORY_INTEROP,
            is_output_node=True,
            description=(
                "Writes a Blender Python script (<prefix>_00001_.py in the output folder) that "
                "creates a camera keyed on every frame (location, rotation, focal length, lens "
                "shift) and sets the scene's resolution, frame range and fps. Run it in Blender's "
                "Scripting tab or with 'blender --python file.py'. Needs square pixels."
            ),
            inputs=[
                CameraTrajectory.Input("trajectory", tooltip="The trajectory to export."),
                _prefix_input("raxel/blender_camera", "script"),
                io.String.Input("camera_name", default="RaxelCamera",
                                tooltip="Name of the camera object created in Blender."),
                io.Float.Input("fps", default=0.0, min=0.0, max=1000.0, step=0.001,
                               tooltip="Frames per second of the Blender scene; 0 = auto: the "
                                       "camera path's own rate (the scene's is left as it is when "
                                       "the path has none)."),
            ],
            outputs=[
                io.String.Output(display_name="path",
                                 tooltip="Path of the written .py script relative to the output "
                                         "folder."),
            ],
        )

    @classmethod
    def validate_inputs(cls, filename_prefix=None, camera_name=None):
        if camera_name is not None and not str(camera_name).strip():
            return "camera_name is empty; give the Blender camera a name such as 'RaxelCamera'"
        return _check_prefix(filename_prefix)

    @classmethod
    def execute(cls, trajectory, filename_prefix, camera_name, fps) -> io.NodeOutput:
        from ..raxel_core.dcc_export import export_blender_script
        folder, subfolder, stem = paths.resolve_output_prefix(filename_prefix)
        filename = f"{stem}_{paths.next_counter(folder, stem):05d}_.py"
        export_blender_script(trajectory, folder / filename, name=str(camera_name).strip(),
                              fps=float(fps) if fps > 0 else None)
        relative, saved = paths.saved_output(subfolder, filename, "blender")
        message = f"wrote a Blender script for {len(trajectory)} cameras to {relative}"
        return io.NodeOutput(relative, ui={"text": (message,), "trajectory_files": [saved]})


class RaxelExportNerfstudioPath(io.ComfyNode):
    """Trajectory -> a nerfstudio ``camera_path.json`` in the output folder."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RaxelExportNerfstudioPath",
            display_name="Export Camera Path To Nerfstudio",
            category=CATEGORY_INTEROP,
            is_output_node=True,
            description=(
                "Writes a nerfstudio camera path (<prefix>_00001_camera_path.json in the output "
                "folder) with one keyframe per frame, for 'ns-render camera-path "
                "--camera-path-filename' or the viewer's Load Path. Poses are in the trajectory's "
                "own world; nerfstudio supports only square pixels and a centred principal point."
            ),
            inputs=[
                CameraTrajectory.Input("trajectory", tooltip="The trajectory to export."),
                _prefix_input("raxel/nerfstudio", "camera path"),
                io.Float.Input("fps", default=0.0, min=0.0, max=1000.0, step=0.001,
                               tooltip="Frames per second of the path (its length in seconds is "
                                       "frames / fps); 0 = auto: the camera path's own rate, or 30."),
            ],
            outputs=[
                io.String.Output(display_name="path",
                                 tooltip="Path of the written camera_path.json relative to the "
                                         "output folder."),
            ],
        )

    @classmethod
    def validate_inputs(cls, filename_prefix=None):
        return _check_prefix(filename_prefix)

    @classmethod
    def execute(cls, trajectory, filename_prefix, fps) -> io.NodeOutput:
        from ..raxel_core.dcc_export import export_nerfstudio_camera_path
        folder, subfolder, stem = paths.resolve_output_prefix(filename_prefix)
        filename = f"{stem}_{paths.next_counter(folder, stem):05d}_camera_path.json"
        export_nerfstudio_camera_path(trajectory, folder / filename,
                                      fps=float(fps) if fps > 0 else None)
        relative, saved = paths.saved_output(subfolder, filename, "nerfstudio_camera_path")
        message = f"wrote a nerfstudio camera path of {len(trajectory)} cameras to {relative}"
        return io.NodeOutput(relative, ui={"text": (message,), "trajectory_files": [saved]})


#: The node classes of this file, in menu order.
NODES = [RaxelToCameraCtrlPoses, RaxelFromCameraCtrlPoses, RaxelToLoad3DCamera,
         RaxelTracksFromJSON, RaxelExportBlender, RaxelExportNerfstudioPath]
