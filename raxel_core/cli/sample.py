"""``raxel sample``: run the joint model: pose (video -> camera), video (image + camera -> video) or
joint (image -> video + camera); the bundled model unless ``--model`` names another."""
from __future__ import annotations

import sys
from pathlib import Path

from .terminal import progress_printer

#: The bundled joint model (config.json + model.safetensors), the default of ``raxel sample``.
BUNDLED_MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "raxel-tiny-v1"


def register(sub) -> None:
    m = sub.add_parser("sample", help="run the joint model: pose (video -> camera), video (image + camera -> "
                       "video) or joint (image -> video + camera)")
    m.add_argument("mode", choices=("pose", "video", "joint"))
    m.add_argument("--model", default=None,
                   help=f"model folder (config.json + model.safetensors) or its .safetensors (default: the bundled "
                        f"{BUNDLED_MODEL_DIR.name})")
    m.add_argument("--video", default=None, help="pose: video file or frame folder")
    m.add_argument("--image", default=None, help="video / joint: the source image (first frame)")
    m.add_argument("--trajectory", default=None, help="video: trajectory file (any format raxel convert reads)")
    m.add_argument("--frames", type=int, default=None,
                   help="frames (joint: to generate, default 9; pose: read from the video, default 9)")
    m.add_argument("--out", required=True, help="output folder: video.mp4, trajectory.txt, raxels.png")
    m.add_argument("--steps-video", type=int, default=30, help="Euler steps of the video stream (default: %(default)s)")
    m.add_argument("--steps-rays", type=int, default=2, help="Euler steps of the ray stream (default: %(default)s)")
    m.add_argument("--seed", type=int, default=0, help="noise seed (default: %(default)s)")
    m.add_argument("--device", default="cpu", help="torch device (default: %(default)s)")
    m.add_argument("--vae", default=None, help="latent models only: a local diffusers folder of the Wan 2.1 VAE "
                   "(AutoencoderKLWan: config.json + diffusion_pytorch_model.safetensors)")
    m.set_defaults(func=run)


def check_model_path(path: str | Path) -> Path:
    """The weights of a joint model at ``path`` (a ``save_pretrained`` folder or a ``.safetensors``
    file), after checking that they exist, are safetensors and have a readable header.

    Raises:
        ValueError: missing path, a pickle / non-safetensors file, or a file whose safetensors
            header cannot be read (corrupt or truncated); the message names the file and the fix.
    """
    path = Path(path)
    weights = path / "model.safetensors" if path.is_dir() else path
    if not path.exists():
        raise ValueError(f"no model at {path}; give --model a folder holding config.json + model.safetensors "
                         "(or its model.safetensors)")
    if weights.suffix != ".safetensors":
        raise ValueError(f"refusing {weights.name}: only .safetensors models are loaded (.pt / .ckpt / .bin are "
                         "pickles that can run code); convert it to safetensors")
    if not weights.is_file():
        raise ValueError(f"{path} holds no model.safetensors; give the folder written by training "
                         "(step_XXXXXXX/model) or the file itself")
    from safetensors import safe_open

    try:
        with safe_open(str(weights), framework="pt") as handle:
            handle.metadata()
    except Exception as err:  # noqa: BLE001 (safetensors' own error types: a header that does not parse)
        raise ValueError(f"{weights} is not a readable .safetensors file ({err}); it is corrupt or incomplete: "
                         "copy or export it again") from None
    return weights


def check_device(name: str) -> str:
    """``name`` when torch can run on that device here, else a ``ValueError`` naming what is available
    (a CPU-only torch asked for ``cuda`` fails here, not deep inside the model)."""
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ValueError(f"--device {name!r} is not a torch device; use cpu, cuda, cuda:0 or mps") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"--device {name}: this torch has no CUDA GPU (torch {torch.__version__}); use --device "
                             "cpu or install a CUDA build of torch")
        if device.index is not None and device.index >= count:
            raise ValueError(f"--device {name}: there are {count} CUDA device(s), cuda:0 to cuda:{count - 1}")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {name}: MPS is not available here; use --device cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"--device {name}: only cpu, cuda and mps are supported")
    return name


#: ``--frames`` may be at most this many times the clip length the model was trained on: sampling
#: time grows with the square of the frame count and the model has not seen longer clips.
MAX_FRAMES_FACTOR = 4


def check_frames(frames: int | None, mode: str, trained_frames: int | None) -> None:
    """Refuse a ``--frames`` the sampler cannot use (below 2 where frame 0 is the source image) or
    over :data:`MAX_FRAMES_FACTOR` times the model's training clip length, before any work."""
    if frames is None:
        return
    least = 1 if mode == "pose" else 2
    if frames < least:
        why = "at least 1" if mode == "pose" else "at least 2 (frame 0 is the source image)"
        raise ValueError(f"--frames must be {why}; got {frames}")
    if trained_frames and frames > MAX_FRAMES_FACTOR * trained_frames:
        raise ValueError(f"--frames {frames} is over {MAX_FRAMES_FACTOR}x the {trained_frames} frames the model was "
                         f"trained on (sampling time grows with the square of the frames); give at most "
                         f"{MAX_FRAMES_FACTOR * trained_frames}")


def run(args) -> int:
    from ..diffusion.checkpoints import training_resolution
    from ..diffusion.sample_files import sample_to_files
    from ..formats.text_files import check_output_folder

    model = Path(args.model) if args.model else BUNDLED_MODEL_DIR
    if args.model is None and not BUNDLED_MODEL_DIR.is_dir():
        raise ValueError(f"the bundled model is not installed at {BUNDLED_MODEL_DIR}; give --model")
    weights = check_model_path(model)
    for name in ("video", "image", "trajectory", "vae"):
        value = getattr(args, name)
        if value is not None and not Path(value).exists():
            raise ValueError(f"--{name} {value} does not exist")
    check_device(args.device)
    check_frames(args.frames, args.mode, training_resolution(weights)[1])
    if args.steps_video < 1 or args.steps_rays < 1:
        raise ValueError(f"--steps-video and --steps-rays must be at least 1; got {args.steps_video}, "
                         f"{args.steps_rays}")
    check_output_folder(args.out)
    progress = progress_printer(f"sampling ({args.mode})")

    def log(line: str) -> None:
        if line.startswith("step "):
            done, total = (int(v) for v in line[5:].split("/"))
            progress(done, total)
        elif line.startswith("warning: "):
            print(line, file=sys.stderr)
        else:
            print(line)

    frames = args.frames if args.frames is not None or args.mode != "joint" else 9
    sample_to_files(model, args.mode, args.out, video=args.video, image=args.image, trajectory=args.trajectory,
                    num_frames=frames, steps_video=args.steps_video, steps_rays=args.steps_rays, seed=args.seed,
                    device=args.device, log=log, vae=args.vae)
    return 0
