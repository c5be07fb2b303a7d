"""Top and side view images of a camera trajectory, with frustums coloured by time.

The picture has a title row and two panels side by side, each an orthographic view at equal
aspect (one scale for both axes) of the world in the OpenCV convention of
:mod:`raxel_core.cameras` (x right, **y down**, z forward):

* **top view** (x-z plane), looking down the world's up axis (-y): image right = +x,
  image up = +z, so a camera moving forward goes up the panel and a truck right goes right;
* **side view** (z-y plane), seen from +x: image right = +z, image up = -y (world up).

Each panel draws the path of camera centres ``c = -R^T t`` and a subset of frustums (pyramids from
``K`` and ``image_size``, the image's top edge drawn thicker so roll is visible) coloured by time
on a colour ramp (blue at the first frame to red at the last), marks the first camera, and has
axis labels and a scale bar in scene units. An optional reference trajectory is drawn in grey
underneath. Drawing is OpenCV's (anti-aliased lines, ``putText``); no matplotlib.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from .cameras import Cameras
from .formats.text_files import write_bytes_atomic

BACKGROUND = (24, 24, 28)
PANEL_BACKGROUND = (34, 34, 40)
GRID = (52, 52, 60)
TEXT = (225, 225, 225)
REFERENCE = (150, 150, 150)
HIGHLIGHT = (255, 255, 255)

_SHIFT = 4  # cv2 sub-pixel drawing: coordinates carry 4 fractional bits
_VIEWS = {
    # name: (horizontal world axis, vertical world axis, sign: +1 when a larger world value is
    # higher in the image, label of right, label of up)
    "top": (0, 2, +1.0, "x", "z"),
    "side": (2, 1, -1.0, "z", "-y (up)"),
}
_TITLES = {"top": "top view (x-z, looking down)", "side": "side view (z-y, up = -y)"}


@dataclass(frozen=True)
class PreviewPanel:
    """One orthographic panel: world point -> pixel ``(x, y)`` of the whole preview image.

    ``x = rect_cx + (p[axis_h] - centre_h) * scale`` and
    ``y = rect_cy - sign * (p[axis_v] - centre_v) * scale`` (``scale`` in pixels per scene unit).
    """

    view: str
    axis_h: int
    axis_v: int
    sign: float
    rect: tuple[int, int, int, int]  # plot area (x0, y0, x1, y1) in image pixels
    centre: tuple[float, float]  # world (horizontal, vertical) coordinate at the rect centre
    scale: float

    def project(self, points) -> np.ndarray:
        """``(M, 2)`` float64 pixel ``(x, y)`` of ``(M, 3)`` world points."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        x0, y0, x1, y1 = self.rect
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        x = cx + (p[:, self.axis_h] - self.centre[0]) * self.scale
        y = cy - self.sign * (p[:, self.axis_v] - self.centre[1]) * self.scale
        return np.stack([x, y], -1)


@dataclass(frozen=True)
class PreviewLayout:
    """Where everything goes in a :func:`trajectory_preview` image of ``size = (H, W)`` pixels.

    Attributes:
        size: ``(H, W)`` of the image.
        title_height: pixels of the title row.
        panels: ``{"top": PreviewPanel, "side": PreviewPanel}``.
        frustum_depth: depth (camera z, scene units) at which frustums are cut: 15% of the
            trajectory's extent, or 1 unit when every camera centre coincides.
        extent: largest side of the bounding box of the camera centres (reference included).
    """

    size: tuple[int, int]
    title_height: int
    panels: dict
    frustum_depth: float
    extent: float

    def project(self, points, view: str = "top") -> np.ndarray:
        """``(M, 2)`` pixel ``(x, y)`` of ``(M, 3)`` world points in panel ``view``."""
        if view not in self.panels:
            raise ValueError(f"unknown view {view!r}; choose one of {sorted(self.panels)}")
        return self.panels[view].project(points)


def frustum_points(cameras: Cameras, depth: float) -> np.ndarray:
    """``(N, 5, 3)`` world points of each camera's frustum: the centre, then the image corners
    ``(0, 0), (W, 0), (W, H), (0, H)`` back-projected to camera z-depth ``depth``:
    ``c + R^T K^-1 [u, v, 1]^T * depth``."""
    h, w = cameras.image_size
    uv1 = torch.tensor([[0, 0, 1], [w, 0, 1], [w, h, 1], [0, h, 1]], dtype=torch.float64)
    rays = torch.linalg.inv(cameras.K) @ uv1.T  # (N, 3, 4), z = 1
    corners = cameras.R.transpose(1, 2) @ rays * depth + cameras.centers[..., None]
    return torch.cat([cameras.centers[:, None], corners.transpose(1, 2)], 1).numpy()


def _check(cameras: Cameras, what: str) -> Cameras:
    if not isinstance(cameras, Cameras):
        raise ValueError(f"{what} must be a raxel_core.cameras.Cameras; got {type(cameras).__name__}")
    return cameras.validate(what)


def preview_layout(cameras: Cameras, size: tuple[int, int] = (512, 1024),
                   reference: Cameras | None = None) -> PreviewLayout:
    """The layout :func:`trajectory_preview` uses for these arguments (see :class:`PreviewLayout`);
    use it to find where a world point is drawn.

    Raises:
        ValueError: ``size`` smaller than 128 x 256 pixels, or an invalid trajectory.
    """
    H, W = (int(v) for v in size)
    if H < 128 or W < 256:
        raise ValueError(f"preview size must be at least (128, 256) pixels (H, W); got {size}")
    _check(cameras, "trajectory_preview cameras")
    centres = [cameras.centers.numpy()]
    if reference is not None:
        _check(reference, "trajectory_preview reference")
        centres.append(reference.centers.numpy())
    allc = np.concatenate(centres)
    extent = float((allc.max(0) - allc.min(0)).max())
    depth = 0.15 * extent if extent > 1e-9 else 1.0
    points = [frustum_points(cameras, depth).reshape(-1, 3)]
    if reference is not None:
        points.append(frustum_points(reference, depth).reshape(-1, 3))
    points = np.concatenate(points)
    title_height = max(24, H // 16)
    margin_top, margin_bottom, margin_side = max(20, H // 22), max(30, H // 13), 12
    panel_w = W // 2
    panels = {}
    for i, (view, (ah, av, sign, _, _)) in enumerate(_VIEWS.items()):
        x0 = i * panel_w + margin_side
        x1 = (i + 1) * panel_w - margin_side
        y0, y1 = title_height + margin_top, H - margin_bottom
        lo, hi = points[:, [ah, av]].min(0), points[:, [ah, av]].max(0)
        span = np.maximum(hi - lo, 1e-12)
        scale = 0.9 * min((x1 - x0) / span[0], (y1 - y0) / span[1])
        panels[view] = PreviewPanel(view, ah, av, sign, (x0, y0, x1, y1),
                                    (float((lo[0] + hi[0]) / 2), float((lo[1] + hi[1]) / 2)), float(scale))
    return PreviewLayout((H, W), title_height, panels, depth, extent)


def _time_colours(n: int) -> np.ndarray:
    """``(n, 3)`` RGB uint8 colours along the time ramp (OpenCV's turbo map, 0.08..0.92)."""
    values = np.linspace(0.08, 0.92, max(n, 1)) if n > 1 else np.array([0.08])
    lut = cv2.applyColorMap(np.round(values * 255).astype(np.uint8)[None], cv2.COLORMAP_TURBO)[0]
    return lut[:, ::-1].copy()  # BGR -> RGB


def _pts(xy: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(xy) * (1 << _SHIFT)).astype(np.int32)


def _line(img, a, b, colour, thickness=1):
    cv2.line(img, tuple(_pts(a)), tuple(_pts(b)), tuple(int(c) for c in colour), thickness, cv2.LINE_AA, _SHIFT)


def _text(img, text, org, scale, colour=TEXT, thickness=1):
    cv2.putText(img, text, (int(org[0]), int(org[1])), cv2.FONT_HERSHEY_SIMPLEX, scale,
                tuple(int(c) for c in colour), thickness, cv2.LINE_AA)


def _nice_length(target: float) -> float:
    """The 1, 2, 5 x 10^k value nearest below ``target`` (> 0)."""
    k = math.floor(math.log10(target))
    for m in (5, 2, 1):
        if m * 10 ** k <= target:
            return m * 10 ** k
    return 10 ** k


def _draw_frustum(img, xy: np.ndarray, colour, thickness: int) -> None:
    apex, corners = xy[0], xy[1:]
    for c in corners:
        _line(img, apex, c, colour, thickness)
    for i in range(4):
        # the image's top edge (corners 0 -> 1) thicker: shows which way is up in the image
        _line(img, corners[i], corners[(i + 1) % 4], colour, thickness + (1 if i == 0 else 0))


def _frustum_indices(n: int, max_frustums: int) -> list[int]:
    if n <= max_frustums:
        return list(range(n))
    return sorted({int(round(v)) for v in np.linspace(0, n - 1, max_frustums)})


def trajectory_preview(cameras: Cameras, size: tuple[int, int] = (512, 1024),
                       reference: Cameras | None = None, highlight: int | None = None,
                       max_frustums: int = 12, title: str | None = None) -> np.ndarray:
    """Draw a trajectory as a top view and a side view with frustums coloured by time.

    Args:
        cameras: the trajectory (``N >= 1`` cameras).
        size: ``(H, W)`` of the image in pixels, at least ``(128, 256)``; each panel is ``W / 2``
            wide.
        reference: optional second trajectory (e.g. ground truth) drawn in grey underneath, in the
            same world frame and units (align it first; nothing is aligned here).
        highlight: optional frame index whose frustum is drawn in white on top (e.g. the current
            frame of a player).
        max_frustums: at most this many frustums per trajectory, evenly spaced in time (first and
            last always included); the path shows every frame.
        title: text of the title row; default a summary (frames, path length, extent).

    Returns:
        ``(H, W, 3)`` uint8 RGB image. :func:`preview_layout` with the same ``cameras``, ``size``
        and ``reference`` gives the pixel position of any world point in either panel.

    Raises:
        ValueError: an invalid trajectory (see :meth:`Cameras.validate`), a too small ``size``,
            ``highlight`` out of range, or ``max_frustums < 1``.
    """
    layout = preview_layout(cameras, size, reference)
    n = len(cameras)
    if highlight is not None and not -n <= int(highlight) < n:
        raise ValueError(f"highlight frame {highlight} is out of range for a trajectory of {n} frames")
    if max_frustums < 1:
        raise ValueError(f"max_frustums must be at least 1; got {max_frustums}")
    H, W = layout.size
    img = np.empty((H, W, 3), dtype=np.uint8)
    img[:] = BACKGROUND
    font = 0.42 * min(max(W / 1024, 0.6), 2.0)
    colours = _time_colours(n)
    centres = cameras.centers.numpy()
    frustums = frustum_points(cameras, layout.frustum_depth)
    ref_frustums = ref_centres = None
    if reference is not None:
        ref_centres = reference.centers.numpy()
        ref_frustums = frustum_points(reference, layout.frustum_depth)
    shown = _frustum_indices(n, max_frustums)

    for view, panel in layout.panels.items():
        _, _, sign, label_h, label_v = _VIEWS[view]
        x0, y0, x1, y1 = panel.rect
        cv2.rectangle(img, (x0, y0), (x1, y1), PANEL_BACKGROUND, -1)
        # grid and scale bar at a 1-2-5 step of about a fifth of the plot width
        step = _nice_length((x1 - x0) / 5 / panel.scale)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        for k in range(-50, 51):
            gx = cx + (k * step - (panel.centre[0] % step)) * panel.scale
            gy = cy - sign * (k * step - (panel.centre[1] % step)) * panel.scale
            if x0 < gx < x1:
                cv2.line(img, (int(round(gx)), y0), (int(round(gx)), y1), GRID, 1)
            if y0 < gy < y1:
                cv2.line(img, (x0, int(round(gy))), (x1, int(round(gy))), GRID, 1)
        _text(img, _TITLES[view], (x0, y0 - 6), font)
        bar_px = step * panel.scale
        by = y1 + max(12, (H - y1) // 2)
        _line(img, (x1 - bar_px, by), (x1, by), TEXT, 2)
        _line(img, (x1 - bar_px, by - 4), (x1 - bar_px, by + 4), TEXT, 1)
        _line(img, (x1, by - 4), (x1, by + 4), TEXT, 1)
        label = f"{step:g} units"
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font, 1)
        _text(img, label, (x1 - bar_px - tw - 8, by + th // 2), font)
        # axis glyph: arrows along image right and image up, labelled with the world axis
        ax, ay, arm = x0 + 8, by + 2, max(18, (H - y1) - 10)
        cv2.arrowedLine(img, (ax, ay), (ax + arm, ay), TEXT, 1, cv2.LINE_AA, 0, 0.25)
        cv2.arrowedLine(img, (ax, ay), (ax, ay - arm), TEXT, 1, cv2.LINE_AA, 0, 0.25)
        _text(img, label_h, (ax + arm + 4, ay + 4), font)
        _text(img, label_v, (ax + 6, ay - arm + 8), font)

        clip = img[y0:y1 + 1, x0:x1 + 1]
        off = np.array([x0, y0], dtype=np.float64)
        if reference is not None:
            rxy = panel.project(ref_centres) - off
            for a, b in itertools.pairwise(rxy):
                _line(clip, a, b, REFERENCE, 1)
            for k in _frustum_indices(len(reference), max_frustums):
                _draw_frustum(clip, panel.project(ref_frustums[k]) - off, REFERENCE, 1)
        for k in shown:
            _draw_frustum(clip, panel.project(frustums[k]) - off, colours[k], 1)
        cxy = panel.project(centres) - off
        for k in range(n - 1):
            _line(clip, cxy[k], cxy[k + 1], colours[k], 2)
        # the first camera: a filled disc with a light ring, labelled
        cv2.circle(clip, tuple(_pts(cxy[0])), 5 << _SHIFT, tuple(int(c) for c in colours[0]), -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(clip, tuple(_pts(cxy[0])), 6 << _SHIFT, HIGHLIGHT, 1, cv2.LINE_AA, _SHIFT)
        _text(clip, "start", cxy[0] + (8, -8), font * 0.9)
        if highlight is not None:
            _draw_frustum(clip, panel.project(frustums[int(highlight)]) - off, HIGHLIGHT, 2)

    # title row: summary text and the time ramp legend
    if title is None:
        path = float(np.linalg.norm(np.diff(centres, axis=0), axis=1).sum()) if n > 1 else 0.0
        path, extent = (0.0 if v < 1e-9 else v for v in (path, layout.extent))
        title = f"{n} frames, path length {path:.3g} units, extent {extent:.3g} units"
        if reference is not None:
            title += "  (grey: reference)"
    th_px = layout.title_height
    _text(img, title, (12, int(th_px * 0.7)), font * 1.1)
    ramp_w = min(160, W // 6)
    rx1 = W - 12 - int(cv2.getTextSize(f"frame {n - 1}", cv2.FONT_HERSHEY_SIMPLEX, font, 1)[0][0]) - 6
    rx0 = rx1 - ramp_w
    ramp = _time_colours(ramp_w)
    ry0, ry1 = int(th_px * 0.3), int(th_px * 0.75)
    img[ry0:ry1, rx0:rx1] = ramp[None]
    _text(img, f"frame {n - 1}", (rx1 + 6, ry1), font)
    tw = cv2.getTextSize("frame 0", cv2.FONT_HERSHEY_SIMPLEX, font, 1)[0][0]
    _text(img, "frame 0", (rx0 - tw - 6, ry1), font)
    return img


def align_to_reference(estimate: Cameras, reference: Cameras) -> tuple[Cameras, float]:
    """The estimate moved onto the reference by a similarity (Sim(3): rotation, scale, translation),
    so that the two can be drawn in one picture: an estimate from video has its own world frame and
    scale.

    The rotation ``R`` is the one that best turns the estimated camera orientations into the
    reference's (Procrustes on the camera-to-world rotations, ``H = sum_i R_i^T R'_i``,
    :func:`raxel_core.geometry.alignment.procrustes_rotation`; Kabsch 1976 / Umeyama 1991 eq. 43);
    centres alone (:func:`raxel_core.geometry.alignment.umeyama_alignment`) leave the turn about a
    straight path free. Given ``R``, the scale and translation are the least-squares fit of the
    centres (Umeyama 1991, eqs. 41-42): ``s = sum <y_i, R x_i> / sum |x_i|^2`` with ``x``, ``y`` the
    centred estimated / reference centres, ``t = mean(c') - s R mean(c)``.

    Args:
        estimate: ``N`` cameras; reference: ``N`` cameras of the same frames.
    Returns:
        ``(aligned, s)``: cameras with centres ``s R c + t`` and world-to-camera rotations
        ``R_i R^T`` (each camera turned with the world), same ``K``; ``s`` the scale applied.
    Raises:
        ValueError: frame counts differ, or the estimate's centres all coincide (a static or
            rotation-only estimate has no scale to fit).
    """
    from .geometry.alignment import procrustes_rotation

    if len(estimate) != len(reference):
        raise ValueError(f"cannot align {len(estimate)} estimated cameras to {len(reference)} reference cameras; "
                         "give the reference cameras of the registered frames")
    R = procrustes_rotation((estimate.R.transpose(1, 2) @ reference.R).sum(0))
    x = estimate.centers - estimate.centers.mean(0)
    y = reference.centers - reference.centers.mean(0)
    spread = float((x * x).sum())
    if spread <= 1e-24:
        raise ValueError("the estimated camera centres all coincide (a static or rotation-only estimate): "
                         "there is no scale to align")
    s = float((y * (x @ R.T)).sum()) / spread
    t = reference.centers.mean(0) - s * estimate.centers.mean(0) @ R.T
    centres = s * estimate.centers @ R.T + t                               # c' = s R c + t
    rotations = estimate.R @ R.T                                           # w2c' = R_i R^T
    translations = -torch.einsum("nij,nj->ni", rotations, centres)         # t' = -R' c'
    return Cameras(K=estimate.K, R=rotations, t=translations, image_size=estimate.image_size,
                   fps=estimate.fps), s


def save_preview(path, cameras: Cameras, **kwargs) -> Path:
    """Render :func:`trajectory_preview` (``kwargs`` passed on) and write it as a PNG atomically
    (a temporary file in the same folder, then ``os.replace``). Returns the path written.

    Raises:
        ValueError: as :func:`trajectory_preview`, a path not ending in ``.png``, or a folder that
            does not exist.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"preview path must end in .png; got {path}")
    if not path.parent.is_dir():
        raise ValueError(f"folder {path.parent} does not exist; create it first")
    img = trajectory_preview(cameras, **kwargs)
    ok, data = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"OpenCV could not encode the preview as PNG for {path}")
    return write_bytes_atomic(path, data.tobytes())
