"""Cameras <-> rays: the ray images and ray streams of Rays as Pixels (arXiv 2604.09429).

* ``raxel_maps.py``     :class:`RaxelMaps`, the raxel image type (values in ``[-2, 2]``) and its metadata
* ``raxel_encode.py``   cameras -> raxel maps (Sec. 3.2): pixel centres, local / relative rays
* ``raxel_decode.py``   raxel maps -> cameras (Sec. 3.5): robust Kabsch registration, focal rule
* ``raxel_files.py``    raxel maps on disk: 8-bit PNG frames + ``raxels.json``
* ``plucker.py``        Plücker ray maps ``(d, m)`` and their RayDiffusion decoder
* ``wan_embedding.py``  the Wan 2.1 Fun Camera embedding layout, presets and intrinsics
* ``codecs.py``         the joint model's ray streams: cameras <-> the tensors the model denoises
"""
