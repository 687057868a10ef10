"""A GRU layer with a hand-written backward pass, for fast training on CPU.

On CPU, torch runs a float32 ``nn.LSTM`` through oneDNN's fused kernels, forward and
backward, but differentiates ``nn.GRU`` through a dozen small autograd nodes per step,
so a GRU trains 2-3x slower than an LSTM of the same size. Here the whole sequence is
one ``torch.autograd.Function``:

- forward: one matmul for every step's input projection (biases included), then
  per step one in-place ``addmm_`` for the recurrent projection and four
  elementwise ops, written into preallocated ``[B, T, ...]`` buffers;
- backward: a step's gate gradients are ``dL/dh_t`` times factors computed for all
  steps at once, so each step is one multiply, one ``addcmul`` and one ``addmm_``;
  the weight, bias and input gradients are then one or two matmuls each over all
  steps.

The gate equations and the parameter layout are torch's (``weight_ih`` is
``[3H, I]`` in ``(r, z, n)`` order):

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    h' = (1 - z) * n + z * h

Written for CPU (on CUDA, cuDNN's fused GRU is faster), float32 or float64. The
backward pass is not itself differentiable (no double backward).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.autograd.function import once_differentiable

__all__ = ["FastGRU", "fast_gru", "gru_forward"]


class _GRUFunction(torch.autograd.Function):
    """One direction of a single GRU layer, batch-first in and out.

    Every buffer is batch-major, ``[B, T, ...]`` like the input and the output, so that
    no full transpose is ever made: at these sizes a pass over memory costs as much as
    the arithmetic, and a step's ``[B, ...]`` slice is a strided view that BLAS and
    TensorIterator take as it is.

    The gate buffers hold four column blocks per step, in the order ``n, r, z, hn``
    (``hn`` = ``W_hn h + b_hn``): the input projection fills ``n, r, z`` and the
    recurrent one ``r, z, hn``, each a contiguous block, so that each is one matmul.
    """

    @staticmethod
    def forward(ctx, x, h0, weight_ih, weight_hh, bias_ih, bias_hh, reverse):
        batch, steps, n_in = x.shape
        hidden = weight_hh.shape[1]
        h2, h3 = 2 * hidden, 3 * hidden
        # [x, 1] @ [W_ih; b]^T, the biases riding in the matmul: n gets b_in, r and z get
        # both their biases; hn starts at b_hn. Each step's addmm_ adds h W_hh^T to r, z, hn.
        x_ext = x.new_ones(batch, steps, n_in + 1)  # [B, T, I+1]
        x_ext[..., :n_in] = x
        w_ext = torch.cat([_input_order(weight_ih), _input_order(bias_ih)[:, None]], 1)
        w_ext[hidden:, n_in] += bias_hh[:h2]  # [3H, I+1]
        gates = x.new_empty(batch, steps, 4 * hidden)  # [B, T, 4H]: n, r, z, hn
        torch.mm(x_ext.view(batch * steps, -1), w_ext.t(), out=gates.view(-1, 4 * hidden)[:, :h3])
        gates[..., h3:] = bias_hh[h2:]
        outputs = x.new_empty(batch, steps, hidden)  # [B, T, H]
        weight_hh_t = weight_hh.t().contiguous()  # [H, 3H]; BLAS is faster on it than on a view

        # Per-step views, made in bulk: one unbind is far cheaper than T indexing calls.
        out_list = outputs.unbind(1)  # T x [B, H]
        hh_list = gates[..., hidden:].unbind(1)  # T x [B, 3H]: r, z, hn
        rz_list = gates[..., hidden:h3].unbind(1)
        n_list, r_list = gates[..., :hidden].unbind(1), gates[..., hidden:h2].unbind(1)
        z_list, hn_list = gates[..., h2:h3].unbind(1), gates[..., h3:].unbind(1)
        h = h0
        for t in range(steps - 1, -1, -1) if reverse else range(steps):
            hh_list[t].addmm_(h, weight_hh_t)
            rz_list[t].sigmoid_()
            n_list[t].addcmul_(r_list[t], hn_list[t]).tanh_()
            h = torch.lerp(n_list[t], h, z_list[t], out=out_list[t])  # n + z * (h - n)

        ctx.set_materialize_grads(False)
        ctx.reverse = reverse
        ctx.save_for_backward(x_ext, h0, outputs, gates, weight_ih, weight_hh)
        return outputs, h.clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_outputs, grad_last):
        x_ext, h0, outputs, gates, weight_ih, weight_hh = ctx.saved_tensors
        batch, steps, h4 = gates.shape
        hidden = h4 // 4
        h2, h3 = 2 * hidden, 3 * hidden
        reverse = ctx.reverse
        need = ctx.needs_input_grad
        if grad_outputs is None and grad_last is None:
            return (None,) * 7
        n, r = gates[..., :hidden], gates[..., hidden:h2]  # [B, T, H] each
        z, hn = gates[..., h2:h3], gates[..., h3:]
        # The state each step started from; the ones column gives the bias gradient.
        h_prev_ext = outputs.new_ones(batch, steps, hidden + 1)  # [B, T, H+1]
        h_prev = h_prev_ext[..., :hidden]
        if reverse:
            h_prev[:, :-1], h_prev[:, -1] = outputs[:, 1:], h0
        else:
            h_prev[:, 1:], h_prev[:, 0] = outputs[:, :-1], h0

        # The gradient of the loss with respect to a gate pre-activation (or to hn) is
        # dL/dh_t times a factor that depends only on the forward values, so the factors
        # are computed here for all steps at once, and a step's gate gradients are one
        # multiply. All factors are negated (z - 1 and n - h are one op each; 1 - z and
        # h - n would take two); the signs are put back below at no cost.
        coef = gates.new_empty(batch, steps, 4, hidden)  # [B, T, 4, H]: n, r, z, hn
        c_n, c_r, c_z, c_hn = coef.unbind(2)
        aten = torch.ops.aten  # fused g * (1 - y^2) and g * y * (1 - y), with out=
        aten.tanh_backward.grad_input(torch.sub(z, 1, out=c_n), n, grad_input=c_n)
        torch.mul(c_n, r, out=c_hn)  # -(1 - z)(1 - n^2) r
        torch.mul(c_n, hn, out=c_r)
        torch.sub(n, h_prev, out=c_z)
        c_rz = coef[:, :, 1:3].view(batch, steps, h2)  # [B, T, 2H]: r and z in one op
        aten.sigmoid_backward.grad_input(c_rz, gates[..., hidden:h3], grad_input=c_rz)

        # dL/dh, in two ping-pong buffers shaped both [B, H] and [B, 1, H], so that the loop
        # makes no new tensors.
        dh_buffers = gates.new_empty(2, batch, 1, hidden)
        dh3, dh2 = dh_buffers.unbind(0), dh_buffers[:, :, 0].unbind(0)
        coef_list, z_list = coef.unbind(1), z.unbind(1)  # T x [B, 4, H], T x [B, H]
        grad_hh_gates = coef[:, :, 1:].view(batch, steps, h3)  # [B, T, 3H]: r, z, hn
        gh_list = grad_hh_gates.unbind(1)
        go_list = None if grad_outputs is None else grad_outputs.unbind(1)
        order = range(steps) if reverse else range(steps - 1, -1, -1)
        first = order[0]
        if grad_last is None:
            dh2[0].copy_(go_list[first])
        elif go_list is None:
            dh2[0].copy_(grad_last)
        else:
            torch.add(grad_last, go_list[first], out=dh2[0])
        cur = 0
        # dL/dh_{t-1} = its share from outputs[t-1] + dL/dh_t z_t + (gate gradients) W_hh
        for i, t in enumerate(order):
            coef_list[t].mul_(dh3[cur])
            nxt = 1 - cur
            if go_list is not None and i + 1 < steps:
                torch.addcmul(go_list[order[i + 1]], dh2[cur], z_list[t], out=dh2[nxt])
            else:
                torch.mul(dh2[cur], z_list[t], out=dh2[nxt])
            dh2[nxt].addmm_(gh_list[t], weight_hh, alpha=-1)  # alpha: the sign
            cur = nxt

        grad_x = grad_h0 = grad_weight_ih = grad_weight_hh = grad_bias_ih = grad_bias_hh = None
        flat_hh = grad_hh_gates.view(batch * steps, h3)  # [B*T, 3H]: r, z, hn
        flat_ih = coef[:, :, :3].view(batch * steps, h3)  # [B*T, 3H]: n, r, z
        if need[3] or need[5]:
            grad_hh = flat_hh.t().mm(h_prev_ext.view(batch * steps, -1)).neg_()  # [3H, H+1]
            grad_weight_hh, grad_bias_hh = grad_hh[:, :-1], grad_hh[:, -1]
        if need[2] or need[4]:
            # The ones column of x_ext makes the last column the input bias gradient.
            grad_ih = flat_ih.t().mm(x_ext.view(batch * steps, -1)).neg_()  # [3H, I+1]
            grad_ih = torch.cat([grad_ih[hidden:], grad_ih[:hidden]])  # n, r, z -> r, z, n
            grad_weight_ih = grad_ih[:, :-1] if need[2] else None
            grad_bias_ih = grad_ih[:, -1] if need[4] else None
        if need[0]:
            grad_x = flat_ih.mm(_input_order(weight_ih)).view(batch, steps, -1).neg_()
        if need[1]:
            grad_h0 = dh2[cur].clone()
        return grad_x, grad_h0, grad_weight_ih, grad_weight_hh, grad_bias_ih, grad_bias_hh, None


def _input_order(param: torch.Tensor) -> torch.Tensor:
    """Torch's gate order (r, z, n) -> (n, r, z) along the first dimension."""
    hidden = param.shape[0] // 3
    return torch.cat([param[2 * hidden :], param[: 2 * hidden]])


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
    hidden = weight_hh.shape[1]
    if x.dim() != 3 or x.shape[1] < 1 or x.shape[2] != weight_ih.shape[1]:
        raise ValueError(
            f"expected input [batch, time >= 1, {weight_ih.shape[1]}], got {tuple(x.shape)}"
        )
    if h0 is None:
        h0 = x.new_zeros(x.shape[0], hidden)
    elif h0.shape != (x.shape[0], hidden):
        raise ValueError(f"expected h0 [{x.shape[0]}, {hidden}], got {tuple(h0.shape)}")
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
    if not isinstance(layer, nn.GRU) or layer.num_layers != 1 or not layer.batch_first:
        raise ValueError("fast_gru needs an nn.GRU with num_layers=1 and batch_first=True")
    directions = 2 if layer.bidirectional else 1
    if h0 is not None and h0.shape != (directions, x.shape[0], layer.hidden_size):
        raise ValueError(
            f"expected h0 [{directions}, {x.shape[0]}, {layer.hidden_size}], got {tuple(h0.shape)}"
        )
    outputs, finals = [], []
    for d in range(directions):
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
