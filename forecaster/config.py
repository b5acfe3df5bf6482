"""Every setting in one place, with its default and its help text.

The CLI's flags (``forecaster.cli``), the dashboard's ``help=`` tooltips (``ui.widgets``) and the settings
table in the README (:func:`settings_table`) are all read from the fields below, never restated. A field's
metadata holds its help text and, for the CLI, its choices or how its text is parsed.
"""
from __future__ import annotations

import codecs
import dataclasses
import functools
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

import holidays as calendars

from .errors import DataError, ForecasterError
from .labels import AUTO, CNN_LSTM, GLOBAL_CNN_BIGRU, GLOBAL_CNN_LSTM, GLOBAL_GRU_ATTENTION

FORMATS = ("auto", "long", "wide", "transactions")
LOSSES = ("mse", "l1", "huber")
DEVICES = ("auto", "cpu", "cuda", "mps")
# AUTO trains the network variants and simple baselines and recommends one (or a blend) by validation;
# the others are models.REGISTRY's names (tests/test_models_contract.py keeps the two in step)
MODEL_CHOICES = (AUTO, GLOBAL_CNN_LSTM, CNN_LSTM, GLOBAL_CNN_BIGRU, GLOBAL_GRU_ATTENTION)
NETWORK_CHOICES = MODEL_CHOICES[1:]  # what the recommendation may train as candidates
DEFAULT_CANDIDATES = (GLOBAL_CNN_LSTM, CNN_LSTM)
# the networks with one output per product, whose input holds every product's lags (models.REGISTRY's layout
# "multi"; tests/test_models_contract.py keeps the two in step)
MULTI_OUTPUT_NETWORKS = (CNN_LSTM,)
MAX_LAG = 400  # days: a year and a month, enough for same-day-last-year features
YEARLY_CHOICES = ("auto", "on", "off")
YEAR_LAG = 364  # the same weekday a year earlier
MAX_LIST = 64  # lags or rolling windows in one list
MIN_TRAIN_DAYS = 14  # target days to train on, at the least
TOTAL_DAYS = 7  # days a lead-time total covers by default (a week's lead time plus review period)


def setting(default: Any, help: str, **cli: Any) -> Any:
    """A dataclass field with its help text; ``cli`` holds what the command line needs beyond the type:
    ``choices``, ``parse`` ("lags" or "days": how its text is read), ``flag`` (when not the field's name),
    ``aliases``, ``repeat`` (a flag given once per value) and ``shown_default``."""
    return field(default=default, metadata={"help": help, **cli})


def format_lags(lags: tuple[int, ...]) -> str:
    """The text form :func:`parse_lags` reads back to the same lags: '7' for 1..7, else a list such as
    '1,7,14' (a single lag other than 1 keeps its comma, '7,', since '7' means 1..7)."""
    if lags == tuple(range(1, lags[-1] + 1)):
        return str(lags[-1])
    return ",".join(map(str, lags)) + ("," if len(lags) == 1 else "")


def parse_lags(text: str) -> tuple[int, ...]:
    """'7' means lags 1..7; '1,7,14' is an explicit list."""
    text = str(text).strip()[:1000]
    try:
        if "," in text:
            return parse_days(text)
        n = int(text)
    except (ValueError, ForecasterError):
        raise ForecasterError(f"Lags must be a number (7 means lags 1..7) or a list like 1,7,14, not {text!r}.") from None
    if not 1 <= n <= MAX_LAG:  # checked before the range is built: '10000000' must not allocate 10M lags
        raise ForecasterError(f"Lags go from 1 to {MAX_LAG} days, not {n}.")
    return tuple(range(1, n + 1))


def parse_days(text: str) -> tuple[int, ...]:
    """'7,28' -> (7, 28); empty text -> (). At most MAX_LIST numbers."""
    parts = [x for x in str(text)[:1000].split(",") if x.strip()]
    if len(parts) > MAX_LIST:
        raise ForecasterError(f"At most {MAX_LIST} days in one list, not {len(parts)}.")
    try:
        return tuple(int(x) for x in parts)
    except ValueError:
        raise ForecasterError(f"Expected whole numbers of days like 7,28, not {text!r}.") from None


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def words_of(cls: str) -> str:
    """'UnitedKingdom' -> 'United Kingdom'."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", cls)


@functools.lru_cache(maxsize=1)
def country_names() -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every supported ISO 3166-1 alpha-2 code: the country's name and its subdivisions."""
    subdivisions = calendars.list_supported_countries()
    return {code: (words_of(cls), tuple(subdivisions.get(code, ())))
            for cls, code, *_ in calendars.registry.COUNTRIES.values()}


def parse_calendar(text: str) -> tuple[str, str | None]:
    """'EC' -> ('EC', None), 'us-ca' -> ('US', 'CA'); a code the package does not know is refused, naming
    what was given and how codes look."""
    country, _, subdiv = str(text).strip().upper().partition("-")
    known = country_names()
    if country not in known:
        raise ForecasterError(f"Unknown holiday calendar {str(text)[:40]!r}: give a country's two-letter code "
                              f"(ISO 3166-1), such as EC, DE or GB, optionally with a region, such as US-CA "
                              f"({len(known)} countries are known).")
    regions = {r.upper(): r for r in known[country][1]}  # the package spells some as words: "Augsburg"
    if subdiv and subdiv not in regions:
        shown = ", ".join(list(regions.values())[:12]) + (f" and {len(regions) - 12} more" if len(regions) > 12 else "")
        raise ForecasterError(f"{country} has no region {subdiv[:20]!r} in its holiday calendar"
                              + (f"; its regions: {shown}" if shown else "; it has no regions"))
    return country, regions[subdiv] if subdiv else None


def closed_weekdays_named(spec: str) -> tuple[int, ...] | None:
    """The closed weekdays a ``closed_days`` setting names (Monday = 0): None for "auto" (find them in the
    history), () for "off", or a list such as "sat,sun" (full names and any case too)."""
    text = str(spec).strip().lower()[:200]
    if text == "auto":
        return None
    if text in ("off", "none", ""):
        return ()
    days = []
    for part in (x.strip() for x in text.split(",") if x.strip()):
        if part[:3] not in WEEKDAYS or not "monday tuesday wednesday thursday friday saturday sunday".count(part):
            raise ForecasterError(f"Closed days are auto, off or weekdays such as sat,sun; {part!r} is not a weekday.")
        days.append(WEEKDAYS.index(part[:3]))
    if len(set(days)) == 7:
        raise ForecasterError("Closed days cannot be every day of the week: name the days the business is closed.")
    return tuple(sorted(set(days)))


DRIVER_ROLES = ("known", "observed")
# words in a column's name that make it a driver whose future the planner knows (else: only its past is used)
KNOWN_AHEAD_WORDS = ("price", "promo", "discount", "event", "holiday", "open", "campaign", "markdown", "coupon",
                     "display", "feature", "advert", "snap")


@dataclass(frozen=True)
class DriverChoice:
    """One ``--driver`` setting read: the column, its role and, for a known-ahead one, the value a forecast
    day takes where the future file gives none (None: such a day is an error)."""

    name: str
    role: str
    default: str | None = None

    @property
    def text(self) -> str:
        """The setting's text that reads back to this choice."""
        return f"{self.name}:{self.role}" + ("" if self.default is None else f"={self.default}")


def known_ahead_name(name: str) -> bool:
    """Does a column's name say its future is known to the planner (a price, a promotion, an event)?"""
    return any(w in re.sub(r"[^a-z]", "", str(name).lower()) for w in KNOWN_AHEAD_WORDS)


def parse_driver(text: str) -> DriverChoice:
    """'promo' / 'promo:known=0' / 'Customers:observed' -> a :class:`DriverChoice`; the role from the name
    (:func:`known_ahead_name`) when none is given."""
    text = str(text)[:300]
    given = re.fullmatch(r"(?s)(.*):\s*(known|observed)\s*(?:=(.*))?", text, flags=re.IGNORECASE)
    if given:  # NAME:role[=DEFAULT], the name free to hold = and : ("Price (=EUR):known")
        name, role, default = given.group(1), given.group(2).lower(), given.group(3) or ""
        eq = given.group(3) is not None
    else:  # NAME[=DEFAULT], the role from the name
        name, eq, default = text.partition("=")
        role = ""
    name = name.strip()
    if not name:
        raise ForecasterError(f"A driver needs a column name (NAME, NAME:known or NAME:observed), not {text!r}.")
    role = role or ("known" if known_ahead_name(name) else "observed")
    if eq and role != "known":
        raise ForecasterError(f"The driver {name!r} is observed (only its past is used), so it takes no default "
                              f"for forecast days: remove '={default}' or make it known ({name}:known={default}).")
    return DriverChoice(name, role, default.strip() if eq else None)


@dataclass(frozen=True)
class IngestOptions:
    """How to read a purchase CSV. Anything left at None is detected from the file."""

    format: str = setting("auto", "Shape of the file: long (date, product, quantity per row), wide (one column "
                          "per product) or transactions (one row per sale line); auto detects it.",
                          choices=FORMATS)
    date_col: str | None = setting(None, "The column with the day (or time) of the sale; detected when not given.")
    product_cols: tuple[str, ...] = setting((), "The column naming the product; give several (such as store and "
                                            "item) to forecast each combination. For a wide file, the product "
                                            "columns. Detected when not given.",
                                            flag="product_col", repeat=True, shown_default="detected")
    quantity_col: str | None = setting(None, "Units sold per row; without one, each row of a transaction log "
                                       "counts as one unit. Detected when not given.")
    name_col: str | None = setting(None, "The column with each product's name (such as Description), shown beside "
                                   "its code in every table, chart and CSV; detected when not given (a text "
                                   "column with one name per product). An empty value means none.")
    dayfirst: bool | None = setting(None, "Dates are day/month/year (31/01/2024); detected from the data when not "
                                    "given.")
    keep_returns: bool = setting(False, "Keep negative quantities (returns, cancellations); by default they are "
                                 "dropped and counted.")
    keep_non_sales: bool = setting(False, "Keep lines that are not sales of a product: postage, fees, manual and "
                                   "discount lines (codes such as POST, DOT and C2, or names that say so, such as Manual) and lines "
                                   "at price 0 (stock adjustments); by default they are listed and left out.")
    keep_extremes: bool = setting(False, "Keep days far beyond anything else their product sold (over 20 times "
                                  "its 99th percentile, at least 100 units: a typo, a stock adjustment); by "
                                  "default they are listed and replaced by the product's median for that weekday.")
    max_products: int = setting(10_000, "Refuse files with more products than this.", bounds=(1, 100_000))
    drivers: tuple[str, ...] = setting((), "A column of a long file to learn from beside the sales (price, promotion, "
                                       "an event's name): NAME, NAME:known (its future values are supplied: "
                                       "price, promotion, event) or NAME:observed (only its past is used), and "
                                       "for a known one =VALUE, the value a forecast day without one in the "
                                       "future file takes (such as promo:known=0, no promotion). Without a role, "
                                       "a name that says price, promo, discount, event, holiday or open is known "
                                       "ahead, any other observed.", flag="driver", repeat=True, shown_default="none")
    encoding: str | None = setting(None, "The file's text encoding, such as utf-8, cp1252 or shift_jis; detected "
                                   "when not given (the Data page and the CLI say which was used when it is not "
                                   "UTF-8).")

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, not {self.format!r}")
        object.__setattr__(self, "drivers", tuple(parse_driver(d).text for d in self.drivers))
        names = [parse_driver(d).name for d in self.drivers]
        if len(set(names)) < len(names):
            raise ForecasterError(f"The driver {next(n for n in names if names.count(n) > 1)!r} is named twice.")
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise ForecasterError(f"Unknown encoding {self.encoding!r}: give one such as utf-8, cp1252, "
                                      "latin-1, shift_jis or gb18030.") from None
        object.__setattr__(self, "product_cols", tuple(self.product_cols))
        problems = out_of_bounds(self)
        if problems:
            raise ForecasterError("Invalid reading options: " + "; ".join(problems) + ".")


@dataclass(frozen=True)
class IntervalOptions:
    """How wide a forecast's range is and what stock covers it; read at forecast time, nothing retrains."""

    level: float = setting(0.8, "Central prediction interval, as a fraction: 0.8 gives the range that holds a "
                           "day's demand 8 times in 10 (quantiles 0.1 and 0.9).", bounds=(0.5, 0.98))
    service_level: float = setting(0.9, "Order quantity: stock that covers a day's demand with this probability "
                                   "(0.9 = on 9 days out of 10; the 0.9 quantile).", bounds=(0.5, 0.99))
    order_stopped: bool = setting(False, "Order for products that sold nothing in the last 56 days although they "
                                  "sold before (by default they are flagged and get an order quantity of 0).")

    def __post_init__(self) -> None:
        problems = out_of_bounds(self)
        if problems:
            raise ForecasterError("Invalid interval options: " + "; ".join(problems) + " (fractions: 0.8 means 80%).")


@dataclass(frozen=True)
class ForecastConfig:
    """Features, model and training settings of one run (``candidates`` matter only to model auto: a
    candidate's own settings keep the list it came from)."""

    model: str = setting(AUTO, "auto trains both networks and simple baselines and recommends the "
                         "one, or the blend, with the lowest error on the validation days; global_cnn_lstm is one "
                         "network shared by all products (with a product embedding); cnn_lstm is one network "
                         "with one output per product (the reference design); global_cnn_bigru and "
                         "global_gru_attention are shared networks of the seed designs (a bidirectional GRU "
                         "after the convolution; a GRU with attention over the window's days).",
                         choices=MODEL_CHOICES)
    candidates: tuple[str, ...] = setting(DEFAULT_CANDIDATES, "The networks auto trains and chooses among (with "
                                          "the baselines and blends); give the flag once per network. The seed "
                                          "designs are not in the default pair: as extra candidates they gave no "
                                          "steady gain at an earlier cut-off, for twice the training (see the "
                                          "README).",
                                          flag="candidate", repeat=True, choices=NETWORK_CHOICES)
    multi_output_max_products: int = setting(2_000, "The recommended model trains the multi-output network "
                                             "(cnn_lstm) as a candidate up to this many products, and leaves it out "
                                             "above (0: never): its input holds every product's lags, so its "
                                             "training time grows with the square of the catalog (see the README). "
                                             "Naming it with --model trains it at any size.", bounds=(0, 1_000_000))
    # features
    lags: tuple[int, ...] = setting((1, 2, 3, 4, 5, 6, 7), "Past days of demand each day's features hold: 7 means "
                                    "each of the last 7 days; or a list such as 1,7,14.", parse="lags", bounds=(1, MAX_LAG))
    yearly: str = setting("auto", "Add the same weekday a year earlier (lag 364) to the lags: auto does when the "
                          "history holds two years plus the validation and test days, on always, off never "
                          "(measured better on the long favorita history, at the test span and at an earlier "
                          "cut-off).", choices=YEARLY_CHOICES)
    rolling_windows: tuple[int, ...] = setting((), "Rolling means of the past days as extra features, in days, "
                                               "such as 7,28 (empty for none).", parse="days", flag="rolling",
                                               bounds=(2, MAX_LAG))
    seq_len: int = setting(3, "How many consecutive days of features the network reads at once.", bounds=(1, 366))
    extended_calendar: bool = setting(True, "Add day of month and week of year to the weekday and month "
                                      "features (measured better on long histories with a yearly season).")
    holidays: str = setting("", "A country's public holidays as features (its two-letter code, such as EC, DE or "
                            "GB, or with a region, such as US-CA; empty for none): each day is marked a holiday, "
                            "the day before one, two or three days before, or the day after, since shoppers buy "
                            "ahead, and a day of a long weekend. Known for future days too, so forecasts need "
                            "nothing more.",
                            shown_default="none")
    closed_days: str = setting("auto", "Days the business does not trade: auto finds them in the history (a weekday "
                               "with no sale in the last year, a day nothing sold that a trading day of the "
                               "catalog almost never has); they are forecast 0 with nothing to order and left out "
                               "of training, calibration and the scores. off: every day trades; or name the "
                               "closed weekdays, such as sat,sun.")
    log1p: bool = setting(False, "Take log(1 + demand) before scaling (measured worse with per-product "
                          "min-max scaling: it squeezes large, steady series).")
    # split
    test_days: int = setting(28, "The last days of the history, held back to measure accuracy; nothing is "
                             "trained, stopped or chosen on them.", bounds=(1, 3660))
    val_days: int = setting(28, "The days just before the test days: they steer early stopping and the "
                            "recommended model's choice.", bounds=(0, 3660))
    # model sizes
    conv_channels: int = setting(64, "Channels of the convolution block (the pattern detector).", bounds=(1, 1024))
    kernel_size: int = setting(3, "Width in days of the convolution kernel.", bounds=(1, 31))
    hidden_size: int = setting(64, "Units of the LSTM (the memory layer).", bounds=(1, 1024))
    lstm_layers: int = setting(1, "Stacked LSTM layers (more can learn longer patterns, and train slower).",
                               bounds=(1, 8))
    dropout: float = setting(0.0, "Dropout rate (measured worse at 0.2 on 3 of 4 real datasets).",
                            bounds=(0.0, 0.9))
    embedding_dim: int = setting(8, "Size of the product embedding of the global network.", bounds=(1, 256))
    window_scaling: bool = setting(True, "Global network: divide each window's demand features (lags and "
                                   "rolling means) by their mean absolute value and scale the output back, so "
                                   "it follows level shifts.")
    # training
    epochs: int = setting(40, "At most this many passes over the training days; early stopping ends sooner.",
                          bounds=(1, 10_000))
    batch_size: int = setting(256, "Samples per optimiser step (the global network's batch grows with the "
                              "data in the recommended model).", bounds=(1, 65_536))
    learning_rate: float = setting(2e-3, "Adam's step size; lower it if training diverges.", aliases=("--lr",),
                                  bounds=(1e-6, 1.0))
    weight_decay: float = setting(0.0, "Adam's L2 penalty on the weights.", bounds=(0.0, 1.0))
    loss: str = setting("mse", "Training loss: mse makes the networks estimate expected demand (the mean, "
                        "which totals and orders are made of); l1 estimates the median, which on intermittent, "
                        "spiky demand sits far below what sells; huber lies between.", choices=LOSSES)
    weighted_loss: bool = setting(False, "Weight each product's errors by its scale in units, so the loss "
                                  "tracks the pooled error in units; off treats every product alike on its own "
                                  "scale.")
    patience: int = setting(8, "Early stopping: epochs without progress on the validation days before "
                            "training stops (0 never stops early).", bounds=(0, 1000))
    min_improvement: float = setting(0.005, "Early stopping: the validation loss must improve by this "
                                     "fraction of its best to count as progress.", bounds=(0.0, 0.5))
    epoch_samples: int = setting(16_384, "At most this many training samples per epoch, drawn afresh each "
                                 "epoch (0 = all); bounds an epoch's time on long histories and large catalogs.",
                                 bounds=(0, 10_000_000))
    ensemble: int = setting(3, "Networks trained with different seeds and averaged: steadier on short, noisy "
                            "histories.", bounds=(1, 20))
    refit: bool = setting(False, "Recommended model: after the choice, train the chosen network again with the "
                          "validation days (off: the chosen model ships exactly as it was validated).")
    retrain_for_forecast: bool = setting(False, "After the evaluation, train the shipped network again on every "
                                         "day but the last, for the forecasts only, so they know the latest weeks "
                                         "(Evaluate still scores the model that never saw the test days). Off by "
                                         "default: it helped 14-day forecasts after a change of level and weekly "
                                         "pattern (coffee) and hurt them on a steady long history (favorita; see "
                                         "the README).")
    backtest_origins: int = setting(0, "Rolling backtest: also train and score this many earlier cut-offs, a week "
                                    "apart (each one step ahead over its own test days), so one lucky or unlucky "
                                    "month does not decide; 0 = off. Each origin trains the model again.",
                                    bounds=(0, 12))
    history_days: int = setting(0, "Learn from only the last this many days of the history (0: all of it); the "
                                "validation and test days are among them. Patterns that no longer hold (before a "
                                "shop's refit, a range since replaced) can mislead a model.", bounds=(0, 36_600))
    seed: int = setting(0, "Random seed: the same seed, data and settings give the same model on the CPU.",
                    bounds=(0, 2**31 - 1))
    device: str = setting("auto", "Where to train: auto picks a CUDA GPU, then Apple MPS, then the CPU.",
                          choices=DEVICES)

    def __post_init__(self) -> None:
        lags = tuple(sorted({int(x) for x in self.lags}))
        object.__setattr__(self, "lags", lags)
        object.__setattr__(self, "rolling_windows", tuple(sorted({int(x) for x in self.rolling_windows})))
        problems = out_of_bounds(self)
        if self.model not in MODEL_CHOICES:
            problems.append(f"model must be one of {', '.join(MODEL_CHOICES)}, not {self.model!r}")
        object.__setattr__(self, "candidates", tuple(self.candidates))
        unknown = [c for c in self.candidates if c not in NETWORK_CHOICES]
        if unknown or not self.candidates or len(set(self.candidates)) < len(self.candidates):
            problems.append(f"candidates must be one or more different networks of {', '.join(NETWORK_CHOICES)}, "
                            f"not {', '.join(map(repr, self.candidates)) or 'none'}")
        if not lags:
            problems.append("give at least one lag")
        if self.loss not in LOSSES:
            problems.append(f"loss must be one of {', '.join(LOSSES)}")
        if self.yearly not in YEARLY_CHOICES:
            problems.append(f"yearly must be one of {', '.join(YEARLY_CHOICES)}")
        try:
            closed_weekdays_named(self.closed_days)
        except ForecasterError as exc:
            problems.append(str(exc).rstrip("."))
        if self.holidays:
            try:
                country, region = parse_calendar(self.holidays)
                object.__setattr__(self, "holidays", f"{country}-{region}" if region else country)
            except ForecasterError as exc:
                problems.append(str(exc).rstrip("."))
        if self.device not in DEVICES:
            problems.append(f"device must be one of {', '.join(DEVICES)}")
        if problems:
            raise ForecasterError("Invalid settings: " + "; ".join(problems) + ".")

    @property
    def history_needed(self) -> int:
        """Days of history one window needs before its target day (longest lag or rolling window)."""
        return max(self.lags + self.rolling_windows) + self.seq_len - 1

    @property
    def n_series_features(self) -> int:
        """Features per product and day (its lags and rolling means), the part window scaling rescales."""
        return len(self.lags) + len(self.rolling_windows)

    def resolved(self, n_days: int) -> "ForecastConfig":
        """The settings a panel of ``n_days`` days trains with: ``yearly`` auto becomes on (lag 364 joins the
        lags) when the history holds two years plus the validation and test days, else off."""
        on = self.yearly == "on" or (self.yearly == "auto" and n_days >= 2 * 365 + self.val_days + self.test_days)
        lags = tuple(sorted(set(self.lags) | {YEAR_LAG}))
        if on and len(lags) > MAX_LIST:
            raise ForecasterError(f"The yearly lag (364) would be lag number {len(lags)}, over the {MAX_LIST} a run may "
                                  "have: give one lag fewer, or set yearly off.")
        if on:
            return self.replace(lags=lags, yearly="on")
        return self.replace(yearly="off")

    def for_catalog(self, n_products: int) -> "ForecastConfig":
        """The settings a catalog of ``n_products`` trains with: the recommended model's candidates without the
        multi-output networks above ``multi_output_max_products``. Refused, naming both settings, where that
        would leave no candidate (the user named only those networks)."""
        limit = self.multi_output_max_products
        if self.model != AUTO or not limit or n_products <= limit:
            return self
        kept = tuple(m for m in self.candidates if m not in MULTI_OUTPUT_NETWORKS)
        if not kept:
            raise ForecasterError(
                f"The networks to choose among ({', '.join(self.candidates)}) are all multi-output networks, which "
                f"the recommended model trains only up to {limit:,} products (multi_output_max_products), and the "
                f"data has {n_products:,}: add global_cnn_lstm to them, raise multi_output_max_products (0: no "
                f"limit), or name the network with --model.")
        return self.replace(candidates=kept)

    def left_out(self, n_products: int) -> tuple[str, ...]:
        """The candidates :meth:`for_catalog` leaves out for a catalog of ``n_products``."""
        kept = self.for_catalog(n_products).candidates
        return tuple(m for m in self.candidates if m not in kept)

    def check_trainable(self, n_days: int, n_products: int = 0) -> None:
        """Refuse what these settings (as a history of ``n_days`` resolves them, and a catalog of ``n_products``
        where given) cannot train on it, saying what they need. Arithmetic only: the command line asks before it
        starts its workers or imports torch, the dashboard before it makes a job, the chronological split again
        before any training."""
        if n_products:
            self.for_catalog(n_products)
        whole = n_days
        n_days = min(n_days, self.history_days) if self.history_days else n_days  # what the run learns from
        c = self.resolved(n_days)  # the lags the run will use (resolving twice changes nothing)
        if c.model == AUTO and c.val_days < 1:
            raise ForecasterError("The recommended model is chosen on validation days before the test span; "
                                  "set validation days to at least 7, or pick a model yourself.")
        need = c.history_needed + MIN_TRAIN_DAYS + c.val_days + c.test_days
        if n_days < need:
            covers = (f"The history to learn from is set to the last {n_days} days" if n_days < whole
                      else f"The data covers {n_days} days")
            raise DataError(
                f"{covers}, but these settings need at least {need}: the longest lag or "
                f"rolling window ({max(c.lags + c.rolling_windows)}) plus sequence length "
                f"({c.seq_len}) minus 1, {MIN_TRAIN_DAYS} training days, {c.val_days} validation days "
                f"and {c.test_days} test days. Upload a longer history or reduce lags, sequence length, "
                "validation or test days.")

    def replace(self, **changes: Any) -> "ForecastConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ForecastConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known})


def cpu_cores() -> int:
    """CPU cores this process may use (a container's limit where the OS reports one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def physical_memory_gib() -> float:
    """This machine's memory in GiB (8 where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (AttributeError, ValueError, OSError):
        return 8.0


MAX_WORKERS = 8  # an auto run trains 6 independent networks (2 candidates x 3 members): more workers idle


@dataclass(frozen=True)
class ServerSettings:
    """How much of this machine training uses at once. Server-level, not part of a run's settings: they
    change how fast a model trains, never which model (a member's seed is the same in any worker). The
    dashboard reads them from the environment (:meth:`from_env`); the CLI has ``--workers``."""

    workers: int = setting(min(cpu_cores(), MAX_WORKERS) if cpu_cores() > 1 else 0,
                           "Worker processes that train networks at once (a run's ensemble members and "
                           "candidates), started once and kept warm by the dashboard; a worker that dies "
                           "(out of memory) fails its job, not the server. 0 or 1 trains in the calling "
                           "process, one network after another. Default: the CPU cores, at most 8.", bounds=(0, 64),
                           env="FORECASTER_WORKERS")
    max_jobs: int = setting(max(1, cpu_cores() // 4), "Training jobs the dashboard runs at once, sharing the "
                            "workers; later ones wait in a queue, first come first served. Default: a quarter "
                            "of the CPU cores, at least 1.", bounds=(1, 64), env="FORECASTER_MAX_JOBS")
    memory_gib: float = setting(round(physical_memory_gib() / 2, 1), "Memory one training run may need at its "
                                "peak, in GiB, estimated from the data's shape and the settings before anything is "
                                "allocated (forecaster.model.memory); a run over it is refused, naming what to "
                                "lower. Default: half of this machine's memory.", bounds=(0.1, 65536.0),
                                env="FORECASTER_MEMORY_GIB")
    ray_address: str = setting("", "A Ray cluster to train on (such as ray://head:10001, or local for a Ray instance "
                               "started on this machine): each network trains as a Ray task there, on a GPU "
                               "where the cluster has them; empty trains on this machine. Needs "
                               "requirements-ray.txt.", env="RAY_ADDRESS")

    def __post_init__(self) -> None:
        problems = out_of_bounds(self)
        if problems:
            raise ForecasterError("Invalid server settings: " + "; ".join(problems) + ".")

    @property
    def parallel(self) -> bool:
        """Whether training runs in worker processes (one worker would only add the cost of starting it)."""
        return self.workers > 1

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "ServerSettings":
        """The defaults, overridden by FORECASTER_WORKERS, FORECASTER_MAX_JOBS, FORECASTER_MEMORY_GIB and
        RAY_ADDRESS where set."""
        environ = dict(os.environ if environ is None else environ)
        changes = {}
        for f in dataclasses.fields(cls):
            text = environ.get(f.metadata["env"], "").strip()
            if text and f.type == "str":
                changes[f.name] = text
            elif text:
                kind = float if f.type == "float" else int
                try:
                    changes[f.name] = kind(text)
                except ValueError:
                    raise ForecasterError(f"{f.metadata['env']} must be a {'number' if kind is float else 'whole number'}"
                                          f", not {text[:40]!r}.") from None
        return cls(**changes)


def _number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def bounds(options: type, name: str) -> tuple[float, float]:
    """The allowed range of a numeric setting (the CLI, the widgets and the README show it)."""
    return next(f for f in dataclasses.fields(options) if f.name == name).metadata["bounds"]


def out_of_bounds(settings: Any) -> list[str]:
    """A sentence per numeric setting outside its range (or not a finite number), naming the range.

    Checked when the settings are made, before anything is allocated: a lag of 10,000,000 days or a hidden
    size of 100,000 is refused here, not after the server has run out of memory."""
    problems = []
    for f in dataclasses.fields(settings):
        if "bounds" not in f.metadata:
            continue
        lo, hi = f.metadata["bounds"]
        value = getattr(settings, f.name)
        values = value if isinstance(value, tuple) else (value,)
        if isinstance(value, tuple) and len(value) > MAX_LIST:
            hint = (f" (lags {len(value)} means every day from 1 to {len(value)}; each lag may go up to {hi}, as a "
                    f"list such as 1,7,14,28,{hi})" if f.name == "lags" and value == tuple(range(1, len(value) + 1))
                    else "")
            problems.append(f"{f.name.replace('_', ' ')} takes at most {MAX_LIST} values, not {len(value)}{hint}")
            continue
        whole = isinstance(lo, int) and isinstance(hi, int)  # a count: 8.0 or "8" from a tampered file is refused
        for v in values:
            kinds = (int,) if whole else (int, float)
            ok = isinstance(v, kinds) and not isinstance(v, bool) and math.isfinite(v) and lo <= v <= hi
            if not ok:
                problems.append(f"{f.name.replace('_', ' ')} must be between {_number(lo)} and {_number(hi)}, "
                                f"not {v!r}")
                break
    return problems


def help_text(options: type, name: str) -> str:
    """The help text of one setting of ForecastConfig or IngestOptions."""
    return next(f for f in dataclasses.fields(options) if f.name == name).metadata["help"]


def shown_default(f: dataclasses.Field) -> str:
    """A setting's default as the CLI's help, the README's table and the pages show it."""
    return f.metadata.get("shown_default") or default_text(f.default, f.metadata.get("parse"))


def default_text(value: Any, parse: str | None = None) -> str:
    """A default as a user would type it (on the CLI, in the README)."""
    if parse == "lags":
        return format_lags(value)
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "none"
    if value is None:
        return "detected"
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, float) else str(value)


def cli_flag(f: dataclasses.Field) -> str:
    return "--" + f.metadata.get("flag", f.name).replace("_", "-")


def settings_table() -> str:
    """The README's settings table (Markdown), one row per setting of the training run."""
    rows = ["| setting | CLI flag | default | allowed | what it does |", "|---|---|---|---|---|"]
    for f in dataclasses.fields(ForecastConfig):
        default = shown_default(f)
        choices, limits = f.metadata.get("choices"), f.metadata.get("bounds")
        allowed = (", ".join(choices) if choices else f"{_number(limits[0])} to {_number(limits[1])}" if limits
                   else "on, off" if isinstance(f.default, bool) else "")
        rows.append(f"| `{f.name}` | `{cli_flag(f)}` | `{default}` | {allowed} | {f.metadata['help']} |")
    return "\n".join(rows)


DEFAULT_CONFIG = ForecastConfig()
DEFAULT_SERVER = ServerSettings()
DEFAULT_INGEST = IngestOptions()
DEFAULT_INTERVALS = IntervalOptions()
