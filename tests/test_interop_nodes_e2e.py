"""The interop nodes (nodes/interop_nodes.py) inside a real ComfyUI server: they load with docs and
tooltips, the export template writes a Blender script that compiles and a nerfstudio camera path
that reads back as the authored trajectory, CameraCtrl poses round trip through the two nodes, the
Load3D camera reaches core's Preview 3D, bad inputs are refused naming the problem (the server
serves the next prompt after), and RaxelCameraEmbedding equals core's WanCameraEmbedding on core's
presets and plugs into core's WanCameraImageToVideo.

Needs a ComfyUI checkout with its requirements (``RAXEL_COMFYUI_DIR``; ``RAXEL_COMFYUI_SHIMS``
optional), exactly as tests/test_comfyui_e2e.py; the server fixture is tests/conftest.py's.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import build_workflows
import pytest
import torch
from comfyui_server import COMFYUI_DIR, PACK_NAME, ROOT, SHIMS
from comfyui_server import api_node as _node

pytestmark = pytest.mark.comfyui("run the interop nodes inside a real ComfyUI server")


INTEROP_NODES = ["RaxelToCameraCtrlPoses", "RaxelFromCameraCtrlPoses", "RaxelToLoad3DCamera",
                 "RaxelTracksFromJSON", "RaxelExportBlender", "RaxelExportNerfstudioPath"]
EXPORT_TEMPLATE = "raxel_export_to_other_packs"


def _api_workflow(name: str) -> dict:
    return json.loads((ROOT / "workflows" / "api" / f"{name}.json").read_text())


def _written(entry: dict, node_id: str) -> Path:
    files = entry["outputs"][node_id]["trajectory_files"]
    assert len(files) == 1 and files[0]["type"] == "output", files
    return Path(files[0]["subfolder"]) / files[0]["filename"]


def _authored(widgets: dict):
    from raxel_core.authoring.trajectory_presets import make_preset
    return make_preset(widgets["preset"], widgets["frames"], magnitude=widgets["magnitude"] or None,
                       easing=widgets["easing"], image_size=(widgets["height"], widgets["width"]),
                       fov_y_deg=widgets["fov"], distance=widgets["distance"])


def _assert_same_cameras(a, b, tol: float):
    assert len(a) == len(b) and a.image_size == b.image_size
    for name in ("R", "t", "K"):
        diff = float((getattr(a, name) - getattr(b, name)).abs().max())
        assert diff < tol, f"{name} differs by {diff:.3g}"


def test_every_pack_node_has_description_tooltips_and_a_doc_page_naming_its_sockets(server):
    info = server.object_info
    pack = sorted(n for n in info if n.startswith("Raxel"))
    assert set(INTEROP_NODES) <= set(pack), f"not registered: {set(INTEROP_NODES) - set(pack)}"
    assert len(pack) >= 14, pack
    for name in pack:
        node = info[name]
        expected = ("raxel/interop" if name in INTEROP_NODES
                    else "raxel/pose" if name in ("RaxelPoseFromVideo", "RaxelPointTracks", "RaxelTracksTo4D")
                    else "raxel/model" if name in ("RaxelModelLoader", "RaxelJointSampler", "RaxelCameraTokens",
                                                 "RaxelTokensToCamera") else "raxel/camera")
        assert node["category"] == expected, name
        assert len(node["description"]) > 80, f"{name} has no real description"
        with urllib.request.urlopen(f"{server.url}/extensions/{PACK_NAME}/docs/{name}.md", timeout=30) as r:
            page = r.read().decode()
        assert r.status == 200 and page.startswith("# "), name
        inputs = page[page.index("## Inputs"):page.index("## Outputs")]
        outputs = page[page.index("## Outputs"):page.index("## Example")]
        for group in ("required", "optional"):
            for input_name, spec in node["input"].get(group, {}).items():
                assert len(spec) > 1 and len(spec[1].get("tooltip", "")) > 10, f"{name}.{input_name}: no tooltip"
                assert input_name in inputs, f"{name}.md does not describe input {input_name!r}"
        assert len(node["output_tooltips"]) == len(node["output"]), name
        assert all(t and len(t) > 10 for t in node["output_tooltips"]), f"{name}: output without a tooltip"
        for output_name in node["output_name"]:
            assert output_name in outputs, f"{name}.md does not describe output {output_name!r}"
    assert info["RaxelToLoad3DCamera"]["output"][0] == info["Preview3D"]["input"]["optional"]["camera_info"][0]
    templates = server.get("/api/workflow_templates")[PACK_NAME]
    assert build_workflows.ui_path(EXPORT_TEMPLATE).stem in templates, templates


def test_export_template_writes_files_that_read_back_as_the_trajectory(server):
    from raxel_core.dcc_export import blender_camera_keys, read_nerfstudio_camera_path
    from raxel_core.formats import read_trajectory
    from raxel_core.interop import to_load3d_camera

    prompt = _api_workflow(EXPORT_TEMPLATE)
    widgets = prompt["1"]["inputs"]
    # save the CameraCtrl round trip (node 5) so it can be compared with the authored path
    prompt["20"] = _node("RaxelSaveTrajectory", trajectory=["5", 0], filename_prefix="raxel/cameractrl_back")
    entry = server.run_ok(prompt)
    authored = _authored(widgets)

    # Blender: the script compiles and keys every frame with the library's values
    script_path = server.output / _written(entry, "2")
    assert script_path.suffix == ".py" and script_path.parent == server.output / "raxel"
    script = script_path.read_text()
    compile(script, str(script_path), "exec")
    key_lines = [line for line in script.splitlines() if line.startswith("key(")]
    assert len(key_lines) == len(authored)
    first = blender_camera_keys(authored)[0]
    assert key_lines[0].startswith(f"key(1, ({', '.join(repr(v) for v in first['location'])})")
    assert "scene.render.fps = 24" in script and f"scene.frame_end = {len(authored)}" in script

    # nerfstudio: the camera path reads back (as ns-render reads it) equal to the trajectory
    path_file = server.output / _written(entry, "3")
    assert path_file.name.endswith("_camera_path.json")
    back = read_nerfstudio_camera_path(path_file)
    _assert_same_cameras(back, authored, 1e-9)
    assert back.fps == 24.0

    # CameraCtrl: RaxelToCameraCtrlPoses -> RaxelFromCameraCtrlPoses at the same size is lossless
    round_trip = read_trajectory(server.output / _written(entry, "20"))
    _assert_same_cameras(round_trip, authored, 1e-9)

    # Load3D: Preview 3D received the library's LOAD3D_CAMERA of the last frame
    model_file, camera_info = entry["outputs"]["8"]["result"]
    assert model_file == ""
    expected = to_load3d_camera(authored, frame=-1, target_distance=prompt["7"]["inputs"]["target_distance"])
    assert camera_info["cameraType"] == "perspective" and camera_info["zoom"] == 1
    for key in ("position", "target"):
        for axis in "xyz":
            assert abs(camera_info[key][axis] - expected[key][axis]) < 1e-9, (key, axis)
    assert entry["outputs"]["6"]["images"], "the round-trip preview showed no image"


def test_cameractrl_poses_payload_is_the_library_layout(server):
    from raxel_core.interop import to_cameractrl_poses
    entry = server.run_ok({
        "1": _node("RaxelCameraTrajectory", preset="pan_left", frames=5, width=64, height=48),
        "2": {"class_type": "RaxelToCameraCtrlPoses", "inputs": {"trajectory": ["1", 0]}},
        "3": {"class_type": "PreviewAny", "inputs": {"source": ["2", 0]}},
    })
    shown = json.loads(entry["outputs"]["3"]["text"][0])  # PreviewAny shows lists as JSON
    expected = to_cameractrl_poses(_authored({**_node("RaxelCameraTrajectory")["inputs"],
                                              "preset": "pan_left", "frames": 5, "width": 64, "height": 48}))
    assert len(shown) == 5 and all(len(row) == 19 for row in shown)
    assert torch.allclose(torch.tensor(shown, dtype=torch.float64),
                          torch.tensor(expected, dtype=torch.float64), atol=1e-12)
    assert shown[0][5:7] == [64.0, 48.0]


@pytest.mark.parametrize("node_type,prefix", [
    ("RaxelExportBlender", "../../escaped"),
    ("RaxelExportNerfstudioPath", "../escaped/path"),
    ("RaxelExportBlender", "/tmp/escaped"),
])
def test_export_paths_outside_the_output_folder_are_refused_before_running(server, node_type, prefix):
    extra = {"camera_name": "RaxelCamera"} if node_type == "RaxelExportBlender" else {}
    code, body = server.post_prompt({
        "1": _node("RaxelCameraTrajectory", frames=4, width=64, height=64),
        "2": {"class_type": node_type,
              "inputs": {"trajectory": ["1", 0], "filename_prefix": prefix, "fps": 0.0, **extra}},
    })
    assert code == 400, body
    details = json.dumps(body["node_errors"])
    assert "output folder" in details and str(server.output.resolve()) in details, details
    assert ("resolves outside" in details) or ("absolute path" in details), details
    assert not list(server.base.parent.glob("escaped*")) and not Path("/tmp/escaped_00001_.py").exists()
    server.assert_healthy()


def test_anamorphic_trajectory_fails_the_blender_export_naming_the_frame(server):
    # from CameraCtrl poses with a 16:9 pose size read at a square size: fx != fy
    from raxel_core.authoring.trajectory_presets import make_preset
    from raxel_core.formats import write_trajectory
    from raxel_core.interop import from_cameractrl_poses, to_cameractrl_poses
    poses = to_cameractrl_poses(make_preset("pan_left", 5, image_size=(48, 64)), pose_size=(1280, 720))
    squashed = from_cameractrl_poses(poses, (64, 64), pose_size=(64, 64))
    write_trajectory(squashed, server.input / "anamorphic.json", format="raxel")
    error = server.run_error({
        "1": _node("RaxelLoadTrajectory", file="anamorphic.json"),
        "2": {"class_type": "RaxelExportBlender",
              "inputs": {"trajectory": ["1", 0], "filename_prefix": "raxel/bad", "camera_name": "C", "fps": 0.0}},
    })
    assert error["node_type"] == "RaxelExportBlender"
    assert "square pixels" in error["exception_message"] and "frame 0" in error["exception_message"]
    server.assert_healthy()


def test_tracks_json_is_read_and_malformed_json_is_refused_naming_the_track(server):
    good = json.dumps([[{"x": 10, "y": 20}, {"x": 12, "y": 21}, {"x": 14, "y": 22}],
                       [{"x": 100, "y": 50}, {"x": 98, "y": 50, "visible": False}, {"x": 96, "y": 51}]])
    entry = server.run_ok({"1": {"class_type": "RaxelTracksFromJSON", "inputs": {"tracks_json": good}}})
    assert entry["outputs"]["1"]["text"] == ["2 tracks x 3 frames, 83% of points visible"]

    cases = {
        '[[{"x": 1, "y": 2}, {"x": 3, "y": 4}], [{"x": 5, "y": 6}]]': ("track 1 has 1", "same number of frames"),
        '[[{"x": 1, "y": 2}, {"x": "a", "y": 4}]]': ("track 0 frame 1", "'x' must be a number"),
        '[[{"x": 1, "y": 2}': ("not valid JSON",),
    }
    for text, expected in cases.items():
        code, body = server.post_prompt({"1": {"class_type": "RaxelTracksFromJSON", "inputs": {"tracks_json": text}}})
        assert code == 400, body
        details = json.dumps(body["node_errors"])
        assert "tracks_json" in details and all(e in details for e in expected), (text, details)
    error = server.run_error({"1": {"class_type": "RaxelTracksFromJSON", "inputs": {"tracks_json": "  "}}})
    assert "has no tracks" in error["exception_message"]
    server.assert_healthy()


def test_load3d_frame_out_of_range_fails_naming_the_range(server):
    error = server.run_error({
        "1": _node("RaxelCameraTrajectory", frames=4, width=64, height=64),
        "2": {"class_type": "RaxelToLoad3DCamera",
              "inputs": {"trajectory": ["1", 0], "frame": 7, "target_distance": 1.0}},
        "3": {"class_type": "Preview3D", "inputs": {"model_file": "", "camera_info": ["2", 0]}},
    })
    assert "frame 7 is out of range" in error["exception_message"] and "4 frames" in error["exception_message"]
    server.assert_healthy()


# ----------------------------------------------------------------------------- Wan parity

_PARITY_SCRIPT = textwrap.dedent('''
    import importlib.util, json, sys
    root, comfy, shims = sys.argv[1], sys.argv[2], sys.argv[3]
    sys.path[:0] = [p for p in (shims, comfy) if p]
    spec = importlib.util.spec_from_file_location(
        "raxel_pack", f"{root}/__init__.py", submodule_search_locations=[root])
    pack = importlib.util.module_from_spec(spec)
    sys.modules["raxel_pack"] = pack
    spec.loader.exec_module(pack)
    import torch
    import comfy.cli_args
    comfy.cli_args.args.cpu = True  # as the server's --cpu: this machine may have no GPU
    from comfy_extras.nodes_camera_trajectory import CAMERA_DICT, WanCameraEmbedding
    from comfy_extras.nodes_wan import WanCameraImageToVideo
    from raxel_pack.nodes.raxel_nodes import RaxelCameraEmbedding
    from raxel_pack.raxel_core.rays.wan_embedding import WAN_CAMERA_PRESETS, wan_preset_cameras

    out = {"core_presets": [k for k in CAMERA_DICT if k not in ("base_T_norm", "base_angle")],
           "our_presets": list(WAN_CAMERA_PRESETS), "max_abs": {}, "scale": {}}
    width, height, length = 96, 64, 13
    ours_embedding = None
    for name in out["core_presets"]:
        core = WanCameraEmbedding.execute(name, width, height, length)[0]
        trajectory = wan_preset_cameras(name, length, width, height)
        ours = RaxelCameraEmbedding.execute(trajectory, width, height)
        ours_embedding = ours[0]
        assert tuple(ours[2:]) == (width, height, length), ours[2:]
        assert core.shape == ours[0].shape and core.dtype == ours[0].dtype, (core.shape, ours[0].shape)
        out["max_abs"][name] = float((core - ours[0]).abs().max())
        out["scale"][name] = float(core.abs().max())
    # core's WanCameraImageToVideo puts our embedding into both conditionings (no start image:
    # the VAE is not used; the conditioning is a placeholder tensor, not a text encoder's output)
    cond = [[torch.zeros(1, 4, 8), {}]]
    positive, negative, latent = WanCameraImageToVideo.execute(
        cond, cond, None, width, height, length, 1, camera_conditions=ours_embedding)
    out["conditioned"] = [c[1]["camera_conditions"] is ours_embedding for c in positive + negative]
    out["latent_shape"] = list(latent["samples"].shape)
    print("PARITY" + json.dumps(out))
''')


def test_camera_embedding_equals_core_wan_camera_embedding_on_its_presets():
    """Core's own WanCameraEmbedding node and our RaxelCameraEmbedding node (fed core's preset
    rebuilt as a trajectory by raxel_core.rays.wan_embedding.wan_preset_cameras), called in one process with
    ComfyUI's modules: equal on all nine presets; core's WanCameraImageToVideo takes the result."""
    env = dict(os.environ)
    result = subprocess.run(
        [sys.executable, "-c", _PARITY_SCRIPT, str(ROOT), str(Path(COMFYUI_DIR).resolve()), SHIMS or ""],
        cwd=str(Path(COMFYUI_DIR).resolve()), env=env, capture_output=True, text=True, timeout=600,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("PARITY")]
    assert result.returncode == 0 and lines, f"parity script failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    out = json.loads(lines[-1][len("PARITY"):])
    print("\nmax |core - raxel| per preset:", out["max_abs"])
    assert sorted(out["core_presets"]) == sorted(out["our_presets"]) and len(out["core_presets"]) == 9
    for name, diff in out["max_abs"].items():
        assert diff <= 1e-5 * max(1.0, out["scale"][name]), (name, diff)
    assert out["conditioned"] == [True, True]
    assert out["latent_shape"] == [1, 16, 4, 8, 12]


def test_camera_embedding_links_into_wan_camera_image_to_video_in_the_server(server):
    """Without Wan model files the graph cannot run; the server's validation must accept every
    link from RaxelCameraEmbedding (camera_conditions, width, height, length) and a real (pixel
    space) VAE, and complain only about the text conditioning that is not connected."""
    info = server.object_info
    wan = info["WanCameraImageToVideo"]["input"]
    assert info["RaxelCameraEmbedding"]["output"][:5] == [
        wan["optional"]["camera_conditions"][0], "RAXEL_PLUCKER", wan["required"]["width"][0],
        wan["required"]["height"][0], wan["required"]["length"][0]]
    assert "pixel_space" in info["VAELoader"]["input"]["required"]["vae_name"][0]
    code, body = server.post_prompt({
        "1": _node("RaxelCameraTrajectory", preset="orbit_left", frames=9, width=64, height=48),
        "2": {"class_type": "RaxelCameraEmbedding", "inputs": {"trajectory": ["1", 0], "width": 64, "height": 48}},
        "3": {"class_type": "VAELoader", "inputs": {"vae_name": "pixel_space"}},
        "4": {"class_type": "WanCameraImageToVideo", "inputs": {
            "vae": ["3", 0], "width": ["2", 2], "height": ["2", 3], "length": ["2", 4],
            "batch_size": 1, "camera_conditions": ["2", 0]}},
        "5": {"class_type": "PreviewAny", "inputs": {"source": ["4", 2]}},
    })
    assert code == 400, body
    errors = body["node_errors"]
    assert set(errors) == {"4"}, errors
    problems = {(e["type"], e["extra_info"]["input_name"]) for e in errors["4"]["errors"]}
    assert problems == {("required_input_missing", "positive"), ("required_input_missing", "negative")}, problems
    server.assert_healthy()
