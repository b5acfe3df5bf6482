"""Purchase Forecaster: daily demand per product from a purchase CSV, with a CNN+LSTM and honest baselines.

The small public API::

    from forecaster import ForecastConfig, load_panel, fit, evaluate, forecast, save, load
    panel = load_panel("purchases.csv").panel
    trained = fit(panel, ForecastConfig(epochs=20, seed=1))
    print(evaluate(trained, panel).overall)
    print(forecast(trained, panel))
"""
__version__ = "0.1.0"

from .config import ForecastConfig, IngestOptions  # noqa: E402
from .errors import DataError, ForecasterError, TrainingError  # noqa: E402
from .ingest import load_panel  # noqa: E402
from .training import TrainedForecaster, fit  # noqa: E402
from .evaluate import Evaluation, evaluate  # noqa: E402
from .forecast import forecast  # noqa: E402
from .persistence import load, save  # noqa: E402

__all__ = ["ForecastConfig", "IngestOptions", "DataError", "ForecasterError", "TrainingError", "load_panel",
           "TrainedForecaster", "fit", "Evaluation", "evaluate", "forecast", "save", "load", "__version__"]
