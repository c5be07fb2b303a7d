"""Property-based fuzzing (hypothesis) of every parser of the pack: the trajectory file formats
(RealEstate10K, MotionCtrl, nerfstudio, COLMAP text, LLFF ``poses_bounds.npy``, the pack's raxel JSON,
and :func:`read_trajectory`'s detection of ``.json`` files), the keyframes JSON of the keyframe node and
the tracks JSON of ``RaxelTracksFromJSON``.

The property: any input, from arbitrary bytes to near-valid files (real files from ``../shared/data``
and files the pack's writers make of real trajectories, mutated token by token, line by line and byte by
byte), gives either a result or a one-line ``ValueError`` that names the file (and, for a text line or
a JSON syntax error, the line); never another exception, and never more than one second per input
(hypothesis ``deadline``).

Examples per test: ``RAXEL_FUZZ_EXAMPLES`` (default 100, derandomized so CI runs the same inputs every
time; with the variable set, the run is random and the number is per test, e.g.
``RAXEL_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz_parsers.py``).
"""
from __future__ import annotations

import functools
import io
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from shared_data import DATA

from raxel_core.authoring.keyframes import EXAMPLE_JSON, parse_keyframes_json
from raxel_core.cameras import Cameras
from raxel_core.formats import (
    read_colmap,
    read_llff,
    read_motionctrl,
    read_nerfstudio,
    read_raxel_json,
    read_realestate10k,
    read_trajectory,
    write_colmap,
    write_nerfstudio,
    write_raxel_json,
)
from raxel_core.interop import Tracks2D, tracks_from_json, tracks_to_json

EXAMPLES = int(os.environ.get("RAXEL_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=1000,  # milliseconds: the "never more than a second per input" of the claim
    derandomize="RAXEL_FUZZ_EXAMPLES" not in os.environ,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

RE10K_POSES = sorted((DATA / "re10k" / "poses").glob("*.txt"))[:3]
MOTIONCTRL = sorted((DATA / "trajectories" / "motionctrl").glob("*/*.json"))[:4]
LLFF = DATA / "llff_fern" / "poses_bounds.npy"

# --------------------------------------------------------------------------- the property


def check(call, *names: str, line_rule: re.Pattern | None = None):
    """Run ``call()``; it must return or raise a one-line ``ValueError`` naming one of ``names``
    (and matching ``line_rule`` when given). Any other exception fails the test with its type."""
    try:
        return call()
    except ValueError as err:
        message = str(err)
        assert "\n" not in message, f"a multi-line error: {message!r}"
        assert any(name in message for name in names), f"error does not name {names}: {message!r}"
        if line_rule is not None:
            assert line_rule.search(message), f"error does not name the line: {message!r}"
        return None


def json_syntax_ok(data: bytes) -> bool:
    try:
        json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError):
        return False
    return True


# --------------------------------------------------------------------------- input strategies

#: Tokens a mutation puts in place of a number: the edges of float parsing and of JSON.
ODD_TOKENS = [
    "0", "-0", "1", "-1", "2", "nan", "NaN", "-nan", "inf", "-inf", "Infinity", "-Infinity", "1e308", "1e309",
    "-1e400", "4.9e-324", "1e-320", "9" * 400, "1" * 4400, "0x10", "1_0", "", "abc", "\x00", "\u0663",
    "1e", "+", ".", "true", "null", "[]", "{}", '"x"', "[[", "]]", "}", ",", "#", "\n", "\r", "\t",
    "123456789012345678901234567890", "-9223372036854775809", "18446744073709551616",
]
NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


@st.composite
def mutated(draw, seeds):
    """One of ``seeds`` (bytes) with 1-4 mutations: a number replaced by an odd token, a line dropped
    / duplicated / swapped, random bytes inserted, a byte flipped, the file truncated."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["token", "token", "token", "drop", "dup", "swap", "insert", "flip", "cut"]))
        if op == "token":
            spans = [m.span() for m in NUMBER.finditer(bytes(data))]
            if spans:
                a, b = draw(st.sampled_from(spans))
                data[a:b] = draw(st.sampled_from(ODD_TOKENS)).encode("utf-8")
        elif op in ("drop", "dup", "swap"):
            lines = bytes(data).split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            if op == "drop":
                del lines[i]
            elif op == "dup":
                lines.insert(j, lines[i])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            data = bytearray(b"\n".join(lines))
        elif op == "insert":
            at = draw(st.integers(0, len(data)))
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "flip" and data:
            at = draw(st.integers(0, len(data) - 1))
            data[at] = draw(st.integers(0, 255))
        elif op == "cut":
            data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


NUMBERS = st.one_of(
    st.integers(-3, 3),
    st.integers(),
    st.sampled_from([10**20, -(10**20), 10**308, 10**309, 10**400, 2**63, -(2**63) - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-320, 1e308, 0.5]),
)
KEYS = st.sampled_from(
    ["frame", "position", "look_at", "rotation", "euler_deg", "fov", "keyframes", "x", "y", "visible",
     "format", "version", "convention", "image_size", "fps", "frames", "K", "R", "t", "metadata",
     "transform_matrix", "file_path", "fl_x", "fl_y", "cx", "cy", "w", "h", "k1", "p2", "applied_transform"]
) | st.text(max_size=6)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | NUMBERS | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)


def dumps(value) -> bytes:
    """JSON text of ``value``, NaN / Infinity as Python writes them (what a foreign tool may write too)."""
    return json.dumps(value, allow_nan=True).encode("utf-8")


def containers_of(node) -> list:
    """Every non-empty list and dict of a parsed JSON document, depth first."""
    if not isinstance(node, (list, dict)) or not node:
        return []
    children = node.values() if isinstance(node, dict) else node
    return [node] + [c for child in children for c in containers_of(child)]


@st.composite
def edited_json(draw, seeds):
    """A parsed seed document with 1-3 edits: a value anywhere in the tree replaced by any JSON value,
    a key deleted, a list item dropped or duplicated."""
    doc = json.loads(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 3))):
        containers = containers_of(doc)
        if not containers:
            break
        node = draw(st.sampled_from(containers))
        keys = sorted(node) if isinstance(node, dict) else list(range(len(node)))
        key = draw(st.sampled_from(keys))
        op = draw(st.sampled_from(["replace", "replace", "delete", "dup"]))
        if op == "replace":
            node[key] = draw(JSON_VALUES)
        elif op == "delete":
            del node[key]
        elif isinstance(node, list):
            node.insert(key, node[key])
    return dumps(doc)


ANY_BYTES = st.binary(max_size=3000)

# Inputs that broke the parsers before this fuzzing (each ran as an @example on every run, see the note):
#: not UTF-8: a bare UnicodeDecodeError message without the line
NOT_UTF8 = b"[[1, 0, 0, 0,\n\x80"
#: nesting deeper than the JSON parser's recursion limit: RecursionError
DEEP = b"[" * 100_000
#: an integer beyond Python's 4300-digit conversion limit: a bare ValueError without file or line
LONG_INT = b"[[" + b"1" * 5000 + b", 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]]"
#: an integer beyond float64: OverflowError in float() / torch.tensor / math.isfinite
HUGE_INT = b"[[" + b"9" * 400 + b", 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]]"
IDENTITY_4X4 = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]

# --------------------------------------------------------------------------- seeds (real data)


@pytest.fixture(scope="module")
def folder():
    """The folder the inputs are written to; the seeds are made here, before any deadline runs."""
    written()
    path = Path(tempfile.mkdtemp(prefix="raxel-fuzz-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def real_cameras() -> list[Cameras]:
    """Real trajectories: RealEstate10K clips (non-square pixels) and the LLFF fern photos."""
    cams = [read_realestate10k(p, image_size=(256, 384)) for p in RE10K_POSES[:2]]
    if LLFF.is_file():
        cams.append(read_llff(LLFF, downscale=8))
    return cams


def written_seeds(folder: Path, writer, name: str) -> list[bytes]:
    seeds = []
    for k, cams in enumerate(real_cameras()):
        path = folder / f"seed{k}_{name}"
        writer(cams, path)
        seeds.append(path.read_bytes())
    return seeds


@functools.lru_cache(maxsize=1)
def written() -> dict:
    """Files the pack's writers make of the real trajectories (written once, in a folder removed at once)."""
    if not RE10K_POSES:
        return {}
    folder = Path(tempfile.mkdtemp(prefix="raxel-fuzz-seeds-"))
    try:
        return {
            "nerfstudio": written_seeds(folder, write_nerfstudio, "transforms.json"),
            "raxel": written_seeds(folder, write_raxel_json, "trajectory.json"),
            "colmap": colmap_seeds(folder),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def need(paths, what: str):
    if not paths:
        pytest.skip(f"{what} not found under {DATA} (shared data not available; set RAXEL_SHARED_DATA)")


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


#: a JSON error names the line, except for nesting too deep for the parser (no one line is at fault)
LINE = re.compile(r"\bline|nested more deeply")
# RealEstate10K errors that concern the whole file rather than one line
RE10K_FILE_LEVEL = re.compile(r"\bline|not a UTF-8|no camera lines")

# --------------------------------------------------------------------------- RealEstate10K


def read_re10k(folder: Path, data: bytes):
    path = write(folder, "clip.txt", data)
    check(lambda: read_realestate10k(path, image_size=(256, 384)), "clip.txt", line_rule=RE10K_FILE_LEVEL)
    check(lambda: read_trajectory(path), "clip.txt", line_rule=RE10K_FILE_LEVEL)


@FUZZ
@given(data=ANY_BYTES)
def test_realestate10k_any_bytes(folder, data):
    read_re10k(folder, data)


@FUZZ
@given(data=st.data())
def test_realestate10k_mutated_real_files(folder, data):
    need(RE10K_POSES, "RealEstate10K pose files")
    read_re10k(folder, data.draw(mutated([p.read_bytes() for p in RE10K_POSES])))


# --------------------------------------------------------------------------- MotionCtrl


@FUZZ
@given(data=ANY_BYTES)
@example(data=NOT_UTF8)
@example(data=DEEP)
@example(data=LONG_INT)
@example(data=HUGE_INT)
def test_motionctrl_any_bytes(folder, data):
    path = write(folder, "rt.json", data)
    check(lambda: read_motionctrl(path), "rt.json", line_rule=None if json_syntax_ok(data) else LINE)


@FUZZ
@given(data=st.data())
def test_motionctrl_mutated_real_files(folder, data):
    need(MOTIONCTRL, "MotionCtrl trajectories")
    seeds = [p.read_bytes() for p in MOTIONCTRL]
    raw = data.draw(st.one_of(mutated(seeds), edited_json(seeds)))
    path = write(folder, "rt.json", raw)
    check(lambda: read_motionctrl(path), "rt.json", line_rule=None if json_syntax_ok(raw) else LINE)
    check(lambda: read_trajectory(path), "rt.json")


# --------------------------------------------------------------------------- nerfstudio


@FUZZ
@given(data=ANY_BYTES)
@example(data=DEEP)
@example(data=LONG_INT)
def test_nerfstudio_any_bytes(folder, data):
    path = write(folder, "transforms.json", data)
    check(lambda: read_nerfstudio(path), "transforms.json", line_rule=None if json_syntax_ok(data) else LINE)


@FUZZ
@given(data=st.data())
def test_nerfstudio_mutated_written_files(folder, data):
    need(RE10K_POSES, "RealEstate10K pose files")
    raw = data.draw(st.one_of(mutated(written()["nerfstudio"]), edited_json(written()["nerfstudio"])))
    path = write(folder, "transforms.json", raw)
    check(lambda: read_nerfstudio(path), "transforms.json", line_rule=None if json_syntax_ok(raw) else LINE)
    check(lambda: read_trajectory(path), "transforms.json")


# --------------------------------------------------------------------------- raxel JSON


@FUZZ
@given(data=ANY_BYTES)
@example(data=DEEP)
@example(data=LONG_INT)
def test_raxel_json_any_bytes(folder, data):
    path = write(folder, "trajectory.json", data)
    check(lambda: read_raxel_json(path), "trajectory.json", line_rule=None if json_syntax_ok(data) else LINE)
    check(lambda: read_trajectory(path), "trajectory.json")


@FUZZ
@given(data=st.data())
def test_raxel_json_mutated_written_files(folder, data):
    need(RE10K_POSES, "RealEstate10K pose files")
    raw = data.draw(st.one_of(mutated(written()["raxel"]), edited_json(written()["raxel"])))
    path = write(folder, "trajectory.json", raw)
    check(lambda: read_raxel_json(path), "trajectory.json", line_rule=None if json_syntax_ok(raw) else LINE)
    check(lambda: read_trajectory(path), "trajectory.json")


@FUZZ
@given(value=JSON_VALUES)
@example(value={"fl_x": 100, "fl_y": 100, "cx": 50, "cy": 50, "w": 100, "h": float("inf"),
                "frames": [{"file_path": "a.png", "transform_matrix": IDENTITY_4X4}]})  # OverflowError
@example(value={"fl_x": 100, "fl_y": 100, "cx": 50, "cy": 50, "w": float("nan"), "h": 100,
                "frames": [{"file_path": "a.png", "transform_matrix": IDENTITY_4X4}]})  # bare ValueError
@example(value={"format": "raxel-trajectory", "version": 1, "convention": "opencv_w2c", "image_size": [32, 48],
                "frames": [{"K": [[10**300, 0, 24], [0, 10, 16], [0, 0, 1]], "R": IDENTITY_4X4[:3], "t": [0, 0, 0]}]})
def test_json_detection_any_document(folder, value):
    """Any JSON document through :func:`read_trajectory`'s content detection and the three readers."""
    path = write(folder, "any.json", dumps(value))
    for read in (read_trajectory, read_raxel_json, read_motionctrl, read_nerfstudio):
        check(lambda read=read: read(path), "any.json")


# --------------------------------------------------------------------------- COLMAP text


#: A COLMAP error names the line, unless it is about the whole model (no cameras / images, a name twice,
#: cameras of different sizes).
COLMAP_RULE = re.compile(r"line \d+|no cameras|no images|appears twice|different sizes")


def read_colmap_folder(folder: Path, cameras_txt: bytes, images_txt: bytes):
    model = folder / "model"
    model.mkdir(exist_ok=True)
    write(model, "cameras.txt", cameras_txt)
    write(model, "images.txt", images_txt)
    check(lambda: read_colmap(model), "model", "cameras.txt", "images.txt", line_rule=COLMAP_RULE)
    check(lambda: read_trajectory(model), "model", "cameras.txt", "images.txt", line_rule=COLMAP_RULE)


def colmap_seeds(folder: Path) -> list[tuple[bytes, bytes]]:
    seeds = []
    for k, cams in enumerate(real_cameras()):
        model = folder / f"seed{k}_colmap"
        write_colmap(cams, model)
        seeds.append(((model / "cameras.txt").read_bytes(), (model / "images.txt").read_bytes()))
    # one camera per frame (per-frame K), as COLMAP writes for non-shared intrinsics
    model = folder / "seed_per_frame_colmap"
    write_colmap(real_cameras()[0], model, shared_camera=False)
    seeds.append(((model / "cameras.txt").read_bytes(), (model / "images.txt").read_bytes()))
    return seeds


COLMAP_IMAGE = b"1 1 0 0 0 0 0 0 1 a.png\n\n"


@FUZZ
@given(cameras_txt=ANY_BYTES, images_txt=ANY_BYTES)
@example(cameras_txt=b"1 PINHOLE inf 256 100 100 50 50\n", images_txt=COLMAP_IMAGE)  # OverflowError
@example(cameras_txt=b"1 PINHOLE nan 256 100 100 50 50\n", images_txt=COLMAP_IMAGE)  # bare ValueError
@example(cameras_txt=b"1 PINHOLE 384 256 nan 100 50 50\n", images_txt=COLMAP_IMAGE)  # error without the line
@example(cameras_txt=b"\x80", images_txt=COLMAP_IMAGE)  # UnicodeDecodeError text without the line
def test_colmap_any_bytes(folder, cameras_txt, images_txt):
    read_colmap_folder(folder, cameras_txt, images_txt)


@FUZZ
@given(data=st.data())
def test_colmap_mutated_written_models(folder, data):
    need(RE10K_POSES, "RealEstate10K pose files")
    cameras_txt, images_txt = data.draw(st.sampled_from(written()["colmap"]))
    which = data.draw(st.sampled_from(["cameras", "images", "both"]))
    if which in ("cameras", "both"):
        cameras_txt = data.draw(mutated([cameras_txt]))
    if which in ("images", "both"):
        images_txt = data.draw(mutated([images_txt]))
    model = folder / "model"
    model.mkdir(exist_ok=True)
    write(model, "cameras.txt", cameras_txt)
    write(model, "images.txt", images_txt)
    check(lambda: read_colmap(model), "model", "cameras.txt", "images.txt", line_rule=COLMAP_RULE)


# --------------------------------------------------------------------------- LLFF poses_bounds.npy


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


@st.composite
def npy_arrays(draw):
    """``.npy`` files of arrays of any dtype family and a near-(N, 17) shape, values from the edges."""
    dtype = draw(st.sampled_from(["<f8", ">f8", "<f4", "<f2", "<i8", "<u1", "|b1", "<c16", "<U3", "|S2", "<M8[s]"]))
    shape = draw(st.sampled_from([(0, 17), (1, 17), (3, 17), (3, 16), (3, 18), (17,), (3, 17, 1), (), (2, 3, 5)]))
    count = int(np.prod(shape))
    if dtype[1] in "fc":
        values = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=16 if dtype == "<f2" else 64),
                               min_size=count, max_size=count))
        array = np.array(values, dtype=np.float64).astype(dtype).reshape(shape)
    elif dtype[1] in "iub":
        values = draw(st.lists(st.integers(0, 255), min_size=count, max_size=count))
        array = np.array(values).astype(dtype).reshape(shape)
    else:
        array = np.zeros(shape, dtype=dtype)
    return npy_bytes(array)


def read_npy(folder: Path, data: bytes):
    path = write(folder, "poses_bounds.npy", data)
    check(lambda: read_llff(path), "poses_bounds.npy")
    check(lambda: read_llff(path, downscale=8), "poses_bounds.npy")
    check(lambda: read_trajectory(path, image_size=(378, 504)), "poses_bounds.npy")


@FUZZ
@given(data=ANY_BYTES)
@example(data=b"")  # EOFError
@example(data=b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f9'}\n")  # SyntaxError / TokenError from the header
@example(data=b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f8'\n")
def test_llff_any_bytes(folder, data):
    read_npy(folder, data)


@FUZZ
@example(data=npy_bytes(np.zeros((2, 17), dtype="<U3")))  # string array: bare ValueError in astype
@given(data=st.one_of(npy_arrays(), st.builds(lambda b: b"\x93NUMPY\x01\x00" + b, st.binary(max_size=200))))
def test_llff_arrays_of_any_type_and_shape(folder, data):
    read_npy(folder, data)


@FUZZ
@given(data=st.data())
def test_llff_mutated_real_file(folder, data):
    need([LLFF] if LLFF.is_file() else [], "LLFF fern poses_bounds.npy")
    raw = LLFF.read_bytes()
    array = np.load(LLFF, allow_pickle=False)
    raw = data.draw(
        st.one_of(
            mutated([raw]),  # header and payload bytes (the header is text: shape, dtype, order)
            st.builds(  # one value of the real array replaced by an edge value
                lambda i, v: npy_bytes(np.where(np.arange(array.size).reshape(array.shape) == i, v, array)),
                st.integers(0, array.size - 1),
                st.sampled_from([0.0, -1.0, np.nan, np.inf, -np.inf, 1e308, 1e-320, 3024.5]),
            ),
        )
    )
    read_npy(folder, raw)


# --------------------------------------------------------------------------- keyframes JSON (node widget text)

KEYFRAME_SEEDS = [
    EXAMPLE_JSON.encode(),
    b'{"keyframes": [{"frame": 0, "position": [0, 0, 0], "look_at": [0, 0, 4]}]}',
    b'[{"frame": 3, "position": [1, 2, 3], "rotation": [[1,0,0],[0,1,0],[0,0,1]]},\n'
    b' {"frame": 9, "position": [1, 2, 4], "euler_deg": [10, -5, 2], "fov": 35.5}]',
]


def parse_keyframes(text: str):
    """The keyframe node's parse (errors name the keyframe and field, or the JSON line)."""
    check(lambda: parse_keyframes_json(text), "keyframe")


@FUZZ
@given(data=ANY_BYTES)
@example(data=DEEP)
@example(data=b'[{"frame": ' + b"1" * 5000 + b', "position": [0, 0, 0], "look_at": [0, 0, 1]}]')
@example(data=b'[{"frame": ' + b"9" * 400 + b', "position": [0, 0, 0], "look_at": [0, 0, 1]}]')
@example(data=b'[{"frame": 0, "position": [' + b"9" * 400 + b', 0, 0], "look_at": [0, 0, 1]}]')
def test_keyframes_any_bytes(data):
    text = data.decode("utf-8", errors="replace")
    parse_keyframes(text)
    if not json_syntax_ok(text.encode("utf-8")):
        check(lambda: parse_keyframes_json(text), "keyframe", line_rule=LINE)


@FUZZ
@given(data=st.data())
def test_keyframes_mutated_and_edited(data):
    raw = data.draw(st.one_of(mutated(KEYFRAME_SEEDS), edited_json(KEYFRAME_SEEDS), JSON_VALUES.map(dumps)))
    parse_keyframes(raw.decode("utf-8", errors="replace"))


# --------------------------------------------------------------------------- tracks JSON (RaxelTracksFromJSON)


def tracks_seeds() -> list[bytes]:
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 300, size=(5, 4, 2)).astype(np.float32)
    visible = rng.uniform(size=(5, 4)) > 0.3
    return [tracks_to_json(Tracks2D(points, visible)).encode(), b'[{"x": 1, "y": 2}, {"x": 3.5, "y": 4}]']


def parse_tracks(raw):
    check(lambda: tracks_from_json(raw), "track")


@FUZZ
@given(data=ANY_BYTES)
@example(data=b"\xff")  # UnicodeDecodeError from json.loads(bytes)
@example(data=DEEP)
@example(data=b'[[{"x": ' + b"9" * 400 + b', "y": 1}]]')  # OverflowError in float()
@example(data=b'[[{"x": ' + b"1" * 5000 + b', "y": 1}]]')
def test_tracks_any_bytes(data):
    parse_tracks(data)
    parse_tracks(data.decode("utf-8", errors="replace"))
    if not json_syntax_ok(data):
        check(lambda: tracks_from_json(data), "track", line_rule=LINE)


@FUZZ
@given(data=st.data())
def test_tracks_mutated_and_edited(data):
    seeds = tracks_seeds()
    raw = data.draw(st.one_of(mutated(seeds), edited_json(seeds), JSON_VALUES.map(dumps)))
    parse_tracks(raw)
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):
        return
    parse_tracks(parsed)  # the node also takes already-parsed data


def test_tracks_already_parsed_with_an_integer_beyond_float():
    """Found by the 800-example run: parsed JSON (not through parse_json) holding a 400-digit integer
    raised OverflowError from float()."""
    with pytest.raises(ValueError, match="track 0 frame 0: 'x' is an integer of 1329 bits"):
        tracks_from_json([[{"x": 10**400, "y": 1}]])


# --------------------------------------------------------------------------- a seed parses


def test_seeds_parse(folder):
    """The unmutated seeds are valid inputs, so the fuzzing starts next to the valid region."""
    need(RE10K_POSES, "RealEstate10K pose files")
    assert len(read_realestate10k(RE10K_POSES[0], image_size=(256, 384))) > 1
    for seed in written()["raxel"]:
        assert len(read_raxel_json(write(folder, "t.json", seed))) > 1
    for seed in written()["nerfstudio"]:
        assert len(read_nerfstudio(write(folder, "transforms.json", seed))) > 1
    for seed in MOTIONCTRL:
        assert len(read_motionctrl(seed)) > 1
    for cameras_txt, images_txt in written()["colmap"]:
        model = folder / "model"
        model.mkdir(exist_ok=True)
        write(model, "cameras.txt", cameras_txt)
        write(model, "images.txt", images_txt)
        assert len(read_colmap(model)) > 1
    for seed in KEYFRAME_SEEDS:
        assert parse_keyframes_json(seed.decode())
    for seed in tracks_seeds():
        assert tracks_from_json(seed).num_frames >= 1
    if LLFF.is_file():
        assert len(read_llff(LLFF)) == 20
