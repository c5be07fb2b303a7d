"""Synthetic **dynamic** scenes: textured boxes that move through the room while the camera moves,
rendered with exact cameras, exact depth and exact 3D correspondences (ground truth for the 4D
solver, :mod:`raxel_core.tracks4d`, and for pose estimation on footage with moving objects).

* :func:`make_dynamic_clip` renders a clip: the room of :func:`raxel_core.synthetic.render.make_scene`,
  a camera that trucks across it while panning (parallax), and free-floating boxes (:data:`MAX_SHARE_PER_BOX`) that
  translate across the view against the camera's motion. The boxes' size is fitted (a few coarse
  renders, each scaling the boxes by ``sqrt(wanted / measured)``) so that they cover the requested
  share of the frame's pixels, averaged over the clip (:attr:`DynamicClip.moving_fraction` holds the
  share measured on the final render).
* :func:`exact_tracks` gives 2D tracks with exact correspondences: seed pixels lifted with the exact
  depth, a point on a moving box carried with the box, projected into every frame, visible where it
  lies in the frame in front of the camera and passes a z-test against that frame's depth.

Every frame is rendered by :func:`raxel_core.synthetic.render.render_frames` on a :class:`Scene` whose
moving boxes stand at that frame's place: a box's textures are laid out from its minimum corner, so
they travel with it. Conventions are those of :mod:`raxel_core.cameras` (OpenCV axes, world y down).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..cameras import Cameras, look_at_w2c
from ..interop import Tracks2D
from .render import Scene, box_textures, make_scene, render_frames

#: Room margin (scene units) kept by the moving boxes: they must lie strictly inside the room.
BOX_MARGIN = 0.05
#: Largest share of the frame one moving box covers: a clip with more moving area gets more boxes
#: (10 %: 1, 30 %: 3, 50 %: 4), each a separate rigid motion smaller than the static background.
MAX_SHARE_PER_BOX = 0.13
#: Relative depth agreement of the z-test of :func:`exact_tracks`.
DEPTH_TOLERANCE = 0.01


@dataclass
class DynamicClip:
    """A rendered clip with moving boxes and its exact geometry.

    Attributes:
        frames: ``(T, H, W, 3)`` uint8 RGB.
        cameras: the ``T`` exact cameras (OpenCV world-to-camera, pixel ``K``).
        depth: ``(T, H, W)`` float32 z-depth of the ray through each pixel centre (scene units).
        moving_mask: ``(T, H, W)`` bool, the pixel centre's ray hits a moving box.
        moving_fraction: share of the pixels (all frames) on moving boxes, in ``[0, 1]``.
        box_min, box_max: ``(M, 3)`` float64 corners of the ``M`` moving boxes at frame 0.
        box_offsets: ``(T, M, 3)`` float64 translation of each moving box from its frame-0 place.
        scene: the static room (without the moving boxes).
        seed: the seed of the clip.
    """

    frames: np.ndarray
    cameras: Cameras
    depth: np.ndarray
    moving_mask: np.ndarray
    moving_fraction: float
    box_min: np.ndarray
    box_max: np.ndarray
    box_offsets: np.ndarray
    scene: Scene
    seed: int

    @property
    def num_frames(self) -> int:
        return len(self.frames)


def dynamic_trajectory(num_frames: int, image_size: tuple[int, int], seed: int = 0,
                       fov_y_deg: float = 60.0) -> Cameras:
    """The camera of a dynamic clip: a truck right of ~1.8 units with a slight dolly in, panning left
    (the path of ``raxel demo``, start and end jittered by ``seed``), so the static room shows parallax.

    Raises:
        ValueError: ``num_frames < 2``.
    """
    if num_frames < 2:
        raise ValueError(f"num_frames must be at least 2 for a moving camera; got {num_frames}")
    rng = np.random.default_rng([seed, 1])
    a = torch.linspace(0.0, 1.0, num_frames, dtype=torch.float64)[:, None]
    eye0 = torch.tensor([-0.9, 0.1, -1.2]) + torch.from_numpy(rng.uniform(-0.15, 0.15, 3))
    eye1 = torch.tensor([0.9, 0.1, -0.9]) + torch.from_numpy(rng.uniform(-0.15, 0.15, 3))
    target0 = torch.tensor([0.6, 0.6, 3.0]) + torch.from_numpy(rng.uniform(-0.3, 0.3, 3))
    target1 = torch.tensor([-0.4, 0.6, 3.0]) + torch.from_numpy(rng.uniform(-0.3, 0.3, 3))
    eye = eye0.double() * (1 - a) + eye1.double() * a
    target = target0.double() * (1 - a) + target1.double() * a
    K = Cameras.intrinsics_from_fov(fov_y_deg, image_size, num_frames)
    return Cameras.from_w2c(look_at_w2c(eye, target), K, image_size).validate("dynamic clip trajectory")


def _box_paths(num_boxes: int, num_frames: int, rng: np.random.Generator):
    """Centres ``(M, 3)`` at frame 0 and offsets ``(T, M, 3)``: each box crosses the view against the
    camera's truck (x from + to -), bobbing in y and drifting in z."""
    a = np.linspace(0.0, 1.0, num_frames)[:, None]
    centres, offsets = [], []
    for m in range(num_boxes):
        x0 = (np.linspace(-1.0, 1.0, num_boxes)[m] if num_boxes > 1 else 0.5) + 0.2 * rng.random()
        y0 = -0.3 + 0.6 * rng.random()
        z0 = 1.4 + 0.8 * rng.random()
        # a curved, non-uniform path (a point moving on a line at constant speed seen by a camera moving on
        # a line can look static; a swing back and forth cannot)
        amp = np.array([0.6 + 0.3 * rng.random(), 0.25 + 0.15 * rng.random(), 0.3 + 0.2 * rng.random()])
        phase = 2 * math.pi * rng.random(3)
        sign = 1 if m % 2 == 0 else -1
        swing = np.c_[sign * amp[0] * np.sin(2 * math.pi * a + phase[0]),
                      amp[1] * np.sin(4 * math.pi * a + phase[1]), amp[2] * np.sin(3 * math.pi * a + phase[2])]
        centres.append([x0, y0, z0])
        offsets.append(swing - swing[:1])
    if not num_boxes:
        return np.zeros((0, 3)), np.zeros((num_frames, 0, 3))
    return np.array(centres), np.stack(offsets, 1)


def _fit_inside(scene: Scene, centres, half, offsets):
    """Half sizes shrunk so every box stays inside the room at every frame (with :data:`BOX_MARGIN`)."""
    lo_room, hi_room = scene.room_min + BOX_MARGIN, scene.room_max - BOX_MARGIN
    half = half.copy()
    for m in range(len(centres)):
        c = centres[m] + offsets[:, m]
        room = np.minimum(c - lo_room, hi_room - c).min(axis=0)
        half[m] = np.minimum(half[m], np.maximum(room, 0.05))
    return half


def _clear_of_cameras(centres, half, offsets, cameras: Cameras, margin: float = 0.3):
    """Half sizes shrunk so that no box comes within ``margin`` of a camera centre."""
    eyes = cameras.centers.numpy()
    half = half.copy()
    for m in range(len(centres)):
        c = centres[m] + offsets[:, m]
        gap = np.abs(c - eyes).max(axis=1).min()  # Chebyshev distance to the nearest camera
        half[m] = np.minimum(half[m], max(gap - margin, 0.05))
    return half


def _frame_scene(scene: Scene, box_min, box_max, offsets_k, textures) -> Scene:
    return Scene(scene.room_min, scene.room_max, np.concatenate([scene.box_min, box_min + offsets_k]),
                 np.concatenate([scene.box_max, box_max + offsets_k]), scene.textures + tuple(textures),
                 scene.texel_size, scene.seed)


def _render(scene, box_min, box_max, offsets, textures, cameras, antialias):
    t = len(cameras)
    h, w = cameras.image_size
    frames = np.empty((t, h, w, 3), np.uint8)
    depth = np.empty((t, h, w), np.float32)
    moving = np.empty((t, h, w), bool)
    first_moving_face = 6 * (1 + scene.num_boxes)
    for k in range(t):
        s = _frame_scene(scene, box_min, box_max, offsets[k], textures)
        f, d, face = render_frames(s, cameras[k:k + 1], antialias=antialias, return_depth=True)
        frames[k], depth[k], moving[k] = f[0], d[0], face[0] >= first_moving_face
    return frames, depth, moving


def make_dynamic_clip(moving_fraction: float = 0.3, num_frames: int = 16, image_size: tuple[int, int] = (256, 384),
                      seed: int = 0, antialias: int = 2, texel_size: float = 0.01) -> DynamicClip:
    """Render a clip of the room with boxes moving while the camera moves (module docstring).

    Args:
        moving_fraction: wanted share of the frame's pixels on moving boxes, averaged over the clip,
            in ``[0, 0.6]``; ``0`` renders the static room (no moving box). The boxes are fitted to
            within a few points of it; :attr:`DynamicClip.moving_fraction` is the measured share.
        num_frames: ``T >= 2``.
        image_size: ``(H, W)`` pixels.
        seed: scene, path and box seed.
        antialias: supersampling per pixel axis.
        texel_size: texture resolution (scene units per texel).

    Returns:
        :class:`DynamicClip`.

    Raises:
        ValueError: ``moving_fraction`` outside ``[0, 0.6]`` or ``num_frames < 2``.
    """
    if not (0.0 <= moving_fraction <= 0.6):
        raise ValueError(f"moving_fraction must be a share of the frame in [0, 0.6]; got {moving_fraction}")
    cameras = dynamic_trajectory(num_frames, image_size, seed)
    scene = make_scene(seed, texel_size=texel_size)
    rng = np.random.default_rng([seed, 2])
    num_boxes = math.ceil(moving_fraction / MAX_SHARE_PER_BOX)
    centres, offsets = _box_paths(num_boxes, num_frames, rng)
    half = np.full((num_boxes, 3), 0.4)
    half[:, 2] = 0.25
    h, w = image_size
    coarse = cameras.with_image_size((max(16, h // 4), max(16, w // 4))) if num_boxes else None
    for _ in range(6 if num_boxes else 0):
        half = _clear_of_cameras(centres, _fit_inside(scene, centres, half, offsets), offsets, cameras)
        lo, hi = centres - half, centres + half
        textures = [tex for m in range(num_boxes) for tex in _plain_textures(lo[m], hi[m], texel_size * 8)]
        coarse_scene = Scene(scene.room_min, scene.room_max, scene.box_min, scene.box_max,
                             tuple(_plain_textures(scene.room_min, scene.room_max, texel_size * 8))
                             + tuple(t for b in range(scene.num_boxes)
                                     for t in _plain_textures(scene.box_min[b], scene.box_max[b], texel_size * 8)),
                             texel_size * 8)
        _, _, moving = _render(coarse_scene, lo, hi, offsets, textures, coarse, 1)
        measured = float(moving.mean())
        if abs(measured - moving_fraction) < 0.02:
            break
        half[:, :2] *= math.sqrt(moving_fraction / max(measured, 1e-3))
    half = _clear_of_cameras(centres, _fit_inside(scene, centres, half, offsets), offsets, cameras)
    lo, hi = centres - half, centres + half
    textures = [tex for m in range(num_boxes) for tex in box_textures(lo[m], hi[m], texel_size, [seed, 1000 + m])]
    frames, depth, moving = _render(scene, lo, hi, offsets, textures, cameras, antialias)
    return DynamicClip(frames=frames, cameras=cameras, depth=depth, moving_mask=moving,
                       moving_fraction=float(moving.mean()), box_min=lo, box_max=hi, box_offsets=offsets,
                       scene=scene, seed=seed)


def _plain_textures(lo, hi, texel_size):
    """Grey textures of a box's faces (for the coarse coverage renders, where only the face ids count)."""
    from .render import FACE_TEXTURE_AXES

    out = []
    for f in range(6):
        a, b = FACE_TEXTURE_AXES[f // 2]
        cols = int(math.ceil((hi[a] - lo[a]) / texel_size - 1e-9))
        rows = int(math.ceil((hi[b] - lo[b]) / texel_size - 1e-9))
        out.append(np.full((rows, cols, 3), 128, np.uint8))
    return out


def exact_tracks(clip: DynamicClip, num_points: int = 600, seed: int = 0, seed_frames=(0,),
                 depth_tolerance: float = DEPTH_TOLERANCE):
    """Exact 2D tracks of random seed pixels of ``clip`` (module docstring).

    Seeds: ``num_points`` pixels drawn uniformly (``numpy.random.default_rng(seed)``) over the seed
    frames in turn. A seed ``(u, v)`` in frame ``s`` is lifted with the depth of its pixel,
    ``X = R_s^T (z K^-1 [u, v, 1]^T - t_s)``; when that pixel shows moving box ``m`` the point rides
    with it, ``X_k = X + offset_m(k) - offset_m(s)``. In frame ``k``, ``z_k [u_k, v_k, 1] = K (R_k X_k
    + t_k)``; visible when ``z_k > 0``, inside the frame and one of the 2 x 2 pixel centres around it
    has depth within ``depth_tolerance * z_k`` of ``z_k``.

    Returns:
        ``(tracks, world, moving)``: :class:`~raxel_core.interop.Tracks2D` (``(T, N, 2)`` pixels,
        visibility), ``world (T, N, 3)`` float64 exact 3D points per frame, ``moving (N,)`` bool (the
        track lies on a moving box).
    """
    t, h, w = clip.depth.shape
    rng = np.random.default_rng(seed)
    seed_frames = np.asarray(seed_frames, dtype=np.int64)
    frame_of_seed = seed_frames[np.arange(num_points) % len(seed_frames)]
    uv = rng.uniform([0, 0], [w, h], size=(num_points, 2))
    col = np.clip(np.floor(uv[:, 0]).astype(np.int64), 0, w - 1)
    row = np.clip(np.floor(uv[:, 1]).astype(np.int64), 0, h - 1)
    uv = np.c_[col + 0.5, row + 0.5]  # pixel centres: the depth there is exact
    K, R, tr = clip.cameras.K.numpy(), clip.cameras.R.numpy(), clip.cameras.t.numpy()
    z = clip.depth[frame_of_seed, row, col].astype(np.float64)
    rays = np.einsum("nij,nj->ni", np.linalg.inv(K[frame_of_seed]), np.c_[uv, np.ones(num_points)])
    X = np.einsum("nji,nj->ni", R[frame_of_seed], z[:, None] * rays - tr[frame_of_seed])
    moving = clip.moving_mask[frame_of_seed, row, col]
    box = np.full(num_points, -1)
    for m in range(len(clip.box_min)):
        lo = clip.box_min[m] + clip.box_offsets[frame_of_seed, m]
        hi = clip.box_max[m] + clip.box_offsets[frame_of_seed, m]
        on = moving & (box < 0) & ((X >= lo - 1e-3) & (X <= hi + 1e-3)).all(axis=1)
        box[on] = m
    world = np.repeat(X[None], t, 0)
    for m in range(len(clip.box_min)):
        sel = box == m
        world[:, sel] += clip.box_offsets[:, m][:, None] - clip.box_offsets[frame_of_seed[sel], m][None]
    points = np.empty((t, num_points, 2))
    visible = np.zeros((t, num_points), bool)
    for k in range(t):
        cam = world[k] @ R[k].T + tr[k]
        zk = cam[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            p = (cam @ K[k].T)[:, :2] / cam[:, 2:3]
        points[k] = np.nan_to_num(p)
        inside = (zk > 0) & (p[:, 0] >= 0) & (p[:, 0] < w) & (p[:, 1] >= 0) & (p[:, 1] < h)
        c0 = np.floor(np.nan_to_num(p[:, 0]) - 0.5).astype(np.int64)
        r0 = np.floor(np.nan_to_num(p[:, 1]) - 0.5).astype(np.int64)
        agree = np.zeros(num_points, bool)
        for dr in (0, 1):
            for dc in (0, 1):
                d = clip.depth[k, np.clip(r0 + dr, 0, h - 1), np.clip(c0 + dc, 0, w - 1)]
                agree |= np.abs(d - zk) <= depth_tolerance * np.abs(zk)
        visible[k] = inside & agree
    for n in range(num_points):  # a track is hidden before its seed frame (as the tracker's are)
        visible[:frame_of_seed[n], n] = False
    return Tracks2D(points.astype(np.float32), visible), world, box >= 0
