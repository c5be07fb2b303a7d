"""Camera poses from video: a thin adapter over :func:`raxel_core.pose.estimate_trajectory`
(structure from motion with pycolmap), with ComfyUI's progress bar and interrupt button wired in.
"""
from __future__ import annotations

import numpy as np
import torch
from comfy_api.latest import io

from .types import CATEGORY_POSE, CameraTrajectory, trajectory_ui, video_components, video_source


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


def image_frames(images: torch.Tensor, what: str, max_frames: int | None, stride: int):
    """The frames of a ComfyUI ``IMAGE`` batch one at a time as ``np.uint8 (H, W, 3)`` (every
    ``stride``-th, at most ``max_frames``), so that no uint8 copy of the whole batch is made."""
    frames_to_uint8(images[:1], what)  # shape / emptiness checks with the node's messages
    picked = images[::stride]
    if max_frames is not None:
        picked = picked[:max_frames]
    for frame in picked:
        yield frames_to_uint8(frame[None], what)[0]


def video_frames(video, what: str, max_frames: int | None, stride: int):
    """The frames of a core ``VIDEO`` decoded one at a time from its file (PyAV, every ``stride``-th,
    at most ``max_frames``) and its frame rate; a ``VIDEO`` that has no file behind it (built from
    images) gives its components' frames. Never holds the whole clip as float32 like
    ``get_components``."""
    from ..raxel_core.video_io import iter_video_frames, video_fps

    source = video_source(video)
    if source is None:
        components = video_components(video, what)
        rate = float(components.frame_rate) if components.frame_rate else None
        return image_frames(components.images, what, max_frames, stride), rate
    empty = ValueError(f"{what} holds no frames (an empty or interrupted export); re-export it, e.g. as H.264 .mp4")
    try:
        rate = video_fps(source)
    except ValueError as err:
        if "no video stream" in str(err):  # an interrupted export has a container without a decodable stream
            raise empty from None
        raise
    except Exception as err:  # noqa: BLE001 - PyAV / ComfyUI errors say little to an artist
        raise ValueError(f"{what} could not be decoded ({type(err).__name__}: {err}); check that the file plays "
                         "and holds a video stream, or re-export it (H.264 .mp4)") from err

    def frames():
        try:
            yield from iter_video_frames(source, max_frames=max_frames, stride=stride)
        except ValueError as err:
            if "no frames could be decoded" in str(err) or "no video stream" in str(err):
                raise empty from None
            raise

    return frames(), rate


def mask_batch(mask) -> torch.Tensor:
    """A ComfyUI ``MASK`` (``[N, H, W]``, or one ``[H, W]`` mask) as an ``[N, H, W]`` tensor.

    Raises:
        ValueError: not a tensor of 2 or 3 dimensions.
    """
    if not isinstance(mask, torch.Tensor) or mask.ndim not in (2, 3):
        shape = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"mask must be a MASK [frames, height, width] (1 = ignore); got {shape}")
    return mask[None] if mask.ndim == 2 else mask


def video_frame_count(video, what: str) -> int:
    """Number of frames of a core ``VIDEO``, counted by decoding its file (PyAV, no RGB conversion), or of
    its components when it has no file behind it."""
    from ..raxel_core.video_io import count_video_frames

    source = video_source(video)
    if source is None:
        return int(video_components(video, what).images.shape[0])
    return count_video_frames(source)


def input_frame_size(images, video) -> tuple[int, int]:
    """``(H, W)`` of the frames of an ``IMAGE`` batch or of a core ``VIDEO`` (its file's header, nothing
    decoded; a ``VIDEO`` without a file: its components). Errors as :func:`frames_to_uint8`."""
    from ..raxel_core.video_io import probe_video

    if images is not None:
        frames_to_uint8(images[:1], "the images input")
        return int(images.shape[1]), int(images.shape[2])
    what = "the video"
    source = video_source(video)
    if source is None:
        return tuple(int(n) for n in video_components(video, what).images.shape[1:3])
    return probe_video(source)["image_size"]


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
    fx, fy = float(estimate.cameras.fx.mean()), float(estimate.cameras.fy.mean())
    size = f"{estimate.cameras.image_size[1]}x{estimate.cameras.image_size[0]}"
    if abs(fy - fx) > 1e-6 * fx:
        lines.append(f"focal length: fx {fx:.1f} px, fy {fy:.1f} px (non-square pixels) at {size}")
    else:
        lines.append(f"focal length: {fx:.1f} px at {size}")
    lines += [f"- {m}" for m in estimate.messages]
    if estimate.timings:
        lines.append("time: " + ", ".join(f"{name} {sec:.1f} s" for name, sec in estimate.timings.items()))
    return "\n".join(lines)


#: Given pixel aspects (fy/fx) the node accepts; 0 means "estimate".
PIXEL_ASPECT_RANGE = (0.25, 4.0)


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
                io.Int.Input("max_frames", default=0, min=0, max=1_000_000, optional=True,
                             tooltip="Use at most this many frames (after stride); 0 = the whole clip."),
                io.Int.Input("stride", default=1, min=1, max=1000, optional=True,
                             tooltip="Use every N-th frame; trajectory frame k is video frame k * N and the "
                                     "trajectory's fps is the video's divided by N."),
                io.Int.Input("max_image_size", default=0, min=0, max=16384, optional=True,
                             tooltip="Shrink frames to this longer side in pixels before features are "
                                     "extracted (faster on large video; K stays at the frames' size); "
                                     "0 = full size."),
                io.Float.Input("pixel_aspect", default=1.0, min=0.0, max=4.0, step=0.001, optional=True,
                               tooltip="fy/fx of the frames' pixels: 1 = square. A clip squeezed from 16:9 "
                                       "to W x H without cropping has (H/W) * 16/9 (1.185 at 384x256). "
                                       "0 = estimate fy/fx from the video (needs focal_px 0 and camera "
                                       "motion with parallax; the report gives the value)."),
                io.Mask.Input("mask", optional=True,
                              tooltip="Moving things to ignore (people, cars, animals), e.g. from a segmentation "
                                      "node: 1 = ignore. One mask per video frame, or one for all frames, at the "
                                      "frames' size."),
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
    def execute(cls, focal_px, images=None, video=None, seed=0, max_frames=0, stride=1,
                max_image_size=0, pixel_aspect=1.0, mask=None) -> io.NodeOutput:
        import comfy.model_management
        import comfy.utils

        from ..raxel_core.pose import estimate_trajectory
        from ..raxel_core.pose.estimate import check_frame_memory
        from ..raxel_core.pose.masks import sampled_masks

        if (images is None) == (video is None):
            raise ValueError(
                "RaxelPoseFromVideo needs exactly one source of frames: connect either 'images' "
                "(an IMAGE batch) or 'video' (a VIDEO from Load Video); "
                + ("both are connected" if images is not None else "neither is connected")
            )
        if int(stride) < 1:
            raise ValueError(f"stride must be at least 1; got {stride}")
        limit = int(max_frames) if max_frames else None
        if video is not None:
            frames, fps = video_frames(video, "the video", limit, int(stride))
        else:
            frames, fps = image_frames(images, "the images input", limit, int(stride)), None
        if 0 < float(pixel_aspect) < PIXEL_ASPECT_RANGE[0] or float(pixel_aspect) > PIXEL_ASPECT_RANGE[1]:
            raise ValueError(f"pixel_aspect {float(pixel_aspect):g} is outside {PIXEL_ASPECT_RANGE[0]:g}-"
                             f"{PIXEL_ASPECT_RANGE[1]:g}: give fy/fx of the frames' pixels (1 = square), "
                             "or 0 to estimate it from the video")
        aspect = None if float(pixel_aspect) == 0 else float(pixel_aspect)     # None: estimated
        if aspect is None and focal_px > 0:
            raise ValueError("pixel_aspect 0 (estimate fy/fx) needs focal_px 0: with a known focal length give "
                             "the pixel aspect too (1 = square)")
        # memory guard before a frame is decoded (frames stream: one frame's peak, whatever their count)
        check_frame_memory(input_frame_size(images, video), int(max_image_size) or None, aspect)
        masks = None
        if mask is not None:
            count = int(images.shape[0]) if images is not None else video_frame_count(video, "the video")
            masks = sampled_masks(mask_batch(mask), count, limit, int(stride))
        if fps and stride > 1:
            fps = fps / int(stride)

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
                max_image_size=int(max_image_size) if max_image_size else None,
                pixel_aspect=aspect,
                masks=masks,
            )
        except Exception:
            # A stop requested by the user wins over whatever error the interrupted run gave.
            comfy.model_management.throw_exception_if_processing_interrupted()
            raise
        comfy.model_management.throw_exception_if_processing_interrupted()
        estimate.cameras.metadata["stride"] = int(stride)
        report = pose_report(estimate)
        sampling = [f"stride {int(stride)} (trajectory frame k = video frame {int(stride)} * k)" if stride > 1
                    else "every frame"]
        if limit:
            sampling.append(f"at most {limit} frames")
        if max_image_size:
            sampling.append(f"features at a longer side of at most {int(max_image_size)} px")
        if aspect is None:
            sampling.append("pixel aspect fy/fx estimated")
        elif aspect != 1.0:
            sampling.append(f"pixel aspect fy/fx {aspect:g}")
        if masks is not None:
            sampling.append(f"{int(mask.shape[0])} mask(s)" + (" for every frame" if int(mask.shape[0]) == 1 else ""))
        report = f"frames used: {estimate.num_frames} ({', '.join(sampling)})\n" + report
        return io.NodeOutput(estimate.cameras, report, ui=trajectory_ui(estimate.cameras, text=(report,)))


#: The node classes of this file, in menu order.
NODES = [RaxelPoseFromVideo]
