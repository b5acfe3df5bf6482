"""The same CNN+LSTM shared by every product: one sample is one product's own window."""
from __future__ import annotations

import torch
from torch import nn

# added to the window's mean absolute value before dividing, in the per-product 0..1 units of the scaler
# (2% of the product's training range): keeps an all-zero window finite and damps windows of a few sales
SCALE_FLOOR = 0.02


class GlobalWindowNet(nn.Module):
    """What every global network shares: a product embedding and DeepAR-style window scaling.

    With ``window_scaling`` the first ``n_series`` features (the product's lags and rolling means) are
    divided by their mean absolute value over the window plus :data:`SCALE_FLOOR`, and the output is
    multiplied back. Subclasses build their layers after ``super().__init__`` and call :meth:`inputs`
    and :meth:`output` around them.
    """

    layout = "global"

    def __init__(self, n_products: int, embedding_dim: int, n_series: int, window_scaling: bool) -> None:
        super().__init__()
        self.n_series = n_series
        self.window_scaling = bool(window_scaling and n_series)
        self.embedding = nn.Embedding(n_products, embedding_dim)

    @staticmethod
    def conv_block(in_channels: int, conv_channels: int, kernel_size: int, dropout: float) -> nn.Sequential:
        """The convolution over the window's days that the CNN-based global networks start with:
        (B, C_in, L) -> (B, C, L), length kept."""
        return nn.Sequential(nn.Conv1d(in_channels, conv_channels, kernel_size, padding=kernel_size // 2),
                             nn.ReLU(), nn.Dropout(dropout))

    def inputs(self, x: torch.Tensor, products: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(B, L, F) windows and (B,) ids -> (B, L, F + E) scaled windows with the embedding on every day,
        the (B, E) embedding, and the (B,) scale (None without window scaling)."""
        B, L, _ = x.shape
        scale = None
        if self.window_scaling:
            K = self.n_series
            # mean of absolute values: demand below the training minimum scales below 0, and a signed
            # mean near 0 would blow the inputs up and flip the output's sign
            scale = x[:, :, :K].abs().mean(dim=(1, 2)) + SCALE_FLOOR  # (B,)
            x = torch.cat([x[:, :, :K] / scale[:, None, None], x[:, :, K:]], dim=2)
        e = self.embedding(products)  # (B, E)
        return torch.cat([x, e[:, None, :].expand(B, L, -1)], dim=2), e, scale

    @staticmethod
    def output(out: torch.Tensor, scale: torch.Tensor | None) -> torch.Tensor:
        return out if scale is None else out * scale


class GlobalCNNLSTM(GlobalWindowNet):
    """Global CNN+LSTM with a learned product embedding.

    Shapes: B batch (product-days), L seq_len, F features (one product's K lag features + calendar),
    E embedding size, C conv channels, H hidden size. Input (B, L, F) and product ids (B,) -> (B,).
    Weights are shared across products, so the parameter count does not grow with the catalog and
    every product's history teaches the network about all the others.

    Window scaling (see :class:`GlobalWindowNet`) lets the network learn the shape of demand relative to
    its recent level, which follows level shifts (holidays, a product taking off) that a scaler fit once
    on the training days cannot, and lets products of different sizes share one set of weights.
    """

    def __init__(self, n_features: int, n_products: int, conv_channels: int = 64, kernel_size: int = 3,
                 hidden_size: int = 64, lstm_layers: int = 1, dropout: float = 0.0, embedding_dim: int = 8,
                 n_series: int = 0, window_scaling: bool = False) -> None:
        super().__init__(n_products, embedding_dim, n_series, window_scaling)
        self.conv = self.conv_block(n_features + embedding_dim, conv_channels, kernel_size, dropout)
        self.lstm = nn.LSTM(conv_channels, hidden_size, num_layers=lstm_layers, batch_first=True,
                            dropout=dropout if lstm_layers > 1 else 0.0)
        self.head = nn.Sequential(nn.Linear(hidden_size + embedding_dim, hidden_size), nn.ReLU(),
                                  nn.Dropout(dropout), nn.Linear(hidden_size, 1))

    def forward(self, x: torch.Tensor, products: torch.Tensor) -> torch.Tensor:
        L = x.shape[1]
        h, e, scale = self.inputs(x, products)  # (B, L, F + E), (B, E)
        h = self.conv(h.transpose(1, 2))[..., :L]  # (B, C, L)
        h, _ = self.lstm(h.transpose(1, 2))  # (B, L, H)
        return self.output(self.head(torch.cat([h[:, -1], e], dim=1)).squeeze(1), scale)  # (B,)
