"""Nodes that author, load, save and preview camera trajectories (``CAMERA_TRAJECTORY``).

Thin adapters: widgets and files in, :mod:`raxel_core` calls, sockets out. Errors raised by the
core (``ValueError`` with a message for the artist) reach the user unchanged as ComfyUI's
execution error.
"""
from __future__ import annotations

import numpy as np
import torch
from comfy_api.latest import io, ui

from ..raxel_core.authoring.trajectory_presets import EASINGS, PRESET_NAMES
from ..raxel_core.formats import detect_format, read_trajectory, write_trajectory
from . import paths
from .types import CATEGORY, CameraTrajectory, trajectory_ui

#: The choice of RaxelCameraTrajectory that interpolates the keyframes JSON instead of a preset.
KEYFRAMES = "keyframes"

#: Saveable formats (LLFF is read-only) and the file suffix each is written with ("" = a folder).
SAVE_FORMATS = {
    "raxel": ".json",
    "realestate10k": ".txt",
    "motionctrl": ".json",
    "nerfstudio": "/transforms.json",
    "colmap": "",
}

#: Formats whose files hold no pixel intrinsics: the reader needs the image size.
SIZED_FORMATS = ("realestate10k", "motionctrl", "llff")

DEFAULT_KEYFRAMES = (
    '[{"frame": 0, "position": [0, 0, 0], "look_at": [0, 0, 4], "fov": 50},\n'
    ' {"frame": 48, "position": [1, 0, 1], "look_at": [0, 0, 4]}]'
)


def _size_inputs(what: str) -> list:
    return [
        io.Int.Input("width", default=832, min=16, max=8192, step=8,
                     tooltip=f"Width in pixels of the frames {what}."),
        io.Int.Input("height", default=480, min=16, max=8192, step=8,
                     tooltip=f"Height in pixels of the frames {what}."),
    ]


class RaxelCameraTrajectory(io.ComfyNode):
    """A named camera move (pan, dolly, orbit, zoom, ...) or a keyframed path."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RaxelCameraTrajectory",
            display_name="Raxel Camera Trajectory",
            category=CATEGORY,
            description=(
                "Authors a camera trajectory: a named move (frame 0 is the identity pose, the world "
                "frame is the first camera's) or, with preset 'keyframes', a path interpolated "
                "through the keyframes JSON (rotations by SLERP, positions by a cubic spline)."
            ),
            inputs=[
                io.Combo.Input("preset", options=[*PRESET_NAMES, KEYFRAMES], default="orbit_left",
                               tooltip="Camera move, named for what the camera does; 'keyframes' "
                                       "uses the keyframes JSON below instead."),
                io.Int.Input("frames", default=49, min=1, max=4096,
                             tooltip="Number of frames (Wan 2.1 wants 4k + 1, e.g. 49 or 81)."),
                io.Float.Input("magnitude", default=0.0, min=-3600.0, max=3600.0, step=0.1,
                               tooltip="Size of the whole move: degrees (pan, tilt, orbit, roll, "
                                       "arc, spiral), scene units (dolly, truck, pedestal) or the "
                                       "zoom factor. 0 = the preset's default (30 degrees, 1 unit, "
                                       "1.5x zoom)."),
                io.Combo.Input("easing", options=list(EASINGS), default="ease_in_out",
                               tooltip="Speed profile: linear, or starting / ending at rest."),
                *_size_inputs("the trajectory is for (sets the intrinsics K)"),
                io.Float.Input("fov", default=50.0, min=1.0, max=179.0, step=0.5,
                               tooltip="Vertical field of view of the first frame, degrees."),
                io.Float.Input("distance", default=4.0, min=0.01, max=1000.0, step=0.1,
                               tooltip="Scene units from the first camera to the point orbit and "
                                       "arc circle around (and spiral's forward reference)."),
                io.String.Input("keyframes", multiline=True, default=DEFAULT_KEYFRAMES,
                                tooltip="Used when preset is 'keyframes': a JSON list of "
                                        "{frame, position, look_at | rotation | euler_deg, fov}; "
                                        "OpenCV world (y down), positions are camera centres."),
            ],
            outputs=[
                CameraTrajectory.Output(display_name="trajectory",
                                        tooltip="The camera trajectory (raxel_core Cameras)."),
            ],
        )

    @classmethod
    def validate_inputs(cls, preset, keyframes):
        # Naming an input here makes ComfyUI skip its own check of it: check the preset too.
        if preset not in (*PRESET_NAMES, KEYFRAMES):
            return f"unknown preset {preset!r}; choose one of {', '.join((*PRESET_NAMES, KEYFRAMES))}"
        if preset == KEYFRAMES and keyframes is not None:  # None: linked from another node
            from ..raxel_core.authoring.keyframes import parse_keyframes_json
            try:
                parse_keyframes_json(keyframes)
            except ValueError as err:
                return str(err)
        return True

    @classmethod
    def execute(cls, preset, frames, magnitude, easing, width, height, fov, distance,
                keyframes) -> io.NodeOutput:
        size = (int(height), int(width))
        if preset == KEYFRAMES:
            from ..raxel_core.authoring.keyframes import (
                parse_keyframes_json,
                trajectory_from_keyframes,
            )
            cameras = trajectory_from_keyframes(
                parse_keyframes_json(keyframes), frames, image_size=size, fov_y_deg=fov
            )
        else:
            from ..raxel_core.authoring.trajectory_presets import make_preset
            cameras = make_preset(preset, frames, magnitude=magnitude or None, easing=easing,
                                  image_size=size, fov_y_deg=fov, distance=distance)
        return io.NodeOutput(cameras, ui=trajectory_ui(cameras))


class RaxelLoadTrajectory(io.ComfyNode):
    """Read a trajectory file from ComfyUI's input folder."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RaxelLoadTrajectory",
            display_name="Raxel Load Trajectory",
            category=CATEGORY,
            description=(
                "Loads a camera trajectory from ComfyUI's input folder: RealEstate10K .txt, raxel "
                ".json, MotionCtrl .json, nerfstudio transforms.json, LLFF poses_bounds.npy, or a "
                "COLMAP text model folder (cameras.txt + images.txt). Paths outside the input "
                "folder are refused."
            ),
            inputs=[
                io.Combo.Input("file", options=paths.list_pose_files(),
                               tooltip="Trajectory file (or COLMAP folder) inside the input "
                                       "folder; put files there and refresh."),
                *_size_inputs("the trajectory is used with; only for formats with normalised or "
                              "no intrinsics (RealEstate10K, MotionCtrl, LLFF)"),
            ],
            outputs=[
                CameraTrajectory.Output(display_name="trajectory",
                                        tooltip="The trajectory read from the file, validated."),
            ],
        )

    @classmethod
    def validate_inputs(cls, file):
        # Replaces ComfyUI's "value in list" check: any readable path inside the input folder is
        # accepted (also one added after the list was built); anything else is refused here.
        try:
            paths.resolve_input_file(file)
        except ValueError as err:
            return str(err)
        return True

    @classmethod
    def fingerprint_inputs(cls, file, width, height):
        path = paths.resolve_input_file(file)
        files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
        return (file, width, height, tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files))

    @classmethod
    def execute(cls, file, width, height) -> io.NodeOutput:
        path = paths.resolve_input_file(file)
        options = {}
        if detect_format(path) in SIZED_FORMATS:
            options["image_size"] = (int(height), int(width))
        cameras = read_trajectory(path, **options)
        return io.NodeOutput(cameras, ui=trajectory_ui(cameras))


class RaxelSaveTrajectory(io.ComfyNode):
    """Write a trajectory into ComfyUI's output folder."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RaxelSaveTrajectory",
            display_name="Raxel Save Trajectory",
            category=CATEGORY,
            is_output_node=True,
            description=(
                "Saves a camera trajectory into ComfyUI's output folder as <prefix>_00001_.<ext> "
                "(numbered, never overwriting): raxel .json (lossless, this pack's format), "
                "RealEstate10K / CameraCtrl .txt, MotionCtrl .json, nerfstudio transforms.json or "
                "a COLMAP text model folder."
            ),
            inputs=[
                CameraTrajectory.Input("trajectory", tooltip="The trajectory to save."),
                io.String.Input("filename_prefix", default="raxel/trajectory",
                                tooltip="Name inside the output folder; a '/' makes subfolders. "
                                        "Paths leaving the output folder are refused."),
                io.Combo.Input("format", options=list(SAVE_FORMATS), default="raxel",
                               tooltip="File format: raxel (.json, lossless), realestate10k "
                                       "(.txt), motionctrl (.json), nerfstudio (folder with "
                                       "transforms.json), colmap (text model folder)."),
            ],
            outputs=[
                io.String.Output(display_name="path",
                                 tooltip="Path of the saved file relative to the output folder."),
            ],
        )

    @classmethod
    def execute(cls, trajectory, filename_prefix, format) -> io.NodeOutput:
        folder, subfolder, stem = paths.resolve_output_prefix(filename_prefix)
        name = f"{stem}_{paths.next_counter(folder, stem):05d}_"
        suffix = SAVE_FORMATS[format]
        if suffix.startswith("/"):
            (folder / name).mkdir()
            target, filename = folder / name / suffix[1:], f"{name}{suffix}"
        else:
            target, filename = folder / f"{name}{suffix}", f"{name}{suffix}"
        write_trajectory(trajectory, target, format=format)
        relative, saved = paths.saved_output(subfolder, filename, format)
        message = f"saved {len(trajectory)} cameras to {relative} ({format})"
        return io.NodeOutput(relative, ui={"text": (message,), "trajectory_files": [saved]})


class RaxelTrajectoryPreview(io.ComfyNode):
    """Top and side views of a trajectory with frustums, shown on the node."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RaxelTrajectoryPreview",
            display_name="Raxel Trajectory Preview",
            category=CATEGORY,
            is_output_node=True,
            description=(
                "Draws a trajectory from above (x-z) and from the side (z-y) with camera frustums "
                "coloured by time; an optional reference trajectory (e.g. ground truth) is drawn "
                "in grey in the same world frame and units (nothing is aligned)."
            ),
            inputs=[
                CameraTrajectory.Input("trajectory", tooltip="The trajectory to draw."),
                CameraTrajectory.Input("reference", optional=True,
                                       tooltip="Optional second trajectory drawn in grey "
                                               "underneath, in the same world frame."),
                io.Int.Input("width", default=1024, min=256, max=4096, step=8,
                             tooltip="Width of the preview image in pixels."),
                io.Int.Input("height", default=512, min=128, max=4096, step=8,
                             tooltip="Height of the preview image in pixels."),
            ],
            outputs=[
                io.Image.Output(display_name="image",
                                tooltip="The preview, IMAGE [1, height, width, 3] in [0, 1]."),
            ],
        )

    @classmethod
    def execute(cls, trajectory, width, height, reference=None) -> io.NodeOutput:
        from ..raxel_core.preview import trajectory_preview
        picture = trajectory_preview(trajectory, size=(int(height), int(width)), reference=reference)
        image = torch.from_numpy(np.ascontiguousarray(picture)).to(torch.float32)[None] / 255.0
        shown = ui.PreviewImage(image, cls=cls).as_dict()
        return io.NodeOutput(image, ui=trajectory_ui(trajectory, reference, **shown))


#: The node classes of this file, in menu order.
NODES = [RaxelCameraTrajectory, RaxelLoadTrajectory, RaxelSaveTrajectory, RaxelTrajectoryPreview]
