"""SIFT features of a stream of frames, straight into the COLMAP database (step 2 of
:func:`raxel_core.pose.estimate.estimate_trajectory`).

Each frame is handed to :class:`FeatureStream` as it is decoded; its SIFT features
(:func:`raxel_core.pose.sfm.sift_features`: OpenCV's SIFT in COLMAP's layout, Lowe, IJCV 2004) are computed
on worker threads while the next frames are decoded and resampled, and written into the database in
frame order. Nothing goes through image files: the camera, rig, frame and image rows are the ones
``pycolmap.import_images`` writes for PNG files named :func:`raxel_core.pose.sfm.image_name` (one shared
camera, ``CameraMode.SINGLE``; checked row for row in ``tests/test_pose_features.py``), and the grey image
SIFT sees is the one that reading such a PNG back in grey gave (:func:`gray_image`), so the features are
the same bytes as when the frames were written to PNG and read back (the pipeline before; measured on the
15 RealEstate10K clips: identical cameras). The mappers need no image file either: the global mapper's
colour extraction finds none and leaves the points' colours unset (the colours are not used).
"""
from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .sfm import image_name, sift_features, sift_workers_that_fit

#: libpng's RGB -> grey weights (``png_set_rgb_to_gray(png, 1, 0.299, 0.587)``, which OpenCV's PNG reader
#: calls for ``cv2.IMREAD_GRAYSCALE``) in libpng's 1/32768 fixed point: red ``floor(0.299 * 32768)``, green
#: ``floor(0.587 * 32768)``, blue the rest; libpng truncates the weighted sum.
PNG_GRAY_WEIGHTS = (9797, 19234, 3737)
#: COLMAP's focal-length prior when none is given (``ImageReaderOptions.default_focal_length_factor``).
COLMAP_DEFAULT_FOCAL_FACTOR = 1.2
CAMERA_MODELS = ("SIMPLE_RADIAL", "PINHOLE")


def gray_image(rgb: np.ndarray) -> np.ndarray:
    """Grey ``(H, W)`` uint8 of an ``(H, W, 3)`` uint8 RGB image, exactly as writing it to PNG and reading it
    back with ``cv2.imread(path, cv2.IMREAD_GRAYSCALE)`` gives it (libpng's conversion,
    :data:`PNG_GRAY_WEIGHTS`: ``(9797 R + 19234 G + 3737 B) >> 15``; ``cv2.cvtColor`` rounds instead and
    differs by 1 on about 40 % of the pixels). Float32 arithmetic is exact here (every sum is below 2^24)."""
    weights = np.asarray(PNG_GRAY_WEIGHTS, np.float32) / np.float32(32768)
    return np.floor(rgb.astype(np.float32) @ weights).astype(np.uint8)


def work_focal(focal: float, input_size: tuple[int, int], size: tuple[int, int]) -> float:
    """A focal length in pixels of frames of ``input_size`` ``(H, W)`` in pixels of the resampled frames of
    ``size`` (``fx`` scales with the width)."""
    return float(focal) / (input_size[1] / size[1])


def colmap_camera(size: tuple[int, int], camera_model: str, focal: float | None):
    """The shared camera ``pycolmap.import_images`` creates for images of ``size`` ``(H, W)``: ``camera_model``
    (``SIMPLE_RADIAL`` or ``PINHOLE``), principal point at the centre, no distortion; the focal length
    ``focal`` (pixels; the camera's prior, ``has_prior_focal_length``) or COLMAP's default
    :data:`COLMAP_DEFAULT_FOCAL_FACTOR` ``x max(H, W)`` (not a prior).

    Raises:
        ValueError: another camera model.
    """
    import pycolmap

    if camera_model not in CAMERA_MODELS:
        raise ValueError(f"camera_model must be 'SIMPLE_RADIAL' or 'PINHOLE'; got {camera_model!r}")
    h, w = size
    f = float(focal) if focal is not None else COLMAP_DEFAULT_FOCAL_FACTOR * max(w, h)
    camera = pycolmap.Camera.create_from_model_name(1, camera_model, f, w, h)
    camera.has_prior_focal_length = focal is not None
    return camera


def _features(frame: np.ndarray, keep: np.ndarray | None, max_num_features: int):
    return sift_features(gray_image(frame), max_num_features, keep)


class FeatureStream:
    """Frames in, in order, their SIFT features into a new COLMAP database (module docstring).

    Use as a context manager: :meth:`begin` once with the frame size, :meth:`add` per frame, and leaving the
    ``with`` block writes the last features (on an error it waits for the workers and writes nothing more).

    Args:
        database: path of the COLMAP database to create (must not hold images yet).
        max_num_features: SIFT features per frame (the strongest kept).
        camera_model: ``"SIMPLE_RADIAL"`` (one focal length, one radial term) or ``"PINHOLE"`` (``fx``, ``fy``).
        focal: known focal length in pixels **of the input frames** (the prior of a ``SIMPLE_RADIAL`` camera,
            converted with :func:`work_focal`), or ``None``.
        num_threads: frames run through SIFT at once (``None``: one per core), each on one OpenCV thread
            (OpenCV's thread setting is restored at the end), capped by the memory limit
            (:func:`raxel_core.pose.sfm.sift_workers_that_fit`). Frames in parallel use two cores about 1.6
            times better than OpenCV's threads inside one frame; the features do not depend on it. At most
            ``2 x`` that many frames wait in memory.
    """

    def __init__(self, database: Path, max_num_features: int, camera_model: str = "SIMPLE_RADIAL",
                 focal: float | None = None, num_threads: int | None = None):
        if camera_model not in CAMERA_MODELS:
            raise ValueError(f"camera_model must be 'SIMPLE_RADIAL' or 'PINHOLE'; got {camera_model!r}")
        self.database, self.max_num_features = Path(database), int(max_num_features)
        self.camera_model, self.focal, self.num_threads = camera_model, focal, num_threads
        self.size, self.count = None, 0
        self._db = self._pool = self._threads_before = None
        self._pending: deque = deque()

    def __enter__(self):
        return self

    def begin(self, input_size: tuple[int, int], size: tuple[int, int]) -> None:
        """Open the database and write the shared camera and its rig for frames of ``input_size`` ``(H, W)``
        resampled to ``size`` ``(H', W')`` (the size features are extracted at)."""
        import cv2
        import pycolmap

        focal = (work_focal(self.focal, input_size, size)
                 if self.focal is not None and self.camera_model == "SIMPLE_RADIAL" else None)
        self.size = tuple(size)
        self._db = pycolmap.Database.open(str(self.database))
        camera = colmap_camera(size, self.camera_model, focal)
        self._camera_id = self._db.write_camera(camera)
        rig = pycolmap.Rig()
        rig.add_ref_sensor(camera.sensor_id)
        self._rig_id = self._db.write_rig(rig)
        workers = max(1, int(self.num_threads) if self.num_threads is not None else (os.cpu_count() or 1))
        self.workers = min(workers, sift_workers_that_fit(self.size))
        self._threads_before = cv2.getNumThreads()
        cv2.setNumThreads(1)
        self._pool = ThreadPoolExecutor(self.workers)

    def add(self, k: int, frame: np.ndarray, keep: np.ndarray | None = None) -> None:
        """Frame ``k`` (``(H', W', 3)`` uint8 RGB at the size given to :meth:`begin`; frames come in order
        0, 1, ...) with its optional feature mask ``keep`` (``(H', W')`` uint8, 0 = no features there):
        its image row now, its features once its worker is done."""
        import pycolmap

        if k != self.count or frame.shape[:2] != self.size:
            raise ValueError(f"FeatureStream.add: expected frame {self.count} of size {self.size}; "
                             f"got frame {k} of {frame.shape[:2]}")
        image = pycolmap.Image(name=image_name(k), camera_id=self._camera_id)
        image.image_id = self._db.write_image(image)
        frame_row = pycolmap.Frame()
        frame_row.rig_id = self._rig_id
        frame_row.add_data_id(image.data_id)
        self._db.write_frame(frame_row)
        self._pending.append((image.image_id, self._pool.submit(_features, frame, keep, self.max_num_features)))
        self.count += 1
        while len(self._pending) >= 2 * self.workers:  # a bounded queue: memory stays flat on long videos
            self._write_oldest()

    def _write_oldest(self) -> None:
        import pycolmap

        image_id, future = self._pending.popleft()
        keypoints, descriptors = future.result()
        self._db.write_keypoints(image_id, keypoints)
        self._db.write_descriptors(image_id, pycolmap.FeatureDescriptors(
            type=pycolmap.FeatureExtractorType.SIFT, data=descriptors))

    def __exit__(self, exc_type, exc, tb):
        import cv2

        try:
            if exc_type is None:
                while self._pending:
                    self._write_oldest()
        finally:
            for _, future in self._pending:
                future.cancel()
            self._pending.clear()
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            if self._db is not None:
                self._db.close()
            if self._threads_before is not None:
                cv2.setNumThreads(self._threads_before)
        return False
