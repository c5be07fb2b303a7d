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

:func:`sample` runs three stages, each usable alone: :func:`prepare` (input checks, raised once
here as :class:`SamplerInputError` for an adapter to reword, and the clean inputs encoded into a
:class:`PreparedSample`), :func:`integrate` (the Euler loop) and :func:`decode` (video frames, and
cameras by the model's ray codec, :mod:`raxel_core.rays.codecs`). :func:`model_calls` gives the
number of model calls ahead of a run (a progress bar's total).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import torch

from ..cameras import Cameras
from ..model.channel_concat import ChannelConcatModel, is_channel_concat
from ..rays.codecs import RayCodec, codec_for, ray_representation_for
from ..rays.raxel_maps import RaxelMaps
from .flow_matching import check_mode, clean_masks, shift_sigma
from .latent_space import PixelSpace, check_latent_space, latent_frames


class SamplerInputError(ValueError):
    """An input of :func:`sample` that does not fit the task mode or the model, raised before any
    model call. ``str(err)`` names the Python arguments; ``problem`` (one of :data:`INPUT_PROBLEMS`)
    and ``details`` let an adapter (the ComfyUI node) say the same in the words of its own sockets.

    Attributes:
        problem: what is wrong (:data:`INPUT_PROBLEMS`).
        details: the numbers of the message (``frames``, ``source_frames``, ``image_size`` ...).
    """

    def __init__(self, problem: str, message: str, **details):
        super().__init__(message)
        self.problem = problem
        self.details = details


#: ``SamplerInputError.problem`` values: pose mode without a video / with other inputs; video or
#: joint mode without source frames / given a video; video mode without exactly one trajectory;
#: joint mode given one; a trajectory or video whose length differs from ``num_frames``; joint mode
#: without ``num_frames``; a source-frame count outside ``[1, F - 1]`` (details ``source_frames``,
#: ``frames``); a frame size the model cannot take (details ``image_size``, ``multiples``, ``nearest``).
INPUT_PROBLEMS = ("missing_video", "extra_inputs", "missing_source", "video_given", "missing_trajectory",
                  "trajectory_given", "trajectory_length", "frame_count", "missing_num_frames", "source_count",
                  "frame_size")


@dataclass
class SampleResult:
    """What :func:`sample` returns.

    Attributes:
        video: ``(F, H, W, 3)`` float32 in ``[0, 1]`` (ComfyUI ``IMAGE``): generated frames (the
            source frames unchanged) or, in ``pose`` mode, the input video.
        rays: :class:`RaxelMaps` of the ``F`` cameras (generated, or the given trajectory's).
        cameras: ``F`` cameras at ``(H, W)``: decoded from the generated raxels
            (:func:`raxel_core.rays.raxel_decode.decode_raxels`; relative to frame 0, the farthest camera at
            distance 1) or, in ``video`` mode, the given trajectory.
        model_calls: ``{"forward": n, "video": Nv, "rays": Nr}``: forward passes, and how many of
            them advanced each stream.
        latents: ``{"video": (C, F', h, w), "rays": (C, F, h', w')}`` the sampled latents when a
            VAE latent space was used, else None.
        ray_stream: ``(F, C, h, w)`` float32 the model's ray stream as sampled (decoded to raxel
            pixels for a latent model) (generated raxels
            are decoded after :func:`~raxel_core.rays.codecs.normalize_reference_rays`; the
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
    """The raxel grid (pixels) for frames of ``image_size`` under ``config``.

    Raises:
        SamplerInputError: ``problem = "frame_size"`` with the fix when the model cannot take that size
            (:func:`frame_size_multiples`); details ``image_size``, ``multiples``, ``nearest`` (all ``(H, W)``).
    """
    h, w = image_size
    d = config.raxel_downscale
    mult_h, mult_w = frame_size_multiples(config, spatial_factor)
    if h % mult_h or w % mult_w or h <= 0 or w <= 0:
        fix_h, fix_w = nearest_frame_size(config, image_size, spatial_factor)
        per_latent = f", {spatial_factor} pixels per latent pixel" if spatial_factor > 1 else ""
        raise SamplerInputError(
            "frame_size",
            f"this model cannot take {h}x{w} frames: height must be a multiple of {mult_h} and width of "
            f"{mult_w} (video patch {config.patch_size[1:]}, raxels at 1/{d} size in patches "
            f"{config.ray_patch_size[1:]}{per_latent}); resize or crop to e.g. {fix_h}x{fix_w}",
            image_size=(h, w), multiples=(mult_h, mult_w), nearest=(fix_h, fix_w),
        )
    return h // d, w // d


def sigma_grid(steps: int, shift: float = 1.0) -> list[tuple[Fraction, float]]:
    """``steps + 1`` grid points ``(key k / steps, shifted sigma)`` from 1 (noise) down to 0."""
    if int(steps) != steps or steps < 1:
        raise ValueError(f"step counts must be whole numbers >= 1; got {steps!r}")
    steps = int(steps)
    return [(Fraction(steps - k, steps), float(shift_sigma(torch.tensor((steps - k) / steps, dtype=torch.float64),
                                                            shift))) for k in range(steps + 1)]


def sigma_grids(mode: str, steps_video: int, steps_rays: int, shift: float = 1.0) -> dict[str, list]:
    """The time grids (:func:`sigma_grid`) of the streams ``mode`` denoises: ``"video"`` unless
    ``mode == "pose"``, ``"rays"`` unless ``mode == "video"`` (a stream given clean takes no steps)."""
    check_mode(mode)
    grids = {}
    if mode != "pose":
        grids["video"] = sigma_grid(steps_video, shift)
    if mode != "video":
        grids["rays"] = sigma_grid(steps_rays, shift)
    return grids


def model_calls(mode: str, steps_video: int, steps_rays: int) -> int:
    """How many times :func:`sample` calls the model for ``mode`` and these step counts: the
    points of the merged grid (the union of both streams' grids) minus one. The total of its
    ``progress(done, total)`` callback. ``ValueError`` for an unknown mode or a bad step count."""
    grids = sigma_grids(mode, steps_video, steps_rays)
    return len({key for grid in grids.values() for key, _ in grid}) - 1


# ----------------------------------------------------------------------------------- prepare
@dataclass
class PreparedSample:
    """The inputs of one sampling run, checked and moved into the model's space (:func:`prepare`).

    Attributes:
        mode: ``"pose"``, ``"video"`` or ``"joint"``.
        model: the network to call (a channel-concat model wrapped in :class:`ChannelConcatModel`).
        codec: the model's ray codec (:func:`raxel_core.rays.codecs.codec_for`).
        space: the latent space (:class:`PixelSpace` for pixel models).
        frames: ``F``, frames of the result.
        image_size: ``(H, W)`` of the frames; ``raxel_size`` the raxel grid; ``ray_size`` the ray stream's grid.
        video_pixels: ``(3, F, H, W)`` in ``[-1, 1]``: the video (pose) or the source frames then zeros.
        source: ``(3, S, H, W)`` source frames in ``[-1, 1]``, or None in pose mode.
        cameras: the given trajectory at ``image_size`` (video mode), else None.
        ray_pixels: ``(C, F, h, w)`` the given ray stream (video mode), else zeros.
        z_video, z_rays: clean inputs in the model's space, ``(C, F', h, w)`` and ``(C, F, h', w')``.
        video_clean, rays_clean: ``(F',)`` / ``(F,)`` bool, the frames given clean.
    """

    mode: str
    model: torch.nn.Module
    codec: RayCodec
    space: object
    frames: int
    image_size: tuple[int, int]
    raxel_size: tuple[int, int]
    ray_size: tuple[int, int]
    video_pixels: torch.Tensor
    source: torch.Tensor | None
    cameras: Cameras | None
    ray_pixels: torch.Tensor
    z_video: torch.Tensor
    z_rays: torch.Tensor
    video_clean: torch.Tensor
    rays_clean: torch.Tensor


def _mode_inputs(mode, video, rays, source_frames, num_frames, cameras):
    """``(video pixels, source pixels or None, F)`` for ``mode``; :class:`SamplerInputError` naming
    the missing or superfluous input."""
    if mode == "pose":
        if video is None:
            raise SamplerInputError("missing_video", "pose mode needs the video whose cameras to estimate (video=...)")
        if source_frames is not None or cameras is not None or rays is not None:
            raise SamplerInputError("extra_inputs",
                                    "pose mode takes only the video; drop source_frames / cameras / rays")
        video_x1 = _to_video_tensor(video, "video")
        n = video_x1.shape[1]
        if num_frames is not None and num_frames != n:
            raise SamplerInputError("frame_count", f"the video has {n} frames but num_frames is {num_frames}; trim "
                                    "the video or change num_frames", frames=n, num_frames=num_frames)
        return video_x1, None, n
    if source_frames is None:
        raise SamplerInputError("missing_source",
                                f"{mode} mode needs source_frames: the first image(s) of the video to generate")
    if video is not None:
        raise SamplerInputError("video_given", f"{mode} mode generates the video; pass the first frame(s) as "
                                "source_frames, not video")
    source = _to_video_tensor(source_frames, "source_frames")
    n = num_frames
    if mode == "video":
        if (cameras is None) == (rays is None):
            raise SamplerInputError("missing_trajectory", "video mode needs the camera trajectory: give exactly one "
                                    "of cameras=... or rays=...")
        n_traj = len(cameras) if cameras is not None else rays.shape[0]
        if n is not None and n != n_traj:
            raise SamplerInputError("trajectory_length", f"the trajectory has {n_traj} frames but num_frames is {n}; "
                                    "resample the trajectory (raxel_core.authoring.resample) or change num_frames",
                                    frames=n_traj, num_frames=n)
        n = n_traj
    elif cameras is not None or rays is not None:
        raise SamplerInputError("trajectory_given", "joint mode generates the cameras; drop cameras / rays (use video "
                                "mode to follow a trajectory)")
    if n is None:
        raise SamplerInputError("missing_num_frames", "joint mode needs num_frames")
    if not 1 <= source.shape[1] < n:
        raise SamplerInputError("source_count", f"{source.shape[1]} source frames for a {n}-frame video; give "
                                f"between 1 and {n - 1}", source_frames=source.shape[1], frames=n)
    video_x1 = torch.zeros(3, n, *source.shape[2:])
    video_x1[:, :source.shape[1]] = source
    return video_x1, source, n


def _given_rays(codec: RayCodec, rays, cameras, n, image_size, ray_size) -> tuple[torch.Tensor, Cameras | None]:
    """Video mode: the trajectory as the ray stream ``(C, F, h, w)``, and the cameras at ``image_size``."""
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
        return codec.encode(cameras, ray_size, reference=0).permute(1, 0, 2, 3), cameras
    if tuple(rays.shape) != (n, codec.channels, *ray_size):
        raise ValueError(f"rays must be (F, C, h, w) = ({n}, {codec.channels}, {ray_size[0]}, {ray_size[1]}) for "
                         f"{image_size[0]}x{image_size[1]} frames; got {tuple(rays.shape)}")
    return rays.detach().float().cpu().permute(1, 0, 2, 3), None


def prepare(model, mode: str, video=None, rays: torch.Tensor | None = None, source_frames=None,
            num_frames: int | None = None, cameras: Cameras | None = None, latent_space=None) -> PreparedSample:
    """Check the inputs of :func:`sample` (same arguments and errors) and encode the clean ones into
    the model's space. Makes no model call.

    Returns:
        :class:`PreparedSample`.
    Raises:
        SamplerInputError: an input missing or superfluous for the mode, frame counts that disagree,
            a frame size the model cannot take.
        ValueError: an unknown mode; a model that does not fit the latent space; frames the latent
            space cannot take; a trajectory of another aspect ratio; a ray stream of the wrong shape.
    """
    check_mode(mode)
    config = model.config
    codec = codec_for(config)
    space = PixelSpace() if latent_space is None else latent_space
    if not codec.vae_encodable and space.channels != 3:
        raise ValueError(f"a {ray_representation_for(config)} ablation model runs on pixels; run it without a VAE")
    if codec.vae_encodable:
        check_latent_space(config, space)
    if is_channel_concat(config) and not isinstance(model, ChannelConcatModel):
        model = ChannelConcatModel(model)

    video_x1, source, n = _mode_inputs(mode, video, rays, source_frames, num_frames, cameras)
    n_latent = latent_frames(n, space.temporal_factor)
    if n_latent % config.patch_size[0] or n % config.ray_patch_size[0]:
        raise ValueError(f"{n} frames are not a multiple of the model's temporal patch {config.patch_size[0]}")
    image_size = tuple(video_x1.shape[2:])
    raxel_size = check_resolution(config, image_size, space.spatial_factor)
    ray_size = codec.grid_size(image_size)                           # the ray stream's grid

    rays_x1 = torch.zeros(codec.channels, n, *ray_size)
    if mode == "video":
        rays_x1, cameras = _given_rays(codec, rays, cameras, n, image_size, ray_size)

    # into the model's space
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
              else torch.zeros(space.channels if codec.vae_encodable else codec.channels, n,
                               *(v // space.spatial_factor for v in ray_size)))
    video_clean, rays_clean = clean_masks(mode, n_latent, n, num_source)
    return PreparedSample(mode=mode, model=model, codec=codec, space=space, frames=n, image_size=image_size,
                          raxel_size=raxel_size, ray_size=ray_size, video_pixels=video_x1, source=source,
                          cameras=cameras if mode == "video" else None, ray_pixels=rays_x1, z_video=z_video,
                          z_rays=z_rays, video_clean=video_clean, rays_clean=rays_clean)


# ----------------------------------------------------------------------------------- integrate
@torch.no_grad()
def integrate(prepared: PreparedSample, steps_video: int = 30, steps_rays: int = 2, seed: int = 0,
              shift: float = 1.0, text: torch.Tensor | None = None,
              progress: Callable[[int, int], None] | None = None,
              should_stop: Callable[[], bool] | None = None,
              track_condition=None) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """The Euler loop on the merged grid (module docstring) from seeded noise.

    Args:
        prepared: from :func:`prepare`.
        steps_video, steps_rays, seed, shift, text, progress, should_stop, track_condition: as in
            :func:`sample`.
    Returns:
        ``(x_video (1, C, F', h, w), x_rays (1, C, F, h', w'), calls)`` on the model's device and
        dtype, ``calls = {"forward": n, "video": Nv, "rays": Nr}``.
    Raises:
        ValueError: a step count that is not a whole number >= 1.
        InterruptedError: ``should_stop()`` returned True.
    """
    model = prepared.model
    param = next(model.parameters())
    device, dtype = param.device, param.dtype
    video_clean, rays_clean = prepared.video_clean, prepared.rays_clean

    generator = torch.Generator().manual_seed(int(seed))
    video_noise = torch.randn(prepared.z_video.shape, generator=generator)
    ray_noise = torch.randn(prepared.z_rays.shape, generator=generator)
    vc, rc = video_clean[None, :, None, None], rays_clean[None, :, None, None]
    x_video = torch.where(vc, prepared.z_video, video_noise)[None].to(device, dtype)
    x_rays = torch.where(rc, prepared.z_rays, ray_noise)[None].to(device, dtype)
    vc, rc = vc[None].to(device), rc[None].to(device)

    grids = sigma_grids(prepared.mode, steps_video, steps_rays, shift)
    merged = sorted({key for grid in grids.values() for key, _ in grid}, reverse=True)
    position = {name: 0 for name in grids}       # index of each stream's current grid point
    total = len(merged) - 1
    calls = {"forward": 0, "video": 0, "rays": 0}

    extra = {} if track_condition is None else {"track_condition": track_condition}

    def timesteps(name: str, clean: torch.Tensor) -> torch.Tensor:
        sigma = grids[name][position[name]][1] if name in grids else 0.0
        frames = clean.shape[0]
        ts = torch.where(clean, torch.zeros(frames), torch.full((frames,), 1000.0 * sigma))
        return ts[None].to(device)

    for j, key in enumerate(merged[:-1]):
        if should_stop is not None and should_stop():
            raise InterruptedError(f"sampling stopped before model call {j + 1} of {total}")
        video_out, ray_out = model(x_video, x_rays, timesteps("video", video_clean), timesteps("rays", rays_clean),
                                   text, **extra)
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
    return x_video, x_rays, calls


# ----------------------------------------------------------------------------------- decode
_UNDECODABLE = ("the generated rays do not decode to cameras ({}); the model is untrained, was trained for another "
                "resolution, or needs more ray steps")


def decode(prepared: PreparedSample, x_video: torch.Tensor, x_rays: torch.Tensor, calls: dict) -> SampleResult:
    """Video frames and cameras from the integrated streams, by the model's ray codec.

    The given trajectory is returned as it is (video mode); a given ray stream is decoded; a
    generated one is first made consistent with its reference frame
    (:meth:`~raxel_core.rays.codecs.RayCodec.normalize_reference`). Latent streams are decoded by
    the latent space first; the source frames of the returned video are the given ones.

    Raises:
        ValueError: generated rays that do not decode to cameras (an untrained or wrong model).
    """
    p, codec, space = prepared, prepared.codec, prepared.space
    latents = None
    if isinstance(space, PixelSpace):
        pixels = x_video[0].float().cpu()
        ray_frames = x_rays[0].float().cpu().permute(1, 0, 2, 3)
    else:
        latents = {"video": x_video[0].float().cpu(), "rays": x_rays[0].float().cpu()}
        pixels = p.video_pixels.clone() if p.mode == "pose" else space.decode_video(latents["video"])
        if p.mode != "pose":
            pixels[:, :p.source.shape[1]] = p.source                   # the given frames, not their round trip
        ray_frames = (p.ray_pixels if p.mode == "video" else space.decode_images(latents["rays"])).permute(1, 0, 2, 3)
    out_video = pixels.permute(1, 2, 3, 0).clamp(-1, 1).add(1).div(2).contiguous()
    if p.cameras is not None:                                          # video mode, the given trajectory
        result_cameras = p.cameras
    elif p.mode == "video":                                            # video mode, a given ray stream
        result_cameras = codec.decode(ray_frames, p.image_size)
    else:                                                              # generated rays
        codec.check_stream(ray_frames)
        try:
            ray_frames_used, length = codec.normalize_reference(ray_frames)
            result_cameras = codec.decode(ray_frames_used, p.image_size)
        except ValueError as err:
            raise ValueError(_UNDECODABLE.format(err)) from None
        if length is not None:
            result_cameras.metadata["reference_ray_length"] = length
        maps = codec.raxel_maps(ray_frames_used, result_cameras, p.raxel_size)
    if p.mode == "video":
        maps = codec.raxel_maps(ray_frames, result_cameras, p.raxel_size)
    return SampleResult(video=out_video, rays=maps, cameras=result_cameras, model_calls=calls, ray_stream=ray_frames,
                        latents=latents)


# ----------------------------------------------------------------------------------- sample
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
    track_condition=None,
) -> SampleResult:
    """Run one of the paper's three tasks with a :class:`~raxel_core.model.JointTransformer`:
    :func:`prepare`, then :func:`integrate`, then :func:`decode`.

    Args:
        model: a ``JointTransformer`` (its device and dtype are used).
        mode: ``"pose"`` (video -> cameras), ``"video"`` (source frames + trajectory -> video) or
            ``"joint"`` (source frames -> video + cameras).
        video: ``pose`` mode: the ``(F, H, W, 3)`` frames (uint8, or float in [0, 1]).
        rays: ``video`` mode alternative to ``cameras``: the model's ray stream ``(F, C, h, w)``
            (raxel models: ``(F, 3, h, w)`` raxels in ``[-1, 1]`` with reference frame 0,
            :func:`raxel_core.rays.codecs.encode_rays`).
        source_frames: ``video`` / ``joint`` mode: ``(S, H, W, 3)`` source images, the first ``S``
            frames of the result (``S >= 1``, fewer than ``num_frames``).
        num_frames: frames to produce; default the video's / trajectory's length (required in
            ``joint`` mode). Must agree with the given video / trajectory.
        steps_video, steps_rays: Euler steps of each stream (>= 1; a stream that is given clean
            takes none).
        seed: seed of the initial noise (``torch.Generator`` on the CPU, so results repeat
            across devices up to the model's arithmetic).
        progress: ``progress(done, total)`` after each model call (``total`` = :func:`model_calls`).
        should_stop: polled before each model call; ``InterruptedError`` when it returns True.
        text: ``(1, L, text_dim)`` text-encoder states for models with text cross-attention.
        cameras: ``video`` mode: the trajectory (``F`` cameras); its intrinsics are rescaled to the
            frame size when the aspect ratio matches. Frame 0 is the source camera.
        shift: Wan timestep shift of both grids (1 = uniform in sigma).
        latent_space: where the streams live (:mod:`raxel_core.diffusion.latent_space`); default
            :class:`~raxel_core.diffusion.latent_space.PixelSpace`. Latent models need their VAE here;
            with temporal compression ``T`` the clip and the source frames have ``1 + kT`` frames.
        track_condition: ``video`` mode with a Track2View model
            (:class:`~raxel_core.model.track_conditioner.TrackCondition`, batch 1, ``T`` frames): the
            ``T`` source frames are ``source_frames``, ``cameras`` the ``2 T`` source then target cameras,
            and the generated frames ``T .. 2T-1`` the target view (:mod:`raxel_core.model.track2view`).

    Returns:
        :class:`SampleResult`.

    Raises:
        SamplerInputError: (a ``ValueError``) a missing or superfluous input for the mode; frame
            counts that disagree (a trajectory whose length differs from ``num_frames``); frames of
            a size the model cannot take (the message gives one that works).
        ValueError: unknown mode; a model that does not fit the latent space (channels, temporal
            compression; a Plücker model in a VAE space); a frame count the model cannot take;
            generated rays that do not decode to cameras (an untrained or wrong model).
        InterruptedError: ``should_stop()`` returned True.
    """
    prepared = prepare(model, mode, video=video, rays=rays, source_frames=source_frames, num_frames=num_frames,
                       cameras=cameras, latent_space=latent_space)
    if track_condition is not None and mode != "video":
        raise ValueError(f"a track condition is taken in video mode only (source frames + cameras), not {mode} mode")
    x_video, x_rays, calls = integrate(prepared, steps_video, steps_rays, seed, shift, text, progress, should_stop,
                                       track_condition)
    return decode(prepared, x_video, x_rays, calls)
