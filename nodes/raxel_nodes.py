"""Nodes between camera trajectories and images of rays: raxels (Rays as Pixels, arXiv 2604.09429,
Sec. 3.2 / 3.5), Plucker ray maps and the Wan 2.1 Fun Camera embedding.

Thin adapters over :mod:`raxel_core.rays` (raxel maps, Plücker maps, the Wan embedding); the math and its
checks live there.
"""
from __future__ import annotations

from comfy_api.latest import io

from .types import (
    CATEGORY,
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
            display_name="Raxel Encode",
            category=CATEGORY,
            description=(
                "Encodes a trajectory as raxel images (Rays as Pixels): each pixel of frame j "
                "stores d + o_j / scale, the unit ray through it plus the camera centre, in the "
                "reference camera's frame, mapped to [0, 1] by (value + 2) / 4. The metadata "
                "output (scale, reference pose, intrinsics) lets RaxelPoseDecode restore the "
                "trajectory in its own units and world frame."
            ),
            inputs=[
                CameraTrajectory.Input("trajectory", tooltip="The trajectory to encode."),
                io.Int.Input("reference", default=0, min=-4096, max=4096,
                             tooltip="Frame whose camera is the reference (its raxels hold only "
                                     "directions); negative counts from the end."),
                io.Int.Input("raxel_width", default=0, min=0, max=8192,
                             tooltip="Width of the raxel images; 0 = half the trajectory's "
                                     "image width (the paper's choice)."),
                io.Int.Input("raxel_height", default=0, min=0, max=8192,
                             tooltip="Height of the raxel images; 0 = half the trajectory's "
                                     "image height."),
            ],
            outputs=[
                io.Image.Output(display_name="raxels",
                                tooltip="IMAGE [frames, h, w, 3] float32 in [0, 1]."),
                RaxelMetadata.Output(display_name="metadata",
                                     tooltip="What decoding needs besides the pixels (scale, "
                                             "reference pose, K); connect it to RaxelPoseDecode."),
            ],
        )

    @classmethod
    def execute(cls, trajectory, reference, raxel_width, raxel_height) -> io.NodeOutput:
        from ..raxel_core.rays.raxel_encode import encode_raxels
        if (raxel_width == 0) != (raxel_height == 0):
            raise ValueError(
                f"raxel_width and raxel_height must both be 0 (half the trajectory's image size) "
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
            display_name="Raxel Pose Decode",
            category=CATEGORY,
            description=(
                "Recovers camera poses and focal lengths from raxel images (from RaxelEncode or a "
                "model). With the encoder's metadata the trajectory comes back in its own units "
                "and world frame; without it, poses are relative to the reference frame (frame 0) "
                "with the largest camera distance normalised to 1."
            ),
            inputs=[
                io.Image.Input("raxels", tooltip="Raxel IMAGE [frames, h, w, 3] in [0, 1]."),
                RaxelMetadata.Input("metadata", optional=True,
                                    tooltip="RaxelEncode's metadata for these images; leave "
                                            "empty for a model's raxels (relative poses, unit "
                                            "scale)."),
            ],
            outputs=[
                CameraTrajectory.Output(display_name="trajectory",
                                        tooltip="The decoded trajectory, one camera per image."),
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
            display_name="Raxel Camera Embedding (Plucker / Wan)",
            category=CATEGORY,
            description=(
                "Turns a trajectory into Plucker ray maps (d, m = c x d) and the "
                "WAN_CAMERA_EMBEDDING that core's WanCameraImageToVideo takes (same layout as "
                "core's WanCameraEmbedding node: poses relative to the first frame, frames "
                "grouped by 4). Width, height and length outputs feed WanCameraImageToVideo."
            ),
            inputs=[
                CameraTrajectory.Input("trajectory",
                                       tooltip="The trajectory; Wan 2.1 wants 4k + 1 frames."),
                io.Int.Input("width", default=832, min=16, max=8192, step=16,
                             tooltip="Width of the video to generate (intrinsics are rescaled "
                                     "to it)."),
                io.Int.Input("height", default=480, min=16, max=8192, step=16,
                             tooltip="Height of the video to generate."),
            ],
            outputs=[
                WanCameraEmbedding.Output(display_name="camera_embedding",
                                          tooltip="(1, 24, (frames - 1) / 4 + 1, height, width) "
                                                  "for WanCameraImageToVideo."),
                RaxelPlucker.Output(display_name="plucker",
                                    tooltip="Plucker maps (frames, height, width, 6) float32: "
                                            "direction d, moment o x d, in the first camera's "
                                            "frame."),
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
