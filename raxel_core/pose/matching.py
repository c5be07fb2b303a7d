"""Sequential matching of video frames on every core, with the same result whatever the thread count.

Step 3 of :func:`raxel_core.pose.estimate.estimate_trajectory`. COLMAP does the work (Schonberger & Frahm,
CVPR 2016): its SIFT matcher (``pycolmap.match_image_pairs``, ratio test and cross-check) and its geometric
verification (``pycolmap.geometric_verification``: fundamental / essential / homography RANSAC, seeded).
This module only splits the work so that both cores are used without changing any result:

* COLMAP's CPU matcher returns different matches from run to run with more than one thread (measured with
  pycolmap 4.2: 3 runs of ``match_sequential`` with 2 threads on a 25-frame RealEstate10K clip gave 3
  different sets of verified pairs). On one thread every pair's matches are repeatable and do not depend
  on the other pairs. So the pairs are dealt round-robin to ``workers`` groups; each group is matched on
  one thread, in its own copy of the database, all groups at once (pycolmap releases the GIL); the
  matches are then gathered into the database.
* The geometric verification runs once on all the stored matches with ``workers`` threads: its RANSAC is
  seeded per pair, so its result does not depend on the threads either.
* COLMAP's matcher searches with FAISS, which runs OpenMP regions on every core by default; with two groups
  matching at once that gave different matches now and then (2 of 60 repeats on a 12-frame RealEstate10K
  clip, idle machine; 0 of 100 with OpenMP on one thread). So pycolmap is imported with ``OMP_NUM_THREADS=1``
  (:func:`load_pycolmap`, done by ``raxel_core.pose``; torch's own OpenMP is not touched), and where pycolmap's
  OpenMP still has more threads (pycolmap was imported before ``raxel_core.pose``) the pairs are matched in
  one group (the same result, slower).

Checked: on a 25-frame 576x320 RealEstate10K clip the verified pairs (inlier matches, configuration and
fundamental matrix of all 195) are the same bytes with 1 and 2 workers and as ``pycolmap.match_sequential``
on one thread gave (``tests/test_pose_matching.py`` checks 1 against 2 workers).
"""
from __future__ import annotations

import functools
import glob
import os
import shutil
import sys
import threading
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


def _match_group(database: Path, pairs_file: Path, names: list[str], errors: list) -> None:
    """Match the image pairs listed in ``pairs_file`` on one thread, matches only (no verification)."""
    import pycolmap

    try:
        pairs_file.write_text("".join(f"{a} {b}\n" for a, b in names))
        matching = pycolmap.FeatureMatchingOptions()
        matching.num_threads = 1
        matching.skip_geometric_verification = True
        pairing = pycolmap.ImportedPairingOptions()
        pairing.match_list_path = str(pairs_file)
        pycolmap.match_image_pairs(database, matching_options=matching, pairing_options=pairing)
    except Exception as err:  # noqa: BLE001 - re-raised in the calling thread
        errors.append(err)


def match_and_verify(database: Path, pairs: list[tuple[str, str]], verification,
                     workers: int | None = None) -> None:
    """Match the named image pairs with COLMAP's SIFT matcher and verify them (module docstring).

    Args:
        database: COLMAP database with the images' keypoints and descriptors; matches and two-view
            geometries are written into it.
        pairs: ``(name_a, name_b)`` image names.
        verification: ``pycolmap.TwoViewGeometryOptions`` (seed it: ``sfm.seed_options``).
        workers: groups matched at once and verification threads (``None``: one per core). The matching
            uses one group whatever ``workers`` says unless :func:`colmap_openmp_threads` is 1 (module docstring).

    Raises:
        whatever pycolmap raised in a matching thread (re-raised here, after every thread ended).
    """
    import pycolmap

    database = Path(database)
    workers = max(1, min(int(workers or os.cpu_count() or 1), len(pairs) or 1))
    groups = [pairs[k::workers] for k in range(workers)] if colmap_openmp_threads() == 1 else [pairs]
    databases = [database] + [database.with_name(f"{database.stem}_matching{k}.db") for k in range(1, len(groups))]
    errors: list = []
    try:
        for copy in databases[1:]:
            shutil.copyfile(database, copy)
        threads = [threading.Thread(target=_match_group, args=(db, db.with_suffix(".pairs.txt"), group, errors))
                   for db, group in zip(databases, groups, strict=True)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        with pycolmap.Database.open(str(database)) as target:
            for copy in databases[1:]:
                with pycolmap.Database.open(str(copy)) as source:
                    pair_ids, matches = source.read_all_matches()
                    for pair_id, m in zip(pair_ids, matches, strict=True):
                        target.write_matches(*pycolmap.pair_id_to_image_pair(pair_id), m)
    finally:
        for db in databases:
            db.with_suffix(".pairs.txt").unlink(missing_ok=True)
        for copy in databases[1:]:
            copy.unlink(missing_ok=True)
    verifier = pycolmap.GeometricVerifierOptions()
    verifier.num_threads = workers
    pycolmap.geometric_verification(database, verifier_options=verifier, two_view_geometry_options=verification)
