"""forecaster.model.recommend: the test span never steers the recommendation (training, scaling, early stopping,
the choice); the recommendation is the candidate with the lowest validation MAE and ships as validated;
a recommended model survives save/load. Tiny panels and a few epochs keep these fast."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import TINY as TINY_NETWORK, make_panel
from forecaster import ForecastConfig, evaluate, fit, forecast, load, save
from forecaster.model.baselines import BASELINES
from forecaster.config import DEFAULT_CANDIDATES
from forecaster.errors import ForecasterError
from forecaster.labels import CNN_LSTM, GLOBAL_CNN_LSTM, MOVING_AVERAGE_7, NETWORK
from forecaster.model.recommend import BIAS_LIMIT, best_blend, network_blends, recommend
from forecaster.model.scores import naive_scale
from forecaster.model.windows import chronological_split

# the shared tiny settings, recommending (refit has its own test below)
TINY = TINY_NETWORK.replace(model="auto", patience=2, seed=3, refit=False, retrain_for_forecast=True)


def _state(trained) -> list[dict[str, torch.Tensor]]:
    return [net.state_dict() for net in trained.networks]


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return make_panel(days=110, products=4)


@pytest.fixture(scope="module")
def rec(panel):
    return recommend(panel, TINY)


def test_auto_is_the_default_model():
    assert ForecastConfig().model == "auto"


def test_test_span_values_change_nothing_in_the_recommendation(panel, rec):
    test = chronological_split(len(panel), TINY).test
    changed = panel.copy()
    changed.iloc[test] = changed.iloc[test] * 10 + 7  # wildly different test span
    other = recommend(changed, TINY)
    pd.testing.assert_frame_equal(rec.trained.selection, other.trained.selection)  # same validation MAEs, same choice
    assert rec.trained.selection_reason == other.trained.selection_reason
    assert rec.trained.blend == other.trained.blend
    for model in DEFAULT_CANDIDATES:
        a, b = rec.networks[model], other.networks[model]
        assert a.scaler.to_dict() == b.scaler.to_dict()  # scaling fit before the test span
        assert a.best_epochs == b.best_epochs  # early stopping watched the validation span only
        assert [(h.train_loss, h.val_loss) for h in a.history] == [(h.train_loss, h.val_loss) for h in b.history]
        for sa, sb in zip(_state(a), _state(b)):
            for key in sa:
                assert torch.equal(sa[key], sb[key]), f"{model}: {key} depends on the test span"


def test_validation_predictions_do_not_read_the_test_span(panel, rec):
    split = chronological_split(len(panel), TINY)
    cut = panel.iloc[:split.test[0]]  # no test span at all
    full = rec.trained.predict(panel, split.val)
    assert np.allclose(full, rec.trained.predict(cut, split.val))


def rmsse_on(panel: pd.DataFrame, pred: np.ndarray, days: np.ndarray) -> float:
    """The choice's measure, computed here from its definition: per product sqrt(MSE / mean squared one-day
    change before ``days``), averaged over the products."""
    values = panel.to_numpy()
    scale = np.mean(np.diff(values[:days[0]], axis=0) ** 2, axis=0)
    return float(np.mean(np.sqrt(np.mean((pred - values[days]) ** 2, axis=0) / scale)))


def test_recommendation_is_the_lowest_validation_rmsse_among_the_unbiased(panel, rec):
    sel = rec.trained.selection
    assert sel["chosen"].sum() == 1
    chosen = sel.loc[sel["chosen"]].iloc[0]
    baselines = sel[sel["candidate"].isin(BASELINES) | sel["candidate"].eq("weekday_mean_4")]
    fair = sel[sel["validation_bias"].abs() <= baselines["validation_bias"].abs().min() + BIAS_LIMIT]
    assert chosen["validation_rmsse"] == fair["validation_rmsse"].min()
    # the recorded validation RMSSE and bias are what the returned forecaster really scores there
    val = chronological_split(len(panel), TINY).val
    pred, actual = rec.trained.predict(panel, val), panel.to_numpy()[val]
    assert np.isclose(rmsse_on(panel, pred, val), chosen["validation_rmsse"])
    assert np.isclose(pred.sum() / actual.sum() - 1, chosen["validation_bias"])
    assert f"{chosen['validation_rmsse']:.3g}" in rec.trained.selection_reason
    assert set(sel["candidate"]) >= set(DEFAULT_CANDIDATES) | {"moving_average_7", "seasonal_naive"}


def test_every_candidate_is_scored_on_the_same_validation_days(panel, rec):
    val = chronological_split(len(panel), TINY).val
    actual = panel.to_numpy()[val]
    preds = rec.predictions(panel, val)
    assert len(rec.candidates) >= len(DEFAULT_CANDIDATES) + 3
    for candidate in rec.candidates:
        assert np.isclose(rmsse_on(panel, preds[candidate.name], val), candidate.val_rmsse), candidate.name
        assert np.isclose(preds[candidate.name].sum() / actual.sum() - 1, candidate.val_bias), candidate.name
    assert np.allclose(preds[MOVING_AVERAGE_7], BASELINES[MOVING_AVERAGE_7](panel.to_numpy(), val))


def test_fit_with_auto_returns_the_recommendation(panel, rec):
    trained = fit(panel, TINY)
    pd.testing.assert_frame_equal(trained.selection, rec.trained.selection)
    test = chronological_split(len(panel), TINY).test
    assert np.array_equal(trained.predict(panel, test), rec.trained.predict(panel, test))


def test_progress_covers_every_candidate_and_the_retraining(panel):
    records = []
    trained = fit(panel, TINY.replace(patience=0), callback=records.append)
    candidates = TINY.epochs * TINY.ensemble * len(DEFAULT_CANDIDATES)
    total = candidates + TINY.epochs * TINY.ensemble  # the retraining plans the most it could take
    assert {r.total_epochs for r in records} == {total}
    done = [r.done_epochs for r in records]
    latest = trained.latest_epochs * TINY.ensemble
    assert done == list(range(1, candidates + latest + 1)) + ([total] if latest < TINY.epochs else [])


def test_forecasts_come_from_networks_retrained_on_every_day(panel):
    """Evaluate scores networks that never saw the test span; forecasts come from the same family trained
    again on every day but the last, scaled on those days: changing the test span changes them only."""
    test = chronological_split(len(panel), TINY).test
    changed = panel.copy()
    changed.iloc[test] = changed.iloc[test] * 10 + 7
    a, b = fit(panel, TINY), fit(changed, TINY)
    assert len(a.latest_networks) == TINY.ensemble and a.latest_epochs == int(np.median(a.best_epochs))
    for sa, sb in zip(_state(a), _state(b)):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)  # the evaluated networks: the test span unseen
    assert not all(torch.equal(x, y) for x, y in zip(a.latest_networks[0].state_dict().values(),
                                                       b.latest_networks[0].state_dict().values()))
    high = changed.iloc[:-1].max().to_numpy()
    assert np.allclose(b.latest_scaler.inverse(np.ones((1, panel.shape[1])))[0], high)
    evaluated_only = dataclasses.replace(a, latest_networks=[], latest_scaler=None)
    assert np.array_equal(evaluate(a, panel).predictions[NETWORK], evaluate(evaluated_only, panel).predictions[NETWORK])
    assert not np.allclose(forecast(a, panel, horizon=3)["forecast"], forecast(evaluated_only, panel, horizon=3)["forecast"])
    assert fit(panel, TINY.replace(retrain_for_forecast=False)).latest_networks == []


def test_retrained_networks_save_and_load(panel, tmp_path):
    trained = fit(panel, TINY)
    loaded = load(save(trained, tmp_path))
    assert len(loaded.latest_networks) == len(trained.latest_networks) and loaded.latest_epochs == trained.latest_epochs
    pd.testing.assert_frame_equal(forecast(loaded, panel, horizon=3), forecast(trained, panel, horizon=3))


def test_a_cancel_during_the_retraining_keeps_the_evaluated_model(panel):
    class CancelInRetraining:
        def __init__(self) -> None:
            self.records = 0

        def is_set(self) -> bool:
            return self.records > TINY.epochs * len(DEFAULT_CANDIDATES)  # every candidate done: the retraining

    cancel = CancelInRetraining()
    trained = fit(panel, TINY.replace(patience=0), callback=lambda r: setattr(cancel, "records", r.done_epochs),
                  cancel=cancel)
    assert trained.networks and trained.latest_networks == [] and trained.cancelled
    assert trained.for_forecasting() is trained


def test_saved_recommended_model_gives_identical_forecasts(panel, rec, tmp_path):
    run = save(rec.trained, tmp_path)
    loaded = load(run)
    assert loaded.blend == rec.trained.blend
    assert loaded.selection_reason == rec.trained.selection_reason
    pd.testing.assert_frame_equal(loaded.selection, rec.trained.selection)
    pd.testing.assert_frame_equal(forecast(loaded, panel, horizon=3), forecast(rec.trained, panel, horizon=3))
    assert np.array_equal(evaluate(loaded, panel).predictions[NETWORK], evaluate(rec.trained, panel).predictions[NETWORK])


def test_a_blend_saves_and_loads(panel, rec, tmp_path):
    import dataclasses

    blended = dataclasses.replace(rec.trained, blend={NETWORK: 0.6, MOVING_AVERAGE_7: 0.4})
    loaded = load(save(blended, tmp_path))
    pd.testing.assert_frame_equal(forecast(loaded, panel, horizon=2), forecast(blended, panel, horizon=2))


def test_auto_needs_validation_days(panel):
    with pytest.raises(ForecasterError, match="validation"):
        fit(panel, TINY.replace(val_days=0))


def test_best_blend_finds_the_mixing_weights():
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0, 10, (20, 3)), rng.uniform(0, 10, (20, 3))
    weights, score = best_blend(0.3 * a + 0.7 * b, {NETWORK: a, MOVING_AVERAGE_7: b}, naive_scale(a))
    assert weights == {NETWORK: 0.3, MOVING_AVERAGE_7: 0.7}
    assert score < 1e-9


def test_refit_on_validation_days_still_never_sees_the_test_span(panel):
    config = TINY.replace(refit=True, patience=0)
    test = chronological_split(len(panel), config).test
    changed = panel.copy()
    changed.iloc[test] = changed.iloc[test] * 10 + 7
    records = []
    a, b = recommend(panel, config, callback=records.append), recommend(changed, config)
    pd.testing.assert_frame_equal(a.trained.selection, b.trained.selection)
    for sa, sb in zip(_state(a.trained), _state(b.trained)):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    done = [r.done_epochs for r in records]
    assert done == sorted(done) and done[-1] == records[-1].total_epochs  # the bar ends full
    if a.trained.blend.get(NETWORK, 1) > 0:  # the chosen network was trained again
        assert a.trained.networks is not a.networks[a.trained.config.model].networks


def test_each_network_gets_its_own_blend_with_the_baselines():
    """Not only the best network is blended: a weaker one whose errors differ from the baseline's can
    make the best mix, and a network the baseline cannot improve gets no blend."""
    rng = np.random.default_rng(0)
    actual = rng.uniform(5, 10, (28, 4))
    noise = rng.normal(0, 1, (28, 4))
    baseline = actual + noise  # errors +noise
    weak = actual - noise * 1.5  # worse alone, but its errors cancel the baseline's
    strong = actual + noise * 0.5  # better alone, same direction of error as the baseline
    perfect = actual.copy()
    out = {c.name: c for c in network_blends(actual, {GLOBAL_CNN_LSTM: strong, CNN_LSTM: weak, "exact": perfect},
                                             {MOVING_AVERAGE_7: baseline}, naive_scale(actual))}
    assert np.abs(weak - actual).mean() > np.abs(strong - actual).mean()
    blend = out["blend_cnn_lstm"]
    assert blend.network == CNN_LSTM and blend.weights == {NETWORK: 0.4, MOVING_AVERAGE_7: 0.6}
    assert blend.val_rmsse < 1e-9
    assert "blend_global_cnn_lstm" not in out or blend.val_rmsse < out["blend_global_cnn_lstm"].val_rmsse
    assert "blend_exact" not in out  # 100 % network: the pure candidate already covers it
    assert blend.description.startswith("blend of 40% Multi-output CNN+LSTM")


def test_without_refit_the_chosen_ensemble_ships_as_validated(panel):
    """The default: each candidate is the configured ensemble and the recommended model is that very
    ensemble, so the validation error the user reads is the shipped model's."""
    config = TINY.replace(ensemble=2)
    assert ForecastConfig().refit is False
    rec = recommend(panel, config)
    for model in DEFAULT_CANDIDATES:
        assert len(rec.networks[model].networks) == 2
    chosen_name = rec.trained.selection.loc[rec.trained.selection["chosen"], "candidate"].iloc[0]
    chosen = next(c for c in rec.candidates if c.name == chosen_name)
    assert rec.trained.networks is rec.networks[chosen.network].networks  # not trained again
    assert "trained again" not in rec.trained.selection_reason
    val = chronological_split(len(panel), config).val
    chosen_rmsse = rec.trained.selection.loc[rec.trained.selection["chosen"], "validation_rmsse"].iloc[0]
    assert np.isclose(rmsse_on(panel, rec.trained.predict(panel, val), val), chosen_rmsse)


def test_the_recommendation_trains_exactly_the_candidates_asked_for(panel):
    config = TINY.replace(candidates=("global_gru_attention", "cnn_lstm"), ensemble=1, epochs=2)
    rec = recommend(panel, config)
    assert list(rec.networks) == ["global_gru_attention", "cnn_lstm"]
    assert {c.network for c in rec.candidates} <= {"global_gru_attention", "cnn_lstm"}
    assert rec.networks["global_gru_attention"].config.model == "global_gru_attention"
    assert len(rec.trained.history) <= 2 * 2  # two networks, two epochs each


def test_a_catalog_over_the_multi_output_limit_trains_only_the_shared_network_and_says_so(panel):
    """4 products over a limit of 3: the multi-output network is left out of the candidates, the progress
    plans only the shared network's epochs, the reason names what was left out and how to train it."""
    config = TINY.replace(ensemble=1, epochs=2, retrain_for_forecast=False, multi_output_max_products=3)
    seen = []
    trained = fit(panel, config, callback=seen.append)
    assert {r.total_epochs for r in seen} == {2}
    assert trained.config.model == GLOBAL_CNN_LSTM
    assert not trained.selection["description"].str.contains("Multi-output").any()
    assert "Not trained: Multi-output CNN+LSTM" in trained.selection_reason
    assert "multi_output_max_products to 0" in trained.selection_reason
    assert config.for_catalog(3) == config and config.left_out(3) == ()
    assert fit(panel, config.replace(multi_output_max_products=0)).selection["description"].str.contains(
        "Multi-output").any()
    with pytest.raises(ForecasterError, match="multi_output_max_products"):
        config.replace(candidates=(CNN_LSTM,)).check_trainable(110, 4)
    config.replace(candidates=(CNN_LSTM,), model=CNN_LSTM).check_trainable(110, 4)  # named as the model: trains


def test_candidates_must_be_different_registry_networks():
    for bad in ((), ("auto",), ("cnn_lstm", "cnn_lstm"), ("lightgbm",)):
        with pytest.raises(ForecasterError, match="candidates must be"):
            ForecastConfig(candidates=bad)


def test_a_candidate_cannot_win_by_forecasting_less():
    """Forecasting zero on intermittent demand beats a fair forecast on MAE, never on RMSSE: the choice's
    measure ranks the mean above it, and a blend that forecasts too little is marked biased."""
    rng = np.random.default_rng(3)
    actual = rng.poisson(0.4, (28, 5)) * rng.integers(1, 20, (28, 5)).astype(float)  # mostly zero, spiky
    fair = np.full_like(actual, actual.mean())
    zero = np.zeros_like(actual)
    assert np.abs(zero - actual).mean() < np.abs(fair - actual).mean()  # MAE prefers forecasting nothing
    scale = naive_scale(actual)
    (_, fair_score), (_, zero_score) = (best_blend(actual, {NETWORK: p}, scale) for p in (fair, zero))
    assert fair_score < zero_score
