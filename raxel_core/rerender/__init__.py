"""Re-render a video from a new camera (Reangle-A-Video's depth warp and masks, Track2View's paired tracks).

* ``depth.py``     depth forms of depth nodes, robust per-frame alignment to the clip, coarse depth
                   from sparse triangulated points
* ``targets.py``   target cameras: absolute, relative to the source path, six presets
* ``warp.py``      z-buffered bilinear forward splatting, visibility and latent-time masks
* ``tracks3d.py``  source tracks lifted to 3D and projected into the target cameras
* ``pipeline.py``  :func:`~raxel_core.rerender.pipeline.rerender`, used by the CLI and the node
"""
