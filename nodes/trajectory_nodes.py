"""Nodes that author, load, save and preview camera trajectories (``CAMERA_TRAJECTORY``).

Thin adapters: widgets and files in, :mod:`raxel_core` calls, sockets out. Errors raised by the
core (``ValueError`` with a message for the artist) reach the user unchanged as ComfyUI's
execution error.
"""
from __future__ import annotations

import numpy as np
import torch
from comfy_api.latest import io, ui

from ..raxel_core.authoring.retime import FRAME_RULES
from ..raxel_core.authoring.trajectory_presets import EASINGS, PRESET_NAMES
from ..raxel_core.formats import detect_format, read_trajectory, write_trajectory
from . import paths
from .types import CATEGORY_CAMERA, CameraTrajectory, trajectory_ui

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


#: ``(H, W)`` assumed for files that hold no pixel size when Load Camera Path's size is auto.
DEFAULT_SIZE = (480, 832)


def _size_inputs(what: str, default: int | None = None) -> list:
    low = 16 if default is None else 0
    return [
        io.Int.Input("width", default=DEFAULT_SIZE[1] if default is None else default, min=low, max=8192, step=8,
                     tooltip=f"Width in pixels of the frames {what}."),
        io.Int.Input("height", default=DEFAULT_SIZE[0] if default is None else default, min=low, max=8192, step=8,
                     tooltip=f"Height in pixels of the frames {what}."),
    ]


class RaxelCameraTrajectory(io.ComfyNode):
    """A named camera move (pan, dolly, orbit, zoom, ...) or a keyframed path."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RaxelCameraTrajectory",
            display_name="Create Camera Path",
            category=CATEGORY_CAMERA,
            description=(
                "Makes a camera path: a named move (pan, dolly, orbit, zoom, ...) starting from the "
                "first frame's camera or, with preset 'keyframes', a smooth path through the camera "
                "positions you key in the keyframes text. How it interpolates is on the help page."
            ),
            inputs=[
                io.Combo.Input("preset", options=[*PRESET_NAMES, KEYFRAMES], default="orbit_left",
                               tooltip="Camera move, named for what the camera does; 'keyframes' "
                                       "uses the keyframes JSON below instead."),
                io.Int.Input("frames", default=49, min=1, max=4096,
                             tooltip="Number of frames (Wan wants 4k + 1, e.g. 49 or 81)."),
                io.Float.Input("magnitude", default=0.0, min=-3600.0, max=3600.0, step=0.1,
                               tooltip="Size of the whole move: degrees (pan, tilt, orbit, roll, "
                                       "arc, spiral), scene units (dolly, truck, pedestal) or the "
                                       "zoom factor. 0 = auto (the move's default: 30 degrees, 1 "
                                       "unit, 1.5x zoom)."),
                io.Combo.Input("easing", options=list(EASINGS), default="ease_in_out",
                               tooltip="How the speed changes: steady (linear), or starting and / "
                                       "or ending gently."),
                *_size_inputs("the trajectory is for (sets the intrinsics K)"),
                io.Float.Input("fov", default=50.0, min=1.0, max=179.0, step=0.5,
                               tooltip="Vertical field of view of the first frame, degrees."),
                io.Float.Input("distance", default=4.0, min=0.01, max=1000.0, step=0.1,
                               tooltip="Scene units from the first camera to the point orbit and "
                                       "arc circle around (and spiral's forward reference)."),
                io.String.Input("keyframes", multiline=True, default=DEFAULT_KEYFRAMES,
                                tooltip="Used when preset is 'keyframes': one entry per key with "
                                        "its frame, the camera position and the point it looks at "
                                        "(y points down; format on the help page)."),
            ],
            outputs=[
                CameraTrajectory.Output(display_name="trajectory",
                                        tooltip="The camera trajectory (raxel_core Cameras)."),
            ],
        )

    @classmethod
    def validate_inputs(cls, preset, keyframes, frames):
        # Naming an input here makes ComfyUI skip its own check of it: check the preset and frames too.
        if preset not in (*PRESET_NAMES, KEYFRAMES):
            return f"unknown preset {preset!r}; choose one of {', '.join((*PRESET_NAMES, KEYFRAMES))}"
        if frames is not None and not (isinstance(frames, int) and not isinstance(frames, bool)
                                       and 1 <= frames <= 4096):
            return f"frames must be a whole number from 1 to 4096; got {frames!r}"
        if preset == KEYFRAMES and keyframes is not None:  # None: linked from another node
            from ..raxel_core.authoring.keyframes import check_keyframes_in_range, parse_keyframes_json
            try:
                keys = parse_keyframes_json(keyframes)
                if frames is not None:
                    check_keyframes_in_range(keys, frames)
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
    """Read a trajectory file from ComfyUI's input or output folder."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RaxelLoadTrajectory",
            display_name="Load Camera Path",
            category=CATEGORY_CAMERA,
            description=(
                "Loads a camera path file from ComfyUI's input folder, or from the output folder "
                "(marked [output]: e.g. one you just saved with Save Camera Path), or one you upload: "
                "RealEstate10K / CameraCtrl .txt, this pack's .json, MotionCtrl .json, nerfstudio "
                "transforms.json, LLFF poses_bounds.npy, or a COLMAP text model folder. Files outside "
                "those folders are refused."
            ),
            inputs=[
                io.Combo.Input("file", options=paths.list_pose_files(), upload=io.UploadType.model,
                               tooltip="Camera path file in the input folder, or in the output folder "
                                       "(marked [output]); upload one or put it there and refresh."),
                *_size_inputs("the camera path is used with. 0 = auto: the file's own size; files "
                              "without one (RealEstate10K, MotionCtrl) use 832 x 480", default=0),
            ],
            outputs=[
                CameraTrajectory.Output(display_name="trajectory",
                                        tooltip="The camera path read from the file, checked."),
            ],
        )

    @classmethod
    def validate_inputs(cls, file):
        # Replaces ComfyUI's "value in list" check: any readable path inside the input or output
        # folder is accepted (also one added after the list was built); anything else is refused.
        try:
            paths.resolve_pose_file(file)
        except ValueError as err:
            return str(err)
        return True

    @classmethod
    def fingerprint_inputs(cls, file, width, height):
        path = paths.resolve_pose_file(file)
        files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
        return (file, width, height, tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files))

    @classmethod
    def execute(cls, file, width, height) -> io.NodeOutput:
        path = paths.resolve_pose_file(file)
        if (int(width) == 0) != (int(height) == 0):
            raise ValueError(f"width and height must both be 0 (auto: the file's own size) or both set; "
                             f"got {width} x {height}")
        size = (int(height), int(width)) if width else None
        fmt = detect_format(path)
        if fmt in SIZED_FORMATS and not (fmt == "llff" and size is None):
            # RealEstate10K / MotionCtrl hold no pixel size; LLFF holds its own (used when auto)
            cameras = read_trajectory(path, image_size=size or DEFAULT_SIZE)
            note = "" if size else " (the file has no size of its own: assumed; set width / height)"
        else:
            cameras = read_trajectory(path)
            note = " (the file's own size)" if size is None else ""
            if size is not None and tuple(cameras.image_size) != size:
                cameras = cameras.with_image_size(size)
        h, w = cameras.image_size
        message = f"{len(cameras)} cameras, {w} x {h}{note}"
        return io.NodeOutput(cameras, ui=trajectory_ui(cameras, text=(message,)))


class RaxelSaveTrajectory(io.ComfyNode):
    """Write a trajectory into ComfyUI's output folder."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RaxelSaveTrajectory",
            display_name="Save Camera Path",
            category=CATEGORY_CAMERA,
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
            display_name="Preview Camera Path",
            category=CATEGORY_CAMERA,
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


class RaxelRetimeTrajectory(io.ComfyNode):
    """A trajectory at another frame count and frame rate (e.g. a video's camera for Wan's 4k + 1)."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RaxelRetimeTrajectory",
            display_name="Fit Camera Path To Length And Frame Rate",
            category=CATEGORY_CAMERA,
            description=(
                "Fits a camera path to the frame count and frame rate of your generation, e.g. the "
                "camera of a 30 fps video to 81 frames at 16 fps for Wan. With a target frame rate the "
                "camera keeps the speed it had in the video; without one the whole move is stretched "
                "or squeezed to the frames. Optionally smooths the shake out of it, starts it at the "
                "origin and scales its moves."
            ),
            inputs=[
                CameraTrajectory.Input("trajectory", tooltip="The camera path to fit, e.g. from Pose From Video."),
                io.Int.Input("frames", default=81, min=0, max=4096,
                             tooltip="How many frames to make (0 = auto: as many as the source path "
                                     "covers at the target frame rate)."),
                io.Combo.Input("frame_rule", options=list(FRAME_RULES), default="nearest 4k+1",
                               tooltip="'nearest 4k+1' rounds the frame count to what Wan models take "
                                       "(49, 81, ...); 'exact' keeps it; 'source' uses the path's own."),
                io.Float.Input("fps_in", default=0.0, min=0.0, max=1000.0, step=0.01,
                               tooltip="Frame rate of the source video (0 = auto: the rate the path "
                                       "carries, e.g. from Load Video)."),
                io.Float.Input("fps_out", default=16.0, min=0.0, max=1000.0, step=0.01,
                               tooltip="Frame rate of the video you will generate (Wan 2.1: 16). 0 = "
                                       "ignore timing and stretch the whole move over the frames."),
                io.Float.Input("smoothing", default=1.0, min=0.0, max=50.0, step=0.1,
                               tooltip="How much shake to smooth out, in source frames (0 = none)."),
                io.Boolean.Input("recentre", default=True,
                                 tooltip="Start the path at the origin looking forward (what camera "
                                         "control models expect)."),
                io.Float.Input("scale", default=1.0, min=0.001, max=1000.0, step=0.01,
                               tooltip="Make the camera's moves bigger (> 1) or smaller (< 1)."),
            ],
            outputs=[
                CameraTrajectory.Output(display_name="trajectory", tooltip="The fitted camera path."),
                io.Int.Output(display_name="frames", tooltip="Its number of frames."),
                io.Float.Output(display_name="fps", tooltip="Its frame rate (0 when unknown)."),
            ],
        )

    @classmethod
    def execute(cls, trajectory, frames, frame_rule, fps_in, fps_out, smoothing, recentre,
                scale) -> io.NodeOutput:
        from ..raxel_core.authoring.retime import retime
        out = retime(trajectory, num_frames=int(frames), fps_in=fps_in, fps_out=fps_out,
                     frame_rule=frame_rule, smoothing=smoothing, recentre=bool(recentre), scale=scale)
        rate = f" at {out.fps:g} fps" if out.fps else ""
        message = f"{len(trajectory)} frames -> {len(out)} frames{rate}"
        return io.NodeOutput(out, len(out), float(out.fps or 0.0),
                             ui=trajectory_ui(out, text=(message,)))


#: The node classes of this file, in menu order.
NODES = [RaxelCameraTrajectory, RaxelLoadTrajectory, RaxelSaveTrajectory, RaxelTrajectoryPreview,
         RaxelRetimeTrajectory]
