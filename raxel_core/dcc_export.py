"""Export a trajectory to 3D tools: a Blender (bpy) script and a nerfstudio ``camera_path.json``.

Blender
-------
:func:`export_blender_script` writes a plain Python script to run inside Blender (Scripting tab, or
``blender --python FILE``) that creates a camera object with one keyframe per frame for
``location``, ``rotation_quaternion``, ``lens``, ``shift_x`` and ``shift_y``, sets the render
resolution, frame range and fps, and makes it the scene camera. The numbers come from
:func:`blender_camera_keys`, a pure function tested without Blender.

Conventions:

* **World mapping** (Blender is Z up; an OpenCV world of a forward-looking trajectory is y down,
  z forward): OpenCV world ``(x, y, z)`` -> Blender world ``(x, z, -y)``, i.e. ``P_b = W P_cv`` with
  ``W = [[1, 0, 0], [0, 0, 1], [0, -1, 0]]`` (a proper rotation, +90 degrees about x). OpenCV's
  "forward" (+z) becomes Blender's +Y (the front view's depth axis) and OpenCV "up" (-y) becomes
  Blender +Z, so a level OpenCV camera is a level Blender camera.
* **Camera axes**: a Blender camera looks down its local -Z with local +Y up (OpenGL), OpenCV's
  looks down +z with y down: ``F = diag(1, -1, -1)``. The camera's ``matrix_world`` is
  ``[W R^T F | W c]`` with ``c = -R^T t``.
* **Intrinsics**: ``sensor_fit = 'HORIZONTAL'``, ``sensor_width = 36`` mm, ``lens = fx * 36 / W`` mm,
  ``shift_x = (W / 2 - cx) / W``, ``shift_y = (cy - H / 2) / W`` (shifts are in units of the fitted
  sensor dimension; the same relation as BlenderProc's ``set_intrinsics_from_K_matrix`` with this
  core's pixel-corner convention). Blender has square pixels: ``fx`` and ``fy`` must agree to 1 %.
* Frames are numbered from 1 (Blender's default ``frame_start``). Quaternions are made
  sign-continuous so Blender's interpolation between keys takes the short way.

nerfstudio
----------
:func:`export_nerfstudio_camera_path` writes the viewer's ``camera_path.json`` that ``ns-render
camera-path --camera-path-filename`` reads (nerfstudio ``nerfstudio/cameras/camera_paths.py``,
``get_path_from_json``; written by ``nerfstudio/viewer/render_panel.py``)::

    {"camera_type": "perspective", "render_height": H, "render_width": W, "fps": .., "seconds": ..,
     "smoothness_value": 0.0, "is_cycle": false, "default_fov": .., "default_transition_sec": ..,
     "keyframes": [{"matrix": 16 floats, "fov", "aspect", "override_transition_enabled",
                    "override_transition_sec"}, ...],
     "camera_path": [{"camera_to_world": 16 floats, "fov": .., "aspect": ..}, ...]}

``camera_to_world`` is the OpenGL camera-to-world 4x4 (x right, y up, looking along -z) flattened
row-major, ``fov`` the **vertical** field of view in degrees, ``aspect = W / H``. nerfstudio derives
``fx = fy = (H / 2) / tan(fov / 2)`` and puts the principal point at the image centre, so the
exporter requires ``fx ~ fy`` and a centred principal point (1 % tolerance). One keyframe is
written per frame so the viewer's "Load Path" shows the whole path. The poses are written in the
trajectory's own world; a nerfstudio model's world (after its data parser's transform) may differ.
"""
from __future__ import annotations

import json
import math
from numbers import Real
from pathlib import Path

import torch

from .cameras import Cameras
from .formats.text_files import load_json, write_text_atomic
from .tensors import as_float64

#: OpenCV world -> Blender world: ``(x, y, z) -> (x, z, -y)``.
OPENCV_TO_BLENDER_WORLD = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]], dtype=torch.float64)
#: OpenCV camera axes -> Blender / OpenGL camera axes (flip y and z).
OPENCV_TO_OPENGL_CAMERA = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64))
#: Sensor width in mm written to the Blender camera (Blender's default, full-frame 35 mm).
BLENDER_SENSOR_WIDTH_MM = 36.0
#: Largest accepted relative difference between fx and fy, and principal point offset from the
#: centre (fraction of the image size), for formats that model neither.
INTRINSICS_TOLERANCE = 0.01


def _check_square_pixels(cameras: Cameras, what: str) -> None:
    ratio = (cameras.fx / cameras.fy - 1).abs()
    if (ratio > INTRINSICS_TOLERANCE).any():
        k = int((ratio > INTRINSICS_TOLERANCE).nonzero()[0])
        raise ValueError(
            f"{what} has square pixels but frame {k} has fx = {float(cameras.fx[k]):.3f} and fy = "
            f"{float(cameras.fy[k]):.3f} px (differ by more than {INTRINSICS_TOLERANCE:.0%}); resize the "
            "trajectory to the frames' true aspect (Cameras.with_image_size) first"
        )
    if (cameras.K[:, 0, 1].abs() > 1e-9).any():
        raise ValueError(f"{what} has no skew term but K[0, 1] is non-zero; remove the skew first")


def _quaternion_wxyz(R: torch.Tensor) -> torch.Tensor:
    """``(N, 4)`` unit quaternions ``(w, x, y, z)`` of rotation matrices ``(N, 3, 3)`` (kornia's
    ``rotation_matrix_to_quaternion``), made sign-continuous: ``q`` and ``-q`` are the same
    rotation, and Blender interpolates keys component-wise, so each key takes the sign closer to
    the previous one."""
    from kornia.geometry.conversions import rotation_matrix_to_quaternion

    q = rotation_matrix_to_quaternion(R.contiguous(), eps=1e-12)
    q = q / torch.linalg.norm(q, dim=1, keepdim=True)
    for i in range(1, q.shape[0]):
        if float(q[i] @ q[i - 1]) < 0:
            q[i] = -q[i]
    return q


def blender_camera_keys(cameras: Cameras) -> list[dict]:
    """Per-frame Blender camera keyframe values (module docstring for the conventions).

    Args:
        cameras: the trajectory (OpenCV w2c, pixel K); square pixels and zero skew required.

    Returns:
        N dicts with ``frame`` (int, from 1), ``matrix_world`` (4x4 nested lists, Blender world),
        ``location`` (3 floats), ``rotation_quaternion`` (``w, x, y, z``, sign-continuous),
        ``lens`` (mm, for ``sensor_width`` :data:`BLENDER_SENSOR_WIDTH_MM`, horizontal fit),
        ``shift_x``, ``shift_y`` (fractions of the image width).

    Raises:
        ValueError: invalid cameras, ``fx`` and ``fy`` differing by more than 1 %, skew.
    """
    cameras.validate(source="Blender export")
    _check_square_pixels(cameras, "a Blender camera")
    h, w = cameras.image_size
    W, F = OPENCV_TO_BLENDER_WORLD, OPENCV_TO_OPENGL_CAMERA
    rotation = W @ cameras.R.transpose(1, 2) @ F  # Blender camera axes -> Blender world
    location = (W @ cameras.centers[..., None])[..., 0]
    quats = _quaternion_wxyz(rotation)
    lens = cameras.fx * BLENDER_SENSOR_WIDTH_MM / w
    shift_x = (w / 2 - cameras.cx) / w
    shift_y = (cameras.cy - h / 2) / w
    keys = []
    for k in range(len(cameras)):
        m = torch.eye(4, dtype=torch.float64)
        m[:3, :3], m[:3, 3] = rotation[k], location[k]
        keys.append({
            "frame": k + 1,
            "matrix_world": m.tolist(),
            "location": location[k].tolist(),
            "rotation_quaternion": quats[k].tolist(),
            "lens": float(lens[k]),
            "shift_x": float(shift_x[k]),
            "shift_y": float(shift_y[k]),
        })
    return keys


_BLENDER_SCRIPT = '''\
"""Camera trajectory exported by raxel nodes ({n} frames, {w}x{h}{fps_text}).

Run inside Blender: Scripting tab -> Open -> Run Script, or `blender --python {file}`.
World mapping: OpenCV world (x, y, z) -> Blender world (x, z, -y); the camera looks down its -Z.
"""
import bpy

NAME = {name!r}
scene = bpy.context.scene
scene.render.resolution_x = {w}
scene.render.resolution_y = {h}
scene.render.resolution_percentage = 100
scene.render.pixel_aspect_x = 1.0
scene.render.pixel_aspect_y = 1.0
{fps_lines}scene.frame_start = 1
scene.frame_end = {n}

cam_data = bpy.data.cameras.new(NAME)
cam_data.type = 'PERSP'
cam_data.sensor_fit = 'HORIZONTAL'
cam_data.sensor_width = {sensor!r}
cam = bpy.data.objects.new(NAME, cam_data)
scene.collection.objects.link(cam)
cam.rotation_mode = 'QUATERNION'
scene.camera = cam


def key(frame, location, rotation_quaternion, lens, shift_x, shift_y):
    cam.location = location
    cam.rotation_quaternion = rotation_quaternion
    cam.keyframe_insert(data_path="location", frame=frame)
    cam.keyframe_insert(data_path="rotation_quaternion", frame=frame)
    cam_data.lens = lens
    cam_data.shift_x = shift_x
    cam_data.shift_y = shift_y
    cam_data.keyframe_insert(data_path="lens", frame=frame)
    cam_data.keyframe_insert(data_path="shift_x", frame=frame)
    cam_data.keyframe_insert(data_path="shift_y", frame=frame)


# frame, location (m), rotation_quaternion (w, x, y, z), lens (mm), shift_x, shift_y
{key_lines}
scene.frame_set(1)
'''


def export_blender_script(cameras: Cameras, path, name: str = "RaxelCamera", fps=None) -> Path:
    """Write a Blender Python script that recreates the trajectory as a keyframed camera.

    Args:
        cameras: the trajectory.
        path: the ``.py`` file to write (atomically); its folder must exist.
        name: the Blender camera object / data name.
        fps: frames per second for the scene; default ``cameras.fps``; when both are ``None`` the
            scene's fps is left as it is. Blender stores ``fps`` (int) and ``fps_base``:
            ``fps = round(f)``, ``fps_base = round(f) / f``.

    Returns:
        the path written.

    Raises:
        ValueError: see :func:`blender_camera_keys`; a non-positive fps; an empty name.
    """
    path = Path(path)
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"the Blender camera name must be a non-empty string; got {name!r}")
    keys = blender_camera_keys(cameras)
    fps = cameras.fps if fps is None else fps
    fps_lines, fps_text = "", ""
    if fps is not None:
        if isinstance(fps, bool) or not isinstance(fps, Real) or not math.isfinite(fps) or fps <= 0:
            raise ValueError(f"fps must be a positive number; got {fps!r}")
        fps_int = max(1, round(fps))
        fps_lines = f"scene.render.fps = {fps_int}\nscene.render.fps_base = {fps_int / fps!r}\n"
        fps_text = f", {fps:g} fps"
    h, w = cameras.image_size
    lines = []
    for k in keys:
        loc = ", ".join(repr(v) for v in k["location"])
        quat = ", ".join(repr(v) for v in k["rotation_quaternion"])
        lines.append(f"key({k['frame']}, ({loc}), ({quat}), {k['lens']!r}, {k['shift_x']!r}, {k['shift_y']!r})")
    text = _BLENDER_SCRIPT.format(
        n=len(keys), w=w, h=h, fps_text=fps_text, file=path.name, name=name, fps_lines=fps_lines,
        sensor=BLENDER_SENSOR_WIDTH_MM, key_lines="\n".join(lines),
    )
    return write_text_atomic(path, text)


# --------------------------------------------------------------------------- nerfstudio


def nerfstudio_camera_path(cameras: Cameras, fps=None, seconds=None) -> dict:
    """The nerfstudio ``camera_path.json`` content for ``cameras`` (module docstring).

    Args:
        cameras: the trajectory; square pixels and a centred principal point (1 % tolerance).
        fps: frames per second; default ``len / seconds`` when ``seconds`` is given, else
            ``cameras.fps``, else 30.
        seconds: default ``len / fps``. When both are given ``fps * seconds`` must equal the frame
            count (``ns-render`` renders every entry of ``camera_path`` over ``seconds``).

    Raises:
        ValueError: invalid cameras, intrinsics nerfstudio cannot represent, inconsistent timing.
    """
    cameras.validate(source="nerfstudio camera path")
    _check_square_pixels(cameras, "a nerfstudio camera path")
    h, w = cameras.image_size
    off = torch.maximum((cameras.cx - w / 2).abs() / w, (cameras.cy - h / 2).abs() / h)
    if (off > INTRINSICS_TOLERANCE).any():
        k = int((off > INTRINSICS_TOLERANCE).nonzero()[0])
        raise ValueError(
            f"a nerfstudio camera path puts the principal point at the image centre but frame {k} has "
            f"(cx, cy) = ({float(cameras.cx[k]):.2f}, {float(cameras.cy[k]):.2f}) px for a {w}x{h} image; "
            "crop the frames around the principal point first"
        )
    n = len(cameras)
    if fps is None and seconds is None:
        fps = cameras.fps
    fps, seconds = _timing(n, fps, seconds)
    c2w = cameras.c2w_opengl()
    fov = torch.rad2deg(2 * torch.atan(0.5 * h / cameras.fy))
    aspect = w / h
    path_entries, keyframes = [], []
    for k in range(n):
        matrix = [float(v) for v in c2w[k].reshape(16)]
        path_entries.append({"camera_to_world": matrix, "fov": float(fov[k]), "aspect": aspect})
        keyframes.append({
            "matrix": matrix, "fov": float(fov[k]), "aspect": aspect,
            "override_transition_enabled": False, "override_transition_sec": None,
        })
    return {
        "camera_type": "perspective",
        "render_height": h,
        "render_width": w,
        "fps": fps,
        "seconds": seconds,
        "smoothness_value": 0.0,
        "is_cycle": False,
        "default_fov": float(fov[0]),
        "default_transition_sec": 1.0 / fps,
        "keyframes": keyframes,
        "camera_path": path_entries,
    }


def _timing(n: int, fps, seconds):
    for name, value in (("fps", fps), ("seconds", seconds)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, Real)
                                  or not math.isfinite(value) or value <= 0):
            raise ValueError(f"{name} must be a positive number; got {value!r}")
    if fps is not None and seconds is not None:
        if abs(fps * seconds - n) > 1e-6 * n:
            raise ValueError(
                f"fps {fps:g} x seconds {seconds:g} = {fps * seconds:g} frames but the trajectory has {n}; "
                "give only one of fps / seconds, or resample the trajectory"
            )
        return float(fps), float(seconds)
    if fps is None and seconds is not None:
        return n / seconds, float(seconds)
    fps = 30.0 if fps is None else float(fps)
    return fps, n / fps


def export_nerfstudio_camera_path(cameras: Cameras, path, fps=None, seconds=None) -> Path:
    """Write :func:`nerfstudio_camera_path` to ``path`` (JSON, atomically); return the path.

    Raises:
        ValueError: see :func:`nerfstudio_camera_path`; a missing folder.
    """
    data = nerfstudio_camera_path(cameras, fps=fps, seconds=seconds)
    return write_text_atomic(Path(path), json.dumps(data, indent=1) + "\n")


def read_nerfstudio_camera_path(path) -> Cameras:
    """Read a nerfstudio ``camera_path.json`` as ``ns-render`` does (``get_path_from_json``):
    ``fx = fy = (render_height / 2) / tan(fov / 2)``, principal point at the image centre,
    ``camera_to_world`` an OpenGL c2w (row-major 16 numbers, or 4x4 nested lists).

    Returns:
        validated ``Cameras`` of ``(render_height, render_width)``; ``fps`` from the file (or
        ``len / seconds``).

    Raises:
        ValueError: naming the file and entry for a missing key, a non-perspective camera type,
            a matrix that is not 16 numbers, a fov outside (0, 180), and invalid poses.
    """
    path = Path(path)
    data = load_json(path)
    name = path.name
    if not isinstance(data, dict) or not isinstance(data.get("camera_path"), list) or not data["camera_path"]:
        raise ValueError(f"{name}: not a nerfstudio camera path "
                         '(expected an object with a non-empty "camera_path" list)')
    camera_type = data.get("camera_type", "perspective")
    if camera_type != "perspective":
        raise ValueError(f"{name}: camera_type {camera_type!r} is not a pinhole camera; "
                         "only 'perspective' is supported")
    try:
        h, w = int(data["render_height"]), int(data["render_width"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{name}: render_height and render_width must be integers (pixels)") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"{name}: render size must be positive; got {w}x{h}")
    c2w, focal = [], []
    for k, entry in enumerate(data["camera_path"]):
        if not isinstance(entry, dict) or "camera_to_world" not in entry or "fov" not in entry:
            raise ValueError(f'{name}: camera_path entry {k} needs "camera_to_world" and "fov"')
        try:
            m = as_float64(entry["camera_to_world"]).reshape(16)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"{name}: camera_path entry {k} camera_to_world must be 16 numbers "
                             "(a 4x4 matrix)") from None
        fov = entry["fov"]
        if isinstance(fov, bool) or not isinstance(fov, Real) or not 0 < fov < 180:
            raise ValueError(f"{name}: camera_path entry {k} fov must be a vertical field of view "
                             f"in (0, 180) degrees; got {fov!r}")
        c2w.append(m.reshape(4, 4))
        focal.append(0.5 * h / math.tan(math.radians(fov) / 2))
    n = len(c2w)
    K = Cameras.intrinsics_matrix(focal, focal, [w / 2] * n, [h / 2] * n)
    fps = data.get("fps")
    if not isinstance(fps, Real) or isinstance(fps, bool) or fps <= 0:
        seconds = data.get("seconds")
        fps = n / seconds if isinstance(seconds, Real) and not isinstance(seconds, bool) and seconds > 0 else None
    cameras = Cameras.from_c2w_opengl(torch.stack(c2w), K, (h, w), fps=float(fps) if fps else None)
    return cameras.validate(source=f"{name} (camera_path entry k = frame k)")
