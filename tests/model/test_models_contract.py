"""The contract every network in models.REGISTRY keeps: its layout, output shapes for N products, and a
forward/backward pass that reaches every parameter. forecaster/ relies on nothing else."""
from __future__ import annotations

import pytest
import torch

import models
from forecaster.config import MODEL_CHOICES, MULTI_OUTPUT_NETWORKS, ForecastConfig
from forecaster.labels import AUTO, LABELS
from forecaster.model.trained import network_arguments
from models import REGISTRY

SIZES = {"conv_channels": 6, "kernel_size": 3, "hidden_size": 5, "lstm_layers": 2, "dropout": 0.1,
         "embedding_dim": 3}


def declared(cls, sizes: dict) -> dict:
    """The sizes this model's constructor names (the multi-output network has no embedding)."""
    import inspect

    return {k: v for k, v in sizes.items() if k in inspect.signature(cls).parameters}


def make_inputs(layout: str, batch: int, seq_len: int, n_features: int, n_products: int):
    x = torch.randn(batch, seq_len, n_features)
    if layout == "multi":
        return (x,), (batch, n_products)
    return (x, torch.randint(0, n_products, (batch,))), (batch,)


def test_registry_lists_both_network_families():
    assert set(REGISTRY) >= {"cnn_lstm", "global_cnn_lstm"}
    assert REGISTRY["cnn_lstm"].layout == "multi" and REGISTRY["global_cnn_lstm"].layout == "global"


def test_the_settings_offer_exactly_the_registry_and_every_model_has_a_label():
    assert set(MODEL_CHOICES) == {AUTO, *REGISTRY}
    assert set(MULTI_OUTPUT_NETWORKS) == {m for m, cls in REGISTRY.items() if cls.layout == "multi"}
    assert set(MODEL_CHOICES) <= set(LABELS)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_a_model_receives_only_the_settings_its_constructor_declares(name):
    """No catch-all **kwargs: a setting a model does not declare is not passed (and a misspelt one fails)."""
    import inspect

    cls = REGISTRY[name]
    params = inspect.signature(cls).parameters
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    args = network_arguments(ForecastConfig(model=name), cls)
    assert set(args) <= set(params) and args
    with pytest.raises(TypeError):
        cls(n_features=3, n_products=2, conv_chanels=4)  # a typo is an error, not silently ignored


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("n_products,seq_len,kernel_size", [(1, 1, 3), (3, 3, 3), (17, 4, 2), (5, 6, 5)])
def test_network_maps_windows_to_one_output_per_product_and_trains(name, n_products, seq_len, kernel_size):
    cls = REGISTRY[name]
    assert cls.layout in ("multi", "global")
    torch.manual_seed(0)
    n_features = 4 * (n_products if cls.layout == "multi" else 1) + 10
    net = cls(n_features=n_features, n_products=n_products, **declared(cls, {**SIZES, "kernel_size": kernel_size}))
    assert isinstance(net, torch.nn.Module)
    inputs, shape = make_inputs(cls.layout, 7, seq_len, n_features, n_products)
    net.train()
    out = net(*inputs)
    assert out.shape == shape
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    out.pow(2).mean().backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None, f"{name}: no gradient reaches {pname}"
        assert torch.isfinite(p.grad).all()
    # eval mode is deterministic (dropout off) and a batch of one works
    net.eval()
    with torch.no_grad():
        a, b = net(*inputs), net(*inputs)
        one = net(*(t[:1] for t in inputs))
    assert torch.equal(a, b)
    assert one.shape == (1, *shape[1:])
    torch.testing.assert_close(one[0], a[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_network_output_depends_on_the_latest_time_step(name):
    cls = REGISTRY[name]
    torch.manual_seed(0)
    net = cls(n_features=8, n_products=2, **declared(cls, {**SIZES, "dropout": 0.0})).eval()
    inputs, _ = make_inputs(cls.layout, 4, 3, 8, 2)
    changed = (inputs[0].clone(),) + inputs[1:]
    changed[0][:, -1] += 1.0
    with torch.no_grad():
        assert not torch.allclose(net(*inputs), net(*changed))


def test_models_package_exports_its_registry_classes():
    for cls in REGISTRY.values():
        assert getattr(models, cls.__name__) is cls


def test_window_scaling_works_on_the_demand_level_not_the_calendar(monkeypatch):
    """With window scaling the global network reads demand relative to the window's own mean: a window
    at c times the level (calendar unchanged) gives c times the forecast. Without it, it does not."""
    import models.global_cnn_lstm as g

    monkeypatch.setattr(g, "SCALE_FLOOR", 0.0)  # exact homogeneity: no floor added to the mean
    torch.manual_seed(0)
    n_series, n_calendar = 4, 6
    x = torch.rand(5, 3, n_series + n_calendar) + 0.1
    products = torch.tensor([0, 1, 2, 0, 1])
    scaled = x.clone()
    scaled[:, :, :n_series] *= 3.0
    kwargs = {**SIZES, "dropout": 0.0, "n_series": n_series}
    with torch.no_grad():
        net = g.GlobalCNNLSTM(n_series + n_calendar, 3, window_scaling=True, **kwargs).eval()
        torch.testing.assert_close(net(scaled, products), 3.0 * net(x, products), rtol=1e-4, atol=1e-6)
        plain = g.GlobalCNNLSTM(n_series + n_calendar, 3, window_scaling=False, **kwargs).eval()
        assert not torch.allclose(plain(scaled, products), 3.0 * plain(x, products), rtol=1e-3)


def test_window_scaling_keeps_an_all_zero_window_finite():
    from models.global_cnn_lstm import GlobalCNNLSTM

    torch.manual_seed(0)
    net = GlobalCNNLSTM(10, 2, n_series=4, window_scaling=True, **SIZES)
    x = torch.zeros(3, 3, 10)
    x[:, :, 4:] = torch.rand(3, 3, 6)  # calendar only, no sales at all in the window
    out = net(x, torch.tensor([0, 1, 1]))
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)


def test_window_scaling_stays_positive_below_the_training_minimum():
    """Demand below the training span's minimum scales below 0 (a store that closes for a few days): the
    scale is a mean of absolute values, so a window averaging near 0 cannot blow up or flip the sign."""
    from models.global_cnn_lstm import SCALE_FLOOR, GlobalCNNLSTM

    torch.manual_seed(0)
    net = GlobalCNNLSTM(10, 1, n_series=4, window_scaling=True, **{**SIZES, "dropout": 0.0}).eval()
    x = torch.zeros(1, 3, 10)
    x[0, :, :4] = torch.tensor([0.5, -0.5, 0.5, -0.5])  # signed mean 0, absolute mean 0.5
    x[0, :, 4:] = 0.3
    with torch.no_grad():
        out = net(x, torch.tensor([0]))
        inner = GlobalCNNLSTM(10, 1, n_series=4, window_scaling=False, **{**SIZES, "dropout": 0.0}).eval()
        inner.load_state_dict(net.state_dict())
        expected = inner(torch.cat([x[..., :4] / (0.5 + SCALE_FLOOR), x[..., 4:]], dim=2), torch.tensor([0]))
    torch.testing.assert_close(out, expected * (0.5 + SCALE_FLOOR))


@pytest.mark.parametrize("holidays", ["", "DE"])
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_registry_model_trains_saves_and_loads_to_the_same_forecast(name, holidays, tmp_path):
    """Every network, with and without a holiday calendar among its features (issue 26: every registry network
    accepts the drivers), trains, saves, loads and forecasts the same."""
    import pandas as pd

    from conftest import TINY, make_panel
    from forecaster import fit, forecast, load, save

    panel = make_panel(days=100)
    trained = fit(panel, TINY.replace(model=name, holidays=holidays))
    loaded = load(save(trained, tmp_path))
    assert loaded.config.holidays == holidays
    pd.testing.assert_frame_equal(forecast(loaded, panel), forecast(trained, panel))


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_network_trains_on_drivers_and_reads_them(name):
    """Every registry network takes driver features beside the lags (forecaster.data.drivers): trained on a
    file with a promotion flag, flipping tomorrow's flag moves its forecast."""
    import numpy as np
    import pandas as pd

    from forecaster import fit
    from forecaster.config import IngestOptions
    from forecaster.data.demo import promotion_demo_long
    from forecaster.data.drivers import DriverPanel
    from forecaster.data.ingest import load_panel

    data = promotion_demo_long(n_products=2, days=120, seed=0).to_csv(index=False).encode("utf-8")
    ingested = load_panel(data, IngestOptions(drivers=("promo",)))
    config = ForecastConfig(model=name, ensemble=1, epochs=2, patience=0, conv_channels=6, hidden_size=6,
                            embedding_dim=2, batch_size=32, test_days=14, val_days=14, seed=0)
    trained = fit(ingested.panel, config, drivers=ingested.drivers)
    assert trained.driver_spec.channels == ("promo",) and len(trained.networks) == 1
    tomorrow = pd.DatetimeIndex([ingested.panel.index[-1] + pd.Timedelta(days=1)])
    preds = [trained.with_drivers(ingested.drivers.combined(DriverPanel(
        ingested.drivers.spec, tomorrow, ingested.drivers.products, np.full((1, 2, 1), v, np.float32))))
        .predict_networks(ingested.panel, np.array([len(ingested.panel)])) for v in (0.0, 1.0)]
    assert not np.allclose(*preds)
