"""Raxels: cameras <-> ray images (Rays as Pixels, arXiv 2604.09429, Sec. 3.2 and 3.5).

A *raxel map* is one 3-channel image per camera. Pick a reference (source) camera ``s``; every
camera ``j`` gets the relative pose ``P_rel(j) = P_s^-1 P_j`` (camera-to-world poses, so
``P_rel(j)`` maps camera ``j`` coordinates to reference coordinates and ``P_rel(s) = I``). With our
world-to-camera ``Cameras`` (``x_cam = R X + t``, centre ``c = -R^T t``):

* rotation of ``P_rel(j)``:   ``R_rel(j) = R_s R_j^T``          (camera j axes -> reference axes)
* centre of camera ``j``:     ``o_j = R_s (c_j - c_s)``        (reference coordinates)

For the pixel centre ``u = (x + 0.5, y + 0.5)`` of the raxel grid, with ``K`` rescaled to that grid,
the unit ray direction in the reference frame is ``d = R_rel(j) K^-1 u~ / ||K^-1 u~||`` and the
raxel stores the 3-vector ``d + o_j / scale`` (the point one unit along the ray, translation
normalised).

Translation normalisation (the paper does not publish its choice; this is ours):
``scale = max_j ||o_j||``, the largest distance of any camera from the reference camera, so every
``|o_j / scale| <= 1``. A static or rotation-only trajectory (``scale`` below
:data:`STATIC_TRANSLATION_TOLERANCE` times the scene's size) keeps ``scale = 1``. ``scale`` and the
reference camera's world pose travel with the maps (:class:`RaxelMaps`, :meth:`RaxelMaps.metadata`)
so :func:`decode_raxels` restores original units and the original world frame.

Image range: ``|d| = 1`` and ``|o / scale| <= 1`` put each channel in ``[-2, 2]``, so
``image = (value + 2) / 4`` lies in ``[0, 1]`` (ComfyUI ``IMAGE``, float32) and the 8-bit PNG value
is ``round(image * 255)``. One 8-bit step is ``4 / 255 ~= 0.0157`` in ray units.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from .cameras import Cameras, _as_tensor, project_to_rotation

#: Raxel values ``d + o / scale`` lie in this closed interval per channel.
VALUE_RANGE = (-2.0, 2.0)

#: A trajectory whose cameras all lie within ``STATIC_TRANSLATION_TOLERANCE * max(1, max ||c||)``
#: of the reference camera is treated as static / rotation-only and gets ``scale = 1``: its
#: relative translations are rounding noise, and dividing by them would blow the noise up.
STATIC_TRANSLATION_TOLERANCE = 1e-9

#: Version of the dict written by :meth:`RaxelMaps.metadata`.
METADATA_VERSION = 1

# Decoding parameters (see decode_raxels).
_IRLS_ITERATIONS = (5, 3)     # Tukey reweighting rounds of the two sample fits (2nd warm-started)
_TUKEY_C = 4.0                # Tukey cut-off in units of the median point residual
_RESIDUAL_FLOOR = 1e-6        # ray units; residuals below it never down-weight (exact data)
_FOCAL_ROUNDS = 2             # Procrustes fits on the sample; round 2 uses each frame's own focal
_FOCAL_MIN_OFFSET = 0.25      # the focal rule skips pixels within this fraction of the half size
_SAMPLE_PIXELS = 4096         # pixels per frame for the robust iterations
_FINAL_PIXELS = 32768         # pixels per frame for the final refit and focal rule
_CHUNK_PIXELS = 131072        # pixels per chunk of frames in the final refit
_REFERENCE_NORM_TOLERANCE = 0.1   # median | |ray| - 1 | of the reference frame (8-bit: ~0.005)
FOCAL_RULES = ("interquartile_mean", "median")


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
        rays = _as_tensor(self.rays)
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
            K = _as_tensor(self.K)
            if K.ndim == 2:
                K = K.expand(n, 3, 3).clone()
            if K.shape != (n, 3, 3):
                raise ValueError(f"raxel K must have shape ({n}, 3, 3); got {tuple(K.shape)}")
            object.__setattr__(self, "K", K)
        if self.reference_w2c is not None:
            m = _as_tensor(self.reference_w2c)
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
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(
                f"raxel images must have shape (N, H, W, 3) with 3 channels; got {tuple(images.shape)}"
                " (drop an alpha channel, or convert a grayscale image, before decoding)"
            )
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
        if arr.ndim == 3:
            arr = arr[None]
        if arr.ndim != 4 or arr.shape[-1] != 3:
            raise ValueError(
                f"raxel images must have shape (N, H, W, 3) with 3 channels; got {arr.shape} (drop "
                "an alpha channel, or convert a grayscale image, before decoding)"
            )
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


def default_raxel_size(image_size: tuple[int, int]) -> tuple[int, int]:
    """Half the image size, rounded (Rays as Pixels: raxel maps are H/2 x W/2), at least 1."""
    h, w = image_size
    return max(1, round(h / 2)), max(1, round(w / 2))


def pixel_centers(size: tuple[int, int], dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates ``(u, v)`` of an ``(h, w)`` grid, each ``(h * w,)``, row-major:
    ``u = x + 0.5``, ``v = y + 0.5`` in pixels from the top-left corner (the ``Cameras`` convention,
    image centre ``(w / 2, h / 2)``)."""
    h, w = size
    v, u = torch.meshgrid(
        torch.arange(h, dtype=dtype) + 0.5, torch.arange(w, dtype=dtype) + 0.5, indexing="ij"
    )
    return u.reshape(-1), v.reshape(-1)


def local_ray_directions(K: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Unit ray directions ``K^-1 u~ / ||K^-1 u~||`` in each camera's own frame.

    Args:
        K: ``(N, 3, 3)`` float64 pixel intrinsics for an ``size = (h, w)`` image (skew allowed).
    Returns:
        ``(N, h * w, 3)`` float64, pixel centres row-major (see :func:`pixel_centers`).
    """
    u, v = pixel_centers(size, K.dtype)
    fx, fy, cx, cy, s = (K[:, 0, 0, None], K[:, 1, 1, None], K[:, 0, 2, None], K[:, 1, 2, None],
                         K[:, 0, 1, None])
    y = (v - cy) / fy                      # v = fy * y + cy
    x = (u - cx - s * y) / fx              # u = fx * x + s * y + cx
    d = torch.stack([x, y, torch.ones_like(x)], dim=-1)
    return d / torch.linalg.norm(d, dim=-1, keepdim=True)


def relative_rays(cameras: Cameras, size: tuple[int, int] | None = None, reference: int = 0):
    """Ray bundles of every camera in the reference camera's frame (scene units).

    Args:
        cameras: ``N`` cameras (any world frame).
        size: ``(h, w)`` pixel grid; ``None`` keeps ``cameras.image_size``. K is rescaled to it.
        reference: index of the reference camera (``P_rel(reference) = I``).
    Returns:
        ``(d, o, R_rel, K)``: ``d`` ``(N, h, w, 3)`` unit directions, ``o`` ``(N, 3)`` camera
        centres, ``R_rel`` ``(N, 3, 3)`` camera-to-reference rotations ``R_s R_j^T``, ``K``
        ``(N, 3, 3)`` at the grid; all float64 in the reference frame. Rotations are first
        projected onto SO(3) (:func:`raxel_core.cameras.project_to_rotation`); centres are kept.
    Raises:
        ValueError: a bad size or reference index, or an invalid trajectory.
    """
    n = len(cameras)
    if not -n <= reference < n:
        raise ValueError(f"reference camera {reference} is outside the trajectory's {n} frames")
    reference %= n
    size = tuple(cameras.image_size) if size is None else _check_size(size)
    K = cameras.with_image_size(size).K
    # Text formats store rotations orthonormal to ~1e-7 only: use the nearest rotation so every
    # d is a unit vector and the map is an exact rigid motion of the camera's ray grid.
    R = project_to_rotation(cameras.R)
    c = cameras.centers
    R_rel = R[reference] @ R.transpose(1, 2)                    # camera j axes -> reference axes
    o = (c - c[reference]) @ R[reference].T                     # o_j = R_s (c_j - c_s)
    if bool((K == K[:1]).all()):                                # shared intrinsics: one grid
        d_local = local_ray_directions(K[:1], size)[0]          # (P, 3)
        d = torch.matmul(d_local, R_rel.transpose(1, 2))        # d = R_rel d_local, (N, P, 3)
    else:
        d = torch.bmm(local_ray_directions(K, size), R_rel.transpose(1, 2))
    return d.reshape(n, size[0], size[1], 3), o, R_rel, K


def _proper_w2c(cameras: Cameras, index: int) -> torch.Tensor:
    """``(4, 4)`` world-to-camera of camera ``index`` with its rotation projected onto SO(3) and
    its centre kept (the pose the raxels were encoded with)."""
    R = project_to_rotation(cameras.R[index : index + 1])[0]
    m = torch.eye(4, dtype=torch.float64)
    m[:3, :3], m[:3, 3] = R, -R @ cameras.centers[index]
    return m


def _check_size(size) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (height, width) in pixels; got {size!r}") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"size must be positive (height, width) pixels; got {size!r}")
    return h, w


def encode_raxels(cameras: Cameras, size: tuple[int, int] | None = None, reference: int = 0) -> RaxelMaps:
    """Encode a trajectory as raxel maps (Rays as Pixels, Sec. 3.2).

    Each pixel of camera ``j`` stores ``d + o_j / scale``: ``d`` the unit direction of the ray
    through the pixel centre, ``o_j`` camera ``j``'s centre, both in the reference camera's frame
    (see the module docstring for the formulas and the scale).

    Args:
        cameras: ``N`` cameras; validated (``ValueError`` names the bad frame).
        size: ``(h, w)`` raxel grid; default half ``cameras.image_size``, rounded. K is rescaled
            to it (a plain resize of the image).
        reference: index of the reference (source) camera; negative counts from the end.
    Returns:
        :class:`RaxelMaps` with ``rays (N, h, w, 3)`` float64, the scale, the reference index and
        its world pose, K at the grid and the source image size.
    Raises:
        ValueError: invalid cameras, size or reference index.
    """
    cameras.validate("encode_raxels")
    size = default_raxel_size(cameras.image_size) if size is None else _check_size(size)
    d, o, _, K = relative_rays(cameras, size, reference)
    scale = float(torch.linalg.norm(o, dim=-1).max())
    extent = max(1.0, float(torch.linalg.norm(cameras.centers, dim=-1).max()))
    if scale <= STATIC_TRANSLATION_TOLERANCE * extent:
        scale = 1.0                          # static / rotation-only: nothing to normalise
    rays = d.add_((o / scale)[:, None, None, :])
    reference %= len(cameras)
    return RaxelMaps(
        rays=rays,
        scale=scale,
        reference=reference,
        K=K,
        source_image_size=cameras.image_size,
        reference_w2c=_proper_w2c(cameras, reference),
        fps=cameras.fps,
    )


# --------------------------------------------------------------------------- decoding
def _det3(M: torch.Tensor) -> torch.Tensor:
    """Determinants of ``(N, 3, 3)`` matrices by the rule of Sarrus (LU is slow for 3x3 on CPU)."""
    return (
        M[:, 0, 0] * (M[:, 1, 1] * M[:, 2, 2] - M[:, 1, 2] * M[:, 2, 1])
        - M[:, 0, 1] * (M[:, 1, 0] * M[:, 2, 2] - M[:, 1, 2] * M[:, 2, 0])
        + M[:, 0, 2] * (M[:, 1, 0] * M[:, 2, 1] - M[:, 1, 1] * M[:, 2, 0])
    )


def _procrustes(H: torch.Tensor, a_bar: torch.Tensor, p_bar: torch.Tensor):
    """Closed-form rigid fit (Kabsch / Umeyama without scale) from the weighted cross-covariance
    ``H = sum_i w_i (a_i - a_bar)(p_i - p_bar)^T`` ``(N, 3, 3)``: ``R = V diag(1, 1, s) U^T`` with
    ``H = U S V^T`` and ``s = det(V U^T)``, and ``o = p_bar - R a_bar``. Minimises
    ``sum_i w_i ||p_i - (R a_i + o)||^2``."""
    U, _, Vh = torch.linalg.svd(H)
    V = Vh.transpose(1, 2)
    sign = torch.sign(_det3(V @ U.transpose(1, 2)))
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    D = torch.ones(H.shape[0], 1, 3, dtype=H.dtype)
    D[:, 0, 2] = sign
    R = (V * D) @ U.transpose(1, 2)
    o = p_bar - (R @ a_bar[..., None])[..., 0]
    return R, o


def _kabsch(a: torch.Tensor, p: torch.Tensor, w: torch.Tensor):
    """Weighted Kabsch with centroids, batched: ``a, p`` ``(N, P, 3)``, ``w`` ``(N, P)``."""
    wsum = w.sum(dim=1).clamp_min(1e-300)[:, None]
    a_bar = torch.bmm(w[:, None, :], a)[:, 0] / wsum
    p_bar = torch.bmm(w[:, None, :], p)[:, 0] / wsum
    # H = sum w a p^T - W a_bar p_bar^T
    H = torch.bmm((a * w[..., None]).transpose(1, 2), p) - wsum[..., None] * a_bar[:, :, None] * p_bar[:, None, :]
    return _procrustes(H, a_bar, p_bar)


def _tukey(r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Tukey biweight ``(1 - (r / c)^2)^2`` for ``r < c``, else 0."""
    return (1 - (r / c).square()).clamp_min(0).square()


def _residual_cutoff(r: torch.Tensor) -> torch.Tensor:
    """``(N, 1)`` Tukey cut-off ``max(_TUKEY_C * median(r), _RESIDUAL_FLOOR)`` per frame."""
    return (_TUKEY_C * r.median(dim=1).values).clamp_min(_RESIDUAL_FLOOR)[:, None]


def _robust_kabsch(a: torch.Tensor, p: torch.Tensor, w: torch.Tensor, iterations: int):
    """Kabsch with Tukey-biweight IRLS on the point residuals ``r = ||p - (R a + o)||``.
    Returns ``R, o, w, r, c`` (weights and residuals of the returned fit, cut-off used)."""
    for _ in range(iterations):
        R, o = _kabsch(a, p, w)
        r = torch.linalg.norm(p - torch.bmm(a, R.transpose(1, 2)) - o[:, None, :], dim=-1)
        c = _residual_cutoff(r)
        w = _tukey(r, c)
    return R, o, w, r, c


def _focal_rule(num: torch.Tensor, den: torch.Tensor, mask: torch.Tensor, rule: str, what: str) -> torch.Tensor:
    """Per frame, the ``rule`` statistic of ``num / den`` over ``mask`` (all ``(N, P)``):
    ``"median"`` (the paper's rule) or ``"interquartile_mean"`` (the mean of the central half of
    the sorted ratios: as robust to a quarter of outliers, and it averages over 8-bit
    quantisation steps instead of landing on one)."""
    ratio = torch.where(mask, num / torch.where(mask, den, torch.ones_like(den)), torch.nan)
    count = mask.sum(dim=1)
    if rule == "median":
        f = torch.nanmedian(ratio, dim=1).values
    else:
        ordered = torch.sort(ratio, dim=1).values                    # NaN sorts last
        idx = torch.arange(ratio.shape[1])[None, :]
        lo, hi = (count // 4)[:, None], (count - count // 4)[:, None]
        keep = (idx >= lo) & (idx < hi)
        f = torch.where(keep, ordered, 0.0).sum(dim=1) / keep.sum(dim=1)
    bad = (count == 0) | ~torch.isfinite(f) | (f <= 0)
    if bad.any():
        k = int(bad.nonzero()[0])
        raise ValueError(
            f"raxel frame {k}: cannot estimate the {what} focal length (no consistent rays in "
            "front of the camera); the image is not a valid raxel map (it must be encoded as "
            "(value + 2) / 4, unaltered) or the principal point is wrong"
        )
    return f


def decode_raxels(
    maps: RaxelMaps,
    principal_point: tuple[float, float] | None = None,
    focal_rule: str = "interquartile_mean",
) -> Cameras:
    """Recover cameras from raxel maps (Rays as Pixels, Sec. 3.5), robustly, fully vectorised.

    The paper solves, per frame ``k``,
    ``P_rel(k) = argmin_{P in SE(3)} sum_ij ||R_k(ij) - P R_s(ij)||^2`` against the source frame's
    raxels ``R_s(ij) = d_s(ij) + 0``. When all cameras share intrinsics the same pixel has the
    same local ray in every camera, so ``R_s(ij)`` is exactly the ray grid of an *identity camera*,
    ``a_ij = normalize(K^-1 u~_ij)``, and ``R_k(ij) = R_rel(k) a_ij + o_k`` is a rigid motion of
    it: Kabsch with centroids (no scale) recovers ``R_rel(k), o_k`` exactly. This implementation:

    1. estimates the focal from the reference frame (``R = I``, ``o = 0`` by definition) with the
       paper's median rule (step 3) and builds the identity camera's grid from it (noise-free, unlike the
       decoded ``R_s``);
    2. registers every frame to that grid: batched Kabsch (SVD of 3x3 cross-covariances) with
       Tukey-biweight IRLS on the point residuals (cut-off 4x the median residual), so outlier
       pixels (a generator's artefacts, corruption) get weight 0. The iterations run on a fixed
       pseudo-random sample of 4096 pixels per frame, symmetric about the image centre;
    3. focal from the local rays ``d_local = R_rel^T (R_k(ij) - o_k)``: the paper's
       ``fx = median(u z / x)``, ``fy = median(v z / y)`` with ``(u, v)`` pixel offsets from the
       principal point, over inlier pixels at least 1/4 of the half width / height away from it
       (so ``x``, ``y`` are not tiny). ``focal_rule="interquartile_mean"`` (default) averages the
       central half of those ratios instead of taking the middle one: equally robust to
       outliers, and 2-5x more accurate on 8-bit images, whose ratios come in quantisation steps
       (8-bit precision falls with the field of view: fewer steps span a narrow image). The
       intermediate estimates of steps 1 and 4 always use the median;
    4. repeats 2-3 with each frame's own focal in the grid, which keeps the translation exact
       when the focal changes along the trajectory: a wrong grid focal moves the grid's centroid
       along the optical axis (the rotation is unaffected, by the grid's symmetry), so before the
       focal rule in these rounds the axial offset is restored from ``|d_local| = 1``
       (``delta = median(q_z - sqrt(1 - q_x^2 - q_y^2))`` over inliers);
    5. refits every frame once on a larger symmetric sample (every pixel of maps up to 32768
       pixels, e.g. 128x208; a third of a 240x416 map) with the Tukey cut-off of the sample fit
       and one weighted Kabsch, then applies the focal rule there. Sampling bounds the cost per
       frame; 8-bit errors are dominated by quantisation patterns, not by the pixel count.

    Args:
        maps: raxel maps (from :func:`encode_raxels`, or :meth:`RaxelMaps.from_image`).
        principal_point: ``(cx, cy)`` as fractions of the width and height (RealEstate10K style);
            default ``(0.5, 0.5)``, the image centre (the paper's assumption).
        focal_rule: ``"interquartile_mean"`` or ``"median"`` (see step 3).
    Returns:
        ``Cameras`` with ``N`` frames at ``maps.source_image_size`` (the raxel grid size when
        unknown; K scaled up from the grid, principal point as given). Translations are multiplied
        back by ``maps.scale``. When ``maps.reference_w2c`` is known the cameras are in the
        ORIGINAL world frame; otherwise relative to the reference camera (``R = I``, ``t = 0``
        there, OpenCV axes). ``metadata["raxel_decode"]`` holds per-frame diagnostics:
        ``inlier_fraction`` (pixels of the final sample with non-zero weight) and ``rms_residual``
        (ray units, over those inliers; ~0.006 for clean 8-bit maps).
    Raises:
        ValueError: a bad principal point or focal rule; a reference frame whose rays are not
            unit vectors (median ``| |d| - 1 | > 0.1``: not a raxel map, or a wrong reference
            index); a frame from which no focal can be estimated.
    """
    if focal_rule not in FOCAL_RULES:
        raise ValueError(f"focal_rule must be one of {FOCAL_RULES}; got {focal_rule!r}")
    n, h, w, _ = maps.rays.shape
    P = h * w
    p = maps.rays.reshape(n, P, 3)
    cx_f, cy_f = (0.5, 0.5) if principal_point is None else (float(v) for v in principal_point)
    if not (0 < cx_f < 1 and 0 < cy_f < 1):
        raise ValueError(
            f"principal_point must be (cx, cy) as fractions of width and height, each in (0, 1); "
            f"got {principal_point!r}"
        )
    cx, cy = cx_f * w, cy_f * h
    u, v = pixel_centers((h, w))
    uc, vc = u - cx, v - cy                              # pixel offsets from the principal point
    umask = uc.abs() >= _FOCAL_MIN_OFFSET * max(cx, w - cx)
    vmask = vc.abs() >= _FOCAL_MIN_OFFSET * max(cy, h - cy)
    if not umask.any():
        umask = uc != 0
    if not vmask.any():
        vmask = vc != 0

    # the reference camera's raxels are its own unit rays (o = 0): a cheap check that this is a
    # raxel map with the right reference index before fitting anything
    ref = maps.reference
    norm_error = (torch.linalg.norm(p[ref, ::max(1, P // _SAMPLE_PIXELS)], dim=-1) - 1).abs().median()
    if float(norm_error) > _REFERENCE_NORM_TOLERANCE:
        raise ValueError(
            f"the reference frame {ref} of these raxel maps is not made of unit rays (median "
            f"| |d| - 1 | = {float(norm_error):.3f}); this is not a raxel map, it was not encoded as "
            "(value + 2) / 4, or the reference index in its metadata is wrong"
        )

    # fixed pseudo-random pixel samples (deterministic), closed under the point reflection about
    # the image centre (pixel i <-> P - 1 - i) so that, like the full grid, they keep the Kabsch
    # cross-covariance of two centred grids symmetric (rotation unbiased by a wrong grid focal)
    half = torch.randperm((P + 1) // 2, generator=torch.Generator().manual_seed(0))

    def symmetric_sample(count: int) -> torch.Tensor:
        if count >= P:
            return torch.arange(P)
        first = half[: max(1, count // 2)]
        return torch.cat([first, P - 1 - first]).sort().values       # an odd P's centre may repeat

    sample, fsample = symmetric_sample(_SAMPLE_PIXELS), symmetric_sample(_FINAL_PIXELS)
    ps = p[:, sample]

    def focal(dl: torch.Tensor, inlier: torch.Tensor, idx: torch.Tensor, rule: str = "median"):
        """fx, fy by ``rule`` from local rays ``dl`` ``(N, M, 3)`` at pixels ``idx`` ``(M,)``;
        only the pixels away from the principal point enter (selected before the arithmetic)."""
        out = []
        for axis, offset, mask, what in ((0, uc, umask, "horizontal"), (1, vc, vmask, "vertical")):
            keep = mask[idx].nonzero()[:, 0]
            z, xy = dl[:, keep, 2], dl[:, keep, axis]
            ok = inlier[:, keep] & (z > 0)
            out.append(_focal_rule(offset[idx][keep] * z, xy, ok, rule, what))
        return out

    def grid(fx, fy, uc_, vc_):
        """Identity-camera rays ``normalize(K^-1 u~)`` for per-frame focals: ``(N, M, 3)``."""
        d = torch.empty(fx.shape[0], uc_.shape[0], 3, dtype=p.dtype)
        torch.div(uc_[None, :], fx[:, None], out=d[..., 0])           # x = (u - cx) / fx
        torch.div(vc_[None, :], fy[:, None], out=d[..., 1])           # y = (v - cy) / fy
        d[..., 2] = 1
        return d.mul_(torch.linalg.vector_norm(d, dim=-1, keepdim=True).reciprocal_())

    # 1. focal of the reference frame, whose pose is the identity
    fx, fy = focal(ps[ref:ref + 1], torch.ones(1, ps.shape[1], dtype=torch.bool), sample)
    fx, fy = fx.expand(n).clone(), fy.expand(n).clone()
    # 2-4. robust registration and focal on the sample
    ws = torch.ones(n, ps.shape[1], dtype=p.dtype)
    for rnd in range(_FOCAL_ROUNDS):
        R, o, ws, r, c = _robust_kabsch(grid(fx, fy, uc[sample], vc[sample]), ps, ws, _IRLS_ITERATIONS[rnd])
        q = torch.bmm(ps - o[:, None, :], R)                          # d_local = R^T (p - o)
        # With a wrong grid focal only the axial offset is wrong; |d_local| = 1 fixes it:
        # delta = median(q_z - sqrt(1 - q_x^2 - q_y^2)) over inliers.
        axial = q[..., 2] - (1 - q[..., 0].square() - q[..., 1].square()).clamp_min(0).sqrt()
        delta = torch.nanmedian(torch.where(ws > 0, axial, torch.nan), dim=1).values
        q[..., 2] -= delta[:, None]
        fx, fy = focal(q, ws > 0, sample)

    # 5. one Tukey-weighted refit on the final sample (all pixels of maps up to _FINAL_PIXELS),
    # in chunks of frames small enough to stay in cache (a loop over frames, never over pixels)
    uf, vf = uc[fsample], vc[fsample]
    step = max(1, _CHUNK_PIXELS // fsample.shape[0])
    R_out, o_out = torch.empty_like(R), torch.empty_like(o)
    rms, inlier_fraction = torch.empty(n, dtype=p.dtype), torch.empty(n, dtype=p.dtype)
    d_local = torch.empty(n, fsample.shape[0], 3, dtype=p.dtype)
    inliers = torch.empty(n, fsample.shape[0], dtype=torch.bool)
    for k in range(0, n, step):
        sl = slice(k, k + step)
        pk = p[sl][:, fsample] if _FINAL_PIXELS < P else p[sl]
        a = grid(fx[sl], fy[sl], uf, vf)
        # residual r = |p - o - R a|
        r = torch.linalg.norm(torch.baddbmm(pk - o[sl, None, :], a, R[sl].transpose(1, 2), alpha=-1), dim=-1)
        wk = _tukey(r, c[sl])
        Rk, ok = _kabsch(a, pk, wk)
        inlier = wk > 0
        rms[sl] = torch.sqrt((r.square() * inlier).sum(1) / inlier.sum(1).clamp_min(1))
        inlier_fraction[sl] = inlier.to(p.dtype).mean(dim=1)
        R_out[sl], o_out[sl], inliers[sl] = Rk, ok, inlier
        d_local[sl] = torch.bmm(pk - ok[:, None, :], Rk)                 # d_local = R^T (p - o)
    R, o = R_out, o_out
    fx, fy = focal(d_local, inliers, fsample, focal_rule)

    # R is camera k -> reference (R_rel), o the centre in normalised reference coordinates.
    o = o * maps.scale
    R_w2c = R.transpose(1, 2)                                        # reference -> camera k
    t_w2c = -(R_w2c @ o[..., None])[..., 0]
    if maps.reference_w2c is not None:                               # x_k = R^T (R_s X + t_s - o)
        R_ref, t_ref = maps.reference_w2c[:3, :3], maps.reference_w2c[:3, 3]
        t_w2c = t_w2c + R_w2c @ t_ref
        R_w2c = R_w2c @ R_ref
    K = Cameras.intrinsics_matrix(fx, fy, torch.full_like(fx, cx), torch.full_like(fy, cy))
    cams = Cameras(K=K, R=R_w2c, t=t_w2c, image_size=(h, w), fps=maps.fps)
    if maps.source_image_size is not None:
        cams = cams.with_image_size(maps.source_image_size)
    return replace(
        cams,
        metadata={"raxel_decode": {"inlier_fraction": inlier_fraction.tolist(), "rms_residual": rms.tolist()}},
    )
