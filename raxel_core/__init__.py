"""raxel_core: cameras, trajectories, raxels and camera poses from video.

Pure Python on torch / numpy; never imports ComfyUI. Where things live:

* ``cameras.py``            the one camera type (OpenCV axes, world-to-camera R, t, pixel K)
* ``formats/``              file formats, each converting to/from ``Cameras`` at the edge
* ``geometry/``             rotations, Kabsch / Umeyama alignment, the pixel-centre convention
* ``authoring/``            camera moves (presets), keyframed paths, chaining, resampling, smoothing
* ``rays/``                 cameras <-> ray images: raxel maps (Rays as Pixels, Sec. 3.2 / 3.5), their
                            PNG files, Plucker ray maps, the Wan camera embedding, the model's ray codecs
* ``evaluation/``           metrics (ATE, RPE, RRA/RTA, AUC@30, RotErr/TransErr), pose and model evaluation
* ``pose/``                 camera trajectory from video frames (pycolmap)
* ``synthetic/``            synthetic textured rooms rendered along known cameras, synthetic training clips
* ``video_io.py``           reading video files into frames
* ``preview.py``            top / side view images of a trajectory with frustums
* ``cli/``                  the ``raxel`` command, one module per command
"""
from .cameras import Cameras

__all__ = ["Cameras"]
__version__ = "0.1.0"
