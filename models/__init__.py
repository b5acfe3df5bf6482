"""PyTorch modules only. REGISTRY maps the name stored in a config or a saved run to its class."""
from .cnn_lstm import CNNLSTM
from .global_cnn_bigru import GlobalCNNBiGRU
from .global_cnn_lstm import GlobalCNNLSTM
from .global_gru_attention import GlobalGRUAttention

REGISTRY = {"cnn_lstm": CNNLSTM, "global_cnn_lstm": GlobalCNNLSTM, "global_cnn_bigru": GlobalCNNBiGRU,
            "global_gru_attention": GlobalGRUAttention}

__all__ = ["CNNLSTM", "GlobalCNNBiGRU", "GlobalCNNLSTM", "GlobalGRUAttention", "REGISTRY"]
