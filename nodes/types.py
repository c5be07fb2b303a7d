"""Socket types of the raxel node pack and the layout of what travels on each.

=========================  ==================================================================
socket type                payload
=========================  ==================================================================
``CAMERA_TRAJECTORY``      a :class:`raxel_core.cameras.Cameras`: ``N`` pinhole cameras in
                           time order, OpenCV axes (x right, y down, z forward), world-to-camera
                           ``R (N, 3, 3)`` and ``t (N, 3)`` float64, pixel intrinsics
                           ``K (N, 3, 3)`` float64 for ``image_size = (H, W)``, optional ``fps``
                           and a ``metadata`` dict. Immutable (a frozen dataclass): nodes return
                           new trajectories, never edit the one they received.
``RAXEL_METADATA``         the ``dict`` of :meth:`raxel_core.rays.raxel_maps.RaxelMaps.metadata`
                           (JSON-safe: format, version, translation ``scale``, ``reference``
                           index and its ``reference_w2c`` 4x4, ``K`` at the raxel grid,
                           ``image_size`` of the grid, ``source_image_size``, ``fps``,
                           ``value_range``). Everything a decoder needs besides the pixels to
                           restore scene units and the world frame.
``RAXEL_PLUCKER``          a ``torch.Tensor`` ``(N, H, W, 6)`` float32 Plucker ray maps:
                           channels 0-2 the unit ray direction ``d``, 3-5 the moment
                           ``m = o x d`` (scene units), in the first camera's frame
                           (:func:`raxel_core.rays.plucker.plucker_maps`). Six channels, so not an
                           ``IMAGE``.
``WAN_CAMERA_EMBEDDING``   core ComfyUI's type (``comfy_extras/nodes_camera_trajectory.py``):
                           a ``torch.Tensor`` ``(1, 24, (T - 1) / 4 + 1, H, W)`` float32 that
                           ``WanCameraImageToVideo`` puts into the conditioning of Wan 2.1 Fun
                           Camera models (:func:`raxel_core.rays.wan_embedding.wan_camera_embedding`).
``RAXEL_MODEL``            a :class:`nodes.model_nodes.LoadedRaxelModel`: the loaded
                           :class:`raxel_core.model.JointTransformer` (eval mode, on ComfyUI's
                           torch device), its :class:`~raxel_core.model.JointModelConfig`, the
                           file it came from, and its resolution: the training frame size
                           ``image_size (H, W)`` and clip length when the model folder records
                           them (``state.json``), else ``None`` (any size the patch grid takes).
``RAXEL_TRACK_CONDITION``  a ``dict`` from ``RaxelTrack2ViewCondition`` for the learned track
                           conditioner (Track2View, arXiv 2606.15534, Sec. 3; consumed by
                           ``RaxelJointSampler``, :mod:`raxel_core.model.track_conditioner`): ``source_frames``
                           ``(T, H, W, 3)`` float32 in [0, 1]; ``target_frames`` the warped
                           target view, same shape; ``target_mask`` ``(T, H, W)`` float32, 1 =
                           must be generated; ``source_trajectory`` / ``target_trajectory``
                           (:class:`raxel_core.cameras.Cameras`); and per view ``source_*`` /
                           ``target_*``: ``_xy`` ``(T, N, 2)`` float32 pixels (x, y, origin at
                           the top-left corner), ``_depth`` ``(T, N)`` float32 camera z in the
                           trajectory's scene units, ``_visibility`` ``(T, N)`` bool (target:
                           in front of the camera, inside the frame, not occluded by the warped
                           depth). The six track entries are ``None`` when no tracks were given
                           (:class:`raxel_core.rerender.tracks3d.PairedTracks`).
``RAXEL_TRACKS_3D``        a ``dict`` from ``RaxelTracksTo4D`` (:func:`raxel_core.tracks4d.solve_tracks4d`):
                           ``points`` ``(T, M, 3)`` float64 world point of each kept track per
                           frame (OpenCV world axes, the trajectory's units), ``visibility``
                           ``(T, M)`` bool, ``static_points`` ``(M, 3)``, ``dynamic_score``
                           ``(M,)`` float64 pixels, ``dynamic`` ``(M,)`` bool, ``track_indices``
                           ``(M,)`` int64 (index in the input TRACKS), ``trajectory`` (``Cameras``).
``IMAGE`` (raxels)         core's ``IMAGE``, ``(N, h, w, 3)`` float32 in ``[0, 1]``: raxel values
                           ``d + o / scale`` in ``[-2, 2]`` mapped by ``(value + 2) / 4``
                           (:meth:`raxel_core.rays.raxel_maps.RaxelMaps.to_image`).
=========================  ==================================================================
"""
from comfy_api.latest import io

#: A camera trajectory: payload :class:`raxel_core.cameras.Cameras` (table above).
CameraTrajectory = io.Custom("CAMERA_TRAJECTORY")

#: What a raxel decoder needs besides the pixels: payload ``dict`` (table above).
RaxelMetadata = io.Custom("RAXEL_METADATA")

#: Plucker ray maps: payload ``torch.Tensor (N, H, W, 6)`` float32 (table above).
RaxelPlucker = io.Custom("RAXEL_PLUCKER")

#: Core ComfyUI's Wan camera conditioning type, declared by its type name so it also connects on
#: ComfyUI versions whose ``io`` module has no ``WanCameraEmbedding`` attribute.
WanCameraEmbedding = io.Custom("WAN_CAMERA_EMBEDDING")

#: A loaded joint video + ray model: payload :class:`nodes.model_nodes.LoadedRaxelModel` (table above).
RaxelModel = io.Custom("RAXEL_MODEL")

#: Paired source / target tracks and frames for a track conditioner: payload ``dict`` (table above).
RaxelTrackCondition = io.Custom("RAXEL_TRACK_CONDITION")

#: 3D point tracks of a moving scene: payload ``dict`` (table above).
RaxelTracks3D = io.Custom("RAXEL_TRACKS_3D")

#: Menu categories, by task: camera paths (author, load, save, fit, preview, encode), poses of videos,
#: the joint model, and hand-over to other packs and tools.
CATEGORY_CAMERA = "raxel/camera"
CATEGORY_POSE = "raxel/pose"
CATEGORY_MODEL = "raxel/model"
CATEGORY_INTEROP = "raxel/interop"


def trajectory_ui(trajectory, reference=None, **shown) -> dict:
    """The ``ui`` payload that draws ``trajectory`` (and a grey ``reference``) in the node's 3D view
    (``web/js/raxel_trajectory_view.js`` reads ``raxel_trajectory`` / ``raxel_reference``), plus any
    other entries in ``shown`` (e.g. ``text`` or a preview image's dict)."""
    from ..raxel_core.trajectory_view import trajectory_view

    shown["raxel_trajectory"] = [trajectory_view(trajectory)]
    if reference is not None:
        shown["raxel_reference"] = [trajectory_view(reference, label="reference")]
    return shown


def video_source(video):
    """The file behind a core ``VIDEO`` (``get_stream_source()``: a path or a file object), or None for a
    ``VIDEO`` built from frames in memory (and for anything that is not a ``VIDEO``)."""
    return video.get_stream_source() if hasattr(video, "get_stream_source") else None


def video_components(video, what: str = "the video"):
    """``video.get_components()`` of a core ``VIDEO`` with errors an artist can act on.

    Raises:
        ValueError: the file holds no decodable frame (an empty or interrupted export: PyAV then
            fails with an ``IndexError`` whose text says nothing useful) or cannot be decoded.
    """
    try:
        return video.get_components()
    except IndexError:
        raise ValueError(f"{what} holds no frames (an empty or interrupted export); re-export it, e.g. as "
                         "H.264 .mp4") from None
    except Exception as err:  # PyAV / ComfyUI errors say little to an artist: rephrase, keep the cause
        raise ValueError(f"{what} could not be decoded ({type(err).__name__}: {err}); check that the file plays "
                         "and holds a video stream, or re-export it (H.264 .mp4)") from err
