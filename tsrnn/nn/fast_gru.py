"""A GRU layer with a hand-written backward pass, for fast training on CPU.

On CPU, torch fuses the LSTM's backward pass but differentiates ``nn.GRU`` step by
step through a dozen small autograd nodes per step, so a GRU trains about 2-3x
slower than an LSTM of the same size. Here the whole sequence is one
``torch.autograd.Function``:

- forward: one matmul for every step's input projection, then per step one
  in-place ``addmm_`` for the recurrent projection and four elementwise ops;
- backward: the per-step derivatives of the gates are a product of ``dL/dh_t``
  with coefficients computed for all steps at once, so each step is one multiply,
  one ``addcmul`` and one ``addmm_``; the weight, bias and input gradients are one
  matmul or sum each over all steps.

The gate equations and the parameter layout are torch's (``weight_ih`` is
``[3H, I]`` in ``(r, z, n)`` order):

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    h' = (1 - z) * n + z * h

CPU only, float32 or float64, no double backward (``gradgradcheck`` fails).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.autograd.function import once_differentiable

__all__ = ["FastGRU", "fast_gru", "gru_forward"]


class _GRUFunction(torch.autograd.Function):
    """One direction of a single GRU layer; batch-first in, batch-first out."""

    @staticmethod
    def forward(ctx, x, h0, weight_ih, weight_hh, bias_ih, bias_hh, reverse):
        batch, steps, _ = x.shape
        hidden = weight_hh.shape[1]
        h2 = 2 * hidden
        xt = x.transpose(0, 1)  # [T, B, I]
        if reverse:
            xt = xt.flip(0)
        xt = xt.reshape(steps * batch, -1)  # [T*B, I], a copy

        # gates[t] starts as [x W_ir + b_ir + b_hr, x W_iz + b_iz + b_hz, b_hn]; the step's
        # addmm_ adds h W_hh^T, leaving the pre-activations of r and z and W_hn h + b_hn,
        # and the sigmoid turns the first two in place into r and z.
        bias = bias_ih.clone()
        bias[:h2] += bias_hh[:h2]
        gates = torch.addmm(bias, xt, weight_ih.t()).view(steps, batch, 3 * hidden)  # [T, B, 3H]
        new = gates[..., h2:].clone()  # [T, B, H]: x W_in + b_in, then n in place
        gates[..., h2:] = bias_hh[h2:]
        states = x.new_empty(steps + 1, batch, hidden)  # [T+1, B, H]: h_0 .. h_T
        states[0] = h0

        weight_hh_t = weight_hh.t()
        h_list = states.unbind(0)
        g_list, n_list = gates.unbind(0), new.unbind(0)
        rz_list = gates[..., :h2].unbind(0)
        r_list, z_list = gates[..., :hidden].unbind(0), gates[..., hidden:h2].unbind(0)
        hn_list = gates[..., h2:].unbind(0)
        for t in range(steps):
            h = h_list[t]
            g_list[t].addmm_(h, weight_hh_t)
            rz_list[t].sigmoid_()
            n_list[t].addcmul_(r_list[t], hn_list[t]).tanh_()
            torch.lerp(n_list[t], h, z_list[t], out=h_list[t + 1])  # n + z * (h - n)

        ctx.set_materialize_grads(False)
        ctx.reverse = reverse
        ctx.save_for_backward(xt, states, gates, new, weight_ih, weight_hh)
        outputs = states[1:]
        if reverse:
            outputs = outputs.flip(0)
        return outputs.transpose(0, 1).contiguous(), states[steps].clone()  # [B, T, H], [B, H]

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_outputs, grad_last):
        xt, states, gates, new, weight_ih, weight_hh = ctx.saved_tensors
        steps, batch, h3 = gates.shape
        hidden = h3 // 3
        h2 = 2 * hidden
        if grad_outputs is None and grad_last is None:
            return (None,) * 7
        r, z, hn = gates[..., :hidden], gates[..., hidden:h2], gates[..., h2:]  # [T, B, H]

        # dL/d(pre-activation) = dL/dh_t * coef, for all four gate terms at once:
        # slot 0: r's pre-activation, 1: z's, 2: W_hn h + b_hn, 3: n's pre-activation.
        coef = gates.new_empty(steps, batch, 4, hidden)  # [T, B, 4, H]
        c_r, c_z, c_hn, c_n = coef.unbind(2)
        torch.mul(new, new, out=c_n).sub_(1).mul_(z - 1)  # (1 - z)(1 - n^2)
        torch.mul(c_n, r, out=c_hn)
        torch.mul(c_hn, hn, out=c_r).mul_(1 - r)  # (1 - z)(1 - n^2) * hn * r(1 - r)
        torch.sub(states[:-1], new, out=c_z).mul_(z).mul_(1 - z)  # (h - n) z(1 - z)

        if grad_outputs is not None:
            grad_outputs = grad_outputs.transpose(0, 1)  # [T, B, H], a view
            if ctx.reverse:
                grad_outputs = grad_outputs.flip(0)
        grads = coef.new_empty(steps, batch, 4, hidden)  # [T, B, 4, H], slots as in coef
        grad_gates_hh = grads[:, :, :3].view(steps, batch, h3)  # [T, B, 3H], a view
        coef_list, grad_list = coef.unbind(0), grads.unbind(0)
        gh_list, z_list = grad_gates_hh.unbind(0), z.unbind(0)
        out_list = grad_outputs.unbind(0) if grad_outputs is not None else None

        dh = grad_last
        if out_list is not None:
            dh = out_list[-1] if dh is None else dh + out_list[-1]
        for t in range(steps - 1, -1, -1):
            torch.mul(coef_list[t], dh.unsqueeze(1), out=grad_list[t])
            if t > 0 and out_list is not None:
                dh = torch.addcmul(out_list[t - 1], dh, z_list[t])
            else:
                dh = dh * z_list[t]
            dh.addmm_(gh_list[t], weight_hh)

        need = ctx.needs_input_grad
        flat = grad_gates_hh.view(steps * batch, h3)  # [T*B, 3H]
        sums = grads.sum((0, 1))  # [4, H]
        grad_weight_hh = flat.t().mm(states[:-1].reshape(-1, hidden)) if need[3] else None
        grad_bias_hh = sums[:3].reshape(h3) if need[5] else None
        grad_bias_ih = sums[[0, 1, 3]].reshape(h3) if need[4] else None
        grad_x = grad_weight_ih = None
        if need[0] or need[2]:
            grads[:, :, 2] = grads[:, :, 3]  # the input gates' gradient: n instead of W_hn h
            if need[2]:
                grad_weight_ih = flat.t().mm(xt)  # [3H, I]
            if need[0]:
                grad_x = flat.mm(weight_ih).view(steps, batch, -1)  # [T, B, I]
                if ctx.reverse:
                    grad_x = grad_x.flip(0)
                grad_x = grad_x.transpose(0, 1)  # [B, T, I]
        grad_h0 = dh if need[1] else None
        return grad_x, grad_h0, grad_weight_ih, grad_weight_hh, grad_bias_ih, grad_bias_hh, None


def gru_forward(
    x: torch.Tensor,
    h0: torch.Tensor | None,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
    *,
    reverse: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run one direction of a GRU layer over a batch-first sequence.

    Parameters
    ----------
    x
        Inputs ``[B, T, I]``.
    h0
        Initial state ``[B, H]``; ``None`` means zeros.
    weight_ih, weight_hh
        ``[3H, I]`` and ``[3H, H]``, gates in torch's ``(r, z, n)`` order.
    bias_ih, bias_hh
        ``[3H]`` each; ``None`` means no bias.
    reverse
        Run backwards in time, as the second direction of a bidirectional layer.
        Outputs stay in input order.

    Returns
    -------
    outputs
        ``[B, T, H]``, the state after every step.
    h_last
        ``[B, H]``, the state after the last step processed (the first step when
        ``reverse``).
    """
    if x.dim() != 3 or x.shape[1] < 1:
        raise ValueError(f"expected input [batch, time >= 1, features], got {tuple(x.shape)}")
    hidden = weight_hh.shape[1]
    if h0 is None:
        h0 = x.new_zeros(x.shape[0], hidden)
    if bias_ih is None:
        bias_ih = x.new_zeros(3 * hidden)
    if bias_hh is None:
        bias_hh = x.new_zeros(3 * hidden)
    return _GRUFunction.apply(x, h0, weight_ih, weight_hh, bias_ih, bias_hh, reverse)


def fast_gru(
    layer: nn.GRU, x: torch.Tensor, h0: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``layer(x, h0)`` for a one-layer, batch-first ``nn.GRU``, with the fast backward.

    Uni- and bidirectional layers both work; the parameters are the layer's own.

    Parameters
    ----------
    layer
        ``nn.GRU`` with ``num_layers=1`` and ``batch_first=True``.
    x
        ``[B, T, input_size]``.
    h0
        ``[D, B, hidden_size]`` (``D`` = 2 if bidirectional else 1), or ``None`` for zeros.

    Returns
    -------
    outputs
        ``[B, T, D * hidden_size]``.
    h_n
        ``[D, B, hidden_size]``.
    """
    if layer.num_layers != 1 or not layer.batch_first:
        raise ValueError("fast_gru needs a GRU layer with num_layers=1 and batch_first=True")
    outputs, finals = [], []
    for d in range(2 if layer.bidirectional else 1):
        suffix = "_l0_reverse" if d else "_l0"
        out, last = gru_forward(
            x,
            None if h0 is None else h0[d],
            getattr(layer, "weight_ih" + suffix),
            getattr(layer, "weight_hh" + suffix),
            getattr(layer, "bias_ih" + suffix, None),
            getattr(layer, "bias_hh" + suffix, None),
            reverse=bool(d),
        )
        outputs.append(out)
        finals.append(last)
    if len(outputs) == 1:
        return outputs[0], finals[0].unsqueeze(0)  # [B, T, H], [1, B, H]
    return torch.cat(outputs, dim=-1), torch.stack(finals)  # [B, T, 2H], [2, B, H]


class FastGRU(nn.GRU):
    """``nn.GRU`` whose forward takes the fast path when it can.

    Same parameters and ``state_dict`` as ``nn.GRU``. The fast path needs one layer,
    ``batch_first=True``, a batched CPU tensor input (not a ``PackedSequence``);
    anything else runs ``nn.GRU.forward``.
    """

    def forward(self, input, hx=None):
        if (
            isinstance(input, torch.Tensor)
            and input.device.type == "cpu"
            and input.dim() == 3
            and self.num_layers == 1
            and self.batch_first
        ):
            return fast_gru(self, input, hx)
        return super().forward(input, hx)
