"""Purchase Forecaster: daily demand per product from a purchase CSV, with a CNN+LSTM and honest baselines.

The small public API::

    from forecaster import ForecastConfig, load_panel, fit, evaluate, forecast, save, load
    panel = load_panel("purchases.csv").panel
    trained = fit(panel, ForecastConfig(epochs=20, seed=1))
    print(evaluate(trained, panel).overall)
    print(forecast(trained, panel))

The names are imported on first use (PEP 562), so that ``from forecaster import DataError`` does not
import torch: the dashboard draws its frame and Home page before any model code is needed.
"""
from __future__ import annotations

import importlib
import os
from typing import Any

__version__ = "0.1.0"

# Intel MKL's strict reproducible mode, read by MKL when it first computes (so set before any model code
# runs): torch's CPU matrix products then give the same bits whatever the thread count, which lets a
# training take every idle core and still give a seed's networks (forecaster.model.threads). A mode the
# environment names already is the user's and is kept; it costs about nothing (bench/speed.py's floor).
REPRODUCIBLE_BLAS = "AUTO,STRICT"  # the code branch MKL picks for this CPU, in strict mode
os.environ.setdefault("MKL_CBWR", REPRODUCIBLE_BLAS)

# public name -> the module that defines it
_EXPORTS = {
    "ForecastConfig": "config", "IngestOptions": "config",
    "DataError": "errors", "ForecasterError": "errors", "TrainingError": "errors",
    "load_panel": "data.ingest",
    "TrainedForecaster": "model.trained",
    "fit": "run.fit",
    "Evaluation": "results.evaluation", "evaluate": "results.evaluation",
    "forecast": "results.forecasting",
    "load": "io.persistence", "save": "io.persistence",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'forecaster' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value
