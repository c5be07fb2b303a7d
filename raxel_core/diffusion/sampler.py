"""Sampling the joint video + ray model: pose estimation, camera-controlled video, joint generation.

Rays as Pixels (arXiv 2604.09429), Sec. 3.4-3.5. Euler integration of the flow-matching ODE
(:mod:`raxel_core.diffusion.flow_matching` for the conventions) with **separate step counts for
the two streams** (the paper: 2 ray steps suffice for pose estimation, video needs many more).

Time grids: stream ``s`` with ``N_s`` steps uses ``sigma_k = shift(1 - k / N_s)``, ``k = 0..N_s``
(``sigma = 1 - t``; ``shift`` is Wan's timestep shift, 1 = none). Both streams advance in one
loop over the **merged grid** (the union of both grids, highest noise first): at each merged
point the model is called once on both streams, each at its own current ``sigma`` (clean frames
at 0), and every stream that has a grid point there takes an explicit Euler step to its next grid
point, ``x <- x + (sigma_next - sigma) * v`` with the network's ``v = dx / dsigma``. A stream
without a grid point there keeps its state (it already stands at a lower noise level, which the
model sees through its per-frame timesteps; training draws the streams' levels independently for
this). So the model is called ``|merged grid| - 1`` times and each stream's velocity is used
exactly ``N_s`` times. diffusers' ``FlowMatchEulerDiscreteScheduler`` keeps one step index per
scheduler and cannot interleave two grids with per-frame clean masks, so this 10-line Euler loop
is our own (same update and shift formula).

Latent space (:mod:`raxel_core.diffusion.latent_space`): pixel-space models (``in_channels = 3``,
such as :meth:`JointModelConfig.small` and the Plücker ablations) run on ``[-1, 1]`` pixels; latent
models (e.g. :meth:`JointModelConfig.wan21_1_3b`) take a ``latent_space`` (the Wan 2.1 VAE through
diffusers, or a ComfyUI VAE in the node). Then the clean inputs are encoded (the video as one clip,
the source frames as the first latent frames, raxel images one by one), the Euler loop runs on
latents, and the results are decoded; the source frames of the returned video are the given ones.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import torch

from ..cameras import Cameras
from ..model.channel_concat import ChannelConcatModel
from ..raxels import RaxelMaps, encode_raxels
from .datasets import (
    RAY_CHANNELS,
    encode_plucker_rays,
    encode_rays,
    normalize_reference_rays,
    plucker_rays_to_cameras,
    ray_representation_for,
    rays_to_cameras,
    rays_to_raxel_maps,
)
from .flow_matching import check_mode, clean_masks, shift_sigma
from .latent_space import PixelSpace, check_latent_space, latent_frames, uses_pixels


@dataclass
class SampleResult:
    """What :func:`sample` returns.

    Attributes:
        video: ``(F, H, W, 3)`` float32 in ``[0, 1]`` (ComfyUI ``IMAGE``): generated frames (the
            source frames unchanged) or, in ``pose`` mode, the input video.
        rays: :class:`RaxelMaps` of the ``F`` cameras (generated, or the given trajectory's).
        cameras: ``F`` cameras at ``(H, W)``: decoded from the generated raxels
            (:func:`raxel_core.raxels.decode_raxels`; relative to frame 0, the farthest camera at
            distance 1) or, in ``video`` mode, the given trajectory.
        model_calls: ``{"forward": n, "video": Nv, "rays": Nr}``: forward passes, and how many of
            them advanced each stream.
        latents: ``{"video": (C, F', h, w), "rays": (C, F, h', w')}`` the sampled latents when a
            VAE latent space was used, else None.
        ray_stream: ``(F, C, h, w)`` float32 the model's ray stream as sampled (decoded to raxel
            pixels for a latent model) (generated raxels
            are decoded after :func:`~raxel_core.diffusion.datasets.normalize_reference_rays`; the
            length it divided by is ``cameras.metadata["reference_ray_length"]``) (``C = 3`` raxels
            ``(d + o / scale) / 2``, ``C = 6`` Plücker ``(d, m)``). For a Plücker model ``rays``
            holds the raxels of the decoded (or given) cameras.
    """

    video: torch.Tensor
    rays: RaxelMaps
    cameras: Cameras
    model_calls: dict = field(default_factory=dict)
    ray_stream: torch.Tensor | None = None
    latents: dict | None = None


def _to_video_tensor(frames, what: str) -> torch.Tensor:
    """``(F, H, W, 3)`` uint8 or float in [0, 1] (numpy or torch) -> ``(3, F, H, W)`` float32 in [-1, 1]."""
    if isinstance(frames, np.ndarray):
        frames = torch.from_numpy(np.ascontiguousarray(frames))
    if not isinstance(frames, torch.Tensor):
        raise ValueError(f"{what} must be a numpy array or torch tensor of frames; got {type(frames).__name__}")  # noqa: TRY004
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"{what} must be (F, H, W, 3) RGB frames; got shape {tuple(frames.shape)}")
    if frames.dtype == torch.uint8:
        x = frames.float() / 255.0
    else:
        x = frames.detach().float().cpu()
        if x.min() < -1e-3 or x.max() > 1 + 1e-3:
            raise ValueError(f"{what} as floats must lie in [0, 1]; got [{x.min():.3g}, {x.max():.3g}]")
    return (x.clamp(0, 1) * 2 - 1).permute(3, 0, 1, 2).contiguous()


def frame_size_multiples(config, spatial_factor: int = 1) -> tuple[int, int]:
    """``(height, width)`` multiples every frame size of ``config`` must be: frames and raxels (the
    frame size / ``raxel_downscale``) split into whole patches of latent pixels, ``spatial_factor``
    pixels each (1 on pixels, 8 for the Wan 2.1 VAE)."""
    d = config.raxel_downscale
    return (int(spatial_factor * np.lcm(config.patch_size[1], d * config.ray_patch_size[1])),
            int(spatial_factor * np.lcm(config.patch_size[2], d * config.ray_patch_size[2])))


def nearest_frame_size(config, image_size: tuple[int, int], spatial_factor: int = 1) -> tuple[int, int]:
    """The frame size ``(H, W)`` nearest ``image_size`` that ``config`` takes (for error messages)."""
    (h, w), (mult_h, mult_w) = image_size, frame_size_multiples(config, spatial_factor)
    return max(mult_h, round(h / mult_h) * mult_h), max(mult_w, round(w / mult_w) * mult_w)


def check_resolution(config, image_size: tuple[int, int], spatial_factor: int = 1) -> tuple[int, int]:
    """The raxel grid (pixels) for frames of ``image_size`` under ``config``; ``ValueError`` with
    the fix when the model cannot take that size (:func:`frame_size_multiples`)."""
    h, w = image_size
    d = config.raxel_downscale
    mult_h, mult_w = frame_size_multiples(config, spatial_factor)
    if h % mult_h or w % mult_w or h <= 0 or w <= 0:
        fix_h, fix_w = nearest_frame_size(config, image_size, spatial_factor)
        raise ValueError(
            f"this model cannot take {h}x{w} frames: height must be a multiple of {mult_h} and width of "
            f"{mult_w} (video patch {config.patch_size[1:]}, raxels at 1/{d} size in patches "
            f"{config.ray_patch_size[1:]}{f', {spatial_factor} pixels per latent pixel' if spatial_factor > 1 else ''}); "
            f"resize or crop to e.g. {fix_h}x{fix_w}"
        )
    return h // d, w // d


def sigma_grid(steps: int, shift: float = 1.0) -> list[tuple[Fraction, float]]:
    """``steps + 1`` grid points ``(key k / steps, shifted sigma)`` from 1 (noise) down to 0."""
    if int(steps) != steps or steps < 1:
        raise ValueError(f"step counts must be whole numbers >= 1; got {steps!r}")
    steps = int(steps)
    return [(Fraction(steps - k, steps), float(shift_sigma(torch.tensor((steps - k) / steps, dtype=torch.float64),
                                                            shift))) for k in range(steps + 1)]


@torch.no_grad()
def sample(
    model,
    mode: str,
    video=None,
    rays: torch.Tensor | None = None,
    source_frames=None,
    num_frames: int | None = None,
    steps_video: int = 30,
    steps_rays: int = 2,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    text: torch.Tensor | None = None,
    cameras: Cameras | None = None,
    shift: float = 1.0,
    latent_space=None,
) -> SampleResult:
    """Run one of the paper's three tasks with a :class:`~raxel_core.model.JointTransformer`.

    Args:
        model: a ``JointTransformer`` (its device and dtype are used).
        mode: ``"pose"`` (video -> cameras), ``"video"`` (source frames + trajectory -> video) or
            ``"joint"`` (source frames -> video + cameras).
        video: ``pose`` mode: the ``(F, H, W, 3)`` frames (uint8, or float in [0, 1]).
        rays: ``video`` mode alternative to ``cameras``: ``(F, 3, h, w)`` raxels in ``[-1, 1]``
            with reference frame 0 (:func:`raxel_core.diffusion.datasets.encode_rays`).
        source_frames: ``video`` / ``joint`` mode: ``(S, H, W, 3)`` source images, the first ``S``
            frames of the result (``S >= 1``, fewer than ``num_frames``).
        num_frames: frames to produce; default the video's / trajectory's length (required in
            ``joint`` mode). Must agree with the given video / trajectory.
        steps_video, steps_rays: Euler steps of each stream (>= 1; a stream that is given clean
            takes none).
        seed: seed of the initial noise (``torch.Generator`` on the CPU, so results repeat
            across devices up to the model's arithmetic).
        progress: ``progress(done, total)`` after each model call.
        should_stop: polled before each model call; ``InterruptedError`` when it returns True.
        text: ``(1, L, text_dim)`` text-encoder states for models with text cross-attention.
        cameras: ``video`` mode: the trajectory (``F`` cameras); its intrinsics are rescaled to the
            frame size when the aspect ratio matches. Frame 0 is the source camera.
        shift: Wan timestep shift of both grids (1 = uniform in sigma).
        latent_space: where the streams live (:mod:`raxel_core.diffusion.latent_space`); default
            :class:`~raxel_core.diffusion.latent_space.PixelSpace`. Latent models need their VAE here;
            with temporal compression ``T`` the clip and the source frames have ``1 + kT`` frames.

    Returns:
        :class:`SampleResult`.

    Raises:
        ValueError: unknown mode; a missing or superfluous input for the mode; a model that does
            not fit the latent space (channels, temporal compression; a Plücker model in a VAE space);
            frames of a size or count the model cannot take (the message gives one that works);
            a trajectory whose length differs from the video's; generated rays that do not decode
            to cameras (an untrained or wrong model).
        InterruptedError: ``should_stop()`` returned True.
    """
    check_mode(mode)
    config = model.config
    representation = ray_representation_for(config) if uses_pixels(config) else "raxel"
    space = PixelSpace() if latent_space is None else latent_space
    if representation != "raxel" and space.channels != 3:
        raise ValueError(f"a {representation} ablation model runs on pixels; run it without a VAE")
    if representation == "raxel":
        check_latent_space(config, space)
    if representation == "plucker_concat" and not isinstance(model, ChannelConcatModel):
        model = ChannelConcatModel(model)
    ray_channels = RAY_CHANNELS[representation]
    param = next(model.parameters())
    device, dtype = param.device, param.dtype

    # ------------------------------------------------------------------ inputs per mode
    source = None
    if mode == "pose":
        if video is None:
            raise ValueError("pose mode needs the video whose cameras to estimate (video=...)")
        if source_frames is not None or cameras is not None or rays is not None:
            raise ValueError("pose mode takes only the video; drop source_frames / cameras / rays")
        video_x1 = _to_video_tensor(video, "video")
        n = video_x1.shape[1]
    else:
        if source_frames is None:
            raise ValueError(f"{mode} mode needs source_frames: the first image(s) of the video to generate")
        if video is not None:
            raise ValueError(f"{mode} mode generates the video; pass the first frame(s) as source_frames, not video")
        source = _to_video_tensor(source_frames, "source_frames")
        n = num_frames
        if mode == "video":
            if (cameras is None) == (rays is None):
                raise ValueError("video mode needs the camera trajectory: give exactly one of cameras=... or rays=...")
            n_traj = len(cameras) if cameras is not None else rays.shape[0]
            if n is not None and n != n_traj:
                raise ValueError(f"the trajectory has {n_traj} frames but num_frames is {n}; resample the "
                                 "trajectory (raxel_core.authoring.resample) or change num_frames")
            n = n_traj
        elif cameras is not None or rays is not None:
            raise ValueError("joint mode generates the cameras; drop cameras / rays (use video mode to follow a trajectory)")
        if n is None:
            raise ValueError("joint mode needs num_frames")
        if not 1 <= source.shape[1] < n:
            raise ValueError(f"{source.shape[1]} source frames for a {n}-frame video; give between 1 and {n - 1}")
        video_x1 = torch.zeros(3, n, *source.shape[2:])
        video_x1[:, :source.shape[1]] = source
    if num_frames is not None and num_frames != n:
        raise ValueError(f"the video has {n} frames but num_frames is {num_frames}; trim the video or change num_frames")
    n_latent = latent_frames(n, space.temporal_factor)
    if n_latent % config.patch_size[0] or n % config.ray_patch_size[0]:
        raise ValueError(f"{n} frames are not a multiple of the model's temporal patch {config.patch_size[0]}")
    image_size = tuple(video_x1.shape[2:])
    raxel_size = check_resolution(config, image_size, space.spatial_factor)
    ray_size = image_size if representation == "plucker_concat" else raxel_size    # the ray stream's grid

    rays_x1 = torch.zeros(ray_channels, n, *ray_size)
    if mode == "video":
        if cameras is not None:
            if len(cameras) != n:
                raise ValueError(f"the trajectory has {len(cameras)} frames but the video {n}")
            ch, cw = cameras.image_size
            if abs(ch / cw - image_size[0] / image_size[1]) > 0.01 * image_size[0] / image_size[1]:
                raise ValueError(
                    f"the trajectory is for {ch}x{cw} frames but the source frames are {image_size[0]}x"
                    f"{image_size[1]} (another aspect ratio); crop the images or give a trajectory for their size"
                )
            cameras = cameras.with_image_size(image_size)
            if representation in ("plucker", "plucker_concat"):
                ray_frames = encode_plucker_rays(cameras, ray_size, reference=0)
            else:
                ray_frames, _ = encode_rays(cameras, raxel_size, reference=0)
            rays_x1 = ray_frames.permute(1, 0, 2, 3)
        else:
            if tuple(rays.shape) != (n, ray_channels, *ray_size):
                raise ValueError(f"rays must be (F, C, h, w) = ({n}, {ray_channels}, {ray_size[0]}, {ray_size[1]}) for "
                                 f"{image_size[0]}x{image_size[1]} frames; got {tuple(rays.shape)}")
            rays_x1 = rays.detach().float().cpu().permute(1, 0, 2, 3)

    # ------------------------------------------------------------------ into the model's space
    num_source = source.shape[1] if source is not None else 1
    if mode == "pose":
        z_video = space.encode_video(video_x1)
    else:
        latent_frames(source.shape[1], space.temporal_factor)      # whole latent frames of source images
        z_source = space.encode_video(source)       # the source frames alone: the first latent frame(s)
        num_source = z_source.shape[1]
        z_video = torch.zeros(z_source.shape[0], n_latent, *z_source.shape[2:])
        z_video[:, :num_source] = z_source
    z_rays = (space.encode_images(rays_x1) if mode == "video"
              else torch.zeros(space.channels if representation == "raxel" else ray_channels, n,
                               *(v // space.spatial_factor for v in ray_size)))
    video_clean, rays_clean = clean_masks(mode, n_latent, n, num_source)

    # ------------------------------------------------------------------ noise and grids
    generator = torch.Generator().manual_seed(int(seed))
    video_noise = torch.randn(z_video.shape, generator=generator)
    ray_noise = torch.randn(z_rays.shape, generator=generator)
    vc, rc = video_clean[None, :, None, None], rays_clean[None, :, None, None]
    x_video = torch.where(vc, z_video, video_noise)[None].to(device, dtype)
    x_rays = torch.where(rc, z_rays, ray_noise)[None].to(device, dtype)
    vc, rc = vc[None].to(device), rc[None].to(device)

    grids = {}
    if not video_clean.all():
        grids["video"] = sigma_grid(steps_video, shift)
    if not rays_clean.all():
        grids["rays"] = sigma_grid(steps_rays, shift)
    merged = sorted({key for grid in grids.values() for key, _ in grid}, reverse=True)
    position = {name: 0 for name in grids}       # index of each stream's current grid point
    total = len(merged) - 1
    calls = {"forward": 0, "video": 0, "rays": 0}

    def timesteps(name: str, clean: torch.Tensor) -> torch.Tensor:
        sigma = grids[name][position[name]][1] if name in grids else 0.0
        frames = clean.shape[0]
        ts = torch.where(clean, torch.zeros(frames), torch.full((frames,), 1000.0 * sigma))
        return ts[None].to(device)

    for j, key in enumerate(merged[:-1]):
        if should_stop is not None and should_stop():
            raise InterruptedError(f"sampling stopped before model call {j + 1} of {total}")
        video_out, ray_out = model(x_video, x_rays, timesteps("video", video_clean), timesteps("rays", rays_clean), text)
        calls["forward"] += 1
        for name, x, out, clean in (("video", x_video, video_out, vc), ("rays", x_rays, ray_out, rc)):
            if name not in grids or grids[name][position[name]][0] != key:
                continue
            sigma, sigma_next = grids[name][position[name]][1], grids[name][position[name] + 1][1]
            step = x + (sigma_next - sigma) * out.to(x.dtype)          # Euler in sigma: dx/dsigma = v
            x.copy_(torch.where(clean, x, step))                       # clean frames never move
            position[name] += 1
            calls[name] += 1
        if progress is not None:
            progress(j + 1, total)

    # ------------------------------------------------------------------ outputs
    latents = None
    if isinstance(space, PixelSpace):
        pixels = x_video[0].float().cpu()
        ray_frames = x_rays[0].float().cpu().permute(1, 0, 2, 3)
    else:
        latents = {"video": x_video[0].float().cpu(), "rays": x_rays[0].float().cpu()}
        pixels = video_x1.clone() if mode == "pose" else space.decode_video(latents["video"])
        if mode != "pose":
            pixels[:, :source.shape[1]] = source                       # the given frames, not their round trip
        ray_frames = (rays_x1 if mode == "video" else space.decode_images(latents["rays"])).permute(1, 0, 2, 3)
    out_video = pixels.permute(1, 2, 3, 0).clamp(-1, 1).add(1).div(2).contiguous()
    if representation in ("plucker", "plucker_concat"):
        if mode == "video" and cameras is not None:
            result_cameras = cameras
        else:
            try:
                result_cameras = plucker_rays_to_cameras(ray_frames, image_size)
            except ValueError as err:
                if mode == "video":
                    raise
                raise ValueError(f"the generated rays do not decode to cameras ({err}); the model is untrained, "
                                 "was trained for another resolution, or needs more ray steps") from None
        maps = encode_raxels(result_cameras, size=raxel_size, reference=0)
    elif mode == "video" and cameras is not None:
        maps = rays_to_raxel_maps(ray_frames)
        result_cameras = cameras
    elif mode == "video":
        maps = rays_to_raxel_maps(ray_frames)
        result_cameras = rays_to_cameras(ray_frames, None, image_size)
    else:
        maps = rays_to_raxel_maps(ray_frames)
        try:
            rescaled, length = normalize_reference_rays(ray_frames)
            maps = rays_to_raxel_maps(rescaled)
            result_cameras = rays_to_cameras(rescaled, None, image_size)
        except ValueError as err:
            raise ValueError(f"the generated rays do not decode to cameras ({err}); the model is untrained, "
                             "was trained for another resolution, or needs more ray steps") from None
        result_cameras.metadata["reference_ray_length"] = length
    return SampleResult(video=out_video, rays=maps, cameras=result_cameras, model_calls=calls, ray_stream=ray_frames,
                        latents=latents)
