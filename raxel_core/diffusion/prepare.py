"""Your videos -> a training folder: cameras estimated by SfM as pseudo ground truth (:func:`prepare_dataset`),
one video at a time, several at once in worker processes, or on a Ray cluster.

The folder it writes has the RealEstate10K layout (``videos/<stem>.mp4`` + ``poses/<stem>.txt``)
that :class:`raxel_core.diffusion.datasets.RealEstate10KClips` reads.

Each video is prepared by :func:`prepare_video` (decode, estimate, re-encode), which returns the two
files' contents instead of writing them; the caller (the one process that runs :func:`prepare_dataset`)
writes every file, each atomically, so workers never race on the output folder, and a worker on
another machine (Ray) needs no shared file system: its video goes to it as bytes and the results come
back the same way. A video that fails is reported with its reason and the others go on.
"""
from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..formats.text_files import write_bytes_atomic, write_text_atomic
from .datasets import VIDEO_SUFFIXES

#: Environment variables that size the thread pools of the numeric libraries (set in worker processes).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: Shown when ``--ray-address`` is used without Ray installed.
RAY_MISSING = 'the Ray backend needs Ray, which is not installed; install it with: pip install "raxel-nodes[ray]"'


@dataclass
class PrepareReport:
    """What :func:`prepare_dataset` did: clip stems written (in file name order), ``{file name: reason}``
    of the videos that failed, and one record per video (``name``, ``status`` ``"written"`` /
    ``"failed"``, ``frames``, ``seconds``, ``reason``, ``process``: the id of the process that ran it)."""

    written: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    videos: list[dict] = field(default_factory=list)
    out_dir: Path | None = None

    @property
    def skipped(self) -> dict[str, str]:
        """The failed videos (the older name of :attr:`failed`)."""
        return self.failed


def worker_threads(workers: int, cpus: int | None = None) -> int:
    """Threads each of ``workers`` parallel videos may use on a machine of ``cpus`` cores (default: the
    cores this process may run on): ``max(1, cpus // workers)``."""
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, int(cpus) // max(1, int(workers)))


def limit_threads(num_threads: int) -> None:
    """Cap the thread pools this process starts from now on: OpenCV's, PyTorch's and (through
    :data:`THREAD_VARIABLES`) OpenMP / BLAS libraries loaded later; pycolmap's feature extraction gets
    ``num_threads`` through :func:`raxel_core.pose.estimate_trajectory`."""
    import cv2
    import torch

    for name in THREAD_VARIABLES:
        os.environ[name] = str(int(num_threads))
    cv2.setNumThreads(int(num_threads))
    torch.set_num_threads(int(num_threads))


def prepare_video(source: str | Path | bytes, name: str, max_frames: int | None = None,
                  max_image_size: int | None = 640, num_threads: int | None = None, **estimate_options) -> dict:
    """Prepare one video: decode it, estimate its cameras (:func:`raxel_core.pose.estimate_trajectory`,
    pycolmap), re-encode the frames (H.264, cropped to even sides at the right / bottom so ``K`` is
    unchanged; frame ``k`` of the file is pose line ``k + 1``) and write the poses as RealEstate10K text
    (intrinsics normalised by the frame size). The frames are decoded as a stream, twice, never held whole; the
    outputs are returned as bytes. Runs in a worker process or a Ray task.

    Args:
        source: the video file, or its bytes (a Ray worker on another machine).
        name: the file name (for the messages; ``Path(name).stem`` names the clip).
        max_frames, max_image_size: as :func:`prepare_dataset`.
        num_threads: cap on this process's threads (:func:`limit_threads`), or ``None``.
        **estimate_options: passed to ``estimate_trajectory``.

    Returns:
        dict: ``name``, ``ok`` (bool), ``reason`` (why it failed, else ``""``), ``frames``, ``seconds``
        (wall clock), ``process`` (the id of the process that ran it), and when ``ok`` ``video`` (mp4
        bytes) and ``poses`` (text). Never raises for a bad
        video (``ValueError`` / ``RuntimeError`` / decoding errors become ``ok=False``).
    """
    import tempfile

    from ..formats import write_trajectory
    from ..pose import estimate_trajectory
    from ..video_io import video_fps, write_video

    start = time.perf_counter()
    out = {"name": name, "ok": False, "reason": "", "frames": 0, "seconds": 0.0, "process": os.getpid()}
    if num_threads is not None:
        limit_threads(num_threads)
        estimate_options.setdefault("num_threads", int(num_threads))
    try:
        with tempfile.TemporaryDirectory(prefix="raxel_prepare_") as scratch:
            scratch = Path(scratch)
            if isinstance(source, (bytes, bytearray)):
                path = scratch / Path(name).name
                path.write_bytes(source)
            else:
                path = Path(source)
            fps = video_fps(path)
            # decoded twice as a stream (poses, then the re-encode), never held whole: memory stays flat on
            # long videos (as raxel pose); H.264 needs even sizes: a right / bottom crop leaves K unchanged
            estimate = estimate_trajectory(even_frames(path, max_frames), fps=fps, max_image_size=max_image_size,
                                           **estimate_options)
            out["frames"] = estimate.num_frames
            if not estimate.complete:
                raise ValueError(f"frames {estimate.unregistered} got no pose ({estimate.method}); "
                                 + " ".join(estimate.messages[-2:]))
            write_video(scratch / "clip.mp4", even_frames(path, max_frames), fps or 30.0)
            write_trajectory(estimate.cameras, scratch / "poses.txt", format="realestate10k")
            out.update(ok=True, video=(scratch / "clip.mp4").read_bytes(), poses=(scratch / "poses.txt").read_text())
    except (ValueError, RuntimeError, OSError) as err:
        out["reason"] = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    except Exception as err:  # noqa: BLE001 - a library's own error on one video must not stop the others
        out["reason"] = f"{type(err).__name__}: {err}".strip().splitlines()[0]
    if isinstance(source, (bytes, bytearray)):           # name the video, not the worker's scratch copy
        out["reason"] = re.sub(r"\S*raxel_prepare_[^/\s]*/", "", out["reason"])
    out["seconds"] = time.perf_counter() - start
    return out


def even_frames(path: Path, max_frames: int | None):
    """The frames of the video at ``path`` (:func:`raxel_core.video_io.iter_frames`, up to ``max_frames``), each
    cropped at the right / bottom to even sides (what H.264's yuv420p needs; the crop keeps ``K``): a generator of
    ``np.uint8 (H, W, 3)``."""
    from ..video_io import iter_frames

    for frame in iter_frames(path, max_frames=max_frames):
        yield np.ascontiguousarray(frame[: frame.shape[0] // 2 * 2, : frame.shape[1] // 2 * 2])


@contextmanager
def _thread_environment(num_threads: int):
    """:data:`THREAD_VARIABLES` set while worker processes start (a spawned process reads them when its
    libraries load), then restored."""
    old = {k: os.environ.get(k) for k in THREAD_VARIABLES}
    os.environ.update({k: str(num_threads) for k in THREAD_VARIABLES})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _failed(name: str, reason: str) -> dict:
    return {"name": name, "ok": False, "reason": reason, "frames": 0, "seconds": 0.0, "process": None}


def run_in_processes(videos: list[Path], workers: int, options: dict, should_stop=None):
    """Prepare ``videos`` in a pool of ``workers`` spawned processes (``concurrent.futures``), each capped
    at :func:`worker_threads` threads; yields each result (:func:`prepare_video`) as it finishes. When a
    worker process dies (out of memory, a crash in a native library) the videos it and the others were
    on are reported failed with that reason and the rest go on in a new pool."""
    import multiprocessing

    threads = worker_threads(workers)
    pending = list(videos)
    while pending:
        with _thread_environment(threads), ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            running = {}
            try:
                while pending or running:
                    while pending and len(running) < workers:
                        path = pending[0]
                        running[pool.submit(prepare_video, str(path), path.name, num_threads=threads,
                                            **options)] = path
                        pending.pop(0)
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        result = future.result()  # BrokenProcessPool: the video stays in `running`, reported below
                        del running[future]
                        yield result
                    if should_stop is not None and should_stop():
                        for future in running:
                            future.cancel()
                        raise InterruptedError("dataset preparation stopped")
            except BrokenProcessPool as err:
                for path in running.values():
                    yield _failed(path.name, f"the worker process died while on this video ({err or 'killed'}); "
                                  "out of memory? try fewer --workers or a smaller --max-image-size")


def run_on_ray(videos: list[Path], address: str, threads: int, options: dict, should_stop=None):
    """Prepare ``videos`` as Ray tasks (``ray.remote(num_cpus=threads)``) on the cluster at ``address``
    (``"auto"``: the running one; ``"local"``: a new one on this machine; ``ray://HOST:10001``: a
    remote cluster via Ray Client). Each video is sent as bytes and each result comes back as bytes, so
    the nodes share no file system; they need raxel-nodes installed (the same version). Yields each
    result as it finishes; a task that fails in Ray (a worker lost, a node gone) is a failed video.

    Raises:
        ValueError: Ray is not installed (:data:`RAY_MISSING`), or the cluster cannot be reached.
    """
    try:
        import ray
    except ImportError:
        raise ValueError(RAY_MISSING) from None
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, logging_level="ERROR", log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise ValueError(f"cannot connect to the Ray cluster at {address!r} ({err}); start one with "
                             "`ray start --head` and pass its address, or 'local' for a new one here") from err
    try:
        task = ray.remote(num_cpus=threads, max_retries=0)(prepare_video)
        # a window of tasks in flight, so that the driver never holds every video's bytes at once
        window = 2 * max(1, int(ray.cluster_resources().get("CPU", 1) // threads))
        pending, running = list(videos), {}
        while pending or running:
            while pending and len(running) < window:
                path = pending.pop(0)
                running[task.remote(path.read_bytes(), path.name, num_threads=threads, **options)] = path
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                path = running.pop(ref)
                try:
                    yield ray.get(ref)
                except Exception as err:  # noqa: BLE001 - Ray's task errors (worker crashed, node died)
                    yield _failed(path.name, f"the Ray task failed: {type(err).__name__}: "
                                  f"{str(err).strip().splitlines()[-1] if str(err).strip() else ''}")
            if should_stop is not None and should_stop():
                for ref in running:
                    ray.cancel(ref, force=True)
                raise InterruptedError("dataset preparation stopped")
    finally:
        if started_here:
            ray.shutdown()


def prepare_dataset(video_dir: str | Path, out_dir: str | Path, max_frames: int | None = None,
                    max_image_size: int | None = 640, progress: Callable[[int, int], None] | None = None,
                    should_stop: Callable[[], bool] | None = None, workers: int = 1,
                    ray_address: str | None = None, log: Callable[[str], None] | None = None,
                    **estimate_options) -> PrepareReport:
    """Turn a folder of videos into the RealEstate10K layout with SfM poses as pseudo ground truth.

    For each video file in ``video_dir`` (suffixes :data:`VIDEO_SUFFIXES`, sorted), :func:`prepare_video`
    estimates its cameras; when every frame is registered ``out_dir/videos/<stem>.mp4`` and
    ``out_dir/poses/<stem>.txt`` are written (each atomically: a temporary name, then renamed). A video
    that fails (unreadable, too few frames, not every frame registered, its worker died) is reported with
    the reason (``log``, the report, ``out_dir/prepare_report.json``) and the others go on. When no video
    is written nothing is created in ``out_dir`` (the reasons are in the returned report and ``log``).

    Args:
        video_dir: folder of videos.
        out_dir: output folder (created).
        max_frames: use at most this many frames of each video (from the start).
        max_image_size: feature extraction on frames downscaled to this longer side (poses at
            full size); ``None``: full size.
        progress: ``progress(done, total)`` after each video.
        should_stop: polled between videos; ``InterruptedError`` when it returns True.
        workers: videos prepared at once in separate processes on this machine (1: in this process);
            each process is capped at ``cores // workers`` threads.
        ray_address: run the videos as tasks on this Ray cluster instead (:func:`run_on_ray`); each task
            takes ``cores // workers`` CPUs of the cluster (``workers`` = tasks per machine of this size).
        log: called with one line per finished video (``[3/10] name: ...``, ``FAILED`` and the reason).
        **estimate_options: passed to ``estimate_trajectory`` (``focal``, ``mapper``, ``seed`` ...).
    Returns:
        :class:`PrepareReport`.
    Raises:
        ValueError: ``video_dir`` missing or without videos, ``workers < 1``, Ray missing or unreachable.
    """
    video_dir, out_dir = Path(video_dir), Path(out_dir)
    if not video_dir.is_dir():
        raise ValueError(f"video folder {video_dir} does not exist")
    if int(workers) != workers or workers < 1:
        raise ValueError(f"workers must be a whole number >= 1; got {workers}")
    videos = sorted(p for p in video_dir.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise ValueError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) in {video_dir}")
    options = dict(estimate_options, max_frames=max_frames, max_image_size=max_image_size)
    if ray_address:
        results = run_on_ray(videos, ray_address, worker_threads(workers), options, should_stop)
    elif workers > 1:
        results = run_in_processes(videos, int(workers), options, should_stop)
    else:
        results = _run_here(videos, options, should_stop)
    report = PrepareReport(out_dir=out_dir)
    order = {p.name: i for i, p in enumerate(videos)}
    stems: dict[str, str] = {}
    for done, result in enumerate(results, start=1):
        name = result["name"]
        stem = Path(name).stem
        if result["ok"] and stem in stems:
            result = dict(result, ok=False, reason=f"another video with the stem {stem!r} ({stems[stem]}) was "
                                                   "already written; rename one of them")
        if result["ok"]:
            if not stems:                  # the folders are made with the first clip: none when all fail
                (out_dir / "videos").mkdir(parents=True, exist_ok=True)
                (out_dir / "poses").mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(out_dir / "videos" / f"{stem}.mp4", result["video"])
            write_text_atomic(out_dir / "poses" / f"{stem}.txt", result["poses"])
            stems[stem] = name
            report.written.append(stem)
        else:
            report.failed[name] = result["reason"]
        record = {k: result[k] for k in ("name", "frames", "seconds", "reason", "process")}
        report.videos.append(dict(record, status="written" if result["ok"] else "failed"))
        if log is not None:
            what = (f"{result['frames']} frames, {result['seconds']:.1f} s" if result["ok"]
                    else f"FAILED: {result['reason']}")
            log(f"[{done}/{len(videos)}] {name}: {what}")
        if progress is not None:
            progress(done, len(videos))
    report.written.sort(key=lambda s: order[stems[s]])
    report.videos.sort(key=lambda r: order[r["name"]])
    summary = {"written": report.written, "failed": report.failed, "videos": report.videos,
               "workers": int(workers), "ray_address": ray_address}
    if report.written:
        write_text_atomic(out_dir / "prepare_report.json", json.dumps(summary, indent=2) + "\n")
    return report


def _run_here(videos: list[Path], options: dict, should_stop=None):
    """The videos one after another in this process."""
    for path in videos:
        if should_stop is not None and should_stop():
            raise InterruptedError("dataset preparation stopped")
        yield prepare_video(path, path.name, **options)
