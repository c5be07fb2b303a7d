"""Every bad input the ``raxel`` command is tested with, and the table ``tests/BAD_INPUT.md`` made from them.

Each :class:`Case` is one command line run in a scratch folder holding :func:`make_inputs`' files. The
test (tests/test_bad_input.py) runs every case through :func:`raxel_core.cli.main` and checks the exit
status, that stderr is one line, and that this line is the one the table shows, so the table cannot
drift from what a user sees. Regenerate the table after changing a message:

    PYTHONPATH=$PWD python tests/bad_input_cases.py --write

(run from the project root; it runs every case, about a minute). The node rows (ComfyUI's
``execution_error`` text) are in :data:`NODE_CASES`, checked by tests/test_bad_input_nodes.py.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

TABLE = Path(__file__).with_name("BAD_INPUT.md")
#: Memory limit the resource-guard cases run under (``RAXEL_MEMORY_LIMIT_MB``, MiB), so that the small
#: clip of :func:`make_inputs` is "too big" without a machine running out of memory to show it.
SMALL_LIMIT_MB = "0.1"
#: The node cases' video of frames too large to decode (:func:`write_huge_video`): name, frames, side in pixels.
HUGE_VIDEO, HUGE_VIDEO_FRAMES, HUGE_VIDEO_SIDE = "huge_frames.mov", 16, 16000


@dataclass(frozen=True)
class Case:
    """One bad command line: ``raxel ARGV...`` in the scratch folder; ``status`` its exit code."""

    command: str
    kind: str
    argv: tuple[str, ...]
    status: int = 2
    env: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.command}:{self.kind}"


def C(command: str, kind: str, *argv: str, status: int = 2, env: dict | None = None) -> Case:
    return Case(command, kind, (command, *argv), status, env or {})


#: missing, unreadable, wrong type, empty, one frame, NaN/inf, oversized, mismatched; output paths.
CASES: tuple[Case, ...] = (
    # convert
    C("convert", "missing input", "missing.txt", "out.json"),
    C("convert", "empty file", "empty.txt", "out.json", "--size", "256x384"),
    C("convert", "not UTF-8 (unreadable)", "binary.txt", "out.json", "--size", "256x384"),
    C("convert", "wrong type (a video)", "clip.mp4", "out.json"),
    C("convert", "wrong type (text as JSON)", "notes.json", "out.txt"),
    C("convert", "NaN in a pose", "nan.txt", "out.json", "--size", "256x384"),
    C("convert", "inf in a pose", "inf.json", "out.txt"),
    C("convert", "oversized JSON", "huge.json", "out.txt"),
    C("convert", "mismatched option", "good.json", "out.txt", "--size", "256x384"),
    C("convert", "RealEstate10K without --size", "good.txt", "out.json"),
    C("convert", "bad --size", "good.txt", "out.json", "--size", "big"),
    C("convert", "output folder missing", "good.json", "nodir/out.txt"),
    C("convert", "output is a folder", "good.json", "folder.json"),
    # encode
    C("encode", "missing input", "missing.json", "--out", "raxels"),
    C("encode", "NaN in a pose", "nan.txt", "--out", "raxels"),
    C("encode", "oversized --size", "good.json", "--out", "raxels", "--size", "20000x30000",
      env={"RAXEL_MEMORY_LIMIT_MB": "16000"}),
    C("encode", "output not empty", "good.json", "--out", "full"),
    C("encode", "output folder missing", "good.json", "--out", "nodir/raxels"),
    # decode
    C("decode", "missing input", "missing", "--out", "out.json"),
    C("decode", "wrong type (a file)", "good.json", "--out", "out.json"),
    C("decode", "no raxels.json", "empty_dir", "--out", "out.json"),
    C("decode", "corrupt raxels.json", "bad_raxels", "--out", "out.json"),
    C("decode", "output folder missing", "raxels_ok", "--out", "nodir/out.json"),
    # demo
    C("demo", "one frame", "--frames", "1", "--out", "demo"),
    C("demo", "oversized --frames", "--frames", "100000", "--out", "demo", env={"RAXEL_MEMORY_LIMIT_MB": "16000"}),
    C("demo", "output is a file", "--out", "good.json"),
    # pose
    C("pose", "missing input", "missing.mp4", "--out", "out.json"),
    C("pose", "wrong type (text)", "notes.txt", "--out", "out.json"),
    C("pose", "empty file", "empty.mp4", "--out", "out.json"),
    C("pose", "empty folder", "empty_dir", "--out", "out.json"),
    C("pose", "unreadable frame", "bad_frames", "--out", "out.json"),
    C("pose", "one frame", "one_frame.mp4", "--out", "out.json"),
    C("pose", "NaN --focal", "clip.mp4", "--out", "out.json", "--focal", "nan"),
    C("pose", "negative --focal", "clip.mp4", "--out", "out.json", "--focal", "-5"),
    C("pose", "output folder missing", "clip.mp4", "--out", "nodir/out.json"),
    C("pose", "output suffix unknown", "clip.mp4", "--out", "out.xyz"),
    # pose streams its frames (bounded memory whatever the length): the guard is one frame's peak; its sampling options
    C("pose", "oversized frames (memory guard)", "clip.mp4", "--out", "out.json",
      env={"RAXEL_MEMORY_LIMIT_MB": SMALL_LIMIT_MB}),
    C("pose", "bad --stride", "clip.mp4", "--out", "out.json", "--stride", "0"),
    C("pose", "bad --max-frames", "clip.mp4", "--out", "out.json", "--max-frames", "1"),
    C("pose", "bad --max-image-size", "clip.mp4", "--out", "out.json", "--max-image-size", "8"),
    C("pose", "NaN --pixel-aspect", "clip.mp4", "--out", "out.json", "--pixel-aspect", "nan"),
    C("pose", "unusable content (noise frames)", "clip.mp4", "--out", "out.json"),
    # pose --mask: masks of moving things to ignore
    C("pose", "--mask folder missing", "frames", "--out", "out.json", "--mask", "missing_masks"),
    C("pose", "a mask of another size", "frames", "--out", "out.json", "--mask", "masks_small"),
    C("pose", "mask count mismatched", "frames", "--out", "out.json", "--mask", "masks_three"),
    C("pose", "every frame entirely masked", "frames", "--out", "out.json", "--mask", "masks_full"),
    # --method tracks4d / auto (the 4D solver on point tracks)
    C("pose", "unknown --method", "clip.mp4", "--out", "out.json", "--method", "magic"),
    C("pose", "one frame, --method tracks4d", "one_frame.mp4", "--out", "out.json", "--method", "tracks4d"),
    C("pose", "unusable content, --method auto", "clip.mp4", "--out", "out.json", "--method", "auto"),
    C("pose", "--mask with --method tracks4d", "frames", "--out", "out.json", "--mask", "masks_small",
      "--method", "tracks4d"),
    # tracks
    C("tracks", "missing input", "missing.mp4", "--out", "t.json"),
    C("tracks", "wrong type (text)", "notes.txt", "--out", "t.json"),
    C("tracks", "empty file", "empty.mp4", "--out", "t.json"),
    C("tracks", "one frame", "one_frame.mp4", "--out", "t.json"),
    C("tracks", "bad --points", "clip.mp4", "--out", "t.json", "--points", "0"),
    C("tracks", "output folder missing", "clip.mp4", "--out", "nodir/t.json"),
    # retime
    C("retime", "missing input", "missing.json", "--frames", "9", "--out", "r.json"),
    C("retime", "wrong type (text as JSON)", "notes.json", "--frames", "9", "--out", "r.json"),
    C("retime", "inf in a pose", "inf.json", "--frames", "9", "--out", "r.json"),
    C("retime", "bad --frames", "good.json", "--frames", "-3", "--out", "r.json"),
    C("retime", "NaN --fps-out", "good.json", "--fps-in", "8", "--fps-out", "nan", "--out", "r.json"),
    C("retime", "more frames than the move lasts", "good.json", "--frames", "100", "--fps-in", "8", "--fps-out", "8",
      "--out", "r.json"),
    C("retime", "output folder missing", "good.json", "--frames", "9", "--out", "nodir/r.json"),
    # rerender
    C("rerender", "missing input", "missing.mp4", "--preset", "orbit_left", "--out", "rr"),
    C("rerender", "wrong type (text)", "notes.txt", "--preset", "orbit_left", "--out", "rr"),
    C("rerender", "one frame", "one_frame.mp4", "--preset", "orbit_left", "--out", "rr"),
    C("rerender", "unknown preset", "clip.mp4", "--preset", "zoom_sideways", "--out", "rr"),
    C("rerender", "source trajectory of another video", "clip.mp4", "--preset", "orbit_left",
      "--source-trajectory", "other_trajectory.json", "--out", "rr"),
    C("rerender", "depth folder missing", "clip.mp4", "--preset", "orbit_left", "--depth", "missing_dir",
      "--out", "rr"),
    C("rerender", "output not empty", "clip.mp4", "--preset", "orbit_left", "--out", "full"),
    C("rerender", "output folder missing", "clip.mp4", "--preset", "orbit_left", "--out", "nodir/rr"),
    # tokens
    C("tokens", "missing input", "encode", "missing.json", "--out", "tok.json"),
    C("tokens", "inf in a pose", "encode", "inf.json", "--out", "tok.json"),
    C("tokens", "wrong type --model", "encode", "good.json", "--model", "notes.txt", "--out", "tok.json"),
    C("tokens", "output folder missing", "encode", "good.json", "--out", "nodir/tok.json"),
    C("tokens", "decode: not tokens JSON", "decode", "good.json", "--out", "r.json"),
    C("tokens", "decode: text as JSON", "decode", "notes.json", "--out", "r.json"),
    # eval-pose
    C("eval-pose", "missing input", "missing", "poses"),
    C("eval-pose", "empty folder", "empty_dir", "empty_dir"),
    C("eval-pose", "mismatched (no poses)", "videos", "empty_dir"),
    C("eval-pose", "bad --repeats", "videos", "poses", "--repeats", "0"),
    # prepare
    C("prepare", "missing input", "missing", "prepared"),
    C("prepare", "empty folder", "empty_dir", "prepared"),
    C("prepare", "bad --max-frames", "videos", "prepared", "--max-frames", "0"),
    C("prepare", "output is a file", "videos", "good.json"),
    C("prepare", "bad --workers", "videos", "prepared", "--workers", "0"),
    C("prepare", "unusable content (only a broken video)", "broken_videos", "prepared"),
    # run
    C("run", "missing input", "missing.json"),
    C("run", "wrong type (not JSON)", "notes.json"),
    C("run", "empty file", "empty.json"),
    C("run", "bad --set", "workflow.json", "--set", "nodot"),
    C("run", "output is a file", "workflow.json", "--out", "good.json"),
    # sample
    C("sample", "missing --image", "video", "--image", "missing.png", "--trajectory", "good.json", "--out", "s"),
    C("sample", "wrong type --image", "joint", "--image", "notes.txt", "--out", "s"),
    C("sample", "wrong type --model", "joint", "--image", "frame.png", "--model", "notes.txt", "--out", "s"),
    C("sample", "one frame (joint)", "joint", "--image", "frame.png", "--frames", "1", "--out", "s"),
    C("sample", "oversized --frames", "joint", "--image", "frame.png", "--frames", "100000", "--out", "s"),
    C("sample", "unknown --device", "joint", "--image", "frame.png", "--device", "cuda:7", "--out", "s"),
    C("sample", "bad --steps-video", "joint", "--image", "frame.png", "--steps-video", "0", "--out", "s"),
    C("sample", "output is a file", "joint", "--image", "frame.png", "--out", "good.json"),
    C("sample", "mismatched mode (pose without --video)", "pose", "--out", "s"),
    # train
    C("train", "missing input", "missing.json"),
    C("train", "wrong type (not JSON)", "notes.json"),
    C("train", "wrong field type", "config_badtype.json"),
    C("train", "bad --steps", "config_ok.json", "--steps", "0"),
    C("train", "output is a file", "config_ok.json", "--checkpoint-dir", "good.json"),
    # eval-joint
    C("eval-joint", "missing --model", "--model", "missing"),
    C("eval-joint", "bad --frames", "--frames", "1"),
)


@dataclass(frozen=True)
class NodeCase:
    """One bad prompt for a real ComfyUI server: ``prompt`` (API format; ``"@file"`` strings are files
    :func:`make_node_inputs` writes into the input folder) must fail in ``node`` (``stage``
    ``"run"``: an ``execution_error``; ``"queue"``: refused with HTTP 400 before running)."""

    node: str
    kind: str
    prompt: dict
    stage: str = "run"

    @property
    def id(self) -> str:
        return f"{self.node}:{self.kind}"


def _load(file: str) -> dict:
    return {"1": {"class_type": "RaxelLoadTrajectory", "inputs": {"file": file, "width": 384, "height": 256}},
            "2": {"class_type": "RaxelTrajectoryPreview", "inputs": {"trajectory": ["1", 0], "width": 256,
                                                                      "height": 128}}}


def _pose(video: str) -> dict:
    return {"1": {"class_type": "LoadVideo", "inputs": {"file": video}},
            "2": {"class_type": "RaxelPoseFromVideo", "inputs": {"video": ["1", 0], "focal_px": 0.0, "seed": 0}},
            "3": {"class_type": "RaxelTrajectoryPreview", "inputs": {"trajectory": ["2", 0], "width": 256,
                                                                      "height": 128}}}


def _trajectory(**inputs) -> dict:
    widgets = {"preset": "orbit_left", "frames": 16, "magnitude": 0.0, "easing": "linear", "width": 384,
               "height": 256, "fov": 50.0, "distance": 4.0, "keyframes": "[]"}
    return {"class_type": "RaxelCameraTrajectory", "inputs": {**widgets, **inputs}}


def _tracks(text: str) -> dict:
    return {"1": {"class_type": "RaxelTracksFromJSON", "inputs": {"tracks_json": text}}}


#: Bad inputs of the nodes, run through a real ComfyUI server by tests/test_bad_input_nodes.py.
NODE_CASES: tuple[NodeCase, ...] = (
    NodeCase("RaxelLoadTrajectory", "empty file", _load("empty.txt")),
    NodeCase("RaxelLoadTrajectory", "not UTF-8 (unreadable)", _load("binary.txt")),
    NodeCase("RaxelLoadTrajectory", "wrong type (text as JSON)", _load("notes.json")),
    NodeCase("RaxelLoadTrajectory", "NaN in a pose", _load("nan.txt")),
    NodeCase("RaxelLoadTrajectory", "oversized JSON", _load("huge.json")),
    NodeCase("RaxelLoadTrajectory", "outside the input folder", _load("../../etc/passwd"), stage="queue"),
    NodeCase("RaxelPoseFromVideo", "wrong type (text as video)", _pose("notes.mp4")),
    NodeCase("RaxelPoseFromVideo", "one frame", _pose("one_frame.mp4")),
    NodeCase("RaxelPoseFromVideo", "a mask of another size", {
        **_pose("clip.mp4"),
        "4": {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": 48, "height": 32}},
        "2": {"class_type": "RaxelPoseFromVideo", "inputs": {"video": ["1", 0], "focal_px": 0.0, "seed": 0,
                                                              "mask": ["4", 0]}}}),
    NodeCase("RaxelPoseFromVideo", "oversized frames (memory guard)", _pose(HUGE_VIDEO)),
    NodeCase("RaxelPoseFromVideo", "pixel aspect 0.1 (neither 0 = estimate nor 0.25-4)", {
        **_pose("clip.mp4"),
        "2": {"class_type": "RaxelPoseFromVideo", "inputs": {"video": ["1", 0], "focal_px": 0.0, "seed": 0,
                                                              "pixel_aspect": 0.1}}}),
    NodeCase("RaxelPoseFromVideo", "pixel aspect estimated with a known focal", {
        **_pose("clip.mp4"),
        "2": {"class_type": "RaxelPoseFromVideo", "inputs": {"video": ["1", 0], "focal_px": 300.0, "seed": 0,
                                                              "pixel_aspect": 0.0}}}),
    NodeCase("RaxelPoseFromVideo", "no input connected", {
        "1": {"class_type": "RaxelPoseFromVideo", "inputs": {"focal_px": 0.0, "seed": 0}},
        "2": {"class_type": "RaxelTrajectoryPreview", "inputs": {"trajectory": ["1", 0], "width": 256,
                                                                  "height": 128}}}),
    NodeCase("RaxelEncode", "oversized raxel size (memory guard)", {
        "1": _trajectory(frames=4096),
        "2": {"class_type": "RaxelEncode", "inputs": {"trajectory": ["1", 0], "reference": 0, "raxel_width": 8192,
                                                       "raxel_height": 8192}},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}}),
    NodeCase("RaxelCameraTrajectory", "keyframes not JSON", {
        "1": _trajectory(preset="keyframes", keyframes="[{"),
        "2": {"class_type": "RaxelTrajectoryPreview", "inputs": {"trajectory": ["1", 0], "width": 256,
                                                                  "height": 128}}}, stage="queue"),
    NodeCase("RaxelTracksFromJSON", "not JSON", _tracks("{not json"), stage="queue"),
    NodeCase("RaxelTracksFromJSON", "NaN coordinate", _tracks('[[{"x": NaN, "y": 1}, {"x": 2, "y": 2}]]'),
             stage="queue"),
    NodeCase("RaxelTracksFromJSON", "tracks of different lengths",
             _tracks('[[{"x": 1, "y": 1}, {"x": 2, "y": 2}], [{"x": 1, "y": 1}]]'), stage="queue"),
    NodeCase("RaxelTracksFromJSON", "oversized JSON (17 MiB)", _tracks("[" + " " * (17 * 2**20) + "]"),
             stage="queue"),
    NodeCase("RaxelSaveTrajectory", "outside the output folder", {
        "1": _trajectory(frames=4),
        "2": {"class_type": "RaxelSaveTrajectory", "inputs": {"trajectory": ["1", 0],
                                                               "filename_prefix": "../../escaped",
                                                               "format": "raxel"}}}),
)


def make_node_inputs(folder: Path) -> None:
    """The files the node cases read, written into ComfyUI's input folder ``folder``."""
    make_inputs(folder)
    (folder / "notes.mp4").write_text("meeting notes\n")
    write_huge_video(folder / HUGE_VIDEO)


def write_huge_video(path: Path, frames: int = HUGE_VIDEO_FRAMES, side: int = HUGE_VIDEO_SIDE) -> Path:
    """A real video whose frames no machine decodes into memory: ``frames`` grey ``side`` x ``side`` PNG frames
    in a QuickTime file (a few MB; about half a minute, one frame is encoded and its packet muxed ``frames``
    times). ffmpeg decodes frames up to about 268 M pixels (``av_image_check_size``): 16000 x 16000 is one."""
    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("png", rate=8)
        stream.width, stream.height, stream.pix_fmt = side, side, "gray"
        frame = av.VideoFrame.from_ndarray(np.full((side, side), 128, np.uint8), format="gray")
        (packet,) = [*stream.encode(frame), *stream.encode()]
        data, time_base = bytes(packet), packet.time_base
        for k in range(frames):
            copy = av.Packet(data)
            copy.stream, copy.pts, copy.dts, copy.time_base, copy.is_keyframe = stream, k, k, time_base, True
            container.mux(copy)
    return path


def make_inputs(folder: Path) -> None:
    """Write every input file the cases name into ``folder`` (a few MB, a few seconds)."""
    import numpy as np

    from raxel_core.formats import write_trajectory
    from raxel_core.rays.raxel_encode import encode_raxels
    from raxel_core.rays.raxel_files import save_raxel_pngs
    from raxel_core.synthetic.room_trajectories import default_demo_trajectory
    from raxel_core.video_io import write_video

    folder = Path(folder)
    cams = default_demo_trajectory(num_frames=6)
    write_trajectory(cams, folder / "good.json")
    write_trajectory(default_demo_trajectory(num_frames=4), folder / "other_trajectory.json")
    lines = ["https://example.com/clip"]
    for k in range(4):
        lines.append(f"{k * 1000} 0.5 0.9 0.5 0.5 0 0 1 0 0 {k * 0.1} 0 1 0 0 0 0 1 0")
    (folder / "good.txt").write_text("\n".join(lines) + "\n")
    (folder / "nan.txt").write_text("\n".join(lines[:2] + [lines[2].replace(" 0.1 ", " nan ")]) + "\n")
    doc = json.loads((folder / "good.json").read_text())
    doc["frames"][1]["t"][0] = float("inf")
    (folder / "inf.json").write_text(json.dumps(doc))       # Python writes it as the bare word Infinity
    (folder / "empty.txt").write_bytes(b"")
    (folder / "empty.json").write_bytes(b"")
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (folder / "notes.txt").write_text("meeting notes\n")
    (folder / "notes.json").write_text("meeting notes\n")
    with open(folder / "huge.json", "wb") as handle:      # sparse: its size, not its bytes, is checked
        handle.truncate(300 * 1024 * 1024)
    (folder / "folder.json").mkdir()
    (folder / "empty_dir").mkdir()
    (folder / "full").mkdir()
    (folder / "full" / "old.png").write_bytes(b"x")
    (folder / "bad_frames").mkdir()
    (folder / "bad_frames" / "0001.png").write_text("not a png")
    (folder / "bad_raxels").mkdir()
    (folder / "bad_raxels" / "raxels.json").write_text("{not json")
    save_raxel_pngs(encode_raxels(cams, size=(16, 24)), folder / "raxels_ok")
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (6, 64, 96, 3), dtype=np.uint8)
    write_video(folder / "clip.mp4", frames, fps=8.0)
    write_video(folder / "one_frame.mp4", frames[:1], fps=8.0)
    from PIL import Image

    Image.fromarray(frames[0]).save(folder / "frame.png")
    (folder / "frames").mkdir()
    for k, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / "frames" / f"{k:04d}.png")
    for name, masks in (("masks_small", np.zeros((6, 32, 48), np.uint8)),
                        ("masks_three", np.zeros((3, 64, 96), np.uint8)),
                        ("masks_full", np.full((1, 64, 96), 255, np.uint8))):
        (folder / name).mkdir()
        for k, mask in enumerate(masks):
            Image.fromarray(mask).save(folder / name / f"{k:04d}.png")
    (folder / "videos").mkdir()
    write_video(folder / "videos" / "a.mp4", frames, fps=8.0)
    (folder / "broken_videos").mkdir()
    (folder / "broken_videos" / "broken.mp4").write_bytes((folder / "videos" / "a.mp4").read_bytes()[:3000])
    (folder / "poses").mkdir()
    (folder / "poses" / "a.txt").write_text((folder / "good.txt").read_text())
    (folder / "workflow.json").write_text(json.dumps({"1": {"class_type": "RaxelCameraTrajectory", "inputs": {}}}))
    config = json.loads((Path(__file__).resolve().parents[1] / "configs" / "train_tiny.json").read_text())
    config["checkpoint_dir"] = "ckpt"
    (folder / "config_ok.json").write_text(json.dumps(config))
    (folder / "config_badtype.json").write_text(json.dumps(dict(config, steps="many")))


def run_case(case: Case, folder: Path) -> tuple[int, str]:
    """``(exit status, stderr)`` of ``raxel ARGV...`` run in-process in ``folder`` (with ``case.env``)."""
    from raxel_core.cli import main

    old_cwd, old_env = os.getcwd(), {k: os.environ.get(k) for k in case.env}
    err, out = io.StringIO(), io.StringIO()
    os.chdir(folder)
    os.environ.update(case.env)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                status = main(list(case.argv))
            except SystemExit as exc:     # argparse's own usage errors
                status = exc.code
    finally:
        os.chdir(old_cwd)
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return status, err.getvalue()


def user_line(stderr: str) -> str:
    """The line a user reads: the last non-empty line of stderr (argparse prints its usage above it)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else ""


#: Lines a progress bar leaves on stderr before an error (``label [#####    ]  42%``).
PROGRESS_LINE = re.compile(r"^.*\[[# ]{25}\]\s+\d+%$")


def message_lines(stderr: str) -> list[str]:
    """The non-empty stderr lines that are not progress bars (each bar redraw split at ``\\r``)."""
    lines = [part for line in stderr.splitlines() for part in line.split("\r")]
    return [line for line in lines if line.strip() and not PROGRESS_LINE.match(line)]


def normalise(text: str, folder: Path) -> str:
    """``text`` with the scratch folder's path written ``<tmp>`` (the table must not hold it)."""
    return text.replace(str(Path(folder).resolve()), "<tmp>").replace(str(folder), "<tmp>")


HEADER = """# Bad input: what a user sees

Generated by `PYTHONPATH=$PWD python tests/bad_input_cases.py --write` from the cases in
tests/bad_input_cases.py; tests/test_bad_input.py runs every command-line case and fails when a
message or an exit status differs from this table, tests/test_bad_input_nodes.py does the same for the
node cases through a real ComfyUI server (and checks that the server keeps serving after each).
Every command-line error is one line on stderr, exit status 2 (Ctrl-C: one line, status 130; see
tests/test_interrupt_and_atomic.py). Files live in a scratch folder (`<tmp>`); `raxel` runs there.
"""


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_cli_table(results: dict[str, tuple[int, str]]) -> str:
    """Markdown rows of :data:`CASES` with their ``(status, message)``."""
    rows = ["| command | case | command line | exit | what the user sees (stderr) |", "|---|---|---|---|---|"]
    for case in CASES:
        status, message = results[case.id]
        env = " ".join(f"{k}={v}" for k, v in case.env.items())
        line = (env + " " if env else "") + "raxel " + " ".join(case.argv)
        rows.append(f"| {case.command} | {cell(case.kind)} | `{cell(line)}` | {status} | {cell(message)} |")
    return "\n".join(rows) + "\n"


def render_node_table(results: dict[str, str]) -> str:
    """Markdown rows of :data:`NODE_CASES` with the message ComfyUI shows."""
    rows = ["| node | case | stage | what the user sees (ComfyUI's error) |", "|---|---|---|---|"]
    for case in NODE_CASES:
        stage = "execution_error" if case.stage == "run" else "refused on queueing (HTTP 400)"
        rows.append(f"| {case.node} | {cell(case.kind)} | {stage} | {cell(results[case.id])} |")
    return "\n".join(rows) + "\n"


def split_table(text: str) -> dict[str, str]:
    """``{"## heading": section text}`` of ``BAD_INPUT.md`` (the text before the first heading under "")."""
    sections, name = {"": []}, ""
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            name = line.strip()
            sections[name] = []
        sections[name].append(line)
    return {k: "".join(v) for k, v in sections.items()}


def table_rows(section: str) -> list[list[str]]:
    """The cells of each data row of a Markdown table section (``\\|`` kept as ``|``)."""
    rows = []
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("| command") and not line.startswith("| node"):
            cells = re.split(r"(?<!\\)\|", line.strip()[1:-1])
            rows.append([c.strip().replace("\\|", "|") for c in cells])
    return rows


CLI_HEADING = "## Command line (`raxel`)"
NODE_HEADING = "## Nodes (through a real ComfyUI server)"


def run_all(folder: Path) -> dict[str, tuple[int, str]]:
    """Run every case in ``folder``; ``{case id: (status, normalised last message line)}``."""
    results = {}
    for case in CASES:
        status, stderr = run_case(case, folder)
        lines = message_lines(stderr)
        results[case.id] = (status, normalise(lines[-1] if lines else "", folder))
    return results


def write_table(cli_section: str | None = None, node_section: str | None = None) -> None:
    """Rewrite :data:`TABLE`, replacing the sections given and keeping the others."""
    old = split_table(TABLE.read_text()) if TABLE.is_file() else {}
    cli = cli_section or old.get(CLI_HEADING, CLI_HEADING + "\n")
    nodes = node_section or old.get(NODE_HEADING, NODE_HEADING + "\n\n(run tests/test_bad_input_nodes.py with "
                                                   "RAXEL_WRITE_BAD_INPUT=1 to fill)\n")
    TABLE.write_text(HEADER + "\n" + cli.rstrip("\n") + "\n\n" + nodes.rstrip("\n") + "\n")


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        make_inputs(Path(tmp))
        results = run_all(Path(tmp))
    for key, (status, message) in results.items():
        print(f"{key:45s} {status} {message}")
    if "--write" in sys.argv:
        write_table(cli_section=CLI_HEADING + "\n\n" + render_cli_table(results))
        print(f"wrote {TABLE}")
