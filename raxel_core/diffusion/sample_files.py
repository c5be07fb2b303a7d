"""Run a saved joint model on files (``raxel sample``): read the inputs, fit them to the frame size the
model was trained at, sample (:func:`raxel_core.diffusion.sampler.sample`) and write the outputs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..formats.text_files import atomic_path
from .checkpoints import training_resolution


def fit_frames(frames: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """Frames centre-cropped to the aspect of ``size`` and resized to it
    (:func:`raxel_core.diffusion.datasets.resize_crop`), or unchanged when ``size`` is None.

    Args:
        frames: ``(N, H, W, 3)`` uint8 RGB.
        size: the model's frame size ``(h, w)`` in pixels (:func:`training_resolution`), or None for a
            model that does not record it (the input keeps its own size).
    Returns:
        ``(N, h, w, 3)`` uint8.
    """
    from ..cameras import Cameras
    from .datasets import resize_crop

    if size is None:
        return frames
    # resize_crop moves intrinsics along with the pixels; these placeholder cameras are discarded
    placeholder = Cameras(K=Cameras.intrinsics_from_fov(50, frames.shape[1:3], len(frames)),
                          R=torch.eye(3).repeat(len(frames), 1, 1), t=torch.zeros(len(frames), 3),
                          image_size=frames.shape[1:3])
    return resize_crop(frames, placeholder, size)[0]


def fit_and_report(frames: np.ndarray, size: tuple[int, int] | None, what: str, log) -> np.ndarray:
    """:func:`fit_frames`, calling ``log`` with a ``"warning: ..."`` line naming the sizes when the
    frames were resized (or cropped) to the model's frame size; ``what`` names the input."""
    fitted = fit_frames(frames, size)
    (h, w), (fh, fw) = frames.shape[1:3], fitted.shape[1:3]
    if (h, w) != (fh, fw):
        crop = "" if h * fw == w * fh else " (centre-cropped to its aspect first)"
        log(f"warning: {what} resized from {h}x{w} to {fh}x{fw}, the frame size the model was trained at{crop}")
    return fitted


def sample_to_files(model_dir: str | Path, mode: str, out_dir: str | Path, video: str | Path | None = None,
                    image: str | Path | None = None, trajectory: str | Path | None = None,
                    num_frames: int | None = None, steps_video: int = 30, steps_rays: int = 2, seed: int = 0,
                    device: str = "cpu", log=print, vae: str | Path | None = None) -> dict:
    """Run a trained model from files (``raxel sample MODE --out OUT_DIR ...``).

    Args:
        model_dir: a ``save_pretrained`` directory (e.g. ``checkpoints/small/step_0020000/model``).
        mode: ``pose`` (needs ``video``), ``video`` (needs ``image`` and ``trajectory``) or
            ``joint`` (needs ``image`` and ``num_frames``).
        out_dir: output folder (created): ``video.mp4`` (video / joint), ``trajectory.txt``
            (RealEstate10K; pose / joint), ``raxels.png`` (the raxel frames side by side).
        video: a video file or frame folder, resized and centre-cropped to the model's frame size
            (pose mode: the first ``num_frames`` frames, default 9).
        image: the source image (video / joint), resized and centre-cropped likewise.
        trajectory: a trajectory file (any :func:`raxel_core.formats.read_trajectory` format; a
            RealEstate10K file's normalised intrinsics are taken at the model's frame size).
        num_frames, steps_video, steps_rays, seed: as :func:`raxel_core.diffusion.sampler.sample`.
        device: torch device.
        log: ``callable(str)`` called with ``"warning: ..."`` lines when an input was resized or frames
            of the video were left out, ``"step D/T"`` as sampling proceeds, a line giving the frame
            size and frame count sampled, and a last line naming the files written.
        vae: for a latent model, a local diffusers ``AutoencoderKLWan`` folder (Wan 2.1's VAE,
            :class:`raxel_core.diffusion.latent_space.DiffusersWanVAE`); None for pixel models.
    Returns:
        ``{"video": path | None, "trajectory": path | None, "raxels": path}``.
    Raises:
        ValueError: an input the mode needs is missing, or the model, the VAE or an input cannot be
            used (the message names it).
    """
    from PIL import Image

    from ..formats import detect_format, read_trajectory, write_trajectory
    from ..model import JointTransformer
    from ..video_io import read_frames, read_image, write_video
    from .sampler import sample

    model = JointTransformer.from_pretrained(model_dir, device=device).eval()
    space = None
    if vae is not None:
        from .latent_space import DiffusersWanVAE

        space = DiffusersWanVAE.from_pretrained(vae, device=device)
    # The frame size the model was trained at; a model that does not record it takes the input's
    # own size (the sampler refuses sizes its patch grid cannot take, naming them).
    size, _ = training_resolution(model_dir)

    kwargs: dict = {}
    if mode == "pose":
        if video is None:
            raise ValueError("pose mode needs --video")
        wanted = num_frames or 9
        frames = read_frames(video, max_frames=wanted + 1)        # one more: were frames left out?
        if len(frames) > wanted:
            frames = frames[:wanted]
            log(f"warning: used the first {wanted} frames of {video}; the rest were left out "
                "(--frames sets how many)")
        kwargs["video"] = fit_and_report(frames, size, "the video", log)
    else:
        if image is None:
            raise ValueError(f"{mode} mode needs --image (the first frame)")
        kwargs["source_frames"] = fit_and_report(read_image(image)[None], size, "the image", log)
        if mode == "video":
            if trajectory is None:
                raise ValueError("video mode needs --trajectory")
            if detect_format(trajectory) == "realestate10k":      # normalised intrinsics: any frame size
                cams = read_trajectory(trajectory, image_size=size)
            else:
                cams = read_trajectory(trajectory)
            kwargs["cameras"] = cams
            num_frames = num_frames or len(cams)
    result = sample(model, mode, num_frames=num_frames if mode != "pose" else None, steps_video=steps_video,
                    steps_rays=steps_rays, seed=seed, progress=lambda d, t: log(f"step {d}/{t}"),
                    latent_space=space, **kwargs)
    frames_out, height, width = result.video.shape[:3]
    ray_h, ray_w = result.rays.rays.shape[1:3]
    log(f"sampled {mode}: {frames_out} frames at {height}x{width} (raxels {ray_h}x{ray_w}), "
        f"{result.model_calls['forward']} model calls")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict = {"video": None, "trajectory": None}
    if mode != "pose":
        frames = (result.video.numpy() * 255).round().astype(np.uint8)
        paths["video"] = write_video(out / "video.mp4", frames, 8.0)
    if mode != "video":
        paths["trajectory"] = write_trajectory(result.cameras, out / "trajectory.txt", format="realestate10k")
    strip = np.concatenate(list(result.rays.to_uint8()), axis=1)
    paths["raxels"] = out / "raxels.png"
    with atomic_path(paths["raxels"]) as tmp:
        Image.fromarray(strip).save(tmp)
    log(f"wrote {', '.join(str(p) for p in paths.values() if p is not None)}")
    return paths
