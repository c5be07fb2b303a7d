"""Camera paths inside the room of :func:`raxel_core.synthetic.render.make_scene`.

* :func:`default_demo_trajectory`: the fixed path of ``raxel demo`` (a truck with parallax);
* :func:`sample_room_trajectory`: a random path for training clips
  (:class:`raxel_core.synthetic.clips.SyntheticClips`): a named preset placed at a random pose, or a
  spline through random look-at keyframes, redrawn until it keeps :data:`ROOM_MARGIN` from the walls
  and the boxes.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..authoring.keyframes import Keyframe, trajectory_from_keyframes
from ..authoring.trajectory_presets import DEFAULT_MAGNITUDES, EASINGS, PRESET_NAMES, make_preset
from ..cameras import Cameras, look_at_w2c

#: Cameras of a synthetic clip keep this distance (scene units) from the walls and the boxes.
ROOM_MARGIN = 0.15


def default_demo_trajectory(num_frames: int = 24, image_size: tuple[int, int] = (256, 384),
                            fov_y_deg: float = 60.0, fps: float | None = 8.0) -> Cameras:
    """The demo camera path through :func:`~raxel_core.synthetic.render.make_scene`'s room (``raxel demo``):
    a truck right of 1.8 units with a slight dolly in (0.3 units) while panning left by ~14 degrees, so
    near boxes and far walls show real parallax. The camera stays 1.4 units above the floor looking
    slightly down.

    Args:
        num_frames: number of cameras (>= 2).
        image_size: ``(H, W)`` pixels.
        fov_y_deg: vertical field of view in degrees (square pixels, centred principal point).
        fps: frames per second stored on the trajectory.

    Returns:
        :class:`Cameras` with ``metadata["source"]`` naming this function.

    Raises:
        ValueError: ``num_frames < 2``.
    """
    if num_frames < 2:
        raise ValueError(f"num_frames must be at least 2 for a moving camera; got {num_frames}")
    a = torch.linspace(0.0, 1.0, num_frames, dtype=torch.float64)[:, None]
    eye = torch.tensor([-0.9, 0.1, -1.2], dtype=torch.float64) * (1 - a) + torch.tensor(
        [0.9, 0.1, -0.9], dtype=torch.float64) * a
    target = torch.tensor([0.6, 0.6, 3.0], dtype=torch.float64) * (1 - a) + torch.tensor(
        [-0.4, 0.6, 3.0], dtype=torch.float64) * a
    K = Cameras.intrinsics_from_fov(fov_y_deg, image_size, num_frames)
    cams = Cameras.from_w2c(look_at_w2c(eye, target), K, image_size, fps=fps)
    cams.metadata["source"] = "raxel_core.synthetic.room_trajectories.default_demo_trajectory"
    return cams


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
    """A random camera path inside ``scene``'s room (:func:`raxel_core.synthetic.render.make_scene`).

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
