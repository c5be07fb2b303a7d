"""The equal-budget codec ablation of the joint model: raxels vs Plücker rays vs CamViG camera tokens.

Rays as Pixels (arXiv 2604.09429, Sec. 4.4) compares raxels with Plücker rays; CamViG (arXiv
2405.13195, Sec. 3.3) writes the camera path as RVQ tokens. Here the three are ray codecs of the same
two-branch network (:func:`raxel_core.rays.codecs.codec_for`), trained from configs that differ only
in the codec (``configs/ablation_codec_{raxel,plucker,camera_tokens}.json``), and scored on the same
held-out synthetic clips in pose mode by VGGT's pair protocol (RRA@15, AUC@30;
:func:`raxel_core.evaluation.joint.summarise_pairs`).

Equal budget is checked, not assumed (:func:`check_equal_budget`): the same optimizer steps and the
same training config apart from the codec, and the same transformer apart from the ray
patch-embedding and output widths. Beside each trained model the table gives the codec's **ceiling**:
the ground-truth cameras encoded and decoded by the codec alone (raxels and Plücker rays are exact;
camera tokens carry the tokenizer's reconstruction error), so a model's figure can be read against
what its codec allows.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..cameras import Cameras
from .joint import PROJECT_ROOT, model_pose, pair_errors, summarise_pairs

#: Codecs of the ablation, in table order, and their configs / default checkpoint folders.
CODECS = ("raxel", "plucker", "camera_tokens")
ABLATION_CONFIGS = tuple(PROJECT_ROOT / "configs" / f"ablation_codec_{c}.json" for c in CODECS)
DEFAULT_CODEC_DIRS = tuple(PROJECT_ROOT / "checkpoints" / f"ablation_{c}" for c in CODECS)
#: Training-config fields that may differ between the runs of an equal-budget ablation.
CODEC_FIELDS = ("ray_representation", "checkpoint_dir", "_comment")
#: Model-config fields that follow from the codec.
CODEC_MODEL_FIELDS = ("ray_in_channels", "ray_out_channels")


@dataclass
class CodecModel:
    """One trained model of the ablation: its codec name, folder, network, step and training config."""

    codec: str
    path: Path
    model: torch.nn.Module
    step: int | None
    train_config: dict | None


def resolve_model_dir(path: str | Path) -> Path:
    """A ``save_pretrained`` folder from a model folder, a checkpoint (``step_XXXXXXX``) or a
    ``checkpoint_dir`` (its latest complete checkpoint). ``ValueError`` when none is there."""
    from ..diffusion.checkpoints import latest_checkpoint

    path = Path(path)
    if (path / "config.json").is_file():
        return path
    if (path / "model" / "config.json").is_file():
        return path / "model"
    ckpt = latest_checkpoint(path) if path.is_dir() else None
    if ckpt is None:
        raise ValueError(f"no trained model at {path}; train it with python -m raxel_core.diffusion "
                         "configs/ablation_codec_<codec>.json")
    return ckpt / "model"


def load_codec_models(paths) -> list[CodecModel]:
    """Load the ablation's models (any folder :func:`resolve_model_dir` takes), in :data:`CODECS` order.

    Raises:
        ValueError: a missing model, or two models of one codec.
    """
    from ..model import JointTransformer
    from ..rays.codecs import ray_representation_for

    out: dict[str, CodecModel] = {}
    for p in paths:
        model_dir = resolve_model_dir(p)
        model = JointTransformer.from_pretrained(model_dir).eval()
        codec = ray_representation_for(model.config)
        if codec in out:
            raise ValueError(f"two models with the {codec} codec ({out[codec].path} and {model_dir}); "
                             "give one per codec")
        state_path = model_dir.parent / "state.json"
        state = json.loads(state_path.read_text(encoding="utf-8")) if state_path.is_file() else {}
        out[codec] = CodecModel(codec, model_dir, model, state.get("step"), state.get("config"))
    return [out[c] for c in CODECS if c in out] + [m for c, m in out.items() if c not in CODECS]


def check_equal_budget(models: list[CodecModel]) -> dict:
    """``{"steps", "parameters"}`` of an equal-budget set of models; ``ValueError`` naming the first
    difference: another step count, another training config (beyond :data:`CODEC_FIELDS` and the
    model's ray channels) or another network (beyond :data:`CODEC_MODEL_FIELDS`), or a model with no
    recorded training (``state.json``)."""
    first = models[0]
    for m in models:
        if m.step is None or m.train_config is None:
            raise ValueError(f"{m.path} records no training run (no state.json beside it); give checkpoints of "
                             "the ablation runs")
        if m.step != first.step:
            raise ValueError(f"not an equal budget: {m.codec} trained {m.step} steps, {first.codec} {first.step}")
        a, b = dict(m.train_config), dict(first.train_config)
        for c in CODEC_FIELDS:
            a.pop(c, None)
            b.pop(c, None)
        for d in (a, b):
            d["model"] = {k: v for k, v in dict(d.get("model", {})).items() if k not in CODEC_MODEL_FIELDS}
            d["steps"] = None                                   # the run's target; the step reached is compared
        if a != b:
            diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            raise ValueError(f"not an equal budget: the {m.codec} and {first.codec} runs differ in {diff}")
        ca, cb = asdict(m.model.config), asdict(first.model.config)
        for c in CODEC_MODEL_FIELDS:
            ca.pop(c)
            cb.pop(c)
        if ca != cb:
            raise ValueError(f"not an equal budget: the {m.codec} and {first.codec} networks differ in "
                             f"{sorted(k for k in ca if ca[k] != cb[k])}")
    return {"steps": first.step, "parameters": {m.codec: m.model.num_parameters() for m in models}}


def codec_ceiling(codec, cameras: Cameras) -> Cameras:
    """The ground truth through the codec alone: ``codec.decode(codec.encode(cameras))`` (frame 0 the
    reference, at the clip's size)."""
    size = cameras.image_size
    return codec.decode(codec.encode(cameras, codec.grid_size(size), reference=0), size)


def evaluate_codecs(models: list[CodecModel], clips, steps: tuple[int, ...] = (2,), seed: int = 0,
                    log=print) -> list[dict]:
    """Rows of the ablation table: per codec its ceiling and its model at each ray-step count, plus the
    constant-camera baseline, on ``clips`` (:class:`raxel_core.evaluation.joint.EvalClip`, model size).

    Each row: ``codec``, ``method``, ``steps``, ``rra15``, ``auc30``, ``rta15``, ``pairs``,
    ``pairs_translating``, ``failures`` (clips whose rays did not decode: every pair counts as wrong).
    """
    from ..rays.codecs import codec_for

    rows = []
    pairs = [pair_errors(Cameras(K=c.cameras.K, R=torch.eye(3, dtype=torch.float64).repeat(len(c.cameras), 1, 1),
                                 t=torch.zeros(len(c.cameras), 3, dtype=torch.float64),
                                 image_size=c.cameras.image_size), None, c.cameras) for c in clips]
    rows.append({"codec": "-", "method": "baseline: constant camera", "steps": None, **summarise_pairs(pairs),
                 "failures": 0})
    for m in models:
        codec = codec_for(m.model.config)
        pairs = [pair_errors(codec_ceiling(codec, c.cameras), None, c.cameras) for c in clips]
        rows.append({"codec": m.codec, "method": "codec ceiling (ground truth encoded + decoded)", "steps": None,
                     **summarise_pairs(pairs), "failures": 0})
        for s in steps:
            pairs, failures = [], 0
            for c in clips:
                cams = model_pose(m.model, c.frames, s, seed)
                failures += cams is None
                pairs.append(pair_errors(cams, None, c.cameras))
            rows.append({"codec": m.codec, "method": f"model, step {m.step}", "steps": s, **summarise_pairs(pairs),
                         "failures": failures})
        log(f"  codec ablation: {m.codec} done")
    return rows


def format_codec_table(rows: list[dict], budget: dict, num_clips: int) -> str:
    """The ablation as one Markdown table (RRA@15, AUC@30, RTA@15 in percent)."""
    from .tables import format_number

    params = ", ".join(f"{c} {n / 1e6:.3f} M" for c, n in budget["parameters"].items())
    lines = [f"Codec ablation (equal budget: {budget['steps']} steps each; parameters {params}); "
             f"pose mode on {num_clips} held-out synthetic clips",
             "", "| codec | method | ray steps | RRA@15 | AUC@30 | RTA@15 | pairs (translating) | failed clips |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['codec']} | {r['method']} | {r['steps'] or '-'} | {format_number(r['rra15'])} | "
                     f"{format_number(r['auc30'])} | {format_number(r['rta15'])} | {r['pairs']} "
                     f"({r['pairs_translating']}) | {r['failures']}/{num_clips} |")
    return "\n".join(lines)
