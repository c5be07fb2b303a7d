"""Nodes between camera trajectories and images of rays: raxels (Rays as Pixels, arXiv 2604.09429,
Sec. 3.2 / 3.5), Plucker ray maps and the Wan 2.1 Fun Camera embedding.

Thin adapters over :mod:`raxel_core.rays` (raxel maps, Plücker maps, the Wan embedding); the math and its
checks live there.
"""
from __future__ import annotations

from comfy_api.latest import io

from .types import (
    CATEGORY_CAMERA,
    CameraTrajectory,
    RaxelMetadata,
    RaxelPlucker,
    WanCameraEmbedding,
    trajectory_ui,
)


class RaxelEncode(io.ComfyNode):
    """Trajectory -> raxel images (one 3-channel image of rays per frame) + their metadata."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RaxelEncode",
            display_name="Camera Path To Ray Images",
            category=CATEGORY_CAMERA,
            description=(
                "Turns a camera path into ray images (raxels): one picture per frame whose colours "
                "say where each pixel looks from and to. Ray Images To Camera Path reads them back; "
                "the metadata output carries what it needs to restore the path's size and place. "
                "The encoding is explained on the help page."
            ),
            inputs=[
                CameraTrajectory.Input("trajectory", tooltip="The camera path to turn into ray images."),
                io.Int.Input("reference", default=0, min=-4096, max=4096,
                             tooltip="Frame the others are measured from (usually the first, 0); "
                                     "-1 is the last frame."),
                io.Int.Input("raxel_width", default=0, min=0, max=8192,
                             tooltip="Width of the ray images in pixels; 0 = auto (half the "
                                     "camera path's image width)."),
                io.Int.Input("raxel_height", default=0, min=0, max=8192,
                             tooltip="Height of the ray images in pixels; 0 = auto (half the "
                                     "camera path's image height)."),
            ],
            outputs=[
                io.Image.Output(display_name="raxels",
                                tooltip="One ray image per frame."),
                RaxelMetadata.Output(display_name="metadata",
                                     tooltip="Size and placement of the path; connect it to Ray "
                                             "Images To Camera Path."),
            ],
        )

    @classmethod
    def execute(cls, trajectory, reference, raxel_width, raxel_height) -> io.NodeOutput:
        from ..raxel_core.rays.raxel_encode import encode_raxels
        if (raxel_width == 0) != (raxel_height == 0):
            raise ValueError(
                f"raxel_width and raxel_height must both be 0 (auto: half the trajectory's image size) "
                f"or both set; got {raxel_width} x {raxel_height}"
            )
        size = (int(raxel_height), int(raxel_width)) if raxel_width else None
        maps = encode_raxels(trajectory, size=size, reference=int(reference))
        return io.NodeOutput(maps.to_image(), maps.metadata())


class RaxelPoseDecode(io.ComfyNode):
    """Raxel images -> trajectory (robust per-frame rigid fit, Rays as Pixels Sec. 3.5)."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RaxelPoseDecode",
            display_name="Ray Images To Camera Path",
            category=CATEGORY_CAMERA,
            description=(
                "Reads the camera path back from ray images (from Camera Path To Ray Images or "
                "from a model). With the encoder's metadata the path comes back at its own size and "
                "place; without it, it starts at the first frame and its farthest camera is 1 unit "
                "away."
            ),
            inputs=[
                io.Image.Input("raxels", tooltip="The ray images, one per frame."),
                RaxelMetadata.Input("metadata", optional=True,
                                    tooltip="The metadata that came with these ray images; leave "
                                            "empty for ray images made by a model."),
            ],
            outputs=[
                CameraTrajectory.Output(display_name="trajectory",
                                        tooltip="The camera path, one camera per image."),
            ],
        )

    @classmethod
    def execute(cls, raxels, metadata=None) -> io.NodeOutput:
        from ..raxel_core.rays.raxel_decode import decode_raxels
        from ..raxel_core.rays.raxel_maps import RaxelMaps
        cameras = decode_raxels(RaxelMaps.from_image(raxels, metadata))
        return io.NodeOutput(cameras, ui=trajectory_ui(cameras))


class RaxelCameraEmbedding(io.ComfyNode):
    """Trajectory -> Plucker ray maps and core's Wan 2.1 Fun Camera embedding."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RaxelCameraEmbedding",
            display_name="Camera Path To Wan Camera Control",
            category=CATEGORY_CAMERA,
            description=(
                "Turns a camera path into the camera control that Wan 2.1 Fun Camera models "
                "follow: connect camera_embedding, width, height and length to core's "
                "WanCameraImageToVideo. The same layout as core's WanCameraEmbedding node; details "
                "on the help page."
            ),
            inputs=[
                CameraTrajectory.Input("trajectory",
                                       tooltip="The camera path; Wan wants 4k + 1 frames (49, 81): "
                                               "fit it with Fit Camera Path To Length And Frame Rate."),
                io.Int.Input("width", default=832, min=16, max=8192, step=16,
                             tooltip="Width of the video to generate, in pixels."),
                io.Int.Input("height", default=480, min=16, max=8192, step=16,
                             tooltip="Height of the video to generate."),
            ],
            outputs=[
                WanCameraEmbedding.Output(display_name="camera_embedding",
                                          tooltip="Camera control for WanCameraImageToVideo's "
                                                  "camera_conditions."),
                RaxelPlucker.Output(display_name="plucker",
                                    tooltip="The rays of every pixel and frame, for other "
                                            "camera-control nodes (layout on the help page)."),
                io.Int.Output(display_name="width", tooltip="The width used."),
                io.Int.Output(display_name="height", tooltip="The height used."),
                io.Int.Output(display_name="length", tooltip="Number of frames."),
            ],
        )

    @classmethod
    def execute(cls, trajectory, width, height) -> io.NodeOutput:
        import comfy.model_management
        import torch

        from ..raxel_core.rays.plucker import plucker_maps
        from ..raxel_core.rays.wan_embedding import wan_camera_embedding
        device = comfy.model_management.intermediate_device()
        embedding = wan_camera_embedding(trajectory, int(width), int(height))
        plucker = plucker_maps(trajectory, (int(height), int(width)), reference=0)
        return io.NodeOutput(
            embedding.to(device=device, dtype=torch.float32),
            plucker.to(dtype=torch.float32),
            int(width), int(height), len(trajectory),
        )


#: The node classes of this file, in menu order.
NODES = [RaxelEncode, RaxelPoseDecode, RaxelCameraEmbedding]
