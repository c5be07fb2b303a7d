"""Evaluation of a trained joint video + ray model (Rays as Pixels, arXiv 2604.09429, Sec. 4).

``raxel eval-joint`` (:mod:`raxel_core.cli.eval_joint`) prints four tables on held-out clips:

1. **Pose from video** (paper Sec. 4.2): the model's ``pose`` mode at 1, 2, 5 and 20 ray steps,
   scored by VGGT's pair protocol (:func:`raxel_core.evaluation.metrics.relative_pose_errors`: AUC@30,
   RRA@15, RTA@15, percent over every frame pair of every clip), beside the geometric estimator
   of part 1 (:func:`raxel_core.pose.estimate_trajectory`, pycolmap) on the same clips
   at the model's resolution and at the clip's native resolution, and a constant-camera baseline
   (no motion: its RRA is the share of pairs that barely rotate). A clip the estimator cannot
   register counts every pair it misses as wrong (error 90 degrees) and is listed as a failure.
   One deviation from VGGT: a pair whose ground-truth cameras share their centre (a pan, tilt or
   zoom: the synthetic set has such paths, RealEstate10K has none) has no translation direction,
   so it counts for RRA only; AUC@30 and RTA@15 pool the pairs with a baseline
   (:data:`TRANSLATION_DEFINED_RTOL`), and the table gives both pair counts.
2. **Camera following** (Sec. 4.3): ``video`` mode from the first real frame and the clip's own
   trajectory; the generated video's cameras are estimated by (a) the geometric estimator and
   (b) the model's own ``pose`` mode (2 ray steps), and scored against the conditioning
   trajectory with CamI2V's RotErr (degrees, summed over frames) / TransErr (unit extent)
   (:func:`raxel_core.evaluation.metrics.rot_trans_err`); the same estimators on the real frames of that
   trajectory are printed beside them (the floor of each estimator). PSNR of the generated
   frames against the real ones, and of the trivial "repeat the first frame" video.
3. **Closed loop** (Table 2 of the paper): trajectory from the real video (``pose`` mode,
   2 steps), then a video from that trajectory + the first frame (``video`` mode), then the
   regenerated video's cameras (model ``pose`` mode and the geometric estimator) against that
   trajectory, and the pixel PSNR between the regenerated and the real video.
4. **Ablation**: the same metrics for the Plücker-ray models trained at equal budget, when given:
   Plücker rays on the ray branch (``configs/train_tiny_plucker.json``) and Plücker rays
   concatenated channel-wise onto the video, as the paper words its ablation
   (``configs/train_tiny_plucker_concat.json``, :class:`raxel_core.model.ChannelConcatModel`).

Clips: held-out synthetic rooms (:class:`SyntheticClips` with a seed the training never used:
other scenes, other paths) and the RealEstate10K clips of the shared data
(:class:`RealEstate10KClips`, centre-cropped and resized to the model's frame size; never used in
training). "Native" resolution: the RealEstate10K files' own 256x384, and for synthetic scenes a
render of the same scene and path at 4x the model's size (synthetic clips have no native size).
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..cameras import Cameras
from ..diffusion.datasets import RealEstate10KClips, tensor_to_frames
from ..synthetic.clips import SyntheticClips
from .metrics import auc, relative_pose_errors, rot_trans_err, rra, rta

#: Ray step counts of the pose table (the paper: 2 is best; 5 and 20 no better).
POSE_STEPS = (1, 2, 5, 20)
#: Seed of the held-out synthetic clips (training configs use seed 0).
HELD_OUT_SEED = 1000
#: Error (degrees) given to every frame pair an estimator could not register.
FAILED_PAIR_ERROR = 90.0
#: A ground-truth pair has a translation direction when its centres are farther apart than this
#: times the farthest centre of the clip from the world origin (float32 ground truth of a camera
#: that only rotates puts its centres ~1e-7 of that apart; real baselines are > 1e-3 of it).
TRANSLATION_DEFINED_RTOL = 1e-4
#: Synthetic "native" renders are this many times the model's frame size.
SYNTHETIC_NATIVE_FACTOR = 4

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = PROJECT_ROOT / "models" / "raxel-tiny-v1"
#: Training runs of the ablation models (configs/train_tiny_plucker*.json): Plücker rays on the ray
#: branch, and Plücker rays concatenated onto the video channels (the paper's wording).
DEFAULT_ABLATION_DIRS = (PROJECT_ROOT / "checkpoints" / "tiny_plucker",
                         PROJECT_ROOT / "checkpoints" / "tiny_plucker_concat")


@dataclass
class EvalClip:
    """One evaluation clip: frames ``(F, H, W, 3)`` uint8 and cameras at the model's size, and the
    same clip at native size (``native_frames`` / ``native_cameras``)."""

    name: str
    kind: str
    frames: np.ndarray
    cameras: Cameras
    native_frames: np.ndarray
    native_cameras: Cameras


def default_data_root() -> Path:
    """``$RAXEL_SHARED_DATA`` or ``../shared/data`` beside the project."""
    return Path(os.environ.get("RAXEL_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))


def load_eval_clips(image_size: tuple[int, int], num_frames: int, num_synthetic: int = 5, num_re10k: int = 5,
                    data_root: str | Path | None = None, raxel_downscale: int = 2) -> list[EvalClip]:
    """Held-out clips at the model's size and at native size (module docstring).

    Args:
        image_size: the model's ``(H, W)``.
        num_frames: frames per clip (picked evenly over each RealEstate10K clip).
        num_synthetic: synthetic clips (seed :data:`HELD_OUT_SEED`, one scene each).
        num_re10k: RealEstate10K clips (the 16-frame ``<id>.mp4`` files, sorted by id).
        data_root: the shared data folder (default :func:`default_data_root`).
    Raises:
        ValueError: RealEstate10K clips asked for but the folder is missing.
    """
    clips: list[EvalClip] = []
    if num_synthetic > 0:
        native = (image_size[0] * SYNTHETIC_NATIVE_FACTOR, image_size[1] * SYNTHETIC_NATIVE_FACTOR)
        small = SyntheticClips(num_synthetic, num_frames, image_size, raxel_downscale, seed=HELD_OUT_SEED,
                               num_scenes=num_synthetic)
        big = SyntheticClips(num_synthetic, num_frames, native, raxel_downscale, seed=HELD_OUT_SEED,
                             num_scenes=num_synthetic, antialias=1)
        for i in range(num_synthetic):
            frames, cams = small.render(i)
            native_frames, native_cams = big.render(i)
            clips.append(EvalClip(f"synthetic/{HELD_OUT_SEED}/{i}", "synthetic", frames, cams,
                                  native_frames, native_cams))
    if num_re10k > 0:
        root = Path(data_root or default_data_root()) / "re10k"
        if not root.is_dir():
            raise ValueError(f"no RealEstate10K clips at {root}; "
                             "set RAXEL_SHARED_DATA or pass --data, or use --re10k 0")
        stems = [s for s, _, _ in RealEstate10KClips(root, num_frames, image_size, raxel_downscale).clips
                 if "_" not in s][:num_re10k]
        small = RealEstate10KClips(root, num_frames, image_size, raxel_downscale, source_aspect=16 / 9, stems=stems)
        from ..video_io import read_video

        for i, stem in enumerate(c[0] for c in small.clips):
            clip = small[i]
            native_frames, _ = read_video(small.clips[i][1])
            native_size = native_frames.shape[1:3]
            big = RealEstate10KClips(root, num_frames, native_size, 1, source_aspect=16 / 9, stems=[stem])[0]
            clips.append(EvalClip(f"re10k/{stem}", "re10k", tensor_to_frames(clip.video), clip.cameras,
                                  tensor_to_frames(big.video), big.cameras))
    return clips


# ----------------------------------------------------------------------------------- scoring
def _to_uint8(video: torch.Tensor) -> np.ndarray:
    """``(F, H, W, 3)`` float in [0, 1] -> uint8."""
    return (video.clamp(0, 1).numpy() * 255).round().astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 ``(..., 3)`` arrays (peak 255)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def pair_errors(estimate: Cameras | None, frame_indices: list[int] | None,
                reference: Cameras) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rotation / translation-direction errors (degrees) of every frame pair of ``reference``,
    and which pairs have a ground-truth translation direction.

    ``estimate`` holds cameras of the frames ``frame_indices`` (all frames when ``None``); pairs
    with an unregistered frame (or every pair, when ``estimate`` is ``None``) get
    :data:`FAILED_PAIR_ERROR`. Returns ``(rot (P,), trans (P,), translating (P,) bool)`` in
    ``np.triu_indices`` order; ``translating`` is False where the reference centres of the pair
    coincide (:data:`TRANSLATION_DEFINED_RTOL`).
    """
    n = len(reference)
    rot = np.full((n, n), FAILED_PAIR_ERROR)
    trans = np.full((n, n), FAILED_PAIR_ERROR)
    if estimate is not None:
        idx = list(range(n)) if frame_indices is None else list(frame_indices)
        if len(idx) >= 2:
            r, t = relative_pose_errors(estimate, reference[torch.tensor(idx)])
            i, j = np.triu_indices(len(idx), k=1)
            ii, jj = np.asarray(idx)[i], np.asarray(idx)[j]
            rot[ii, jj], trans[ii, jj] = r, t
    i, j = np.triu_indices(n, k=1)
    centres = reference.centers.double().cpu().numpy()
    scale = max(float(np.linalg.norm(centres, axis=1).max()), 1e-12)
    translating = np.linalg.norm(centres[i] - centres[j], axis=1) > TRANSLATION_DEFINED_RTOL * scale
    return rot[i, j], trans[i, j], translating


def geometric(frames: np.ndarray) -> tuple[Cameras | None, list[int] | None, str]:
    """Part 1's estimator: ``(cameras, frame indices, status)``; ``(None, None, reason)`` on failure."""
    from ..pose import estimate_trajectory

    try:
        est = estimate_trajectory(frames)
    except ValueError as err:
        return None, None, f"failed: {str(err).split(';')[0][:80]}"
    status = est.method if est.complete else f"{est.method}, {len(est.frame_indices)}/{est.num_frames} registered"
    return est.cameras, est.frame_indices, status


def summarise_pairs(rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict:
    """RRA@15 over all pooled pairs of all clips; AUC@30 and RTA@15 over the pairs with a
    ground-truth translation direction (module docstring); percent. NaN when no pair translates."""
    rot = np.concatenate([r for r, _, _ in rows])
    trans = np.concatenate([t for _, t, _ in rows])
    moving = np.concatenate([m for _, _, m in rows])
    out = {"rra15": rra(rot, 15.0), "pairs": int(rot.size), "pairs_translating": int(moving.sum())}
    if moving.any():
        out.update(auc30=auc(rot[moving], trans[moving], 30), rta15=rta(trans[moving], 15.0))
    else:
        out.update(auc30=math.nan, rta15=math.nan)
    return out


def camera_errors(estimate: Cameras | None, frame_indices: list[int] | None, reference: Cameras) -> dict | None:
    """CamI2V RotErr (degrees, summed) / TransErr (unit extent) when every frame is registered, else None."""
    if estimate is None or (frame_indices is not None and len(frame_indices) != len(reference)):
        return None
    e = rot_trans_err(estimate, reference, normalization="unit")
    return {"rot_err_deg": e["rot_err_deg"], "trans_err": e["trans_err"]}


def _median(values: list) -> float:
    values = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.median(values)) if values else math.nan


# ----------------------------------------------------------------------------------- experiments
def model_pose(model, frames: np.ndarray, steps: int, seed: int = 0) -> Cameras | None:
    """The model's ``pose`` mode; ``None`` when its rays do not decode."""
    from ..diffusion.sampler import sample

    try:
        return sample(model, "pose", video=frames, steps_rays=steps, seed=seed).cameras
    except ValueError:
        return None


def evaluate_pose(models: dict, clips: list[EvalClip], steps=POSE_STEPS, seed: int = 0, log=print) -> list[dict]:
    """Table 1 rows: per (dataset, estimator) pooled AUC@30 / RRA@15 / RTA@15, failures, seconds per clip."""
    rows = []
    for kind in sorted({c.kind for c in clips}):
        subset = [c for c in clips if c.kind == kind]
        for label, native in (("geometric (pycolmap) @ model size", False),
                              ("geometric (pycolmap) @ native size", True)):
            pairs, failures, seconds = [], 0, 0.0
            for c in subset:
                t0 = time.perf_counter()
                cams, idx, status = geometric(c.native_frames if native else c.frames)
                seconds += time.perf_counter() - t0
                failures += cams is None or (idx is not None and len(idx) < len(c.cameras))
                pairs.append(pair_errors(cams, idx, c.native_cameras if native else c.cameras))
                log(f"  {c.name}: {label}: {status}")
            size = f"{subset[0].native_frames.shape[1]}x{subset[0].native_frames.shape[2]}" if native else \
                f"{subset[0].frames.shape[1]}x{subset[0].frames.shape[2]}"
            rows.append({"data": kind, "method": f"{label} ({size})", **summarise_pairs(pairs),
                         "failures": f"{failures}/{len(subset)}", "s_per_clip": seconds / len(subset)})
        # trivial baseline: every camera identical (no motion); its RRA is the share of pairs that
        # barely rotate, the floor any estimator must beat
        pairs = [pair_errors(Cameras(K=c.cameras.K, R=torch.eye(3, dtype=torch.float64).repeat(len(c.cameras), 1, 1),
                                     t=torch.zeros(len(c.cameras), 3, dtype=torch.float64),
                                     image_size=c.cameras.image_size), None, c.cameras) for c in subset]
        rows.append({"data": kind, "method": "baseline: constant camera (no motion)", **summarise_pairs(pairs),
                     "failures": f"0/{len(subset)}", "s_per_clip": 0.0})
        for name, model in models.items():
            for s in steps:
                pairs, failures, seconds = [], 0, 0.0
                for c in subset:
                    t0 = time.perf_counter()
                    cams = model_pose(model, c.frames, s, seed)
                    seconds += time.perf_counter() - t0
                    failures += cams is None
                    pairs.append(pair_errors(cams, None, c.cameras))
                rows.append({"data": kind, "method": f"{name}, {s} ray step{'s' if s > 1 else ''}",
                             **summarise_pairs(pairs),
                             "failures": f"{failures}/{len(subset)}", "s_per_clip": seconds / len(subset)})
            log(f"  {kind}: {name} pose done")
    return rows


def evaluate_following(models: dict, clips: list[EvalClip], steps_video: int = 20, seed: int = 0,
                       log=print) -> list[dict]:
    """Table 2 rows (camera following) and Table 3 rows (closed loop), per (dataset, model)."""
    from ..diffusion.sampler import sample

    rows = []
    floors: dict = {}
    for kind in sorted({c.kind for c in clips}):
        subset = [c for c in clips if c.kind == kind]
        # the estimators on the real frames of each trajectory (their own floor)
        real_geo = [camera_errors(*geometric(c.frames)[:2], c.cameras) for c in subset]
        floors[kind] = real_geo
        for name, model in models.items():
            real_model = [camera_errors(model_pose(model, c.frames, 2, seed), None, c.cameras) for c in subset]
            gen_geo, gen_model, gen_psnr, copy_psnr = [], [], [], []
            loop_model, loop_geo, loop_psnr, loop_traj = [], [], [], []
            for c in subset:
                out = sample(model, "video", source_frames=c.frames[:1], cameras=c.cameras,
                             steps_video=steps_video, seed=seed)
                video = _to_uint8(out.video)
                gen_geo.append(camera_errors(*geometric(video)[:2], c.cameras))
                gen_model.append(camera_errors(model_pose(model, video, 2, seed), None, c.cameras))
                gen_psnr.append(psnr(video[1:], c.frames[1:]))
                copy_psnr.append(psnr(np.repeat(c.frames[:1], len(c.frames) - 1, 0), c.frames[1:]))
                # closed loop: trajectory from the real video -> video from it -> compare
                traj = model_pose(model, c.frames, 2, seed)
                if traj is None:
                    loop_model.append(None)
                    loop_geo.append(None)
                    loop_psnr.append(None)
                    loop_traj.append(None)
                    continue
                loop_traj.append(camera_errors(traj, None, c.cameras))
                regen = _to_uint8(sample(model, "video", source_frames=c.frames[:1], cameras=traj,
                                         steps_video=steps_video, seed=seed).video)
                loop_model.append(camera_errors(model_pose(model, regen, 2, seed), None, traj))
                loop_geo.append(camera_errors(*geometric(regen)[:2], traj))
                loop_psnr.append(psnr(regen[1:], c.frames[1:]))
            n = len(subset)

            def med(values, key):
                return _median([v[key] if v else None for v in values])

            def fails(values, n=n):
                return f"{sum(v is None for v in values)}/{n}"

            rows.append({
                "table": "following", "data": kind, "model": name, "steps_video": steps_video,
                "geo_real_rot": med(real_geo, "rot_err_deg"), "geo_real_trans": med(real_geo, "trans_err"),
                "geo_real_fail": fails(real_geo),
                "geo_gen_rot": med(gen_geo, "rot_err_deg"), "geo_gen_trans": med(gen_geo, "trans_err"),
                "geo_gen_fail": fails(gen_geo),
                "model_real_rot": med(real_model, "rot_err_deg"), "model_real_trans": med(real_model, "trans_err"),
                "model_real_fail": fails(real_model),
                "model_gen_rot": med(gen_model, "rot_err_deg"), "model_gen_trans": med(gen_model, "trans_err"),
                "model_gen_fail": fails(gen_model),
                "psnr_gen": _median(gen_psnr), "psnr_copy_first": _median(copy_psnr),
            })
            rows.append({
                "table": "closed_loop", "data": kind, "model": name, "steps_video": steps_video,
                "traj_vs_gt_rot": med(loop_traj, "rot_err_deg"), "traj_vs_gt_trans": med(loop_traj, "trans_err"),
                "model_rot": med(loop_model, "rot_err_deg"), "model_trans": med(loop_model, "trans_err"),
                "model_fail": fails(loop_model),
                "geo_rot": med(loop_geo, "rot_err_deg"), "geo_trans": med(loop_geo, "trans_err"),
                "geo_fail": fails(loop_geo),
                "psnr": _median(loop_psnr),
            })
            log(f"  {kind}: {name} following + closed loop done")
    return rows


# ----------------------------------------------------------------------------------- models
def model_label(model_dir: str | Path) -> str:
    """``raxel-tiny-v1`` for a bundled model, ``tiny_plucker step 800`` for a training checkpoint."""
    model_dir = Path(model_dir)
    state = model_dir.parent / "state.json"
    if model_dir.name == "model" and state.is_file():
        step = json.loads(state.read_text(encoding="utf-8"))["step"]
        return f"{model_dir.parent.parent.name} step {step}"
    return model_dir.name


def load_models(model_dir: str | Path, ablations: list[str] | tuple[str, ...] = ("auto",)) -> dict:
    """The model to evaluate and its ablations, each labelled ``"<ray representation> (<model_label>)"``.

    Args:
        model_dir: ``save_pretrained`` directory of the model (``config.json`` + ``model.safetensors``).
        ablations: ``["auto"]`` (the latest checkpoint of each of :data:`DEFAULT_ABLATION_DIRS` that
            exists), ``["none"]``, or directories of other models with the same patch layout.
    Returns:
        ``{label: JointTransformer}`` in evaluation mode, the main model first.
    Raises:
        ValueError: an ablation model whose patch layout differs from the main model's.
    """
    from ..diffusion.checkpoints import latest_checkpoint
    from ..model import JointTransformer
    from ..rays.codecs import ray_representation_for

    model_dir = Path(model_dir)
    models = {}
    main = JointTransformer.from_pretrained(model_dir).eval()
    models[f"{ray_representation_for(main.config)} ({model_label(model_dir)})"] = main
    if list(ablations) == ["auto"]:
        others = [ckpt / "model" for ckpt in map(latest_checkpoint, DEFAULT_ABLATION_DIRS) if ckpt is not None]
    elif list(ablations) == ["none"]:
        others = []
    else:
        others = [Path(a) for a in ablations]
    for ablation in others:
        other = JointTransformer.from_pretrained(ablation).eval()
        if other.config.patch_size != main.config.patch_size:
            raise ValueError(f"the ablation model {ablation} has another layout than {model_dir}")
        models[f"{ray_representation_for(other.config)} ({model_label(ablation)})"] = other
    return models
