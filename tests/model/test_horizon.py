"""Multi-day forecasts that hold their level: the level anchor, the weights chosen on held-out paths, and the
blend applied to a trained model's recursive forecast."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from conftest import TINY, make_panel
from forecaster import fit
from forecaster.io.persistence import load, save
from forecaster.model.horizon import (BUCKETS, EVEN_BLEND, FIT_WEEKS, LEVEL_RULES, PATH_DAYS, SHRINK, SMOOTHING, WARM_WEEKS,
                                      anchor_weights, blend_with_anchor, choose_anchor, level_anchor, rescaled_path,
                                      smoothed_level)
from forecaster.model.recommend import choose_anchor_weights
from forecaster.model.windows import trading_split


def test_the_anchor_keeps_the_recent_weekly_total_and_shapes_it_by_weekday():
    rate = np.array([1, 1, 1, 1, 1, 3, 0], dtype=float)  # Saturday busy, Sunday closed
    history = np.tile(rate, 8)[:, None] * np.array([[2.0, 10.0]])
    anchor = level_anchor(history, 14)
    assert anchor.shape == (14, 2)
    assert np.allclose(anchor[:7].sum(axis=0), history[-28:].sum(axis=0) / 4)  # the recent weeks' mean total
    assert np.allclose(anchor[:7], history[-7:])  # a clean profile is reproduced day by day
    assert np.allclose(anchor[7:], anchor[:7])
    assert (anchor[6] == 0).all()  # a weekday that never sold


def test_a_level_change_moves_the_anchor_and_a_short_history_gives_a_flat_mean():
    history = np.r_[np.full(28, 5.0), np.full(28, 20.0)][:, None]
    assert np.allclose(level_anchor(history, 3), 20.0)  # the last 4 weeks' level, not the 8 weeks'
    assert np.allclose(level_anchor(np.array([[1.0], [3.0]]), 4), 2.0)
    assert np.allclose(level_anchor(np.zeros((0, 2)), 3), 0.0)


def _smoothing_oracle(weekly: np.ndarray) -> np.ndarray:
    """One product's weekly totals: its level after the last week for every smoothing weight, by the plain
    recursion, and each weight's squared misses h = 1 and 2 weeks ahead of the last FIT_WEEKS weeks (from
    origins after the warm-up)."""
    levels, scores = [], []
    for alpha in SMOOTHING:
        level, path = weekly[0], []
        for week in weekly:
            level = alpha * week + (1 - alpha) * level
            path.append(level)
        misses = [(path[t] - weekly[t + h]) ** 2 for h in (1, 2) for t in range(WARM_WEEKS, len(weekly) - h)
                  if t + h >= len(weekly) - FIT_WEEKS]
        scores.append(sum(misses))
        levels.append(path[-1])
    return np.array(levels), np.array(scores)


def test_the_level_is_exponentially_smoothed_with_the_weight_the_history_chooses():
    rng = np.random.default_rng(3)
    walk = 50 + np.cumsum(rng.normal(0, 8, 30)).repeat(7)[:, None] + rng.normal(0, 1, (210, 1))  # a moving level
    steady = rng.poisson(20, (210, 1)).astype(float)  # a steady one
    chosen = {}
    for name, history in (("walk", walk), ("steady", steady)):
        levels, scores = _smoothing_oracle(history.reshape(30, 7, 1).sum(axis=1))
        assert np.allclose(smoothed_level(history), levels[np.argmin(scores)] / 7)
        chosen[name] = SMOOTHING[np.argmin(scores)]
    assert chosen["walk"] >= 0.6 and chosen["steady"] <= 0.3  # a moving level follows, a steady one averages
    assert smoothed_level(walk)[0] == pytest.approx(walk[-7:].mean(), rel=0.1)
    assert smoothed_level(steady)[0] == pytest.approx(20, rel=0.05)
    assert smoothed_level(steady[:7 * (WARM_WEEKS + 2)]) is None  # too short: the 4 weeks' mean instead


def test_a_launch_sells_its_own_level_and_no_product_decides_the_smoothing_for_the_rest():
    rng = np.random.default_rng(4)
    steady = rng.poisson(20, (252, 20)).astype(float)
    launched = np.r_[np.zeros(231), np.full(21, 10.0)][:, None]  # on sale for the last 3 weeks
    stopped = np.r_[np.full(182, 10.0), np.zeros(70)][:, None]  # none sold for 10 weeks
    with_launch = smoothed_level(np.hstack([steady, launched]))
    assert with_launch[-1] == pytest.approx(10.0)  # not a third of it for the weeks before it existed
    assert np.allclose(with_launch[:-1], smoothed_level(steady))  # the catalog's weight unmoved by it
    # a stop favours a large weight, but counts as one product of 21
    assert np.allclose(smoothed_level(np.hstack([steady, stopped]))[:-1], smoothed_level(steady), rtol=0.03)
    assert (smoothed_level(np.zeros((252, 2))) == 0).all()


def test_a_product_with_a_lone_busy_day_leans_on_the_catalogs_profile():
    history = np.ones((56, 2))
    history[-3, 0] = 50.0  # one spike on one weekday
    anchor = level_anchor(history, 7)
    own = history[-56:, 0].reshape(8, 7).mean(axis=0)[4] / history[-56:, 0].mean()
    assert anchor[4, 0] / anchor[:, 0].mean() < own  # shrunk toward the catalog's flat profile


def _paths(decay: bool, origins: int = 3, products: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    level = rng.uniform(5, 20, products)
    actual = rng.poisson(np.broadcast_to(level, (origins, PATH_DAYS, products))).astype(float)
    fade = 0.8 ** np.arange(PATH_DAYS)[None, :, None] if decay else 1.0
    path = actual * 0.0 + level * fade if decay else actual.copy()
    anchor = np.broadcast_to(level, actual.shape).copy()
    return actual, path, anchor, np.ones((origins, PATH_DAYS), bool), np.ones(products)


def test_a_path_that_decays_while_sales_hold_leans_on_the_anchor_later_on():
    weights = anchor_weights(*_paths(decay=True))
    assert len(weights) == PATH_DAYS and weights[0] == 0  # day 1 is the one-step forecast
    later = weights[BUCKETS[-1].start]
    assert later >= 0.7 and later >= weights[1]  # all anchor where it is chosen, moved halfway to the even blend


def test_a_path_that_is_right_leans_on_the_recursion():
    assert anchor_weights(*_paths(decay=False)) == (0.0,) + ((1 - SHRINK) * 0.0 + SHRINK * EVEN_BLEND,) * (PATH_DAYS - 1)


def test_a_bucket_the_paths_do_not_reach_keeps_the_previous_weight():
    actual, path, anchor, open_, scale = _paths(decay=True)
    short = anchor_weights(actual[:, :7], path[:, :7], anchor[:, :7], open_[:, :7], scale)
    assert short[7:] == (short[6],) * (PATH_DAYS - 7)
    no_scale = anchor_weights(actual, path, anchor, open_, np.full(4, np.nan))
    assert no_scale == (0.0,) + (EVEN_BLEND,) * (PATH_DAYS - 1)  # nothing to choose on: the even blend


def test_the_level_rule_whose_blend_did_better_on_the_validation_paths_is_chosen():
    actual, path, anchor, open_, scale = _paths(decay=True)
    wrong = anchor * 3  # a level three times what sells
    assert choose_anchor(actual, path, {"smoothed": wrong, "mean": anchor}, open_, scale)[1] == "mean"
    weights, rule = choose_anchor(actual, path, {"smoothed": anchor, "mean": wrong}, open_, scale)
    assert rule == "smoothed" and weights == anchor_weights(actual, path, anchor, open_, scale)
    assert choose_anchor(actual, path, {"mean": anchor, "smoothed": anchor}, open_, scale)[1] == "mean"  # a tie
    with pytest.raises(ValueError, match="level rule"):
        level_anchor(np.ones((70, 2)), 7, "median")


def test_a_rescaled_path_keeps_its_shape_takes_the_anchors_level_within_bounds():
    path = np.array([[5.0, 1.0, 0.0], [1.0, 2.0, 0.0], [3.0, 6.0, 0.0], [0.0, 1.0, 0.0]] + [[2.0, 1.0, 0.0]] * 10)
    anchor = np.array([[8.0, 100.0, 3.0]] * 14)
    out = rescaled_path(path, anchor, np.ones(14, bool))
    assert np.allclose(out[0], path[0])  # day 1 stays
    assert np.allclose(out[1:7, 0].sum(), 6 * 8.0) and np.allclose(out[7:, 0].sum(), 7 * 8.0)
    assert np.allclose(out[1:7, 0], path[1:7, 0] * out[1, 0] / path[1, 0])  # the path's shape
    assert np.allclose(out[1:, 1], 5 * path[1:, 1])  # 100 a day against about 2: moved 5x at most
    assert np.allclose(out[1:, 2], 3.0)  # forecast 0 throughout: the anchor as it is


def test_the_first_trading_day_and_closed_days_are_never_blended():
    path, anchor = np.full((5, 2), 4.0), np.full((5, 2), 10.0)
    open_ = np.array([False, True, True, False, True])  # a closed Saturday first, then Sunday
    path[~open_] = 0
    anchor[~open_] = 0
    blended = blend_with_anchor(path, anchor, (0.0,) + (1.0,) * 4, open_)
    assert (blended[0] == 0).all() and (blended[3] == 0).all()
    assert (blended[1] == 4).all()  # the first trading day: the network's one-step forecast
    assert np.allclose(blended[2] + blended[4], 20) and np.allclose(blended[2], blended[4])
    assert blend_with_anchor(path, anchor, (), open_) is path


@pytest.fixture(scope="module")
def trained(one_torch_thread):
    panel = make_panel(days=150)
    return panel, fit(panel, TINY)


def test_a_trained_model_chooses_its_weights_on_the_validation_days(trained):
    panel, model = trained
    assert len(model.anchor_weights) == PATH_DAYS and model.anchor_weights[0] == 0
    assert all(0 <= w <= 1 for w in model.anchor_weights)
    assert model.anchor_level in LEVEL_RULES
    again = choose_anchor_weights(model, panel, trading_split(panel, model.config).val)
    assert again == (model.anchor_weights, model.anchor_level)  # reproducible from the same held-out days


def test_the_forecast_path_blends_after_day_one_and_a_saved_run_keeps_the_weights(trained, tmp_path):
    panel, model = trained
    closed = np.zeros(20, dtype=bool)
    plain = dataclasses.replace(model, anchor_weights=()).forecast_path(panel, closed)
    full = dataclasses.replace(model, anchor_weights=(0.0,) + (1.0,) * (PATH_DAYS - 1)).forecast_path(panel, closed)
    anchor = level_anchor(panel.to_numpy(dtype=np.float64), 20, model.anchor_level)
    assert np.allclose(full[0], plain[0])
    for span in (slice(1, 7), slice(7, 14), slice(14, 20)):  # beyond the weights' days the last weight holds
        have, want = plain[span].sum(axis=0), anchor[span].sum(axis=0)
        ratio = np.divide(want, have, out=np.zeros_like(have), where=have > 0)
        moved = np.where(have > 0, plain[span] * np.clip(ratio, 0.2, 5), anchor[span])
        assert np.allclose(full[span], moved)  # the network's day-to-day shape, the anchor's level
    for rule in LEVEL_RULES:
        loaded = load(save(dataclasses.replace(model, anchor_level=rule), tmp_path / rule))
        assert loaded.anchor_weights == model.anchor_weights and loaded.anchor_level == rule
    loaded = load(save(model, tmp_path / "run"))
    assert np.allclose(loaded.forecast_path(panel, closed), model.forecast_path(panel, closed))


def test_the_anchor_reads_only_the_history_the_user_let_the_model_learn_from(trained):
    panel, model = trained
    smoothed = dataclasses.replace(model, anchor_weights=(0.0,) + (1.0,) * (PATH_DAYS - 1), anchor_level="smoothed")
    closed = np.zeros(14, dtype=bool)
    full, recent = smoothed.forecast_path(panel, closed), smoothed.forecast_path(panel.iloc[-100:], closed)
    assert not np.allclose(full, recent)  # 21 weeks smoothed against 14
    capped = dataclasses.replace(smoothed, config=smoothed.config.replace(history_days=100))
    assert np.allclose(capped.forecast_path(panel, closed), recent)


def test_old_runs_load_without_weights_and_foreign_weights_are_refused(trained, tmp_path):
    import json

    _, model = trained
    run = save(model, tmp_path / "run")
    meta = json.loads((run / "config.json").read_text())
    meta.pop("anchor_weights")
    meta.pop("anchor_level")
    (run / "config.json").write_text(json.dumps(meta))
    assert load(run).anchor_weights == () and load(run).anchor_level == "mean"  # as such runs forecast
    meta["anchor_level"] = "median"
    (run / "config.json").write_text(json.dumps(meta))
    with pytest.raises(Exception, match="anchor rule"):
        load(run)
    meta.pop("anchor_level")
    for bad in ([2.0], [True], ["1"], [0.5] * (PATH_DAYS + 1), {"a": 1}):
        meta["anchor_weights"] = bad
        (run / "config.json").write_text(json.dumps(meta))
        with pytest.raises(Exception, match="anchor"):
            load(run)
