"""Keyframe fixtures written by the Python core for the browser's parser (web/js/raxel_keyframes.js),
run by tests/js/keyframes.test.mjs under Node's test runner (tests/test_keyframes_js.py): the two
parsers of the same JSON and the same Euler convention cannot drift apart unnoticed.

This is the only test module that imports the Python side of that contract; the JSON written holds:

* ``valid``: keyframe texts the node accepts, each with the parsed keys (``frame``, ``position``,
  ``fov`` or ``None``, the orientation field given) and the camera-to-world rotation (3 rows, OpenCV
  axes) the trajectory has at each key's frame;
* ``invalid``: texts the node refuses, with the Python error and the prefix both errors must share
  (the keyframe and the field named, or the list-level problem);
* ``euler``: ``[yaw, pitch, roll]`` degrees and the camera-to-world rotation of
  ``rotation_from_euler_deg``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from raxel_core.authoring.keyframes import parse_keyframes_json, trajectory_from_keyframes
from raxel_core.geometry.rotations import rotation_from_euler_deg

VALID_TEXTS = [
    '[{"frame": 0, "position": [0, 0, 0], "look_at": [0, 0, 4], "fov": 50}, '
    '{"frame": 48, "position": [1, 0, 0], "euler_deg": [-15, 0, 0]}]',
    '{"keyframes": [{"frame": 0, "position": [0, 0, 0], "look_at": [0, 0, 4]}]}',
    '[{"frame": 3, "position": [1, 2, 3], "rotation": [[1,0,0],[0,1,0],[0,0,1]]}]',
    '[{"frame": 0, "position": [0, 0, 0], "rotation": [[0,0,-1],[0,1,0],[1,0,0]], "fov": null}]',
    '[{"frame": 10, "position": [0.5, -1, 2], "look_at": [3, 1, -2], "fov": 35.5},\n'
    ' {"frame": 0, "position": [0, 0, 0], "euler_deg": [30, 20, 10]},\n'
    ' {"frame": 5, "position": [1, -2, 0], "look_at": [-1, 4, 9]}]',
    '[{"frame": 0, "position": [0, 0, 0], "euler_deg": [90, -45, 180]}, '
    '{"frame": 2, "position": [0, 0, 1], "euler_deg": [-120, 80, -30], "fov": 120}]',
    '[{"frame": 2.0, "position": [0, 0, 0], "look_at": [0, 0, 1]}]',
]
INVALID_TEXTS = [
    "[{frame: 0}]",
    "[]",
    '{"frame": 0}',
    "[1]",
    '[{"frame": 0, "position": [0,0,0], "look_at": [0,0,1]}, {"frame": 5, "look_at": [0,0,1]}]',
    '[{"frame": 0, "position": [0,0], "look_at": [0,0,1]}]',
    '[{"frame": 0, "position": [0,0,"a"], "look_at": [0,0,1]}]',
    '[{"frame": -1, "position": [0,0,0], "look_at": [0,0,1]}]',
    '[{"frame": 1.5, "position": [0,0,0], "look_at": [0,0,1]}]',
    '[{"frame": "0", "position": [0,0,0], "look_at": [0,0,1]}]',
    '[{"frame": true, "position": [0,0,0], "look_at": [0,0,1]}]',
    '[{"frame": 0, "position": [0,0,0]}]',
    '[{"frame": 0, "position": [0,0,0], "look_at": [0,0,1], "euler_deg": [0,0,0]}]',
    '[{"frame": 0, "position": [0,0,0], "lookat": [0,0,1]}]',
    '[{"frame": 0, "position": [0,0,0], "look_at": [0,0,0]}]',
    '[{"frame": 0, "position": [0,0,0], "rotation": [[2,0,0],[0,1,0],[0,0,1]]}]',
    '[{"frame": 0, "position": [0,0,0], "rotation": [[1,0,0],[0,1,0]]}]',
    '[{"frame": 0, "position": [0,0,0], "euler_deg": [0,0]}]',
    '[{"frame": 0, "position": [0,0,0], "look_at": [0,0,1], "fov": 0}]',
    '[{"frame": 0, "position": [0,0,0], "look_at": [0,0,1], "fov": 180}]',
    '[{"frame": 0, "position": [0,0,0], "look_at": [0,0,1], "fov": "50"}]',
    '[{"frame": 0, "position": [0,0,0], "look_at": [0,0,1], "fov": 1e400}]',
    '[{"frame": 2, "position": [0,0,0], "look_at": [0,0,1]}, {"frame": 2, "position": [1,0,0], "look_at": [0,0,1]}]',
    '[{"frame": 0, "position": [0,0,0], "look_at": [0,-3,0]}]',
]
EULER_DEG = [(0, 0, 0), (30, 0, 0), (0, 30, 0), (0, 0, 30), (30, 20, 10), (-15, 0, 0), (90, -45, 180),
             (-120, 80, -30), (200, 95, 370)]
#: The part of an error both parsers must agree on: the keyframe and field named, or the list-level problem.
SHARED_PREFIX = re.compile(r"^(keyframe \d+: field '\w+'|keyframe \d+: must be a JSON object|"
                           r"keyframes are not valid JSON|keyframes must be a non-empty JSON list)")


def _rows(matrix) -> list[list[float]]:
    return [[float(v) for v in row] for row in matrix]


def _node_result(text: str):
    """What the node does with ``text``: the parsed keys and the trajectory through them."""
    keys = parse_keyframes_json(text)
    return keys, trajectory_from_keyframes(keys)


def _valid(text: str) -> dict:
    keys, cameras = _node_result(text)
    data = json.loads(text)
    items = data["keyframes"] if isinstance(data, dict) else data
    expected = []
    for key, item in zip(keys, items, strict=True):
        orientation = next(f for f in ("look_at", "rotation", "euler_deg") if f in item)
        expected.append({
            "frame": key.frame,
            "position": [float(v) for v in key.position],
            "fov": key.fov_y_deg,
            "orientation": orientation,
            "c2w": _rows(cameras.R[key.frame].T),
        })
    return {"text": text, "keys": expected}


def _invalid(text: str) -> dict:
    try:
        _node_result(text)
    except ValueError as err:
        message = str(err)
    else:
        raise AssertionError(f"the Python parser accepts {text!r}; move it to VALID_TEXTS")
    match = SHARED_PREFIX.match(message)
    return {"text": text, "python_error": message, "prefix": match.group(1) if match else None}


def write_fixtures(path: Path) -> Path:
    """Write the fixtures (module docstring) as JSON to ``path``; returns ``path``."""
    fixtures = {
        "valid": [_valid(t) for t in VALID_TEXTS],
        "invalid": [_invalid(t) for t in INVALID_TEXTS],
        "euler": [{"euler_deg": list(e), "c2w": _rows(rotation_from_euler_deg(*e).T)} for e in EULER_DEG],
    }
    path.write_text(json.dumps(fixtures, indent=1), encoding="utf-8")
    return path
