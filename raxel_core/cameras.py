"""The one camera type inside ``raxel_core``.

Convention (the only one used inside the core; every file format and foreign node type converts at
its edge, see ``raxel_core/formats``):

* **OpenCV axes**: x right, y down, z forward (the camera looks along +z).
* **World-to-camera** extrinsics: a world point ``X`` maps to camera coordinates ``x_cam = R X + t``.
* **Pixel intrinsics** ``K`` for an image of ``image_size = (H, W)`` pixels, pixel centres at
  integer coordinates + 0.5 convention is *not* assumed: ``u = fx * x / z + cx`` with ``u`` in pixels
  measured from the top-left corner of the image (so the image centre is ``(W / 2, H / 2)``).
* Camera centre ``c = -R^T t``; camera-to-world ``c2w = [R^T | c]``.

A batch of ``N`` cameras is a *trajectory* when ordered in time; ``Cameras`` is that batch and is
also the payload of the ComfyUI ``CAMERA_TRAJECTORY`` socket (see ``nodes/types.py``).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import torch

from .tensors import as_float64

#: Largest accepted ``max |R^T R - I|`` and ``|det R - 1|``. RealEstate10K files are orthonormal to
#: ~1e-7 and MotionCtrl JSON to ~1e-6 (6-7 printed digits); 1e-4 accepts every honest text file and
#: rejects anything that is not a rotation (a scaled or sheared matrix is off by >1e-2).
ROTATION_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Cameras:
    """A batch of ``N`` pinhole cameras (a trajectory when ordered in time).

    Attributes:
        K: ``(N, 3, 3)`` float64 pixel intrinsics ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]``.
        R: ``(N, 3, 3)`` float64 world-to-camera rotations (OpenCV axes), det +1.
        t: ``(N, 3)`` float64 world-to-camera translations, scene units.
        image_size: ``(H, W)`` in pixels, shared by all cameras.
        fps: frames per second of the trajectory, or ``None`` when unknown.

    Build with ``Cameras(K, R, t, image_size)`` or the ``from_*`` constructors; call
    :meth:`validate` (the file readers and the nodes do) to get an error that names the bad frame.
    """

    K: torch.Tensor
    R: torch.Tensor
    t: torch.Tensor
    image_size: tuple[int, int]
    fps: float | None = None
    metadata: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        K, R, t = as_float64(self.K), as_float64(self.R), as_float64(self.t)
        if K.ndim == 2:
            K = K.expand(R.shape[0] if R.ndim == 3 else 1, 3, 3).clone()
        if R.ndim != 3 or R.shape[1:] != (3, 3):
            raise ValueError(f"R must have shape (N, 3, 3); got {tuple(R.shape)}")
        if t.ndim != 2 or t.shape[1] != 3:
            raise ValueError(f"t must have shape (N, 3); got {tuple(t.shape)}")
        if K.ndim != 3 or K.shape[1:] != (3, 3):
            raise ValueError(f"K must have shape (N, 3, 3) or (3, 3); got {tuple(K.shape)}")
        if not (K.shape[0] == R.shape[0] == t.shape[0]):
            raise ValueError(
                f"K, R and t must hold the same number of frames; got {K.shape[0]}, {R.shape[0]}, "
                f"{t.shape[0]}"
            )
        h, w = (int(v) for v in self.image_size)
        if h <= 0 or w <= 0:
            raise ValueError(f"image_size must be positive (H, W) pixels; got {self.image_size}")
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "image_size", (h, w))

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_w2c(cls, w2c, K, image_size, fps=None) -> Cameras:
        """From ``(N, 3, 4)`` or ``(N, 4, 4)`` OpenCV world-to-camera matrices."""
        w2c = as_float64(w2c)
        return cls(K=K, R=w2c[:, :3, :3], t=w2c[:, :3, 3], image_size=image_size, fps=fps)

    @classmethod
    def from_c2w(cls, c2w, K, image_size, fps=None) -> Cameras:
        """From ``(N, 3, 4)`` or ``(N, 4, 4)`` OpenCV camera-to-world matrices."""
        c2w = as_float64(c2w)
        R = c2w[:, :3, :3].transpose(1, 2)
        t = -(R @ c2w[:, :3, 3:4])[..., 0]
        return cls(K=K, R=R, t=t, image_size=image_size, fps=fps)

    @classmethod
    def from_c2w_opengl(cls, c2w, K, image_size, fps=None) -> Cameras:
        """From ``(N, 3|4, 4)`` OpenGL / nerfstudio / Blender camera-to-world matrices
        (x right, y up, camera looks along -z): the y and z camera axes are flipped."""
        c2w = as_float64(c2w).clone()
        c2w[:, :3, 1:3] *= -1
        return cls.from_c2w(c2w, K, image_size, fps)

    @staticmethod
    def intrinsics_matrix(fx, fy, cx, cy) -> torch.Tensor:
        """``(N, 3, 3)`` float64 K from per-frame (or scalar) ``fx, fy, cx, cy`` in pixels."""
        fx, fy, cx, cy = (torch.atleast_1d(as_float64(v)) for v in (fx, fy, cx, cy))
        n = max(v.shape[0] for v in (fx, fy, cx, cy))
        K = torch.zeros(n, 3, 3, dtype=torch.float64)
        K[:, 0, 0], K[:, 1, 1], K[:, 0, 2], K[:, 1, 2], K[:, 2, 2] = fx, fy, cx, cy, 1.0
        return K

    @staticmethod
    def intrinsics_from_fov(fov_y_deg, image_size, n=1) -> torch.Tensor:
        """``(n, 3, 3)`` K for a vertical field of view in degrees, square pixels, centred."""
        h, w = image_size
        f = 0.5 * h / math.tan(math.radians(fov_y_deg) / 2)
        return Cameras.intrinsics_matrix([f] * n, [f] * n, [w / 2] * n, [h / 2] * n)

    # ----------------------------------------------------------------- derived
    def __len__(self) -> int:
        return self.R.shape[0]

    @property
    def fx(self) -> torch.Tensor:
        return self.K[:, 0, 0]

    @property
    def fy(self) -> torch.Tensor:
        return self.K[:, 1, 1]

    @property
    def cx(self) -> torch.Tensor:
        return self.K[:, 0, 2]

    @property
    def cy(self) -> torch.Tensor:
        return self.K[:, 1, 2]

    @property
    def centers(self) -> torch.Tensor:
        """``(N, 3)`` camera centres in world coordinates, ``c = -R^T t``."""
        return -(self.R.transpose(1, 2) @ self.t[..., None])[..., 0]

    @property
    def w2c(self) -> torch.Tensor:
        """``(N, 4, 4)`` world-to-camera matrices."""
        m = torch.eye(4, dtype=self.R.dtype).repeat(len(self), 1, 1)
        m[:, :3, :3], m[:, :3, 3] = self.R, self.t
        return m

    @property
    def c2w(self) -> torch.Tensor:
        """``(N, 4, 4)`` camera-to-world matrices ``[R^T | c]`` (OpenCV axes)."""
        m = torch.eye(4, dtype=self.R.dtype).repeat(len(self), 1, 1)
        m[:, :3, :3], m[:, :3, 3] = self.R.transpose(1, 2), self.centers
        return m

    def c2w_opengl(self) -> torch.Tensor:
        """``(N, 4, 4)`` camera-to-world in OpenGL axes (y up, looking along -z)."""
        m = self.c2w.clone()
        m[:, :3, 1:3] *= -1
        return m

    def relative_to(self, index: int = 0) -> Cameras:
        """The same trajectory expressed in camera ``index``'s frame: that camera becomes
        ``R = I, t = 0`` and every other pose is ``w2c_j @ c2w_index``."""
        ref = self.c2w[index]
        w2c = self.w2c @ ref
        return replace(self, R=w2c[:, :3, :3], t=w2c[:, :3, 3])

    def relative_poses(self, i: Sequence[int] | torch.Tensor, j: Sequence[int] | torch.Tensor):
        """``(M, 4, 4)`` relative poses ``w2c_j @ c2w_i`` (maps camera i coordinates to camera j)."""
        return self.w2c[torch.as_tensor(j)] @ self.c2w[torch.as_tensor(i)]

    def __getitem__(self, idx) -> Cameras:
        if isinstance(idx, int):
            idx = slice(idx, idx + 1) if idx != -1 else slice(-1, None)
        return replace(self, K=self.K[idx], R=self.R[idx], t=self.t[idx])

    def with_image_size(self, image_size: tuple[int, int]) -> Cameras:
        """Rescale the intrinsics to another image size (a plain resize, no crop)."""
        h, w = self.image_size
        nh, nw = image_size
        K = self.K.clone()
        K[:, 0] *= nw / w
        K[:, 1] *= nh / h
        return replace(self, K=K, image_size=(int(nh), int(nw)))

    def scaled(self, factor: float) -> Cameras:
        """Scale the scene: translations (and so centres) multiplied by ``factor``."""
        return replace(self, t=self.t * factor)

    @staticmethod
    def concatenate(parts: Sequence[Cameras]) -> Cameras:
        """Join trajectories end to end (same image size required)."""
        sizes = {p.image_size for p in parts}
        if len(sizes) != 1:
            raise ValueError(
                f"cannot join trajectories of different image sizes {sorted(sizes)}; resize one "
                "with Cameras.with_image_size first"
            )
        return replace(
            parts[0],
            K=torch.cat([p.K for p in parts]),
            R=torch.cat([p.R for p in parts]),
            t=torch.cat([p.t for p in parts]),
        )

    # ----------------------------------------------------------------- validation
    def validate(self, source: str = "trajectory") -> Cameras:
        """Check the trajectory is physically meaningful; return ``self``.

        Raises:
            ValueError: naming ``source`` (a file name or node), the first bad frame and field,
                and the fix, when a value is not finite, a rotation is not orthonormal with det +1
                (tolerance :data:`ROTATION_TOLERANCE`), or a focal length is not positive.
        """
        if len(self) == 0:
            raise ValueError(f"{source}: the trajectory has no frames; give at least one camera")
        for name, value in (("K", self.K), ("R", self.R), ("t", self.t)):
            bad = ~torch.isfinite(value.reshape(len(self), -1)).all(dim=1)
            if bad.any():
                k = int(bad.nonzero()[0])
                raise ValueError(
                    f"{source}: frame {k} has a non-finite value (NaN or inf) in {name}; fix or "
                    "remove that frame"
                )
        eye = torch.eye(3, dtype=self.R.dtype)
        ortho = (self.R.transpose(1, 2) @ self.R - eye).abs().amax(dim=(1, 2))
        det = torch.linalg.det(self.R)
        bad = (ortho > ROTATION_TOLERANCE) | ((det - 1).abs() > ROTATION_TOLERANCE)
        if bad.any():
            k = int(bad.nonzero()[0])
            raise ValueError(
                f"{source}: frame {k} rotation is not a proper rotation (max |R^T R - I| = "
                f"{float(ortho[k]):.2e}, det = {float(det[k]):.6f}; tolerance {ROTATION_TOLERANCE:g}). "
                "Check the file's convention (a camera-to-world or OpenGL matrix read as OpenCV "
                "world-to-camera, or a scaled matrix) and re-export it with orthonormal rotations"
            )
        bad = (self.fx <= 0) | (self.fy <= 0)
        if bad.any():
            k = int(bad.nonzero()[0])
            raise ValueError(
                f"{source}: frame {k} has a non-positive focal length (fx={float(self.fx[k]):g}, "
                f"fy={float(self.fy[k]):g}); focal lengths must be positive pixels"
            )
        return self

    def check_frame_count(self, expected: int, what: str = "the video") -> None:
        """Raise ``ValueError`` when this trajectory's length differs from ``expected``."""
        if len(self) != expected:
            raise ValueError(
                f"the trajectory has {len(self)} frames but {what} has {expected}; resample the "
                "trajectory (RaxelCameraTrajectory frames / raxel_core.authoring.resample) or trim "
                f"{what} so the counts match"
            )


def look_at_w2c(eye, target, up=(0.0, -1.0, 0.0)) -> torch.Tensor:
    """``(N, 4, 4)`` OpenCV world-to-camera matrices of cameras at ``eye (N, 3)`` looking at
    ``target (N, 3)``; ``up`` is the world direction that appears up in the image (OpenCV worlds
    have y down, so the default up is ``-y``)."""
    eye, target = as_float64(eye).reshape(-1, 3), as_float64(target).reshape(-1, 3)
    up = as_float64(up).reshape(-1, 3).expand_as(eye)
    z = target - eye
    z_norm = torch.linalg.norm(z, dim=-1, keepdim=True)
    if (z_norm < 1e-12).any():
        raise ValueError("look-at point coincides with the camera position; move one of them")
    z = z / z_norm
    x = torch.linalg.cross(-up, z)  # image x (right) = down x forward
    x_norm = torch.linalg.norm(x, dim=-1, keepdim=True)
    if (x_norm < 1e-9).any():
        raise ValueError("viewing direction is parallel to the up vector; choose another up or look-at")
    x = x / x_norm
    y = torch.linalg.cross(z, x)
    R = torch.stack([x, y, z], dim=1)  # rows: camera axes in world coordinates
    m = torch.eye(4, dtype=torch.float64).repeat(eye.shape[0], 1, 1)
    m[:, :3, :3] = R
    m[:, :3, 3] = -(R @ eye[..., None])[..., 0]
    return m
