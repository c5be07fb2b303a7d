"""Training clips rendered from synthetic rooms, with exact cameras (:class:`SyntheticClips`).

Each clip: a room of :func:`raxel_core.synthetic.render.make_scene`, a random camera path inside it
(:func:`raxel_core.synthetic.room_trajectories.sample_room_trajectory`) and the frames rendered along
it (:func:`raxel_core.synthetic.render.render_frames`), as a :class:`raxel_core.diffusion.datasets.Clip`.
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ..cameras import Cameras
from ..diffusion.datasets import Clip, clip_from_frames, raxel_size_for
from ..formats.text_files import atomic_path
from .render import make_scene, render_frames
from .room_trajectories import sample_room_trajectory


@lru_cache(maxsize=32)
def _scene(seed: int, texel_size: float):
    """:func:`make_scene` of ``seed``, cached: the clips of a dataset share a pool of ``num_scenes`` rooms."""
    return make_scene(seed, texel_size=texel_size)


class SyntheticClips(torch.utils.data.Dataset):
    """Textured rooms rendered along random camera paths, with exact cameras.

    Clip ``i`` is deterministic from ``(seed, i)``: scene ``make_scene(seed * 100003 + i % num_scenes)``
    (a pool of ``num_scenes`` rooms, each with its own boxes and textures), a path from
    :func:`sample_room_trajectory` drawn with ``numpy.random.default_rng([seed, i])``, frames from
    :func:`raxel_core.synthetic.render.render_frames` (``antialias`` supersampling).

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
            with atomic_path(path) as tmp:                  # a unique temporary per writer, renamed
                np.savez(tmp, frames=frames, K=cams.K.numpy(), R=cams.R.numpy(), t=cams.t.numpy())
        return frames, cams

    def __getitem__(self, index: int) -> Clip:
        frames, cams = self.render(int(index))
        return clip_from_frames(frames, cams, self.raxel_downscale, f"synthetic/{index}")
