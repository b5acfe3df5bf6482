"""Every default in one place: the CLI flags and the dashboard widgets read them here, never restate them."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

FORMATS = ("auto", "long", "wide", "transactions")
LOSSES = ("mse", "l1", "huber")
DEVICES = ("auto", "cpu", "cuda", "mps")
# "auto" trains the network variants and simple baselines and recommends one (or a blend) by validation
AUTO_MODEL = "auto"
MODEL_CHOICES = (AUTO_MODEL, "global_cnn_lstm", "cnn_lstm")


@dataclass(frozen=True)
class IngestOptions:
    """How to read a purchase CSV. Anything left at None is detected from the file."""

    format: str = "auto"
    date_col: str | None = None
    product_cols: tuple[str, ...] = ()
    quantity_col: str | None = None
    dayfirst: bool | None = None
    keep_returns: bool = False
    max_products: int = 10_000

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}, not {self.format!r}")
        object.__setattr__(self, "product_cols", tuple(self.product_cols))


@dataclass(frozen=True)
class ForecastConfig:
    """Features, model and training settings of one run (see README for what each means)."""

    # model: "auto" (recommended by validation, see forecaster/recommend.py) or a name from
    # models.REGISTRY ("cnn_lstm" = one network, one output per product; "global_cnn_lstm" = one network
    # shared by all products, with a learned product embedding)
    model: str = AUTO_MODEL
    # features
    lags: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7)
    rolling_windows: tuple[int, ...] = ()
    seq_len: int = 3
    # day of month and week of year too: measured better on long histories (yearly season), see bench/accuracy.py
    extended_calendar: bool = True
    log1p: bool = False  # measured worse with per-product MinMax (squeezes large, steady series)
    # split: the last test_days are the test span, the val_days before them steer early stopping
    test_days: int = 28
    val_days: int = 28
    # model sizes
    conv_channels: int = 64
    kernel_size: int = 3
    hidden_size: int = 64
    lstm_layers: int = 1
    dropout: float = 0.0
    embedding_dim: int = 8
    # global network: divide each window's demand features by their mean and scale the output back
    # (follows level shifts; better on all 4 real datasets at a 28-day earlier cut-off, see README)
    window_scaling: bool = True
    # training
    epochs: int = 40
    batch_size: int = 256
    learning_rate: float = 2e-3
    weight_decay: float = 0.0
    loss: str = "l1"  # users read MAE; L1 beat MSE on 3 of 4 real datasets' validation spans
    # weight each product's errors by its scale in original units (L1 then tracks the pooled MAE users
    # read); False treats every product alike on its own 0..1 scale
    weighted_loss: bool = False
    patience: int = 8
    # early stopping: the validation loss must improve by this fraction of its best to count as progress
    min_improvement: float = 0.005
    # at most this many training samples per epoch, drawn afresh each epoch (0 = all): bounds the time of
    # one epoch on long histories and large catalogs (a "global" sample is one product-day)
    epoch_samples: int = 16_384
    ensemble: int = 3  # seeds averaged: steadier than one network on short, noisy histories
    # model="auto": after the choice, train the chosen network again on the validation days too
    # False: the candidates are the configured ensembles and the chosen one ships as validated (its blend
    # weights fit to that very ensemble); True trains the chosen network again with the validation days.
    # Measured: mean MAE the same at a 28-day earlier cut-off (+0.1 %), seed-to-seed range on the test
    # spans 3x narrower without the refit (favorita 79.8-81.3 against 77.9-82.8), see README
    refit: bool = False
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        lags = tuple(sorted({int(x) for x in self.lags}))
        object.__setattr__(self, "lags", lags)
        object.__setattr__(self, "rolling_windows", tuple(sorted({int(x) for x in self.rolling_windows})))
        problems = []
        if not lags or lags[0] < 1:
            problems.append("lags must be positive whole numbers of days")
        if any(w < 2 for w in self.rolling_windows):
            problems.append("rolling windows must be at least 2 days")
        if self.seq_len < 1:
            problems.append("sequence length must be at least 1")
        if self.test_days < 1:
            problems.append("test days must be at least 1")
        if self.val_days < 0:
            problems.append("validation days cannot be negative")
        if self.epoch_samples < 0:
            problems.append("samples per epoch cannot be negative (0 means all)")
        if self.epochs < 1 or self.batch_size < 1 or self.ensemble < 1:
            problems.append("epochs, batch size and ensemble size must be at least 1")
        if not (math.isfinite(self.learning_rate) and 0 < self.learning_rate <= 1):
            problems.append("learning rate must be a number above 0 and at most 1 (try 0.001 to 0.01)")
        if not 0 <= self.min_improvement < 1:
            problems.append("minimum improvement must be in [0, 1)")
        if not 0 <= self.dropout < 1:
            problems.append("dropout must be in [0, 1)")
        if self.loss not in LOSSES:
            problems.append(f"loss must be one of {', '.join(LOSSES)}")
        if self.device not in DEVICES:
            problems.append(f"device must be one of {', '.join(DEVICES)}")
        if self.kernel_size < 1 or self.conv_channels < 1 or self.hidden_size < 1 or self.lstm_layers < 1:
            problems.append("model sizes must be at least 1")
        if problems:
            from .errors import ForecasterError

            raise ForecasterError("Invalid settings: " + "; ".join(problems) + ".")

    @property
    def history_needed(self) -> int:
        """Days of history one window needs before its target day (longest lag or rolling window)."""
        return max(self.lags + self.rolling_windows) + self.seq_len - 1

    @property
    def n_series_features(self) -> int:
        """Features per product and day (its lags and rolling means), the part window scaling rescales."""
        return len(self.lags) + len(self.rolling_windows)

    def replace(self, **changes: Any) -> "ForecastConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ForecastConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known})


def parse_lags(text: str) -> tuple[int, ...]:
    """'7' means lags 1..7; '1,7,14' is an explicit list."""
    text = str(text).strip()
    try:
        if "," in text:
            return tuple(int(x) for x in text.split(",") if x.strip())
        return tuple(range(1, int(text) + 1))
    except ValueError:
        from .errors import ForecasterError

        raise ForecasterError(f"Lags must be a number (7 means lags 1..7) or a list like 1,7,14, not {text!r}.") from None


DEFAULT_CONFIG = ForecastConfig()
DEFAULT_INGEST = IngestOptions()
