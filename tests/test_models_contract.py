"""The contract every network in models.REGISTRY keeps: its layout, output shapes for N products, and a
forward/backward pass that reaches every parameter. forecaster/ relies on nothing else."""
from __future__ import annotations

import pytest
import torch

import models
from models import REGISTRY

SIZES = {"conv_channels": 6, "kernel_size": 3, "hidden_size": 5, "lstm_layers": 2, "dropout": 0.1,
         "embedding_dim": 3}


def make_inputs(layout: str, batch: int, seq_len: int, n_features: int, n_products: int):
    x = torch.randn(batch, seq_len, n_features)
    if layout == "multi":
        return (x,), (batch, n_products)
    return (x, torch.randint(0, n_products, (batch,))), (batch,)


def test_registry_lists_both_network_families():
    assert set(REGISTRY) >= {"cnn_lstm", "global_cnn_lstm"}
    assert REGISTRY["cnn_lstm"].layout == "multi" and REGISTRY["global_cnn_lstm"].layout == "global"


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("n_products,seq_len,kernel_size", [(1, 1, 3), (3, 3, 3), (17, 4, 2), (5, 6, 5)])
def test_network_maps_windows_to_one_output_per_product_and_trains(name, n_products, seq_len, kernel_size):
    cls = REGISTRY[name]
    assert cls.layout in ("multi", "global")
    torch.manual_seed(0)
    n_features = 4 * (n_products if cls.layout == "multi" else 1) + 10
    net = cls(n_features=n_features, n_products=n_products, **{**SIZES, "kernel_size": kernel_size})
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
    net = cls(n_features=8, n_products=2, **{**SIZES, "dropout": 0.0}).eval()
    inputs, _ = make_inputs(cls.layout, 4, 3, 8, 2)
    changed = (inputs[0].clone(),) + inputs[1:]
    changed[0][:, -1] += 1.0
    with torch.no_grad():
        assert not torch.allclose(net(*inputs), net(*changed))


def test_models_package_exports_its_registry_classes():
    for cls in REGISTRY.values():
        assert getattr(models, cls.__name__) is cls
