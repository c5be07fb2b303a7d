"""Sequential matching of video frames: exact SIFT nearest neighbours, then COLMAP's geometric verification.

Step 3 of :func:`raxel_core.pose.estimate.estimate_trajectory`.

* **Matching** (:func:`match_descriptors`) applies COLMAP's SIFT matching rule (Schonberger & Frahm, CVPR 2016;
  ``SiftMatchingOptions``: nearest neighbour in squared L2 distance, distance at most
  ``max_distance x 512``, Lowe's ratio test ``d1 < max_ratio x d2`` on the distances, cross-check) to the
  **exact** nearest neighbours. COLMAP's CPU matcher searches an approximate FAISS index (an inverted file probed
  in 8 of ``4 sqrt(n)`` cells, for images of 512 or more features), so it now and then misses a descriptor's true
  nearest or second nearest neighbour, and two searches at once sometimes returned different matches (2 of
  700 repeats on a 16-frame clip with two threads). Here one matrix product gives every squared distance of a
  pair at once: with the descriptors as float32 (uint8 values, 128 dimensions) and the squared norms appended
  (``|a - b|^2 = [a, |a|^2, 1] . [-2b, 1, |b|^2]``), every product and every partial sum is an integer of
  magnitude below ``2 x 128 x 255^2 < 2^24``, so the BLAS computes each distance **exactly**, in any summation
  order and on any number of threads. The matches are therefore the same bytes in every run and on every
  machine, and both directions of the cross-check come from the one product. On the 15 RealEstate10K clips of
  the shared data (1505 pairs): 2.7 s against 6.7 s for COLMAP's matcher on one thread, and 275,050 matches
  against COLMAP's 274,296, 0.7 % of them different (COLMAP's approximate misses;
  ``tests/test_pose_matching.py`` checks the rule against a plain integer brute force and against COLMAP).
* **Verification** runs once on all the stored matches with ``workers`` threads (``pycolmap.geometric_verification``:
  fundamental / essential / homography RANSAC): its RANSAC is seeded per pair (``RANSACOptions.random_seed``;
  each pair's RANSAC reseeds its thread's generator), so its result does not depend on the threads.
* pycolmap is imported with ``OMP_NUM_THREADS=1`` (:func:`load_pycolmap`, done by ``raxel_core.pose``;
  torch's own OpenMP is not touched), which was faster on this 2-core machine for pycolmap's own default
  pipeline too (``benchmarks/eval_pose.py``).
"""
from __future__ import annotations

import functools
import glob
import os
import sys
from pathlib import Path

import numpy as np


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


#: COLMAP's SIFT matching defaults (``pycolmap.FeatureMatchingOptions().sift``; a test checks they still are):
#: Lowe's ratio, and the largest distance of a match as a fraction of the descriptor norm (512).
MAX_RATIO = 0.8
MAX_DISTANCE = 0.7
#: Squared norm of COLMAP's SIFT descriptors (uint8, L2 norm 512 up to rounding).
SIFT_SQUARED_NORM = 512 * 512
#: Distances computed at once by :func:`match_descriptors` (float32): 2^24 (64 MB). Larger pairs are done in
#: blocks of rows, with the same result.
BLOCK_ELEMENTS = 1 << 24
#: Images whose descriptors :func:`_match_pairs` keeps in memory (at most 1 MB each); the pairs of a video come in
#: frame order, so a window of the overlap's size is read from the database once.
DESCRIPTOR_CACHE = 16


def _augmented(descriptors: np.ndarray, side: int) -> np.ndarray:
    """``[d, |d|^2, 1]`` (``side`` 0) or ``[-2d, 1, |d|^2]`` (``side`` 1) as float32: their dot product is the
    squared L2 distance."""
    d = descriptors.astype(np.float32)
    norm = np.einsum("ij,ij->i", d, d)[:, None]
    one = np.ones_like(norm)
    return np.hstack([d, norm, one]) if side == 0 else np.hstack([-2 * d, one, norm])


def _best_two(distances: np.ndarray):
    """Per row: the index and value of the smallest entry and the value of the second smallest (``inf`` with one
    column); a tie gives ``second == best``. ``distances`` is changed and restored."""
    rows = np.arange(len(distances))
    best = distances.argmin(axis=1)
    value = distances[rows, best]
    if distances.shape[1] == 1:
        return best, value, np.full(len(rows), np.inf, np.float32)
    distances[rows, best] = np.inf
    second = distances.min(axis=1)
    distances[rows, best] = value
    return best, value, second


def _passes(best: np.ndarray, second: np.ndarray, max_ratio: float, max_distance: float) -> np.ndarray:
    """COLMAP's tests on squared distances, in float32 as COLMAP does them: ``best <= (512 max_distance)^2`` and
    ``sqrt(best) < max_ratio sqrt(second)`` (a tie, ``best == second``, fails)."""
    f32 = np.float32
    limit = f32(SIFT_SQUARED_NORM) * f32(max_distance) * f32(max_distance)
    return (best <= limit) & (np.sqrt(best) < f32(max_ratio) * np.sqrt(second))


def match_descriptors(descriptors1: np.ndarray, descriptors2: np.ndarray, max_ratio: float = MAX_RATIO,
                      max_distance: float = MAX_DISTANCE, block_elements: int = BLOCK_ELEMENTS) -> np.ndarray:
    """Exact mutual nearest neighbours of two images' SIFT descriptors under COLMAP's matching rule (module
    docstring): ``i`` in image 1 and ``j`` in image 2 match when ``j`` is the nearest neighbour of ``i`` and ``i``
    that of ``j`` (squared L2 distance), each passing the distance limit and the ratio test against its own second
    nearest neighbour.

    Args:
        descriptors1: ``(N1, 128)`` uint8 (COLMAP's SIFT layout, as :func:`raxel_core.pose.sfm.sift_features`).
        descriptors2: ``(N2, 128)`` uint8.
        max_ratio: Lowe's ratio (COLMAP's default 0.8).
        max_distance: largest distance as a fraction of the descriptor norm 512 (COLMAP's default 0.7).
        block_elements: distances held at once (float32); a pair with more is computed in blocks of rows, with the
            same result (each distance is exact).

    Returns:
        ``(M, 2)`` uint32 ``[index in 1, index in 2]``, sorted by the first (COLMAP's order of ``FeatureMatches``).

    Raises:
        ValueError: descriptors that are not uint8 with 128 columns (the exactness needs both).
    """
    for name, d in (("descriptors1", descriptors1), ("descriptors2", descriptors2)):
        if d.dtype != np.uint8 or d.ndim != 2 or d.shape[1] != 128:
            raise ValueError(f"{name} must be (N, 128) uint8 SIFT descriptors; got {d.shape} {d.dtype}")
    n1, n2 = len(descriptors1), len(descriptors2)
    none = np.zeros((0, 2), np.uint32)
    if n1 == 0 or n2 == 0:
        return none
    a, b = _augmented(descriptors1, 0), _augmented(descriptors2, 1)
    rows_per_block = max(1, int(block_elements) // n2)
    whole = rows_per_block >= n1
    j_best, d_best, d_second = [], [], []
    for start in range(0, n1, rows_per_block):
        distances = a[start:start + rows_per_block] @ b.T        # exact squared distances
        best, value, second = _best_two(distances)
        j_best.append(best), d_best.append(value), d_second.append(second)
    j_best, d_best, d_second = (np.concatenate(x) for x in (j_best, d_best, d_second))
    i1 = np.nonzero(_passes(d_best, d_second, max_ratio, max_distance))[0]
    if len(i1) == 0:
        return none
    j = j_best[i1]
    columns, which = np.unique(j, return_inverse=True)
    # the cross-check: nearest neighbour in image 1 of each column that a row chose, with its ratio test
    if whole:
        by_column = [np.ascontiguousarray(distances[:, columns].T)]
    else:
        per_block = max(1, int(block_elements) // n1)
        by_column = [b[columns[s:s + per_block]] @ a.T for s in range(0, len(columns), per_block)]
    i_back, c_best, c_second = (np.concatenate(x) for x in zip(*(_best_two(c) for c in by_column), strict=True))
    mutual = (i_back[which] == i1) & _passes(c_best, c_second, max_ratio, max_distance)[which]
    return np.stack([i1[mutual], j[mutual]], axis=1).astype(np.uint32)


def _match_pairs(database: Path, names: list[tuple[str, str]]) -> None:
    """Match the named image pairs (:func:`match_descriptors`) and write the matches into the database (no
    verification). The descriptors of the last few images are kept in memory (the pairs of a video come in
    frame order)."""
    import pycolmap

    with pycolmap.Database.open(str(database)) as db:
        ids = {im.name: im.image_id for im in db.read_all_images()}
        recent: dict[str, np.ndarray] = {}

        def descriptors(name: str) -> np.ndarray:
            if name not in recent:
                if len(recent) >= DESCRIPTOR_CACHE:
                    del recent[next(iter(recent))]
                recent[name] = np.asarray(db.read_descriptors(ids[name]).data, dtype=np.uint8)
            return recent[name]

        for name1, name2 in names:
            db.write_matches(ids[name1], ids[name2], match_descriptors(descriptors(name1), descriptors(name2)))


def match_and_verify(database: Path, pairs: list[tuple[str, str]], verification,
                     workers: int | None = None) -> None:
    """Match the named image pairs (:func:`match_descriptors`, exact) and verify them with COLMAP (module
    docstring).

    Args:
        database: COLMAP database with the images' keypoints and descriptors; matches and two-view
            geometries are written into it.
        pairs: ``(name_a, name_b)`` image names.
        verification: ``pycolmap.TwoViewGeometryOptions`` (seed it: ``sfm.seed_options``).
        workers: threads of the verification (``None``: one per core). The matching's matrix products run on
            NumPy's BLAS threads (``OPENBLAS_NUM_THREADS``); its result does not depend on them.

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
