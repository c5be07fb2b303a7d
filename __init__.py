"""Raxel nodes: camera trajectories, raxels (Rays as Pixels) and camera poses from video, for ComfyUI.

ComfyUI loads this folder as a package and calls :func:`comfy_entrypoint` (V3 node API). There is
deliberately no ``NODE_CLASS_MAPPINGS``: ComfyUI's loader stops at that name and would ignore the
entry point. The library the nodes wrap is :mod:`raxel_core` (usable without ComfyUI).
"""


async def comfy_entrypoint():
    """Entry point ComfyUI's loader calls for V3 packs. The node modules (and ComfyUI's own
    ``comfy_api``) are imported here, not at package import, so importing the pack stays cheap and
    works outside ComfyUI (pytest imports this folder as a package)."""
    from .nodes import comfy_entrypoint as _entrypoint

    return await _entrypoint()


#: Folder of the pack's front-end files (node documentation pages in ``web/docs``).
WEB_DIRECTORY = "./web"

__all__ = ["WEB_DIRECTORY", "comfy_entrypoint"]
