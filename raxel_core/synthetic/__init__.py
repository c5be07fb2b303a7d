"""Synthetic scenes with exactly known cameras: the ``raxel demo`` scene and synthetic training clips.

* ``render.py``            :func:`make_scene` (a textured room with boxes) and :func:`render_frames`
                           (exact per-pixel ray casting along given cameras)
* ``room_trajectories.py`` camera paths inside that room: ``default_demo_trajectory`` (``raxel demo``)
                           and ``sample_room_trajectory`` (random paths for training clips)
* ``clips.py``             ``SyntheticClips``, the training dataset of rendered clips
                           (:class:`raxel_core.diffusion.datasets.Clip`)

Nothing is imported here, so that the renderer does not pull in the diffusion package
(``clips.py`` builds on :mod:`raxel_core.diffusion.datasets`).
"""
