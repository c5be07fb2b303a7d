"""Sequential matching of video frames: COLMAP's matcher on one thread, its verification on every core.

Step 3 of :func:`raxel_core.pose.estimate.estimate_trajectory`. COLMAP does the work (Schonberger & Frahm,
CVPR 2016): its SIFT matcher (``pycolmap.match_image_pairs``, ratio test and cross-check) and its geometric
verification (``pycolmap.geometric_verification``: fundamental / essential / homography RANSAC, seeded).
This module only arranges the work so that the result is the same bytes in every run:

* The matching runs on one thread, one pair after the other. COLMAP's CPU matcher searches with FAISS, whose
  distances come from the BLAS (OpenBLAS, built into pycolmap); two FAISS searches at once, from COLMAP's own
  matching threads or from two groups of pairs matched in two threads (what this module did before), gave
  different matches now and then: 2 of 700 repeats on a 16-frame RealEstate10K clip with two groups and a
  busy second core (``pycolmap`` 4.2.1; with COLMAP's own 2 threads, 3 runs on a 25-frame clip gave 3
  different sets of verified pairs, measured with pycolmap 4.2). It is the cheap part: 0.15 s of the 0.55 s
  for the 84 pairs of that clip on one thread (two groups: 0.10 s).
* The geometric verification then runs once on all the stored matches with ``workers`` threads: its RANSAC
  is seeded per pair (``RANSACOptions.random_seed``; each pair's RANSAC reseeds its thread's generator), so
  its result does not depend on the threads (0.40 s on one thread, 0.20 s on two, for those 84 pairs).
* pycolmap is imported with ``OMP_NUM_THREADS=1`` (:func:`load_pycolmap`, done by ``raxel_core.pose``;
  torch's own OpenMP is not touched): FAISS and OpenBLAS then run in the calling thread only. That was also
  faster on this 2-core machine (pycolmap's own default pipeline too, ``benchmarks/eval_pose.py``).

Checked: on a 25-frame 576x320 RealEstate10K clip the verified pairs (inlier matches, configuration and
fundamental matrix of all 195) are the same bytes with 1 and 2 workers and as ``pycolmap.match_sequential``
on one thread gave (``tests/test_pose_matching.py`` checks 1 against 2 workers).
"""
from __future__ import annotations

import functools
import glob
import os
import sys
from pathlib import Path


def load_pycolmap():
    """Import pycolmap (once per process) with its bundled OpenMP runtime set to one thread: the environment
    variable ``OMP_NUM_THREADS`` is ``1`` while the module loads (OpenMP reads it then) and restored afterwards,
    so other libraries' OpenMP (torch's) keep theirs. No effect when pycolmap is already imported. Returns the
    module."""
    if "pycolmap" in sys.modules:
        return sys.modules["pycolmap"]
    before = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        import pycolmap
    finally:
        if before is None:
            del os.environ["OMP_NUM_THREADS"]
        else:
            os.environ["OMP_NUM_THREADS"] = before
    return pycolmap


@functools.cache
def colmap_openmp_threads() -> int | None:
    """Threads of an OpenMP region of pycolmap's bundled OpenMP runtime (``omp_get_max_threads`` of the
    ``libgomp`` in ``pycolmap.libs``), or ``None`` where none is found (a build without its own copy). Read
    once per process: OpenMP fixes it when pycolmap loads."""
    import ctypes

    pycolmap = load_pycolmap()
    found = glob.glob(os.path.join(os.path.dirname(os.path.dirname(pycolmap.__file__)), "pycolmap.libs", "libgomp*"))
    return int(ctypes.CDLL(found[0]).omp_get_max_threads()) if found else None


def sequential_pairs(n: int, overlap: int, quadratic_overlap: bool = False) -> list[tuple[int, int]]:
    """Frame pairs of COLMAP's sequential pairing (loop detection off): ``(i, i + k)`` for
    ``k = 1..overlap``, or with ``quadratic_overlap`` ``(i, i + 2^k)`` for ``k = 0..overlap - 1`` instead;
    pairs past the last frame are left out. Sorted, no duplicates (the same pairs as
    ``pycolmap.match_sequential``: ``tests/test_pose_matching.py``).

    Raises:
        ValueError: ``overlap`` below 1.
    """
    if int(overlap) != overlap or overlap < 1:
        raise ValueError(f"overlap must be a whole number >= 1; got {overlap}")
    steps = {2 ** k for k in range(int(overlap))} if quadratic_overlap else set(range(1, int(overlap) + 1))
    return sorted({(i, i + k) for i in range(n) for k in steps if i + k < n})


def _match_pairs(database: Path, names: list[tuple[str, str]]) -> None:
    """Match the named image pairs on one thread, matches only (no verification)."""
    import pycolmap

    pairs_file = database.with_suffix(".pairs.txt")
    try:
        pairs_file.write_text("".join(f"{a} {b}\n" for a, b in names))
        matching = pycolmap.FeatureMatchingOptions()
        matching.num_threads = 1
        matching.skip_geometric_verification = True
        pairing = pycolmap.ImportedPairingOptions()
        pairing.match_list_path = str(pairs_file)
        pycolmap.match_image_pairs(database, matching_options=matching, pairing_options=pairing)
    finally:
        pairs_file.unlink(missing_ok=True)


def match_and_verify(database: Path, pairs: list[tuple[str, str]], verification,
                     workers: int | None = None) -> None:
    """Match the named image pairs with COLMAP's SIFT matcher and verify them (module docstring).

    Args:
        database: COLMAP database with the images' keypoints and descriptors; matches and two-view
            geometries are written into it.
        pairs: ``(name_a, name_b)`` image names.
        verification: ``pycolmap.TwoViewGeometryOptions`` (seed it: ``sfm.seed_options``).
        workers: threads of the verification (``None``: one per core); the matching runs on one thread
            (module docstring).

    Raises:
        whatever pycolmap raises (an unreadable database, an unknown image name).
    """
    import pycolmap

    database = Path(database)
    workers = max(1, min(int(workers or os.cpu_count() or 1), len(pairs) or 1))
    _match_pairs(database, pairs)
    verifier = pycolmap.GeometricVerifierOptions()
    verifier.num_threads = workers
    pycolmap.geometric_verification(database, verifier_options=verifier, two_view_geometry_options=verification)
