"""The recommended model: candidates trained on the same days, chosen by their error on the validation span.

``fit(panel, ForecastConfig(model="auto"))`` (the default) lands here. It trains each network variant of
:data:`NETWORKS` with the config's settings (one network each when a refit follows, the configured
ensemble otherwise; the global variant's batch grows with the data, see :func:`candidate_config`),
predicts the validation span (the ``val_days`` just before the test span) one day ahead from the actual
history, adds the simple baselines on the same days, and also tries blends: for each network, a weighted
average of it and the baselines, weights on a coarse grid (steps of :data:`BLEND_STEP`) fit to the
validation span. The candidate with the lowest validation MAE is recommended. With ``config.refit`` and
a network in the choice, that network is then trained again, as the configured ensemble, on every day
before the test span (validation days included) for the epoch count early stopping found; the blend
weights stay. The test span is never looked at: scaling is fit before it, training and early stopping
end before it, and so does every score used to choose.

Cancel keeps what finished: a candidate that learned nothing is left out, no refit starts after a
cancel, and a cancelled refit is dropped in favour of the finished candidate.

The returned :class:`~forecaster.training.TrainedForecaster` is an ordinary one (the chosen network
family, its weights and scaler) with ``blend`` weights when a blend or a baseline won, plus
``selection`` (one row per candidate) and ``selection_reason`` (a sentence for the user).
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from .baselines import BLEND_COMPONENTS
from .config import AUTO_MODEL, ForecastConfig
from .errors import ForecasterError
from .training import CancelFlag, EpochRecord, TrainedForecaster, fit
from .windows import chronological_split

# network variants tried, first = preferred on a tie; batch size multiplier per layout: a "global"
# sample is one product-day, a "multi" sample one day of every product
NETWORKS = ("global_cnn_lstm", "cnn_lstm")
GLOBAL_BATCH_FACTOR = 4
MIN_STEPS = 32
MIN_GLOBAL_BATCH = 64
# baselines that may be recommended or blended with the network
BLEND_BASELINES = ("moving_average_7", "weekday_mean_4", "seasonal_naive")
BLEND_STEP = 0.1

LABELS = {
    "global_cnn_lstm": "global CNN+LSTM (shared by all products)",
    "cnn_lstm": "multi-output CNN+LSTM (one output per product)",
    "naive": "yesterday's sales (naive)",
    "seasonal_naive": "same weekday last week (seasonal naive)",
    "moving_average_7": "7-day moving average",
    "weekday_mean_4": "same weekday, mean of the last 4 weeks",
}


@dataclass
class Recommendation:
    """Everything the choice saw: trained networks, validation predictions and the table."""

    trained: TrainedForecaster  # the recommended forecaster (what fit returns)
    networks: dict[str, TrainedForecaster]  # every network candidate, by model name
    val_days: np.ndarray
    val_mae: dict[str, float]  # candidate -> validation MAE
    blends: dict[str, dict[str, float]]  # candidate -> blend weights (pure networks: {"network": 1})
    families: dict[str, str]  # candidate -> network model name it uses

    def predictions(self, panel: pd.DataFrame, days: np.ndarray) -> dict[str, np.ndarray]:
        """(D, P) predictions of every candidate for target days ``days`` (e.g. the test span, for a report)."""
        out = {}
        for name, weights in self.blends.items():
            net = self.networks[self.families[name]]
            out[name] = dataclasses.replace(net, blend=weights).predict(panel, days)
        return out


def _mae(actual: np.ndarray, pred: np.ndarray) -> float:
    return float(np.abs(actual - pred).mean())


def _grid(k: int, step: float) -> np.ndarray:
    """All weight vectors of length k on the simplex with the given step."""
    n = int(round(1 / step))
    rows = [c for c in itertools.product(range(n + 1), repeat=k) if sum(c) == n]
    return np.array(rows, dtype=np.float64) / n


def best_blend(actual: np.ndarray, parts: dict[str, np.ndarray], step: float = BLEND_STEP) -> tuple[dict[str, float], float]:
    """Weights (summing to 1, on a grid) of ``parts`` with the lowest MAE against ``actual``; first wins ties."""
    names = list(parts)
    stack = np.stack([parts[n] for n in names])  # (k, D, P)
    grid = _grid(len(names), step)
    maes = np.abs(np.tensordot(grid, stack, axes=1) - actual[None]).mean(axis=(1, 2))
    # prefer more network weight on a tie: order the grid by the first weight, descending
    order = np.lexsort((-grid[:, 0], maes))
    w = grid[order[0]]
    return {n: round(float(x), 6) for n, x in zip(names, w)}, float(maes[order[0]])


def network_blends(actual: np.ndarray, network_pred: dict[str, np.ndarray],
                   baseline_pred: dict[str, np.ndarray]) -> dict[str, tuple[str, dict[str, float], float]]:
    """One blend candidate per network: ``blend_<network>`` -> (network, weights, validation MAE).

    Each network gets its own best mix with the baselines, not only the best network alone: a weaker
    network may still add the most to them, its errors differing more from theirs. A "mix" that is all
    one component repeats a pure candidate and is left out.
    """
    out = {}
    for model, pred in network_pred.items():
        weights, mae = best_blend(actual, {"network": pred, **baseline_pred})
        if not any(w == 1.0 for w in weights.values()):
            out[f"blend_{model}"] = (model, {k: w for k, w in weights.items() if w > 0}, mae)
    return out


def _describe(name: str, weights: dict[str, float], family: str) -> str:
    if name in LABELS:
        return LABELS[name]
    parts = [f"{round(100 * w)}% {LABELS[family] if k == 'network' else LABELS[k]}"
             for k, w in weights.items() if w > 0]
    return "blend of " + " and ".join(parts)


def candidate_config(config: ForecastConfig, model: str, n_train_days: int, n_products: int) -> ForecastConfig:
    """The candidate's settings: the user's, with the batch size fitted to the layout.

    A "global" sample is one product-day, so its epochs hold products times more samples than the
    multi-output layout's: its batch grows with the data (up to GLOBAL_BATCH_FACTOR times the configured
    batch size) while keeping at least MIN_STEPS optimiser steps per epoch on short histories.
    """
    if model != "global_cnn_lstm":
        return config.replace(model=model)
    samples = n_train_days * n_products
    if config.epoch_samples:
        samples = min(samples, config.epoch_samples)
    batch = 2 ** int(np.floor(np.log2(max(samples // MIN_STEPS, 1))))
    batch = int(np.clip(batch, min(MIN_GLOBAL_BATCH, config.batch_size), config.batch_size * GLOBAL_BATCH_FACTOR))
    return config.replace(model=model, batch_size=batch)


def _search_config(config: ForecastConfig) -> ForecastConfig:
    """The candidates' settings: with a refit to come each candidate is one network (the choice needs its
    validation error, not its ensemble), and the refit trains the configured ensemble; without a refit
    the candidates are the ensembles."""
    return config.replace(ensemble=1) if config.refit else config


def planned_epochs(config: ForecastConfig) -> int:
    """Epochs the recommendation trains at most: every candidate, then the refit (early stopping ends sooner)."""
    search = _search_config(config)
    return search.epochs * search.ensemble * len(NETWORKS) + config.epochs * config.ensemble * int(config.refit)


def recommend(panel: pd.DataFrame, config: ForecastConfig = ForecastConfig(),
              callback: Callable[[EpochRecord], None] | None = None,
              cancel: CancelFlag | None = None) -> Recommendation:
    """Train every candidate on ``panel`` and recommend the one with the lowest validation MAE."""
    if config.model != AUTO_MODEL:
        raise ValueError("recommend() is for model='auto'")
    if config.val_days < 1:
        raise ForecasterError("The recommended model is chosen on validation days before the test span; "
                              "set validation days to at least 7, or pick a model yourself.")
    split = chronological_split(len(panel), config)
    values = panel.to_numpy(dtype=np.float64)
    actual = values[split.val]
    # with a refit to come, each candidate is one network (the choice needs its validation error, not its
    # ensemble); the refit trains the configured ensemble. Without a refit the candidates are the ensembles.
    search = _search_config(config)
    per_candidate = search.epochs * search.ensemble
    total = planned_epochs(config)

    networks: dict[str, TrainedForecaster] = {}
    val_pred: dict[str, np.ndarray] = {}
    for i, model in enumerate(NETWORKS):
        offset = i * per_candidate

        def relay(rec: EpochRecord, offset: int = offset) -> None:
            if callback is not None:
                callback(dataclasses.replace(rec, total_epochs=total, done_epochs=offset + rec.done_epochs))

        trained = fit(panel, candidate_config(search, model, len(split.train), panel.shape[1]), relay, cancel)
        if not trained.networks:  # cancelled before this candidate learned anything
            if not networks:
                return Recommendation(trained, {}, split.val, {}, {}, {})
            break
        networks[model] = trained
        val_pred[model] = trained.predict(panel, split.val)
        if trained.cancelled:
            break

    blends: dict[str, dict[str, float]] = {m: {"network": 1.0} for m in networks}
    families = {m: m for m in networks}
    val_mae = {m: _mae(actual, val_pred[m]) for m in networks}
    best_net = min(networks, key=lambda m: (val_mae[m], NETWORKS.index(m)))
    baseline_pred = {b: BLEND_COMPONENTS[b][0](values, split.val) for b in BLEND_BASELINES}
    for b in BLEND_BASELINES:
        blends[b] = {"network": 0.0, b: 1.0}
        families[b] = best_net
        val_mae[b] = _mae(actual, baseline_pred[b])
    for name, (family, weights, blend_mae) in network_blends(actual, val_pred, baseline_pred).items():
        blends[name], families[name], val_mae[name] = weights, family, blend_mae
    # lowest validation MAE wins; on a tie the earlier candidate (networks first)
    order = list(blends)
    chosen = min(order, key=lambda c: (val_mae[c], order.index(c)))

    result = networks[families[chosen]]
    weights = blends[chosen]
    history = [h for m in networks for h in _relabel(networks, m, per_candidate, total)]
    last = history[-1] if history else None
    seconds = sum(n.train_seconds for n in networks.values())
    cancelled = any(n.cancelled for n in networks.values()) or len(networks) < len(NETWORKS)
    refitted = False
    if config.refit and weights.get("network", 0) > 0 and not cancelled:
        refit = _refit(panel, config, result, split, total, callback, cancel)
        history += refit.history
        seconds += refit.train_seconds
        if refit.cancelled:  # a half-done refit is not better than the finished candidate: keep that
            cancelled = True
        else:
            result, refitted = refit, True
    elif callback is not None and last is not None and last.done_epochs < total and not cancelled:
        # early stopping or no refit left planned epochs unused: close the progress bar on the last epoch
        callback(dataclasses.replace(last, done_epochs=total))
    result = dataclasses.replace(result, blend={} if weights == {"network": 1.0} else dict(weights))
    result.history = history
    result.train_seconds = seconds
    result.cancelled = cancelled
    labels = {c: _describe(c, blends[c], families[c]) for c in order}
    result.selection = pd.DataFrame({
        "candidate": order,
        "description": [labels[c] for c in order],
        "validation_mae": [val_mae[c] for c in order],
        "chosen": [c == chosen for c in order],
    })
    result.selection_reason = _reason(chosen, labels, val_mae, len(split.val))
    if refitted:
        result.selection_reason += (" After this choice its network was trained again on every day before the "
                                    "test span, the validation days included.")
    return Recommendation(result, networks, split.val, val_mae, blends, families)


def _refit(panel: pd.DataFrame, config: ForecastConfig, chosen: TrainedForecaster, split, total: int,
           callback, cancel) -> TrainedForecaster:
    """Train the chosen network again on every day before the test span (validation days included), for
    the median number of epochs early stopping found; the choice and the blend weights stay as they are."""
    epochs = max(1, int(np.median(chosen.best_epochs or [config.epochs])))
    days = len(split.train) + len(split.val)
    refit_config = candidate_config(config.replace(val_days=0, epochs=epochs, patience=0), chosen.config.model,
                                    days, panel.shape[1])
    offset = total - epochs * config.ensemble  # the refit's epochs are known now: it ends the progress bar

    def relay(rec: EpochRecord) -> None:
        if callback is not None:
            callback(dataclasses.replace(rec, total_epochs=total, done_epochs=offset + rec.done_epochs))

    refit = fit(panel, refit_config, relay, cancel)
    refit.history = [dataclasses.replace(h, total_epochs=total, done_epochs=offset + h.done_epochs)
                     for h in refit.history]
    return refit


def _relabel(networks: dict[str, TrainedForecaster], model: str, per_candidate: int, total: int) -> list[EpochRecord]:
    offset = list(networks).index(model) * per_candidate
    return [dataclasses.replace(h, total_epochs=total, done_epochs=offset + h.done_epochs)
            for h in networks[model].history]


def _reason(chosen: str, labels: dict[str, str], val_mae: dict[str, float], days: int) -> str:
    others = sorted((c for c in val_mae if c != chosen), key=val_mae.get)
    rest = "; ".join(f"{labels[c]} {val_mae[c]:.3g}" for c in others)
    return (f"Recommended: {labels[chosen]}, because it had the smallest average error per product and day "
            f"on the {days} days just before the test span (validation MAE {val_mae[chosen]:.3g}; {rest}).")
