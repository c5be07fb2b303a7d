"""Sequential matching (raxel_core.pose.matching: the matcher on one thread, the verification on every core)
against COLMAP's own sequential matching on one thread, on a real RealEstate10K clip: the same pairs, and the
same verified geometry byte for byte with 1 and 2 workers. Real data from ``../shared/data`` (skipped with the
reason where absent)."""
from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
from shared_data import DATA

from raxel_core.pose.estimate import stream_frames
from raxel_core.pose.features import FeatureStream
from raxel_core.pose.matching import match_and_verify, sequential_pairs
from raxel_core.pose.sfm import image_name, seed_options
from raxel_core.video_io import read_video_frames

CLIP = "re10k/videos/0bf152ef84195293_svdxt.mp4"  # 25 frames at 576x320
FRAMES = 12


def _database(tmp_path, name: str):
    database = tmp_path / f"{name}.db"
    with FeatureStream(database, 8192) as features:
        n, _, _ = stream_frames(read_video_frames(DATA / CLIP)[:FRAMES], features, None)
    return database, n


def _verification(seed: int = 0):
    import pycolmap

    return seed_options(pycolmap.TwoViewGeometryOptions(), seed)


def _geometry_digest(database) -> tuple[int, str]:
    """Number of verified pairs and a digest of every pair's id, configuration, inlier matches and F."""
    import pycolmap

    digest = hashlib.sha1()
    with pycolmap.Database.open(str(database)) as db:
        pair_ids, geometries = db.read_two_view_geometries()
    for pair_id, geometry in sorted(zip(pair_ids, geometries, strict=True), key=lambda x: x[0]):
        digest.update(str(pair_id).encode() + str(int(geometry.config)).encode())
        digest.update(np.ascontiguousarray(geometry.inlier_matches).tobytes())
        if geometry.F is not None:  # (an object array of None would hash the address of None)
            digest.update(np.ascontiguousarray(geometry.F, dtype=np.float64).tobytes())
    return len(pair_ids), digest.hexdigest()


@pytest.mark.shared_data(CLIP)
@pytest.mark.parametrize("quadratic", [False, True])
def test_sequential_pairs_are_the_pairs_colmap_matches(tmp_path, quadratic):
    import pycolmap

    database, n = _database(tmp_path, "colmap")
    pairing = pycolmap.SequentialPairingOptions()
    pairing.overlap, pairing.quadratic_overlap, pairing.loop_detection = 4, quadratic, False
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads, matching.skip_geometric_verification = 1, True
    pycolmap.match_sequential(database, matching_options=matching, pairing_options=pairing)
    with pycolmap.Database.open(str(database)) as db:
        ids = {im.image_id: int(im.name.split(".")[0]) for im in db.read_all_images()}
        pair_ids, _ = db.read_all_matches()
    colmap = sorted(tuple(sorted(ids[i] for i in pycolmap.pair_id_to_image_pair(p))) for p in pair_ids)
    assert colmap == sequential_pairs(n, 4, quadratic)


@pytest.mark.shared_data(CLIP)
def test_two_workers_verify_the_pairs_one_colmap_thread_verifies(tmp_path):
    """The oracle is COLMAP's own ``match_sequential`` (matching and verification) on one thread."""
    import pycolmap

    reference, n = _database(tmp_path, "reference")
    pairing = pycolmap.SequentialPairingOptions()
    pairing.overlap, pairing.quadratic_overlap, pairing.loop_detection = 5, False, False
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = 1
    pycolmap.match_sequential(reference, matching_options=matching, pairing_options=pairing,
                              verification_options=_verification())
    expected = _geometry_digest(reference)
    assert expected[0] >= 40                                    # 12 frames, overlap 5: 45 pairs, nearly all verified
    names = [(image_name(i), image_name(j)) for i, j in sequential_pairs(n, 5)]
    for workers in (1, 2):
        database, _ = _database(tmp_path, f"workers{workers}")
        match_and_verify(database, names, _verification(), workers=workers)
        assert _geometry_digest(database) == expected, f"{workers} workers"
        left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(f"workers{workers}"))
        assert left == [f"workers{workers}.db"]                   # the copies and pair lists are gone


@pytest.mark.parametrize("overlap", [0, -1, 2.5])
def test_an_overlap_below_one_is_refused(overlap):
    with pytest.raises(ValueError, match="overlap must be a whole number >= 1"):
        sequential_pairs(10, overlap)


@pytest.mark.shared_data(CLIP)
def test_the_parallax_test_measures_the_same_on_one_and_on_two_threads(tmp_path):
    """parallax_statistics fits each pair's homography on a thread pool; the statistics, in pair order, do not
    depend on the thread count (each findHomography RANSAC starts from OpenCV's fixed seed)."""
    from raxel_core.pose.parallax import parallax_statistics
    from raxel_core.pose.sfm import read_pairs

    database, n = _database(tmp_path, "parallax")
    match_and_verify(database, [(image_name(i), image_name(j)) for i, j in sequential_pairs(n, 5)], _verification())
    pairs = read_pairs(database)
    one, two = (parallax_statistics(pairs, (320, 576), workers) for workers in (1, 2))
    assert len(one) == len(pairs) >= 40
    assert [(s["i"], s["j"]) for s in two] == [(i, j) for i, j, _, _ in pairs]
    for a, b in zip(one, two, strict=True):
        assert a["h_fraction"] == b["h_fraction"] and np.array_equal(a["H"], b["H"])
        assert np.array_equal(a["inliers"], b["inliers"]) and np.array_equal(a["stationary"], b["stationary"])
    assert 0.05 < np.median([s["h_fraction"] for s in one]) < 0.99    # real pairs, neither all nor none explained


def test_pycolmap_openmp_runs_on_one_thread_once_raxel_pose_is_imported_and_torch_keeps_its_threads():
    # raxel_core.pose loads pycolmap with OpenMP on one thread (FAISS and OpenBLAS in the calling thread only;
    # faster on this machine), and leaves torch's threads alone
    import subprocess
    import sys

    code = ("import torch; n = torch.get_num_threads(); import raxel_core.pose; "
            "from raxel_core.pose.matching import colmap_openmp_threads; "
            "print(colmap_openmp_threads(), torch.get_num_threads() == n)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1", "True"], out
    if (os.cpu_count() or 1) > 1:  # pycolmap loaded first keeps OpenMP on every core
        code = "import pycolmap, raxel_core.pose.matching as m; print(m.colmap_openmp_threads())"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
        assert int(out[-1]) > 1, out
