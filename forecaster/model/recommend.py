"""The one place that decides what to train: a single network, or candidates chosen by validation.

:func:`fit_once` trains one cut-off's model (:func:`forecaster.run.fit.fit`, the library's entry point,
calls it once per cut-off on the executor it is given). With a registry model it trains that network
(:func:`forecaster.model.training.train`). With ``model="auto"`` (the default) :func:`recommend` trains each
network of ``config.candidates`` with the config's settings (one network each when a refit follows,
the configured ensemble otherwise; the global variant's batch grows with the data, see
:func:`candidate_config`), predicts the validation span (the ``val_days`` just before the test span) one
day ahead from the actual history, adds the simple baselines on the same days, and also tries blends:
for each network, a weighted average of it and the baselines, weights on a coarse grid (steps of
:data:`BLEND_STEP`) fit to the validation span. The candidate with the lowest validation RMSSE (squared
error of the expected demand, scaled per product) is recommended, a biased one (see :data:`BIAS_LIMIT`) last. With ``config.refit`` and a network in the choice, that network is then trained again, as
the configured ensemble, on every day before the test span (validation days included) for the epoch
count early stopping found; the blend weights stay. The test span is never looked at: scaling is fit
before it, training and early stopping end before it, and so does every score used to choose.

Cancel keeps what finished: a candidate that learned nothing is left out, no refit starts after a
cancel, and a cancelled refit is dropped in favour of the finished candidate.

The recommended :class:`~forecaster.model.trained.TrainedForecaster` is an ordinary one (the chosen network
family, its weights and scaler) with ``blend`` weights when a blend or a baseline won, plus
``selection`` (one row per candidate) and ``selection_reason`` (a sentence for the user).
"""
from __future__ import annotations

import dataclasses
import itertools
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models import REGISTRY

from ..config import ForecastConfig
from ..labels import AUTO, LABELS, MOVING_AVERAGE_7, NETWORK, SEASONAL_NAIVE, WEEKDAY_MEAN_4, blend_label
from .baselines import BLEND_COMPONENTS
from .horizon import LEVEL_RULES, PATH_DAYS, choose_anchor, level_anchor
from .intervals import SUM_DAYS, Calibration, calibrate, correlation_of_totals, total_widening
from .scores import bias, naive_scale, rmsse, since_first_sale
from .tasks import Executor, InlineExecutor, ProgressCallback, train_models
from .trained import CancelFlag, EpochRecord, TrainedForecaster
from .windows import Split, trading_split

# the global layout's batch: a "global" sample is one product-day, a "multi" sample one day of every product
GLOBAL_BATCH_FACTOR = 4
MIN_STEPS = 32
MIN_GLOBAL_BATCH = 64
# baselines that may be recommended or blended with a network
BLEND_BASELINES = (MOVING_AVERAGE_7, WEEKDAY_MEAN_4, SEASONAL_NAIVE)
BLEND_STEP = 0.1
PURE_NETWORK = {NETWORK: 1.0}  # blend weights of a network on its own
# a candidate whose validation total is this much further from what sold than the least biased baseline's
# ranks after every other (a level change moves every method's bias alike: the baselines say how much)
BIAS_LIMIT = 0.1


def fit_once(panel: pd.DataFrame, config: ForecastConfig, callback: ProgressCallback | None,
             cancel: CancelFlag | None, executor: Executor) -> TrainedForecaster:
    """One cut-off's model: the recommendation (``model="auto"``) or one registry network, with its
    intervals calibrated on the validation days."""
    config = config.resolved(len(panel))  # yearly "auto" decided by this panel's length
    if config.model == AUTO:
        return recommend(panel, config, callback, cancel, executor).trained
    start = time.perf_counter()
    trained = train_models(executor, panel, [config], callback, cancel)[0]
    trained.train_seconds = time.perf_counter() - start  # the wall time, members trained at once or not
    split = trading_split(panel, config)
    if trained.networks and len(split.val):
        trained.anchor_weights, trained.anchor_level, trained.calibration = anchor_and_calibration(trained, panel, split)
    return trained


def anchor_and_calibration(trained: TrainedForecaster, panel: pd.DataFrame, split: Split
                           ) -> tuple[tuple[float, ...], str, Calibration]:
    """The level anchor's weights and level rule (:func:`choose_anchor_weights`) and the intervals of the
    model with them (:func:`calibrate_on_validation`), all from the same validation recursions, computed once."""
    recursions: dict[int, np.ndarray] = {}
    weights, rule = choose_anchor_weights(trained, panel, split.val, recursions)
    anchored = dataclasses.replace(trained, anchor_weights=weights, anchor_level=rule)
    return weights, rule, calibrate_on_validation(anchored, panel, split, recursions)


def choose_anchor_weights(trained: TrainedForecaster, panel: pd.DataFrame, val_days: np.ndarray,
                          recursions: dict[int, np.ndarray] | None = None) -> tuple[tuple[float, ...], str]:
    """How much each day ahead of a multi-day forecast leans on the level anchor instead of the recursive path,
    and how the anchor reads a level (:mod:`forecaster.model.horizon`): chosen on recursive forecasts of the
    validation span from weekly origins (:func:`validation_paths`, up to PATH_DAYS long), by squared error
    scaled per product. No weights when the span is too short for a second day, and for a model reading
    known-ahead drivers: the anchor's level comes from past weeks and would pull a week with a promotion back
    to an ordinary week's total."""
    if trained.driver_spec is not None and trained.driver_spec.known.any():
        return (), LEVEL_RULES[0]
    days = min(PATH_DAYS, len(val_days))
    plain = dataclasses.replace(trained, anchor_weights=())
    paths = validation_paths(plain, panel, val_days, days, recursions) if days >= 2 else None
    if paths is None:
        return (), LEVEL_RULES[0]
    actual, path, open_ = paths
    values = panel.to_numpy(dtype=np.float64)
    starts = [int(val_days[0]) + 7 * k for k in range(len(actual))]
    anchors = {rule: np.stack([level_anchor(values[:s], days, rule) for s in starts]) for rule in LEVEL_RULES}
    return choose_anchor(actual, path, anchors, open_, naive_scale(values[:int(val_days[0])]))


def calibrate_on_validation(trained: TrainedForecaster, panel: pd.DataFrame, split: Split,
                            recursions: dict[int, np.ndarray] | None = None) -> Calibration:
    """Intervals for the forecaster that ships, from its one-step errors on the validation days (which it
    never trained on) and the history before them; and for totals over several days, from its recursive
    forecasts of the validation weeks (:func:`validation_paths`): how much a product's days err together
    and how wide a total's range must be. The test span plays no part. Done once, for what ships:
    candidates that are not chosen need none."""
    values = panel.to_numpy(dtype=np.float64)
    counted = trained.counted(panel)
    calibration = calibrate(values[split.val], trained.predict(panel, split.val), values[:split.val[0]],
                            where=counted[split.val])
    paths = validation_paths(trained, panel, split.val, recursions=recursions)
    if paths is None:
        return calibration
    actual, point, open_ = paths
    steps = np.arange(1, actual.shape[1] + 1)
    on_sale = np.stack([counted[s] for s in path_spans(split.val, actual.shape[1])])
    # each day's error divided by its calibrated spread; a level the forecast misses misses every day
    errors = (actual - point) / calibration.spread(point, steps) * open_[..., None] * on_sale
    calibration = dataclasses.replace(calibration, correlation=correlation_of_totals(errors))
    return dataclasses.replace(calibration, total_spread=total_widening(calibration, actual, point, open_))


def path_spans(val_days: np.ndarray, days: int) -> list[slice]:
    """The ``days``-day spans from each weekly origin of the validation span that fit in it."""
    first, end = int(val_days[0]), int(val_days[-1]) + 1
    return [slice(o, o + days) for o in range(first, end - days + 1, 7)]


def validation_paths(trained: TrainedForecaster, panel: pd.DataFrame, val_days: np.ndarray, days: int = SUM_DAYS,
                     recursions: dict[int, np.ndarray] | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Recursive ``days``-day forecasts from each weekly origin in the validation span (held out): the
    actuals and the forecasts (origins, days, P) and which days trade (origins, days); None when the span
    holds no full run of ``days`` days. ``recursions`` (origin -> the recursion's path from it, before the
    level anchor) keeps the recursions computed for the next call: the anchor's choice and the intervals
    read the same ones (at 10,000 products each day of a path takes a second)."""
    spans = path_spans(val_days, days)
    if not spans:
        return None
    values = panel.to_numpy(dtype=np.float64)
    open_ = np.zeros(len(panel), dtype=bool)
    open_[val_days] = True  # validation days that are not closed
    recursions = {} if recursions is None else recursions
    paths = []
    for s in spans:  # a handful of short runs
        history = panel.iloc[:s.start]
        if len(recursions.get(s.start, ())) < days:
            recursions[s.start] = trained.recursive_path(history, ~open_[s])
        paths.append(trained.anchored(history, recursions[s.start][:days], ~open_[s]))
    return np.stack([values[s] for s in spans]), np.stack(paths), np.stack([open_[s] for s in spans])


def planned_epochs(config: ForecastConfig) -> int:
    """Epochs a run trains at most (early stopping ends sooner): every candidate, then any refit, for each
    cut-off of a rolling backtest, then the latest networks (:func:`retrain_latest`)."""
    latest = config.epochs * config.ensemble * int(config.retrain_for_forecast)
    return cutoff_epochs(config) * max(1, config.backtest_origins) + latest


def network_costs(config: ForecastConfig, n_days: int, n_products: int) -> tuple[float, ...]:
    """The relative time an epoch of each network of a run takes, in the order the run trains them (every
    candidate's members, any refit, each cut-off, the latest networks): its optimiser steps per epoch. A
    global network's epoch holds products times more samples than a multi-output one's (measured: 5-25
    times longer), so a time left paced on the first candidate's epochs alone misjudged the rest."""
    train_days = max(n_days - config.val_days - config.test_days, 1)

    def steps(model: str) -> float:
        c = candidate_config(config, model, train_days, n_products)
        samples = train_days * (n_products if REGISTRY[model].layout == "global" else 1)
        return float(np.ceil(min(samples, c.epoch_samples or samples) / c.batch_size))

    if config.model != AUTO:
        once = [steps(config.model)] * config.ensemble
    else:
        search = _search_config(config)
        once = [steps(m) for m in config.candidates for _ in range(search.ensemble)]
        once += [float(np.mean(once))] * (config.ensemble * int(config.refit))  # the chosen one: not known yet
    latest = [float(np.mean(once))] * (config.ensemble * int(config.retrain_for_forecast))
    return tuple(once * max(1, config.backtest_origins) + latest)


def cutoff_epochs(config: ForecastConfig) -> int:
    """Epochs one cut-off's model trains at most (:func:`fit_once`): every candidate, then any refit."""
    if config.model != AUTO:
        return config.epochs * config.ensemble
    search = _search_config(config)
    return search.epochs * search.ensemble * len(config.candidates) + config.epochs * config.ensemble * int(config.refit)


def retrain_latest(panel: pd.DataFrame, trained: TrainedForecaster, config: ForecastConfig, executor: Executor,
                   callback: ProgressCallback | None = None, cancel: CancelFlag | None = None,
                   offset: int = 0) -> TrainedForecaster:
    """``trained`` with latest networks for its forecasts: its network family trained again, as the configured
    ensemble, on every trading day but the last (the last one is the learning curve's check), for the epochs
    early stopping found when the test span was held out. Scaled afresh on those days: a level that rose
    since the training span is inside the scale. Returns ``trained`` unchanged where no network forecasts (a
    baseline was chosen), nothing was learned, or a cancel came; a cancelled retraining is dropped, and
    forecasts come from the evaluated networks. ``offset``: epochs of the run before this one (progress)."""
    network_weight = trained.blend.get(NETWORK, 0.0) if trained.blend else 1.0
    if not trained.networks or trained.cancelled or network_weight == 0 or (cancel is not None and cancel.is_set()):
        return trained
    epochs = max(1, int(np.median(trained.best_epochs or [config.epochs])))
    latest_config = candidate_config(config.replace(val_days=0, test_days=1, epochs=epochs, patience=0),
                                     trained.config.model, len(panel), panel.shape[1])
    def shifted(record: EpochRecord) -> EpochRecord:
        return dataclasses.replace(record, done_epochs=offset + record.done_epochs)

    relay = None if callback is None else (lambda r: callback(shifted(r)))
    latest = train_models(executor, panel, [latest_config], relay, cancel)[0]
    if latest.cancelled or len(latest.networks) < latest_config.ensemble:
        return dataclasses.replace(trained, cancelled=True)
    return dataclasses.replace(trained, latest_networks=latest.networks, latest_scaler=latest.scaler,
                               latest_new_products=latest.new_products, latest_driver_scale=latest.driver_scale,
                               latest_epochs=epochs, history=trained.history + [shifted(h) for h in latest.history],
                               train_seconds=trained.train_seconds + latest.train_seconds)


@dataclass(frozen=True)
class Candidate:
    """One row of the choice: a pure network, a baseline or a blend, and its validation error (RMSSE) and
    bias."""

    name: str
    network: str  # the network family whose trained forecaster it uses (a baseline: the best network)
    weights: dict[str, float]  # blend weights; PURE_NETWORK = the network alone
    val_rmsse: float
    val_bias: float = 0.0
    biased: bool = False  # its validation bias is BIAS_LIMIT beyond the least biased baseline's

    @property
    def rank(self) -> tuple[bool, float]:
        """What the choice minimises: a biased candidate ranks after every other, then RMSSE (squared error
        of the mean: no candidate wins it by forecasting less)."""
        return (self.biased, self.val_rmsse)

    @property
    def description(self) -> str:
        return LABELS[self.name] if self.name in LABELS else blend_label(self.weights, self.network)


@dataclass
class Recommendation:
    """Everything the choice saw: the recommended forecaster, every trained network, every candidate."""

    trained: TrainedForecaster  # the recommended forecaster (what fit returns)
    networks: dict[str, TrainedForecaster]  # every network candidate, by model name
    val_days: np.ndarray
    candidates: list[Candidate]

    def predictions(self, panel: pd.DataFrame, days: np.ndarray) -> dict[str, np.ndarray]:
        """(D, P) predictions of every candidate for target days ``days`` (e.g. the test span, for a report)."""
        return {c.name: dataclasses.replace(self.networks[c.network], blend=c.weights).predict(panel, days)
                for c in self.candidates}


def shift_progress(record: EpochRecord, offset: int, total: int) -> EpochRecord:
    """An epoch record of one part of a longer run, renumbered for the whole run's progress bar."""
    return dataclasses.replace(record, total_epochs=total, done_epochs=offset + record.done_epochs)


def _relay(callback: ProgressCallback | None, offset: int, total: int) -> ProgressCallback | None:
    if callback is None:
        return None
    return lambda record: callback(shift_progress(record, offset, total))


def _grid(k: int, step: float) -> np.ndarray:
    """All weight vectors of length k on the simplex with the given step."""
    n = int(round(1 / step))
    rows = [c for c in itertools.product(range(n + 1), repeat=k) if sum(c) == n]
    return np.array(rows, dtype=np.float64) / n


def best_blend(actual: np.ndarray, parts: dict[str, np.ndarray], scale: np.ndarray,
               step: float = BLEND_STEP, where: np.ndarray | bool = True) -> tuple[dict[str, float], float]:
    """Weights (summing to 1, on a grid) of ``parts`` with the lowest RMSSE against ``actual`` on the
    product-days ``where`` says (``scale``: :func:`naive_scale`); first wins ties."""
    names = list(parts)
    stack = np.stack([parts[n] for n in names])  # (k, D, P)
    grid = _grid(len(names), step)
    scores = rmsse(actual[None], np.tensordot(grid, stack, axes=1), scale, where=where)
    # prefer more network weight on a tie: order the grid by the first weight, descending
    order = np.lexsort((-grid[:, 0], scores))
    w = grid[order[0]]
    return {n: round(float(x), 6) for n, x in zip(names, w)}, float(scores[order[0]])


def network_blends(actual: np.ndarray, network_pred: dict[str, np.ndarray], baseline_pred: dict[str, np.ndarray],
                   scale: np.ndarray, where: np.ndarray | bool = True) -> list[Candidate]:
    """One blend candidate per network, ``blend_<network>``: its best mix with the baselines.

    Each network gets its own mix, not only the best network: a weaker network may still add the most to
    the baselines, its errors differing more from theirs. A "mix" that is all one component repeats a
    pure candidate and is left out.
    """
    out = []
    for model, pred in network_pred.items():
        weights, score = best_blend(actual, {NETWORK: pred, **baseline_pred}, scale, where=where)
        if not any(w == 1.0 for w in weights.values()):
            mix = sum(w * ({NETWORK: pred, **baseline_pred}[k]) for k, w in weights.items())
            out.append(Candidate(f"blend_{model}", model, {k: w for k, w in weights.items() if w > 0}, score,
                                 float(bias(actual, mix, where=where))))
    return out


def candidate_config(config: ForecastConfig, model: str, n_train_days: int, n_products: int) -> ForecastConfig:
    """The candidate's settings: the user's, with the batch size fitted to the layout.

    A "global" sample is one product-day, so its epochs hold products times more samples than the
    multi-output layout's: its batch grows with the data (up to GLOBAL_BATCH_FACTOR times the configured
    batch size) while keeping at least MIN_STEPS optimiser steps per epoch on short histories.
    """
    if REGISTRY[model].layout != "global":
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


def recommend(panel: pd.DataFrame, config: ForecastConfig = ForecastConfig(),
              callback: ProgressCallback | None = None, cancel: CancelFlag | None = None,
              executor: Executor | None = None) -> Recommendation:
    """Train every candidate on ``panel`` (all at once where ``executor`` can) and recommend the one with the
    lowest validation RMSSE among those whose validation bias is within BIAS_LIMIT."""
    executor = executor or InlineExecutor()
    if config.model != AUTO:
        raise ValueError("recommend() is for model='auto'")
    left_out = config.left_out(panel.shape[1])
    config = config.resolved(len(panel)).for_catalog(panel.shape[1])
    split = trading_split(panel, config)  # refuses too few days, or no validation days to choose on
    total = cutoff_epochs(config)
    start = time.perf_counter()
    networks, last = train_candidates(panel, config, split, total, callback, cancel, executor)
    seconds = time.perf_counter() - start
    if not networks:  # cancelled before the first candidate learned anything
        return Recommendation(last, {}, split.val, [])
    candidates = score_candidates(panel, networks, split.val)
    chosen = min(candidates, key=lambda c: c.rank)  # min keeps the first on a tie: networks first
    result, refitted = _ship(panel, config, split, networks, chosen, total, callback, cancel, executor, seconds)
    result.selection = selection_table(candidates, chosen)
    result.selection_reason = _reason(chosen, candidates, len(split.val)) + (
        " After this choice its network was trained again on every day before the test span, the validation "
        "days included." if refitted else "") + _left_out_note(left_out, config, panel.shape[1])
    return Recommendation(result, networks, split.val, candidates)


def _left_out_note(left_out: tuple[str, ...], config: ForecastConfig, n_products: int) -> str:
    """The sentence that says which candidates this catalog's size left out, and how to train them."""
    if not left_out:
        return ""
    return (f" Not trained: {', '.join(LABELS[m] for m in left_out)}, a network whose input holds every product's lags "
            f"({n_products:,} products are over the {config.multi_output_max_products:,} it is trained for as a "
            "candidate: its training time grows with the square of the catalog); set multi_output_max_products "
            "to 0 to train it here too, or name it as the model.")


def train_candidates(panel: pd.DataFrame, config: ForecastConfig, split: Split, total: int,
                     callback: ProgressCallback | None, cancel: CancelFlag | None,
                     executor: Executor | None = None
                     ) -> tuple[dict[str, TrainedForecaster], TrainedForecaster]:
    """Each network of ``config.candidates`` (and each of its ensemble members) trained as an independent task of
    ``executor``, all at once where it can; histories renumbered for the whole run as if the candidates had
    trained in turn. A candidate that learned nothing (cancelled before its first epoch) is left out; also
    returns the last one (the only one, with no networks, when none learned anything)."""
    search = _search_config(config)
    per_candidate = search.epochs * search.ensemble
    configs = [candidate_config(search, model, len(split.train), panel.shape[1]) for model in config.candidates]
    trained_all = train_models(executor or InlineExecutor(), panel, configs, _relay(callback, 0, total), cancel)
    networks: dict[str, TrainedForecaster] = {}
    for i, (model, trained) in enumerate(zip(config.candidates, trained_all)):
        if trained.networks:
            trained.history = [shift_progress(h, i * per_candidate, total) for h in trained.history]
            networks[model] = trained
    return networks, trained_all[-1]


def score_candidates(panel: pd.DataFrame, networks: dict[str, TrainedForecaster], days: np.ndarray) -> list[Candidate]:
    """Every candidate's RMSSE and bias on the validation days (a product's days before its first sale left
    out): the networks, the baselines, one blend per network."""
    values = panel.to_numpy(dtype=np.float64)
    actual, scale = values[days], naive_scale(values[:days[0]])
    scored = next(iter(networks.values())).counted(panel)[days] if networks else since_first_sale(values)[days]
    if not np.isfinite(scale).any():  # no product ever changed: every product counts alike, in units
        scale = np.ones_like(scale)
    network_pred = {m: trained.predict(panel, days) for m, trained in networks.items()}
    candidates = [Candidate(m, m, PURE_NETWORK, float(rmsse(actual, pred, scale, where=scored)),
                            float(bias(actual, pred, where=scored))) for m, pred in network_pred.items()]
    best_network = min(candidates, key=lambda c: c.rank).network
    baseline_pred = {b: BLEND_COMPONENTS[b][0](values, days) for b in BLEND_BASELINES}
    candidates += [Candidate(b, best_network, {NETWORK: 0.0, b: 1.0}, float(rmsse(actual, pred, scale, where=scored)),
                             float(bias(actual, pred, where=scored))) for b, pred in baseline_pred.items()]
    candidates += network_blends(actual, network_pred, baseline_pred, scale, scored)
    allowed = min(abs(c.val_bias) for c in candidates if c.name in baseline_pred) + BIAS_LIMIT
    return [dataclasses.replace(c, biased=abs(c.val_bias) > allowed) for c in candidates]


def _ship(panel: pd.DataFrame, config: ForecastConfig, split: Split, networks: dict[str, TrainedForecaster],
          chosen: Candidate, total: int, callback: ProgressCallback | None,
          cancel: CancelFlag | None, executor: Executor, seconds: float) -> tuple[TrainedForecaster, bool]:
    """The forecaster that ships for the chosen candidate: its network (refit when asked), its blend, and
    the whole run's history, time (``seconds`` the candidates took, plus any refit) and cancel state; and
    whether it was refit."""
    history = [h for trained in networks.values() for h in trained.history]
    cancelled = any(n.cancelled for n in networks.values()) or len(networks) < len(config.candidates)
    result, refitted = networks[chosen.network], False
    if config.refit and chosen.weights.get(NETWORK, 0) > 0 and not cancelled:
        refit = _refit(panel, config, result, split, total, callback, cancel, executor)
        history += refit.history
        seconds += refit.train_seconds
        if refit.cancelled:  # a half-done refit is not better than the finished candidate: keep that
            cancelled = True
        else:
            result, refitted = refit, True
    elif callback is not None and history and history[-1].done_epochs < total and not cancelled:
        # early stopping or no refit left planned epochs unused: close the progress bar on the last epoch
        callback(dataclasses.replace(history[-1], done_epochs=total))
    blend = {} if chosen.weights == PURE_NETWORK else dict(chosen.weights)
    # intervals from the chosen candidate as validated: a refit network has trained on the validation days
    validated = dataclasses.replace(networks[chosen.network], blend=blend)
    weights, rule, calibration = anchor_and_calibration(validated, panel, split)
    shipped = dataclasses.replace(result, blend=blend, history=history, train_seconds=seconds, cancelled=cancelled,
                                  anchor_weights=weights, anchor_level=rule, calibration=calibration)
    return shipped, refitted


def _refit(panel: pd.DataFrame, config: ForecastConfig, chosen: TrainedForecaster, split: Split, total: int,
           callback: ProgressCallback | None, cancel: CancelFlag | None, executor: Executor) -> TrainedForecaster:
    """Train the chosen network again on every day before the test span (validation days included), for
    the median number of epochs early stopping found; the choice and the blend weights stay as they are."""
    epochs = max(1, int(np.median(chosen.best_epochs or [config.epochs])))
    days = len(split.train) + len(split.val)
    refit_config = candidate_config(config.replace(val_days=0, epochs=epochs, patience=0), chosen.config.model,
                                    days, panel.shape[1])
    offset = total - epochs * config.ensemble  # the refit's epochs are known now: it ends the progress bar
    start = time.perf_counter()
    refit = train_models(executor, panel, [refit_config], _relay(callback, offset, total), cancel)[0]
    refit.train_seconds = time.perf_counter() - start
    refit.history = [shift_progress(h, offset, total) for h in refit.history]
    return refit


def selection_table(candidates: list[Candidate], chosen: Candidate) -> pd.DataFrame:
    """One row per candidate, in the order they were tried: what it is, its validation RMSSE and bias, the
    choice."""
    return pd.DataFrame({
        "candidate": [c.name for c in candidates],
        "description": [c.description for c in candidates],
        "validation_rmsse": [c.val_rmsse for c in candidates],
        "validation_bias": [c.val_bias for c in candidates],
        "chosen": [c is chosen for c in candidates],
    })


def _reason(chosen: Candidate, candidates: list[Candidate], days: int) -> str:
    others = sorted((c for c in candidates if c is not chosen), key=lambda c: c.rank)
    rest = "; ".join(f"{c.description} {c.val_rmsse:.3g}" for c in others)
    within = (f", its total no further from what sold than the least biased simple rule's plus {BIAS_LIMIT:.0%}"
              if not chosen.biased else " (every candidate's total was further from what sold than that)")
    return (f"Recommended: {chosen.description}, because its forecasts of expected demand had the smallest "
            f"squared error per product (relative to each product's day-to-day change) on the {days} days just "
            f"before the test span{within} (validation RMSSE "
            f"{chosen.val_rmsse:.3g}, bias {chosen.val_bias:+.1%}; {rest}).")

