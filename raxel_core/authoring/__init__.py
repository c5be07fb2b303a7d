"""Authoring camera paths: presets, keyframed paths, and trajectory editing.

* ``trajectory_presets.py``  camera moves an artist names (pan, dolly, orbit, zoom, ...)
* ``keyframes.py``           the keyframe type, its JSON, paths interpolated through keys
* ``interpolation.py``       SLERP, natural cubic spline, piecewise-linear interpolation
* ``trajectory_ops.py``      chain, combine, resample, sample_at, smooth
* ``retime.py``              another frame count / frame rate for a path (camera transfer)
"""
from .keyframes import (
    DEFAULT_UP,
    EXAMPLE_JSON,
    Keyframe,
    check_keyframes_in_range,
    keyframes_from_cameras,
    parse_keyframes_json,
    trajectory_from_keyframes,
)
from .retime import FRAME_RULES, nearest_4k_plus_1, retime
from .trajectory_ops import chain, combine, resample, sample_at, smooth
from .trajectory_presets import DEFAULT_MAGNITUDES, EASINGS, PRESET_NAMES, ease, make_preset

__all__ = [
    "DEFAULT_MAGNITUDES",
    "DEFAULT_UP",
    "EASINGS",
    "EXAMPLE_JSON",
    "FRAME_RULES",
    "PRESET_NAMES",
    "Keyframe",
    "chain",
    "check_keyframes_in_range",
    "combine",
    "ease",
    "keyframes_from_cameras",
    "make_preset",
    "nearest_4k_plus_1",
    "parse_keyframes_json",
    "resample",
    "retime",
    "sample_at",
    "smooth",
    "trajectory_from_keyframes",
]
