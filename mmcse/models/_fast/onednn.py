"""The fast path's linear layer: ``F.linear`` (+ ReLU, + a dropout keep mask) through oneDNN, with a
hand-written backward whose weight gradients share one transposed copy of an input read by several layers.

PyTorch's CPU matmul goes to MKL, whose sgemm takes a slower code path on AMD CPUs; oneDNN's kernel does
not, and it fuses the bias and the ReLU into the product. Same maths (float32 rounding may differ in the
last bits). ``MMCSE_ONEDNN=0`` (see :mod:`mmcse.models._fast.config`) makes :func:`linear` plain
``F.linear``.
"""

from __future__ import annotations

import threading

import torch
import torch.nn.functional as F

from mmcse.models._fast.config import onednn_requested


def _onednn_linear_op():
    """oneDNN's fused linear (+ReLU) kernel, or None where this PyTorch build lacks it or it is off."""
    if not onednn_requested() or not torch.backends.mkldnn.is_available():
        return None
    return getattr(torch.ops.mkldnn, "_linear_pointwise", None)


_ONEDNN_LINEAR = _onednn_linear_op()


def _use_onednn(x: torch.Tensor, weight: torch.Tensor) -> bool:
    return (
        _ONEDNN_LINEAR is not None
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and weight.dtype == torch.float32
        and not torch.is_autocast_enabled("cpu")
    )


class _OneDNNLinear(torch.autograd.Function):
    """y = act(x W^T + b) with oneDNN in forward and for the input gradient; x is 2-D.

    With ``keep`` (a 0/1 mask shaped like y, see :func:`mmcse.models._fast.dropout.keep_mask`; only after
    a ReLU) the output is multiplied by it in place (dropout without its 1/(1-p) scale, which the caller
    folds into the next linear map); the ReLU backward on the saved, dropped-out output then also applies
    the mask: one pass, no extra tensor."""

    @staticmethod
    def forward(ctx, x, weight, bias, relu: bool, keep):
        out = _ONEDNN_LINEAR(x, weight, bias, "relu" if relu else "none", [], "")
        if keep is not None:
            out.mul_(keep.view(out.shape))
        ctx.save_for_backward(x, weight, out if relu else None)
        ctx.has_bias, ctx.relu = bias is not None, relu
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight, out = ctx.saved_tensors
        if ctx.relu:  # ReLU's own backward (and dropout's: dropped outputs are 0 too): one pass
            grad = torch.ops.aten.threshold_backward(grad, out, 0)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = _ONEDNN_LINEAR(grad, weight.t(), None, "none", [], "")  # (N, out) @ (out, in)
        need_b = ctx.has_bias and ctx.needs_input_grad[2]
        if ctx.needs_input_grad[1]:
            grad_w, grad_b = _weight_grad(grad, x, need_b)
        elif need_b:
            grad_b = grad.sum(0)
        return grad_x, grad_w, grad_b, None, None


class _TransposeCache(threading.local):
    """x^T with a row of ones below it, (in + 1, N), for the last few weight-gradient inputs, per thread.

    Several linear layers read the same input (an FGSE layer's x feeds both attention in-projections,
    LGSF-cross and the fc): their weight gradients all need x^T, and oneDNN first copies a strided operand
    to a contiguous one; the cache makes that copy once per input instead of once per layer. The row of
    ones makes the same matmul give the bias gradient (the column sums of the output gradient) as its last
    column. An entry holds x itself, so its memory cannot be reused while cached: equal data pointer,
    shape, strides and version counter mean the same data."""

    size = 4

    def __init__(self) -> None:
        self.entries: list[
            tuple[torch.Tensor, int, torch.Tensor]
        ] = []  # (x, x._version, [x 1]^T), newest last

    def transposed(self, x: torch.Tensor) -> torch.Tensor:
        for i, (src, version, xt) in enumerate(self.entries):
            if (
                src.data_ptr() == x.data_ptr()
                and src.shape == x.shape
                and src.stride() == x.stride()
                and src.dtype == x.dtype
                and version == x._version
            ):
                self.entries.append(self.entries.pop(i))
                return xt
        xt = x.new_empty(x.shape[1] + 1, x.shape[0])
        xt[:-1].copy_(x.t())
        xt[-1].fill_(1.0)
        self.entries = [*self.entries[-(self.size - 1) :], (x, x._version, xt)]
        return xt

    def clear(self) -> None:
        self.entries = []


_TRANSPOSES = _TransposeCache()


def _weight_grad(
    grad: torch.Tensor, x: torch.Tensor, need_bias: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(grad^T x (out, in), the bias gradient grad.sum(0) (out,) or None) for grad (N, out), x (N, in).

    oneDNN's product is fastest when its second ("weight") operand is the one with more columns, so the
    larger of out/in goes second: (out, N) @ (N, in) when out < in; when out >= in,
    ([x 1]^T (in + 1, N) @ (N, out))^T with [x 1]^T from :class:`_TransposeCache` (shared by the layers
    reading the same x), whose last column is the bias gradient.
    """
    if grad.shape[1] < x.shape[1]:
        grad_w = _ONEDNN_LINEAR(grad.t(), x.t(), None, "none", [], "")  # (out, N) @ (N, in)
        return grad_w, grad.sum(0) if need_bias else None
    both = _ONEDNN_LINEAR(_TRANSPOSES.transposed(x), grad.t(), None, "none", [], "").t()  # (out, in + 1)
    return both[:, :-1].contiguous(), both[:, -1].contiguous() if need_bias else None


def linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    relu: bool = False,
    keep: torch.Tensor | None = None,
) -> torch.Tensor:
    """``F.linear`` (then ReLU when ``relu``), through oneDNN for float32 on the CPU (outside autocast);
    plain ``F.linear`` elsewhere.

    ``keep`` (0/1 numbers, the output's shape, see :func:`mmcse.models._fast.dropout.keep_mask`; only with
    ``relu``): multiplies the output after the ReLU, i.e. dropout WITHOUT the 1/(1-p) scale (fold it into
    what follows).
    """
    if keep is not None and not relu:
        raise ValueError("linear(keep=...) needs relu=True")
    if not _use_onednn(x, weight):
        y = F.linear(x, weight, bias)
        y = F.relu(y) if relu else y
        return y if keep is None else y * keep
    lead = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1]).contiguous()  # oneDNN is slow on strided operands
    weight = weight.contiguous()
    if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad):
        y = _OneDNNLinear.apply(x2, weight, bias, relu, keep)
    else:
        y = _ONEDNN_LINEAR(x2, weight, bias, "relu" if relu else "none", [], "")
        if keep is not None:
            y.mul_(keep.view(y.shape))
    return y.view(*lead, weight.shape[0])
