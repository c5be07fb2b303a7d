"""Cameras and 3D point tracks of dynamic scenes from 2D point tracks (TracksTo4D, NeurIPS 2024).

* ``solver.py``   :func:`solve_tracks4d`: the low-rank model ``X(t) = B0 + sum_k c_k(t) B_k`` and the
                  paper's losses, optimised per video with torch; :class:`Tracks4DResult`
* ``lifting.py``  triangulation (DLT), lifting with a depth map, cameras from the tracks alone (OpenCV)
"""
from .solver import MIN_TRACKS, Tracks4DResult, Tracks4DSettings, solve_tracks4d

__all__ = ["MIN_TRACKS", "Tracks4DResult", "Tracks4DSettings", "solve_tracks4d"]
