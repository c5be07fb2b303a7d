"""Writes the pack's example workflows in both ComfyUI formats from one definition each.

* ``workflows/<name>.json``: UI format (what the canvas loads and the template browser lists:
  ``nodes`` with id / type / pos / size / widgets_values / inputs / outputs, ``links``,
  ``version`` 0.4).
* ``workflows/api/<name>.json``: API format (what ``POST /prompt`` takes: ``{id: {class_type,
  inputs}}``, a link written ``[source_id, output_slot]``).

Each workflow is defined once below (:data:`WORKFLOWS`), with Markdown notes that explain it
(:class:`Note`: UI files only, the server has no note node); the sockets and widgets of every node type
used are in :data:`NODE_TYPES`: the pack's read from the nodes' own ``define_schema``
(``workflows/node_schemas.py``), core ComfyUI's written here; both checked against a running
ComfyUI's ``/object_info`` by ``tests/test_comfyui_e2e.py``. Run ``python workflows/build_workflows.py``
after editing; the test ``tests/test_workflows.py`` fails when the committed files differ from what
this writes.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from node_schemas import read_node_schemas

HERE = Path(__file__).resolve().parent

#: Sockets and widgets of the core ComfyUI node types the templates use (checked against a running
#: ComfyUI's ``/object_info`` by ``tests/test_comfyui_e2e.py``): ``inputs`` are linkable sockets ``(name,
#: type, optional)``, ``widgets`` the widget names in the order of ``widgets_values`` (a trailing
#: ``"upload"`` is the upload button's placeholder value some core nodes carry), ``outputs`` ``(name, type)``.
CORE_NODE_TYPES: dict[str, dict] = {
    "LoadVideo": {
        "inputs": [],
        "widgets": ["file", "upload"],
        "outputs": [("VIDEO", "VIDEO")],
    },
    "Preview3D": {
        "inputs": [("camera_info", "LOAD3D_CAMERA", True)],
        "widgets": ["model_file"],
        "outputs": [],
    },
    "GetVideoComponents": {
        "inputs": [("video", "VIDEO", False)],
        "widgets": [],
        "outputs": [("images", "IMAGE"), ("audio", "AUDIO"), ("fps", "FLOAT")],
    },
    "ImageFromBatch": {
        "inputs": [("image", "IMAGE", False)],
        "widgets": ["batch_index", "length"],
        "outputs": [("IMAGE", "IMAGE")],
    },
    "ImageScale": {
        "inputs": [("image", "IMAGE", False)],
        "widgets": ["upscale_method", "width", "height", "crop"],
        "outputs": [("IMAGE", "IMAGE")],
    },
    "LoadImage": {
        "inputs": [],
        "widgets": ["image", "upload"],
        "outputs": [("IMAGE", "IMAGE"), ("MASK", "MASK")],
    },
    "PreviewImage": {
        "inputs": [("images", "IMAGE", False)],
        "widgets": [],
        "outputs": [],
    },
    "SaveAnimatedWEBP": {
        "inputs": [("images", "IMAGE", False)],
        "widgets": ["filename_prefix", "fps", "lossless", "quality", "method"],
        "outputs": [],
    },
    "UNETLoader": {
        "inputs": [],
        "widgets": ["unet_name", "weight_dtype"],
        "outputs": [("MODEL", "MODEL")],
    },
    "CLIPLoader": {
        "inputs": [],
        "widgets": ["clip_name", "type", "device"],
        "outputs": [("CLIP", "CLIP")],
    },
    "VAELoader": {
        "inputs": [],
        "widgets": ["vae_name"],
        "outputs": [("VAE", "VAE")],
    },
    "CLIPTextEncode": {
        "inputs": [("clip", "CLIP", False)],
        "widgets": ["text"],
        "outputs": [("CONDITIONING", "CONDITIONING")],
    },
    "WanCameraImageToVideo": {
        "inputs": [("positive", "CONDITIONING", False), ("negative", "CONDITIONING", False), ("vae", "VAE", False),
                   ("clip_vision_output", "CLIP_VISION_OUTPUT", True), ("start_image", "IMAGE", True),
                   ("camera_conditions", "WAN_CAMERA_EMBEDDING", True)],
        "widgets": ["width", "height", "length", "batch_size"],
        "widget_types": {"width": "INT", "height": "INT", "length": "INT", "batch_size": "INT"},
        "outputs": [("positive", "CONDITIONING"), ("negative", "CONDITIONING"), ("latent", "LATENT")],
    },
    "WanVaceToVideo": {
        "inputs": [("positive", "CONDITIONING", False), ("negative", "CONDITIONING", False), ("vae", "VAE", False),
                   ("control_video", "IMAGE", True), ("control_masks", "MASK", True),
                   ("reference_image", "IMAGE", True)],
        "widgets": ["width", "height", "length", "batch_size", "strength"],
        "outputs": [("positive", "CONDITIONING"), ("negative", "CONDITIONING"), ("latent", "LATENT"),
                    ("trim_latent", "INT")],
    },
    "WanTrackToVideo": {
        "inputs": [("positive", "CONDITIONING", False), ("negative", "CONDITIONING", False), ("vae", "VAE", False),
                   ("start_image", "IMAGE", False), ("clip_vision_output", "CLIP_VISION_OUTPUT", True)],
        "widgets": ["tracks", "width", "height", "length", "batch_size", "temperature", "topk"],
        "widget_types": {"tracks": "STRING"},
        "outputs": [("positive", "CONDITIONING"), ("negative", "CONDITIONING"), ("latent", "LATENT")],
    },
    "TrimVideoLatent": {
        "inputs": [("samples", "LATENT", False)],
        "widgets": ["trim_amount"],
        "widget_types": {"trim_amount": "INT"},
        "outputs": [("LATENT", "LATENT")],
    },
    "KSampler": {
        "inputs": [("model", "MODEL", False), ("positive", "CONDITIONING", False),
                   ("negative", "CONDITIONING", False), ("latent_image", "LATENT", False)],
        "widgets": ["seed", "control_after_generate", "steps", "cfg", "sampler_name", "scheduler", "denoise"],
        "outputs": [("LATENT", "LATENT")],
    },
    "VAEDecode": {
        "inputs": [("samples", "LATENT", False), ("vae", "VAE", False)],
        "widgets": [],
        "outputs": [("IMAGE", "IMAGE")],
    },
    "CreateVideo": {
        "inputs": [("images", "IMAGE", False), ("audio", "AUDIO", True)],
        "widgets": ["fps"],
        "widget_types": {"fps": "FLOAT"},
        "outputs": [("VIDEO", "VIDEO")],
    },
    "SaveVideo": {
        "inputs": [("video", "VIDEO", False)],
        "widgets": ["filename_prefix", "format", "codec"],
        "outputs": [],
    },
}

#: Widget values the canvas keeps but the server never receives: the upload button's placeholder and
#: the seed's "control after generate" choice (left out of the API twins).
UI_ONLY_WIDGETS = frozenset({"upload", "control_after_generate"})

#: Sockets and widgets of every node type the templates may use: the core ones above and the pack's own,
#: read from ``define_schema`` in ``nodes/*.py`` (:mod:`node_schemas`), so a renamed input or output
#: changes the templates (or fails their check) instead of drifting from a hand copy.
PACK_SCHEMAS = read_node_schemas()
NODE_TYPES: dict[str, dict] = {**CORE_NODE_TYPES, **{node_id: schema.node_type()
                                                      for node_id, schema in PACK_SCHEMAS.items()}}

#: The front end's Markdown note node: UI only (the server has no such node type), so notes are
#: written to the UI files and left out of the API twins.
NOTE_TYPE = "MarkdownNote"


@dataclass
class Node:
    """One node of a workflow: ``links`` maps an input socket to ``(source node id, output slot)``."""

    id: int
    type: str
    pos: tuple[float, float]
    widgets: dict = field(default_factory=dict)
    links: dict = field(default_factory=dict)
    size: tuple[float, float] = (320.0, 180.0)
    title: str | None = None


def linked_widgets(node: Node) -> list[str]:
    """The widgets of ``node`` fed by a link (a widget turned into an input), in widget order."""
    return [w for w in NODE_TYPES[node.type]["widgets"] if w in node.links]


@dataclass
class Note:
    """A Markdown note on the canvas (UI format only): what the workflow does and how to use it."""

    id: int
    pos: tuple[float, float]
    text: str
    size: tuple[float, float] = (420.0, 260.0)


@dataclass
class Workflow:
    """One template. ``name`` is its id and the API file's name (``workflows/api/<name>.json``);
    ``title`` is the UI file's name (``workflows/<title>.json``, with ``<title>.jpg`` beside it):
    ComfyUI's template browser shows a custom node pack's template by its file name (as title and,
    with ``-`` / ``_`` made spaces, as description) and its same-name ``.jpg`` as thumbnail
    (ComfyUI ``app/custom_node_manager.py`` ``/workflow_templates``; front end
    ``getTemplateThumbnailUrl``), so the file name is the plain-words title, numbered in the order
    of :data:`WORKFLOWS` (commonest task first). ``description`` is a one-line summary kept in the
    UI file's ``extra.info``; ``thumbnail`` names the camera move drawn on the thumbnail."""

    name: str
    title: str
    description: str
    nodes: list[Node]
    notes: list[Note] = field(default_factory=list)
    thumbnail: tuple[str, dict] = ("orbit_left", {})


#: The real model files the camera-transfer template names (ComfyUI's repackaged Wan 2.1 files).
WAN_FUN_CAMERA = "wan2.1_fun_camera_v1.1_1.3B_bf16.safetensors"
WAN_TEXT_ENCODER = "umt5_xxl_fp8_e4m3fn_scaled.safetensors"
WAN_VAE = "wan_2.1_vae.safetensors"

CAMERA_TRANSFER = Workflow(
    name="raxel_camera_transfer",
    title="1. Copy a video's camera move onto a new video",
    description=("Take the camera move of a video and generate a new video from your picture that moves the "
                 "same way (Wan 2.1 Fun Camera)."),
    thumbnail=("orbit_left", {"magnitude": 25.0}),
    nodes=[
        Node(1, "LoadVideo", (0, 0), {"file": "camera_move.mp4", "upload": "image"}, size=(300, 320)),
        Node(2, "RaxelPoseFromVideo", (340, 0), {"focal_px": 0.0, "seed": 0, "max_frames": 0, "stride": 1,
                                                 "max_image_size": 0, "pixel_aspect": 1.0}, {"video": (1, 0)}),
        Node(3, "RaxelRetimeTrajectory", (340, 420),
             {"frames": 81, "frame_rule": "nearest 4k+1", "fps_in": 0.0, "fps_out": 16.0, "smoothing": 1.0,
              "recentre": True, "scale": 1.0}, {"trajectory": (2, 0)}, size=(340, 260)),
        Node(4, "RaxelCameraEmbedding", (340, 720), {"width": 832, "height": 480}, {"trajectory": (3, 0)},
             size=(340, 160)),
        Node(5, "UNETLoader", (800, 0), {"unet_name": WAN_FUN_CAMERA, "weight_dtype": "default"}, size=(340, 90)),
        Node(6, "CLIPLoader", (800, 130), {"clip_name": WAN_TEXT_ENCODER, "type": "wan", "device": "default"},
             size=(340, 110)),
        Node(7, "VAELoader", (800, 280), {"vae_name": WAN_VAE}, size=(340, 60)),
        Node(8, "CLIPTextEncode", (800, 380),
             {"text": "a quiet street at dusk, warm lights, cinematic, detailed"}, {"clip": (6, 0)},
             size=(340, 140), title="Describe the new video"),
        Node(9, "CLIPTextEncode", (800, 560),
             {"text": "blurry, distorted, low quality, static, watermark, text"}, {"clip": (6, 0)},
             size=(340, 140), title="What to avoid"),
        Node(10, "LoadImage", (800, 740), {"image": "first_frame.png", "upload": "image"}, size=(340, 320),
             title="First frame of the new video"),
        Node(11, "WanCameraImageToVideo", (1180, 0), {"width": 832, "height": 480, "length": 81, "batch_size": 1},
             {"positive": (8, 0), "negative": (9, 0), "vae": (7, 0), "start_image": (10, 0),
              "camera_conditions": (4, 0), "width": (4, 2), "height": (4, 3), "length": (4, 4)},
             size=(320, 300)),
        Node(12, "KSampler", (1180, 250),
             {"seed": 0, "control_after_generate": "fixed", "steps": 20, "cfg": 6.0, "sampler_name": "uni_pc",
              "scheduler": "simple", "denoise": 1.0},
             {"model": (5, 0), "positive": (11, 0), "negative": (11, 1), "latent_image": (11, 2)},
             size=(320, 270)),
        Node(13, "VAEDecode", (1180, 560), {}, {"samples": (12, 0), "vae": (7, 0)}, size=(220, 50)),
        Node(14, "CreateVideo", (1180, 650), {"fps": 16.0}, {"images": (13, 0), "fps": (3, 2)}, size=(260, 80)),
        Node(15, "SaveVideo", (1540, 0), {"filename_prefix": "raxel/camera_transfer", "format": "auto",
                                          "codec": "auto"}, {"video": (14, 0)}, size=(400, 420)),
    ],
    notes=[Note(20, (0, 360), """\
## Copy a video's camera move onto a new video

1. **Load Video**: the clip whose camera move you want (a few seconds of a moving camera).
2. **Camera Path From Video** finds where the camera was in every frame (its report lists
   frames it could not place).
3. **Fit Camera Path To Length And Frame Rate** fits that path to the new video: 81 frames
   (Wan takes 4k + 1 frames) at 16 frames per second, moving at the speed it had in your clip,
   with the shake smoothed out. If your clip is shorter than 5 seconds it says how many frames
   fit: lower `frames`, or set it to 0 (auto). Raise `scale` for a bigger move.
4. **Camera Path To Wan Camera Control** turns the path into the camera control that core's
   **WanCameraImageToVideo** takes, with the width, height and length to use.
5. Describe the new video, pick its first frame (**Load Image**), and run: **KSampler** makes
   the video, **VAE Decode** and **Create Video** (at the fitted frame rate) turn it into a
   clip, **Save Video** writes it to `output/raxel/`.

Model files (ComfyUI's repackaged Wan 2.1; put them in these `ComfyUI/models/` folders):
`diffusion_models/wan2.1_fun_camera_v1.1_1.3B_bf16.safetensors` (Wan 2.1 Fun Camera Control
1.3B, or its 14B sibling), `text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors`,
`vae/wan_2.1_vae.safetensors`. For closer likeness to the first frame, add **Load CLIP Vision**
(`clip_vision_h.safetensors`) and **CLIP Vision Encode** into `clip_vision_output`.""",
        size=(300, 700))],
)

POSE_FROM_VIDEO = Workflow(
    name="raxel_pose_from_video",
    title="2. Find the camera path of a video",
    description="Find where the camera was in every frame of a video, look at the path and save it.",
    thumbnail=("truck_right", {}),
    nodes=[
        Node(1, "LoadVideo", (0, 0), {"file": "video.mp4", "upload": "image"}, size=(300, 320)),
        Node(2, "RaxelPoseFromVideo", (340, 0), {"focal_px": 0.0, "seed": 0, "max_frames": 0, "stride": 1,
                                                 "max_image_size": 0, "pixel_aspect": 1.0}, {"video": (1, 0)}),
        Node(3, "RaxelTrajectoryPreview", (700, 0), {"width": 1024, "height": 512},
             {"trajectory": (2, 0)}, size=(520, 360)),
        Node(4, "RaxelSaveTrajectory", (700, 400),
             {"filename_prefix": "raxel/pose_from_video", "format": "raxel"},
             {"trajectory": (2, 0)}, size=(320, 110)),
    ],
    notes=[Note(10, (0, 360), """\
## Find the camera path of a video

1. **Load Video**: pick a clip from ComfyUI's input folder (a few seconds of a moving camera;
   25-100 frames are enough).
2. **Camera Path From Video** finds the camera of every frame. Leave `focal_px` at 0 to let it
   estimate the lens; set it when you know it. Its `report` lists the frames it could not place.
3. **Preview Camera Path** draws the path from above and from the side.
4. **Save Camera Path** writes it to `output/raxel/` (this pack's .json by default; choose
   realestate10k for CameraCtrl / MotionCtrl tools). **Load Camera Path** lists saved paths
   (marked `[output]`), so you can reuse it without moving the file.

The path's size is arbitrary. Static or tripod shots give a turn-only path.""")],
)

_KEYFRAMES = ('[{"frame": 0, "position": [0, 0, 0], "look_at": [0, 0, 4], "fov": 50},\n'
              ' {"frame": 24, "position": [1, 0, 1], "look_at": [0, 0, 4]}]')

ENCODE_DECODE = Workflow(
    name="raxel_author_encode_decode",
    title="3. Create a camera move and check it as ray images",
    description=("Create a camera move, turn it into ray images and back, and compare the two paths; save "
                 "the result."),
    thumbnail=("orbit_left", {"magnitude": 30.0}),
    nodes=[
        Node(1, "RaxelCameraTrajectory", (0, 0),
             {"preset": "orbit_left", "frames": 25, "magnitude": 30.0, "easing": "ease_in_out",
              "width": 832, "height": 480, "fov": 50.0, "distance": 4.0, "keyframes": _KEYFRAMES},
             size=(340, 420)),
        Node(2, "RaxelEncode", (380, 0), {"reference": 0, "raxel_width": 0, "raxel_height": 0},
             {"trajectory": (1, 0)}, size=(300, 130)),
        Node(3, "RaxelPoseDecode", (720, 0), {}, {"raxels": (2, 0), "metadata": (2, 1)},
             size=(260, 70)),
        Node(4, "RaxelTrajectoryPreview", (1020, 0), {"width": 1024, "height": 512},
             {"trajectory": (3, 0), "reference": (1, 0)}, size=(520, 360)),
        Node(5, "RaxelSaveTrajectory", (1020, 400),
             {"filename_prefix": "raxel/decoded", "format": "raxel"},
             {"trajectory": (3, 0)}, size=(320, 110)),
    ],
    notes=[Note(10, (0, 460), """\
## Create a camera move and check it as ray images

1. **Create Camera Path**: pick a move (`preset`, `magnitude`, `easing`), or `keyframes` and
   edit the keyframes text (every key must sit on a frame below `frames`). `frames` = 4k + 1
   (25, 49, 81) suits Wan 2.1.
2. **Camera Path To Ray Images** turns it into ray images (one picture per frame, Rays as
   Pixels); its `metadata` holds the path's size and place.
3. **Ray Images To Camera Path** reads the cameras back from the pictures; **Preview Camera
   Path** draws the path read back over the one you made (grey): they coincide.
4. **Save Camera Path** writes the path read back to `output/raxel/`.

For Wan 2.1 Fun Camera, connect the path to **Camera Path To Wan Camera Control** and its
`camera_embedding` to core's **WanCameraImageToVideo** `camera_conditions` (see the template
"Copy a video's camera move onto a new video").""")],
)

EXPORT = Workflow(
    name="raxel_export_to_other_packs",
    title="4. Send a camera move to Blender, nerfstudio, AnimateDiff and Load 3D",
    description=("Hand a camera move to other tools: AnimateDiff-Evolved CameraCtrl, a Blender camera script, "
                 "a nerfstudio camera path and a Load 3D camera."),
    thumbnail=("arc", {}),
    nodes=[
        Node(1, "RaxelCameraTrajectory", (0, 0),
             {"preset": "orbit_left", "frames": 25, "magnitude": 30.0, "easing": "ease_in_out",
              "width": 832, "height": 480, "fov": 50.0, "distance": 4.0, "keyframes": _KEYFRAMES},
             size=(340, 420)),
        Node(2, "RaxelExportBlender", (380, 0),
             {"filename_prefix": "raxel/blender_camera", "camera_name": "RaxelCamera", "fps": 24.0},
             {"trajectory": (1, 0)}, size=(340, 130)),
        Node(3, "RaxelExportNerfstudioPath", (380, 170),
             {"filename_prefix": "raxel/nerfstudio", "fps": 24.0},
             {"trajectory": (1, 0)}, size=(340, 110)),
        Node(4, "RaxelToCameraCtrlPoses", (380, 320), {}, {"trajectory": (1, 0)},
             size=(280, 50)),
        Node(5, "RaxelFromCameraCtrlPoses", (700, 320), {"width": 832, "height": 480},
             {"poses": (4, 0)}, size=(300, 90)),
        Node(6, "RaxelTrajectoryPreview", (1040, 0), {"width": 1024, "height": 512},
             {"trajectory": (5, 0), "reference": (1, 0)}, size=(520, 360)),
        Node(7, "RaxelToLoad3DCamera", (380, 460), {"frame": -1, "target_distance": 4.0},
             {"trajectory": (1, 0)}, size=(300, 100)),
        Node(8, "Preview3D", (700, 460), {"model_file": ""}, {"camera_info": (7, 0)},
             size=(400, 400)),
    ],
    notes=[Note(10, (0, 460), """\
## Send a camera move to other tools

The path comes from **Create Camera Path** (or any camera path: **Camera Path From Video**,
**Load Camera Path**).

- **Export Camera Path To Blender** writes `output/raxel/blender_camera_00001_.py`: open it in
  Blender's Scripting tab and run it (or `blender --python file.py`) to get a keyed camera.
- **Export Camera Path To Nerfstudio** writes `..._camera_path.json` for
  `ns-render camera-path --camera-path-filename ...` or the viewer's *Load Path*.
- **Camera Path To AnimateDiff CameraCtrl** gives AnimateDiff-Evolved's `CAMERACTRL_POSES`:
  connect it to its CameraCtrl nodes' `cameractrl_poses`. Here it is read back by **AnimateDiff
  CameraCtrl To Camera Path** and drawn by **Preview Camera Path** over the original (they
  coincide).
- **Camera Path Frame To Load 3D Camera** gives core's `LOAD3D_CAMERA` of one frame (`frame` -1
  = the last) for **Preview 3D**'s `camera_info`; set the viewer's FOV to its `fov` output. Put a
  model file name (from Load 3D) into Preview 3D's `model_file`.

Blender and nerfstudio need square pixels; nerfstudio also a centred image centre.""",
        size=(340, 380))],
)

#: The bundled model, as Raxel Model Loader lists it.
BUNDLED_MODEL = "raxel-tiny-v1/model.safetensors"
#: Sampler widgets shared by the joint-model templates (the bundled model: 9 frames of 48x32).
_SAMPLER = {"frames": 9, "steps_video": 30, "steps_rays": 2, "seed": 0}
_SCALE_TO_MODEL = {"upscale_method": "area", "width": 48, "height": 32, "crop": "center"}

JOINT_VIDEO = Workflow(
    name="raxel_joint_camera_to_video",
    title="5. Generate a small video along a camera move (built-in model)",
    description=("Generate a small video from one picture, with the camera moving the way you choose, using "
                 "the pack's built-in tiny model."),
    thumbnail=("dolly_in", {}),
    nodes=[
        Node(1, "RaxelModelLoader", (0, 0), {"model_name": BUNDLED_MODEL}, size=(320, 60)),
        Node(2, "LoadImage", (0, 120), {"image": "raxel_source.png", "upload": "image"}, size=(300, 320)),
        Node(3, "ImageScale", (340, 120), dict(_SCALE_TO_MODEL), {"image": (2, 0)}, size=(240, 130)),
        Node(4, "RaxelCameraTrajectory", (0, 480),
             {"preset": "dolly_in", "frames": 9, "magnitude": 0.0, "easing": "ease_in_out", "width": 48,
              "height": 32, "fov": 50.0, "distance": 4.0, "keyframes": "[]"}, size=(340, 420)),
        Node(5, "RaxelJointSampler", (620, 0), {"mode": "video", **_SAMPLER},
             {"model": (1, 0), "images": (3, 0), "trajectory": (4, 0)}, size=(320, 300)),
        Node(6, "SaveAnimatedWEBP", (980, 0),
             {"filename_prefix": "raxel/camera_to_video", "fps": 8.0, "lossless": False, "quality": 90,
              "method": "default"}, {"images": (5, 0)}, size=(360, 380)),
        Node(7, "PreviewImage", (620, 340), {}, {"images": (5, 1)}, size=(320, 260)),
    ],
    notes=[Note(10, (380, 480), """\
## Generate a small video along a camera move (built-in model)

1. **Load Video And Camera Model** loads the bundled *raxel-tiny-v1* (9 frames of 48x32).
2. **Load Image** gives the first frame; **Upscale Image** brings it to 48x32 (centre crop).
3. **Create Camera Path** makes the move: 9 frames at 48x32 (the same shape as the image).
   Frame 0 is the picture's own camera.
4. **Generate Video And Camera Path** in `video` mode makes the other frames along the path
   (`steps_video`: more steps, cleaner frames; the path is given, so `steps_rays` is unused).
   `raxels` shows the path as ray images.
5. **Save Animated WEBP** writes the clip to `output/raxel/`.""")],
)

JOINT_POSE = Workflow(
    name="raxel_joint_pose_from_video",
    title="6. Find the camera path of a video (built-in model)",
    description=("Find the camera path of a short clip with the pack's built-in tiny model instead of "
                 "structure from motion."),
    thumbnail=("pan_left", {}),
    nodes=[
        Node(1, "RaxelModelLoader", (0, 0), {"model_name": BUNDLED_MODEL}, size=(320, 60)),
        Node(2, "LoadVideo", (0, 120), {"file": "re10k_clip.mp4", "upload": "image"}, size=(300, 320)),
        Node(3, "GetVideoComponents", (340, 120), {}, {"video": (2, 0)}, size=(240, 70)),
        Node(4, "ImageFromBatch", (340, 230), {"batch_index": 0, "length": 9}, {"image": (3, 0)},
             size=(240, 80)),
        Node(5, "ImageScale", (340, 350), dict(_SCALE_TO_MODEL), {"image": (4, 0)}, size=(240, 130)),
        Node(6, "RaxelJointSampler", (620, 0), {"mode": "pose", **_SAMPLER},
             {"model": (1, 0), "video": (5, 0)}, size=(320, 300)),
        Node(7, "RaxelTrajectoryPreview", (980, 0), {"width": 1024, "height": 512},
             {"trajectory": (6, 2)}, size=(520, 360)),
        Node(8, "RaxelSaveTrajectory", (980, 400),
             {"filename_prefix": "raxel/joint_pose", "format": "raxel"}, {"trajectory": (6, 2)},
             size=(320, 110)),
        Node(9, "PreviewImage", (620, 340), {}, {"images": (6, 1)}, size=(320, 260)),
    ],
    notes=[Note(10, (0, 480), """\
## Find the camera path of a video (built-in model)

1. **Load Video And Camera Model** loads the bundled *raxel-tiny-v1* (a small model: 9 frames
   of 48x32). Other models go into `ComfyUI/models/raxel/<name>/` (config.json +
   model.safetensors).
2. **Load Video** picks a clip from the input folder; **Image From Batch** keeps 9 frames and
   **Upscale Image** brings them to 48x32 (centre crop). The model never resizes by itself: it
   stops and names the size it takes.
3. **Generate Video And Camera Path** in `pose` mode works out only the camera: 2 `steps_rays`
   suffice. Its `raxels` output shows the camera as ray images; `trajectory` holds one camera
   per frame, starting at the first, the farthest 1 unit away.
4. **Preview Camera Path** draws the path; **Save Camera Path** writes it to `output/raxel/`.""")],
)

JOINT_BOTH = Workflow(
    name="raxel_joint_image_to_video_and_camera",
    title="7. Make a small video and its camera path from one picture (built-in model)",
    description=("From one picture, make a short video and the camera path it follows, with the pack's "
                 "built-in tiny model."),
    thumbnail=("spiral", {}),
    nodes=[
        Node(1, "RaxelModelLoader", (0, 0), {"model_name": BUNDLED_MODEL}, size=(320, 60)),
        Node(2, "LoadImage", (0, 120), {"image": "raxel_source.png", "upload": "image"}, size=(300, 320)),
        Node(3, "ImageScale", (340, 120), dict(_SCALE_TO_MODEL), {"image": (2, 0)}, size=(240, 130)),
        Node(4, "RaxelJointSampler", (620, 0), {"mode": "joint", **_SAMPLER},
             {"model": (1, 0), "images": (3, 0)}, size=(320, 300)),
        Node(5, "SaveAnimatedWEBP", (980, 0),
             {"filename_prefix": "raxel/image_to_video", "fps": 8.0, "lossless": False, "quality": 90,
              "method": "default"}, {"images": (4, 0)}, size=(360, 380)),
        Node(6, "PreviewImage", (620, 340), {}, {"images": (4, 1)}, size=(320, 260)),
        Node(7, "RaxelTrajectoryPreview", (980, 420), {"width": 1024, "height": 512},
             {"trajectory": (4, 2)}, size=(520, 360)),
        Node(8, "RaxelSaveTrajectory", (620, 640),
             {"filename_prefix": "raxel/image_to_video", "format": "raxel"}, {"trajectory": (4, 2)},
             size=(320, 110)),
    ],
    notes=[Note(10, (0, 480), """\
## Make a small video and its camera path from one picture (built-in model)

1. **Load Video And Camera Model** loads the bundled *raxel-tiny-v1* (9 frames of 48x32).
2. **Load Image** gives the first frame; **Upscale Image** brings it to 48x32 (centre crop).
3. **Generate Video And Camera Path** in `joint` mode makes `frames` frames and their cameras
   together: `steps_video` for the frames, `steps_rays` for the camera. The camera path is read
   from the generated ray images (starting at the first frame, the farthest camera 1 unit away).
4. **Save Animated WEBP** writes the clip; **Preview Camera Path** draws the path and **Save
   Camera Path** writes it to `output/raxel/`.""")],
)

POINT_TRACKS = Workflow(
    name="raxel_point_tracks",
    title="8. Follow points through a video",
    description=("Follow points through a video and get them as tracks that Wan's track-driven models "
                 "and other tracker nodes read, drawn on the frames to check them."),
    nodes=[
        Node(1, "LoadVideo", (0, 0), {"file": "video.mp4", "upload": "image"}, size=(300, 320)),
        Node(2, "RaxelPointTracks", (340, 0),
             {"num_points": 400, "reseed": True, "fb_threshold": 1.0, "max_tracks": 0, "tracks_json": ""},
             {"video": (1, 0)}, size=(340, 260)),
        Node(3, "SaveAnimatedWEBP", (720, 0),
             {"filename_prefix": "raxel/point_tracks", "fps": 16.0, "lossless": False, "quality": 85,
              "method": "default"}, {"images": (2, 2)}, size=(420, 420)),
        Node(4, "RaxelTracksFromJSON", (720, 460), {"tracks_json": ""}, {"tracks": (2, 0)},
             size=(320, 160)),
    ],
    notes=[Note(10, (0, 360), """\
## Follow points through a video

1. **Load Video**: pick a clip from ComfyUI's input folder.
2. **Follow Points Through A Video** follows about `num_points` grid points through the clip (OpenCV
   Lucas-Kanade); a track ends where it fails a forward-backward check (occlusion, leaving the
   frame), and `reseed` starts new ones in the emptied cells.
3. **Save Animated WEBP** writes the frames with the tracks drawn on them.
4. `tracks` is core's TRACKS (WanMove nodes; here **Point Tracks From Text Or Core Tracks** shows its size);
   `tracks_json` is the per-frame `{x, y}` lists (KJNodes' layout). Core's **WanTrackToVideo**
   reads every track as ATI's 121 samples of the whole clip, so for it use `raxel tracks --format
   ati --no-reseed`, or template 10's **Warp A Video To A New Camera**, whose `tracks_json` is in
   that layout.

To use tracks from another tracker node, connect its TRACKS to `tracks` or paste its JSON into
`tracks_json`: the node checks them against the video and passes them on in both formats.""")],
)

#: The real model files the re-render templates name: Wan 2.1 VACE 1.3B (ComfyUI's repackaged file) and the
#: ATI 14B image-to-video weights (bytedance's ATI, in the single-file form ComfyUI's UNETLoader reads).
WAN_VACE = "wan2.1_vace_1.3B_fp16.safetensors"
WAN_ATI = "Wan2_1-I2V-ATI-14B_fp8_e4m3fn.safetensors"

#: Source frames of the re-render templates: the first 81 frames (Wan's 4k + 1) at Wan's 832 x 480.
_RERENDER_FRAMES = {"batch_index": 0, "length": 81}
_RERENDER_SCALE = {"upscale_method": "area", "width": 832, "height": 480, "crop": "center"}
_RERENDER_TARGET = {"target": "orbit_left", "angle_deg": 15.0, "dolly_fraction": 0.25,
                    "depth_form": "inverse_relative", "depth_range": 1.0}
_POSE_WIDGETS = {"focal_px": 0.0, "seed": 0, "max_frames": 0, "stride": 1, "max_image_size": 0, "pixel_aspect": 1.0}


def _rerender_front(first_id: int) -> list[Node]:
    """Load Video -> its frames -> the first 81 -> 832 x 480 -> Camera Path From Video: the source half of
    both re-render templates (ids ``first_id`` ..)."""
    i = first_id
    return [
        Node(i, "LoadVideo", (0, 0), {"file": "video.mp4", "upload": "image"}, size=(300, 320)),
        Node(i + 1, "GetVideoComponents", (0, 360), {}, {"video": (i, 0)}, size=(300, 90)),
        Node(i + 2, "ImageFromBatch", (0, 490), dict(_RERENDER_FRAMES), {"image": (i + 1, 0)}, size=(300, 90),
             title="First 81 frames"),
        Node(i + 3, "ImageScale", (0, 620), dict(_RERENDER_SCALE), {"image": (i + 2, 0)}, size=(300, 130),
             title="To 832 x 480"),
        Node(i + 4, "RaxelPoseFromVideo", (340, 0), dict(_POSE_WIDGETS), {"images": (i + 3, 0)}),
    ]


def _wan_text_and_vae(first_id: int, unet: str, x: float) -> list[Node]:
    """UNETLoader, CLIPLoader (umt5-xxl), VAELoader and the two prompts (ids ``first_id`` .. + 4)."""
    i = first_id
    return [
        Node(i, "UNETLoader", (x, 0), {"unet_name": unet, "weight_dtype": "default"}, size=(340, 90)),
        Node(i + 1, "CLIPLoader", (x, 130), {"clip_name": WAN_TEXT_ENCODER, "type": "wan", "device": "default"},
             size=(340, 110)),
        Node(i + 2, "VAELoader", (x, 280), {"vae_name": WAN_VAE}, size=(340, 60)),
        Node(i + 3, "CLIPTextEncode", (x, 380),
             {"text": "the same scene seen from a new angle, sharp, detailed, natural light"}, {"clip": (i + 1, 0)},
             size=(340, 140), title="Describe the scene"),
        Node(i + 4, "CLIPTextEncode", (x, 560),
             {"text": "blurry, distorted, low quality, flicker, watermark, text"}, {"clip": (i + 1, 0)},
             size=(340, 140), title="What to avoid"),
    ]


_RERENDER_SAMPLER = {"seed": 0, "control_after_generate": "fixed", "steps": 20, "cfg": 6.0, "sampler_name": "uni_pc",
                     "scheduler": "simple", "denoise": 1.0}

RERENDER_VACE = Workflow(
    name="raxel_rerender_wan_vace",
    title="9. Re-render a video from a new camera with Wan VACE",
    description=("Show a video from a new camera: warp its frames to the new view with their depth and let Wan "
                 "VACE fill in what the warp cannot see."),
    thumbnail=("orbit_left", {"magnitude": 15.0}),
    nodes=[
        *_rerender_front(1),
        Node(6, "RaxelTrack2ViewCondition", (340, 420), dict(_RERENDER_TARGET),
             {"images": (4, 0), "trajectory": (5, 0)}, size=(360, 330)),
        Node(7, "PreviewImage", (340, 800), {}, {"images": (6, 3)}, size=(420, 300)),
        *_wan_text_and_vae(8, WAN_VACE, 800),
        Node(13, "WanVaceToVideo", (1180, 0),
             {"width": 832, "height": 480, "length": 81, "batch_size": 1, "strength": 1.0},
             {"positive": (11, 0), "negative": (12, 0), "vae": (10, 0), "control_video": (6, 0),
              "control_masks": (6, 1)}, size=(320, 290)),
        Node(14, "KSampler", (1180, 330), dict(_RERENDER_SAMPLER),
             {"model": (8, 0), "positive": (13, 0), "negative": (13, 1), "latent_image": (13, 2)}, size=(320, 270)),
        Node(15, "TrimVideoLatent", (1180, 640), {"trim_amount": 0}, {"samples": (14, 0), "trim_amount": (13, 3)},
             size=(260, 60)),
        Node(16, "VAEDecode", (1180, 740), {}, {"samples": (15, 0), "vae": (10, 0)}, size=(220, 50)),
        Node(17, "CreateVideo", (1180, 830), {"fps": 16.0}, {"images": (16, 0), "fps": (2, 2)}, size=(260, 80)),
        Node(18, "SaveVideo", (1540, 0), {"filename_prefix": "raxel/rerender_vace", "format": "auto",
                                          "codec": "auto"}, {"video": (17, 0)}, size=(400, 420)),
    ],
    notes=[Note(30, (1540, 460), """\
## Re-render a video from a new camera with Wan VACE

1. **Load Video**: a clip with a moving camera (the depth comes from the camera's own motion).
   Its first 81 frames (Wan takes 4k + 1) are scaled to 832 x 480 (centre crop).
2. **Camera Path From Video** finds the camera of every frame.
3. **Warp A Video To A New Camera** warps every frame to the new camera (`target`: orbit left /
   right / up / down about the scene centre, dolly in / out, or a connected camera path) and marks
   what the warp cannot see. **Preview Image** shows source | warp | mask.
4. **WanVaceToVideo** takes the warped frames as `control_video` and the mask as `control_masks`
   (1 = generate, 0 = keep the warp); keep its width, height and length equal to the frames'
   (832, 480, 81). **KSampler** makes the video, **Trim Video Latent** drops what a reference
   image adds, **VAE Decode**, **Create Video** (at the clip's frame rate) and **Save Video** write
   it to `output/raxel/`.

Model files (put them in these `ComfyUI/models/` folders): `diffusion_models/wan2.1_vace_1.3B_fp16.safetensors`
(Wan 2.1 VACE 1.3B, ComfyUI's repackaged file; the 14B `wan2.1_vace_14B_fp16.safetensors`, a
35 GB file, is sharper), `text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors` (6.7 GB),
`vae/wan_2.1_vae.safetensors` (254 MB). Run at 832 x 480 (VACE 1.3B is a 480p model), 81 frames,
20 steps. Shorter clip: set `length` to its frame count rounded down to 4k + 1 (else the frames
past its end are generated from nothing).""", size=(400, 560))],
)

RERENDER_ATI = Workflow(
    name="raxel_rerender_wan_ati",
    title="10. Re-render a video from a new camera with Wan tracks (ATI)",
    description=("Show a video from a new camera: follow points through it, move them to the new view with "
                 "their depth, and let Wan ATI animate the first frame along those tracks."),
    thumbnail=("orbit_left", {"magnitude": 20.0}),
    nodes=[
        *_rerender_front(1),
        Node(6, "RaxelPointTracks", (340, 420),
             {"num_points": 24, "reseed": False, "fb_threshold": 1.0, "max_tracks": 0, "tracks_json": ""},
             {"images": (4, 0)}, size=(340, 260)),
        Node(7, "RaxelTrack2ViewCondition", (340, 720), dict(_RERENDER_TARGET),
             {"images": (4, 0), "trajectory": (5, 0), "tracks": (6, 0)}, size=(360, 330)),
        Node(8, "PreviewImage", (340, 1090), {}, {"images": (7, 3)}, size=(420, 300)),
        Node(9, "ImageFromBatch", (800, 760), {"batch_index": 0, "length": 1}, {"image": (4, 0)},
             size=(300, 90), title="First frame"),
        *_wan_text_and_vae(10, WAN_ATI, 800),
        Node(15, "WanTrackToVideo", (1180, 0),
             {"tracks": "[]", "width": 832, "height": 480, "length": 81, "batch_size": 1, "temperature": 220.0,
              "topk": 2},
             {"positive": (13, 0), "negative": (14, 0), "vae": (12, 0), "start_image": (9, 0), "tracks": (7, 5)},
             size=(320, 330)),
        Node(16, "KSampler", (1180, 370), dict(_RERENDER_SAMPLER),
             {"model": (10, 0), "positive": (15, 0), "negative": (15, 1), "latent_image": (15, 2)},
             size=(320, 270)),
        Node(17, "VAEDecode", (1180, 680), {}, {"samples": (16, 0), "vae": (12, 0)}, size=(220, 50)),
        Node(18, "CreateVideo", (1180, 770), {"fps": 16.0}, {"images": (17, 0), "fps": (2, 2)}, size=(260, 80)),
        Node(19, "SaveVideo", (1540, 0), {"filename_prefix": "raxel/rerender_ati", "format": "auto",
                                          "codec": "auto"}, {"video": (18, 0)}, size=(400, 420)),
    ],
    notes=[Note(30, (1540, 460), """\
## Re-render a video from a new camera with Wan tracks (ATI)

1. **Load Video**: a clip with a moving camera; its first 81 frames are scaled to 832 x 480.
2. **Camera Path From Video** finds the camera of every frame; **Follow Points Through A Video**
   follows about `num_points` points from the first frame (`reseed` off: ATI reads tracks that
   start there; a few dozen tracks work best).
3. **Warp A Video To A New Camera** lifts the tracks to 3D with the depth and projects them into
   the new camera (`target`, as in template 9). Its `tracks_json` is in ATI's layout: 121 points
   per track spanning the clip, tracks hidden in the first frame left out (the report counts them).
4. **WanTrackToVideo** animates the **First frame** along those tracks; keep its width, height and
   length equal to the frames' (832, 480, 81), or the tracks land in the wrong place and time.
   **KSampler**, **VAE Decode**, **Create Video** and **Save Video** write the clip to `output/raxel/`.

Model files (in these `ComfyUI/models/` folders): `diffusion_models/Wan2_1-I2V-ATI-14B_fp8_e4m3fn.safetensors`
(ATI 14B, bytedance's fine-tune of Wan 2.1 image-to-video 14B 480p, about 16 GB in fp8; any
single-file ATI 14B works), `text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors`, `vae/wan_2.1_vae.safetensors`.
Add **Load CLIP Vision** (`clip_vision_h.safetensors`) and **CLIP Vision Encode** of the first
frame into `clip_vision_output`, as Wan 2.1 image-to-video expects. Run at 832 x 480 (ATI is a
480p model), 81 frames, 20 steps.""", size=(400, 600))],
)


MOVING_SCENE_POSE = Workflow(
    name="raxel_moving_scene_pose",
    title="11. Find the camera path of a video with moving objects",
    description=("Find where the camera was in every frame of a video where people, cars or animals move: "
                 "point tracks and a solver that tells moving points from the static scene."),
    thumbnail=("truck_right", {}),
    nodes=[
        Node(1, "LoadVideo", (0, 0), {"file": "video.mp4", "upload": "image"}, size=(300, 320)),
        Node(2, "RaxelPoseFromVideo", (340, 0), {"focal_px": 0.0, "seed": 0, "max_frames": 0, "stride": 1,
                                                 "max_image_size": 0, "pixel_aspect": 1.0}, {"video": (1, 0)},
             size=(320.0, 260.0)),  # one input row more than the default height: the optional mask
        Node(3, "RaxelPointTracks", (340, 420),
             {"num_points": 800, "reseed": True, "fb_threshold": 1.0, "max_tracks": 0, "tracks_json": ""},
             {"video": (1, 0)}, size=(340, 260)),
        Node(4, "RaxelTracksTo4D", (720, 0),
             {"width": 0, "height": 0, "num_bases": 8, "dynamic_threshold_px": 2.0, "seed": 0, "tracks_json": "",
              "depth_kind": "depth"},
             {"tracks": (3, 0), "trajectory": (2, 0)}, size=(380, 320)),
        Node(5, "RaxelTrajectoryPreview", (1140, 0), {"width": 1024, "height": 512},
             {"trajectory": (4, 0), "reference": (2, 0)}, size=(520, 360)),
        Node(6, "RaxelSaveTrajectory", (1140, 420),
             {"filename_prefix": "raxel/moving_scene_pose", "format": "raxel"}, {"trajectory": (4, 0)},
             size=(320, 110)),
    ],
    notes=[Note(10, (0, 760), """\
## Find the camera path of a video with moving objects

1. **Load Video**: pick a clip from ComfyUI's input folder.
2. **Camera Path From Video** finds a first camera path (structure from motion: it assumes nothing
   moves, so large moving things can mislead it).
3. **Follow Points Through A Video** follows points through the clip.
4. **Solve Cameras From Point Tracks (Moving Scenes)** starts from that path and re-solves the cameras
   from the tracks that a static scene explains; points on moving things get a high dynamic score
   (its `dynamic_score` output) and a 3D position per frame (`tracks_3d`).
5. **Preview Camera Path** draws the new path over the first one (grey); **Save Camera Path** writes it
   to `output/raxel/`.""")],
)

#: Every workflow the pack ships, commonest task first (the number that starts each title).
WORKFLOWS = [CAMERA_TRANSFER, POSE_FROM_VIDEO, ENCODE_DECODE, EXPORT, JOINT_VIDEO, JOINT_POSE, JOINT_BOTH, POINT_TRACKS,
             RERENDER_VACE, RERENDER_ATI, MOVING_SCENE_POSE]


def _check(workflow: Workflow) -> None:
    ids = {n.id for n in workflow.nodes}
    note_ids = [n.id for n in workflow.notes]
    if len(ids) != len(workflow.nodes) or len(set(note_ids)) != len(note_ids) or ids & set(note_ids):
        raise ValueError(f"{workflow.name}: node and note ids must be unique")
    if not workflow.notes:
        raise ValueError(f"{workflow.name}: every template needs a note explaining it")
    for node in workflow.nodes:
        spec = NODE_TYPES[node.type]
        if list(node.widgets) != spec["widgets"]:
            raise ValueError(f"{workflow.name} node {node.id}: widgets {list(node.widgets)} != "
                             f"{spec['widgets']}")
        accepts = {n: t for n, t, _ in spec["inputs"]}
        accepts.update(spec.get("widget_types", {}))  # a widget may be fed by a link (then an input)
        for name, (source, slot) in node.links.items():
            if name not in accepts or source not in ids:
                raise ValueError(f"{workflow.name} node {node.id}: bad link {name} <- {source}")
            source_type = NODE_TYPES[_node(workflow, source).type]["outputs"][slot][1]
            if source_type not in accepts[name].split(","):
                raise ValueError(f"{workflow.name} node {node.id}: {name} gets {source_type}")
        missing = [n for n, _, opt in spec["inputs"] if not opt and n not in node.links]
        if missing:
            raise ValueError(f"{workflow.name} node {node.id}: required inputs {missing} unlinked")


def _node(workflow: Workflow, node_id: int) -> Node:
    return next(n for n in workflow.nodes if n.id == node_id)


def api_format(workflow: Workflow) -> dict:
    """The ``POST /prompt`` ``prompt`` object of ``workflow``."""
    _check(workflow)
    prompt = {}
    for node in workflow.nodes:
        inputs = {k: v for k, v in node.widgets.items() if k not in UI_ONLY_WIDGETS and k not in node.links}
        for name, (source, slot) in node.links.items():
            inputs[name] = [str(source), slot]
        prompt[str(node.id)] = {
            "class_type": node.type,
            "inputs": inputs,
            "_meta": {"title": node.title or node.type},
        }
    return prompt


def _execution_order(workflow: Workflow) -> list[int]:
    order, done = [], set()
    while len(order) < len(workflow.nodes):
        for node in workflow.nodes:
            if node.id not in done and all(s in done for s, _ in node.links.values()):
                order.append(node.id)
                done.add(node.id)
    return order


#: Node types that carry the pack's 3D trajectory view (web/js/raxel_extension.js VIEW_NODES):
#: the front end grows them by the view's height, so the layout reserves that room.
VIEW_NODE_TYPES = {"RaxelCameraTrajectory", "RaxelLoadTrajectory", "RaxelTrajectoryPreview",
                   "RaxelPoseDecode", "RaxelPoseFromVideo", "RaxelFromCameraCtrlPoses", "RaxelTracksTo4D"}
VIEW_EXTRA_HEIGHT = 360.0
VIEW_MIN_WIDTH = 420.0
COLUMN_GAP, ROW_GAP = 50.0, 40.0


def layout(workflow: Workflow) -> dict[int, tuple[list[float], list[float]]]:
    """Canvas ``pos`` and ``size`` of every node and note, by id, without overlaps.

    Items keep their declared column (same declared x) and their order within it (declared y);
    columns are placed left to right by the widest item of the column before, and items stacked
    top to bottom. Nodes with the 3D trajectory view get its height and width added.
    """
    items = []
    for node in workflow.nodes:
        w, h = node.size
        if node.type in VIEW_NODE_TYPES:
            w, h = max(w, VIEW_MIN_WIDTH), h + VIEW_EXTRA_HEIGHT
        items.append((node.pos, node.id, (float(w), float(h))))
    items += [(note.pos, note.id, tuple(map(float, note.size))) for note in workflow.notes]
    placed, x = {}, 0.0
    for column_x in sorted({pos[0] for pos, _, _ in items}):
        column = sorted((item for item in items if item[0][0] == column_x), key=lambda item: item[0][1])
        y = min(pos[1] for pos, _, _ in column)
        for _, item_id, (w, h) in column:
            placed[item_id] = ([x, y], [w, h])
            y += h + ROW_GAP
        x += max(w for _, _, (w, _) in column) + COLUMN_GAP
    return placed


def ui_format(workflow: Workflow) -> dict:
    """The canvas (UI) format of ``workflow``, as the ComfyUI front end saves it."""
    _check(workflow)
    placed = layout(workflow)
    links = []
    for node in workflow.nodes:
        spec = NODE_TYPES[node.type]
        sockets = [name for name, _, _ in spec["inputs"]] + linked_widgets(node)
        for slot, name in enumerate(sockets):
            if name in node.links:
                source, source_slot = node.links[name]
                carried = NODE_TYPES[_node(workflow, source).type]["outputs"][source_slot][1]
                links.append([len(links) + 1, source, source_slot, node.id, slot, carried])
    order = _execution_order(workflow)
    nodes = []
    for node in workflow.nodes:
        spec = NODE_TYPES[node.type]
        inputs = []
        for slot, (name, type_, optional) in enumerate(spec["inputs"]):
            link = next((link[0] for link in links if link[3] == node.id and link[4] == slot), None)
            entry = {"name": name, "type": type_, "link": link}
            if optional:
                entry["shape"] = 7  # the front end's mark of an optional socket
            inputs.append(entry)
        for slot, name in enumerate(linked_widgets(node), start=len(spec["inputs"])):
            # a widget fed by a link: an input that names its widget (its value stays in widgets_values)
            link = next(link[0] for link in links if link[3] == node.id and link[4] == slot)
            inputs.append({"name": name, "type": spec["widget_types"][name], "widget": {"name": name},
                           "link": link})
        outputs = []
        for slot, (name, type_) in enumerate(spec["outputs"]):
            out_links = [link[0] for link in links if link[1] == node.id and link[2] == slot]
            outputs.append({"name": name, "type": type_, "links": out_links or None})
        entry = {
            "id": node.id,
            "type": node.type,
            "pos": placed[node.id][0],
            "size": placed[node.id][1],
            "flags": {},
            "order": order.index(node.id),
            "mode": 0,
            "inputs": inputs,
            "outputs": outputs,
            "properties": {"Node name for S&R": node.type},
            "widgets_values": list(node.widgets.values()),
        }
        if node.title:
            entry["title"] = node.title
        nodes.append(entry)
    for k, note in enumerate(workflow.notes):
        nodes.append({
            "id": note.id,
            "type": NOTE_TYPE,
            "pos": placed[note.id][0],
            "size": placed[note.id][1],
            "flags": {},
            "order": len(workflow.nodes) + k,
            "mode": 0,
            "inputs": [],
            "outputs": [],
            "properties": {},
            "widgets_values": [note.text],
            "color": "#432",
            "bgcolor": "#653",
        })
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"raxel-nodes/workflows/{workflow.name}")),
        "revision": 0,
        "last_node_id": max([n.id for n in workflow.nodes] + [n.id for n in workflow.notes]),
        "last_link_id": len(links),
        "nodes": nodes,
        "links": links,
        "groups": [],
        "config": {},
        "extra": {"ds": {"scale": 1.0, "offset": [60, 120]},
                  "info": {"title": workflow.title, "description": workflow.description}},
        "version": 0.4,
    }


def dumps(data: dict) -> str:
    """The exact text written for a workflow file."""
    return json.dumps(data, indent=2) + "\n"


def ui_path(workflow: Workflow | str) -> Path:
    """The UI file of a workflow (or of the workflow with that ``name``): ``workflows/<title>.json``."""
    if isinstance(workflow, str):
        workflow = next(w for w in WORKFLOWS if w.name == workflow)
    return HERE / f"{workflow.title}.json"


def thumbnail_path(workflow: Workflow) -> Path:
    """The thumbnail the template browser shows: ``<title>.jpg`` beside the UI file."""
    return ui_path(workflow).with_suffix(".jpg")


#: Size ``(H, W)`` of the thumbnails (the browser shows them in a square card, cropped to fit).
THUMBNAIL_SIZE = (512, 512)


def thumbnail(workflow: Workflow) -> bytes:
    """JPEG bytes of the workflow's thumbnail: the camera move it is about (:attr:`Workflow.thumbnail`,
    drawn by ``raxel_core.preview`` from above, one frustum per few frames) under the title."""
    import io
    import sys

    from PIL import Image, ImageDraw

    sys.path.insert(0, str(HERE.parent))
    from raxel_core.authoring import make_preset
    from raxel_core.preview import trajectory_preview

    preset, options = workflow.thumbnail
    cameras = make_preset(preset, 25, easing="ease_in_out", **options)
    h, w = THUMBNAIL_SIZE
    picture = trajectory_preview(cameras, size=(h - 96, 2 * w), max_frustums=9, title=" ")[:, :w]
    canvas = Image.new("RGB", (w, h), (24, 26, 32))
    canvas.paste(Image.fromarray(picture), (0, 96))
    draw = ImageDraw.Draw(canvas)
    words, lines = workflow.title.split(), [""]
    for word in words:  # wrap the title to the card's width
        trial = f"{lines[-1]} {word}".strip()
        if draw.textlength(trial, font_size=26) > w - 32 and lines[-1]:
            lines.append(word)
        else:
            lines[-1] = trial
    for k, line in enumerate(lines[:3]):
        draw.text((16, 10 + 28 * k), line, fill=(240, 240, 240), font_size=26)
    out = io.BytesIO()
    canvas.save(out, format="JPEG", quality=88)
    return out.getvalue()


def expected_files() -> dict[Path, str]:
    """Path -> text of every workflow file this script writes (thumbnails: :func:`thumbnail`)."""
    files = {}
    for workflow in WORKFLOWS:
        files[ui_path(workflow)] = dumps(ui_format(workflow))
        files[HERE / "api" / f"{workflow.name}.json"] = dumps(api_format(workflow))
    return files


def main() -> None:
    (HERE / "api").mkdir(exist_ok=True)
    for path, text in expected_files().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(HERE.parent)}")
    for workflow in WORKFLOWS:
        thumbnail_path(workflow).write_bytes(thumbnail(workflow))
        print(f"wrote {thumbnail_path(workflow).relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
