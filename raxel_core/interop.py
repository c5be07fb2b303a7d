"""Conversions between :class:`raxel_core.cameras.Cameras` / :class:`Tracks2D` and the payloads of
other ComfyUI node packs and of ComfyUI core (the edge of the core library: the nodes call these).

Each payload is documented below from the source that defines it; every reader validates what it
gets and raises ``ValueError`` naming the frame / track / key and the fix.

AnimateDiff-Evolved ``CAMERACTRL_POSES``
----------------------------------------
Source: ``Kosinkadink/ComfyUI-AnimateDiff-Evolved``, ``animatediff/nodes_cameractrl.py``
(``LoadCameraPosesFromFile``, ``set_original_pose_dims``, ``ndarray_to_poses``) and
``animatediff/adapter_cameractrl.py`` (``CameraEntry``, ``prepare_pose_embedding``).
The payload is a ``list[list[float]]``, one entry of 19 numbers per frame::

    [timestamp, fx_n, fy_n, cx_n, cy_n, pose_width, pose_height, r11 r12 r13 t1 r21 r22 r23 t2 r31 r32 r33 t3]

that is a RealEstate10K line whose two unused zeros (indices 5, 6) hold the size ``(W0, H0)`` of the
video the normalised intrinsics refer to (ADE's loaders write ``1280, 720``); the last 12 numbers
are the **world-to-camera** ``[R | t]`` row-major, OpenCV axes (``CameraEntry`` reshapes them to
3x4 and inverts for c2w). For a sample of ``W x H`` pixels ADE computes pixel intrinsics
(``prepare_pose_embedding``) with ``a = W0 / H0``::

    a > W / H:  fx = fx_n * H * a,  fy = fy_n * H        (the source was wider: resized to height H)
    else:       fx = fx_n * W,      fy = fy_n * W / a    (the source was taller: resized to width W)
    cx = cx_n * W,  cy = cy_n * H                        (the centre crop's offset is not applied)

and casts rays through pixel centres ``i + 0.5``, which is this core's ``K`` convention.
:func:`from_cameractrl_poses` applies exactly that map; :func:`to_cameractrl_poses` inverts it. For
RealEstate10K files (``cx_n = cy_n = 0.5``) this equals ``read_realestate10k(path, image_size,
source_aspect=16/9)``.

ComfyUI core ``LOAD3D_CAMERA``
------------------------------
Source: ComfyUI ``comfy_api/latest/_io.py`` (``Load3DCamera.CameraInfo``, a ``TypedDict``) and
``comfy_extras/nodes_load_3d.py`` (``Load3D`` outputs it, ``Preview3D`` takes it as ``camera_info``)::

    {"position": {"x", "y", "z"}, "target": {"x", "y", "z"}, "zoom": int, "cameraType": str}

The frontend's three.js scene is right-handed with **Y up**; a three.js camera looks along its local
``-Z`` with local ``+Y`` up, and (OrbitControls) looks from ``position`` at ``target`` keeping world
``+Y`` up, so the dict carries no roll and no field of view (the Load3D widget holds the fov). World
mapping used here: OpenCV world ``(x, y, z)`` -> three.js ``(x, -y, -z)`` (a 180 degree rotation
about x), so an identity OpenCV camera is the default three.js camera. ``zoom`` is three.js
``PerspectiveCamera.zoom``: the effective vertical fov is ``2 atan(tan(fov / 2) / zoom)``.

Tracks: ComfyUI core ``TRACKS`` and JSON point lists
----------------------------------------------------
``TRACKS`` (WanMove nodes): ``{"track_path": [T, N, 2] float pixels (x, y), "track_visibility":
[T, N] bool}``. That type is **not** in the ComfyUI snapshot read here (v0.3.64, 2025-10-12: no
``track_path`` anywhere in its source); the layout is the one consumed by ComfyUI-WanVideoWrapper's
``WanVideoWanDrawWanMoveTracks`` (``tracks["track_path"]``, ``tracks["track_visibility"]``, both
unbatched, time first) and recorded in the team's ComfyUI notes.
JSON tracks (KJNodes' spline / points editors and many packs): a list with one entry per track, each
a list of per-frame points ``{"x": float, "y": float}`` in pixels. The layout has no visibility; this
module writes ``"visible": false`` on hidden points only (readers that take ``x``/``y`` ignore it) and
reads it back when present, so a round trip is lossless.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from numbers import Real

import numpy as np
import torch

from .cameras import Cameras, look_at_w2c
from .formats.text_files import JSONTextError, check_inline_json_size, parse_json

# --------------------------------------------------------------------------- CameraCtrl (ADE)

#: ``(W0, H0)`` ADE writes into indices 5, 6 (``CAM.DEFAULT_POSE_WIDTH / HEIGHT``).
CAMERACTRL_DEFAULT_POSE_SIZE = (1280, 720)
_CAMERACTRL_VALUES = 19


def _cameractrl_pixel_scale(image_size, pose_size):
    """``(sx, sy)`` with ``fx = fx_n * sx``, ``fy = fy_n * sy`` (ADE ``prepare_pose_embedding``)."""
    h, w = image_size
    pw, ph = pose_size
    a = pw / ph
    if a > w / h:
        return h * a, float(h)
    return float(w), w / a


def to_cameractrl_poses(cameras: Cameras, pose_size=None, timestamps=None) -> list[list[float]]:
    """Cameras -> AnimateDiff-Evolved ``CAMERACTRL_POSES`` (module docstring for the layout).

    Args:
        cameras: the trajectory (any length); ``K`` must have zero skew.
        pose_size: ``(W0, H0)`` written into indices 5, 6 and used to normalise the intrinsics;
            default the cameras' own ``(W, H)`` (then ``fx_n = fx / W``, ``fy_n = fy / H``, and ADE
            rescales correctly to any sample size).
        timestamps: N numbers for index 0; default ``metadata["realestate10k"]["timestamps_us"]`` or
            ``metadata["cameractrl"]["timestamps"]`` when they hold N values, else
            ``k * 1e6 / fps`` microseconds (30 fps when ``cameras.fps`` is unknown). ADE ignores them.

    Returns:
        ``list`` of N lists of 19 Python floats.

    Raises:
        ValueError: invalid cameras, non-zero skew, a bad ``pose_size`` or timestamp count.
    """
    cameras.validate(source="CameraCtrl poses")
    if (cameras.K[:, 0, 1].abs() > 1e-9).any():
        raise ValueError("CameraCtrl poses have no skew term but K[0, 1] is non-zero; remove the skew first")
    h, w = cameras.image_size
    pw, ph = _check_pose_size(pose_size if pose_size is not None else (w, h), "pose_size")
    n = len(cameras)
    timestamps = _timestamps(cameras, timestamps)
    sx, sy = _cameractrl_pixel_scale((h, w), (pw, ph))
    # inverse of ADE: fx_n = fx / sx, fy_n = fy / sy, cx_n = cx / W, cy_n = cy / H
    fx_n, fy_n = cameras.fx / sx, cameras.fy / sy
    cx_n, cy_n = cameras.cx / w, cameras.cy / h
    w2c = torch.cat([cameras.R, cameras.t[:, :, None]], dim=2).reshape(n, 12)
    poses = []
    for k in range(n):
        head = [float(timestamps[k]), float(fx_n[k]), float(fy_n[k]), float(cx_n[k]), float(cy_n[k])]
        poses.append(head + [float(pw), float(ph)] + [float(v) for v in w2c[k]])
    return poses


def from_cameractrl_poses(poses, image_size, pose_size=None) -> Cameras:
    """AnimateDiff-Evolved ``CAMERACTRL_POSES`` -> validated :class:`Cameras` for ``image_size``.

    The pixel intrinsics are the ones ADE's ``prepare_pose_embedding`` feeds its CameraCtrl encoder
    for a ``W x H`` sample (module docstring), so the cameras are what that model sees.

    Args:
        poses: ``list`` of N entries of 19 numbers (a ``torch`` / ``numpy`` ``(N, 19)`` array works too).
        image_size: ``(H, W)`` pixels of the frames the poses will drive.
        pose_size: ``(W0, H0)`` to use instead of indices 5, 6 (required when those are 0, as in a
            raw RealEstate10K line).

    Returns:
        ``Cameras`` (float64, OpenCV w2c), ``metadata["cameractrl"] = {"timestamps", "pose_size"}``.

    Raises:
        ValueError: naming the entry for a wrong length, a non-number, a non-positive pose size, and
            (via :meth:`Cameras.validate`) non-finite values or non-rotations.
    """
    h, w = _check_image_size(image_size)
    if isinstance(poses, (torch.Tensor, np.ndarray)):
        poses = np.asarray(poses, dtype=np.float64).tolist()
    if not isinstance(poses, (list, tuple)) or len(poses) == 0:
        raise ValueError(
            "CameraCtrl poses must be a non-empty list of per-frame lists of 19 numbers; got "
            f"{type(poses).__name__} of length {len(poses) if hasattr(poses, '__len__') else '?'}"
        )
    rows = []
    for k, entry in enumerate(poses):
        if not isinstance(entry, (list, tuple)) or len(entry) != _CAMERACTRL_VALUES:
            got = len(entry) if isinstance(entry, (list, tuple)) else type(entry).__name__
            raise ValueError(
                f"CameraCtrl pose entry {k}: expected {_CAMERACTRL_VALUES} numbers (timestamp, fx fy cx cy, "
                f"pose width, pose height, 12 numbers of the 3x4 world-to-camera matrix); got {got}"
            )
        for i, v in enumerate(entry):
            if isinstance(v, bool) or not isinstance(v, Real):
                raise ValueError(f"CameraCtrl pose entry {k}: value {i} is not a number ({v!r})")
        rows.append([float(v) for v in entry])
    data = torch.tensor(rows, dtype=torch.float64)
    bad = ~torch.isfinite(data).all(dim=1)
    if bad.any():
        k = int(bad.nonzero()[0])
        raise ValueError(f"CameraCtrl pose entry {k} has a non-finite value (NaN or inf); fix that frame")
    if pose_size is not None:
        sizes = [_check_pose_size(pose_size, "pose_size")] * len(rows)
    else:
        sizes = []
        for k, row in enumerate(rows):
            if row[5] <= 0 or row[6] <= 0:
                raise ValueError(
                    f"CameraCtrl pose entry {k} has pose width/height {row[5]:g} x {row[6]:g} (indices 5, 6); "
                    "AnimateDiff-Evolved's loaders write the source size there (1280 x 720): pass "
                    "pose_size=(W0, H0) for raw RealEstate10K lines"
                )
            sizes.append((row[5], row[6]))
    scale = torch.tensor([_cameractrl_pixel_scale((h, w), s) for s in sizes], dtype=torch.float64)
    # ADE prepare_pose_embedding: fx = fx_n * sx, fy = fy_n * sy, cx = cx_n * W, cy = cy_n * H
    K = Cameras.intrinsics_matrix(data[:, 1] * scale[:, 0], data[:, 2] * scale[:, 1], data[:, 3] * w, data[:, 4] * h)
    w2c = data[:, 7:].reshape(-1, 3, 4)
    cameras = Cameras(
        K=K,
        R=w2c[:, :, :3],
        t=w2c[:, :, 3],
        image_size=(h, w),
        metadata={"cameractrl": {"timestamps": data[:, 0].tolist(), "pose_size": [list(s) for s in sizes]}},
    )
    return cameras.validate(source="CameraCtrl poses")


def _timestamps(cameras: Cameras, timestamps):
    n = len(cameras)
    if timestamps is None:
        meta = cameras.metadata if isinstance(cameras.metadata, dict) else {}
        for stored in (meta.get("realestate10k", {}).get("timestamps_us"),
                       meta.get("cameractrl", {}).get("timestamps")):
            if isinstance(stored, (list, tuple)) and len(stored) == n:
                return [float(v) for v in stored]
        fps = cameras.fps or 30.0
        return [k * 1e6 / fps for k in range(n)]
    timestamps = [float(v) for v in timestamps]
    if len(timestamps) != n:
        raise ValueError(f"{len(timestamps)} timestamps for {n} frames; give one timestamp per frame")
    return timestamps


def _check_pose_size(pose_size, name):
    try:
        pw, ph = (float(v) for v in pose_size)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be (width, height) in pixels; got {pose_size!r}") from None
    if not (math.isfinite(pw) and math.isfinite(ph)) or pw <= 0 or ph <= 0:
        raise ValueError(f"{name} must be positive (width, height) pixels; got {pose_size!r}")
    return pw, ph


def _check_image_size(image_size):
    try:
        h, w = (int(v) for v in image_size)
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be (H, W) pixels; got {image_size!r}") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"image_size must be positive (H, W) pixels; got {image_size!r}")
    return h, w


# --------------------------------------------------------------------------- LOAD3D_CAMERA

#: OpenCV world -> three.js world (and back: it is its own inverse): ``(x, y, z) -> (x, -y, -z)``.
OPENCV_TO_THREEJS = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64))


def to_load3d_camera(cameras: Cameras, frame: int = 0, target_distance: float = 1.0) -> dict:
    """One camera of ``cameras`` -> ComfyUI core ``LOAD3D_CAMERA`` dict (module docstring).

    ``position`` is the camera centre ``c = -R^T t`` and ``target`` the point ``target_distance``
    scene units along the optical axis (``c + d * R^T [0, 0, 1]``), both mapped to three.js axes
    ``(x, -y, -z)``. ``zoom`` is 1 and ``cameraType`` ``"perspective"``; the roll about the optical
    axis and the field of view are not part of the dict (see :func:`load3d_fov_deg`).

    Args:
        cameras: the trajectory.
        frame: which camera (negative indices count from the end).
        target_distance: positive distance to the target in scene units.

    Returns:
        ``{"position": {"x", "y", "z"}, "target": {"x", "y", "z"}, "zoom": 1, "cameraType": "perspective"}``
        with Python floats.

    Raises:
        ValueError: a frame out of range, a non-positive or non-finite distance, invalid cameras.
    """
    n = len(cameras)
    if not -n <= frame < n:
        raise ValueError(f"frame {frame} is out of range for a trajectory of {n} frames")
    d = float(target_distance)
    if not math.isfinite(d) or d <= 0:
        raise ValueError(f"target_distance must be a positive number of scene units; got {target_distance!r}")
    cameras.validate(source="LOAD3D_CAMERA")
    center = cameras.centers[frame]
    axis = cameras.R[frame][2]  # optical axis in world = R^T [0, 0, 1] = third row of R
    position = OPENCV_TO_THREEJS @ center
    target = OPENCV_TO_THREEJS @ (center + d * axis)
    return {
        "position": dict(zip("xyz", (float(v) for v in position), strict=True)),
        "target": dict(zip("xyz", (float(v) for v in target), strict=True)),
        "zoom": 1,
        "cameraType": "perspective",
    }


def load3d_fov_deg(cameras: Cameras, frame: int = 0) -> float:
    """Vertical field of view in degrees of one camera, ``2 atan(H / (2 fy))``: the value for the
    Load3D widget's fov (three.js ``PerspectiveCamera.fov`` is vertical)."""
    h = cameras.image_size[0]
    return math.degrees(2 * math.atan(0.5 * h / float(cameras.fy[frame])))


def _xyz(value, where: str) -> torch.Tensor:
    if not isinstance(value, dict):
        raise ValueError(f"LOAD3D_CAMERA {where} must be a dict with x, y, z; got {type(value).__name__}")
    out = []
    for key in "xyz":
        v = value.get(key)
        if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(float(v)):
            raise ValueError(f"LOAD3D_CAMERA {where}.{key} must be a finite number; got {v!r}")
        out.append(float(v))
    return torch.tensor(out, dtype=torch.float64)


def from_load3d_camera(camera_info: dict, image_size, fov_deg: float) -> Cameras:
    """ComfyUI core ``LOAD3D_CAMERA`` dict -> one validated :class:`Cameras` (a single frame).

    The camera sits at ``position`` looking at ``target`` with three.js world ``+Y`` up (no roll,
    as OrbitControls keeps it), mapped to OpenCV axes; focal length from the vertical fov and zoom:
    ``fy = fx = (H / 2) * zoom / tan(fov / 2)``, principal point at the image centre.

    Args:
        camera_info: the dict (``zoom`` optional, default 1; ``cameraType`` optional, default perspective).
        image_size: ``(H, W)`` pixels.
        fov_deg: the viewer's vertical field of view in degrees (Load3D's fov setting), in (0, 180).

    Raises:
        ValueError: a missing / non-numeric key, an orthographic camera (no pinhole equivalent),
            ``position == target``, a view straight up or down (no defined roll), a bad fov or zoom.
    """
    h, w = _check_image_size(image_size)
    if not isinstance(camera_info, dict):
        raise ValueError(f"LOAD3D_CAMERA must be a dict; got {type(camera_info).__name__}")
    for key in ("position", "target"):
        if key not in camera_info:
            raise ValueError(f"LOAD3D_CAMERA has no {key!r}; expected position, target, zoom, cameraType")
    camera_type = camera_info.get("cameraType", "perspective")
    if camera_type != "perspective":
        raise ValueError(
            f"LOAD3D_CAMERA cameraType is {camera_type!r}; only a perspective camera has a pinhole "
            "equivalent: switch the Load 3D camera to perspective"
        )
    zoom = camera_info.get("zoom", 1)
    if isinstance(zoom, bool) or not isinstance(zoom, Real) or not math.isfinite(float(zoom)) or zoom <= 0:
        raise ValueError(f"LOAD3D_CAMERA zoom must be a positive number; got {zoom!r}")
    fov = float(fov_deg)
    if not 0 < fov < 180:
        raise ValueError(f"fov_deg must be a vertical field of view in (0, 180) degrees; got {fov_deg!r}")
    eye = OPENCV_TO_THREEJS @ _xyz(camera_info["position"], "position")
    target = OPENCV_TO_THREEJS @ _xyz(camera_info["target"], "target")
    # three.js up (0, 1, 0) is OpenCV (0, -1, 0), the default up of look_at_w2c
    w2c = look_at_w2c(eye[None], target[None])
    f = 0.5 * h * float(zoom) / math.tan(math.radians(fov) / 2)
    K = Cameras.intrinsics_matrix([f], [f], [w / 2], [h / 2])
    return Cameras.from_w2c(w2c, K, (h, w)).validate(source="LOAD3D_CAMERA")


# --------------------------------------------------------------------------- 2D tracks


@dataclass(frozen=True)
class Tracks2D:
    """``N`` 2D point tracks over ``T`` frames.

    Attributes:
        points: ``(T, N, 2)`` float32 pixel coordinates ``(x, y)``, origin at the image's top-left
            corner (this core's ``K`` convention).
        visibility: ``(T, N)`` bool, ``True`` where the point is visible in that frame.

    Construction validates shapes, dtypes and finiteness and raises ``ValueError`` naming the first
    bad track and frame.
    """

    points: np.ndarray
    visibility: np.ndarray

    def __post_init__(self):
        points = _as_numpy(self.points, "points")
        visibility = _as_numpy(self.visibility, "visibility")
        if points.ndim != 3 or points.shape[2] != 2:
            raise ValueError(f"track points must have shape (T, N, 2) (frames, tracks, x/y); got {points.shape}")
        if visibility.shape != points.shape[:2]:
            raise ValueError(
                f"track visibility must have shape (T, N) = {points.shape[:2]} to match the points; got "
                f"{visibility.shape}"
            )
        if points.shape[0] == 0 or points.shape[1] == 0:
            raise ValueError(f"tracks must have at least one frame and one track; got shape {points.shape}")
        if visibility.dtype != np.bool_:
            if not np.isin(visibility, (0, 1)).all():
                raise ValueError("track visibility must be booleans (or 0 / 1); got other values")
            visibility = visibility.astype(bool)
        points = points.astype(np.float32)
        bad = ~np.isfinite(points).all(axis=2)
        if bad.any():
            frame, track = (int(v) for v in np.argwhere(bad)[0])
            raise ValueError(f"track {track} has a non-finite point (NaN or inf) at frame {frame}; fix or drop it")
        object.__setattr__(self, "points", np.ascontiguousarray(points))
        object.__setattr__(self, "visibility", np.ascontiguousarray(visibility))

    @property
    def num_frames(self) -> int:
        return self.points.shape[0]

    @property
    def num_tracks(self) -> int:
        return self.points.shape[1]


def _as_numpy(value, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"track {name} must be an array; got {type(value).__name__} ({err})") from None


def tracks_from_comfy(tracks: dict) -> Tracks2D:
    """ComfyUI ``TRACKS`` ``{"track_path": [T, N, 2], "track_visibility": [T, N] bool}`` -> :class:`Tracks2D`.

    Accepts torch tensors or numpy arrays. ``track_visibility`` may be absent (all visible).

    Raises:
        ValueError: not a dict, no ``track_path``, wrong shapes, non-finite points.
    """
    if not isinstance(tracks, dict) or "track_path" not in tracks:
        got = sorted(tracks) if isinstance(tracks, dict) else type(tracks).__name__
        raise ValueError(f'TRACKS must be a dict with "track_path" [T, N, 2] and "track_visibility" [T, N]; got {got}')
    points = _as_numpy(tracks["track_path"], "track_path")
    visibility = tracks.get("track_visibility")
    if visibility is None:
        visibility = np.ones(points.shape[:2], dtype=bool) if points.ndim == 3 else np.ones(0, dtype=bool)
    return Tracks2D(points, _as_numpy(visibility, "track_visibility"))


def tracks_to_comfy(tracks: Tracks2D) -> dict:
    """:class:`Tracks2D` -> ComfyUI ``TRACKS``: ``track_path`` float32 ``(T, N, 2)`` and
    ``track_visibility`` bool ``(T, N)`` torch tensors."""
    return {
        "track_path": torch.from_numpy(tracks.points.copy()),
        "track_visibility": torch.from_numpy(tracks.visibility.copy()),
    }


def tracks_from_json(data) -> Tracks2D:
    """JSON tracks (text or parsed) -> :class:`Tracks2D`.

    Layout: ``[[{"x": .., "y": ..}, ...], ...]``, one list per track of one point per frame, pixels;
    an optional ``"visible": false`` marks a hidden point. All tracks must have the same length.
    A JSON object ``{"track_path": [T][N][2], "track_visibility": [T][N]}`` (core ``TRACKS`` written
    as JSON, e.g. by ``raxel tracks --format tracks``) is read by :func:`tracks_from_comfy`.

    Raises:
        ValueError: invalid JSON, not a list of lists, tracks of different lengths, a point without
            numeric ``x`` / ``y``; naming the track and frame.
    """
    if isinstance(data, (str, bytes)):
        check_inline_json_size(data, "the tracks JSON")
        try:
            data = parse_json(data, "tracks JSON")
        except JSONTextError as err:
            raise ValueError(f"tracks JSON is {err.problem}") from None
    if isinstance(data, dict):
        return tracks_from_comfy(data)
    if not isinstance(data, list) or not data:
        raise ValueError('tracks JSON must be a non-empty list of tracks, each a list of {"x": .., "y": ..} points')
    if all(isinstance(p, dict) for p in data):
        data = [data]  # a single track given as a flat list of points
    lengths = set()
    for n, track in enumerate(data):
        if not isinstance(track, list) or not track:
            raise ValueError(f'track {n} must be a non-empty list of {{"x": .., "y": ..}} points; got {track!r:.60}')
        lengths.add(len(track))
    if len(lengths) != 1:
        counts = [len(track) for track in data]
        first = next(k for k, c in enumerate(counts) if c != counts[0])
        raise ValueError(
            f"all tracks must have the same number of frames; track 0 has {counts[0]} but track {first} "
            f"has {counts[first]}: resample the tracks to one length"
        )
    t, n_tracks = lengths.pop(), len(data)
    points = np.zeros((t, n_tracks, 2), dtype=np.float64)
    visibility = np.ones((t, n_tracks), dtype=bool)
    for n, track in enumerate(data):
        for k, point in enumerate(track):
            if not isinstance(point, dict):
                raise ValueError(f'track {n} frame {k}: expected {{"x": .., "y": ..}}; got {point!r:.60}')
            for axis, key in enumerate("xy"):
                v = point.get(key)
                if isinstance(v, bool) or not isinstance(v, Real):
                    raise ValueError(f"track {n} frame {k}: {key!r} must be a number (pixels); got {v!r}")
                try:
                    points[k, n, axis] = float(v)
                except OverflowError:  # JSON parsed elsewhere may hold any integer
                    raise ValueError(f"track {n} frame {k}: {key!r} is an integer of {v.bit_length()} bits, "
                                     "beyond any float; give pixels") from None
            visible = point.get("visible", True)
            if not isinstance(visible, bool):
                raise ValueError(f"track {n} frame {k}: 'visible' must be true or false; got {visible!r}")
            visibility[k, n] = visible
    return Tracks2D(points, visibility)


def tracks_to_json(tracks: Tracks2D) -> str:
    """:class:`Tracks2D` -> JSON text ``[[{"x": .., "y": ..}, ...], ...]`` (one list per track);
    hidden points carry ``"visible": false``. Float32 values are written exactly (shortest repr)."""
    out = []
    for n in range(tracks.num_tracks):
        track = []
        for k in range(tracks.num_frames):
            x, y = (float(v) for v in tracks.points[k, n])
            point = {"x": x, "y": y}
            if not tracks.visibility[k, n]:
                point["visible"] = False
            track.append(point)
        out.append(track)
    return json.dumps(out, separators=(",", ":"))


#: Samples per track in ATI's track layout (ATI, Wang et al., "ATI: Any Trajectory Instruction for Controllable
#: Video Generation", arXiv 2505.22944): tracks sampled at 24 fps for 81 video frames at 16 fps, so a track is
#: 121 points that span the whole clip whatever its frame count; ComfyUI core's ``WanTrackToVideo``
#: (``comfy_extras/nodes_wan.py``: ``pad_pts`` pads or cuts every track to 121 points, ``process_tracks`` maps
#: the 121 onto the ``length`` frames) reads that layout.
ATI_TRACK_SAMPLES = 121


def ati_tracks(tracks: Tracks2D, samples: int = ATI_TRACK_SAMPLES) -> list[list[dict]]:
    """:class:`Tracks2D` -> ATI's track layout, the JSON lists core ``WanTrackToVideo`` reads.

    Each track becomes ``samples`` points ``{"x", "y"}`` (pixels, rounded to 1/1000) at the times
    ``k = j (T - 1) / (samples - 1)``, ``j = 0 .. samples - 1``, of the ``T`` frames: sample ``j`` is the
    linear interpolation ``(1 - w) p[floor k] + w p[floor k + 1]``, ``w = k - floor k``. So the video handed
    to ``WanTrackToVideo`` must have ``length = T``. The layout has no visibility field: every point
    listed counts as visible, the points ``WanTrackToVideo`` pads a short track with as hidden. Hence a
    track hidden at frame 0 is left out, and a track is cut before its first sample whose neighbouring
    frames are not both visible (from there on it reads as hidden, as it is).

    Args:
        tracks: ``T`` frames of ``N`` tracks.
        samples: points per track (ATI's 121).

    Returns:
        The kept tracks, in their order, each a list of 1 to ``samples`` dicts; ``[]`` when every track
        is hidden at frame 0 (``WanTrackToVideo`` then ignores the tracks: callers should say so).

    Raises:
        ValueError: ``samples < 2``.
    """
    if samples < 2:
        raise ValueError(f"an ATI track needs at least 2 samples; got {samples}")
    t = tracks.num_frames
    times = np.linspace(0.0, t - 1.0, samples)
    lo = np.floor(times).astype(int)
    hi = np.minimum(lo + 1, t - 1)
    w = (times - lo)[:, None, None]
    points = tracks.points[lo].astype(np.float64) * (1.0 - w) + tracks.points[hi].astype(np.float64) * w
    # a sample between two frames is visible when both are; one on a frame when that frame is
    visible = tracks.visibility[lo] & (tracks.visibility[hi] | (w[:, :, 0] == 0.0))
    out = []
    for n in range(tracks.num_tracks):
        hidden = np.flatnonzero(~visible[:, n])
        end = int(hidden[0]) if hidden.size else samples
        if end == 0:
            continue
        out.append([{"x": round(float(x), 3), "y": round(float(y), 3)} for x, y in points[:end, n]])
    return out


def tracks_to_ati_json(tracks: Tracks2D, samples: int = ATI_TRACK_SAMPLES) -> str:
    """:func:`ati_tracks` as JSON text (what ``WanTrackToVideo``'s ``tracks`` widget takes)."""
    return json.dumps(ati_tracks(tracks, samples), separators=(",", ":"))
