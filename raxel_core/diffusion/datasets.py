"""Training clips for the joint video + ray model: the :class:`Clip` type, RealEstate10K-layout folders.

Every dataset yields :class:`Clip`: a short video with its exact (or pseudo ground truth) cameras,
resized to the model resolution, and the clip's raxel maps (Rays as Pixels, arXiv 2604.09429,
Sec. 3.2) encoded with frame 0 as the reference camera:

* ``video``: ``(F, 3, H, W)`` float32 in ``[-1, 1]`` (``2 * rgb / 255 - 1``);
* ``rays``: ``(F, 3, h, w)`` float32 in ``[-1, 1]``: the raxel image ``(d + o / scale + 2) / 4``
  mapped by ``2 * image - 1``, i.e. ``(d + o / scale) / 2`` (no 8-bit rounding on this path);
  ``(h, w) = (H, W) / raxel_downscale`` (the paper: half size);
* ``cameras``: :class:`~raxel_core.cameras.Cameras` of the ``F`` frames at ``(H, W)``.

:func:`augment_clip` applies the paper's augmentations before the raxels are encoded: time
reversal and a random source (canonical) frame, placed first.
:func:`raxel_core.diffusion.training.make_dataset` builds either kind of dataset from a training
config: :class:`RealEstate10KClips` (here) or synthetic rooms
(:class:`raxel_core.synthetic.clips.SyntheticClips`).
:func:`raxel_core.diffusion.prepare.prepare_dataset` turns a folder of the user's videos into the
RealEstate10K layout with SfM poses as pseudo ground truth.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from ..cameras import Cameras
from ..rays.codecs import encode_rays, raxel_size_for

#: Video files :class:`RealEstate10KClips` and :func:`raxel_core.diffusion.prepare.prepare_dataset` look for.
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm")


# ----------------------------------------------------------------------------------- clips
@dataclass
class Clip:
    """One training clip (module docstring for the value ranges).

    Attributes:
        video: ``(F, 3, H, W)`` float32 in ``[-1, 1]``.
        rays: ``(F, 3, h, w)`` float32 in ``[-1, 1]``, raxels with reference = frame 0.
        cameras: ``F`` cameras at ``(H, W)``.
        raxel_metadata: :meth:`RaxelMaps.metadata` of the encoding (scale, reference pose, K), so
            :func:`raxel_core.rays.codecs.rays_to_cameras` can restore world units.
        name: where the clip came from (``synthetic/17``, a file stem).
    """

    video: torch.Tensor
    rays: torch.Tensor
    cameras: Cameras
    raxel_metadata: dict = field(default_factory=dict)
    name: str = ""


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """``(F, H, W, 3)`` uint8 RGB -> ``(F, 3, H, W)`` float32 in ``[-1, 1]``."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (F, H, W, 3) RGB; got {frames.dtype} {frames.shape}")
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def tensor_to_frames(video: torch.Tensor) -> np.ndarray:
    """``(F, 3, H, W)`` in ``[-1, 1]`` -> ``(F, H, W, 3)`` uint8 RGB (clamped, rounded)."""
    x = ((video.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def clip_order(num_frames: int, source: int = 0, reverse: bool = False) -> list[int]:
    """Frame order after the augmentations: time reversal first (frame ``k`` -> ``F - 1 - k``), then
    the source frame (an index into the *original* clip) moved to the front, the others kept in
    (possibly reversed) time order."""
    if not 0 <= source < num_frames:
        raise ValueError(f"source frame {source} is outside the clip's {num_frames} frames")
    order = list(range(num_frames))[::-1] if reverse else list(range(num_frames))
    order.remove(source)
    return [source] + order


def augment_clip(clip: Clip, source: int = 0, reverse: bool = False) -> Clip:
    """Time reversal and canonical-frame choice (Rays as Pixels, Sec. 3.4), raxels re-encoded.

    The frames are reordered by :func:`clip_order`; the raxels are encoded with the new frame 0
    (the chosen source frame) as the reference camera, so the source camera is the canonical frame
    (``R = I``, ``o = 0``) and every other ray is expressed in it.

    Args:
        clip: a :class:`Clip` (its ``rays`` are ignored and re-encoded).
        source: index of the source frame in the original clip.
        reverse: reverse the frame order (the cameras are reordered with the frames, so the
            decoded trajectory is the reversed trajectory).
    Returns:
        a new :class:`Clip` with reordered video and cameras and fresh raxels.
    """
    order = clip_order(clip.video.shape[0], source, reverse)
    if order == list(range(clip.video.shape[0])):
        return clip
    idx = torch.tensor(order)
    cams = clip.cameras[idx]
    rays, meta = encode_rays(cams, tuple(clip.rays.shape[-2:]), reference=0)
    return Clip(video=clip.video[idx], rays=rays, cameras=cams, raxel_metadata=meta, name=clip.name)


def clip_from_frames(frames: np.ndarray, cameras: Cameras, raxel_downscale: int, name: str) -> Clip:
    """A :class:`Clip` of ``frames`` ``(F, H, W, 3)`` uint8 RGB and their ``F`` cameras at ``(H, W)``,
    raxels encoded with frame 0 as the reference on the grid ``(H, W) / raxel_downscale``
    (:func:`raxel_size_for`, which raises ``ValueError`` when it does not divide)."""
    rays, meta = encode_rays(cameras, raxel_size_for(cameras.image_size, raxel_downscale))
    return Clip(video=frames_to_tensor(frames), rays=rays, cameras=cameras, raxel_metadata=meta, name=name)


# ----------------------------------------------------------------------------------- real clips
def resize_crop(frames: np.ndarray, cameras: Cameras, image_size: tuple[int, int]) -> tuple[np.ndarray, Cameras]:
    """Centre-crop to the aspect of ``image_size`` and resize to it; intrinsics follow.

    The crop keeps the largest centred box of the target aspect (whole pixels); the resize is
    ``cv2.resize`` (``INTER_AREA`` down, ``INTER_LINEAR`` up), which maps pixel-corner coordinates
    by ``u' = (u - x0) * w / Wc``, so ``fx' = fx * w / Wc``, ``cx' = (cx - x0) * w / Wc`` (rows alike).

    Args:
        frames: ``(N, H, W, 3)`` uint8.
        cameras: ``N`` cameras at ``(H, W)``.
        image_size: target ``(h, w)``.
    """
    _n, H, W = frames.shape[:3]
    if cameras.image_size != (H, W):
        raise ValueError(f"cameras are for {cameras.image_size} but the frames are {H}x{W}")
    h, w = image_size
    if w / h > W / H:                     # target wider: keep full width
        Wc, Hc = W, max(1, min(H, round(W * h / w)))
    else:
        Hc, Wc = H, max(1, min(W, round(H * w / h)))
    x0, y0 = (W - Wc) // 2, (H - Hc) // 2
    interp = cv2.INTER_AREA if Wc >= w else cv2.INTER_LINEAR
    out = np.stack([cv2.resize(np.ascontiguousarray(f[y0:y0 + Hc, x0:x0 + Wc]), (w, h), interpolation=interp)
                    for f in frames])
    K = cameras.K.clone()
    sx, sy = w / Wc, h / Hc
    K[:, 0, 0] *= sx
    K[:, 0, 1] *= sx
    K[:, 0, 2] = (K[:, 0, 2] - x0) * sx
    K[:, 1, 1] *= sy
    K[:, 1, 2] = (K[:, 1, 2] - y0) * sy
    return out, Cameras(K=K, R=cameras.R, t=cameras.t, image_size=(h, w), fps=cameras.fps,
                        metadata=dict(cameras.metadata))


def find_clips(root: str | Path) -> list[tuple[str, Path, Path]]:
    """``(stem, video, poses)`` of every clip under ``root``: ``videos/<stem>.mp4`` +
    ``poses/<stem>.txt`` (the layout of /work/shared/data/re10k and of
    :func:`raxel_core.diffusion.prepare.prepare_dataset`), or
    ``<stem>.mp4`` + ``<stem>.txt`` side by side. Sorted by stem. Raises ``ValueError`` when the
    folder is missing or holds no pair."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"clip folder {root} does not exist; give a folder with videos/ and poses/ "
                         "(RealEstate10K layout) or <stem>.mp4 + <stem>.txt pairs")
    pairs = {}
    for video_dir, pose_dir in ((root / "videos", root / "poses"), (root, root)):
        if not video_dir.is_dir():
            continue
        for video in sorted(video_dir.iterdir()):
            if video.suffix.lower() in VIDEO_SUFFIXES:
                poses = pose_dir / (video.stem + ".txt")
                if poses.is_file() and video.stem not in pairs:
                    pairs[video.stem] = (video.stem, video, poses)
    if not pairs:
        raise ValueError(f"no clips in {root}: expected videos/<stem>.mp4 with poses/<stem>.txt, or "
                         "<stem>.mp4 beside <stem>.txt (make them with `prepare_dataset`)")
    return [pairs[k] for k in sorted(pairs)]


def spread_indices(total: int, count: int) -> list[int]:
    """``count`` frame indices spread evenly over ``total`` frames, first and last included."""
    if total < count:
        raise ValueError(f"the clip has {total} frames but {count} are needed; use fewer frames or a longer clip")
    return [int(v) for v in np.round(np.linspace(0, total - 1, count))]


class RealEstate10KClips(torch.utils.data.Dataset):
    """Video clips with RealEstate10K camera files (:func:`find_clips` for the layouts).

    Each clip: all frames decoded (:func:`raxel_core.video_io.read_video_frames`), ``num_frames`` of
    them picked evenly over the clip (:func:`spread_indices`), cameras read with
    :func:`raxel_core.formats.realestate10k.read_realestate10k` at the video's own size, then
    centre-cropped and resized to ``image_size`` (:func:`resize_crop`).

    Args:
        root: the clip folder.
        num_frames, image_size, raxel_downscale: as the model needs them.
        source_aspect: ``W0 / H0`` of the video the files' normalised intrinsics refer to.
            ``None`` (default): the clip's own aspect, right for files written by
            :func:`~raxel_core.diffusion.prepare.prepare_dataset`; ``16 / 9`` for CameraCtrl's cropped
            RealEstate10K clips (such as /work/shared/data/re10k, which were cut to 384x256 from 16:9 video).
        stems: restrict to these clip names.

    Raises:
        ValueError (on access): a pose file whose frame count differs from its video's.
    """

    def __init__(self, root: str | Path, num_frames: int = 9, image_size: tuple[int, int] = (64, 96),
                 raxel_downscale: int = 2, source_aspect: float | None = None, stems: list[str] | None = None):
        self.clips = find_clips(root)
        if stems is not None:
            missing = sorted(set(stems) - {c[0] for c in self.clips})
            if missing:
                raise ValueError(f"clips {missing} are not in {root}")
            self.clips = [c for c in self.clips if c[0] in set(stems)]
        self.num_frames = int(num_frames)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.raxel_downscale = int(raxel_downscale)
        raxel_size_for(self.image_size, self.raxel_downscale)
        self.source_aspect = source_aspect

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> Clip:
        from ..formats.realestate10k import read_realestate10k
        from ..video_io import read_video

        stem, video_path, pose_path = self.clips[int(index)]
        frames, _fps = read_video(video_path)
        cams = read_realestate10k(pose_path, image_size=frames.shape[1:3], source_aspect=self.source_aspect)
        if len(cams) != len(frames):
            raise ValueError(f"{pose_path.name} has {len(cams)} poses but {video_path.name} has {len(frames)} "
                             "frames; line k + 1 of the pose file must be frame k of the video")
        idx = spread_indices(len(frames), self.num_frames)
        frames, cams = resize_crop(frames[idx], cams[torch.tensor(idx)], self.image_size)
        return clip_from_frames(frames, cams, self.raxel_downscale, stem)
