"""Masks of what pose estimation must ignore: moving things (people, cars, animals, a hand) whose
features would follow their own motion instead of the camera's.

A mask marks the pixels to **ignore** with 1 (ComfyUI's ``MASK``: ``(N, H, W)`` float, 1 = masked, as
any segmentation node gives it; a mask image file: white = masked). No SIFT feature is extracted
inside the mask, so nothing there is matched, verified or mapped (COLMAP's mask convention, as its
``ImageReaderOptions.mask_path`` files: black = no features; :func:`mask_image` makes that image, inverting
the convention, and OpenCV's SIFT takes it as its ``mask``). A mask is taken **at the frames' size**: a mask of
another size is refused (resampling it would shift it against the frame without telling anyone).

:class:`MaskStream` pairs masks with frames one at a time as the frames are written to the workspace
(:func:`raxel_core.pose.estimate.stream_frames`), so masks of a long clip are never converted all at
once: one mask per frame, or one mask for every frame (a logo, a fixed foreground).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np
import torch

#: A mask value at or above this (after scaling to [0, 1]) marks the pixel as ignored.
MASK_THRESHOLD = 0.5
#: A frame whose mask covers at least this fraction of its pixels is "entirely masked" in the messages.
FULLY_MASKED_FRACTION = 0.999
#: How to fix a mask of another size in ComfyUI (core nodes) and elsewhere.
RESIZE_HINT = ("resize the mask to the frames' size (in ComfyUI: Convert Mask to Image -> Upscale Image -> "
               "Convert Image to Mask; or segment the same frames you give here)")


def mask_to_bool(mask, k: int, frame_size: tuple[int, int]) -> np.ndarray:
    """One mask as ``np.bool_ (H, W)``, True = ignore.

    Args:
        mask: ``(H, W)`` numpy array or torch tensor: float / bool (>= :data:`MASK_THRESHOLD` is masked)
            or uint8 (>= 128 is masked).
        k: the frame's index (for the messages).
        frame_size: ``(H, W)`` of frame ``k``.
    Raises:
        ValueError: not 2-D, not finite, or of another size than the frame (the message says how to fix it).
    """
    if isinstance(mask, torch.Tensor):
        mask = mask.detach().to("cpu")
        mask = mask.float().numpy() if mask.dtype in (torch.float16, torch.bfloat16) else mask.numpy()
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[-1] == 1:
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise ValueError(f"mask {k} must be a (height, width) mask; got shape {mask.shape}. Give a MASK batch "
                         "(N, H, W) with one mask per frame, or one mask for all frames")
    if mask.shape != tuple(frame_size):
        raise ValueError(
            f"mask {k} is {mask.shape[1]}x{mask.shape[0]} but the frames are {frame_size[1]}x{frame_size[0]} "
            f"(W x H), a mask of another size; {RESIZE_HINT}")
    if mask.dtype == np.uint8:
        return mask >= 128
    if mask.dtype == np.bool_:
        return mask
    mask = mask.astype(np.float32, copy=False)
    if not np.isfinite(mask).all():
        raise ValueError(f"mask {k} holds NaN or infinite values; give a mask of values in [0, 1]")
    return mask >= MASK_THRESHOLD


class MaskStream:
    """Masks handed out one per frame, in frame order (:meth:`next`), with the count checked (:meth:`finish`).

    Args:
        masks: ``(M, H, W)`` array / tensor (``M`` = the number of frames, or 1 for every frame), or an
            iterable of ``(H, W)`` masks (one per frame; e.g. :func:`iter_mask_files`).
    Raises:
        ValueError: an array that is not ``(M, H, W)`` or holds no mask.
    """

    def __init__(self, masks):
        self.fractions: list[float] = []
        self.count: int | None = None
        self._array = None
        self._iterator: Iterator | None = None
        if isinstance(masks, (np.ndarray, torch.Tensor)):
            if masks.ndim == 4 and masks.shape[-1] == 1:
                masks = masks[..., 0]
            if masks.ndim != 3:
                raise ValueError(f"masks must be a MASK batch (N, H, W); got shape {tuple(masks.shape)}")
            if masks.shape[0] == 0:
                raise ValueError("the mask batch holds no mask; give one mask per frame or one for all frames")
            self._array, self.count = masks, int(masks.shape[0])
        elif isinstance(masks, Iterable):
            self._iterator = iter(masks)
        else:
            raise ValueError("masks must be a MASK batch (N, H, W) or an iterable of masks; got "
                             f"{type(masks).__name__}")

    def next(self, k: int, frame_size: tuple[int, int]) -> np.ndarray:
        """The mask of frame ``k`` (frames asked for in order 0, 1, ...) as ``np.bool_ (H, W)``, True = ignore.

        Raises:
            ValueError: no mask left for frame ``k``, or a bad mask (:func:`mask_to_bool`).
        """
        if self._array is not None:
            if self.count == 1:
                mask = self._array[0]
            elif k < self.count:
                mask = self._array[k]
            else:
                raise ValueError(self._count_error(f"at least {k + 1}"))
        else:
            try:
                mask = next(self._iterator)
            except StopIteration:
                raise ValueError(self._count_error(f"at least {k + 1}", given=k)) from None
        mask = mask_to_bool(mask, k, frame_size)
        self.fractions.append(float(mask.mean()))
        return mask

    def check_count(self, n: int) -> None:
        """Check a mask batch's count against ``n`` frames before any is used (an iterable of masks is
        checked as it is consumed, and by :meth:`finish`).

        Raises:
            ValueError: a batch of neither ``n`` masks nor 1.
        """
        if self._array is not None and self.count not in (1, n):
            raise ValueError(self._count_error(str(n)))

    def finish(self, n: int) -> None:
        """Check that the masks matched the ``n`` frames (one each, or one for all).

        Raises:
            ValueError: more masks than frames.
        """
        if self._array is not None:
            self.check_count(n)
        elif next(self._iterator, None) is not None:
            raise ValueError(self._count_error(str(n), given=f"more than {n}"))

    def _count_error(self, frames: str, given=None) -> str:
        given = self.count if given is None else given
        return (f"got {given} masks for {frames} frames; give one mask per frame (the same frames, with the "
                "same stride and frame limit) or a single mask for all frames")

    def messages(self) -> list[str]:
        """Notes for :attr:`raxel_core.pose.estimate.PoseEstimate.messages`: the masked share of the
        pixels, and the frames that are entirely masked (no features: they cannot be registered)."""
        if not self.fractions:
            return []
        fractions = np.asarray(self.fractions)
        out = [f"masks: features ignored on {100 * fractions.mean():.1f}% of the pixels on average "
               f"(largest {100 * fractions.max():.1f}%, {len(fractions)} frames)"]
        full = [i for i, f in enumerate(fractions) if f >= FULLY_MASKED_FRACTION]
        if full:
            out.append(f"{len(full)} frame(s) entirely masked, no features there so they cannot be registered: "
                       f"frames {frame_ranges(full)}")
        return out

    def check_not_all_masked(self) -> None:
        """Raise when every frame is entirely masked (no feature anywhere: nothing to estimate).

        Raises:
            ValueError: every mask covers the whole frame; the message suggests inverting the masks.
        """
        if self.fractions and min(self.fractions) >= FULLY_MASKED_FRACTION:
            raise ValueError(
                f"every frame is entirely masked ({len(self.fractions)} frames), so no feature is left to estimate "
                "the camera from; a mask must be 1 (white) on the moving things to ignore and 0 elsewhere. If your "
                "masks mark the background instead, invert them (ComfyUI: InvertMask)")


def mask_image(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """COLMAP's mask image (``(H', W')`` uint8: 0 where features are ignored, 255 elsewhere; OpenCV SIFT's
    ``mask``) of ``mask`` (``np.bool_ (H, W)``, True = ignore) for a frame resampled to ``size = (H', W')``.
    Resampled with ``cv2.INTER_AREA`` and kept masked wherever any masked pixel falls, so that shrinking
    never lets a masked pixel through."""
    keep = np.where(mask, 0, 255).astype(np.uint8)
    if keep.shape != tuple(size):
        area = cv2.resize(np.where(mask, 255, 0).astype(np.uint8), (size[1], size[0]), interpolation=cv2.INTER_AREA)
        keep = np.where(area > 0, 0, 255).astype(np.uint8)
    return keep


def mask_files(path, count: int | None = None) -> list[Path]:
    """The mask images of a folder in natural name order (``IMAGE_SUFFIXES``, as frames are listed).

    Args:
        path: folder of mask images.
        count: the number of frames of the clip; the folder must hold ``count`` masks or one.
    Raises:
        ValueError: the folder is missing or empty, or holds another number of masks than ``count`` (or 1).
    """
    from ..video_io import frame_files

    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"mask folder not found: {path}; give a folder of mask images (white = ignore)")
    files = frame_files(path)
    if count is not None and len(files) not in (1, count):
        raise ValueError(
            f"the mask folder {path} holds {len(files)} mask images but the clip has {count} frames; give one "
            "mask per frame of the clip (before --stride / --max-frames) or a single mask for all frames")
    return files


def iter_mask_files(files: list[Path], indices: Iterable[int]) -> Iterator[np.ndarray]:
    """Masks read from image files one at a time (Pillow, converted to grayscale: white (>= 128) =
    ignore): file ``indices[k]`` for frame ``k``, or the single file for every frame. Yields
    ``np.uint8 (H, W)``.

    Raises:
        ValueError: a file cannot be read as an image.
    """
    from PIL import Image, UnidentifiedImageError

    for i in indices:
        f = files[0] if len(files) == 1 else files[i]
        try:
            with Image.open(f) as im:
                yield np.asarray(im.convert("L"))
        except (UnidentifiedImageError, OSError) as err:
            raise ValueError(f"cannot read the mask image {f}: {err}; replace or remove that file") from err


def sampled_masks(masks, num_frames: int, max_frames: int | None, stride: int):
    """The masks of the frames a clip sampled with ``stride`` / ``max_frames`` uses, from masks given for
    every frame of the clip (``(N, H, W)`` array or tensor; one mask stays one mask).

    Raises:
        ValueError: ``N`` is neither ``num_frames`` nor 1.
    """
    n = int(masks.shape[0]) if masks.ndim >= 3 else 0
    if masks.ndim != 3 or n not in (1, num_frames):
        raise ValueError(
            f"got {n if masks.ndim == 3 else tuple(masks.shape)} masks for {num_frames} frames; give a MASK batch "
            "(N, H, W) with one mask per frame (the same frames as the video) or a single mask for all frames")
    if n == 1:
        return masks
    picked = masks[::stride]
    return picked[:max_frames] if max_frames is not None else picked


def frame_ranges(indices) -> str:
    """'0-3, 7, 9-10' for [0, 1, 2, 3, 7, 9, 10]."""
    out, start = [], None
    for k, i in enumerate(indices):
        if start is None:
            start = i
        if k + 1 == len(indices) or indices[k + 1] != i + 1:
            out.append(f"{start}" if start == i else f"{start}-{i}")
            start = None
    return ", ".join(out)
