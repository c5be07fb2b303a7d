"""Sequential matching (raxel_core.pose.matching: exact nearest neighbours, then COLMAP's verification on every
core) on a real RealEstate10K clip: the matching rule against a plain integer brute force and against COLMAP's
own (approximate) matcher, the same pairs as COLMAP's sequential pairing, and the same verified geometry byte for
byte with 1 and 2 workers as one COLMAP thread gives. Real data from ``../shared/data`` (skipped with the reason
where absent)."""
from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
from shared_data import DATA

from raxel_core.pose.estimate import stream_frames
from raxel_core.pose.features import FeatureStream
from raxel_core.pose.matching import MAX_DISTANCE, MAX_RATIO, match_and_verify, match_descriptors, sequential_pairs
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


def _descriptors(database) -> list[np.ndarray]:
    import pycolmap

    with pycolmap.Database.open(str(database)) as db:
        images = sorted(db.read_all_images(), key=lambda im: im.name)
        return [np.asarray(db.read_descriptors(im.image_id).data) for im in images]


def _brute_force(d1: np.ndarray, d2: np.ndarray) -> np.ndarray:
    """The oracle: COLMAP's rule (``FindBestMatchesOneWayIndex`` and the cross-check of ``FindBestMatchesIndex``
    in colmap/feature/sift.cc) on squared distances in int64, each row sorted in full."""
    f32 = np.float32
    dist = ((d1[:, None, :].astype(np.int64) - d2[None, :, :].astype(np.int64)) ** 2).sum(axis=2)

    def one_way(d):
        out = np.full(len(d), -1)
        for i, row in enumerate(d):
            order = np.argsort(row, kind="stable")
            best = f32(row[order[0]])
            second = f32(row[order[1]]) if len(row) > 1 else f32(np.inf)
            if best <= f32(512 * 512) * f32(0.7) * f32(0.7) and not np.sqrt(best) >= f32(0.8) * np.sqrt(second):
                out[i] = order[0]
        return out

    m12, m21 = one_way(dist), one_way(dist.T)
    return np.array([(i, j) for i, j in enumerate(m12) if j >= 0 and m21[j] == i], np.uint32).reshape(-1, 2)


def test_the_matching_defaults_are_colmaps():
    import pycolmap

    sift = pycolmap.FeatureMatchingOptions().sift
    assert (MAX_RATIO, MAX_DISTANCE, sift.cross_check) == (pytest.approx(sift.max_ratio),
                                                           pytest.approx(sift.max_distance), True)


@pytest.mark.shared_data(CLIP)
def test_the_matches_are_colmaps_rule_on_exact_distances_whatever_the_block_size(tmp_path):
    database, n = _database(tmp_path, "exact")
    d = _descriptors(database)
    assert min(len(x) for x in d) > 500                        # real frames of 576x320, many features
    for i, j in [(0, 1), (0, 5), (3, 11)]:                     # near and far pairs
        expected = _brute_force(d[i], d[j])
        assert len(expected) > 30
        for block in (1 << 24, 10_000, 1):                     # whole; blocks of rows; one row (or column) at once
            assert np.array_equal(match_descriptors(d[i], d[j], block_elements=block), expected), (i, j, block)


def test_ties_fail_the_ratio_test_and_odd_sizes_match():
    rng = np.random.default_rng(0)
    d1 = rng.integers(0, 60, (40, 128)).astype(np.uint8)
    d2 = d1[rng.permutation(40)].copy()
    d2[7] = d2[8]                                              # two equal descriptors in image 2: a tie for both rows
    got = match_descriptors(d1, d2)
    assert np.array_equal(got, _brute_force(d1, d2))
    tied = np.nonzero((d1 == d2[7]).all(axis=1))[0]
    assert len(tied) == 1 and tied[0] not in got[:, 0]        # its nearest neighbours tie: no match
    assert len(got) == 38                                      # every other descriptor finds its copy
    assert np.array_equal(match_descriptors(d1[:1], d2), _brute_force(d1[:1], d2))   # one row: no cross-check tie
    assert np.array_equal(match_descriptors(d1, d2[:1]), _brute_force(d1, d2[:1]))   # one column: no second
    assert match_descriptors(d1[:0], d2).shape == (0, 2)
    with pytest.raises(ValueError, match=r"descriptors2 must be \(N, 128\) uint8"):
        match_descriptors(d1, d2.astype(np.float32))


@pytest.mark.shared_data(CLIP)
def test_the_matches_agree_with_colmaps_approximate_matcher_and_not_with_the_thread_count(tmp_path):
    """COLMAP's CPU matcher searches an approximate FAISS index: the two agree on all but a few matches."""
    import subprocess
    import sys

    import pycolmap

    reference, n = _database(tmp_path, "colmap")
    pairing = pycolmap.SequentialPairingOptions()
    pairing.overlap, pairing.quadratic_overlap, pairing.loop_detection = 5, False, False
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads, matching.skip_geometric_verification = 1, True
    pycolmap.match_sequential(reference, matching_options=matching, pairing_options=pairing)
    d = _descriptors(reference)
    ours, differ, total = {}, 0, 0
    with pycolmap.Database.open(str(reference)) as db:
        ids = {im.name: im.image_id for im in db.read_all_images()}
        for i, j in sequential_pairs(n, 5):
            colmap = {tuple(m) for m in np.asarray(db.read_matches(ids[image_name(i)], ids[image_name(j)])).tolist()}
            ours[(i, j)] = match_descriptors(d[i], d[j])
            differ += len(colmap ^ {tuple(m) for m in ours[(i, j)].tolist()})
            total += len(colmap)
    assert total > 5000 and differ <= 0.02 * total, (differ, total)
    # exact distances: the same matches with NumPy's BLAS on one thread (another process)
    np.save(tmp_path / "d0.npy", d[0]), np.save(tmp_path / "d4.npy", d[4])
    code = ("import numpy as np, sys; from raxel_core.pose.matching import match_descriptors; "
            "np.save(sys.argv[1] + '/m.npy', match_descriptors(np.load(sys.argv[1] + '/d0.npy'), "
            "np.load(sys.argv[1] + '/d4.npy')))")
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True,
                   env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    assert np.array_equal(np.load(tmp_path / "m.npy"), ours[(0, 4)])


@pytest.mark.shared_data(CLIP)
def test_two_workers_verify_the_pairs_one_colmap_thread_verifies(tmp_path):
    """The oracle is COLMAP's own verification on one thread, of the same matches."""
    import pycolmap

    names = None
    digests = []
    for workers in (None, 1, 2):
        database, n = _database(tmp_path, f"workers{workers}")
        names = [(image_name(i), image_name(j)) for i, j in sequential_pairs(n, 5)]
        if workers is None:                                    # the oracle: COLMAP's verifier on one thread
            from raxel_core.pose.matching import _match_pairs

            _match_pairs(database, names)
            verifier = pycolmap.GeometricVerifierOptions()
            verifier.num_threads = 1
            pycolmap.geometric_verification(database, verifier_options=verifier,
                                            two_view_geometry_options=_verification())
        else:
            match_and_verify(database, names, _verification(), workers=workers)
        digests.append(_geometry_digest(database))
        left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(f"workers{workers}"))
        assert left == [f"workers{workers}.db"]                   # nothing left beside the database
    assert digests[0][0] >= 40                                 # 12 frames, overlap 5: 45 pairs, nearly all verified
    assert digests[1] == digests[0] and digests[2] == digests[0]


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
