"""The two re-render templates in a real ComfyUI server, end to end on CPU (issue 11, item 5):
"9. Re-render a video from a new camera with Wan VACE" (Warp A Video To A New Camera -> core
WanVaceToVideo) and "10. ... with Wan tracks (ATI)" (Follow Points -> Warp -> core WanTrackToVideo).

Each template runs as shipped (``workflows/api/raxel_rerender_wan_*.json``) with the changes a test needs:
tiny random-weight model files built with ComfyUI's own classes (tests/wan_tiny_models.py: a Wan 2.1 VACE
model that ComfyUI detects as ``WAN21_Vace``, a Wan 2.1 image-to-video model, ATI's architecture, detected
as ``WAN21_I2V``, and the Wan 2.1 VAE), a real RealEstate10K clip cut to 5 frames of 192 x 128, 2 sampler
steps, and the text encoder's stand-in of tests/wan_tiny_models.py (umt5-xxl does not fit this
machine). A probe node (test only) sits on the wires into and out of the core Wan node and writes what
passes to the output folder, so the test reads what core's node received and what it handed the model.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from comfyui_server import COMFYUI_DIR, ROOT, SHIMS, comfyui_skip_reason, start_comfyui
from comfyui_server import api_node as _node

pytestmark = pytest.mark.comfyui("run the re-render templates inside a real ComfyUI server")

RE10K_CLIP = "re10k/videos/0bf152ef84195293.mp4"
FRAMES, WIDTH, HEIGHT = 5, 192, 128

_TEST_NODES = textwrap.dedent('''
    """Test node: a probe that passes its inputs on unchanged and writes them to
    output/probe/<name>.safetensors / .json."""
    import json
    import os

    import folder_paths
    import torch
    from safetensors.torch import save_file


    class RaxelTestProbe:
        CATEGORY = "testing"
        RETURN_TYPES = ("CONDITIONING", "MASK", "STRING", "IMAGE")
        FUNCTION = "probe"

        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {"name": ("STRING", {"default": "probe"})},
                    "optional": {"conditioning": ("CONDITIONING",), "mask": ("MASK",),
                                 "text": ("STRING", {"forceInput": True}), "images": ("IMAGE",)}}

        @classmethod
        def IS_CHANGED(cls, **kwargs):
            return float("nan")

        def probe(self, name, conditioning=None, mask=None, text=None, images=None):
            folder = os.path.join(folder_paths.get_output_directory(), "probe")
            os.makedirs(folder, exist_ok=True)
            tensors = {}
            if conditioning is not None:
                for key, value in conditioning[0][1].items():
                    value = value[0] if isinstance(value, list) and value else value
                    if isinstance(value, torch.Tensor):
                        tensors[key] = value.detach().float().contiguous()
            if mask is not None:
                tensors["mask"] = mask.float().contiguous()
            if images is not None:
                tensors["images"] = images.float().contiguous()
            if tensors:
                save_file(tensors, os.path.join(folder, name + ".safetensors"))
            if text is not None:
                with open(os.path.join(folder, name + ".json"), "w") as f:
                    f.write(text)
            return (conditioning, mask, text, images)


    NODE_CLASS_MAPPINGS = {"RaxelTestProbe": RaxelTestProbe}
''')


@pytest.fixture(scope="module")
def server(tmp_path_factory, shared_file):
    """A ComfyUI server with this pack and the test nodes, the tiny VACE / image-to-video models and the
    Wan VAE in its ``models`` folders, and the clip in its input folder."""
    reason = comfyui_skip_reason("run the re-render templates")
    if reason:
        pytest.skip(reason)
    from wan_tiny_models import write_text_stand_in

    nodes = tmp_path_factory.mktemp("nodes")
    test_nodes = nodes / "raxel_test_rerender_nodes"
    test_nodes.mkdir()
    (test_nodes / "__init__.py").write_text(_TEST_NODES)
    with start_comfyui(tmp_path_factory.mktemp("comfyui"), COMFYUI_DIR, SHIMS,
                       extra_custom_nodes=(write_text_stand_in(nodes), test_nodes)) as srv:
        built = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "wan_tiny_models.py"), str(Path(COMFYUI_DIR).resolve()),
             SHIMS or "", str(srv.base / "models"), "vace,i2v"],
            cwd=str(Path(COMFYUI_DIR).resolve()), capture_output=True, text=True, timeout=900)
        assert "BUILT" in built.stdout, built.stdout[-2000:] + built.stderr[-3000:]
        shutil.copy(shared_file(RE10K_CLIP), srv.input / "rerender_clip.mp4")
        yield srv


def _by_type(prompt: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, entry in prompt.items():
        out.setdefault(entry["class_type"], []).append(key)
    return out


def _template(name: str, unet: str, prefix: str) -> tuple[dict, dict[str, list[str]]]:
    """The shipped API template ``name`` with the test's clip, size, frame count, models and text stand-in."""
    from wan_tiny_models import VAE_NAME

    prompt = json.loads((ROOT / "workflows" / "api" / f"{name}.json").read_text())
    types = _by_type(prompt)
    clip_loader = types["CLIPLoader"][0]
    for key in types["CLIPTextEncode"]:
        assert prompt[key]["inputs"]["clip"] == [clip_loader, 0]
        prompt[key] = {"class_type": "RaxelTestTextConditioning",
                       "inputs": {"text": prompt[key]["inputs"]["text"], "tokens": 8}}
    del prompt[clip_loader]
    prompt[types["UNETLoader"][0]]["inputs"]["unet_name"] = unet
    prompt[types["VAELoader"][0]]["inputs"]["vae_name"] = VAE_NAME
    prompt[types["LoadVideo"][0]]["inputs"]["file"] = "rerender_clip.mp4"
    first_81 = next(k for k in types["ImageFromBatch"] if prompt[k]["inputs"]["length"] == 81)
    prompt[first_81]["inputs"]["length"] = FRAMES
    prompt[types["ImageScale"][0]]["inputs"].update(width=WIDTH, height=HEIGHT)
    prompt[types["KSampler"][0]]["inputs"]["steps"] = 2
    prompt[types["SaveVideo"][0]]["inputs"]["filename_prefix"] = f"raxel/{prefix}"
    return prompt, types


def _probe(prompt: dict, key: str, name: str, **inputs) -> None:
    prompt[key] = {"class_type": "RaxelTestProbe", "inputs": {"name": name, **inputs}}


def _probed(server, name: str) -> dict:
    from safetensors.numpy import load_file

    return load_file(str(server.output / "probe" / f"{name}.safetensors"))


def _saved_video(server, entry: dict, node_id: str) -> tuple[np.ndarray, float]:
    import av

    item = entry["outputs"][node_id]["images"][0]
    with av.open(str(server.output / item["subfolder"] / item["filename"])) as container:
        stream = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        return frames, float(stream.average_rate)


def test_vace_template_feeds_the_warp_and_its_holes_to_wan_vace_and_saves_the_video(server):
    """Load Video -> 5 frames of 192x128 -> Camera Path From Video -> Warp (orbit left) -> WanVaceToVideo
    (control_video = render, control_masks = mask) -> KSampler (tiny VACE) -> Trim -> VAE Decode -> Create
    Video -> Save Video. What VACE hands the model: the mask folded 8 x 8 onto the latent grid, 1 exactly
    where the warp left a hole, and the control latents of the warped frames."""
    from wan_tiny_models import VACE_NAME

    prompt, types = _template("raxel_rerender_wan_vace", VACE_NAME, "rerender_vace_test")
    vace, warp, save = types["WanVaceToVideo"][0], types["RaxelTrack2ViewCondition"][0], types["SaveVideo"][0]
    prompt[vace]["inputs"].update(width=WIDTH, height=HEIGHT, length=FRAMES)
    assert prompt[vace]["inputs"]["control_video"] == [warp, 0] and prompt[vace]["inputs"]["control_masks"] == [warp, 1]
    # probes: on the warp's render + mask into VACE, and on VACE's positive conditioning into the sampler
    _probe(prompt, "90", "vace_in", mask=[warp, 1], images=[warp, 0])
    prompt[vace]["inputs"].update(control_masks=["90", 1], control_video=["90", 3])
    sampler = types["KSampler"][0]
    _probe(prompt, "91", "vace_out", conditioning=[vace, 0])
    prompt[sampler]["inputs"]["positive"] = ["91", 0]
    entry = server.run_ok(prompt)

    seen = _probed(server, "vace_in")
    render, mask = seen["images"], seen["mask"]
    assert render.shape == (FRAMES, HEIGHT, WIDTH, 3) and mask.shape == (FRAMES, HEIGHT, WIDTH)
    assert set(np.unique(mask)) == {0.0, 1.0}, "the mask is binary: 1 = generate"
    holes = mask > 0.5
    # an orbit leaves holes, and the warp still covers a good part (measured 0.53 on frames 1-4, 0.43 over all
    # five, since the pose pipeline of stop 19 registers all 5 frames of this 192x128 clip; below 0.5 before)
    assert 0.02 < holes[1:].mean() < 0.65, holes.mean()
    assert not holes[0].any() or holes[0].mean() < holes[-1].mean()  # frame 0 is the source camera itself
    # where the warp saw nothing the render is black, and those pixels are holes (holes are dilated 5x5, so
    # they also take in some seen pixels); where it is kept, the render has the picture
    black = (render == 0.0).all(axis=-1)
    assert black[1:].any() and holes[black].all()
    assert float(render[~holes].mean()) > 0.1

    out = _probed(server, "vace_out")
    t_latent = (FRAMES - 1) // 4 + 1
    assert out["vace_frames"].shape == (1, 32, t_latent, HEIGHT // 8, WIDTH // 8)
    vace_mask = out["vace_mask"]
    assert vace_mask.shape == (1, 64, t_latent, HEIGHT // 8, WIDTH // 8)
    # oracle: fold the probed mask 8 x 8 (channel = 8 dy + dx) and pick latent frame t' from pixel frame
    # floor((t' + 1/2) * FRAMES / t_latent) (nearest-exact): the mask VACE reads is ours, not a resampled one
    folded = mask.reshape(FRAMES, HEIGHT // 8, 8, WIDTH // 8, 8).transpose(2, 4, 0, 1, 3).reshape(64, FRAMES,
                                                                                                  HEIGHT // 8,
                                                                                                  WIDTH // 8)
    picks = [int((t + 0.5) * FRAMES / t_latent) for t in range(t_latent)]
    np.testing.assert_array_equal(vace_mask[0], folded[:, picks])
    assert vace_mask.max() == 1.0 and vace_mask.min() == 0.0

    frames, fps = _saved_video(server, entry, save)
    print(f"\nVACE template: render {render.shape}, holes {holes.mean():.3f} of the pixels, vace_mask "
          f"{vace_mask.shape}; saved {frames.shape} at {fps:g} fps")
    assert frames.shape == (FRAMES, HEIGHT, WIDTH, 3) and fps == 8.0  # the clip's frame rate
    assert entry["outputs"][warp]["text"][0].startswith("depth: coarse")


def _track_times(length: int, samples: int = 121) -> np.ndarray:
    """The frame time of each of the ``samples`` points of an ATI track over a clip of ``length`` frames."""
    return np.arange(samples) * (length - 1) / (samples - 1)


def test_ati_template_feeds_the_target_view_tracks_to_wan_track_to_video_and_saves_the_video(server):
    """Load Video -> 5 frames of 192x128 -> Camera Path + Follow Points (24, no reseed) -> Warp (orbit left,
    tracks) -> tracks_json -> WanTrackToVideo (first frame as start image) -> KSampler (tiny Wan 2.1 I2V, ATI's
    layout) -> VAE Decode -> Create Video -> Save Video. The tracks JSON has ATI's 121 points per track, and
    the motion mask WanTrackToVideo hands the model lies on those tracks."""
    from wan_tiny_models import I2V_NAME

    prompt, types = _template("raxel_rerender_wan_ati", I2V_NAME, "rerender_ati_test")
    track, warp, save = types["WanTrackToVideo"][0], types["RaxelTrack2ViewCondition"][0], types["SaveVideo"][0]
    prompt[track]["inputs"].update(width=WIDTH, height=HEIGHT, length=FRAMES)
    assert prompt[track]["inputs"]["tracks"] == [warp, 5]
    _probe(prompt, "90", "ati_in", text=[warp, 5])
    prompt[track]["inputs"]["tracks"] = ["90", 2]
    sampler = types["KSampler"][0]
    _probe(prompt, "91", "ati_out", conditioning=[track, 0])
    prompt[sampler]["inputs"]["positive"] = ["91", 0]
    entry = server.run_ok(prompt)

    report = entry["outputs"][warp]["text"][0]
    tracks = json.loads((server.output / "probe" / "ati_in.json").read_text())
    kept = int(report.split("tracks_json: ")[1].split(" of ")[0])
    assert len(tracks) == kept >= 5, report
    # some tracks span the whole clip (measured 2 with the pose pipeline of stop 19, 3+ before)
    assert all(1 <= len(t) <= 121 for t in tracks) and sum(len(t) == 121 for t in tracks) >= 2
    for t in tracks:
        xy = np.array([[p["x"], p["y"]] for p in t])
        assert (xy >= -0.5).all() and (xy[:, 0] < WIDTH).all() and (xy[:, 1] < HEIGHT).all()

    out = _probed(server, "ati_out")
    t_latent = (FRAMES - 1) // 4 + 1
    h8, w8 = HEIGHT // 8, WIDTH // 8
    assert out["concat_latent_image"].shape == (1, 16, t_latent, h8, w8)
    concat_mask = out["concat_mask"]
    assert concat_mask.shape == (1, 4, t_latent, h8, w8)
    assert np.all(concat_mask[0, :, 0] == 0.0)  # the start image is given
    weight = 1.0 - concat_mask[0, 0, 1]          # latent frame 1 = frames 1..4: motion-patch weight
    # oracle: latent cell (i, j) covers pixels 8i..8i+8 x 8j..8j+8 (grid of the latent, cell units)
    times = _track_times(FRAMES)
    points = np.concatenate([np.array([[p["x"], p["y"]] for p, tm in zip(t, times, strict=False) if tm > 0])
                             for t in tracks if len(t) > 1]) / 8.0 - 0.5
    cells = np.stack(np.meshgrid(np.arange(w8), np.arange(h8)), -1).reshape(-1, 2).astype(float)
    near = np.min(np.linalg.norm(cells[:, None] - points[None], axis=2), axis=1).reshape(h8, w8)
    strong = weight > 0.5
    assert strong.any(), "WanTrackToVideo drew no motion from the tracks"
    assert near[strong].max() <= 1.6, "motion drawn where no track runs: the tracks landed elsewhere"
    assert (near > 3.0).any() and weight[near > 3.0].max() < 0.05
    full = [t for t in tracks if len(t) == 121]
    hit = 0
    for t in full:  # every whole track draws motion within 1.6 cells of its path
        xy = np.array([[p["x"], p["y"]] for p, tm in zip(t, times, strict=True) if tm > 0]) / 8.0 - 0.5
        close = np.min(np.linalg.norm(cells[:, None] - xy[None], axis=2), axis=1).reshape(h8, w8) <= 1.6
        hit += bool(weight[close].max() > 0.1)
    assert hit >= 0.8 * len(full), (hit, len(full))

    frames, fps = _saved_video(server, entry, save)
    print(f"\nATI template: {len(tracks)} tracks ({len(full)} whole) in the JSON, motion weight > 0.5 on "
          f"{int(strong.sum())} of {h8 * w8} latent cells; saved {frames.shape} at {fps:g} fps")
    assert frames.shape == (FRAMES, HEIGHT, WIDTH, 3) and fps == 8.0


def test_a_target_path_of_another_length_stops_the_vace_template_naming_both_counts(server):
    """Bad input that fits these templates: target = a connected camera path of 7 frames for a 5-frame clip."""
    from wan_tiny_models import VACE_NAME

    prompt, types = _template("raxel_rerender_wan_vace", VACE_NAME, "rerender_vace_bad")
    warp = types["RaxelTrack2ViewCondition"][0]
    prompt["95"] = _node("RaxelCameraTrajectory", preset="orbit_left", frames=7, width=WIDTH, height=HEIGHT)
    prompt[warp]["inputs"].update(target="trajectory (relative to the source)", target_trajectory=["95", 0])
    error = server.run_error(prompt)
    assert error["node_type"] == "RaxelTrack2ViewCondition", error
    message = error["exception_message"]
    assert "has 7 frames but the source video has 5" in message and "\n" not in message.strip(), message
    server.assert_healthy()
