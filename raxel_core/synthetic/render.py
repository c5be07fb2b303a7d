"""Synthetic textured scenes rendered along known cameras (ground truth for pose estimation and training).

:func:`make_scene` + :func:`render_frames`: an axis-aligned room (floor, walls, ceiling) with a few
boxes inside, every face carrying a rich procedural texture, rendered by exact per-pixel ray casting
(ray / axis-aligned-plane and ray / box slab intersections, nearest hit, bilinear texture lookup,
``s x s`` supersampling), in the one convention of :mod:`raxel_core.cameras` (OpenCV axes,
world-to-camera ``R, t``, pixel ``K``, pixel centres at ``(col + 0.5, row + 0.5)``). Camera paths
through the room: :mod:`raxel_core.synthetic.room_trajectories`.

Scene units: the room is a few units across (think metres); world axes are OpenCV's, so **y points
down**: the floor is the plane ``y = room_max[1]`` and the ceiling ``y = room_min[1]``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from ..cameras import Cameras

#: Face order of a box (the room is box 0 seen from inside, the boxes follow): for the normal axis
#: ``k`` in (x, y, z), face ``2k`` lies on the box's minimum plane and ``2k + 1`` on its maximum.
FACE_NAMES = ("x_min", "x_max", "y_min (ceiling / top)", "y_max (floor / bottom)", "z_min", "z_max")

#: In-plane texture axes ``(a, b)`` of a face whose normal is world axis ``k``: texture column
#: ``u`` runs along world axis ``a``, texture row ``v`` along world axis ``b``.
FACE_TEXTURE_AXES = {0: (2, 1), 1: (0, 2), 2: (0, 1)}

SCENE_KINDS = ("room", "empty_room")

_RAY_CHUNK = 1 << 18  # rays cast at once (bounds the memory of the (P, boxes, 3) slab tensors)


@dataclass(frozen=True, eq=False)
class Scene:
    """An axis-aligned room seen from inside, with axis-aligned boxes in it, every face textured.

    Geometry is in scene units, OpenCV world axes (x right, **y down**, z forward): the floor is
    ``y = room_max[1]``, the ceiling ``y = room_min[1]``.

    Attributes:
        room_min, room_max: ``(3,)`` float64 opposite corners of the room.
        box_min, box_max: ``(B, 3)`` float64 opposite corners of the ``B`` boxes (``B`` may be 0);
            each box lies strictly inside the room.
        textures: ``6 * (1 + B)`` uint8 RGB arrays, one per face: the room's six faces then six per
            box, in :data:`FACE_NAMES` order. Face ``f`` with normal axis ``k`` and texture axes
            ``(a, b) = FACE_TEXTURE_AXES[k]`` has a texture of shape
            ``(ceil(extent_b / texel_size), ceil(extent_a / texel_size), 3)``; texel ``(row j, col i)``
            covers ``a in lo_a + texel_size * [i, i + 1]``, ``b in lo_b + texel_size * [j, j + 1]``
            (``lo`` the face's minimum corner), its centre is at ``+ 0.5`` texel. Any shading is baked
            into the textures (the renderer applies no lighting).
        texel_size: edge of one texel in scene units.
        seed: the seed the scene was made from (``None`` for hand-built scenes).
    """

    room_min: np.ndarray
    room_max: np.ndarray
    box_min: np.ndarray
    box_max: np.ndarray
    textures: tuple
    texel_size: float
    seed: int | None = None
    metadata: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        room_min = np.asarray(self.room_min, dtype=np.float64).reshape(3)
        room_max = np.asarray(self.room_max, dtype=np.float64).reshape(3)
        box_min = np.asarray(self.box_min, dtype=np.float64).reshape(-1, 3)
        box_max = np.asarray(self.box_max, dtype=np.float64).reshape(-1, 3)
        if not (room_max > room_min).all():
            raise ValueError(f"room_max {room_max} must exceed room_min {room_min} on every axis")
        if box_min.shape != box_max.shape:
            raise ValueError(f"box_min {box_min.shape} and box_max {box_max.shape} must match")
        for b in range(len(box_min)):
            if not (box_max[b] > box_min[b]).all():
                raise ValueError(f"box {b}: box_max {box_max[b]} must exceed box_min {box_min[b]}")
            if (box_min[b] <= room_min).any() or (box_max[b] >= room_max).any():
                raise ValueError(f"box {b} [{box_min[b]}, {box_max[b]}] must lie strictly inside the room")
        if not self.texel_size > 0:
            raise ValueError(f"texel_size must be positive scene units; got {self.texel_size}")
        textures = tuple(self.textures)
        if len(textures) != 6 * (1 + len(box_min)):
            raise ValueError(
                f"a scene with {len(box_min)} boxes needs {6 * (1 + len(box_min))} face textures "
                f"(6 per box plus 6 for the room); got {len(textures)}"
            )
        object.__setattr__(self, "room_min", room_min)
        object.__setattr__(self, "room_max", room_max)
        object.__setattr__(self, "box_min", box_min)
        object.__setattr__(self, "box_max", box_max)
        object.__setattr__(self, "textures", textures)
        for f, tex in enumerate(textures):
            want = self.texture_shape(f)
            if not (isinstance(tex, np.ndarray) and tex.dtype == np.uint8 and tex.shape == want):
                got = (getattr(tex, "dtype", type(tex)), getattr(tex, "shape", None))
                raise ValueError(f"face {f} texture must be uint8 of shape {want}; got {got}")

    @property
    def num_boxes(self) -> int:
        return len(self.box_min)

    def face_bounds(self, face: int) -> tuple[int, float, np.ndarray, np.ndarray]:
        """``(normal axis k, plane coordinate, lo (3,), hi (3,))`` of face ``face``."""
        owner, local = divmod(int(face), 6)
        lo, hi = (self.room_min, self.room_max) if owner == 0 else (
            self.box_min[owner - 1], self.box_max[owner - 1])
        k, side = divmod(local, 2)
        return k, float(hi[k] if side else lo[k]), lo, hi

    def texture_shape(self, face: int) -> tuple[int, int, int]:
        """``(rows, cols, 3)`` of face ``face``'s texture (see the class docstring)."""
        k, _, lo, hi = self.face_bounds(face)
        return _texture_shape(k, lo, hi, self.texel_size)

    def contains(self, points) -> np.ndarray:
        """``(N,)`` bool: which ``(N, 3)`` points are inside the room and outside every box, i.e.
        where a camera can stand."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        inside = ((p > self.room_min) & (p < self.room_max)).all(axis=1)
        for b in range(self.num_boxes):
            inside &= ~((p >= self.box_min[b]) & (p <= self.box_max[b])).all(axis=1)
        return inside


# ----------------------------------------------------------------------------------- textures
def _texture_shape(k: int, lo: np.ndarray, hi: np.ndarray, texel_size: float) -> tuple[int, int, int]:
    a, b = FACE_TEXTURE_AXES[k]
    cols = int(math.ceil((hi[a] - lo[a]) / texel_size - 1e-9))
    rows = int(math.ceil((hi[b] - lo[b]) / texel_size - 1e-9))
    return rows, cols, 3


def _value_noise(rng: np.random.Generator, shape: tuple[int, int], cell: float) -> np.ndarray:
    """``(H, W)`` float32 smooth noise in ~[0, 1]: a random grid of ``cell``-texel spacing, bicubic."""
    h, w = shape
    gh, gw = max(2, int(math.ceil(h / cell)) + 1), max(2, int(math.ceil(w / cell)) + 1)
    grid = rng.random((gh, gw), dtype=np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def _face_texture(rng: np.random.Generator, shape: tuple[int, int], shade: float) -> np.ndarray:
    """A feature-rich RGB texture: multi-scale value noise tinted by a low-frequency colour field,
    a faint checker, and many random filled / outlined ellipses and rectangles of random colour
    (blob and corner features for SIFT at several scales), times a constant ``shade``."""
    h, w = shape
    base_hue = rng.random()
    # multi-scale luminance noise (octaves 64, 24, 8, 3 texels)
    lum = sum(a * _value_noise(rng, shape, c) for a, c in ((0.45, 64), (0.3, 24), (0.17, 8), (0.08, 3)))
    lum = 0.35 + 0.65 * (lum - lum.min()) / max(float(np.ptp(lum)), 1e-6)
    # colour field: hue drifting around the face's base hue, moderate saturation
    hue = (base_hue + 0.25 * (_value_noise(rng, shape, 90) - 0.5)) % 1.0
    sat = 0.25 + 0.35 * _value_noise(rng, shape, 120)
    hsv = np.stack([hue * 180.0, sat, lum], -1).astype(np.float32)
    img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)  # float32 in [0, 1]
    cell = int(rng.integers(24, 64))
    yy, xx = np.mgrid[0:h, 0:w]
    img *= (0.85 + 0.15 * (((yy // cell) + (xx // cell)) % 2))[..., None].astype(np.float32)
    img = np.clip(img * 255.0, 0, 255).astype(np.uint8)
    # blobs and rectangles: about one per 500 texels, radii 2-22 texels, colours around the face's
    # hue with random saturation and value (strong local contrast for detectors)
    count = max(8, (h * w) // 500)
    centres = rng.random((count, 2)) * (w, h)
    radii = 2 + 20 * rng.random((count, 2)) ** 2
    blob_hsv = np.stack([((base_hue + 0.6 * (rng.random(count) - 0.5)) % 1.0) * 180.0,
                         0.2 + 0.7 * rng.random(count), 0.1 + 0.9 * rng.random(count)], -1)
    colours = cv2.cvtColor(blob_hsv[None].astype(np.float32), cv2.COLOR_HSV2RGB)[0] * 255.0
    kinds = rng.integers(0, 4, count)
    angles = rng.random(count) * 180
    for (cx, cy), (rx, ry), col, kind, ang in zip(centres, radii, colours, kinds, angles, strict=True):
        col = tuple(int(v) for v in col)
        centre, axes = (int(cx), int(cy)), (int(rx), int(ry))
        if kind == 0:
            cv2.ellipse(img, centre, axes, float(ang), 0, 360, col, -1, cv2.LINE_AA)
        elif kind == 1:
            cv2.ellipse(img, centre, axes, float(ang), 0, 360, col, 2, cv2.LINE_AA)
        elif kind == 2:
            cv2.rectangle(img, (centre[0] - axes[0], centre[1] - axes[1]),
                          (centre[0] + axes[0], centre[1] + axes[1]), col, -1)
        else:
            cv2.circle(img, centre, max(1, axes[0] // 2), col, -1, cv2.LINE_AA)
    return np.clip(img.astype(np.float32) * shade, 0, 255).astype(np.uint8)


#: Baked shading per face (x_min, x_max, ceiling, floor, z_min, z_max): a fixed light from above
#: and slightly left, so that faces of different orientation differ in brightness.
_FACE_SHADE = (0.85, 0.72, 0.62, 1.0, 0.78, 0.92)


def make_scene(seed: int = 0, kind: str = "room", texel_size: float = 0.01) -> Scene:
    """A textured room, deterministic from ``seed``.

    The room spans x in [-3, 3], y in [-1.5, 1.5] (floor at y = 1.5: OpenCV y is down), z in [-2, 5]
    scene units. ``kind="room"`` adds four boxes standing on the floor at random (seeded) places in
    front of the default camera path (z in [1, 4.3]); ``kind="empty_room"`` has none. Every face gets
    its own texture (:func:`_face_texture`, ``texel_size`` units per texel, so ~1.7 M texels at the
    default 0.01) rich enough for SIFT to find several hundred features per frame.

    Args:
        seed: integer seed; equal seeds give identical scenes.
        kind: one of :data:`SCENE_KINDS`.
        texel_size: texture resolution in scene units per texel (> 0).

    Returns:
        :class:`Scene`.

    Raises:
        ValueError: unknown ``kind`` or a non-positive ``texel_size``.
    """
    if kind not in SCENE_KINDS:
        raise ValueError(f"unknown scene kind {kind!r}; choose one of {SCENE_KINDS}")
    if not texel_size > 0:
        raise ValueError(f"texel_size must be positive scene units; got {texel_size}")
    rng = np.random.default_rng(seed)
    room_min, room_max = np.array([-3.0, -1.5, -2.0]), np.array([3.0, 1.5, 5.0])
    boxes: list[tuple[np.ndarray, np.ndarray]] = []
    if kind == "room":
        for _ in range(200):
            if len(boxes) == 4:
                break
            size = np.array([0.5 + 0.6 * rng.random(), 0.5 + 0.8 * rng.random(), 0.5 + 0.6 * rng.random()])
            x, z = -2.3 + 4.6 * rng.random(), 1.0 + 3.3 * rng.random()
            lo = np.array([x - size[0] / 2, room_max[1] - 0.01 - size[1], z - size[2] / 2])
            hi = np.array([x + size[0] / 2, room_max[1] - 0.01, z + size[2] / 2])
            lo, hi = np.round(lo, 3), np.round(hi, 3)
            if (lo <= room_min + 0.2).any() or (hi >= room_max).any():
                continue
            clear = all(
                (lo[[0, 2]] > h2[[0, 2]] + 0.15).any() or (hi[[0, 2]] < l2[[0, 2]] - 0.15).any()
                for l2, h2 in boxes
            )
            if clear:
                boxes.append((lo, hi))
    box_min = np.array([b[0] for b in boxes]).reshape(-1, 3)
    box_max = np.array([b[1] for b in boxes]).reshape(-1, 3)
    textures = []
    for f in range(6 * (1 + len(boxes))):
        owner, local = divmod(f, 6)
        lo, hi = (room_min, room_max) if owner == 0 else boxes[owner - 1]
        rows, cols, _ = _texture_shape(local // 2, lo, hi, texel_size)
        face_rng = np.random.default_rng([seed, f])
        textures.append(_face_texture(face_rng, (rows, cols), _FACE_SHADE[f % 6]))
    return Scene(room_min, room_max, box_min, box_max, tuple(textures), float(texel_size), seed,
                 metadata={"kind": kind})


def box_textures(box_min, box_max, texel_size: float, seed) -> list[np.ndarray]:
    """The six face textures (:data:`FACE_NAMES` order) of a box ``[box_min, box_max]`` for a
    :class:`Scene`: the same procedural textures and baked shading as :func:`make_scene`'s faces, drawn
    from ``numpy.random.default_rng([seed, face])`` (``seed`` an int or a list of ints)."""
    lo, hi = np.asarray(box_min, dtype=np.float64), np.asarray(box_max, dtype=np.float64)
    seeds = list(seed) if isinstance(seed, (list, tuple)) else [int(seed)]
    out = []
    for f in range(6):
        rows, cols, _ = _texture_shape(f // 2, lo, hi, texel_size)
        out.append(_face_texture(np.random.default_rng([*seeds, f]), (rows, cols), _FACE_SHADE[f]))
    return out


# ----------------------------------------------------------------------------------- ray casting
@dataclass
class _Atlas:
    """Every face texture flattened into one ``(T, 3)`` float32 table plus per-face lookup data."""

    texels: torch.Tensor  # (T, 3) float32
    offset: torch.Tensor  # (F,) int64 first texel of each face
    rows: torch.Tensor  # (F,) int64
    cols: torch.Tensor  # (F,) int64
    axis_a: torch.Tensor  # (F,) int64 world axis along texture columns
    axis_b: torch.Tensor  # (F,) int64 world axis along texture rows
    lo_a: torch.Tensor  # (F,) float32 face minimum along axis_a
    lo_b: torch.Tensor  # (F,) float32


def _atlas(scene: Scene) -> _Atlas:
    offsets, rows, cols, axis_a, axis_b, lo_a, lo_b, offset = [], [], [], [], [], [], [], 0
    for f, tex in enumerate(scene.textures):
        k, _, lo, _ = scene.face_bounds(f)
        a, b = FACE_TEXTURE_AXES[k]
        offsets.append(offset)
        rows.append(tex.shape[0])
        cols.append(tex.shape[1])
        axis_a.append(a)
        axis_b.append(b)
        lo_a.append(lo[a])
        lo_b.append(lo[b])
        offset += tex.shape[0] * tex.shape[1]
    texels = torch.from_numpy(np.concatenate([t.reshape(-1, 3) for t in scene.textures]).astype(np.float32))
    i64 = lambda v: torch.tensor(v, dtype=torch.int64)  # noqa: E731
    f32 = lambda v: torch.tensor(v, dtype=torch.float32)  # noqa: E731
    return _Atlas(texels, i64(offsets), i64(rows), i64(cols), i64(axis_a), i64(axis_b), f32(lo_a), f32(lo_b))


def _cast(origin: torch.Tensor, dirs: torch.Tensor, room_min, room_max, box_min, box_max):
    """Nearest hit of rays ``origin (3,) + s * dirs (P, 3)`` (float32) from inside the room.

    Returns ``(s (P,), face (P,) int64)``: the ray parameter of the nearest hit and its face index
    (:class:`Scene` face order).
    """
    safe = torch.where(dirs.abs() < 1e-12, torch.full_like(dirs, 1e-12), dirs)
    inv = 1.0 / safe
    # room (seen from inside): leave through the max plane where d > 0, the min plane otherwise:
    # s_k = (bound_k - o_k) / d_k, hit = min_k s_k
    positive = safe > 0
    bound = torch.where(positive, room_max, room_min)
    s_axes = (bound - origin) * inv
    s, k = s_axes.min(dim=1)
    face = 2 * k + positive.gather(1, k[:, None])[:, 0].long()
    if box_min.shape[0]:
        # slab test (Kay & Kajiya 1986): s_near = max_k min(s1_k, s2_k), s_far = min_k max(...)
        s1 = (box_min - origin)[None] * inv[:, None, :]  # (P, B, 3)
        s2 = (box_max - origin)[None] * inv[:, None, :]
        s_near_axes = torch.minimum(s1, s2)
        s_near, k_near = s_near_axes.max(dim=2)  # (P, B)
        s_far = torch.maximum(s1, s2).min(dim=2).values
        hit = (s_near <= s_far) & (s_near > 0)
        s_box = torch.where(hit, s_near, torch.full_like(s_near, float("inf")))
        s_best, b = s_box.min(dim=1)
        closer = s_best < s
        k_b = k_near.gather(1, b[:, None])[:, 0]
        # entering through the min plane of axis k when d_k > 0, the max plane otherwise
        side = (~positive.gather(1, k_b[:, None])[:, 0]).long()
        face = torch.where(closer, 6 + 6 * b + 2 * k_b + side, face)
        s = torch.where(closer, s_best, s)
    return s, face


def _shade(atlas: _Atlas, points: torch.Tensor, face: torch.Tensor, texel_size: float) -> torch.Tensor:
    """Bilinear texture lookup (clamped at face edges) of hit ``points (P, 3)`` on faces ``face``.
    Returns ``(P, 3)`` float32 in [0, 255]."""
    pa = points.gather(1, atlas.axis_a[face][:, None])[:, 0]
    pb = points.gather(1, atlas.axis_b[face][:, None])[:, 0]
    # continuous texel coordinates with texel centres at integers: u = (p_a - lo_a) / texel - 0.5
    u = (pa - atlas.lo_a[face]) / texel_size - 0.5
    v = (pb - atlas.lo_b[face]) / texel_size - 0.5
    cols, rows = atlas.cols[face], atlas.rows[face]
    u0f, v0f = torch.floor(u), torch.floor(v)
    fu, fv = (u - u0f)[:, None], (v - v0f)[:, None]
    u0, v0 = u0f.long(), v0f.long()
    u1 = torch.clamp(u0 + 1, min=0)
    v1 = torch.clamp(v0 + 1, min=0)
    u0 = torch.minimum(torch.clamp(u0, min=0), cols - 1)
    v0 = torch.minimum(torch.clamp(v0, min=0), rows - 1)
    u1 = torch.minimum(u1, cols - 1)
    v1 = torch.minimum(v1, rows - 1)
    row0 = atlas.offset[face] + v0 * cols
    row1 = atlas.offset[face] + v1 * cols
    t = atlas.texels
    c00, c01 = t.index_select(0, row0 + u0), t.index_select(0, row0 + u1)
    c10, c11 = t.index_select(0, row1 + u0), t.index_select(0, row1 + u1)
    return (c00 * (1 - fu) + c01 * fu) * (1 - fv) + (c10 * (1 - fu) + c11 * fu) * fv


def _check_cameras_inside(scene: Scene, cameras: Cameras) -> None:
    centres = cameras.centers.numpy()
    ok = scene.contains(centres)
    if not ok.all():
        k = int(np.flatnonzero(~ok)[0])
        raise ValueError(
            f"camera {k} at {np.round(centres[k], 3).tolist()} is outside the room "
            f"[{scene.room_min.tolist()}, {scene.room_max.tolist()}] or inside a box; the renderer "
            "casts rays from inside the room only: move the trajectory into the room "
            "(raxel_core.synthetic.room_trajectories.default_demo_trajectory shows a valid path)"
        )


def render_frames(scene: Scene, cameras: Cameras, antialias: int = 2, return_depth: bool = False):
    """Render ``scene`` from every camera by exact per-pixel ray casting.

    Pixel ``(row i, col j)`` is the average over ``antialias x antialias`` sub-pixel rays through
    ``(j + (q + 0.5) / s, i + (r + 0.5) / s)`` (``s = antialias``; with ``s = 1`` the pixel centre
    ``(j + 0.5, i + 0.5)``), each the world ray ``c + s * R^T K^-1 [u, v, 1]^T`` from the camera
    centre ``c = -R^T t``. The nearest intersection with the room's faces and the boxes is textured
    by bilinear lookup. Geometry in float32 (ray directions computed in float64 first).

    Args:
        scene: from :func:`make_scene` (or hand-built :class:`Scene`).
        cameras: ``N`` cameras; their ``image_size (H, W)`` is the output size. Every camera centre
            must lie inside the room and outside every box.
        antialias: supersampling factor ``s >= 1`` per axis.
        return_depth: also return, for the ray through each pixel centre ``(j + 0.5, i + 0.5)``,
            the ``(N, H, W)`` float32 z-depth of its hit (camera z, scene units) and the
            ``(N, H, W)`` int64 index of the face it hits (:class:`Scene` face order).

    Returns:
        ``(N, H, W, 3)`` uint8 RGB frames; with ``return_depth`` a tuple
        ``(frames, depth, face)``.

    Raises:
        ValueError: a camera is outside the room or inside a box, ``antialias < 1``, or an empty
            trajectory.
    """
    if int(antialias) != antialias or antialias < 1:
        raise ValueError(f"antialias must be an integer >= 1 (sub-samples per pixel axis); got {antialias}")
    if len(cameras) == 0:
        raise ValueError("the trajectory has no cameras; give at least one")
    s = int(antialias)
    _check_cameras_inside(scene, cameras)
    h, w = cameras.image_size
    atlas = _atlas(scene)
    room_min, room_max = (torch.from_numpy(v).float() for v in (scene.room_min, scene.room_max))
    box_min, box_max = (torch.from_numpy(v).float() for v in (scene.box_min, scene.box_max))

    def pixel_grid(sub: int) -> torch.Tensor:
        # (H*sub*W*sub, 3) homogeneous pixel coordinates, row-major over the supersampled grid
        ys = (torch.arange(h * sub, dtype=torch.float64) + 0.5) / sub
        xs = (torch.arange(w * sub, dtype=torch.float64) + 0.5) / sub
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        return torch.stack([xx, yy, torch.ones_like(xx)], -1).reshape(-1, 3)

    def trace(n: int, uv1: torch.Tensor):
        # world directions d = R^T K^-1 [u, v, 1]^T (float64), then float32 casting
        dirs = (uv1 @ torch.linalg.inv(cameras.K[n]).T @ cameras.R[n]).float()
        origin = cameras.centers[n].float()
        colours, depths, faces = [], [], []
        for start in range(0, dirs.shape[0], _RAY_CHUNK):
            d = dirs[start:start + _RAY_CHUNK]
            s_hit, face = _cast(origin, d, room_min, room_max, box_min, box_max)
            points = origin + s_hit[:, None] * d
            colours.append(_shade(atlas, points, face, scene.texel_size))
            depths.append(s_hit)  # d has camera z = 1, so the ray parameter is the z-depth
            faces.append(face)
        return torch.cat(colours), torch.cat(depths), torch.cat(faces)

    uv_aa = pixel_grid(s)
    frames = np.empty((len(cameras), h, w, 3), dtype=np.uint8)
    depth = np.empty((len(cameras), h, w), dtype=np.float32) if return_depth else None
    face_map = np.empty((len(cameras), h, w), dtype=np.int64) if return_depth else None
    uv_centre = pixel_grid(1) if return_depth else None
    for n in range(len(cameras)):
        colour, _, _ = trace(n, uv_aa)
        # box filter over the s x s sub-pixels: (H, s, W, s, 3) mean
        colour = colour.reshape(h, s, w, s, 3).mean(dim=(1, 3))
        frames[n] = torch.round(colour).clamp(0, 255).to(torch.uint8).numpy()
        if return_depth:
            _, z, f = trace(n, uv_centre)
            depth[n] = z.reshape(h, w).numpy()
            face_map[n] = f.reshape(h, w).numpy()
    if return_depth:
        return frames, depth, face_map
    return frames
