"""ComfyUI V3 nodes of the raxel pack: thin adapters (sockets, widgets, progress, the errors a user
sees) over :mod:`raxel_core`, which holds all the math and is tested without ComfyUI.

=========================  ==========================  ====================================
node id                    file                        what it does
=========================  ==========================  ====================================
RaxelCameraTrajectory      trajectory_nodes.py         author a move or a keyframed path
RaxelLoadTrajectory        trajectory_nodes.py         read a pose file from the input folder
RaxelSaveTrajectory        trajectory_nodes.py         write a pose file to the output folder
RaxelTrajectoryPreview     trajectory_nodes.py         top / side view image of a trajectory
RaxelRetimeTrajectory      trajectory_nodes.py         fit a path to a frame count / frame rate
RaxelEncode                raxel_nodes.py              trajectory -> raxel images + metadata
RaxelPoseDecode            raxel_nodes.py              raxel images -> trajectory
RaxelCameraEmbedding       raxel_nodes.py              Plucker maps, WAN_CAMERA_EMBEDDING
RaxelPoseFromVideo         pose_nodes.py               camera poses of a video (pycolmap SfM)
RaxelPointTracks           tracks_nodes.py             2D point tracks of a video (LK), TRACKS / JSON
RaxelTracksTo4D            tracks4d_nodes.py           cameras + 3D tracks of a moving scene (TracksTo4D)
RaxelToCameraCtrlPoses     interop_nodes.py            trajectory -> AnimateDiff CAMERACTRL_POSES
RaxelFromCameraCtrlPoses   interop_nodes.py            CAMERACTRL_POSES -> trajectory
RaxelToLoad3DCamera        interop_nodes.py            one camera -> core LOAD3D_CAMERA
RaxelTracksFromJSON        interop_nodes.py            JSON tracks / core TRACKS -> RAXEL_TRACKS
RaxelExportBlender         interop_nodes.py            Blender camera script (output folder)
RaxelExportNerfstudioPath  interop_nodes.py            nerfstudio camera_path.json (output folder)
RaxelModelLoader           model_nodes.py              joint video + ray model (safetensors)
RaxelJointSampler          model_nodes.py              pose / camera-controlled video / both
RaxelTrack2ViewCondition   rerender_nodes.py           re-render: warp, masks, paired tracks
RaxelCameraTokens          token_nodes.py              trajectory -> camera tokens (RVQ, CamViG)
RaxelTokensToCamera        token_nodes.py              camera tokens -> trajectory
=========================  ==========================  ====================================

Display names are plain words (e.g. "Camera Path To Wan Camera Control" for RaxelCameraEmbedding),
menu categories by task (``raxel/camera``, ``raxel/pose``, ``raxel/model``, ``raxel/interop``); the
ids and input names above never change, so saved workflows keep working.

Socket types and their payloads: :mod:`.types`. Safe file paths: :mod:`.paths`.
"""
from __future__ import annotations

from comfy_api.latest import ComfyExtension, io
from typing_extensions import override

from . import (
    interop_nodes,
    model_nodes,
    pose_nodes,
    preset_route,
    raxel_nodes,
    rerender_nodes,
    token_nodes,
    tracks4d_nodes,
    tracks_nodes,
    trajectory_nodes,
)

#: Every node of the pack, in menu order.
NODES: list[type[io.ComfyNode]] = [
    *trajectory_nodes.NODES, *raxel_nodes.NODES, *pose_nodes.NODES, *tracks_nodes.NODES, *tracks4d_nodes.NODES,
    *interop_nodes.NODES,
    *model_nodes.NODES, *rerender_nodes.NODES, *token_nodes.NODES,
]


class RaxelExtension(ComfyExtension):
    """The pack's extension: ComfyUI asks it for the node list at start-up."""

    @override
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODES)


async def comfy_entrypoint() -> RaxelExtension:
    """Entry point ComfyUI's loader calls for V3 packs; also adds the pack's HTTP route
    (:mod:`.preset_route`: the live preset path the canvas draws before a run)."""
    preset_route.register_with_server()
    return RaxelExtension()
