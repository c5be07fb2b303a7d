"""The camera-path tokenizer: a small convolutional autoencoder with residual vector quantisation.

CamViG (Marmon et al., arXiv 2405.13195, Sec. 3.3) turns a camera path into discrete tokens with a
neural audio codec (SoundStream, residual vector quantisation, 4 levels). This is that idea at the
size of a camera path: per-frame features (:mod:`raxel_core.tokens.camera_features`, 10 floats a
frame) -> a 1D convolutional encoder over time -> one ``latent_dim`` vector per frame -> residual VQ
(``num_levels`` codebooks of ``codebook_size`` entries each; quantiser from the
``vector-quantize-pytorch`` library, ``ResidualVQ``, EMA codebooks with k-means init) -> a
convolutional decoder -> features -> the trajectory.

A path of ``N`` frames becomes an ``(N, num_levels)`` int64 array of codebook indices. Decoding
from only the first ``k`` levels (a smaller token budget) is supported and trained for (quantiser
dropout, as SoundStream does, Zeghidour et al. 2021, Sec. 3.3).

Weights are safetensors with a ``config.json`` beside them (:meth:`CameraTokenizer.save_pretrained`).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from ..cameras import Cameras
from .camera_features import NUM_FEATURES, PathFrame, features_to_path, path_to_features

#: The tokenizer bundled with the pack (trained by ``benchmarks/bench_camera_tokens.py --train``).
BUNDLED_TOKENIZER_DIR = Path(__file__).resolve().parents[2] / "models" / "raxel-camtok-v1"
#: ``format`` field of a tokens JSON file.
TOKENS_FORMAT = "raxel-camera-tokens"


@dataclass(frozen=True)
class TokenizerConfig:
    """Sizes of a :class:`CameraTokenizer` (saved as ``config.json`` beside the weights).

    Attributes:
        num_levels: residual VQ levels (CamViG: 4).
        codebook_size: entries per codebook (CamViG: 4096).
        latent_dim: size of each per-frame latent vector.
        hidden: channels of the convolutional encoder / decoder.
        kernel_size: temporal kernel of the convolutions (odd).
    """

    num_levels: int = 4
    codebook_size: int = 256
    latent_dim: int = 16
    hidden: int = 64
    kernel_size: int = 3

    def __post_init__(self):
        for name in ("num_levels", "codebook_size", "latent_dim", "hidden", "kernel_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"tokenizer {name} must be a whole number >= 1; got {value!r}")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"tokenizer kernel_size must be odd; got {self.kernel_size}")


def _conv_stack(sizes: list[int], kernel_size: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        last = i == len(sizes) - 2
        k = 1 if last else kernel_size
        layers.append(nn.Conv1d(a, b, k, padding=k // 2, padding_mode="replicate"))
        if not last:
            layers.append(nn.GELU())
    return nn.Sequential(*layers)


class CameraTokenizer(nn.Module):
    """Camera path <-> RVQ token indices (module docstring for the method).

    Shapes: features ``(B, N, NUM_FEATURES)`` float32; latents ``(B, N, latent_dim)``; indices
    ``(B, N, num_levels)`` int64 in ``[0, codebook_size)``.
    """

    def __init__(self, config: TokenizerConfig | None = None):
        super().__init__()
        from vector_quantize_pytorch import ResidualVQ  # imported here: ~4 s, only when a tokenizer is built

        self.config = config = config or TokenizerConfig()
        h, k = config.hidden, config.kernel_size
        self.encoder = _conv_stack([NUM_FEATURES, h, h, h, config.latent_dim], k)
        self.decoder = _conv_stack([config.latent_dim, h, h, h, NUM_FEATURES], k)
        self.quantizer = ResidualVQ(
            dim=config.latent_dim, num_quantizers=config.num_levels, codebook_size=config.codebook_size,
            decay=0.95, kmeans_init=True, kmeans_iters=10, threshold_ema_dead_code=2,
            quantize_dropout=config.num_levels > 1, quantize_dropout_cutoff_index=0,
        )

    # ------------------------------------------------------------------ network
    def encode_features(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, N, F)`` features -> ``(B, N, latent_dim)`` continuous latents."""
        return self.encoder(features.transpose(1, 2)).transpose(1, 2)

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """``(B, N, latent_dim)`` latents -> ``(B, N, F)`` features."""
        return self.decoder(latents.transpose(1, 2)).transpose(1, 2)

    def forward(self, features: torch.Tensor):
        """Training pass: ``(reconstructed features, indices, commitment loss (scalar))``."""
        quantized, indices, commit = self.quantizer(self.encode_features(features))
        return self.decode_latents(quantized), indices, commit.sum()

    @torch.no_grad()
    def indices_from_features(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, N, F)`` -> ``(B, N, num_levels)`` int64 indices (eval mode: deterministic)."""
        was_training = self.training
        self.eval()
        try:
            _, indices, _ = self.quantizer(self.encode_features(features.float()))
        finally:
            self.train(was_training)
        return indices

    @torch.no_grad()
    def features_from_indices(self, indices: torch.Tensor, levels: int | None = None) -> torch.Tensor:
        """``(B, N, L)`` indices -> ``(B, N, F)`` features, using the first ``levels`` levels (default: all L).

        Raises:
            ValueError: indices out of range, more levels than the model has, or ``levels`` outside ``[1, L]``.
        """
        cfg = self.config
        indices = torch.as_tensor(indices, dtype=torch.int64)
        if indices.ndim != 3 or not 1 <= indices.shape[-1] <= cfg.num_levels:
            raise ValueError(f"token indices must have shape (B, N, 1..{cfg.num_levels}); got {tuple(indices.shape)}")
        if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= cfg.codebook_size):
            raise ValueError(f"token indices must lie in [0, {cfg.codebook_size}); got values in "
                             f"[{int(indices.min())}, {int(indices.max())}]; the tokens were made by another model")
        levels = indices.shape[-1] if levels is None else int(levels)
        if not 1 <= levels <= indices.shape[-1]:
            raise ValueError(f"levels must be in [1, {indices.shape[-1]}]; got {levels}")
        was_training = self.training
        self.eval()
        try:
            used = indices[..., :levels]
            if levels < cfg.num_levels:  # the library marks unused levels with -1
                pad = torch.full((*used.shape[:-1], cfg.num_levels - levels), -1, dtype=torch.int64)
                used = torch.cat([used, pad], dim=-1)
            latents = self.quantizer.get_output_from_indices(used)
            return self.decode_latents(latents)
        finally:
            self.train(was_training)

    # ------------------------------------------------------------------ trajectories
    def encode(self, cameras: Cameras) -> tuple[torch.Tensor, PathFrame]:
        """A trajectory -> ``((N, num_levels) int64 indices, PathFrame)``. Deterministic."""
        features, frame = path_to_features(cameras)
        return self.indices_from_features(features[None].float())[0], frame

    def decode(self, indices: torch.Tensor, frame: PathFrame, levels: int | None = None) -> Cameras:
        """``(N, L)`` indices + :class:`PathFrame` -> trajectory, from the first ``levels`` levels.

        Frame 0 is the stored absolute first pose (its features are known: identity, zero centre, no zoom),
        so the decoded path starts exactly where the encoded one did.
        """
        indices = torch.as_tensor(indices, dtype=torch.int64)
        if indices.ndim != 2:
            raise ValueError(f"token indices of one path must have shape (N, levels); got {tuple(indices.shape)}")
        features = self.features_from_indices(indices[None], levels)[0].double()
        features[0] = torch.tensor([1.0, 0, 0, 0, 1, 0, 0, 0, 0, 0], dtype=torch.float64)
        return features_to_path(features, frame)

    # ------------------------------------------------------------------ files
    def save_pretrained(self, folder) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``folder`` (temp name + rename; 0644)."""
        from safetensors.torch import save_file

        from ..formats.text_files import atomic_path, write_text_atomic

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous().clone() for k, v in self.state_dict().items()}
        with atomic_path(folder / "model.safetensors") as tmp:
            save_file(state, tmp)
        write_text_atomic(folder / "config.json", json.dumps(asdict(self.config), indent=1))
        return folder

    @classmethod
    def from_pretrained(cls, folder=None) -> CameraTokenizer:
        """Load a :meth:`save_pretrained` folder (default: the bundled :data:`BUNDLED_TOKENIZER_DIR`).

        Raises:
            FileNotFoundError: no ``config.json`` / ``model.safetensors`` in the folder.
            ValueError: a config or weights that do not match this architecture.
        """
        from safetensors.torch import load_file

        folder = Path(folder) if folder is not None else BUNDLED_TOKENIZER_DIR
        if folder.is_file():
            folder = folder.parent
        cfg_path, weights = folder / "config.json", folder / "model.safetensors"
        for p in (cfg_path, weights):
            if not p.is_file():
                raise FileNotFoundError(f"camera tokenizer file {p} not found; point at a folder written by "
                                        "CameraTokenizer.save_pretrained")
        try:
            config = TokenizerConfig(**json.loads(cfg_path.read_text()))
        except (TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"camera tokenizer config {cfg_path} is malformed ({exc})") from None
        model = cls(config)
        try:
            model.load_state_dict(load_file(str(weights)))
        except RuntimeError as exc:
            raise ValueError(f"camera tokenizer weights {weights} do not match its config: {str(exc)[:200]}") from None
        return model.eval()


def tokens_to_json(indices: torch.Tensor, frame: PathFrame, model_name: str, config: TokenizerConfig) -> dict:
    """The JSON document of ``raxel tokens encode``: indices ``(N, L)`` as nested lists plus the frame."""
    return {"format": TOKENS_FORMAT, "version": 1, "model": model_name, "num_levels": config.num_levels,
            "codebook_size": config.codebook_size, "num_frames": int(indices.shape[0]),
            "indices": indices.tolist(), "frame": frame.to_json()}


def tokens_from_json(data) -> tuple[torch.Tensor, PathFrame, dict]:
    """Parse a tokens document: ``((N, L) int64 indices, PathFrame, header dict)``.

    Raises:
        ValueError: not a tokens document, or indices that are not an ``N x L`` table of whole numbers.
    """
    if not isinstance(data, dict) or data.get("format") != TOKENS_FORMAT:
        raise ValueError(f"not a camera tokens file (expected \"format\": \"{TOKENS_FORMAT}\"); make one with "
                         "raxel tokens encode")
    rows = data.get("indices")
    if not isinstance(rows, list) or not rows or not all(isinstance(r, list) and r for r in rows):
        raise ValueError("camera tokens: 'indices' must be a non-empty list of per-frame lists")
    if len({len(r) for r in rows}) != 1 or not all(isinstance(v, int) and not isinstance(v, bool)
                                                   for r in rows for v in r):
        raise ValueError("camera tokens: 'indices' must hold the same number of whole numbers for every frame")
    header = {k: data.get(k) for k in ("model", "num_levels", "codebook_size", "num_frames")}
    return torch.tensor(rows, dtype=torch.int64), PathFrame.from_json(data.get("frame") or {}), header
