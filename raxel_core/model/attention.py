"""The one attention function of the joint transformer: PyTorch SDPA, or xformers on CUDA.

Every attention in :mod:`raxel_core.model` (self, video<->ray cross, text cross) calls
:func:`attention`, so the network code never picks a backend itself (as diffusers'
``dispatch_attention_fn`` does for its models).
"""
from __future__ import annotations

import importlib.util

import torch
import torch.nn.functional as F

BACKENDS = ("auto", "sdpa", "xformers")


def xformers_available() -> bool:
    """True when the ``xformers`` package is importable (it is never required)."""
    return importlib.util.find_spec("xformers") is not None


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, backend: str = "auto",
              bias: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax attention ``softmax(q k^T / sqrt(D) + bias) v`` over every key (no mask, no dropout).

    Args:
        q: (B, Lq, H, D) queries, any float dtype.
        k: (B, Lk, H, D) keys, same dtype / device as ``q``.
        v: (B, Lk, H, Dv) values.
        backend: "auto" (xformers' memory-efficient kernel for CUDA tensors when xformers is
            installed, PyTorch ``scaled_dot_product_attention`` otherwise), "sdpa" or "xformers".
        bias: optional additive logit bias, broadcastable to (B, H, Lq, Lk) (e.g. (1, H, Lq, Lk)),
            float; None = plain attention.

    Returns:
        (B, Lq, H, Dv) in the dtype of ``q``.

    Raises:
        ValueError: wrong ranks, mismatching batch / heads / width, unknown backend, or
            "xformers" asked for where it is not installed or the tensors are not on CUDA.
    """
    if backend not in BACKENDS:
        raise ValueError(f"attention backend {backend!r} is unknown; use one of {BACKENDS}")
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError(f"attention expects (B, L, heads, head_dim) tensors, got q {tuple(q.shape)}, "
                         f"k {tuple(k.shape)}, v {tuple(v.shape)}")
    if k.shape[:1] != q.shape[:1] or k.shape[2:] != q.shape[2:] or v.shape[:3] != k.shape[:3]:
        raise ValueError(f"attention shapes do not agree: q {tuple(q.shape)}, k {tuple(k.shape)}, "
                         f"v {tuple(v.shape)} (need the same batch and heads, q/k the same head_dim, "
                         "k/v the same length)")
    use_xformers = backend == "xformers" or (backend == "auto" and q.is_cuda and xformers_available())
    if use_xformers:
        if not xformers_available():
            raise ValueError("attention backend 'xformers' asked for but xformers is not installed; "
                             "pip install xformers or use backend='sdpa'")
        if not q.is_cuda:
            raise ValueError("attention backend 'xformers' needs CUDA tensors; use backend='sdpa' on CPU")
        import xformers.ops

        attn_bias = None if bias is None else bias.to(q.dtype).expand(q.shape[0], q.shape[2], q.shape[1], k.shape[1])
        return xformers.ops.memory_efficient_attention(q, k, v, attn_bias=attn_bias).type_as(q)
    # SDPA wants (B, H, L, D).
    out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                         attn_mask=None if bias is None else bias.to(q.dtype),
                                         dropout_p=0.0, is_causal=False)
    return out.transpose(1, 2).type_as(q)
