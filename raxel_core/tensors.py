"""Array-likes to tensors: the one conversion the core uses for camera and ray data."""
from __future__ import annotations

import torch


def as_float64(x) -> torch.Tensor:
    """A detached CPU float64 tensor of ``x`` (a tensor of any dtype / device, a numpy array, nested
    lists or a number); shape unchanged. Raises whatever ``torch.as_tensor`` raises for input that is
    not numeric."""
    if isinstance(x, torch.Tensor):
        return x.detach().to(dtype=torch.float64, device="cpu")
    return torch.as_tensor(x, dtype=torch.float64)
