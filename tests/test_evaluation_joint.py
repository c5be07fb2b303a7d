"""Scoring of the joint-model evaluation (raxel_core.evaluation.joint): the pair protocol
with pairs that have no translation direction (a camera that only rotates) counted for RRA only."""
from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("diffusers", reason="raxel_core.diffusion needs diffusers")

from raxel_core.authoring.trajectory_presets import make_preset
from raxel_core.evaluation.joint import pair_errors, summarise_pairs


def test_a_pan_has_no_translation_direction_and_counts_for_rotation_only():
    pan = make_preset("pan_left", 9, image_size=(32, 48), magnitude=30.0)
    dolly = make_preset("dolly_in", 9, image_size=(32, 48))
    rot, trans, translating = pair_errors(pan, None, pan)
    assert rot.shape == trans.shape == translating.shape == (36,) and not translating.any()
    _, _, moving = pair_errors(dolly, None, dolly)
    assert moving.all()
    only_pan = summarise_pairs([pair_errors(pan, None, pan)])
    assert only_pan["rra15"] == 100.0 and math.isnan(only_pan["auc30"]) and only_pan["pairs_translating"] == 0
    both = summarise_pairs([pair_errors(pan, None, pan), pair_errors(None, None, dolly)])   # dolly not registered
    assert both["pairs"] == 72 and both["pairs_translating"] == 36
    assert both["rra15"] == 50.0 and both["auc30"] == 0.0 and both["rta15"] == 0.0
    perfect = summarise_pairs([pair_errors(dolly, None, dolly)])
    assert perfect["auc30"] == pytest.approx(100.0) and perfect["rta15"] == 100.0
    assert np.isfinite(perfect["rra15"])
