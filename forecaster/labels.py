"""Every name a user reads for models, baselines and metrics, once, and the keys the code uses for them.

The keys are what configs, saved runs, tables and blends store; the labels are what pages, charts, the
CLI and the selection table show. A key typed as a literal anywhere else is a bug waiting to drift.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model.trained import TrainedForecaster

# models (the network keys are models.REGISTRY's names; a contract test keeps the two in step)
AUTO = "auto"  # the recommended model: candidates chosen by validation (forecaster.model.recommend)
GLOBAL_CNN_LSTM = "global_cnn_lstm"
CNN_LSTM = "cnn_lstm"
GLOBAL_CNN_BIGRU = "global_cnn_bigru"
GLOBAL_GRU_ATTENTION = "global_gru_attention"
# methods in evaluations and blend components
NETWORK = "network"  # the trained forecaster's own prediction
NAIVE = "naive"
SEASONAL_NAIVE = "seasonal_naive"
MOVING_AVERAGE_7 = "moving_average_7"
WEEKDAY_MEAN_4 = "weekday_mean_4"
# reference rows of an evaluation: what no method may look good against by forecasting less
ZERO = "zero"
MEAN_28 = "mean_28"

LABELS: dict[str, str] = {
    AUTO: "Recommended model",
    GLOBAL_CNN_LSTM: "Global CNN+LSTM (one network shared by all products)",
    CNN_LSTM: "Multi-output CNN+LSTM (one output per product)",
    GLOBAL_CNN_BIGRU: "Global CNN+BiGRU (a bidirectional GRU shared by all products)",
    GLOBAL_GRU_ATTENTION: "Global GRU with attention over the window's days",
    NETWORK: "Neural network",
    NAIVE: "Naive (same as yesterday)",
    SEASONAL_NAIVE: "Seasonal naive (same weekday last week)",
    MOVING_AVERAGE_7: "7-day moving average",
    WEEKDAY_MEAN_4: "Same weekday, mean of the last 4 weeks",
    ZERO: "Forecast zero (reference)",
    MEAN_28: "Mean of the last 28 days",
}


def label(key: str) -> str:
    """What a user reads for a model, baseline or method key."""
    return LABELS.get(key, key.replace("_", " "))


def blend_label(weights: dict[str, float], network: str) -> str:
    """'blend of 90% <network> and 10% <baseline>': a component named NETWORK is the given network."""
    parts = [f"{round(100 * w)}% {label(network if k == NETWORK else k)}" for k, w in weights.items() if w > 0]
    return "blend of " + " and ".join(parts)


def trained_label(trained: "TrainedForecaster") -> str:
    """What the pages call a trained forecaster: the recommended model when it was chosen among
    candidates (it carries a selection table), else the neural network it is."""
    return LABELS[AUTO] if trained.selection is not None else LABELS[NETWORK]
