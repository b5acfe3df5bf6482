"""Where training and inference run: CUDA, then Apple MPS, then the CPU."""
from __future__ import annotations

import torch

from .errors import ForecasterError


def resolve_device(name: str = "auto") -> torch.device:
    """The device for a setting; a forced device that is absent is a user error, not a crash."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ForecasterError("No CUDA GPU is available here; choose device 'auto' or 'cpu'.")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ForecasterError("Apple MPS is not available here; choose device 'auto' or 'cpu'.")
    return torch.device(name)


def device_label(device: torch.device) -> str:
    """What a user reads for a device: the GPU's name, Apple MPS, or CPU."""
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    return "Apple GPU (MPS)" if device.type == "mps" else "CPU"
