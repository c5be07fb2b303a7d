"""Training clips for the joint video + ray model: synthetic renders, RealEstate10K-layout folders.

Every dataset yields :class:`Clip`: a short video with its exact (or pseudo ground truth) cameras,
resized to the model resolution, and the clip's raxel maps (Rays as Pixels, arXiv 2604.09429,
Sec. 3.2) encoded with frame 0 as the reference camera:

* ``video``: ``(F, 3, H, W)`` float32 in ``[-1, 1]`` (``2 * rgb / 255 - 1``);
* ``rays``: ``(F, 3, h, w)`` float32 in ``[-1, 1]``: the raxel image ``(d + o / scale + 2) / 4``
  mapped by ``2 * image - 1``, i.e. ``(d + o / scale) / 2`` (no 8-bit rounding on this path);
  ``(h, w) = (H, W) / raxel_downscale`` (the paper: half size);
* ``cameras``: :class:`~raxel_core.cameras.Cameras` of the ``F`` frames at ``(H, W)``.

:func:`augment_clip` applies the paper's augmentations before the raxels are encoded: time
reversal and a random source (canonical) frame, placed first. :func:`prepare_dataset` turns a
folder of the user's videos into the RealEstate10K layout with SfM poses as pseudo ground truth.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch

from ..authoring.keyframes import Keyframe, trajectory_from_keyframes
from ..authoring.trajectory_presets import DEFAULT_MAGNITUDES, EASINGS, PRESET_NAMES, make_preset
from ..cameras import Cameras
from ..raxels import RaxelMaps, decode_raxels, encode_raxels

#: Video files :func:`prepare_dataset` and :class:`RealEstate10KClips` look for.
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm")

#: Cameras of a synthetic clip keep this distance (scene units) from the walls and the boxes.
ROOM_MARGIN = 0.15


# ----------------------------------------------------------------------------------- clips
@dataclass
class Clip:
    """One training clip (module docstring for the value ranges).

    Attributes:
        video: ``(F, 3, H, W)`` float32 in ``[-1, 1]``.
        rays: ``(F, 3, h, w)`` float32 in ``[-1, 1]``, raxels with reference = frame 0.
        cameras: ``F`` cameras at ``(H, W)``.
        raxel_metadata: :meth:`RaxelMaps.metadata` of the encoding (scale, reference pose, K), so
            :func:`rays_to_cameras` can restore world units.
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


def raxel_size_for(image_size: tuple[int, int], raxel_downscale: int = 2) -> tuple[int, int]:
    """The raxel grid for frames of ``image_size``: ``(H, W) / raxel_downscale``. ``ValueError`` when
    it does not divide (the model aligns each ray token with its video pixels)."""
    h, w = image_size
    if h % raxel_downscale or w % raxel_downscale:
        raise ValueError(
            f"frame size {h}x{w} is not divisible by the raxel downscale {raxel_downscale}; choose a "
            f"size that is a multiple of {raxel_downscale}"
        )
    return h // raxel_downscale, w // raxel_downscale


def encode_rays(cameras: Cameras, raxel_size: tuple[int, int], reference: int = 0) -> tuple[torch.Tensor, dict]:
    """Raxels of ``cameras`` as the model's ray stream: ``(F, 3, h, w)`` float32 ``(d + o / scale) / 2``
    in ``[-1, 1]`` (= ``2 * RaxelMaps.to_image() - 1`` without its float32 rounding first), and the
    maps' metadata."""
    maps = encode_raxels(cameras, size=raxel_size, reference=reference)
    return (maps.rays / 2).permute(0, 3, 1, 2).float().contiguous(), maps.metadata()


def rays_to_raxel_maps(rays: torch.Tensor, metadata: dict | None = None) -> RaxelMaps:
    """The model's ray stream ``(F, 3, h, w)`` in ``[-1, 1]`` -> :class:`RaxelMaps`.

    Values are clamped to ``[-1, 1]`` (a generator can overshoot) and mapped by
    ``image = (x + 1) / 2`` (:meth:`RaxelMaps.from_image`). ``metadata`` as there (``None`` for a
    model's output: reference = frame 0, unit scale).
    """
    if rays.ndim != 4 or rays.shape[1] != 3:
        raise ValueError(f"rays must be (F, 3, h, w); got {tuple(rays.shape)}")
    image = ((rays.detach().double().cpu().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1)
    return RaxelMaps.from_image(image, metadata)


def rays_to_cameras(rays: torch.Tensor, metadata: dict | None = None, image_size: tuple[int, int] | None = None) -> Cameras:
    """Decode the ray stream to cameras (Rays as Pixels, Sec. 3.5, :func:`decode_raxels`).

    Args:
        rays: ``(F, 3, h, w)`` in ``[-1, 1]``.
        metadata: raxel metadata (restores scale and world frame) or ``None`` (cameras relative
            to frame 0, unit scale as normalised by the encoder: the farthest camera at distance 1).
        image_size: ``(H, W)`` of the video the cameras belong to (K scaled up from the raxel
            grid); default the metadata's source size, else the raxel grid.

    Without metadata the trajectory is re-expressed relative to the decoded frame 0, so frame 0 is
    the identity as the contract says even when a model's frame-0 rays are not exact unit rays.
    How far the decoded frame 0 was from the identity is kept in
    ``metadata["reference_frame_residual"]`` (``rotation_deg``, ``centre``) so it is reported, not hidden.
    """
    cams = decode_raxels(rays_to_raxel_maps(rays, metadata))
    if metadata is None:
        from ..geometry.rotations import rotation_angle_deg

        residual = {"rotation_deg": float(rotation_angle_deg(cams.R[0])), "centre": float(cams.centers[0].norm())}
        cams = cams.relative_to(0)
        cams.metadata["reference_frame_residual"] = residual
    return cams if image_size is None else cams.with_image_size(image_size)


#: Ray-stream representations: raxels (3 channels, the paper's), Plücker rays (6 channels, the
#: paper's ablation baseline, Sec. 4.4, decoded as RayDiffusion does) on the ray branch, and Plücker
#: rays concatenated channel-wise onto the video (the ablation as the paper words it; no ray
#: branch, :class:`raxel_core.model.ChannelConcatModel`; rays at the video's size).
RAY_REPRESENTATIONS = ("raxel", "plucker", "plucker_concat")
RAY_CHANNELS = {"raxel": 3, "plucker": 6, "plucker_concat": 6}


def ray_representation_for(config) -> str:
    """The ray representation a :class:`~raxel_core.model.JointModelConfig` was built for:
    ``"plucker_concat"`` for a channel-concat model (:func:`raxel_core.model.is_channel_concat`),
    else from the ray channels: 3 = raxels, 6 = Plücker rays. ``ValueError`` for any other count."""
    from ..model.channel_concat import is_channel_concat

    if is_channel_concat(config):
        return "plucker_concat"
    for name in ("raxel", "plucker"):
        channels = RAY_CHANNELS[name]
        if config.ray_in_channels == channels and config.rays_out_channels == channels:
            return name
    raise ValueError(f"a pixel-space ray stream has 3 (raxel) or 6 (Plücker) channels; this model has "
                     f"{config.ray_in_channels} in / {config.rays_out_channels} out")


def encode_plucker_rays(cameras: Cameras, raxel_size: tuple[int, int], reference: int = 0) -> torch.Tensor:
    """Plücker rays ``(d, m)`` of ``cameras`` as a 6-channel ray stream ``(F, 6, h, w)`` float32 in ``[-1, 1]``.

    ``d`` the unit direction, ``m = (o / scale) x d`` the moment, both in the reference camera's
    frame (:func:`raxel_core.plucker.plucker_maps`), with the same translation normalisation as
    the raxels (``scale`` = distance of the farthest camera from the reference, so ``|m| <= 1``).
    The ablation baseline of Rays as Pixels (Sec. 4.4: Plücker rays instead of raxels): on the ray
    branch at the raxel grid, or at the frame size for the channel-concat model.
    """
    from ..plucker import plucker_maps

    maps = encode_raxels(cameras, size=raxel_size, reference=reference)     # for the scale only
    pl = plucker_maps(cameras, size=raxel_size, reference=reference)
    pl[..., 3:] /= maps.scale
    return pl.permute(0, 3, 1, 2).float().contiguous()


def plucker_rays_to_cameras(rays: torch.Tensor, image_size: tuple[int, int] | None = None) -> Cameras:
    """Decode a 6-channel Plücker ray stream ``(F, 6, h, w)`` to cameras (RayDiffusion, "Cameras as
    Rays", ICLR 2024, Sec. 3.3; unknown focal handled as Rays as Pixels Sec. 3.5 does).

    * centre ``c_k``: the least-squares point nearest all rays of frame ``k``,
      ``[sum (I - d d^T)] c = sum (I - d d^T) p`` with ``p = d x m`` the foot of each line;
    * focal: frame 0 is the reference (``R = I``), so its directions are ``K^-1 u~`` normalised:
      ``f_x`` is the least-squares fit of ``u - c_x = f_x x / z`` (likewise ``f_y``), principal
      point at the image centre, one K shared by all frames;
    * rotation: orthogonal Procrustes between the shared local directions ``K^-1 u~`` and frame
      ``k``'s predicted directions.

    Returns cameras relative to frame 0 (unit translation scale) at ``image_size`` (default the
    ray grid). Raises ``ValueError`` when the rays do not decode (degenerate directions, a focal
    that is not positive, a singular centre system).
    """
    from ..raxels import local_ray_directions, pixel_centers

    if rays.ndim != 4 or rays.shape[1] != 6:
        raise ValueError(f"Plücker rays must be (F, 6, h, w); got {tuple(rays.shape)}")
    x = rays.detach().double().cpu().clamp(-1, 1).permute(0, 2, 3, 1)
    n, h, w, _ = x.shape
    d = x[..., :3].reshape(n, -1, 3)
    m = x[..., 3:].reshape(n, -1, 3)
    norm = torch.linalg.norm(d, dim=-1, keepdim=True)
    if not bool((norm > 1e-3).all()):
        raise ValueError("Plücker rays do not decode: some ray directions are ~0 (the model is untrained or "
                         "needs more ray steps)")
    d = d / norm
    p = torch.linalg.cross(d, m, dim=-1)                                  # foot of the line nearest the origin
    eye = torch.eye(3, dtype=torch.float64)
    proj = eye - d[..., :, None] * d[..., None, :]                        # (F, P, 3, 3)
    A, b = proj.sum(1), (proj @ p[..., None]).sum(1)[..., 0]
    centres = torch.linalg.lstsq(A, b[..., None]).solution[..., 0]        # (F, 3)
    # focal from frame 0 (the reference camera, R = I): u - cx = fx * dx / dz
    u, v = pixel_centers((h, w), torch.float64)
    cx, cy = w / 2, h / 2
    d0 = d[0]
    front = d0[:, 2] > 1e-3
    ax, ay = d0[front, 0] / d0[front, 2], d0[front, 1] / d0[front, 2]
    fx = float(((u[front] - cx) * ax).sum() / (ax * ax).sum().clamp_min(1e-12))
    fy = float(((v[front] - cy) * ay).sum() / (ay * ay).sum().clamp_min(1e-12))
    if not (np.isfinite(fx) and np.isfinite(fy) and fx > 0 and fy > 0):
        raise ValueError(f"Plücker rays do not decode: the reference frame's directions give focal lengths "
                         f"fx={fx:.3g}, fy={fy:.3g} (must be positive); the model is untrained or needs more ray steps")
    K = Cameras.intrinsics_matrix(fx, fy, cx, cy).reshape(1, 3, 3).expand(n, 3, 3).clone()
    d_local = local_ray_directions(K[:1], (h, w))[0]                      # (P, 3)
    H = torch.einsum("pi,fpj->fij", d_local, d)                           # sum d_local d_k^T
    U, _, Vh = torch.linalg.svd(H)
    V = Vh.transpose(1, 2)
    sign = torch.sign(torch.linalg.det(V @ U.transpose(1, 2)))
    D = torch.diag_embed(torch.stack([torch.ones_like(sign), torch.ones_like(sign), sign], -1))
    R_rel = V @ D @ U.transpose(1, 2)                                     # d_k = R_rel d_local
    c2w = torch.eye(4, dtype=torch.float64).repeat(n, 1, 1)
    c2w[:, :3, :3], c2w[:, :3, 3] = R_rel, centres - centres[:1]
    cams = Cameras.from_c2w(c2w, K, (h, w))
    return cams if image_size is None else cams.with_image_size(image_size)


def normalize_reference_rays(rays: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Divide a generated raxel stream by the median ray length of its reference frame.

    The reference (source) frame's raxels are its own unit rays (``o = 0``), so their lengths
    are 1 by construction; a generator's raxels can come out uniformly too long or too short
    (a few-step sample of a small model: ~1.4x for ``raxel-tiny-v1`` at 2 steps). A uniform
    factor ``k`` on ``d + o / scale`` changes nothing but the length of every ray, so dividing the
    whole stream by ``k = median |d_ref|`` restores it exactly; anything else the generator got
    wrong is left for the robust decoder (:func:`raxel_core.raxels.decode_raxels`) to judge. Exact
    raxels give ``k = 1`` (up to rounding) and come back unchanged.

    Args:
        rays: ``(F, 3, h, w)`` ray stream ``(d + o / scale) / 2`` with the reference at frame 0.
    Returns:
        ``(rays / k, k)``.
    Raises:
        ValueError: ``k`` is not a positive finite number (an all-zero or broken stream).
    """
    if rays.ndim != 4 or rays.shape[1] != 3:
        raise ValueError(f"rays must be (F, 3, h, w); got {tuple(rays.shape)}")
    k = float(torch.linalg.norm(2 * rays[0].double(), dim=0).median())
    if not (np.isfinite(k) and k > 1e-6):
        raise ValueError(f"the reference frame's rays have median length {k}; the ray stream is empty or broken "
                         "(the model is untrained or needs more ray steps)")
    return (rays / k).to(rays.dtype), k


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


def _clip_from_frames(frames: np.ndarray, cameras: Cameras, raxel_downscale: int, name: str) -> Clip:
    rays, meta = encode_rays(cameras, raxel_size_for(cameras.image_size, raxel_downscale))
    return Clip(video=frames_to_tensor(frames), rays=rays, cameras=cameras, raxel_metadata=meta, name=name)


# ----------------------------------------------------------------------------------- synthetic
@lru_cache(maxsize=32)
def _scene(seed: int, texel_size: float):
    from ..render import make_scene

    return make_scene(seed, texel_size=texel_size)


def _inside(scene, centres: np.ndarray, margin: float) -> bool:
    """All centres at least ``margin`` inside the room and outside every box inflated by it."""
    c = np.asarray(centres, dtype=np.float64).reshape(-1, 3)
    if not ((c > scene.room_min + margin) & (c < scene.room_max - margin)).all():
        return False
    for b in range(scene.num_boxes):
        if ((c > scene.box_min[b] - margin) & (c < scene.box_max[b] + margin)).all(axis=1).any():
            return False
    return True


def _random_start(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A camera position in the near half of the room and a look-at point ahead of it (+z)."""
    eye = np.array([rng.uniform(-2.0, 2.0), rng.uniform(-0.8, 0.7), rng.uniform(-1.7, 0.3)])
    yaw, pitch = math.radians(rng.uniform(-35, 35)), math.radians(rng.uniform(-20, 12))
    forward = np.array([math.sin(yaw) * math.cos(pitch), -math.sin(pitch), math.cos(yaw) * math.cos(pitch)])
    return eye, eye + 3.0 * forward


def _preset_in_room(rng, num_frames, image_size, fov) -> Cameras:
    from ..cameras import look_at_w2c

    name = str(rng.choice([n for n in PRESET_NAMES if n != "static"]))
    default = DEFAULT_MAGNITUDES[name]
    if name.startswith(("dolly", "truck", "pedestal")):
        magnitude = rng.uniform(0.3, 1.0)
    elif name.startswith("zoom"):
        magnitude = rng.uniform(1.15, 1.6)
    elif name == "spiral":
        magnitude = rng.uniform(30, 120)
    else:
        magnitude = default * rng.uniform(0.4, 1.0)
    preset = make_preset(name, num_frames, magnitude=magnitude, easing=str(rng.choice(EASINGS)),
                         image_size=image_size, fov_y_deg=fov, distance=rng.uniform(1.5, 3.5))
    eye, target = _random_start(rng)
    start = look_at_w2c(eye, target)[0]                       # world -> first camera
    w2c = preset.w2c @ start                                  # first camera -> camera k, composed
    cams = Cameras.from_w2c(w2c, preset.K, image_size)
    cams.metadata["synthetic"] = {"kind": "preset", "preset": name, "magnitude": float(magnitude)}
    return cams


def _keyframes_in_room(rng, num_frames, image_size, fov) -> Cameras:
    eye, target = _random_start(rng)
    keys = [Keyframe(0, eye, look_at=target, fov_y_deg=fov)]
    count = int(rng.integers(1, 3))
    for j in range(1, count + 1):
        frame = round(j * (num_frames - 1) / count)
        pos = eye + rng.uniform([-1.0, -0.4, -0.5], [1.0, 0.4, 1.2])
        look = target + rng.uniform([-1.5, -0.6, -1.0], [1.5, 0.6, 1.0])
        keys.append(Keyframe(frame, pos, look_at=look, fov_y_deg=fov * rng.uniform(0.85, 1.15)))
    cams = trajectory_from_keyframes(keys, num_frames, image_size)
    cams.metadata["synthetic"] = {"kind": "keyframes", "keys": count + 1}
    return cams


def sample_room_trajectory(scene, rng: np.random.Generator, num_frames: int, image_size: tuple[int, int],
                           keyframe_probability: float = 0.4, max_tries: int = 200) -> Cameras:
    """A random camera path inside ``scene``'s room (:func:`raxel_core.render.make_scene`).

    A named preset (:func:`make_preset`, random move, magnitude, easing; frame 0 placed at a random
    pose looking into the room) or, with ``keyframe_probability``, a spline through 2-3 random
    look-at keyframes. Vertical field of view uniform in [40, 70] degrees. Paths that leave the
    room or enter a box (with :data:`ROOM_MARGIN`) are redrawn.

    Raises:
        ValueError: no valid path in ``max_tries`` draws.
    """
    for _ in range(max_tries):
        fov = rng.uniform(40.0, 70.0)
        if rng.random() < keyframe_probability:
            cams = _keyframes_in_room(rng, num_frames, image_size, fov)
        else:
            cams = _preset_in_room(rng, num_frames, image_size, fov)
        if _inside(scene, cams.centers.numpy(), ROOM_MARGIN):
            return cams.validate("synthetic trajectory")
    raise ValueError(f"no camera path inside the room after {max_tries} draws; the room is too small for "
                     "the sampled moves")


class SyntheticClips(torch.utils.data.Dataset):
    """Textured rooms rendered along random camera paths, with exact cameras.

    Clip ``i`` is deterministic from ``(seed, i)``: scene ``make_scene(seed * 100003 + i % num_scenes)``
    (a pool of ``num_scenes`` rooms, each with its own boxes and textures), a path from
    :func:`sample_room_trajectory` drawn with ``numpy.random.default_rng([seed, i])``, frames from
    :func:`raxel_core.render.render_frames` (``antialias`` supersampling).

    Args:
        num_clips: length of the dataset.
        num_frames: frames per clip.
        image_size: ``(H, W)`` frame size; must be divisible by ``raxel_downscale``.
        raxel_downscale: raxel grid = frame size / this (the paper: 2).
        seed: dataset seed.
        num_scenes: number of distinct rooms.
        texel_size: texture resolution of the rooms (scene units per texel; 0.02 is plenty at 64x96).
        antialias: render supersampling per axis.
        cache_dir: if given, rendered frames and cameras are stored there as ``.npz`` (read back
            with ``allow_pickle=False``) under a key of all the arguments above, and reused.
    """

    def __init__(self, num_clips: int = 10000, num_frames: int = 9, image_size: tuple[int, int] = (64, 96),
                 raxel_downscale: int = 2, seed: int = 0, num_scenes: int = 256, texel_size: float = 0.02,
                 antialias: int = 2, cache_dir: str | Path | None = None):
        if num_clips < 1 or num_frames < 2:
            raise ValueError(f"need num_clips >= 1 and num_frames >= 2; got {num_clips}, {num_frames}")
        self.num_clips, self.num_frames = int(num_clips), int(num_frames)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.raxel_downscale = int(raxel_downscale)
        raxel_size_for(self.image_size, self.raxel_downscale)
        self.seed, self.num_scenes = int(seed), max(1, int(num_scenes))
        self.texel_size, self.antialias = float(texel_size), int(antialias)
        self.cache_dir = None
        if cache_dir is not None:
            key = json.dumps([self.num_frames, self.image_size, self.seed, self.num_scenes, self.texel_size,
                              self.antialias, 1])
            self.cache_dir = Path(cache_dir) / ("synthetic_" + hashlib.sha1(key.encode()).hexdigest()[:12])
            self.cache_dir.mkdir(parents=True, exist_ok=True)

    def __len__(self) -> int:
        return self.num_clips

    def render(self, index: int) -> tuple[np.ndarray, Cameras]:
        """``(frames (F, H, W, 3) uint8, cameras)`` of clip ``index`` (cached when configured)."""
        from ..render import render_frames

        if not 0 <= index < self.num_clips:
            raise IndexError(f"clip {index} is outside the dataset's {self.num_clips} clips")
        path = None if self.cache_dir is None else self.cache_dir / f"{index:07d}.npz"
        if path is not None and path.is_file():
            with np.load(path, allow_pickle=False) as data:
                cams = Cameras(K=data["K"], R=data["R"], t=data["t"], image_size=self.image_size)
                return data["frames"], cams
        scene = _scene(self.seed * 100003 + index % self.num_scenes, self.texel_size)
        rng = np.random.default_rng([self.seed, index])
        cams = sample_room_trajectory(scene, rng, self.num_frames, self.image_size)
        frames = render_frames(scene, cams, antialias=self.antialias)
        if path is not None:
            tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")      # one per writer process
            np.savez(tmp, frames=frames, K=cams.K.numpy(), R=cams.R.numpy(), t=cams.t.numpy())
            tmp.replace(path)
        return frames, cams

    def __getitem__(self, index: int) -> Clip:
        frames, cams = self.render(int(index))
        return _clip_from_frames(frames, cams, self.raxel_downscale, f"synthetic/{index}")


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
    ``poses/<stem>.txt`` (the layout of /work/shared/data/re10k and of :func:`prepare_dataset`), or
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
            :func:`prepare_dataset`; ``16 / 9`` for CameraCtrl's cropped RealEstate10K clips
            (such as /work/shared/data/re10k, which were cut to 384x256 from 16:9 video).
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
        return _clip_from_frames(frames, cams, self.raxel_downscale, stem)


def make_dataset(spec: dict, num_frames: int, image_size: tuple[int, int], raxel_downscale: int = 2):
    """A dataset from a JSON spec: ``{"kind": "synthetic", ...SyntheticClips arguments}`` or
    ``{"kind": "realestate10k", "root": ..., ...RealEstate10KClips arguments}``."""
    spec = dict(spec)
    kind = spec.pop("kind", None)
    common = {"num_frames": num_frames, "image_size": image_size, "raxel_downscale": raxel_downscale}
    try:
        if kind == "synthetic":
            return SyntheticClips(**spec, **common)
        if kind == "realestate10k":
            return RealEstate10KClips(**spec, **common)
    except TypeError as err:
        raise ValueError(f"bad {kind} dataset options {sorted(spec)}: {err}") from None
    raise ValueError(f"unknown dataset kind {kind!r}; use \"synthetic\" or \"realestate10k\"")


# ----------------------------------------------------------------------------------- preparation
@dataclass
class PrepareReport:
    """What :func:`prepare_dataset` did: clip stems written, and ``{file name: reason}`` skipped."""

    written: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    out_dir: Path | None = None


def prepare_dataset(video_dir: str | Path, out_dir: str | Path, max_frames: int | None = None,
                    max_image_size: int | None = 640, progress: Callable[[int, int], None] | None = None,
                    should_stop: Callable[[], bool] | None = None, **estimate_options) -> PrepareReport:
    """Turn a folder of videos into the RealEstate10K layout with SfM poses as pseudo ground truth.

    For each video file in ``video_dir`` (suffixes :data:`VIDEO_SUFFIXES`, sorted): decode it,
    estimate its cameras with :func:`raxel_core.pose.estimate_trajectory` (pycolmap),
    and when every frame is registered write ``out_dir/videos/<stem>.mp4`` (the decoded frames
    re-encoded with H.264 so that frame k of the file is pose line k + 1) and
    ``out_dir/poses/<stem>.txt`` (RealEstate10K, intrinsics normalised by the frame's own size).
    A clip that fails (unreadable, too few frames, not every frame registered) is skipped and
    named with the reason in the report and in ``out_dir/prepare_report.json``.

    Args:
        video_dir: folder of videos.
        out_dir: output folder (created).
        max_frames: use at most this many frames of each video (from the start).
        max_image_size: feature extraction on frames downscaled to this longer side (poses at
            full size); ``None``: full size.
        progress: ``progress(done, total)`` after each video.
        should_stop: polled between videos; ``InterruptedError`` when it returns True.
        **estimate_options: passed to ``estimate_trajectory`` (``focal``, ``mapper``, ...).
    Returns:
        :class:`PrepareReport`.
    Raises:
        ValueError: ``video_dir`` missing or without videos.
    """
    from ..formats import write_trajectory
    from ..pose import estimate_trajectory
    from ..video_io import read_video, write_video

    video_dir, out_dir = Path(video_dir), Path(out_dir)
    if not video_dir.is_dir():
        raise ValueError(f"video folder {video_dir} does not exist")
    videos = sorted(p for p in video_dir.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise ValueError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) in {video_dir}")
    (out_dir / "videos").mkdir(parents=True, exist_ok=True)
    (out_dir / "poses").mkdir(parents=True, exist_ok=True)
    report = PrepareReport(out_dir=out_dir)
    for i, path in enumerate(videos):
        if should_stop is not None and should_stop():
            raise InterruptedError("dataset preparation stopped")
        try:
            frames, fps = read_video(path, max_frames=max_frames)
            h, w = frames.shape[1] // 2 * 2, frames.shape[2] // 2 * 2   # H.264 needs even sizes
            frames = np.ascontiguousarray(frames[:, :h, :w])              # right / bottom crop: K unchanged
            estimate = estimate_trajectory(frames, fps=fps, max_image_size=max_image_size, **estimate_options)
            if not estimate.complete:
                raise ValueError(f"frames {estimate.unregistered} got no pose ({estimate.method}); "
                                 + " ".join(estimate.messages[-2:]))
            if path.stem in report.written:
                raise ValueError(f"another video with the stem {path.stem!r} was already written")
            write_video(out_dir / "videos" / f"{path.stem}.mp4", frames, fps or 30.0)
            write_trajectory(estimate.cameras, out_dir / "poses" / f"{path.stem}.txt", format="realestate10k")
            report.written.append(path.stem)
        except (ValueError, RuntimeError) as err:
            report.skipped[path.name] = str(err)
        if progress is not None:
            progress(i + 1, len(videos))
    (out_dir / "prepare_report.json").write_text(
        json.dumps({"written": report.written, "skipped": report.skipped}, indent=2) + "\n", encoding="utf-8")
    return report
