"""The validation paths the level anchor's choice and the intervals both read are computed once: the
intervals from the kept recursions are those computed afresh, bit for bit, with and without an anchor."""
from __future__ import annotations

import dataclasses

from conftest import TINY, make_panel
from forecaster import fit
from forecaster.model.recommend import calibrate_on_validation, choose_anchor_weights
from forecaster.model.windows import trading_split


def test_intervals_from_the_kept_recursions_are_those_computed_afresh():
    panel = make_panel(days=200, products=5)
    trained = fit(panel, TINY.replace(epochs=3))
    split = trading_split(panel, trained.config)
    for weights in ((), (0.3,) * 14):
        model = dataclasses.replace(trained, anchor_weights=weights)
        recursions = {}
        choose_anchor_weights(model, panel, split.val, recursions)
        assert {len(p) for p in recursions.values()} >= {14}  # the anchor's 14-day paths, kept
        kept = calibrate_on_validation(model, panel, split, recursions)
        assert kept.to_dict() == calibrate_on_validation(model, panel, split).to_dict()
