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
}

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


@dataclass
class Note:
    """A Markdown note on the canvas (UI format only): what the workflow does and how to use it."""

    id: int
    pos: tuple[float, float]
    text: str
    size: tuple[float, float] = (420.0, 260.0)


@dataclass
class Workflow:
    name: str
    description: str
    nodes: list[Node]
    notes: list[Note] = field(default_factory=list)


POSE_FROM_VIDEO = Workflow(
    name="raxel_pose_from_video",
    description="Camera poses of a video: Load Video -> RaxelPoseFromVideo -> preview + save.",
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
## Camera poses from a video

1. **Load Video**: pick a clip from ComfyUI's input folder (a few seconds of a moving camera;
   25-100 frames are enough).
2. **Raxel Pose From Video** estimates the camera of every frame by structure from motion
   (pycolmap). Leave `focal_px` at 0 to estimate the focal length; set it when you know it.
   Its `report` lists the frames that could not be registered.
3. **Raxel Trajectory Preview** draws the path from above and from the side.
4. **Raxel Save Trajectory** writes it to `output/raxel/` (raxel .json by default; choose
   realestate10k for CameraCtrl / MotionCtrl tools).

Poses are in an arbitrary scale. Static or tripod shots give a rotation-only solution.""")],
)

ENCODE_DECODE = Workflow(
    name="raxel_author_encode_decode",
    description=("Author a camera move, encode it as raxel images, decode the poses back and "
                 "preview them over the authored trajectory; save the decoded trajectory."),
    nodes=[
        Node(1, "RaxelCameraTrajectory", (0, 0),
             {"preset": "orbit_left", "frames": 25, "magnitude": 30.0, "easing": "ease_in_out",
              "width": 832, "height": 480, "fov": 50.0, "distance": 4.0,
              "keyframes": ('[{"frame": 0, "position": [0, 0, 0], "look_at": [0, 0, 4], '
                            '"fov": 50},\n {"frame": 48, "position": [1, 0, 1], '
                            '"look_at": [0, 0, 4]}]')},
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
## Author a camera path and encode it

1. **Raxel Camera Trajectory**: pick a move (`preset`, `magnitude`, `easing`) or `keyframes`
   and edit the JSON. `frames` = 4k + 1 (25, 49, 81) suits Wan 2.1.
2. **Raxel Encode** turns it into raxel images (one image of rays per frame, Rays as Pixels);
   its `metadata` holds the scale and reference pose.
3. **Raxel Pose Decode** recovers the cameras from the images; **Raxel Trajectory Preview**
   draws the decoded path over the authored one (grey): they coincide.
4. **Raxel Save Trajectory** writes the decoded path to `output/raxel/`.

For Wan 2.1 Fun Camera, connect the trajectory to **Raxel Camera Embedding** and its
`camera_embedding` to core's **WanCameraImageToVideo** `camera_conditions`.""")],
)

EXPORT = Workflow(
    name="raxel_export_to_other_packs",
    description=("Hand an authored camera path to other tools: AnimateDiff-Evolved CameraCtrl "
                 "poses (read back and previewed), a Blender camera script, a nerfstudio "
                 "camera_path.json and a Load3D camera for core Preview 3D."),
    nodes=[
        Node(1, "RaxelCameraTrajectory", (0, 0),
             {"preset": "orbit_left", "frames": 25, "magnitude": 30.0, "easing": "ease_in_out",
              "width": 832, "height": 480, "fov": 50.0, "distance": 4.0,
              "keyframes": ('[{"frame": 0, "position": [0, 0, 0], "look_at": [0, 0, 4], '
                            '"fov": 50},\n {"frame": 48, "position": [1, 0, 1], '
                            '"look_at": [0, 0, 4]}]')},
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
## Export a camera path to other tools

The path comes from **Raxel Camera Trajectory** (or any trajectory: **Raxel Pose From Video**,
**Raxel Load Trajectory**).

- **Raxel Export Blender Camera** writes `output/raxel/blender_camera_00001_.py`: open it in
  Blender's Scripting tab and run it (or `blender --python file.py`) to get a keyed camera.
- **Raxel Export Nerfstudio Camera Path** writes `..._camera_path.json` for
  `ns-render camera-path --camera-path-filename ...` or the viewer's *Load Path*.
- **Raxel To CameraCtrl Poses** gives AnimateDiff-Evolved's `CAMERACTRL_POSES`: connect it to
  its CameraCtrl nodes' `cameractrl_poses`. Here it is read back by **Raxel From CameraCtrl
  Poses** and drawn by **Raxel Trajectory Preview** over the original (they coincide).
- **Raxel To Load3D Camera** gives core's `LOAD3D_CAMERA` of one frame (`frame` -1 = last) for
  **Preview 3D**'s `camera_info`; set the viewer's FOV to its `fov` output. Put a model file
  name (from Load 3D) into Preview 3D's `model_file`.

Blender and nerfstudio need square pixels; nerfstudio also a centred principal point.""",
        size=(340, 360))],
)

#: The bundled model, as Raxel Model Loader lists it.
BUNDLED_MODEL = "raxel-tiny-v1/model.safetensors"
#: Sampler widgets shared by the joint-model templates (the bundled model: 9 frames of 48x32).
_SAMPLER = {"frames": 9, "steps_video": 30, "steps_rays": 2, "seed": 0}
_SCALE_TO_MODEL = {"upscale_method": "area", "width": 48, "height": 32, "crop": "center"}

JOINT_POSE = Workflow(
    name="raxel_joint_pose_from_video",
    description=("Camera poses of a video with the joint model (video -> camera): Load Video -> 9 frames "
                 "at 48x32 -> Raxel Joint Sampler (pose) -> preview, raxel images and a saved trajectory."),
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
## Camera poses of a video with the joint model (video -> camera)

1. **Raxel Model Loader** loads the bundled *raxel-tiny-v1* (a small pixel-space model: 9 frames
   of 48x32). Other models go into `ComfyUI/models/raxel/<name>/` (config.json + model.safetensors).
2. **Load Video** picks a clip from the input folder; **Image From Batch** keeps 9 frames and
   **Upscale Image** brings them to 48x32 (centre crop). The sampler never resizes by itself: it
   stops with the size the model takes.
3. **Raxel Joint Sampler** in `pose` mode denoises only the rays: 2 `steps_rays` suffice.
   Its `raxels` output shows the rays as images; `trajectory` holds one camera per frame,
   relative to the first, the farthest at distance 1.
4. **Raxel Trajectory Preview** draws the path; **Raxel Save Trajectory** writes it to
   `output/raxel/`.""")],
)

JOINT_VIDEO = Workflow(
    name="raxel_joint_camera_to_video",
    description=("Camera-controlled video with the joint model (images + camera -> video): a source image "
                 "at 48x32 and an authored 9-frame camera move -> Raxel Joint Sampler (video) -> animated WEBP."),
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
## Camera-controlled video with the joint model (images + camera -> video)

1. **Raxel Model Loader** loads the bundled *raxel-tiny-v1* (9 frames of 48x32, pixel space).
2. **Load Image** gives the first frame; **Upscale Image** brings it to 48x32 (centre crop).
3. **Raxel Camera Trajectory** authors the move: 9 frames at 48x32 (the same aspect ratio as
   the image). Frame 0 is the source image's camera.
4. **Raxel Joint Sampler** in `video` mode generates the other frames along the path
   (`steps_video`: more steps, cleaner frames; the rays are given, so `steps_rays` is unused).
   `raxels` shows the path as ray images.
5. **Save Animated WEBP** writes the clip to `output/raxel/`.""")],
)

JOINT_BOTH = Workflow(
    name="raxel_joint_image_to_video_and_camera",
    description=("Video and camera path from one image with the joint model (image -> video + camera): "
                 "Raxel Joint Sampler (joint) -> animated WEBP, trajectory preview and saved trajectory."),
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
## Video and camera path from one image (image -> video + camera)

1. **Raxel Model Loader** loads the bundled *raxel-tiny-v1* (9 frames of 48x32, pixel space).
2. **Load Image** gives the first frame; **Upscale Image** brings it to 48x32 (centre crop).
3. **Raxel Joint Sampler** in `joint` mode generates `frames` frames and their cameras together:
   `steps_video` for the frames, `steps_rays` for the rays. The camera path is decoded from the
   generated rays (relative to the first frame, the farthest camera at distance 1).
4. **Save Animated WEBP** writes the clip; **Raxel Trajectory Preview** draws the path and
   **Raxel Save Trajectory** writes it to `output/raxel/`.""")],
)

#: Every workflow the pack ships.
WORKFLOWS = [POSE_FROM_VIDEO, ENCODE_DECODE, EXPORT, JOINT_POSE, JOINT_VIDEO, JOINT_BOTH]


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
        names = [name for name, _, _ in spec["inputs"]]
        for name, (source, slot) in node.links.items():
            if name not in names or source not in ids:
                raise ValueError(f"{workflow.name} node {node.id}: bad link {name} <- {source}")
            source_type = NODE_TYPES[_node(workflow, source).type]["outputs"][slot][1]
            if source_type not in {n: t for n, t, _ in spec["inputs"]}[name].split(","):
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
        inputs = {k: v for k, v in node.widgets.items() if k != "upload"}
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
                   "RaxelPoseDecode", "RaxelPoseFromVideo", "RaxelFromCameraCtrlPoses"}
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
        for slot, (name, _type, _) in enumerate(spec["inputs"]):
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
        "extra": {"ds": {"scale": 1.0, "offset": [60, 120]}, "info": {"description": workflow.description}},
        "version": 0.4,
    }


def dumps(data: dict) -> str:
    """The exact text written for a workflow file."""
    return json.dumps(data, indent=2) + "\n"


def expected_files() -> dict[Path, str]:
    """Path -> text of every file this script writes."""
    files = {}
    for workflow in WORKFLOWS:
        files[HERE / f"{workflow.name}.json"] = dumps(ui_format(workflow))
        files[HERE / "api" / f"{workflow.name}.json"] = dumps(api_format(workflow))
    return files


def main() -> None:
    (HERE / "api").mkdir(exist_ok=True)
    for path, text in expected_files().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
