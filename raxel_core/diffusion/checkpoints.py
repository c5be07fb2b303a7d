"""Training checkpoints of the joint model: folders of safetensors and JSON, never pickles.

``<checkpoint_dir>/step_XXXXXXX/`` holds ``model/`` (``config.json`` + ``model.safetensors``,
:meth:`JointTransformer.save_pretrained`), ``optimizer.safetensors`` (every tensor of the optimizer
state) + ``optimizer.json`` (the rest: step counts, hyper-parameters, structure) and ``state.json``
(step, the training config), written last so that a checkpoint without it is incomplete and ignored
(:func:`latest_checkpoint`). :func:`training_resolution` reads the frame size and clip length a
model was trained at back from ``state.json`` or the weights' metadata.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from ..formats.text_files import atomic_path, write_text_atomic
from ..model import JointTransformer

if TYPE_CHECKING:
    from .training import TrainConfig

#: Checkpoint folders are ``<checkpoint_dir>/step_XXXXXXX`` (the step, 7 digits).
CHECKPOINT_PREFIX = "step_"


def _split_state(obj, tensors: dict, prefix: str):
    """Nested dicts / lists of tensors and scalars -> JSON-safe structure; tensors go to ``tensors``."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().cpu().contiguous()
        return {"__tensor__": prefix}
    if isinstance(obj, dict):
        return {"__dict__": [[k, _split_state(v, tensors, f"{prefix}.{k}")] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"__list__": [_split_state(v, tensors, f"{prefix}.{i}") for i, v in enumerate(obj)],
                "tuple": isinstance(obj, tuple)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise ValueError(f"cannot store {type(obj).__name__} at {prefix} in a checkpoint (tensors and scalars only)")


def _join_state(obj, tensors: dict):
    if isinstance(obj, dict) and "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if isinstance(obj, dict) and "__dict__" in obj:
        return {k: _join_state(v, tensors) for k, v in obj["__dict__"]}
    if isinstance(obj, dict) and "__list__" in obj:
        items = [_join_state(v, tensors) for v in obj["__list__"]]
        return tuple(items) if obj.get("tuple") else items
    return obj


def save_optimizer_state(state: dict, directory: Path) -> None:
    """Write an optimizer ``state_dict()`` as ``optimizer.safetensors`` + ``optimizer.json``."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _split_state(state, tensors, "opt")
    with atomic_path(directory / "optimizer.safetensors") as tmp:
        save_file(tensors, str(tmp))
    write_text_atomic(directory / "optimizer.json", json.dumps(skeleton) + "\n")


def load_optimizer_state(directory: Path) -> dict:
    """Read what :func:`save_optimizer_state` wrote (no pickles)."""
    tensors = load_file(str(directory / "optimizer.safetensors"))
    return _join_state(json.loads((directory / "optimizer.json").read_text(encoding="utf-8")), tensors)


def latest_checkpoint(checkpoint_dir: str | Path) -> Path | None:
    """The complete checkpoint (one with ``state.json``) of the highest step, or ``None``."""
    root = Path(checkpoint_dir)
    if not root.is_dir():
        return None
    done = [p for p in root.glob(CHECKPOINT_PREFIX + "*") if (p / "state.json").is_file()]
    return max(done, key=lambda p: int(p.name[len(CHECKPOINT_PREFIX):]), default=None)


def save_checkpoint(accelerator, model, optimizer, config: TrainConfig, step: int) -> Path:
    """Write ``step_XXXXXXX/`` (module docstring) on the main process; drop old checkpoints beyond
    ``config.keep_checkpoints``. Returns the checkpoint directory."""
    root = Path(config.checkpoint_dir)
    directory = root / f"{CHECKPOINT_PREFIX}{step:07d}"
    accelerator.wait_for_everyone()
    if config.fsdp:                                                    # gathered full states (all ranks take part)
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

        state = accelerator.get_state_dict(model)
        optim_state = FSDP.optim_state_dict(model, optimizer.optimizer)
    else:
        state, optim_state = None, optimizer.state_dict()
    if accelerator.is_main_process:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "state.json").unlink(missing_ok=True)
        unwrapped = accelerator.unwrap_model(model)
        if state is None:
            unwrapped.save_pretrained(directory / "model")
        else:
            full = JointTransformer(unwrapped.config)                 # the gathered weights, saved as usual
            full.load_state_dict(state)
            full.save_pretrained(directory / "model")
        save_optimizer_state(optim_state, directory)
        write_text_atomic(directory / "state.json",
                          json.dumps({"step": step, "config": asdict(config)}, indent=2) + "\n")
        if config.keep_checkpoints > 0:
            done = sorted((p for p in root.glob(CHECKPOINT_PREFIX + "*") if (p / "state.json").is_file()),
                          key=lambda p: int(p.name[len(CHECKPOINT_PREFIX):]))
            for old in done[:-config.keep_checkpoints]:
                shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return directory


def training_resolution(weights) -> tuple[tuple[int, int] | None, int | None]:
    """Frame size ``(H, W)`` and clip length recorded by training, from ``state.json`` beside the
    weights, in the folder above (``step_XXXXXXX/state.json`` + ``step_XXXXXXX/model/``), or the
    ``raxel_training`` entry of the weights' metadata; ``(None, None)`` when none records them.

    Raises:
        ValueError: a ``state.json`` that is not JSON or has a malformed ``image_size``.
    """
    weights = Path(weights)
    if weights.is_dir():
        weights = weights / "model.safetensors"
    text = None
    for candidate in (weights.parent / "state.json", weights.parent.parent / "state.json"):
        if candidate.is_file():
            text, source = candidate.read_text(encoding="utf-8"), candidate
            break
    if text is None:
        with safe_open(str(weights), framework="pt") as handle:
            text = (handle.metadata() or {}).get("raxel_training")
        source = weights
        if text is None:
            return None, None
    try:
        data = json.loads(text)
        config = data.get("config", data)
        size = config.get("image_size")
        frames = config.get("num_frames")
        size = None if size is None else (int(size[0]), int(size[1]))
        frames = None if frames is None else int(frames)
    except (ValueError, TypeError, AttributeError, IndexError) as err:
        raise ValueError(f"{source} does not record the training image_size as [height, width] ({err}); "
                         "fix or delete it") from None
    return size, frames
