"""`raxel run`: override parsing, error text on real ComfyUI responses, and an end-to-end run
against a real ComfyUI server (started here on its own free port; skipped unless
RAXEL_COMFYUI_DIR points at a ComfyUI checkout whose requirements are installed; on a CPU-only
torch set RAXEL_COMFYUI_SHIMS to a folder of torchvision / torchaudio import shims, which goes on
the server's PYTHONPATH only)."""
import io
import json
from pathlib import Path

import pytest
from comfyui_server import COMFYUI_DIR, SHIMS, free_port, start_comfyui
from PIL import Image

from raxel_core.cli.run import main
from raxel_core.cli.terminal import TerminalProgress
from raxel_core.headless import (
    ComfyUIError,
    apply_overrides,
    format_execution_error,
    format_node_errors,
    load_api_workflow,
    parse_override,
    run_workflow,
)

#: A core-nodes-only API workflow: EmptyImage -> ImageInvert -> SaveImage.
WORKFLOW = {
    "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 32, "batch_size": 1, "color": 255},
          "_meta": {"title": "Empty Image"}},
    "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
    "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "raxel_headless"}},
}

# Responses of a real ComfyUI v0.3.64 server (captured on this machine; tracebacks shortened).
REJECTED_400 = {
    "error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation",
              "details": "", "extra_info": {}},
    "node_errors": {"1": {"errors": [{"type": "value_bigger_than_max",
                                      "message": "Value 999999 bigger than max of 16384",
                                      "details": "width", "extra_info": {"input_name": "width", "input_config": [
                                          "INT", {"default": 512, "min": 1, "max": 16384, "step": 1}],
                                          "received_value": 999999}}],
                          "dependent_outputs": ["3"], "class_type": "EmptyImage"}},
}
PARTIAL_200 = {
    "prompt_id": "4739180c-a6c9-42ee-93ef-143413cde200", "number": 7,
    "node_errors": {"3": {"errors": [{"type": "required_input_missing", "message": "Required input is missing",
                                      "details": "images", "extra_info": {"input_name": "images"}}],
                          "dependent_outputs": ["3"], "class_type": "SaveImage"}},
}
EXECUTION_ERROR = {
    "prompt_id": "827da919-8693-44a9-93c0-0daa6544afbd", "node_id": "2", "node_type": "ImageToMask", "executed": ["1"],
    "exception_message": "index 3 is out of bounds for dimension 3 with size 3\n", "exception_type": "IndexError",
    "traceback": ["  File \"/work/comfyui/comfy_extras/nodes_mask.py\", line 137, in image_to_mask\n"
                  "    mask = image[:, :, :, channels.index(channel)]\n"],
    "current_inputs": {}, "current_outputs": [], "timestamp": 1795263459090,
}


# --------------------------------------------------------------------------- unit


def test_parse_override_json_values_with_string_fallback():
    assert parse_override("12.seed=42") == ("12", "seed", 42)
    assert parse_override("3.cfg=7.5") == ("3", "cfg", 7.5)
    assert parse_override("3.denoise=1") == ("3", "denoise", 1)
    assert parse_override("5.enabled=true") == ("5", "enabled", True)
    assert parse_override("6.text=a red car, 4k") == ("6", "text", "a red car, 4k")
    assert parse_override('6.text="42"') == ("6", "text", "42")
    assert parse_override("6.text=") == ("6", "text", "")
    assert parse_override("7:3.size=[1, 2]") == ("7:3", "size", [1, 2])
    assert parse_override("4.expr=a=b") == ("4", "expr", "a=b")
    for bad in ("12seed=42", "12.seed", ".seed=1", "12.=1"):
        with pytest.raises(ComfyUIError, match="expected NODE.INPUT=VALUE"):
            parse_override(bad)


def test_apply_overrides_copies_and_names_unknown_nodes_and_inputs():
    out = apply_overrides(WORKFLOW, ["1.width=100", ("1", "color", 0)])
    assert out["1"]["inputs"]["width"] == 100 and out["1"]["inputs"]["color"] == 0
    assert WORKFLOW["1"]["inputs"]["width"] == 64  # the original is untouched
    with pytest.raises(ComfyUIError,
                       match=r"no node '9'; its nodes are: 1 \(EmptyImage, 'Empty Image'\), 2 \(ImageInvert\)"):
        apply_overrides(WORKFLOW, ["9.width=1"])
    with pytest.raises(ComfyUIError, match="has no input 'widht'; its inputs are: width, height, batch_size, color"):
        apply_overrides(WORKFLOW, ["1.widht=1"])


def test_load_api_workflow_rejects_ui_format(tmp_path):
    (tmp_path / "api.json").write_text(json.dumps(WORKFLOW))
    assert load_api_workflow(tmp_path / "api.json") == WORKFLOW
    (tmp_path / "ui.json").write_text(json.dumps({"nodes": [], "links": [], "version": 0.4}))
    with pytest.raises(ComfyUIError, match="UI-format workflow.*Export \\(API\\)"):
        load_api_workflow(tmp_path / "ui.json")
    (tmp_path / "bad.json").write_text('{"1": {"inputs": {}}}')
    with pytest.raises(ComfyUIError, match="node '1' has no 'class_type'"):
        load_api_workflow(tmp_path / "bad.json")
    with pytest.raises(ComfyUIError, match="does not exist"):
        load_api_workflow(tmp_path / "missing.json")


def test_error_text_of_real_responses():
    text = format_node_errors(REJECTED_400, WORKFLOW)
    assert text.splitlines() == [
        "ComfyUI rejected the workflow: Prompt outputs failed validation",
        "  node 1 (EmptyImage, 'Empty Image'): Value 999999 bigger than max of 16384: width",
    ]
    text = format_node_errors({"node_errors": PARTIAL_200["node_errors"]})
    assert text == "  node 3 (SaveImage): Required input is missing: images"
    assert format_execution_error(EXECUTION_ERROR) == (
        "node 2 (ImageToMask) failed: IndexError: index 3 is out of bounds for dimension 3 with size 3"
    )
    assert "nodes_mask.py" in format_execution_error(EXECUTION_ERROR, traceback=True)


def test_terminal_progress_lines():
    stream = io.StringIO()
    bar = TerminalProgress(stream, width=10)
    bar({"event": "progress", "nodes_done": 1, "nodes_total": 4, "node": "3", "node_type": "KSampler",
         "value": 5, "max": 20})
    bar({"event": "message", "text": "warning"})
    bar({"event": "done"})
    assert stream.getvalue().splitlines() == ["[##--------] 1/4 nodes  3 KSampler  step 5/20", "warning"]


def test_unreachable_server_is_a_clear_error(tmp_path):
    (tmp_path / "wf.json").write_text(json.dumps(WORKFLOW))
    with pytest.raises(ComfyUIError, match="cannot reach ComfyUI at http://127.0.0.1:"):
        run_workflow(tmp_path / "wf.json", server=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ComfyUIError, match="--server must be an http"):
        run_workflow(tmp_path / "wf.json", server="127.0.0.1:8188")


# --------------------------------------------------------------------------- end to end

#: Bound on waiting for the server to answer after start (start-up only).
STARTUP_SECONDS = 180


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real ComfyUI on a free loopback port (CPU, no custom nodes), stopped after the module."""
    if not COMFYUI_DIR or not (Path(COMFYUI_DIR) / "main.py").is_file():
        pytest.skip("set RAXEL_COMFYUI_DIR to a ComfyUI checkout (with its requirements installed) "
                    "to run the end-to-end tests")
    with start_comfyui(tmp_path_factory.mktemp("comfyui"), COMFYUI_DIR, SHIMS, with_pack=False,
                       startup_seconds=STARTUP_SECONDS) as srv:
        yield srv.url


def test_run_downloads_the_output_with_the_override(server, tmp_path):
    (tmp_path / "wf.json").write_text(json.dumps(WORKFLOW))
    events = []
    summary = run_workflow(tmp_path / "wf.json", server=server, overrides=["1.width=100", "1.height=40"],
                           out_dir=tmp_path / "out", progress=events.append, timeout=120)
    assert summary["status"] == "success" and len(summary["files"]) == 1
    image = Image.open(summary["files"][0])
    assert image.size == (100, 40)
    assert image.convert("RGB").getpixel((0, 0)) == (255, 255, 0)  # 0x0000ff inverted
    progress = [e for e in events if e["event"] == "progress"]
    assert progress[-1]["nodes_done"] == progress[-1]["nodes_total"] == 3
    assert events[-1] == {"event": "done"}


def test_cli_errors_are_readable(server, tmp_path, capsys):
    (tmp_path / "wf.json").write_text(json.dumps(WORKFLOW))
    # a misspelt input is the user's own input: status 2, found before the server is asked
    assert main([str(tmp_path / "wf.json"), "--server", server, "--set", "1.widht=5", "--quiet"]) == 2
    assert "node 1 (EmptyImage, 'Empty Image') has no input 'widht'" in capsys.readouterr().err
    assert main([str(tmp_path / "wf.json"), "--server", server, "--set", "1.width=999999", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "ComfyUI rejected the workflow: Prompt outputs failed validation" in err
    assert "node 1 (EmptyImage, 'Empty Image'): Value 999999 bigger than max of 16384: width" in err
    failing = {
        "1": WORKFLOW["1"],
        "2": {"class_type": "ImageToMask", "inputs": {"image": ["1", 0], "channel": "alpha"}},
        "3": {"class_type": "MaskToImage", "inputs": {"mask": ["2", 0]}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "raxel_headless"}},
    }
    (tmp_path / "fail.json").write_text(json.dumps(failing))
    assert main([str(tmp_path / "fail.json"), "--server", server, "--quiet"]) == 1
    assert "node 2 (ImageToMask) failed: IndexError: index 3 is out of bounds" in capsys.readouterr().err


def test_partly_invalid_workflow_runs_the_valid_branch(server, tmp_path):
    partial = dict(WORKFLOW)
    partial["4"] = {"class_type": "SaveImage", "inputs": {"filename_prefix": "bad"}}
    (tmp_path / "wf.json").write_text(json.dumps(partial))
    events = []
    summary = run_workflow(tmp_path / "wf.json", server=server, out_dir=tmp_path / "out", progress=events.append,
                           timeout=120)
    assert list(summary["node_errors"]) == ["4"] and len(summary["files"]) == 1
    messages = [e["text"] for e in events if e["event"] == "message"]
    assert messages == ["Some outputs will not run:\n  node 4 (SaveImage): Required input is missing: images"]
