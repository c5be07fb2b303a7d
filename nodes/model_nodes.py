"""The joint video + ray model (Rays as Pixels, arXiv 2604.09429) in ComfyUI: a loader and a
sampler, thin adapters over :class:`raxel_core.model.JointTransformer` and
:func:`raxel_core.diffusion.sampler.sample` (progress bar, interrupt, the errors a user sees).

Model files live in the ``raxel`` model folder: ``ComfyUI/models/raxel/`` (and any path given for
``raxel`` in ``extra_model_paths.yaml``) plus this pack's own ``models/`` folder, which holds the
bundled ``raxel-tiny-v1``. Both are registered with ``folder_paths`` when this module is imported.
Only ``.safetensors`` weights are read, each with its config (``config.json`` beside it or the
``raxel_config`` entry of its metadata); pickles (``.ckpt``, ``.pt``, ``.pth``, ``.bin``) are refused.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import folder_paths
import torch
from comfy_api.latest import io

from .types import (
    CATEGORY_MODEL,
    CameraTrajectory,
    RaxelModel,
    RaxelTrackCondition,
    trajectory_ui,
    video_components,
    video_source,
)

#: Name of the model folder (``folder_paths`` key and ``ComfyUI/models/<name>``).
MODEL_FOLDER = "raxel"
#: The pack's bundled models folder.
BUNDLED_MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
#: The bundled model, as the loader lists it (relative to :data:`BUNDLED_MODELS_DIR`).
BUNDLED_MODEL = "raxel-tiny-v1/model.safetensors"
#: Suffixes of pickled checkpoints: never loaded (they can run code), refused with a message.
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin", ".pkl")
#: Task modes of the sampler and what each does (shown in its tooltip and docs).
MODE_LABELS = {
    "pose": "video -> camera",
    "video": "images + camera -> video",
    "joint": "image -> video + camera",
}
#: Bytes per frame pixel of decoding a core VIDEO for the sampler: ComfyUI's list of float32 RGB frames, their
#: stacked copy (``get_components``) and the node's clamped float32 copy.
DECODE_BYTES_PER_PIXEL = 3 * 12
#: Peak memory of :func:`raxel_core.diffusion.sampler.sample` per frame pixel (frames x height x width), a floor:
#: 260 bytes measured (peak RSS growth, 33 -> 129 frames of 64x96, video mode) with a one-layer test model;
#: larger models take more, so the guard refuses only what cannot fit.
SAMPLER_BYTES_PER_PIXEL = 256


def register_model_folders() -> None:
    """Register ``ComfyUI/models/raxel`` and the pack's ``models/`` as the ``raxel`` model folder
    (idempotent: ``folder_paths`` ignores a path it already holds)."""
    folder_paths.add_model_folder_path(MODEL_FOLDER, os.path.join(folder_paths.models_dir, MODEL_FOLDER))
    folder_paths.add_model_folder_path(MODEL_FOLDER, str(BUNDLED_MODELS_DIR))


register_model_folders()


def list_models() -> list[str]:
    """``.safetensors`` files of the ``raxel`` folder (relative, ``/`` separated), the bundled
    model first when present."""
    names = sorted({n.replace("\\", "/") for n in folder_paths.get_filename_list(MODEL_FOLDER)
                    if n.lower().endswith(".safetensors")})
    if BUNDLED_MODEL in names:
        names.remove(BUNDLED_MODEL)
        names.insert(0, BUNDLED_MODEL)
    return names


def _folders_text() -> str:
    return " or ".join(folder_paths.get_folder_paths(MODEL_FOLDER))


def check_model_name(name: str) -> str | None:
    """Why ``name`` cannot be loaded (pickle, not safetensors, not in the folder), or None."""
    text = str(name)
    if text.lower().endswith(PICKLE_SUFFIXES):
        return (f"refusing {text!r}: only .safetensors model files are loaded ({Path(text).suffix} files are "
                "pickles that can run code when opened); convert it to .safetensors with its config.json")
    if not text.lower().endswith(".safetensors"):
        return f"{text!r} is not a .safetensors file; pick a model's model.safetensors"
    if text not in list_models():
        return (f"no model {text!r} in the raxel model folder ({_folders_text()}); put the model's folder "
                "(config.json + model.safetensors) there and refresh")
    return None


@dataclass(frozen=True)
class LoadedRaxelModel:
    """Payload of the ``RAXEL_MODEL`` socket.

    Attributes:
        model: the :class:`raxel_core.model.JointTransformer`, eval mode, on ComfyUI's device.
        config: its :class:`raxel_core.model.JointModelConfig`.
        name: the file name as listed by the loader.
        path: the resolved weights file.
        image_size: ``(H, W)`` frame size the model was trained at, or None when its folder does
            not record it (then any size the patch grid takes is accepted).
        num_frames: clip length the model was trained on, or None when not recorded.
    """

    model: torch.nn.Module
    config: object
    name: str
    path: Path
    image_size: tuple[int, int] | None = None
    num_frames: int | None = None

    @property
    def raxel_size(self) -> tuple[int, int] | None:
        """``(h, w)`` of the raxel images at the training size, or None."""
        if self.image_size is None:
            return None
        d = self.config.raxel_downscale
        return self.image_size[0] // d, self.image_size[1] // d

    def describe(self) -> str:
        c = self.config
        size = (f"{self.image_size[1]}x{self.image_size[0]} frames (width x height)" if self.image_size
                else "frames of any size the patch grid takes")
        return (f"{self.name}: {'pixel' if c.in_channels == 3 else f'{c.in_channels}-channel latent'} model, "
                f"{sum(p.numel() for p in self.model.parameters()) / 1e6:.1f} M parameters, {size}"
                + (f", {self.num_frames}-frame clips" if self.num_frames else "")
                + (", text conditioned" if c.text_cross_attention else ""))


def load_model(name: str) -> LoadedRaxelModel:
    """Load ``name`` from the ``raxel`` folder onto ComfyUI's torch device.

    Raises:
        ValueError: the artist-facing reason: pickle / not safetensors / missing file, a file that
            is not readable safetensors (corrupt or truncated), no config, or weights that do not
            match the config.
    """
    import comfy.model_management

    from ..raxel_core.model import JointTransformer

    problem = check_model_name(name)
    if problem:
        raise ValueError(problem)
    path = Path(folder_paths.get_full_path_or_raise(MODEL_FOLDER, name)).resolve()
    try:
        model = JointTransformer.from_pretrained(path, device="cpu", dtype=torch.float32)
    except ValueError as err:
        raise ValueError(f"cannot load raxel model {name!r}: {err}") from None
    except Exception as err:  # noqa: BLE001 (safetensors' own error types: header too large, truncated, ...)
        raise ValueError(
            f"cannot load raxel model {name!r}: it is not a readable .safetensors file ({type(err).__name__}: "
            f"{err}); the file is corrupt or incomplete: download or export it again"
        ) from None
    from ..raxel_core.diffusion.checkpoints import training_resolution

    image_size, num_frames = training_resolution(path)
    model = model.to(comfy.model_management.get_torch_device()).eval()
    return LoadedRaxelModel(model=model, config=model.config, name=name, path=path, image_size=image_size,
                            num_frames=num_frames)


class RaxelModelLoader(io.ComfyNode):
    """Load a joint video + ray model (config + safetensors) from the raxel model folder."""

    @classmethod
    def define_schema(cls):
        models = list_models()
        return io.Schema(
            node_id="RaxelModelLoader",
            display_name="Load Video And Camera Model",
            category=CATEGORY_MODEL,
            description=(
                "Loads a joint video + ray diffusion model (Rays as Pixels) from ComfyUI/models/raxel or "
                "the pack's bundled models folder. Only .safetensors files with their config (config.json "
                "beside them, or in the file's metadata) are loaded; pickled .ckpt / .pt files are refused."
            ),
            inputs=[
                io.Combo.Input("model_name", options=models,
                               default=BUNDLED_MODEL if BUNDLED_MODEL in models else None,
                               tooltip="A model's model.safetensors in ComfyUI/models/raxel/ or the pack's "
                                       "models/ folder (the bundled raxel-tiny-v1 is the default)."),
            ],
            outputs=[
                RaxelModel.Output(display_name="model",
                                  tooltip="The loaded model with its config and the frame size it takes."),
            ],
        )

    @classmethod
    def validate_inputs(cls, model_name) -> bool | str:
        return check_model_name(model_name) or True

    @classmethod
    def fingerprint_inputs(cls, model_name):
        path = folder_paths.get_full_path(MODEL_FOLDER, model_name)
        if path is None:
            return model_name
        stat = os.stat(path)
        return f"{model_name}:{stat.st_mtime_ns}:{stat.st_size}"

    @classmethod
    def execute(cls, model_name) -> io.NodeOutput:
        loaded = load_model(model_name)
        return io.NodeOutput(loaded, ui={"text": (loaded.describe(),)})


# ----------------------------------------------------------------------------------------- sampler
def video_header(value) -> tuple[int | None, int, int] | None:
    """``(stated frames or None, H, W)`` of a core VIDEO backed by a file (its header, nothing decoded);
    None for anything else (an IMAGE batch, a VIDEO built from frames already in memory)."""
    from ..raxel_core.video_io import probe_video

    source = video_source(value)
    if source is None:
        return None
    try:
        info = probe_video(source)
    except ValueError:
        return None               # not a readable video: get_components says so in the node's words
    return (info["num_frames"], *info["image_size"])


def check_sampler_memory(frames: int, size: tuple[int, int], fix: str) -> None:
    """``ValueError`` naming the estimate and the limit when sampling ``frames`` frames of ``size`` (H, W)
    would take more than the memory limit (:data:`SAMPLER_BYTES_PER_PIXEL`,
    :func:`raxel_core.resources.check_memory`)."""
    from ..raxel_core.resources import check_memory

    h, w = size
    check_memory(SAMPLER_BYTES_PER_PIXEL * frames * h * w, f"sampling {frames} frames of {w}x{h}", fix)


def _frames_of(value, what: str) -> torch.Tensor:
    """An IMAGE batch or a core VIDEO -> IMAGE ``[F, H, W, 3]`` float32 on the CPU; a VIDEO whose decoded
    frames would exceed the memory limit is refused before decoding (the count its file states)."""
    if hasattr(value, "get_components"):
        header = video_header(value)
        if header is not None and header[0] is not None:
            from ..raxel_core.resources import check_memory

            n, h, w = header
            check_memory(DECODE_BYTES_PER_PIXEL * n * h * w, f"decoding {n} frames of {w}x{h} from {what}",
                         "give a shorter or smaller video (trim or scale the file)")
        value = video_components(value, what).images
    if not isinstance(value, torch.Tensor) or value.ndim != 4 or value.shape[-1] not in (3, 4):
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise ValueError(f"{what} must be an IMAGE batch [frames, height, width, 3]; got {shape}")
    if value.shape[0] == 0:
        raise ValueError(f"{what} has no frames; check that the video file holds frames")
    return value[..., :3].detach().to("cpu", torch.float32).clamp(0, 1)


def check_frame_size(payload: LoadedRaxelModel, frames: torch.Tensor, what: str) -> None:
    """``ValueError`` naming the training size when the model records one and ``frames`` [F, H, W, 3]
    differ (no silent resize). Sizes the patch grid cannot take are the sampler's to refuse
    (:func:`sampler_error_message` words its error)."""
    h, w = int(frames.shape[1]), int(frames.shape[2])
    if payload.image_size is not None:
        th, tw = payload.image_size
        if (h, w) != (th, tw):
            raise ValueError(
                f"the model takes {tw}x{th} frames (width x height) but {what} is {w}x{h}; resize with core "
                f"Upscale Image (ImageScale) to width {tw}, height {th} (crop: center keeps the aspect ratio)"
            )


def sampler_error_message(err, mode: str, what: str, config) -> str:
    """The sampler's input error (:class:`raxel_core.diffusion.sampler.SamplerInputError`) in the
    words of this node's sockets; ``what`` names the input the frames came from. Problems the node
    cannot cause keep the core's message."""
    d = err.details
    if err.problem == "missing_video":
        return "pose mode (video -> camera) needs the video: connect it to 'video'"
    if err.problem == "extra_inputs":
        return ("pose mode (video -> camera) takes only the video; disconnect 'images' and 'trajectory' (use video "
                "mode to follow a trajectory)")
    if err.problem == "missing_source":
        return (f"{mode} mode ({MODE_LABELS[mode]}) needs a source image: connect 'images' (or 'video', whose first "
                "frame is used)")
    if err.problem == "missing_trajectory":
        return ("video mode (images + camera -> video) needs the camera path: connect 'trajectory' (e.g. Raxel Camera "
                "Trajectory)")
    if err.problem == "trajectory_given":
        return ("joint mode (image -> video + camera) generates the cameras; disconnect 'trajectory' (use video mode "
                "to follow one)")
    if err.problem == "source_count":
        n = d["frames"]
        return (f"{d['source_frames']} source image(s) for a {n}-frame video; give fewer source images than frames "
                f"(1 to {n - 1})")
    if err.problem == "frame_size":
        (h, w), (mult_h, mult_w), (fix_h, fix_w) = d["image_size"], d["multiples"], d["nearest"]
        return (f"{what} is {w}x{h} (width x height) but this model takes widths that are multiples of {mult_w} and "
                f"heights that are multiples of {mult_h} (its patch grid, raxels at 1/{config.raxel_downscale} size); "
                f"resize with core Upscale Image (ImageScale) to e.g. width {fix_w}, height {fix_h}")
    return str(err)


def run_sampler(run, mode: str, what: str, config):
    """``run()`` (a sampling call polling ComfyUI's interrupt flag) and its result, with the errors a
    user sees: a stop requested by the user wins over whatever the interrupted run raised (ComfyUI's
    ``InterruptProcessingException``, also when the run finished), and a
    :class:`raxel_core.diffusion.sampler.SamplerInputError` becomes a ``ValueError`` in the node's
    words (:func:`sampler_error_message`; ``mode``, ``what`` and ``config`` as there)."""
    import comfy.model_management

    from ..raxel_core.diffusion.sampler import SamplerInputError

    try:
        result = run()
    except Exception as err:
        comfy.model_management.throw_exception_if_processing_interrupted()
        if isinstance(err, SamplerInputError):
            raise ValueError(sampler_error_message(err, mode, what, config)) from None
        raise
    comfy.model_management.throw_exception_if_processing_interrupted()
    return result


def _text_states(payload: LoadedRaxelModel, conditioning) -> torch.Tensor | None:
    config = payload.config
    if conditioning is None:
        if config.text_cross_attention:
            raise ValueError(f"{payload.name} is text conditioned: connect a CONDITIONING (the umT5 encoding of "
                             "the prompt, or of an empty prompt) to 'conditioning'")
        return None
    if not config.text_cross_attention:
        raise ValueError(f"{payload.name} has no text cross-attention (it was trained without prompts): "
                         "disconnect 'conditioning'")
    if not isinstance(conditioning, list) or not conditioning or not isinstance(conditioning[0][0], torch.Tensor):
        raise ValueError("conditioning must be core CONDITIONING (from a text encode node)")
    if len(conditioning) != 1:
        raise ValueError(f"conditioning holds {len(conditioning)} entries; give one prompt (not a combined "
                         "or area conditioning)")
    states = conditioning[0][0]
    if states.ndim != 3 or states.shape[-1] != config.text_dim:
        raise ValueError(f"the conditioning has width {states.shape[-1]} but {payload.name} takes text states of "
                         f"width {config.text_dim} (umT5-XXL for Wan 2.1): use the text encoder it was trained with")
    param = next(payload.model.parameters())
    return states[:1].to(param.device, param.dtype)


class ComfyVAELatentSpace:
    """A ComfyUI ``VAE`` (core Load VAE) as the sampler's latent space
    (:mod:`raxel_core.diffusion.latent_space`: ``encode_video`` / ``decode_video`` /
    ``encode_images`` / ``decode_images`` on ``[-1, 1]`` tensors).

    Only the Wan 2.1 VAE (16 channels, 8x spatial, 4x temporal compression) is taken; its latents
    are normalised with ComfyUI's ``Wan21`` latent format (the same mean / std diffusers' Wan
    pipeline uses, so a model sees one latent space through either library). Video frames are
    encoded as one clip, raxel images one by one (one latent per camera, Rays as Pixels Sec. 3.2).

    Raises:
        ValueError: any other VAE (the message names what it is and what to connect).
    """

    name = "wan2.1-vae (ComfyUI)"

    def __init__(self, vae):
        import comfy.latent_formats

        channels = getattr(vae, "latent_channels", None)
        dims = getattr(vae, "latent_dim", None)
        try:
            spatial = int(vae.spacial_compression_encode())
            temporal = vae.temporal_compression_decode()
        except (AttributeError, TypeError) as err:
            raise ValueError(f"'vae' is not a ComfyUI VAE ({err}); connect core Load VAE") from None
        if (channels, dims, spatial, temporal) != (16, 3, 8, 4):
            raise ValueError(f"the raxel sampler takes the Wan 2.1 VAE (16 latent channels, 8x spatial and 4x temporal "
                             f"compression); this VAE has {channels} channels, {spatial}x spatial, "
                             f"{temporal or 1}x temporal compression. Load wan_2.1_vae.safetensors with Load VAE")
        self.vae = vae
        self.format = comfy.latent_formats.Wan21()
        self.channels, self.spatial_factor, self.temporal_factor = 16, 8, 4

    def encode_video(self, video: torch.Tensor) -> torch.Tensor:
        """``(3, F, H, W)`` -> ``(16, 1 + (F - 1) / 4, H / 8, W / 8)``; the sampler checks ``F = 1 + 4k``."""
        frames = video.permute(1, 2, 3, 0).add(1).div(2).clamp(0, 1)             # (F, H, W, 3) in [0, 1]
        return self.format.process_in(self.vae.encode(frames).float().cpu())[0]

    def decode_video(self, latents: torch.Tensor) -> torch.Tensor:
        pixels = self.vae.decode(self.format.process_out(latents[None].float()))    # (1, F, H, W, 3) in [0, 1]
        return pixels[0].float().cpu().permute(3, 0, 1, 2).mul(2).sub(1)

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        frames = images.permute(1, 2, 3, 0).add(1).div(2).clamp(0, 1)
        z = [self.vae.encode(frames[i:i + 1]).float().cpu() for i in range(frames.shape[0])]   # one clip per image
        return self.format.process_in(torch.cat(z, 2))[0]

    def decode_images(self, latents: torch.Tensor) -> torch.Tensor:
        z = self.format.process_out(latents[None].float())
        pixels = [self.vae.decode(z[:, :, i:i + 1])[0, 0] for i in range(z.shape[2])]       # (H, W, 3) each
        return torch.stack(pixels).float().cpu().permute(3, 0, 1, 2).mul(2).sub(1)


def _latent_space(payload: LoadedRaxelModel, vae):
    """The latent space for ``payload`` (None = pixels), or a ValueError saying what to connect."""
    from ..raxel_core.diffusion.latent_space import check_latent_space
    from ..raxel_core.model import uses_pixels

    config = payload.config
    pixel_model = uses_pixels(config)
    if vae is None:
        if not pixel_model:
            raise ValueError(f"{payload.name} works on {config.in_channels}-channel VAE latents: connect the VAE it "
                             "was trained with (the Wan 2.1 VAE, core Load VAE) to 'vae'")
        return None
    channels = getattr(vae, "latent_channels", None)
    if channels is not None and channels != config.in_channels and not pixel_model:
        raise ValueError(f"the VAE gives {channels} latent channels but the model expects {config.in_channels}; "
                         "connect the VAE the model was trained with")
    if pixel_model:
        raise ValueError(f"{payload.name} works on pixels directly (3 channels, no VAE): disconnect 'vae'")
    space = ComfyVAELatentSpace(vae)
    check_latent_space(config, space)
    return space


class RaxelJointSampler(io.ComfyNode):
    """Run one of the joint model's three tasks: pose estimation, camera-controlled video, or both."""

    @classmethod
    def define_schema(cls):
        modes = "; ".join(f"{k}: {v}" for k, v in MODE_LABELS.items())
        return io.Schema(
            node_id="RaxelJointSampler",
            display_name="Generate Video And Camera Path",
            category=CATEGORY_MODEL,
            description=(
                "Samples the joint video + ray model (Rays as Pixels): pose (video -> camera), video "
                "(images + camera -> video) or joint (image -> video + camera). Frames must already have the "
                "size the model takes (use core Upscale Image); nothing is resized silently."
            ),
            inputs=[
                RaxelModel.Input("model", tooltip="From Load Video And Camera Model."),
                io.Combo.Input("mode", options=list(MODE_LABELS), default="pose",
                               tooltip=f"The task. {modes}."),
                io.Image.Input("images", optional=True,
                               tooltip="video / joint: the source image(s), the first frame(s) of the video to "
                                       "generate (default: the first frame of 'video')."),
                io.MultiType.Input("video", types=[io.Image, io.Video], optional=True,
                                   tooltip="pose: the video whose cameras to estimate (IMAGE frames or a VIDEO). "
                                           "video / joint: its first frame is the source image when 'images' "
                                           "is not connected."),
                CameraTrajectory.Input("trajectory", optional=True,
                                       tooltip="video mode: the camera path to follow, one camera per frame "
                                               "(frame 0 = the source image's camera)."),
                io.Int.Input("frames", default=9, min=2, max=1024,
                             tooltip="joint mode: frames to generate, source image(s) included (other modes "
                                     "take the length of the video / trajectory)."),
                io.Int.Input("steps_video", default=30, min=1, max=1000,
                             tooltip="Euler steps of the video stream (video / joint modes)."),
                io.Int.Input("steps_rays", default=2, min=1, max=1000,
                             tooltip="Euler steps of the ray stream (pose / joint modes); 2 suffice for pose."),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                             tooltip="Seed of the initial noise."),
                io.Vae.Input("vae", optional=True,
                             tooltip="Only for latent-space models: the Wan 2.1 VAE (core Load VAE); frames "
                                     "then come in 1 + 4k (5, 9, ..., 81). Leave unconnected for pixel-space "
                                     "models such as raxel-tiny-v1."),
                io.Conditioning.Input("conditioning", optional=True,
                                      tooltip="Only for text-conditioned models: the encoded prompt."),
                RaxelTrackCondition.Input("track_condition", optional=True,
                                          tooltip="video mode with a Track2View model: the 'condition' of Warp A "
                                                  "Video To A New Camera (source frames, both trajectories, paired "
                                                  "tracks). The source video is re-rendered from the target "
                                                  "cameras; 'images', 'video' and 'trajectory' stay unconnected."),
            ],
            outputs=[
                io.Image.Output(display_name="video",
                                tooltip="The frames: generated (video / joint; with a track condition the "
                                        "target view only) or the input video (pose)."),
                io.Image.Output(display_name="raxels",
                                tooltip="One ray image per frame (half the frame size)."),
                CameraTrajectory.Output(display_name="trajectory",
                                        tooltip="The cameras: estimated (pose / joint; relative to frame 0, "
                                                "unit scale) or the given trajectory (video)."),
            ],
        )

    @classmethod
    def execute(cls, model, mode, frames, steps_video, steps_rays, seed, images=None, video=None,
                trajectory=None, vae=None, conditioning=None, track_condition=None) -> io.NodeOutput:
        import comfy.model_management
        import comfy.utils

        from ..raxel_core.diffusion.sampler import model_calls, sample

        if not isinstance(model, LoadedRaxelModel):
            raise ValueError("'model' must come from Load Video And Camera Model (RaxelModelLoader)")  # noqa: TRY004 (shown to the user)
        if track_condition is not None:
            return rerender_with_tracks(model, mode, steps_video, seed, track_condition,
                                        connected=[n for n, v in (("images", images), ("video", video),
                                                                  ("trajectory", trajectory), ("vae", vae),
                                                                  ("conditioning", conditioning)) if v is not None])
        space = _latent_space(model, vae)
        text = _text_states(model, conditioning)

        # the inputs as the sampler takes them; the sampler says what a mode misses or cannot take
        fix = ("give fewer frames ('frames' in joint mode, a shorter video or trajectory) at the size the model "
               "was trained on")
        header = video_header(video) if mode == "pose" else None
        if header is not None and header[0] is not None:     # every frame is sampled: refuse before decoding
            check_sampler_memory(header[0], header[1:], fix)
        clip = _frames_of(video, "the video") if video is not None else None
        if mode == "pose":
            kwargs = {"video": clip, "source_frames": images, "cameras": trajectory}
            what = "the video"
            if clip is not None:
                check_frame_size(model, clip, what)
        else:
            if images is not None:
                source, what = _frames_of(images, "the images input"), "the images input"
            else:
                source, what = (clip[:1] if clip is not None else None), "the video"
            if source is not None:
                check_frame_size(model, source, what)
            if clip is not None and images is not None and tuple(clip.shape[1:3]) != tuple(source.shape[1:3]):
                raise ValueError(f"the images are {source.shape[2]}x{source.shape[1]} but the video "
                                 f"{clip.shape[2]}x{clip.shape[1]}; give both the same size")
            # the video's own length is the node's to check: the sampler sees only its first frame
            if mode == "video" and trajectory is not None and clip is not None and clip.shape[0] != len(trajectory):
                raise ValueError(f"the trajectory has {len(trajectory)} frames but the video has {clip.shape[0]}; "
                                 "resample the trajectory (Raxel Camera Trajectory frames) or trim the video "
                                 "(core Image From Batch)")
            kwargs = {"source_frames": source, "cameras": trajectory,
                      "num_frames": int(frames) if mode == "joint" else None}

        frames_in = kwargs.get("video") if mode == "pose" else kwargs["source_frames"]
        count = {"pose": len(clip) if clip is not None else 0, "joint": int(frames),
                 "video": len(trajectory) if trajectory is not None else 0}[mode]
        if frames_in is not None:
            check_sampler_memory(count, tuple(frames_in.shape[1:3]), fix)
        bar = comfy.utils.ProgressBar(max(model_calls(mode, steps_video, steps_rays), 1))
        result = run_sampler(lambda: sample(
            model.model, mode, steps_video=int(steps_video), steps_rays=int(steps_rays), seed=int(seed), text=text,
            latent_space=space, progress=lambda done, total: bar.update_absolute(done, total),
            should_stop=comfy.model_management.processing_interrupted, **kwargs), mode, what, model.config)
        raxels = torch.as_tensor(result.rays.to_image(), dtype=torch.float32)
        calls = result.model_calls
        report = (f"{mode} ({MODE_LABELS[mode]}): {len(result.cameras)} frames, {calls.get('forward', 0)} model calls "
                  f"({calls.get('video', 0)} video, {calls.get('rays', 0)} ray steps)")
        return io.NodeOutput(result.video.to(torch.float32), raxels, result.cameras,
                             ui=trajectory_ui(result.cameras, text=(report,)))


def rerender_with_tracks(model: LoadedRaxelModel, mode: str, steps_video: int, seed: int, condition,
                         connected: list[str]) -> io.NodeOutput:
    """RaxelJointSampler with a ``RAXEL_TRACK_CONDITION``: the target view of a Track2View model
    (:func:`raxel_core.diffusion.track2view.render_target_view`); ValueError naming the fix otherwise."""
    import comfy.model_management
    import comfy.utils

    from ..raxel_core.diffusion.sampler import model_calls
    from ..raxel_core.diffusion.track2view import render_target_view, track2view_inputs

    if mode != "video":
        raise ValueError(f"a track condition re-renders its source video (video mode); set mode to video, not {mode}")
    if connected:
        raise ValueError(f"with a track condition the source frames and both trajectories come from it; disconnect "
                         f"{', '.join(repr(n) for n in connected)}")
    if getattr(model.model, "track_conditioner", None) is None:
        raise ValueError(f"{model.name} has no track conditioner (it was not trained with tracks); load a Track2View "
                         "model such as raxel-t2v-toy-tracks/model.safetensors, or disconnect 'track_condition'")
    source_frames, source, target, cond = track2view_inputs(condition)
    what = "the condition's source frames"
    check_frame_size(model, source_frames, what)
    # the source and the target view are sampled together: twice the source's frames
    check_sampler_memory(2 * len(source), tuple(source_frames.shape[1:3]), "give a shorter source video")
    bar = comfy.utils.ProgressBar(max(model_calls("video", steps_video, 1), 1))
    frames, result = run_sampler(lambda: render_target_view(
        model.model, source_frames, source, target, cond, steps=int(steps_video), seed=int(seed),
        progress=lambda done, total: bar.update_absolute(done, total),
        should_stop=comfy.model_management.processing_interrupted), mode, what, model.config)
    t = len(source)
    raxels = torch.as_tensor(result.rays.to_image(), dtype=torch.float32)[t:]
    cams = result.cameras[torch.arange(t, 2 * t)]
    report = (f"track2view: {t} target frames from {cond.num_tracks} paired tracks, "
              f"{result.model_calls['forward']} model calls")
    return io.NodeOutput(frames.to(torch.float32), raxels, cams, ui=trajectory_ui(cams, text=(report,)))


#: The node classes of this file, in menu order.
NODES = [RaxelModelLoader, RaxelJointSampler]
