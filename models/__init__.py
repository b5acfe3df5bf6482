"""PyTorch modules only. REGISTRY maps the name stored in a config or a saved run to its class."""
from .cnn_lstm import CNNLSTM
from .global_cnn_lstm import GlobalCNNLSTM

REGISTRY = {"cnn_lstm": CNNLSTM, "global_cnn_lstm": GlobalCNNLSTM}

__all__ = ["CNNLSTM", "GlobalCNNLSTM", "REGISTRY"]
