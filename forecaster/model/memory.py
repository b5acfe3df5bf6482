"""How much memory a training run needs, estimated from the data's shape and the settings before anything
is allocated, and the refusal of a run over the server's budget, naming what to lower.

Every setting may be within its own range while their product is not: a sequence of 366 days, a batch of
65,536 and 1,024 channels on the demo data asked for gigabytes at once. The estimate adds, per network
trained at the same time (each worker builds its own features): the features (lags, rolling means and the
calendar, float32), the weights with their gradients, Adam's two moments and the best epoch's copy, and one
batch's activations (the input windows, every layer's output kept for the backward pass, an LSTM's or GRU's
gates for each day of the window), whichever is larger of a training batch and an evaluation batch; plus the
daily panel and its scaled copy in the process that reads them. The network is built on PyTorch's "meta"
device, which knows shapes and allocates nothing, and its layers are read from it, so the count holds for
every registry network.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from models import REGISTRY

from ..config import AUTO, ForecastConfig
from ..errors import ForecasterError
from .recommend import candidate_config
from .trained import EVAL_BATCH, build_network, feature_count

FLOAT = 4  # bytes of a float32: features, weights and activations
DOUBLE = 8  # bytes of a float64: the daily panel and its scaled copy
WEIGHT_COPIES = 5  # weights, gradients, Adam's two moments, the best epoch's copy
GIB = 2**30

# which settings make each part large: what the refusal tells the user to lower
LOWER = {
    "panel": "the products or the days (a shorter export)",
    "features": "the lags or rolling windows, the products, or the worker count (FORECASTER_WORKERS / --workers)",
    "weights": "the convolution channels, the LSTM units, the kernel width or (the one-network-for-all-products "
               "model) the lags",
    "activations": "the batch size, the sequence length, the convolution channels or the LSTM units",
}


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes per part of a run, and how many networks train at once (each with its own features)."""

    parts: dict[str, int]
    at_once: int

    @property
    def total(self) -> int:
        return sum(self.parts.values())

    def describe(self) -> str:
        names = {"panel": "the daily panel", "features": "the features",
                 "weights": "the weights and optimiser state", "activations": "one batch's activations"}
        return ", ".join(f"{_gib(b)} for {names[k]}" for k, b in sorted(self.parts.items(), key=lambda kv: -kv[1]))


def _gib(n: int) -> str:
    return f"{n / GIB:.1f} GiB" if n >= GIB / 10 else f"{n / 2**20:.0f} MiB"


# in-place initialisers: on the meta device there are no numbers to draw, and drawing them first imports
# seconds of PyTorch's reference operators
_INITIALISERS = {"normal_", "uniform_", "zero_", "fill_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_",
                 "xavier_normal_", "trunc_normal_", "orthogonal_", "zeros_", "ones_", "constant_", "eye_", "dirac_"}


class _NoInitialisation(TorchFunctionMode):
    """Initialisers as no-ops while a network is built for counting. A torch function mode holds for the
    calling thread only: a network another thread builds meanwhile (a job training in-process) is initialised
    as usual, which patching torch.nn.init would not ensure."""

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        if getattr(func, "__name__", "") in _INITIALISERS:
            return args[0] if args else (kwargs or {}).get("tensor")
        return func(*args, **(kwargs or {}))


def networks_at_once(config: ForecastConfig, workers: int) -> int:
    """Networks a run trains side by side: every candidate's ensemble members, as far as workers allow."""
    networks = config.ensemble * (len(config.candidates) if config.model == AUTO else 1)
    return max(1, min(workers, networks))


def _activation_elements(net: nn.Module, batch: int, seq_len: int, n_features: int, training: bool) -> int:
    """Elements one batch keeps alive, read from the layers' shapes (no forward pass: on the meta device the
    first one imports seconds of PyTorch's reference operators): the gathered input windows, and every layer's
    output as if it ran on every day of the window (the dense head runs on one: an upper bound), an RNN with
    its gates; twice when training (each output is kept for the backward pass, and gets a gradient)."""
    per_day = 2 * n_features  # the gathered windows and their transposed copy
    for module in net.modules():
        if isinstance(module, nn.RNNBase):
            gates = {"LSTM": 4, "GRU": 3}.get(module.mode, 1)
            per_day += (gates + 1) * module.hidden_size * module.num_layers * (2 if module.bidirectional else 1)
        elif isinstance(module, (nn.Conv1d, nn.Conv2d)):
            per_day += module.out_channels
        elif isinstance(module, nn.Linear):
            per_day += module.out_features
        elif isinstance(module, nn.Embedding):
            per_day += module.embedding_dim
        elif isinstance(module, nn.MultiheadAttention):
            per_day += 4 * module.embed_dim + seq_len * module.num_heads  # projections and the attention row
        elif not list(module.children()) and module is not net:  # activations, dropout, norms: one more copy
            per_day += max((p.shape[0] for p in module.parameters()), default=0)
    return batch * seq_len * per_day * (2 if training else 1)


def estimate_training_memory(n_days: int, n_products: int, config: ForecastConfig, workers: int,
                             drivers: int = 0) -> MemoryEstimate:
    """The memory a run of ``config`` on ``n_days`` x ``n_products`` needs at its peak, in bytes per part
    (see the module docstring); ``workers``: the server's worker processes (0 or 1: one at a time);
    ``drivers``: driver channels per product (forecaster.data.drivers), read beside the lags."""
    config = config.resolved(n_days).for_catalog(n_products)
    models = config.candidates if config.model == AUTO else (config.model,)
    at_once = networks_at_once(config, workers)
    per_series = config.n_series_features + drivers
    features = weights = activations = 0
    for model in models:  # the largest candidate decides
        layout = REGISTRY[model].layout
        n_features = feature_count(config, n_products, layout, drivers)
        with torch.device("meta"), _NoInitialisation():
            net = build_network(config.replace(model=model), n_features, n_products)
        params = sum(p.numel() for p in net.parameters())
        per_day = n_products if layout == "global" else 1  # samples a day holds
        samples = n_days * per_day  # a batch never holds more than an epoch
        samples = min(samples, config.epoch_samples) if config.epoch_samples else samples
        batch = candidate_config(config, model, n_days, n_products).batch_size if config.model == AUTO \
            else config.batch_size
        # evaluation goes through a validation or test span at a time, EVAL_BATCH samples at most
        evaluated = min(EVAL_BATCH, max(config.val_days, config.test_days) * per_day)
        per_network = max(_activation_elements(net, min(batch, samples), config.seq_len, n_features, True),
                          _activation_elements(net, evaluated, config.seq_len, n_features, False))
        rows = n_days * (n_products * per_series + n_features) if layout == "multi" else n_days * n_products * per_series
        features = max(features, (rows + n_days * n_products) * FLOAT)
        weights = max(weights, params * FLOAT * WEIGHT_COPIES)
        activations = max(activations, per_network * FLOAT)
    parts = {"panel": 2 * n_days * n_products * DOUBLE + n_days * n_products * drivers * FLOAT, "features": features * (at_once + 1),
             "weights": weights * at_once, "activations": activations * at_once}
    return MemoryEstimate(parts, at_once)


def check_training_memory(n_days: int, n_products: int, config: ForecastConfig, workers: int,
                          budget_gib: float, drivers: int = 0) -> MemoryEstimate:
    """The estimate, or a ForecasterError naming the need, the budget, the largest parts and the settings to
    lower when it exceeds ``budget_gib``."""
    estimate = estimate_training_memory(n_days, n_products, config, workers, drivers)
    budget = int(budget_gib * GIB)
    if estimate.total > budget:
        top = sorted(estimate.parts, key=lambda k: -estimate.parts[k])[:2]
        raise ForecasterError(
            f"This run would need about {_gib(estimate.total)} of memory, over this server's budget of "
            f"{budget_gib:g} GiB (FORECASTER_MEMORY_GIB): {estimate.describe()}"
            + (f", with {estimate.at_once} networks training at once" if estimate.at_once > 1 else "")
            + ". Lower " + "; or ".join(LOWER[k] for k in top) + ".")
    return estimate
