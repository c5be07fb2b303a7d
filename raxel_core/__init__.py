"""raxel_core: cameras, trajectories, raxels and camera poses from video.

Pure Python on torch / numpy; never imports ComfyUI. Where things live:

* ``cameras.py``            the one camera type (OpenCV axes, world-to-camera R, t, pixel K)
* ``formats/``              file formats, each converting to/from ``Cameras`` at the edge
* ``geometry/``             rotations, Kabsch / Umeyama alignment, the pixel-centre convention
* ``authoring/``            camera moves (presets), keyframed paths, chaining, resampling, smoothing
* ``raxels.py``             cameras <-> raxel images (Rays as Pixels, Sec. 3.2 / 3.5)
* ``plucker.py``            Plucker ray maps and the Wan camera embedding layout
* ``evaluation/``           metrics (ATE, RPE, RRA/RTA, AUC@30, RotErr/TransErr), pose and model evaluation
* ``pose/``                 camera trajectory from video frames (pycolmap)
* ``render.py``             synthetic textured scenes rendered along known cameras
* ``video_io.py``           reading video files into frames
* ``preview.py``            top / side view images of a trajectory with frustums
* ``cli/``                  the ``raxel`` command, one module per command
"""
from .cameras import Cameras

__all__ = ["Cameras"]
__version__ = "0.1.0"
