"""Raxel maps: the image type of Rays as Pixels (arXiv 2604.09429, Sec. 3.2).

:class:`RaxelMaps` holds one 3-channel ray image per camera, ``d + o / scale`` in the reference
camera's frame (:mod:`raxel_core.rays.raxel_encode` has the formulas), with everything but the
pixels that decoding needs (scale, reference index and pose, K, sizes, fps).

Image range: ``|d| = 1`` and ``|o / scale| <= 1`` put each channel in ``[-2, 2]``
(:data:`VALUE_RANGE`), so ``image = (value + 2) / 4`` lies in ``[0, 1]`` (ComfyUI ``IMAGE``,
float32) and the 8-bit PNG value is ``round(image * 255)``. One 8-bit step is ``4 / 255 ~= 0.0157``
in ray units.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..tensors import as_float64

#: Raxel values ``d + o / scale`` lie in this closed interval per channel.
VALUE_RANGE = (-2.0, 2.0)

#: Version of the dict written by :meth:`RaxelMaps.metadata`.
METADATA_VERSION = 1


def _batch_of_rgb(images):
    """``(N, h, w, 3)`` images (a single ``(h, w, 3)`` image gets a batch axis); ``ValueError`` on any
    other shape. Works on numpy arrays and torch tensors alike."""
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(
            f"raxel images must have shape (N, H, W, 3) with 3 channels; got {tuple(images.shape)} (drop "
            "an alpha channel, or convert a grayscale image, before decoding)"
        )
    return images


@dataclass(frozen=True)
class RaxelMaps:
    """Raxel images of a trajectory (Rays as Pixels, Sec. 3.2).

    Attributes:
        rays: ``(N, h, w, 3)`` float64 ray points ``d + o / scale`` in the reference camera's frame
            (OpenCV axes), each channel in :data:`VALUE_RANGE`.
        scale: translation scale in scene units (``o = (rays - d) * scale``); 1 for a static or
            rotation-only trajectory, or when unknown.
        reference: index of the reference (source) camera, whose raxels are ``d + 0``.
        image_size: ``(h, w)`` of the raxel grid.
        K: ``(N, 3, 3)`` float64 pixel intrinsics at the raxel grid, or ``None`` when unknown
            (raxels produced by a model); :func:`decode_raxels` estimates focal lengths anyway.
        source_image_size: ``(H, W)`` of the cameras that were encoded (decoded cameras get this
            size), or ``None`` when unknown (then the raxel grid size is used).
        reference_w2c: ``(4, 4)`` float64 world-to-camera matrix of the reference camera, or
            ``None`` when unknown (then decoded cameras are relative to the reference camera).
        fps: frames per second of the trajectory, or ``None``.
    """

    rays: torch.Tensor
    scale: float = 1.0
    reference: int = 0
    image_size: tuple[int, int] | None = None
    K: torch.Tensor | None = None
    source_image_size: tuple[int, int] | None = None
    reference_w2c: torch.Tensor | None = None
    fps: float | None = None

    def __post_init__(self):
        rays = as_float64(self.rays)
        if rays.ndim != 4 or rays.shape[-1] != 3:
            raise ValueError(f"raxel rays must have shape (N, H, W, 3); got {tuple(rays.shape)}")
        n, h, w, _ = rays.shape
        if n == 0 or h == 0 or w == 0:
            raise ValueError(f"raxel maps are empty (shape {tuple(rays.shape)}); give at least one frame")
        if not math.isfinite(float(rays.sum())):            # one read, no temporary
            raise ValueError("raxel maps contain NaN or inf values; re-encode or re-decode the images")
        object.__setattr__(self, "rays", rays)
        if self.image_size is not None and tuple(int(v) for v in self.image_size) != (h, w):
            raise ValueError(
                f"raxel image_size {tuple(self.image_size)} does not match the rays' grid {(h, w)}"
            )
        object.__setattr__(self, "image_size", (h, w))
        scale = float(self.scale)
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"raxel scale must be a positive finite number; got {self.scale!r}")
        object.__setattr__(self, "scale", scale)
        ref = int(self.reference)
        if not 0 <= ref < n:
            raise ValueError(f"reference camera index {ref} is outside the {n} raxel frames")
        object.__setattr__(self, "reference", ref)
        if self.K is not None:
            K = as_float64(self.K)
            if K.ndim == 2:
                K = K.expand(n, 3, 3).clone()
            if K.shape != (n, 3, 3):
                raise ValueError(f"raxel K must have shape ({n}, 3, 3); got {tuple(K.shape)}")
            object.__setattr__(self, "K", K)
        if self.reference_w2c is not None:
            m = as_float64(self.reference_w2c)
            if m.shape == (3, 4):
                m = torch.cat([m, torch.tensor([[0.0, 0.0, 0.0, 1.0]], dtype=m.dtype)])
            if m.shape != (4, 4):
                raise ValueError(f"reference_w2c must be a 3x4 or 4x4 matrix; got {tuple(m.shape)}")
            object.__setattr__(self, "reference_w2c", m)
        if self.source_image_size is not None:
            object.__setattr__(self, "source_image_size", tuple(int(v) for v in self.source_image_size))

    def __len__(self) -> int:
        return self.rays.shape[0]

    # ----------------------------------------------------------------- images
    def to_image(self) -> torch.Tensor:
        """``(N, h, w, 3)`` float32 image in ``[0, 1]`` (ComfyUI ``IMAGE``): ``(value + 2) / 4``."""
        return (self.rays + 2.0).div_(4.0).clamp_(0.0, 1.0).to(torch.float32)

    def to_uint8(self) -> np.ndarray:
        """``(N, h, w, 3)`` uint8 RGB for PNG files: ``round(255 * (value + 2) / 4)``."""
        image = (self.rays + 2.0).div_(4.0).clamp_(0.0, 1.0)
        return image.mul_(255.0).round_().to(torch.uint8).numpy()

    @classmethod
    def from_image(cls, images, metadata: dict | None = None) -> RaxelMaps:
        """Raxel maps from ``(N, h, w, 3)`` (or ``(h, w, 3)``) float images in ``[0, 1]``.

        Args:
            images: torch tensor or numpy array, any float dtype (ComfyUI ``IMAGE``).
            metadata: the dict from :meth:`metadata` (scale, reference, reference pose, K, sizes),
                or ``None`` for raxels without it (a model's output): then ``scale = 1``,
                ``reference = 0``, no K, no reference pose, and decoded cameras are relative to
                frame 0 in normalised units. If the images were resized since the metadata was
                written, K is rescaled to the new grid (a plain resize).

        Raises:
            ValueError: wrong shape or channel count, values outside ``[0, 1]``, or metadata that
                does not match the images (frame count, version).
        """
        images = _to_float64(images, "raxel images")
        images = _batch_of_rgb(images)
        lo, hi = float(images.min()), float(images.max())
        if lo < -1e-6 or hi > 1 + 1e-6:
            raise ValueError(
                f"raxel images must lie in [0, 1]; got values in [{lo:.4g}, {hi:.4g}] (8-bit "
                "images: use RaxelMaps.from_uint8, or divide by 255)"
            )
        return cls._from_values(images * 4.0 - 2.0, metadata)

    @classmethod
    def from_uint8(cls, images, metadata: dict | None = None) -> RaxelMaps:
        """Raxel maps from ``(N, h, w, 3)`` uint8 images (PNG): ``value = 4 * images / 255 - 2``.

        ``metadata`` as in :meth:`from_image`. Raises ``ValueError`` on a non-uint8 array or a
        wrong shape.
        """
        arr = images.numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
        if arr.dtype != np.uint8:
            raise ValueError(
                f"from_uint8 expects uint8 images; got {arr.dtype} (float images in [0, 1]: use "
                "RaxelMaps.from_image)"
            )
        arr = _batch_of_rgb(arr)
        values = torch.from_numpy(np.ascontiguousarray(arr)).to(torch.float64)
        return cls._from_values(values.mul_(4.0 / 255.0).sub_(2.0), metadata)   # 4 k / 255 - 2

    @classmethod
    def _from_values(cls, rays: torch.Tensor, metadata: dict | None) -> RaxelMaps:
        n, h, w, _ = rays.shape
        if metadata is None:
            return cls(rays=rays)
        if not isinstance(metadata, dict):
            raise ValueError(f"raxel metadata must be a dict (RaxelMaps.metadata()); got {type(metadata).__name__}")
        version = metadata.get("version", METADATA_VERSION)
        if version != METADATA_VERSION:
            raise ValueError(
                f"raxel metadata version {version} is not supported (this version reads "
                f"{METADATA_VERSION}); re-encode the trajectory with this version"
            )
        vr = metadata.get("value_range", list(VALUE_RANGE))
        if [float(v) for v in vr] != list(VALUE_RANGE):
            raise ValueError(f"raxel metadata value_range {vr} differs from {list(VALUE_RANGE)}")
        K = metadata.get("K")
        if K is not None:
            K = torch.as_tensor(K, dtype=torch.float64)
            if K.ndim != 3 or K.shape[0] != n:
                raise ValueError(
                    f"raxel metadata holds K for {K.shape[0] if K.ndim == 3 else '?'} frames but "
                    f"the images have {n}; use the metadata written with these images"
                )
            grid = metadata.get("image_size")
            if grid is not None and tuple(grid) != (h, w):
                K = K.clone()
                K[:, 0] *= w / grid[1]
                K[:, 1] *= h / grid[0]
        ref_pose = metadata.get("reference_w2c")
        return cls(
            rays=rays,
            scale=float(metadata.get("scale", 1.0)),
            reference=int(metadata.get("reference", 0)),
            K=K,
            source_image_size=metadata.get("source_image_size"),
            reference_w2c=None if ref_pose is None else torch.as_tensor(ref_pose, dtype=torch.float64),
            fps=metadata.get("fps"),
        )

    def metadata(self) -> dict[str, Any]:
        """JSON-safe dict of everything but the pixels: format, version, scale, reference index
        and world-to-camera pose, K at the raxel grid, grid and source image sizes, fps, the value
        range and the image mapping. :meth:`from_image` reads it back."""
        return {
            "format": "raxel_maps",
            "version": METADATA_VERSION,
            "scale": self.scale,
            "reference": self.reference,
            "reference_w2c": None if self.reference_w2c is None else self.reference_w2c.tolist(),
            "K": None if self.K is None else self.K.tolist(),
            "image_size": list(self.image_size),
            "source_image_size": None if self.source_image_size is None else list(self.source_image_size),
            "fps": self.fps,
            "value_range": list(VALUE_RANGE),
            "image_mapping": "image = (value + 2) / 4 in [0, 1]; uint8 = round(255 * image)",
        }


def _to_float64(x, what: str) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{what} must be a torch tensor or numpy array; got {type(x).__name__}")
    return x.detach().to(device="cpu", dtype=torch.float64)
