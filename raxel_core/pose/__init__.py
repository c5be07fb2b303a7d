"""Camera trajectory from video frames (pycolmap SfM, and a rotation-only solver without parallax).

* ``estimate.py``       :func:`estimate_trajectory`, :class:`PoseEstimate`, progress / cancellation
* ``sfm.py``            pycolmap: workspace image names, features, matching, verified pairs, mappers
* ``features.py``       SIFT of each frame as it arrives, into the COLMAP database
* ``matching.py``       sequential matching and verification on every core, one result
* ``parallax.py``       the parallax and static-camera tests on the verified pairs
* ``rotation_only.py``  the rotation-only / static solver and the focal length from homographies
"""
from .estimate import METHODS, MIN_REGISTERED_FRAMES, PoseEstimate, estimate_trajectory, raise_too_few
from .matching import load_pycolmap
from .sfm import frame_of, image_name

load_pycolmap()  # before anything else loads it: its OpenMP on one thread (raxel_core.pose.matching)

__all__ = [
    "METHODS",
    "MIN_REGISTERED_FRAMES",
    "PoseEstimate",
    "estimate_trajectory",
    "frame_of",
    "image_name",
    "raise_too_few",
]
