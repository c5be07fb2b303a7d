"""CamViG camera tokens as the joint model's third ray codec (:class:`CameraTokenCodec`).

CamViG (Marmon et al., arXiv 2405.13195, Sec. 3.3) makes the camera path a modality of its own: the
path is tokenised by a neural codec with residual vector quantisation and the video transformer
generates those tokens beside the video. Here the tokens of the pack's camera tokenizer
(:class:`raxel_core.tokens.CameraTokenizer`, bundled ``models/raxel-camtok-v1``: 4 RVQ levels per
frame) become a stream the joint model denoises with the same flow-matching objective as raxels.

Design (what the stream holds and why):

* **Continuous, not discrete.** Flow matching denoises real-valued tensors, so the stream holds the
  tokenizer's **pre-quantisation latent** ``z`` (its encoder's output, one ``latent_dim``-vector per
  frame). Decoding snaps ``z`` to tokens with the tokenizer's own residual quantiser (nearest code,
  level by level) and decodes the tokens, so the encode-decode round trip of the codec is exactly the
  tokenizer's (``tokens encode`` then ``tokens decode``), and what the model outputs is a token path
  (the indices are kept in the decoded cameras' metadata). Storing the quantised latent ``z_q``
  instead would re-quantise ``z_q`` on decode, which can pick other codes than the encoder did (a
  larger error than the tokenizer's, measured). Token embeddings learnt by the model with a
  categorical loss would need another objective than the paper's flow matching.
* **Normalised.** ``z`` is ~0.1 in size; the stream is ``(z - mu) / (3 sigma)`` per channel with
  ``mu, sigma`` the mean and standard deviation of the first level's codebook (fixed by the tokenizer
  weights, no data statistics), so it lies roughly in ``[-1, 1]`` as the raxel stream does.
* **Plus the focal length.** The tokens hold the path relative to frame 0 with its scale removed
  (:mod:`raxel_core.tokens.camera_features`); frame 0's intrinsics travel *beside* them
  (:class:`~raxel_core.tokens.PathFrame`). The stream adds two channels ``log(fx_0 / W)`` and
  ``log(fy_0 / H)`` (principal point at the image centre, as the raxel decoder assumes), so a
  decoded path has a focal length like the raxel and Plücker decodes. Channels: ``latent_dim + 2``
  (10 for ``raxel-camtok-v1``).
* **On the ray grid.** Each frame's ``latent_dim + 2`` numbers are repeated over the ray grid
  ``(h, w) = (H, W) / downscale``, the same grid, patching and token count as the raxel stream. So an
  ablation against raxels and Plücker rays runs the same network at the same cost (only the
  patch-embedding and output widths differ); decoding averages each frame over the grid.

Translation scale as the raxels: the farthest camera from frame 0 at distance 1. Cameras are
relative to frame 0 (the reference); :meth:`CameraTokenCodec.encode` takes ``reference=0`` only.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from ..cameras import Cameras
from .raxel_encode import encode_raxels
from .raxel_maps import RaxelMaps

#: The tokenizer the codec uses (``raxel_core.tokens.BUNDLED_TOKENIZER_DIR``; repeated here so that the
#: channel count is known without importing the tokenizer's libraries).
TOKENIZER_DIR = Path(__file__).resolve().parents[2] / "models" / "raxel-camtok-v1"
#: Channels after the token latent: ``log(fx_0 / W)``, ``log(fy_0 / H)``.
FOCAL_CHANNELS = 2
#: The stream is ``(z - mu) / (LATENT_SPREAD * sigma)`` (first-level codebook statistics).
LATENT_SPREAD = 3.0


def camera_token_channels(tokenizer_dir: str | Path = TOKENIZER_DIR) -> int:
    """Channels of the camera-token stream of the tokenizer in ``tokenizer_dir``: ``latent_dim + 2``
    (read from its ``config.json``; 10 for ``raxel-camtok-v1``). ``FileNotFoundError`` when missing."""
    path = Path(tokenizer_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"camera tokenizer config {path} not found; the camera-token codec needs "
                                "models/raxel-camtok-v1")
    return int(json.loads(path.read_text(encoding="utf-8"))["latent_dim"]) + FOCAL_CHANNELS


@lru_cache(maxsize=2)
def load_tokenizer(tokenizer_dir: str = str(TOKENIZER_DIR)):
    """The :class:`~raxel_core.tokens.CameraTokenizer` in ``tokenizer_dir`` (eval mode, loaded once),
    and its stream normalisation ``(mu, sigma)`` (``(latent_dim,)`` float32 each)."""
    from ..tokens import CameraTokenizer

    tokenizer = CameraTokenizer.from_pretrained(tokenizer_dir).eval()
    for p in tokenizer.parameters():
        p.requires_grad_(False)
    codes = tokenizer.quantizer.get_codes_from_indices(
        torch.arange(tokenizer.config.codebook_size)[None, :, None].expand(1, -1, tokenizer.config.num_levels))
    first = codes[0, 0].float()                                          # (codebook_size, latent_dim), level 0
    return tokenizer, first.mean(0), first.std(0)


@dataclass(frozen=True)
class CameraTokenCodec:
    """Camera tokens (CamViG) as a ray stream: ``(F, latent_dim + 2, h, w)`` float32 (module docstring).

    Attributes:
        downscale: the grid is the frame size divided by this (as the raxel stream: 2).
        quantize: snap a decoded stream to tokens before the tokenizer's decoder (default); ``False``
            decodes the continuous latent as it is.
        tokenizer_dir: the tokenizer (default the bundled ``raxel-camtok-v1``).
    """

    downscale: int = 2
    quantize: bool = True
    tokenizer_dir: str = str(TOKENIZER_DIR)
    name: str = "camera_tokens"
    vae_encodable: bool = False

    @property
    def channels(self) -> int:
        return camera_token_channels(self.tokenizer_dir)

    def grid_size(self, image_size: tuple[int, int]) -> tuple[int, int]:
        from .codecs import raxel_size_for

        return raxel_size_for(image_size, self.downscale)

    # ------------------------------------------------------------------ encode
    def encode_latents(self, cameras: Cameras) -> tuple[torch.Tensor, torch.Tensor]:
        """``(F, latent_dim + 2)`` float32 per-frame stream values of ``cameras`` (normalised
        pre-quantisation latent, then the two focal channels) and their ``(F, L)``
        int64 token indices (the tokenizer's :meth:`~raxel_core.tokens.CameraTokenizer.encode`)."""
        from ..tokens import path_to_features

        tokenizer, mu, sigma = load_tokenizer(self.tokenizer_dir)
        features, _ = path_to_features(cameras)
        with torch.no_grad():
            z = tokenizer.encode_features(features[None].float())
            _, indices, _ = tokenizer.quantizer(z)
        h, w = cameras.image_size
        focal = torch.stack([torch.log(cameras.K[0, 0, 0] / w), torch.log(cameras.K[0, 1, 1] / h)]).float()
        values = torch.cat([(z[0] - mu) / (LATENT_SPREAD * sigma), focal.expand(len(cameras), 2)], dim=1)
        return values.float().contiguous(), indices[0]

    def encode(self, cameras: Cameras, grid_size: tuple[int, int], reference: int = 0) -> torch.Tensor:
        """``(F, channels, h, w)`` float32: each frame's values repeated over the grid.

        Raises:
            ValueError: ``reference`` other than 0 (tokens are relative to frame 0; move the reference
                frame to the front first, as training does), or an invalid trajectory.
        """
        if reference != 0:
            raise ValueError(f"camera tokens are relative to frame 0; got reference {reference} (move the reference "
                             "frame to the front of the clip first)")
        values, _ = self.encode_latents(cameras)
        return values[:, :, None, None].expand(-1, -1, *grid_size).contiguous()

    # ------------------------------------------------------------------ decode
    def check_stream(self, stream: torch.Tensor) -> None:
        if stream.ndim != 4 or stream.shape[1] != self.channels:
            raise ValueError(f"a camera-token stream is (F, {self.channels}, h, w); got {tuple(stream.shape)}")
        if not bool(torch.isfinite(stream).all()):
            raise ValueError("the camera-token stream holds non-finite values (the model diverged)")

    def decode(self, stream: torch.Tensor, image_size: tuple[int, int] | None = None) -> Cameras:
        """Cameras (relative to frame 0, farthest centre at distance 1) of a stream ``(F, C, h, w)``.

        Each frame is averaged over the grid; the latent is un-normalised, snapped to tokens by the
        tokenizer's residual quantiser (when :attr:`quantize`) and decoded by the tokenizer; K has
        ``fx = W exp(mean log(fx_0 / W))``, ``fy`` likewise, the principal point at the centre.
        ``metadata["camera_tokens"]`` holds the ``(F, L)`` indices (``None`` without quantisation).

        Raises:
            ValueError: a stream of the wrong shape or with non-finite values.
        """
        from ..tokens import PathFrame

        self.check_stream(stream)
        tokenizer, mu, sigma = load_tokenizer(self.tokenizer_dir)
        values = stream.detach().float().cpu().mean(dim=(2, 3))           # (F, C)
        z = values[:, :-FOCAL_CHANNELS] * (LATENT_SPREAD * sigma) + mu
        h, w = image_size if image_size is not None else tuple(stream.shape[2:])
        log_fx, log_fy = values[:, -FOCAL_CHANNELS:].double().mean(0)
        K0 = torch.tensor([[w * math.exp(float(log_fx)), 0, w / 2], [0, h * math.exp(float(log_fy)), h / 2], [0, 0, 1]],
                          dtype=torch.float64)
        frame = PathFrame(R0=torch.eye(3, dtype=torch.float64), t0=torch.zeros(3, dtype=torch.float64), K0=K0,
                          scale=1.0, image_size=(int(h), int(w)))
        with torch.no_grad():
            if self.quantize:
                _, indices, _ = tokenizer.quantizer(z[None])
                cameras = tokenizer.decode(indices[0], frame)
            else:
                from ..tokens import features_to_path

                features = tokenizer.decode_latents(z[None])[0].double()
                features[0] = torch.tensor([1.0, 0, 0, 0, 1, 0, 0, 0, 0, 0], dtype=torch.float64)
                cameras = features_to_path(features, frame)
                indices = None
        cameras.metadata["camera_tokens"] = None if indices is None else indices[0].tolist()
        return cameras

    def normalize_reference(self, stream: torch.Tensor) -> tuple[torch.Tensor, float | None]:
        """Unchanged: frame 0 is the identity by construction of the tokens' decoder."""
        return stream, None

    def raxel_maps(self, stream: torch.Tensor, cameras: Cameras | None, raxel_size: tuple[int, int]) -> RaxelMaps:
        """The raxels of ``cameras`` (the decoded or given path) at ``raxel_size``."""
        return encode_raxels(cameras, size=raxel_size, reference=0)
