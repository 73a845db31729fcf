"""G networks of one shape as one network, and the optimizer that updates them all at once.

An MLP's layers become ``[G, out, in]`` tensors applied with batched matrix products, a conv net's
layers grouped convolutions over the members' concatenated channels (channels last; batch norm is
per channel, so each member keeps its own statistics). :class:`StackedOptimizer` applies
``torch.optim``'s Adam or SGD update to every member with its own learning rate and weight decay.
Used by :mod:`singledir.nets.groups`, which trains groups; :func:`stack` builds one from members.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .models import MLP, ConvNet
from .runs import TrainConfig


def _dropout(h: torch.Tensor, ps: Sequence[float], generators: Sequence[torch.Generator]) -> torch.Tensor:
    """Each member's dropout of ``h [G, B, U]`` with its own generator, drawn as ``F.dropout`` draws
    on the CPU (a Bernoulli mask scaled by ``1 / (1 - p)``)."""
    masks = []
    for g, p in enumerate(ps):
        if p > 0:
            noise = torch.empty_like(h[g]).bernoulli_(1 - p, generator=generators[g])
            masks.append(noise.div_(1 - p))
        else:
            masks.append(torch.ones_like(h[g]))
    return h * torch.stack(masks)


class _StackedLinear(torch.autograd.Function):
    """``x [G, B, in] @ weight[G, out, in]^T + bias [G, out]``, with the gradients computed in the
    same orientation as ``F.linear``'s (``grad_out^T @ x`` for the weight), so that a group of one
    matches a plain ``nn.Linear`` bit for bit."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        grad_x = torch.bmm(grad_out, weight) if ctx.needs_input_grad[0] else None
        # one product per member: a batched product of transposed operands splits its sums
        # differently for more than one member
        grad_w = weight.new_empty(weight.shape)
        for g in range(len(x)):
            torch.mm(grad_out[g].t(), x[g], out=grad_w[g])
        return grad_x, grad_w, grad_out.sum(1)


def _autocast_operands(*ts: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The operands in autocast's lower precision when autocast is on (as it casts ``F.linear``'s):
    casts outside :class:`_StackedLinear`, so that its backward sees one dtype and autograd casts
    the gradients back to each parameter's own."""
    device = ts[0].device.type
    if not torch.is_autocast_enabled(device):
        return ts
    dtype = torch.get_autocast_dtype(device)
    return tuple(t.to(dtype) for t in ts)


def stacked_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Each member's linear layer; a group of one calls ``F.linear`` itself."""
    if len(weight) == 1:
        return F.linear(x[0], weight[0], bias[0]).unsqueeze(0)
    if torch.is_grad_enabled():
        return _StackedLinear.apply(*_autocast_operands(x, weight, bias))
    return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))


class StackedMLP(nn.Module):
    """G MLPs of one shape: layer ``i`` is ``weight[i] [G, out, in]`` and ``bias[i] [G, out]``."""

    def __init__(self, members: Sequence[MLP]):
        super().__init__()
        self.G = len(members)
        layers = [[h[0] for h in m.hidden] + [m.out] for m in members]
        n = len(layers[0])
        self.weight = nn.ParameterList(nn.Parameter(torch.stack([l[i].weight.detach() for l in layers]).contiguous())
                                       for i in range(n))
        self.bias = nn.ParameterList(nn.Parameter(torch.stack([l[i].bias.detach() for l in layers]).contiguous())
                                     for i in range(n))
        self.dropouts = [m.config.dropout for m in members]

    def forward(self, x: torch.Tensor, generators: Sequence[torch.Generator] | None = None,
                acts: list | None = None) -> torch.Tensor:
        """``x [G, B, ...]`` (each member's batch) -> logits ``[G, B, K]``; each hidden layer's
        units ``[G, B, U]`` (after the ReLU) are appended to ``acts`` when it is given."""
        h = x.flatten(2)
        last = len(self.weight) - 1
        for i in range(last):
            h = torch.relu(stacked_linear(h, self.weight[i], self.bias[i]))
            if acts is not None:
                acts.append(h)
            if self.training and any(p > 0 for p in self.dropouts):
                h = _dropout(h, self.dropouts, generators)
        return stacked_linear(h, self.weight[last], self.bias[last])

    def member_state(self, g: int) -> dict[str, torch.Tensor]:
        """Member ``g``'s state dict, as :class:`singledir.nets.models.MLP` names it."""
        n = len(self.weight)
        names = [f"hidden.{i}.0" for i in range(n - 1)] + ["out"]
        out = {}
        for name, w, b in zip(names, self.weight, self.bias):
            out[f"{name}.weight"] = w[g].detach().cpu().clone()
            out[f"{name}.bias"] = b[g].detach().cpu().clone()
        return out

    @staticmethod
    def batch(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Each member's batch ``[G, B, ...]`` from the shared inputs ``x [N, ...]`` and indices ``idx [G, B]``
        (``x[idx]``, copied row by row: advanced indexing of a 4-d tensor took 5x longer)."""
        return torch.index_select(x.reshape(len(x), -1), 0, idx.reshape(-1)).view(*idx.shape, *x.shape[1:])

    def shared(self, x: torch.Tensor) -> torch.Tensor:
        """The same inputs ``x [B, ...]`` for every member: ``[G, B, ...]``."""
        return x.unsqueeze(0).expand(self.G, *x.shape)


class StackedConvNet(nn.Module):
    """G conv nets of one shape as one network with G groups of channels (channels last)."""

    def __init__(self, members: Sequence[ConvNet]):
        super().__init__()
        G = self.G = len(members)
        cfg = members[0].config
        self.batch_norm = cfg.batch_norm
        blocks = []
        for i, (c, s) in enumerate(zip(cfg.layer_channels, cfg.strides)):
            src = [m.conv[i] for m in members]
            conv = nn.Conv2d(G * src[0][0].in_channels, G * c, 3, stride=s, padding=1, groups=G,
                             bias=not cfg.batch_norm)
            conv.weight = nn.Parameter(torch.cat([b[0].weight.detach() for b in src]))
            layers: list[nn.Module] = [conv]
            if cfg.batch_norm:
                bn = nn.BatchNorm2d(G * c)
                bn.weight = nn.Parameter(torch.cat([b[1].weight.detach() for b in src]))
                bn.bias = nn.Parameter(torch.cat([b[1].bias.detach() for b in src]))
                bn.running_mean.copy_(torch.cat([b[1].running_mean for b in src]))
                bn.running_var.copy_(torch.cat([b[1].running_var for b in src]))
                bn.num_batches_tracked.copy_(src[0][1].num_batches_tracked)
                layers.append(bn)
            else:
                conv.bias = nn.Parameter(torch.cat([b[0].bias.detach() for b in src]))
            layers.append(nn.ReLU())
            blocks.append(nn.Sequential(*layers))
        self.conv = nn.ModuleList(blocks)
        self.channels = cfg.layer_channels
        self.out_weight = nn.Parameter(torch.stack([m.out.weight.detach() for m in members]).contiguous())
        self.out_bias = nn.Parameter(torch.stack([m.out.bias.detach() for m in members]).contiguous())
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor, generators=None, acts: list | None = None) -> torch.Tensor:
        """``x [B, G * C, H, W]`` (member g's batch in channels ``g*C:(g+1)*C``) -> ``[G, B, K]``;
        each conv layer's output ``[B, G * C, H, W]`` is appended to ``acts`` when it is given."""
        for block in self.conv:
            x = block(x)
            if acts is not None:
                acts.append(x)
        pooled = F.adaptive_avg_pool2d(x, 1).flatten(1)  # [B, G * C]
        h = pooled.view(len(pooled), self.G, -1).transpose(0, 1)  # [G, B, C]
        return stacked_linear(h, self.out_weight, self.out_bias)

    def member_state(self, g: int) -> dict[str, torch.Tensor]:
        """Member ``g``'s state dict, as :class:`singledir.nets.models.ConvNet` names it."""
        out = {}
        for i, (block, c) in enumerate(zip(self.conv, self.channels)):
            sl = slice(g * c, (g + 1) * c)
            out[f"conv.{i}.0.weight"] = block[0].weight[sl].detach().cpu().clone()
            if self.batch_norm:
                bn = block[1]
                for name in ("weight", "bias", "running_mean", "running_var"):
                    out[f"conv.{i}.1.{name}"] = getattr(bn, name)[sl].detach().cpu().clone()
                out[f"conv.{i}.1.num_batches_tracked"] = bn.num_batches_tracked.detach().cpu().clone()
            else:
                out[f"conv.{i}.0.bias"] = block[0].bias[sl].detach().cpu().clone()
        out["out.weight"] = self.out_weight[g].detach().cpu().clone()
        out["out.bias"] = self.out_bias[g].detach().cpu().clone()
        return out

    @staticmethod
    def batch(x_hwc: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Each member's batch as one channels-last tensor ``[B, G*C, H, W]`` from the shared
        inputs stored channels last (``x_hwc [N, H, W, C]``) and indices ``idx [G, B]``."""
        G, B = idx.shape
        xb = torch.index_select(x_hwc.reshape(len(x_hwc), -1), 0, idx.reshape(-1)).view(G, B, *x_hwc.shape[1:])
        _, _, H, W, C = xb.shape
        return xb.permute(1, 2, 3, 0, 4).reshape(B, H, W, G * C).permute(0, 3, 1, 2)

    def shared(self, x: torch.Tensor) -> torch.Tensor:
        """The same inputs ``x [B, C, H, W]`` for every member: ``[B, G*C, H, W]``, channels last."""
        B, C, H, W = x.shape
        xh = x.permute(0, 2, 3, 1).unsqueeze(3).expand(B, H, W, self.G, C)
        return xh.reshape(B, H, W, self.G * C).permute(0, 3, 1, 2)


def stack(members: Sequence[nn.Module]) -> StackedMLP | StackedConvNet:
    if isinstance(members[0], MLP):
        return StackedMLP(members)
    if isinstance(members[0], ConvNet):
        return StackedConvNet(members)
    raise TypeError(f"cannot stack {type(members[0]).__name__}; groupable: MLP, ConvNet")


def _rows(t: torch.Tensor, G: int) -> torch.Tensor:
    """``t`` with its member dimension first, as ``[G, -1]`` (a view where the layout allows;
    conv weights are kept channels last, so their rows are taken in that order)."""
    if t.dim() == 4:
        t = t.permute(0, 2, 3, 1)
    return t.reshape(G, -1)


class StackedOptimizer:
    """Adam (``torch.optim.Adam``'s single-tensor update) or SGD with momentum
    (``torch.optim.SGD``'s), applied to stacked parameters with each member's learning rate and
    weight decay. Every member's update is the same sequence of tensor operations ``torch.optim``
    applies to a network alone; where the members' values differ, the steps that take a scalar are
    applied member by member (a fused multiply-add rounds differently from a product and a sum)."""

    def __init__(self, params: Sequence[nn.Parameter], G: int, cfgs: Sequence[TrainConfig]):
        self.params = list(params)
        self.G = G
        self.kind = cfgs[0].optimizer
        self.momentum = cfgs[0].momentum
        self.betas, self.eps = (0.9, 0.999), 1e-8
        self.lrs = [float(c.lr) for c in cfgs]
        self.wds = [float(c.weight_decay) for c in cfgs]
        self.steps = 0
        self.state: list[list[torch.Tensor]] = [[] for _ in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def _each(self, values: list[float], op: Callable[[slice | int, float], None]) -> None:
        """``op(rows, value)`` on all rows at once when every member has the same value, else per member."""
        if len(set(values)) == 1:
            op(slice(None), values[0])
        else:
            for g, v in enumerate(values):
                op(g, v)

    @torch.no_grad()
    def step(self) -> None:
        self.steps += 1
        b1, b2 = self.betas
        for p, st in zip(self.params, self.state):
            if p.grad is None:
                continue
            param = _rows(p.data, self.G)
            if param.data_ptr() != p.data.data_ptr() or not param.is_contiguous():
                raise RuntimeError("a stacked parameter is not laid out member-major")  # never update a copy
            grad = _rows(p.grad, self.G)
            if any(self.wds):
                grad = grad.clone()
                self._each(self.wds, lambda r, wd: grad[r].add_(param[r], alpha=wd) if wd else None)
            if self.kind == "adam":
                if not st:
                    st += [torch.zeros_like(param), torch.zeros_like(param)]
                exp_avg, exp_avg_sq = st
                exp_avg.lerp_(grad, 1 - b1)
                exp_avg_sq.mul_(b2).addcmul_(grad, grad, value=1 - b2)
                bias_correction1 = 1 - b1 ** self.steps
                bias_correction2_sqrt = (1 - b2 ** self.steps) ** 0.5
                denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
                self._each(self.lrs, lambda r, lr: param[r].addcdiv_(exp_avg[r], denom[r],
                                                                      value=-(lr / bias_correction1)))
            else:
                if self.momentum != 0:
                    if not st:
                        st.append(torch.clone(grad).detach())
                    else:
                        st[0].mul_(self.momentum).add_(grad, alpha=1)
                    grad = st[0]
                self._each(self.lrs, lambda r, lr: param[r].add_(grad[r], alpha=-lr))

    def state_dict(self) -> dict:
        return {"steps": self.steps, "state": [[t.detach().cpu().clone() for t in st] for st in self.state]}

    def load_state_dict(self, d: dict, device: torch.device) -> None:
        self.steps = int(d["steps"])
        self.state = [[t.to(device) for t in st] for st in d["state"]]
