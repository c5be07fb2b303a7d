"""Evaluation: how good the estimated and generated cameras are, against ground truth.

* ``metrics.py`` the metric functions: trajectory errors after alignment (ATE, RPE), RRA / RTA /
  AUC over frame pairs, CamI2V RotErr / TransErr
* ``pose.py``    pose from video on RealEstate10K-layout clips (``raxel eval-pose``): our estimator
  beside pycolmap's default pipeline (the baseline)
* ``joint.py``   the joint video + ray model (``raxel eval-joint``): pose, camera following, closed
  loop, ablation
* ``tables.py``  the text tables of both evaluations

The modules are imported by name (``from raxel_core.evaluation.metrics import trajectory_metrics``);
this package imports none of them itself, so importing one does not load the others.
"""
