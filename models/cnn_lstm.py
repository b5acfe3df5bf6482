"""The reference notebook's network: one CNN+LSTM that reads every product's lags and outputs them all."""
from __future__ import annotations

import torch
from torch import nn


class CNNLSTM(nn.Module):
    """Multi-output CNN+LSTM.

    Shapes: B batch, L seq_len, F features (P products x K lag features + calendar), C conv channels,
    H hidden size, P products. Input (B, L, F) -> output (B, P), one forecast per product.
    """

    layout = "multi"

    def __init__(self, n_features: int, n_products: int, conv_channels: int = 64, kernel_size: int = 3,
                 hidden_size: int = 64, lstm_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(n_features, conv_channels, kernel_size, padding=kernel_size // 2), nn.ReLU(),
            nn.Dropout(dropout))
        self.lstm = nn.LSTM(conv_channels, hidden_size, num_layers=lstm_layers, batch_first=True,
                            dropout=dropout if lstm_layers > 1 else 0.0)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden_size, n_products))

    def forward(self, x: torch.Tensor, products: torch.Tensor | None = None) -> torch.Tensor:
        L = x.shape[1]
        h = self.conv(x.transpose(1, 2))[..., :L]  # (B, C, L); even kernels pad one extra step, cut it
        h, _ = self.lstm(h.transpose(1, 2))  # (B, L, H)
        return self.head(h[:, -1])  # (B, P)
