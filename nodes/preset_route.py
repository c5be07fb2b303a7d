"""``POST /raxel/preset_path``: the path a preset of ``RaxelCameraTrajectory`` makes, for the canvas
to draw live as the widgets change, before any run.

The browser (``web/js/raxel_extension.js``) sends the node's widget values; the answer is the
same :func:`raxel_core.trajectory_view.trajectory_view` payload the node sends after a run,
computed by the same :func:`raxel_core.authoring.trajectory_presets.make_preset`, so the preview
cannot drift from what a run makes. Request body (JSON object, every field required)::

    {"preset": str, "frames": int, "magnitude": float, "easing": str,
     "width": int, "height": int, "fov": float, "distance": float}

Answers: 200 ``{"trajectory": view}``; 400 ``{"error": "<one line naming the field and the fix>"}``
for a malformed body or a value outside the node's own widget ranges (the server stays healthy).
"""
from __future__ import annotations

import math

from ..raxel_core.authoring.trajectory_presets import EASINGS, PRESET_NAMES

#: Route path (the pack's own prefix, so it cannot collide with ComfyUI's or another pack's).
ROUTE = "/raxel/preset_path"

#: Integer fields and their inclusive ranges: the widget ranges of RaxelCameraTrajectory.
INT_FIELDS = {"frames": (1, 4096), "width": (16, 8192), "height": (16, 8192)}
#: Float fields and their inclusive ranges (magnitude 0 = the preset's default, as in the node).
FLOAT_FIELDS = {"magnitude": (-3600.0, 3600.0), "fov": (1.0, 179.0), "distance": (0.01, 1000.0)}


def parse_request(body) -> dict:
    """Checked keyword arguments of ``make_preset`` from a request body.

    Args:
        body: the decoded JSON body (any type; only a dict with the fields of the module
            docstring is accepted).

    Returns:
        ``{"name", "num_frames", "magnitude" (None = default), "easing", "image_size" (H, W),
        "fov_y_deg", "distance"}``.

    Raises:
        ValueError: one line naming the first wrong field, what it must be and what it got.
    """
    if not isinstance(body, dict):
        raise ValueError(f"the body must be a JSON object of widget values; got {type(body).__name__}")
    fields = ("preset", "easing", *INT_FIELDS, *FLOAT_FIELDS)
    missing = [f for f in fields if f not in body]
    if missing:
        raise ValueError(f"missing field(s) {', '.join(missing)}; send every widget of the node")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(map(str, unknown))}; expected {', '.join(fields)}")
    if body["preset"] not in PRESET_NAMES:
        raise ValueError(f"preset must be one of {', '.join(PRESET_NAMES)}; got {body['preset']!r}")
    if body["easing"] not in EASINGS:
        raise ValueError(f"easing must be one of {', '.join(EASINGS)}; got {body['easing']!r}")
    values = {}
    for name, (low, high) in INT_FIELDS.items():
        v = body[name]
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            raise ValueError(f"{name} must be a whole number in [{low}, {high}]; got {v!r}")
        values[name] = v
    for name, (low, high) in FLOAT_FIELDS.items():
        v = body[name]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not low <= v <= high:
            raise ValueError(f"{name} must be a number in [{low:g}, {high:g}]; got {v!r}")
        values[name] = float(v)
    return {
        "name": body["preset"], "num_frames": values["frames"], "magnitude": values["magnitude"] or None,
        "easing": body["easing"], "image_size": (values["height"], values["width"]),
        "fov_y_deg": values["fov"], "distance": values["distance"],
    }


def preset_path(body) -> dict:
    """``{"trajectory": view}`` of the preset the body names (see :func:`parse_request`).

    Raises:
        ValueError: a malformed body (:func:`parse_request`) or a value ``make_preset`` refuses
            (e.g. a zoom factor <= 0).
    """
    from ..raxel_core.authoring.trajectory_presets import make_preset
    from ..raxel_core.trajectory_view import trajectory_view

    return {"trajectory": trajectory_view(make_preset(**parse_request(body)))}


def register(routes) -> None:
    """Add :data:`ROUTE` to an aiohttp ``RouteTableDef`` (``PromptServer.instance.routes``)."""
    from aiohttp import web

    @routes.post(ROUTE)
    async def raxel_preset_path(request):
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "the body is not valid JSON; send a JSON object of widget values"},
                                     status=400)
        try:
            return web.json_response(preset_path(body))
        except ValueError as err:
            return web.json_response({"error": str(err)}, status=400)


def register_with_server() -> bool:
    """Register on the running ComfyUI server; False when there is none (the pack imported outside it)."""
    try:
        from server import PromptServer
    except ImportError:
        return False
    instance = getattr(PromptServer, "instance", None)
    if instance is None:
        return False
    register(instance.routes)
    return True
