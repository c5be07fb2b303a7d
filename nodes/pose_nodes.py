"""Camera poses from video: a thin adapter over :func:`raxel_core.pose.estimate_trajectory`
(structure from motion with pycolmap), with ComfyUI's progress bar and interrupt button wired in.
"""
from __future__ import annotations

import numpy as np
import torch
from comfy_api.latest import io

from .types import CATEGORY_POSE, CameraTrajectory, trajectory_ui, video_components


def frames_to_uint8(images: torch.Tensor, what: str) -> np.ndarray:
    """ComfyUI ``IMAGE`` ``[T, H, W, C]`` float in ``[0, 1]`` -> ``np.uint8 (T, H, W, 3)`` RGB,
    ``round(255 x)`` (exact for frames decoded from 8-bit video). An alpha channel is dropped.

    Raises:
        ValueError: not a ``[T, H, W, 3|4]`` tensor, or no frames.
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"{what} must be an IMAGE batch [frames, height, width, 3]; got {shape}")
    if images.numel() == 0:
        raise ValueError(
            f"{what} has no frames (shape {tuple(images.shape)}); check that the video file "
            "holds frames (play it) and is not empty, or re-export it"
        )
    if images.shape[-1] not in (3, 4):
        raise ValueError(
            f"{what} must have 3 colour channels (RGB, or RGBA); got {images.shape[-1]} in shape "
            f"{tuple(images.shape)}"
        )
    rgb = images[..., :3].detach().to(device="cpu", dtype=torch.float32)
    return torch.round(rgb.clamp(0.0, 1.0) * 255.0).to(torch.uint8).numpy()


def pose_report(estimate) -> str:
    """Text shown on the node and given as its ``report`` output: method, registered frames,
    the estimator's messages and the time per stage."""
    n, k = estimate.num_frames, len(estimate.frame_indices)
    lines = [f"method: {estimate.method}", f"registered: {k} of {n} frames"]
    if estimate.unregistered:
        lines.append(
            "unregistered frames (no pose; the trajectory holds only the registered ones): "
            + ", ".join(str(i) for i in estimate.unregistered)
        )
    f = estimate.cameras.fx
    lines.append(f"focal length: {float(f.mean()):.1f} px at {estimate.cameras.image_size[1]}x"
                 f"{estimate.cameras.image_size[0]}")
    lines += [f"- {m}" for m in estimate.messages]
    if estimate.timings:
        lines.append("time: " + ", ".join(f"{name} {sec:.1f} s" for name, sec in estimate.timings.items()))
    return "\n".join(lines)


class RaxelPoseFromVideo(io.ComfyNode):
    """Estimate the camera trajectory of a video (frames as IMAGE, or a VIDEO)."""

    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="RaxelPoseFromVideo",
            display_name="Camera Path From Video",
            category=CATEGORY_POSE,
            description=(
                "Finds where the camera was in every frame of a video, so its move can be reused. "
                "Give the frames either as IMAGE or as VIDEO (from Load Video), not both. The path's "
                "size is arbitrary (scale it later); frames it could not place are listed in the "
                "report. The method is on the help page."
            ),
            inputs=[
                io.Image.Input("images", optional=True,
                               tooltip="The video's frames as an IMAGE batch (use this or video)."),
                io.Video.Input("video", optional=True,
                               tooltip="A VIDEO, e.g. from Load Video (use this or images)."),
                io.Float.Input("focal_px", default=0.0, min=0.0, max=100000.0, step=0.1,
                               tooltip="The lens's focal length in pixels, if you know it; 0 = auto "
                                       "(estimated from the video)."),
                io.Int.Input("seed", default=0, min=0, max=2**31 - 1, control_after_generate=False,
                             optional=True,
                             tooltip="Seed of the random sampling (RANSAC, mappers): the same video and seed "
                                     "give the same cameras. Change it only to try another solution."),
            ],
            outputs=[
                CameraTrajectory.Output(display_name="trajectory",
                                        tooltip="The camera path, one camera per frame placed."),
                io.String.Output(display_name="report",
                                 tooltip="How many frames were registered, the method and its "
                                         "messages."),
            ],
        )

    @classmethod
    def execute(cls, focal_px, images=None, video=None, seed=0) -> io.NodeOutput:
        import comfy.model_management
        import comfy.utils

        from ..raxel_core.pose import estimate_trajectory

        if (images is None) == (video is None):
            raise ValueError(
                "RaxelPoseFromVideo needs exactly one source of frames: connect either 'images' "
                "(an IMAGE batch) or 'video' (a VIDEO from Load Video); "
                + ("both are connected" if images is not None else "neither is connected")
            )
        if video is not None:
            what = "the video"
            components = video_components(video, what)
            images = components.images
            fps = float(components.frame_rate) if components.frame_rate else None
        else:
            what = "the images input"
            fps = None
        frames = frames_to_uint8(images, what)

        bar = comfy.utils.ProgressBar(1)

        def progress(done, total):
            bar.update_absolute(done, total)

        try:
            estimate = estimate_trajectory(
                frames,
                focal=float(focal_px) if focal_px > 0 else None,
                progress=progress,
                should_stop=comfy.model_management.processing_interrupted,
                fps=fps,
                seed=int(seed),
            )
        except Exception:
            # A stop requested by the user wins over whatever error the interrupted run gave.
            comfy.model_management.throw_exception_if_processing_interrupted()
            raise
        comfy.model_management.throw_exception_if_processing_interrupted()
        report = pose_report(estimate)
        return io.NodeOutput(estimate.cameras, report, ui=trajectory_ui(estimate.cameras, text=(report,)))


#: The node classes of this file, in menu order.
NODES = [RaxelPoseFromVideo]
