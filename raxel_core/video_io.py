"""Reading video files and image folders into RGB frames, and writing frames to video (PyAV).

Frames everywhere in ``raxel_core`` are ``np.uint8`` arrays of shape ``(N, H, W, 3)``, RGB, rows
top to bottom. Every failure is a ``ValueError`` naming the file and the fix.
"""
from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .formats.text_files import atomic_path
from .resources import check_memory

#: Image files :func:`read_frame_dir` reads (case-insensitive suffixes).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: Containers :func:`write_video` writes (ffmpeg picks the muxer from the suffix).
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi")
#: Encoders tried in order by :func:`write_video` when ``codec`` is not given.
PREFERRED_CODECS = ("libx264", "mpeg4")

try:  # PyAV >= 14 exposes the base class as av.FFmpegError, older ones under av.error
    _FFmpegError = av.FFmpegError
except AttributeError:  # pragma: no cover - depends on the installed PyAV
    _FFmpegError = av.error.FFmpegError


def _check_sampling(max_frames, stride) -> None:
    if int(stride) != stride or stride < 1:
        raise ValueError(f"stride must be a whole number >= 1; got {stride}")
    if max_frames is not None and (int(max_frames) != max_frames or max_frames < 1):
        raise ValueError(f"max_frames must be None or a whole number >= 1; got {max_frames}")


def _open_video(path: Path):
    if not path.exists():
        raise ValueError(f"video file not found: {path}; check the path")
    if not path.is_file():
        raise ValueError(f"{path} is not a file; give a video file (or use read_frames for a folder)")
    try:
        container = av.open(str(path))
    except _FFmpegError as err:
        raise ValueError(
            f"{path} is not a readable video ({err.__class__.__name__}: {err}); give an .mp4, .avi, "
            ".mov, .mkv or .webm file that ffmpeg can decode"
        ) from err
    fmt = container.format.name
    if not container.streams.video:
        container.close()
        raise ValueError(f"{path} has no video stream; give a file with video in it")
    if fmt == "tty" or fmt == "image2" or fmt.endswith("_pipe"):
        # ffmpeg "decodes" text files as ANSI art (tty) and single images as one-frame videos
        container.close()
        what = "a text file" if fmt == "tty" else "a single image"
        raise ValueError(
            f"{path} is {what}, not a video (ffmpeg format {fmt!r}); give a video file, or a folder "
            "of numbered images to read_frame_dir"
        )
    return container


def _fps(stream) -> float | None:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else None


def read_video(path, max_frames: int | None = None, stride: int = 1) -> tuple[np.ndarray, float | None]:
    """Decode a video file into RGB frames with PyAV (ffmpeg).

    Args:
        path: video file (any container / codec the installed ffmpeg decodes: mp4, avi, mov, ...).
        max_frames: keep at most this many frames (``None``: all).
        stride: keep every ``stride``-th decoded frame, starting with frame 0.

    Returns:
        ``(frames, fps)``: ``np.uint8`` ``(N, H, W, 3)`` RGB frames, and the stream's frame rate
        in frames per second of the *file* (not divided by ``stride``), ``None`` when the file
        does not state one.

    Raises:
        ValueError: the file is missing, not a video, has no video stream, decodes to no frames,
            fails to decode part way, or has frames of different sizes; bad ``max_frames`` /
            ``stride``; frames that would exceed the memory limit (stated count before decoding,
            running total while decoding; :func:`raxel_core.resources.check_memory`).
    """
    _check_sampling(max_frames, stride)
    path = Path(path)
    frames: list[np.ndarray] = []
    with _open_video(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = _fps(stream)
        # frames are kept as a list then stacked (2 copies); the container's count, where it states
        # one, is checked before decoding, and the running total while decoding (counts can be wrong)
        frame_bytes = 2 * 3 * stream.codec_context.width * stream.codec_context.height
        stated = -(-int(stream.frames or 0) // int(stride))
        stated = min(stated, max_frames) if max_frames is not None else stated
        fix = "read fewer frames (max_frames / stride, or trim the video) or a smaller video"
        check_memory(stated * frame_bytes, f"decoding {stated} frames of {stream.codec_context.width}x"
                     f"{stream.codec_context.height} from {path.name}", fix)
        try:
            for index, frame in enumerate(container.decode(stream)):
                if index % stride:
                    continue
                if len(frames) >= stated:
                    check_memory((len(frames) + 1) * 2 * frame.width * frame.height * 3,
                                 f"decoding over {len(frames)} frames of {frame.width}x{frame.height} from {path.name}",
                                 fix)
                rgb = frame.to_ndarray(format="rgb24")
                if frames and rgb.shape != frames[0].shape:
                    raise ValueError(
                        f"{path}: frame {index} is {rgb.shape[1]}x{rgb.shape[0]} but frame 0 is "
                        f"{frames[0].shape[1]}x{frames[0].shape[0]} (W x H); re-encode the video at "
                        "one size"
                    )
                frames.append(rgb)
                if max_frames is not None and len(frames) >= max_frames:
                    break
        except _FFmpegError as err:
            raise ValueError(
                f"{path}: decoding failed after {len(frames)} frames ({err}); the file is damaged "
                "or truncated, re-export it"
            ) from err
    if not frames:
        raise ValueError(f"{path} has a video stream but no frames could be decoded; the video is empty")
    return np.stack(frames), fps


def read_video_frames(path, max_frames: int | None = None, stride: int = 1) -> np.ndarray:
    """``np.uint8 (N, H, W, 3)`` RGB frames of a video file; see :func:`read_video` (which also
    returns the frame rate) for arguments and errors."""
    return read_video(path, max_frames=max_frames, stride=stride)[0]


def video_info(path) -> dict:
    """Frame count, size and rate of a video file, by decoding every frame (exact even where the
    container's own count is wrong, as in many .avi files) without converting it to RGB.

    Returns:
        dict: ``num_frames`` (int), ``image_size`` ``(H, W)`` of frame 0, ``fps`` (float or
        ``None``), ``codec`` (decoder name).

    Raises:
        ValueError: as :func:`read_video` (missing, not a video, no frames, decode failure).
    """
    path = Path(path)
    with _open_video(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        count, size = 0, None
        try:
            for frame in container.decode(stream):
                size = size or (frame.height, frame.width)
                count += 1
        except _FFmpegError as err:
            raise ValueError(f"{path}: decoding failed after {count} frames ({err}); re-export it") from err
        info = {"num_frames": count, "image_size": size, "fps": _fps(stream),
                "codec": stream.codec_context.name}
    if count == 0:
        raise ValueError(f"{path} has a video stream but no frames could be decoded; the video is empty")
    return info


def count_video_frames(source) -> int:
    """Number of frames of a video file or binary file object (PyAV, every frame decoded without RGB
    conversion: exact where the container's count is wrong); a file object is rewound afterwards.

    Raises:
        ValueError: as :func:`video_info`.
    """
    if isinstance(source, (str, os.PathLike)):
        return video_info(source)["num_frames"]
    name = getattr(source, "name", "the video")
    try:
        with av.open(source) as container:
            if not container.streams.video:
                raise ValueError(f"{name} has no video stream; give a file with video in it")
            count = sum(1 for _ in container.decode(container.streams.video[0]))
    except _FFmpegError as err:
        raise ValueError(f"{name} could not be decoded ({err}); check that the file plays, or re-export it") from err
    finally:
        if hasattr(source, "seek"):
            source.seek(0)
    if count == 0:
        raise ValueError(f"{name} has a video stream but no frames could be decoded; the video is empty")
    return count


def iter_video_frames(source, max_frames: int | None = None, stride: int = 1):
    """Decode a video one frame at a time (PyAV): a generator of ``np.uint8 (H, W, 3)`` RGB frames,
    so a clip of any length is never held in memory as a whole.

    Args:
        source: a video file path, or a binary file object PyAV can read (e.g. ``io.BytesIO``).
        max_frames, stride: as :func:`read_video`.

    Raises:
        ValueError: as :func:`read_video` (raised when the generator reaches the problem).
    """
    _check_sampling(max_frames, stride)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        container = _open_video(path)
    else:
        path = getattr(source, "name", "the video")
        try:
            container = av.open(source)
        except _FFmpegError as err:
            raise ValueError(f"{path} is not a readable video ({err}); give a file that ffmpeg decodes") from err
        if not container.streams.video:
            container.close()
            raise ValueError(f"{path} has no video stream; give a file with video in it")
    kept, first_shape = 0, None
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for index, frame in enumerate(container.decode(stream)):
                if index % stride:
                    continue
                rgb = frame.to_ndarray(format="rgb24")
                if first_shape is None:
                    first_shape = rgb.shape
                elif rgb.shape != first_shape:
                    raise ValueError(
                        f"{path}: frame {index} is {rgb.shape[1]}x{rgb.shape[0]} but frame 0 is "
                        f"{first_shape[1]}x{first_shape[0]} (W x H); re-encode the video at one size"
                    )
                yield rgb
                kept += 1
                if max_frames is not None and kept >= max_frames:
                    break
        except _FFmpegError as err:
            raise ValueError(
                f"{path}: decoding failed after {kept} frames ({err}); the file is damaged or truncated, "
                "re-export it"
            ) from err
    if kept == 0:
        raise ValueError(f"{path} has a video stream but no frames could be decoded; the video is empty")


def video_fps(source) -> float | None:
    """Frame rate (frames per second) a video file or binary file object states, without decoding
    it; ``None`` when it states none. Raises ``ValueError`` as :func:`read_video` for a bad file."""
    if isinstance(source, (str, os.PathLike)):
        with _open_video(Path(source)) as container:
            return _fps(container.streams.video[0])
    with av.open(source) as container:
        rate = _fps(container.streams.video[0]) if container.streams.video else None
    if hasattr(source, "seek"):
        source.seek(0)
    return rate


def probe_video(source) -> dict:
    """Frame size and stated frame count of a video file or binary file object, read from the container
    header without decoding a frame (for memory guards before decoding); a file object is rewound.

    Returns:
        dict: ``image_size`` ``(H, W)``, ``num_frames``: the count the container states (``stream.frames``,
        else its duration times its frame rate, rounded up), ``None`` where it states neither.

    Raises:
        ValueError: as :func:`read_video` for a missing file, one that is not a video or has no video stream.
    """
    def describe(container) -> dict:
        stream = container.streams.video[0]
        count = int(stream.frames or 0)
        rate = stream.average_rate or stream.guessed_rate
        if not count and container.duration and rate:
            count = -(-int(container.duration) * int(rate.numerator) // (av.time_base * int(rate.denominator)))
        return {"image_size": (int(stream.codec_context.height), int(stream.codec_context.width)),
                "num_frames": count or None}

    if isinstance(source, (str, os.PathLike)):
        with _open_video(Path(source)) as container:
            return describe(container)
    name = getattr(source, "name", "the video")
    try:
        with av.open(source) as container:
            if not container.streams.video:
                raise ValueError(f"{name} has no video stream; give a file with video in it")
            return describe(container)
    except _FFmpegError as err:
        raise ValueError(f"{name} is not a readable video ({err}); give a file that ffmpeg decodes") from err
    finally:
        if hasattr(source, "seek"):
            source.seek(0)


def frame_files(path: Path, max_frames: int | None = None, stride: int = 1) -> list[Path]:
    """The image files of a frame folder, in natural name order (``frame_2`` before ``frame_10``), every
    ``stride``-th, at most ``max_frames``.

    Raises:
        ValueError: bad ``max_frames`` / ``stride``, the folder is missing, or it holds no
            ``IMAGE_SUFFIXES`` images.
    """
    _check_sampling(max_frames, stride)
    path = Path(path)
    if not path.is_dir():
        raise ValueError(f"image folder not found: {path}; check the path")
    files = sorted(
        (p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
        key=lambda p: _natural_key(p.name),
    )[::stride]
    if max_frames is not None:
        files = files[:max_frames]
    if not files:
        raise ValueError(
            f"{path} holds no {'/'.join(IMAGE_SUFFIXES)} images; put the frames there as numbered "
            "image files"
        )
    return files


def iter_frame_dir(path, max_frames: int | None = None, stride: int = 1):
    """Read a folder of images one at a time: a generator of ``np.uint8 (H, W, 3)`` RGB frames in the
    order and with the checks of :func:`read_frame_dir` (which returns them all at once)."""
    return _read_images(frame_files(Path(path), max_frames=max_frames, stride=stride))


def _read_images(files: list[Path]):
    """The images ``files`` as ``np.uint8 (H, W, 3)`` RGB, one at a time, all of the first one's size."""
    first_shape = None
    for f in files:
        try:
            with Image.open(f) as im:
                rgb = np.asarray(im.convert("RGB"))
        except (UnidentifiedImageError, OSError) as err:
            raise ValueError(f"cannot read image {f}: {err}; replace or remove that file") from err
        if first_shape is None:
            first_shape = rgb.shape
        elif rgb.shape != first_shape:
            raise ValueError(
                f"image {f} is {rgb.shape[1]}x{rgb.shape[0]} but {files[0].name} is "
                f"{first_shape[1]}x{first_shape[0]} (W x H); all frames must have one size"
            )
        yield rgb


def iter_frames(path, max_frames: int | None = None, stride: int = 1):
    """Frames one at a time from a video file (:func:`iter_video_frames`) or an image folder
    (:func:`iter_frame_dir`): a generator of ``np.uint8 (H, W, 3)`` RGB frames.

    Raises:
        ValueError: ``path`` does not exist, or as the function it dispatches to.
    """
    path = Path(path)
    if path.is_dir():
        return iter_frame_dir(path, max_frames=max_frames, stride=stride)
    if path.is_file():
        return iter_video_frames(path, max_frames=max_frames, stride=stride)
    raise ValueError(f"no video file or image folder at {path}; check the path")


def _natural_key(name: str):
    """Sort key comparing digit runs as numbers: ``frame_2.png`` before ``frame_10.png``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def read_frame_dir(path, max_frames: int | None = None, stride: int = 1) -> np.ndarray:
    """Read a folder of images (``.png``, ``.jpg``, ``.jpeg``) as frames, with Pillow.

    Files are ordered by name with digit runs compared as numbers (``2.png`` before ``10.png``);
    other files are ignored. Grayscale, palette and RGBA images are converted to RGB (alpha
    dropped).

    Args:
        path: a directory.
        max_frames, stride: as :func:`read_video` (applied to the sorted file list).

    Returns:
        ``np.uint8 (N, H, W, 3)`` RGB.

    Raises:
        ValueError: the folder is missing or holds no such images, an image cannot be read, or an
            image's size differs from the first one's (the message names the file); images that
            would exceed the memory limit (:func:`raxel_core.resources.check_memory`).
    """
    path = Path(path)
    files = frame_files(path, max_frames=max_frames, stride=stride)
    try:
        with Image.open(files[0]) as first:          # every frame must have this size (checked below)
            width, height = first.size
    except (UnidentifiedImageError, OSError):
        width = height = 0                            # the loop below names the unreadable file
    check_memory(2 * 3 * width * height * len(files), f"reading {len(files)} images of {width}x{height} from "
                 f"{path.name}", "read fewer frames (max_frames / stride) or smaller images")
    return np.stack(list(_read_images(files)))


def read_image(path) -> np.ndarray:
    """One image file (any format Pillow reads) as ``np.uint8 (H, W, 3)`` RGB (alpha dropped).

    Raises:
        ValueError: the file is missing, is a folder, is not an image Pillow can read, or would
            exceed the memory limit; the message names the file and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"image file not found: {path}; check the path")
    try:
        with Image.open(path) as im:
            check_memory(2 * 4 * im.width * im.height, f"reading the {im.width}x{im.height} image {path.name}",
                         "give a smaller image")
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as err:
        raise ValueError(f"{path} is not an image Pillow can read ({err.__class__.__name__}); give a .png or "
                         ".jpg file") from err


def read_frames(path, max_frames: int | None = None, stride: int = 1) -> np.ndarray:
    """Frames from a video file (:func:`read_video_frames`) or an image folder
    (:func:`read_frame_dir`), whichever ``path`` is. ``np.uint8 (N, H, W, 3)`` RGB.

    Raises:
        ValueError: ``path`` does not exist, or as the function it dispatches to.
    """
    path = Path(path)
    if path.is_dir():
        return read_frame_dir(path, max_frames=max_frames, stride=stride)
    if path.is_file():
        return read_video_frames(path, max_frames=max_frames, stride=stride)
    raise ValueError(f"no video file or image folder at {path}; check the path")


def _pick_codec(codec: str | None) -> str:
    names = (codec,) if codec else PREFERRED_CODECS
    for name in names:
        try:
            av.codec.Codec(name, "w")
        except (_FFmpegError, ValueError):
            continue
        return name
    raise ValueError(
        f"no video encoder among {list(names)} in this PyAV build; install PyAV wheels from PyPI "
        "(they ship libx264 and mpeg4) or pass codec= one that `python -c \"import av; "
        "print(av.codecs_available)\"` lists"
    )


def _check_frame_array(frames: np.ndarray, what: str, shape_ok: bool, shape_text: str) -> None:
    """:func:`write_video`'s checks of the frames (or the first frame of a stream): uint8 RGB, even sides."""
    if frames.dtype != np.uint8:
        raise ValueError(
            f"{what} must be uint8 RGB; got dtype {frames.dtype}. Convert floats in [0, 1] with "
            "(frames * 255).round().clip(0, 255).astype(np.uint8)"
        )
    if not shape_ok or frames.shape[-1] != 3:
        raise ValueError(f"{what} must have shape {shape_text}; got {tuple(frames.shape)}")
    h, w = frames.shape[-3:-1]
    if h % 2 or w % 2:
        raise ValueError(
            f"frames are {w}x{h} (W x H); yuv420p video needs an even width and height, crop or "
            "resize by one pixel"
        )


def write_video(path, frames, fps: float, codec: str | None = None, crf: int = 18) -> Path:
    """Encode RGB frames to a video file with PyAV, atomically.

    The video is written to a temporary file beside ``path`` and moved over ``path`` with
    ``os.replace`` only when complete, so a reader never sees half a file and a failure leaves
    any previous file intact.

    Args:
        path: output file; the suffix picks the container (``.mp4``, ``.mov``, ``.mkv``, ``.avi``).
            The folder must exist.
        frames: ``uint8`` ``(N, H, W, 3)`` RGB, numpy or torch, ``N >= 1``; ``H`` and ``W`` even
            (the yuv420p pixel format halves the chroma resolution). Or an iterator (a generator such as
            :func:`iter_frames`) of ``(H, W, 3)`` frames: a stream, encoded as it arrives and never held
            whole; each frame is checked when it comes, and a bad one fails the write (no file is left).
        fps: frames per second, > 0 (stored as a fraction, e.g. 29.97 -> 2997/100).
        codec: encoder name; ``None`` takes the first available of :data:`PREFERRED_CODECS`
            (H.264 via libx264, else MPEG-4 part 2).
        crf: libx264 constant rate factor (0 lossless luma, 18 visually lossless, 23 default).
            Ignored by other encoders, which get a bit rate of ~4 bits per pixel per second.

    Returns:
        the written ``Path``.

    Raises:
        ValueError: bad frames (dtype, shape, odd size), ``fps <= 0``, unsupported suffix, missing
            folder, no encoder, or an encoder error.
    """
    path = Path(path)
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().cpu().numpy()
    if not isinstance(frames, Iterator):
        frames = np.asarray(frames)
        _check_frame_array(frames, "frames", frames.ndim == 4 and frames.shape[0] > 0,
                           "(N, H, W, 3) with N >= 1")
        stream_of = iter(frames)
        h, w = frames.shape[1:3]
    else:  # a stream: the first frame gives the size, every later one is checked against it
        first = next(frames, None)
        if first is None:
            raise ValueError("frames must have shape (N, H, W, 3) with N >= 1; got an empty stream of frames")
        first = np.asarray(first)
        _check_frame_array(first, "each frame", first.ndim == 3, "(H, W, 3)")
        stream_of = itertools.chain([first], frames)
        h, w = first.shape[:2]
    if not fps or fps <= 0 or not np.isfinite(fps):
        raise ValueError(f"fps must be a positive number of frames per second; got {fps}")
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"cannot write {path.name}: use one of the suffixes {VIDEO_SUFFIXES}")
    if not path.parent.is_dir():
        raise ValueError(f"the folder {path.parent} does not exist; create it first")
    codec = _pick_codec(codec)
    try:
        # a hidden name beside the target, with the target's suffix so ffmpeg picks the muxer
        with atomic_path(path) as tmp, av.open(str(tmp), mode="w") as container:
            stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(100000))
            stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
            if codec in ("libx264", "h264"):
                stream.options = {"crf": str(int(crf))}
            else:
                stream.bit_rate = int(max(4 * w * h * float(fps), 1_000_000))
            for k, rgb in enumerate(stream_of):
                rgb = np.asarray(rgb)
                if rgb.dtype != np.uint8 or rgb.shape != (h, w, 3):
                    raise ValueError(f"frame {k} of the stream is {rgb.dtype} {tuple(rgb.shape)}; every frame must "
                                     f"be uint8 {(h, w, 3)} like frame 0")
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    except _FFmpegError as err:
        raise ValueError(f"encoding {path} with {codec} failed: {err}") from err
    return path
