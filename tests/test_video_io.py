"""Reading real videos and image folders into RGB frames, writing video, and the errors a user
sees for bad inputs."""
import io
import os
from fractions import Fraction

import av
import numpy as np
import pytest
import torch
from PIL import Image
from shared_data import DATA

from raxel_core.video_io import (
    iter_frames,
    iter_video_frames,
    probe_video,
    read_frame_dir,
    read_frames,
    read_video,
    read_video_frames,
    video_info,
    write_video,
)

RE10K_VIDEOS = DATA / "re10k" / "videos"
STATIC = DATA / "static_camera"
needs_re10k = pytest.mark.shared_data("re10k/videos")
needs_static = pytest.mark.shared_data("static_camera")
RE10K_CLIPS = sorted(RE10K_VIDEOS.glob("*.mp4")) if RE10K_VIDEOS.is_dir() else []


@needs_re10k
@pytest.mark.parametrize("path", RE10K_CLIPS, ids=[p.stem for p in RE10K_CLIPS])
def test_realestate10k_clips_decode_to_their_documented_shape(path):
    frames, fps = read_video(path)
    expected = {"": (16, 256, 384), "svd": (14, 320, 576), "svdxt": (25, 320, 576)}
    kind = path.stem.split("_")[1] if "_" in path.stem else ""
    assert frames.shape == (*expected[kind], 3)
    assert frames.dtype == np.uint8 and fps == pytest.approx(8.0)
    assert 20 < frames.mean() < 235 and frames.std() > 10  # real picture content, not a blank
    # consecutive frames of a moving camera differ, but far less than unrelated images would
    step = np.abs(frames[1:].astype(np.int16) - frames[:-1]).mean()
    assert 0.5 < step < 60


@needs_re10k
def test_frames_are_rgb_in_row_major_order():
    path = RE10K_CLIPS[0]
    ours = read_video_frames(path, max_frames=1)[0]
    with av.open(str(path)) as c:
        ref = next(c.decode(video=0)).to_image()  # PIL RGB image
    np.testing.assert_array_equal(ours, np.asarray(ref))


@needs_static
def test_static_camera_videos_frame_counts_and_sizes():
    tree = read_video_frames(STATIC / "tree.avi")
    assert tree.shape == (68, 240, 320, 3)  # the .avi header claims 444 frames; decoding counts 68
    info = video_info(STATIC / "box.mp4")
    assert info["num_frames"] == 455 and info["image_size"] == (480, 640)
    assert info["fps"] == pytest.approx(29.97, abs=0.05)
    assert video_info(STATIC / "tree.avi")["num_frames"] == 68


@needs_static
def test_probe_reads_the_size_and_the_stated_count_without_decoding(tmp_path):
    # the headers' counts: box.mp4 states 456 (455 decode), tree.avi 444 (68 decode; video_info counts them)
    assert probe_video(STATIC / "box.mp4") == {"image_size": (480, 640), "num_frames": 456}
    assert probe_video(STATIC / "tree.avi") == {"image_size": (240, 320), "num_frames": 444}
    frames = np.zeros((7, 32, 48, 3), np.uint8)
    write_video(tmp_path / "clip.mkv", frames, fps=8.0)
    with av.open(str(tmp_path / "clip.mkv")) as container:
        assert container.streams.video[0].frames == 0      # Matroska states no count: duration x rate
    assert probe_video(tmp_path / "clip.mkv") == {"image_size": (32, 48), "num_frames": 7}
    data = io.BytesIO((STATIC / "box.mp4").read_bytes())
    assert probe_video(data)["num_frames"] == 456 and data.tell() == 0
    with pytest.raises(ValueError, match="not a video|not a readable video"):
        probe_video(io.BytesIO(b"meeting notes"))
    with pytest.raises(ValueError, match="missing.mp4"):
        probe_video(tmp_path / "missing.mp4")


@needs_static
def test_stride_and_max_frames_pick_the_right_frames():
    path = STATIC / "tree.avi"
    all_frames = read_video_frames(path)
    strided = read_video_frames(path, stride=10)
    assert strided.shape[0] == 7  # frames 0, 10, ..., 60
    np.testing.assert_array_equal(strided, all_frames[::10])
    first = read_video_frames(path, max_frames=5, stride=3)
    np.testing.assert_array_equal(first, all_frames[0:15:3])
    np.testing.assert_array_equal(read_frames(path, max_frames=2), all_frames[:2])


@needs_re10k
@pytest.mark.parametrize("suffix,codec", [(".mp4", None), (".mkv", "libx264"), (".avi", "mpeg4")])
def test_write_then_read_round_trip(tmp_path, suffix, codec):
    frames = read_video_frames(RE10K_CLIPS[0])
    out = write_video(tmp_path / f"clip{suffix}", frames, fps=8, codec=codec)
    back, fps = read_video(out)
    assert back.shape == frames.shape and fps == pytest.approx(8.0)
    err = np.abs(back.astype(np.int16) - frames).mean()
    assert err < 4.0, f"mean absolute error {err:.2f} of 255 after encoding"
    assert [p.name for p in tmp_path.iterdir()] == [f"clip{suffix}"]  # no temporary file left


def test_write_accepts_torch_and_fractional_rates(tmp_path):
    x = np.linspace(0, 255, 64)
    frames = np.stack([np.broadcast_to(((x[None, :] + 8 * k) % 256)[..., None], (48, 64, 3)) for k in range(6)])
    out = write_video(tmp_path / "grad.mp4", torch.from_numpy(frames.astype(np.uint8)), fps=29.97)
    back, fps = read_video(out)
    assert back.shape == (6, 48, 64, 3) and fps == pytest.approx(29.97, abs=1e-3)


def test_write_replaces_an_existing_file_atomically(tmp_path):
    target = tmp_path / "v.mp4"
    a = np.full((3, 32, 32, 3), 40, np.uint8)
    b = np.full((5, 32, 32, 3), 200, np.uint8)
    write_video(target, a, fps=4)
    write_video(target, b, fps=4)
    back = read_video_frames(target)
    assert back.shape[0] == 5 and abs(back.mean() - 200) < 3
    with pytest.raises(ValueError, match="even width and height"):
        write_video(target, np.zeros((2, 31, 32, 3), np.uint8), fps=4)
    assert read_video_frames(target).shape[0] == 5  # the failed write left the old file intact


def test_write_rejects_bad_frames(tmp_path):
    good = np.zeros((2, 32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "a.mp4", good.astype(np.float32), fps=8)
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        write_video(tmp_path / "a.mp4", good[..., :1], fps=8)
    with pytest.raises(ValueError, match="fps"):
        write_video(tmp_path / "a.mp4", good, fps=0)
    with pytest.raises(ValueError, match="suffixes"):
        write_video(tmp_path / "a.gif", good, fps=8)
    with pytest.raises(ValueError, match="does not exist"):
        write_video(tmp_path / "missing" / "a.mp4", good, fps=8)
    with pytest.raises(ValueError, match="no video encoder"):
        write_video(tmp_path / "a.mp4", good, fps=8, codec="no_such_codec")


@needs_re10k
def test_write_from_a_stream_gives_the_same_file_and_a_bad_frame_leaves_none(tmp_path):
    # a generator is encoded frame by frame (raxel prepare re-encodes long videos so): the same bytes as the array
    frames = read_video_frames(RE10K_CLIPS[0], max_frames=6)
    from_array = write_video(tmp_path / "array.mp4", frames, fps=8)
    from_stream = write_video(tmp_path / "stream.mp4", iter_frames(RE10K_CLIPS[0], max_frames=6), fps=8)
    assert from_stream.read_bytes() == from_array.read_bytes()

    def broken():
        yield from frames[:3]
        yield frames[3, :, :-2]  # a frame of another size mid-stream

    with pytest.raises(ValueError, match="frame 3 of the stream"):
        write_video(tmp_path / "broken.mp4", broken(), fps=8)
    with pytest.raises(ValueError, match="empty stream"):
        write_video(tmp_path / "empty.mp4", iter(()), fps=8)
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "float.mp4", (f.astype(np.float32) for f in frames), fps=8)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["array.mp4", "stream.mp4"]  # nothing partial left


def save_images(folder, sizes, names=None):
    folder.mkdir()
    rng = np.random.default_rng(0)
    images = []
    for k, (h, w) in enumerate(sizes):
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        name = names[k] if names else f"frame_{k}.png"
        Image.fromarray(img).save(folder / name)
        images.append(img)
    return images


def test_frame_folder_reads_in_numeric_order(tmp_path):
    names = [f"frame_{k}.png" for k in (2, 10, 1)]
    images = save_images(tmp_path / "frames", [(24, 32)] * 3, names)
    (tmp_path / "frames" / "notes.txt").write_text("ignored")
    frames = read_frames(tmp_path / "frames")
    assert frames.dtype == np.uint8 and frames.shape == (3, 24, 32, 3)
    for got, want in zip(frames, [images[2], images[0], images[1]], strict=False):  # 1, 2, 10
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(read_frame_dir(tmp_path / "frames", stride=2), frames[::2])


def test_frame_folder_converts_grayscale_and_jpeg(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    Image.fromarray(np.full((16, 16), 128, np.uint8), mode="L").save(folder / "0.png")
    Image.fromarray(np.full((16, 16, 3), 60, np.uint8)).save(folder / "1.JPG", quality=95)
    frames = read_frame_dir(folder)
    assert frames.shape == (2, 16, 16, 3)
    assert (frames[0] == 128).all() and np.abs(frames[1].astype(int) - 60).max() <= 2


def test_frame_folder_of_mixed_sizes_names_the_file(tmp_path):
    save_images(tmp_path / "frames", [(24, 32), (24, 32), (20, 32)])
    with pytest.raises(ValueError, match=r"frame_2\.png is 32x20 but frame_0\.png is 32x24"):
        read_frame_dir(tmp_path / "frames")


def test_frame_folder_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no"):
        read_frame_dir(tmp_path / "empty")
    with pytest.raises(ValueError, match="image folder not found"):
        read_frame_dir(tmp_path / "nope")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "0.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"cannot read image .*0\.png"):
        read_frame_dir(tmp_path / "broken")


def test_missing_and_non_video_files_raise(tmp_path):
    with pytest.raises(ValueError, match="video file not found"):
        read_video_frames(tmp_path / "missing.mp4")
    with pytest.raises(ValueError, match="no video file or image folder"):
        read_frames(tmp_path / "missing.mp4")
    text = tmp_path / "notes.txt"
    text.write_text("a plain text file\n" * 20)
    with pytest.raises(ValueError, match="not a video|not a readable video"):
        read_video_frames(text)
    if (STATIC / "debian_copyright.txt").is_file():  # ffmpeg would "decode" this one as ANSI art
        with pytest.raises(ValueError, match="text file, not a video"):
            read_video_frames(STATIC / "debian_copyright.txt")
    garbage = tmp_path / "fake.mp4"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(ValueError, match="not a readable video|no video stream"):
        read_video_frames(garbage)
    image = tmp_path / "one.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(image)
    with pytest.raises(ValueError, match="single image, not a video"):
        read_video(image)
    with pytest.raises(ValueError, match="stride"):
        read_video_frames(text, stride=0)


def test_video_without_frames_raises(tmp_path):
    path = tmp_path / "empty.avi"
    container = av.open(str(path), "w")
    stream = container.add_stream("mpeg4", rate=8)
    stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
    container.start_encoding()
    container.close()
    with pytest.raises(ValueError, match="no frames could be decoded"):
        read_video_frames(path)
    with pytest.raises(ValueError, match="no frames could be decoded"):
        video_info(path)


def test_video_whose_frames_change_size_raises(tmp_path):
    # MJPEG codes every frame on its own, so one stream can carry two sizes
    path = tmp_path / "two_sizes.avi"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mjpeg", rate=8)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        for _ in range(2):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 100, np.uint8), format="rgb24")
            for packet in stream.encode(frame.reformat(format="yuvj420p")):
                container.mux(packet)
        small = av.CodecContext.create("mjpeg", "w")
        small.width, small.height, small.pix_fmt, small.time_base = 32, 32, "yuvj420p", Fraction(1, 8)
        frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 50, np.uint8),
                                           format="rgb24").reformat(format="yuvj420p")
        frame.pts = 2
        for packet in list(small.encode(frame)) + list(small.encode()):
            packet.stream, packet.pts, packet.dts = stream, 2, 2
            container.mux(packet)
    with pytest.raises(ValueError, match="frame 2 is 32x32 but frame 0 is 64x48"):
        read_video_frames(path)
    assert read_video_frames(path, max_frames=2).shape == (2, 48, 64, 3)


def test_iter_video_frames_streams_the_same_frames_and_raises_on_bad_files(tmp_path):
    frames = np.random.default_rng(3).integers(0, 255, (5, 32, 48, 3), dtype=np.uint8)
    path = write_video(tmp_path / "clip.mp4", frames, fps=8, crf=0)
    streamed = list(iter_video_frames(path, stride=2))
    assert np.array_equal(np.stack(streamed), read_video_frames(path, stride=2))
    assert len(list(iter_video_frames(path, max_frames=2))) == 2
    with pytest.raises(ValueError, match="video file not found"):
        next(iter_video_frames(tmp_path / "missing.mp4"))
    (tmp_path / "notes.txt").write_text("not a video")
    with pytest.raises(ValueError, match="not a video|not a readable video"):
        next(iter_video_frames(tmp_path / "notes.txt"))
