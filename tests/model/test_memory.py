"""forecaster.model.memory: a run's memory is estimated from the data's shape and the settings before anything is
allocated, and a run over the server's budget is refused naming what to lower (issue 24)."""
from __future__ import annotations

import time

import pytest

from forecaster.config import ForecastConfig, ServerSettings
from forecaster.errors import ForecasterError
from forecaster.model.memory import GIB, check_training_memory, estimate_training_memory, networks_at_once

# each setting within its own range, together far beyond any machine (the probe's cases)
LARGE = {
    "long windows, huge batches, wide layers": (1095, 20, ForecastConfig(seq_len=366, batch_size=65_536,
                                                                         conv_channels=1024, hidden_size=1024)),
    "one network over 2,000 products' 63 lags": (1095, 2000, ForecastConfig(model="cnn_lstm", lags=tuple(range(1, 64)),
                                                                          conv_channels=1024, kernel_size=31)),
}


def test_the_default_run_on_the_demo_data_needs_little():
    estimate = estimate_training_memory(1095, 20, ForecastConfig(), workers=2)
    assert estimate.total < 0.25 * GIB and estimate.at_once == 2
    check_training_memory(1095, 20, ForecastConfig(), 2, budget_gib=1.0)  # passes


@pytest.mark.parametrize("case", list(LARGE))
def test_settings_each_in_range_but_huge_together_are_refused_at_once_naming_what_to_lower(case):
    days, products, config = LARGE[case]
    start = time.perf_counter()
    with pytest.raises(ForecasterError, match=r"would need about [\d.]+ GiB of memory, over this server's budget of "
                                              r"12 GiB \(FORECASTER_MEMORY_GIB\).*Lower"):
        check_training_memory(days, products, config, 2, budget_gib=12)
    assert time.perf_counter() - start < 5


def test_the_estimate_grows_with_what_it_names():
    base = estimate_training_memory(365, 100, ForecastConfig(), 2)
    assert estimate_training_memory(365, 100, ForecastConfig(seq_len=30), 2).parts["activations"] > \
        5 * base.parts["activations"]
    assert estimate_training_memory(365, 100, ForecastConfig(hidden_size=512), 2).parts["weights"] > \
        5 * base.parts["weights"]
    assert estimate_training_memory(365, 1000, ForecastConfig(), 2).parts["features"] > 5 * base.parts["features"]
    assert estimate_training_memory(365, 100, ForecastConfig(), 1).total < base.total  # one network at a time


def test_networks_at_once_are_the_workers_or_the_networks_whichever_is_fewer():
    assert networks_at_once(ForecastConfig(), 8) == 6  # 2 candidates x 3 members
    assert networks_at_once(ForecastConfig(model="cnn_lstm", ensemble=1), 8) == 1
    assert networks_at_once(ForecastConfig(), 0) == 1


def test_the_budget_is_a_server_setting_from_the_environment():
    assert ServerSettings().memory_gib > 0
    assert ServerSettings.from_env({"FORECASTER_MEMORY_GIB": "2.5"}).memory_gib == 2.5
    with pytest.raises(ForecasterError, match="FORECASTER_MEMORY_GIB must be a number"):
        ServerSettings.from_env({"FORECASTER_MEMORY_GIB": "lots"})


def test_skipping_initialisation_for_the_count_leaves_other_threads_networks_initialised():
    """A job training in-process may build its network while another session's run is estimated: the skip
    must hold for the estimating thread only."""
    import threading

    import torch

    from forecaster.model.memory import _NoInitialisation

    built = {}
    with _NoInitialisation():
        worker = threading.Thread(target=lambda: built.setdefault("net", torch.nn.Linear(64, 64)))
        worker.start()
        worker.join()
    assert built["net"].weight.detach().abs().sum() > 0
