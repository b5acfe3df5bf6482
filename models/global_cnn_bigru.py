"""A global CNN+BiGRU: a convolution over one product's window, then a bidirectional GRU reading it both ways."""
from __future__ import annotations

import torch
from torch import nn

from .global_cnn_lstm import GlobalWindowNet


class GlobalCNNBiGRU(GlobalWindowNet):
    """Global CNN + bidirectional GRU with a learned product embedding (one of the seed architectures).

    Shapes: B batch (product-days), L seq_len, F features (one product's K lag features + calendar),
    E embedding size, C conv channels, H hidden size. Input (B, L, F) and product ids (B,) -> (B,).
    The GRU reads the window forwards and backwards; the last layer's two final states (the forward one
    after the latest day, the backward one after the earliest) feed the head with the embedding. Window
    scaling as in GlobalCNNLSTM.
    """

    def __init__(self, n_features: int, n_products: int, conv_channels: int = 64, kernel_size: int = 3,
                 hidden_size: int = 64, lstm_layers: int = 1, dropout: float = 0.0, embedding_dim: int = 8,
                 n_series: int = 0, window_scaling: bool = False) -> None:
        super().__init__(n_products, embedding_dim, n_series, window_scaling)
        self.conv = self.conv_block(n_features + embedding_dim, conv_channels, kernel_size, dropout)
        self.gru = nn.GRU(conv_channels, hidden_size, num_layers=lstm_layers, batch_first=True, bidirectional=True,
                          dropout=dropout if lstm_layers > 1 else 0.0)
        self.head = nn.Sequential(nn.Linear(2 * hidden_size + embedding_dim, hidden_size), nn.ReLU(),
                                  nn.Dropout(dropout), nn.Linear(hidden_size, 1))

    def forward(self, x: torch.Tensor, products: torch.Tensor) -> torch.Tensor:
        L = x.shape[1]
        h, e, scale = self.inputs(x, products)  # (B, L, F + E), (B, E)
        h = self.conv(h.transpose(1, 2))[..., :L]  # (B, C, L)
        _, last = self.gru(h.transpose(1, 2))  # (layers * 2, B, H)
        both = torch.cat([last[-2], last[-1]], dim=1)  # (B, 2H): forward and backward final states
        return self.output(self.head(torch.cat([both, e], dim=1)).squeeze(1), scale)  # (B,)
