"""A global GRU with attention over the window's days (the sequential-recommendation design)."""
from __future__ import annotations

import torch
from torch import nn

from .global_cnn_lstm import GlobalWindowNet


class GlobalGRUAttention(GlobalWindowNet):
    """Global GRU + additive attention over time steps, with a learned product embedding.

    Shapes: B batch (product-days), L seq_len, F features (one product's K lag features + calendar),
    E embedding size, H hidden size. Input (B, L, F) and product ids (B,) -> (B,).
    The GRU's output at every day of the window is scored (``v . tanh(W h_t)``), the scores are softmaxed
    over the L days, and the weighted sum of the outputs (which days mattered) joins the last output and
    the embedding in the head. Window scaling as in GlobalCNNLSTM.
    """

    def __init__(self, n_features: int, n_products: int, hidden_size: int = 64, lstm_layers: int = 1,
                 dropout: float = 0.0, embedding_dim: int = 8, n_series: int = 0,
                 window_scaling: bool = False) -> None:
        super().__init__(n_products, embedding_dim, n_series, window_scaling)
        self.gru = nn.GRU(n_features + embedding_dim, hidden_size, num_layers=lstm_layers, batch_first=True,
                          dropout=dropout if lstm_layers > 1 else 0.0)
        self.score = nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.Tanh(), nn.Linear(hidden_size, 1))
        self.head = nn.Sequential(nn.Linear(2 * hidden_size + embedding_dim, hidden_size), nn.ReLU(),
                                  nn.Dropout(dropout), nn.Linear(hidden_size, 1))

    def forward(self, x: torch.Tensor, products: torch.Tensor) -> torch.Tensor:
        h, e, scale = self.inputs(x, products)  # (B, L, F + E), (B, E)
        h, _ = self.gru(h)  # (B, L, H)
        weights = torch.softmax(self.score(h).squeeze(2), dim=1)  # (B, L): how much each day counts
        context = (weights[:, :, None] * h).sum(dim=1)  # (B, H)
        return self.output(self.head(torch.cat([context, h[:, -1], e], dim=1)).squeeze(1), scale)  # (B,)
