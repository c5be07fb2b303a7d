"""Speed and memory of the joint video + ray model: sampler steps per second and peak memory per mode,
and the joint model against its ray-branch-off (video-only) self in the same run.

CPU (default): the bundled ``models/raxel-tiny-v1`` (9 frames of 32x48, 16x24 raxels).

* per mode (``pose``: 2 ray steps; ``video``: ``--steps-video`` video steps; ``joint``: both), the
  sampler's model calls per second (:func:`raxel_core.diffusion.sampler.sample`, one model call
  per Euler step of the merged grid) and the peak resident memory of one sample above the
  process with the model loaded, measured in a fresh process (Linux: ``/proc/self/clear_refs``
  resets ``VmHWM``, then ``VmHWM - VmRSS before``);
* one forward pass of the joint model (both streams, DSCA cross-attention) against the same
  network with the ray stream absent (``rays=None``: the cross-attention is skipped, the video
  branch alone, which is Wan's computation): seconds per call and their ratio.

GPU (``--gpu``): the same comparison at Wan 2.1 1.3B shapes (:meth:`JointModelConfig.wan21_1_3b`,
random weights: speed does not depend on them) on Wan VAE latents of a 480x832, 49-frame clip:
video latents ``(1, 16, 13, 60, 104)``, one raxel latent per camera ``(1, 16, 49, 30, 52)``, 512
text tokens, bf16, timing with CUDA events and ``torch.cuda.max_memory_allocated``. Needs a CUDA
machine (none on the 2-core CI / dev box: the flag then exits with a one-line message). It prints the
computed figures of ``--shapes`` first.

Shapes (``--shapes``, any machine): the joint vs video-only cost at the same Wan 2.1 1.3B shapes,
computed, not timed: parameters (exact, model built on the meta device), matrix-multiply FLOPs of one
forward pass (:func:`raxel_core.diffusion.full_size.forward_flops`) and training memory per GPU of
``configs/train_wan1.3b.json`` (:func:`raxel_core.diffusion.full_size.estimate_memory`, 1 GPU and 8 GPUs
with FSDP), each with its ratio (the issue's goal: <= 1.5x time and memory).

    python benchmarks/bench_joint.py                       # CPU, bundled model
    python benchmarks/bench_joint.py --threads 2 --repeats 5
    python benchmarks/bench_joint.py --shapes              # computed 1.3B figures, any machine
    python benchmarks/bench_joint.py --gpu                 # CUDA only
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np
import torch


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_rss_delta_mib(fn):
    """Run ``fn()``; return ``(result, seconds, peak RSS above the RSS before, MiB or None)``."""
    before = _status_kib("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")       # reset the peak (VmHWM) to the current RSS
        resettable = True
    except OSError:
        resettable = False
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    peak = _status_kib("VmHWM")
    delta = None if (before is None or peak is None or not resettable) else max(0, peak - before) / 1024
    return result, seconds, delta


def _fresh_process_peak(model_dir: str, what: str, steps_video: int, steps_rays: int, threads: int) -> float | None:
    """Peak RSS (MiB) above the RSS after loading the model and the clip, of one ``what`` (a mode
    name, or ``forward_joint`` / ``forward_video``) in this fresh process (so that memory the
    allocator kept from earlier runs does not hide the peak)."""
    torch.set_num_threads(threads)
    model, _clip, _frames, runs = _setup(Path(model_dir), steps_video, steps_rays)
    inputs = _forward_inputs(model)
    from raxel_core.diffusion.sampler import sample

    def run():
        if what == "forward_joint":
            with torch.no_grad():
                model(*inputs)
        elif what == "forward_video":
            v, _, tv, _ = inputs
            with torch.no_grad():
                model(v, None, tv, None)
        else:
            try:
                sample(model, seed=0, **runs[what])
            except ValueError:
                pass
    return peak_rss_delta_mib(run)[2]


def fresh_process_peak(*args) -> float | None:
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_fresh_process_peak, args)


def _setup(model_dir: Path, steps_video: int, steps_rays: int):
    from raxel_core.diffusion.datasets import tensor_to_frames
    from raxel_core.model import JointTransformer
    from raxel_core.synthetic.clips import SyntheticClips

    model = JointTransformer.from_pretrained(model_dir).eval()
    clip = SyntheticClips(1, 9, (32, 48), seed=1000, num_scenes=1)[0]
    frames = tensor_to_frames(clip.video)
    runs = {
        "pose": {"mode": "pose", "video": frames, "steps_rays": steps_rays},
        "video": {"mode": "video", "source_frames": frames[:1], "cameras": clip.cameras, "steps_video": steps_video},
        "joint": {"mode": "joint", "source_frames": frames[:1], "num_frames": len(frames), "steps_video": steps_video,
                  "steps_rays": steps_rays},
    }
    return model, clip, frames, runs


def _forward_inputs(model):
    c = model.config
    size = (32, 48)
    g = torch.Generator().manual_seed(0)
    v = torch.randn(1, 3, 9, *size, generator=g)
    r = torch.randn(1, c.ray_in_channels, 9, size[0] // c.raxel_downscale, size[1] // c.raxel_downscale, generator=g)
    return v, r, torch.full((1, 9), 500.0), torch.full((1, 9), 500.0)


def cpu_benchmark(model_dir: Path, steps_video: int, steps_rays: int, repeats: int) -> int:
    from raxel_core.diffusion.sampler import sample

    if not (model_dir / "config.json").is_file():
        print(f"no model at {model_dir}; train it (configs/train_tiny.json) or pass --model", file=sys.stderr)
        return 2
    model, _clip, frames, runs = _setup(model_dir, steps_video, steps_rays)
    size = (32, 48)
    threads = torch.get_num_threads()
    print(f"model {model_dir} ({model.num_parameters() / 1e6:.2f} M parameters), {len(frames)} frames "
          f"{size[0]}x{size[1]}, torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s)")
    print("\n| mode | model calls | s / sample | model calls / s | peak RSS above idle (MiB) | cameras decoded |\n"
          "|---|---|---|---|---|---|")
    for name, kwargs in runs.items():
        counter = {"calls": 0, "decoded": 0}

        def run(seed, kwargs=kwargs, counter=counter):
            def progress(done, total):
                counter["calls"] += 1
            try:
                sample(model, seed=seed, progress=progress, **kwargs)
                counter["decoded"] += 1
            except ValueError:           # rays that do not decode: the model calls were still made
                pass

        run(0)                           # warm-up
        counter.update(calls=0, decoded=0)
        times = []
        for r in range(repeats):
            t0 = time.perf_counter()
            run(r)
            times.append(time.perf_counter() - t0)
        t = float(np.median(times))
        calls = counter["calls"] / repeats
        peak = fresh_process_peak(str(model_dir), name, steps_video, steps_rays, threads)
        print(f"| {name} | {calls:.0f} | {t:.3f} | {calls / t:.1f} | {'n/a' if peak is None else f'{peak:.1f}'} | "
              f"{counter['decoded']}/{repeats} |")

    # joint forward vs the ray branch switched off (video-only network)
    v, r, tv, tr = _forward_inputs(model)
    results = {}
    with torch.no_grad():
        for (name, call), what in zip((("joint (video + rays, DSCA)", lambda: model(v, r, tv, tr)),
                                       ("video only (ray branch off)", lambda: model(v, None, tv, None))),
                                      ("forward_joint", "forward_video"), strict=False):
            call()
            times = []
            for _ in range(max(3, repeats)):
                t0 = time.perf_counter()
                call()
                times.append(time.perf_counter() - t0)
            results[name] = (float(np.median(times)), fresh_process_peak(str(model_dir), what, steps_video,
                                                                         steps_rays, threads))
    print("\n| network | s / forward | forwards / s | peak RSS above idle (MiB) |\n|---|---|---|---|")
    for name, (t, peak) in results.items():
        print(f"| {name} | {t:.4f} | {1 / t:.1f} | {'n/a' if peak is None else f'{peak:.1f}'} |")
    (tj, _), (tv_, _) = results.values()
    print(f"\njoint / video-only time per forward: {tj / tv_:.2f}x")
    return 0


def shapes_report(frames: int, height: int, width: int) -> int:
    """Joint vs video-only parameters, forward FLOPs and training memory at Wan 2.1 1.3B shapes, computed."""
    from dataclasses import replace

    from raxel_core.diffusion.full_size import count_parameters, estimate_memory, forward_flops
    from raxel_core.diffusion.training import TrainConfig
    from raxel_core.model import JointModelConfig, JointTransformer
    from raxel_core.model.wan_weights import is_wan_parameter

    config = JointModelConfig.wan21_1_3b()
    with torch.device("meta"):
        model = JointTransformer(config)
    joint_params = count_parameters(config)
    video_params = sum(p.numel() for n, p in model.named_parameters() if is_wan_parameter(n))
    fj = forward_flops(config, frames, (height, width))
    fv = forward_flops(config, frames, (height, width), video_only=True)
    recipe = replace(TrainConfig.from_json(str(ROOT / "configs" / "train_wan1.3b.json")), num_frames=frames,
                     image_size=(height, width))
    print(f"Computed, not timed: Wan 2.1 1.3B shapes, {frames} frames {height}x{width}, 512 text tokens "
          "(raxel_core.diffusion.full_size)")
    print("\n| quantity | joint (video + rays, DSCA) | video only (Wan) | joint / video only |\n|---|---|---|---|")
    print(f"| parameters | {joint_params / 1e9:.3f} B | {video_params / 1e9:.3f} B | "
          f"{joint_params / video_params:.2f}x |")
    for key, label in (("total", "forward TFLOPs (matmul)"), ("projections", "  of which projections + FFN"),
                       ("attention", "  of which attention scores / values")):
        print(f"| {label} | {fj[key] / 1e12:.1f} | {fv[key] / 1e12:.1f} | {fj[key] / fv[key]:.2f}x |")
    for gpus, fsdp in ((1, False), (8, True)):
        cfg = replace(recipe, fsdp=fsdp)
        mj, mv = estimate_memory(cfg, gpus), estimate_memory(cfg, gpus, video_only=True)
        label = f"training memory per GPU, {gpus} GPU{'s, FSDP' if gpus > 1 else ''} (GiB)"
        print(f"| {label} | {mj.total / 2**30:.1f} | {mv.total / 2**30:.1f} | {mj.total / mv.total:.2f}x |")
    print("\nGoal of the issue: <= 1.5x time and memory. Training time follows the FLOPs ratio "
          "(forward + backward = 3x forward for both).")
    return 0


def gpu_benchmark(frames: int, height: int, width: int, repeats: int) -> int:
    if not torch.cuda.is_available():
        print("bench_joint.py --gpu: no CUDA device on this machine; nothing was timed (the computed figures: "
              "--shapes)", file=sys.stderr)
        return 2
    shapes_report(frames, height, width)
    print()
    from raxel_core.model import JointModelConfig, JointTransformer

    config = JointModelConfig.wan21_1_3b()
    device, dtype = torch.device("cuda"), torch.bfloat16
    torch.manual_seed(0)
    model = JointTransformer(config).to(device, dtype).eval()
    latent_frames = (frames - 1) // 4 + 1
    v = torch.randn(1, 16, latent_frames, height // 8, width // 8, device=device, dtype=dtype)
    r = torch.randn(1, 16, frames, height // 16, width // 16, device=device, dtype=dtype)
    text = torch.randn(1, 512, config.text_dim, device=device, dtype=dtype)
    tv = torch.full((1, latent_frames), 500.0, device=device)
    tr = torch.full((1, frames), 500.0, device=device)
    print(f"Wan 2.1 1.3B-shaped joint model ({model.num_parameters() / 1e9:.2f} B parameters), bf16, "
          f"{torch.cuda.get_device_name()}; {frames} frames {height}x{width}: video latents {tuple(v.shape)}, "
          f"raxel latents {tuple(r.shape)}")
    results = {}
    with torch.no_grad():
        for name, call in (("joint (video + rays, DSCA)", lambda: model(v, r, tv, tr, text)),
                           ("video only (ray branch off)", lambda: model(v, None, tv, None, text))):
            call()
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            times = []
            for _ in range(repeats):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                call()
                end.record()
                torch.cuda.synchronize()
                times.append(start.elapsed_time(end) / 1000)
            results[name] = (float(np.median(times)), torch.cuda.max_memory_allocated() / 2**30)
    print("\n| network | s / forward (= one sampler step) | steps / s | peak GPU memory (GiB) |\n|---|---|---|---|")
    for name, (t, mem) in results.items():
        print(f"| {name} | {t:.3f} | {1 / t:.2f} | {mem:.1f} |")
    (tj, _), (tv_, _) = results.values()
    print(f"\njoint / video-only time per step: {tj / tv_:.2f}x")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "raxel-tiny-v1")
    parser.add_argument("--steps-video", type=int, default=20)
    parser.add_argument("--steps-rays", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--gpu", action="store_true", help="Wan 2.1 1.3B shapes on CUDA instead of the CPU model")
    parser.add_argument("--shapes", action="store_true",
                        help="computed joint / video-only parameters, FLOPs and memory at Wan 2.1 1.3B shapes")
    parser.add_argument("--frames", type=int, default=49, help="--gpu: clip frames")
    parser.add_argument("--height", type=int, default=480, help="--gpu: frame height")
    parser.add_argument("--width", type=int, default=832, help="--gpu: frame width")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.gpu:
        return gpu_benchmark(args.frames, args.height, args.width, args.repeats)
    if args.shapes:
        return shapes_report(args.frames, args.height, args.width)
    return cpu_benchmark(args.model, args.steps_video, args.steps_rays, args.repeats)


if __name__ == "__main__":
    sys.exit(main())
