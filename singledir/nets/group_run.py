"""One group of networks in training (:mod:`singledir.nets.groups` decides which networks train
together, on which process, and caches them): the members built each from its own seed as a solo
run builds it and stacked, the epoch loop with one optimizer step for all, each member's own data
order, dropout masks, evaluations, checkpoints and history, a diverging member frozen, and the
group's whole state as a snapshot to resume from.
"""
from __future__ import annotations

import sys
import time
from typing import Callable

import torch
import torch.nn.functional as F

from ..data.dataset import batches
from . import regularize as _reg
from .models import MLPConfig, build_model
from .runs import TrainConfig, autocast, epoch_of, inner_checkpoints, is_eval_epoch, nan_row
from .stacked import StackedConvNet, StackedOptimizer, stack


def evaluate_members(net, x: torch.Tensor, ys: torch.Tensor, members: list[int], cfg: TrainConfig,
              device: torch.device, batch_size: int = 1024) -> dict[int, tuple[float, float]]:
    """``{member: (mean loss, accuracy)}`` on ``x [N, ...]`` with each member's labels ``ys [G, N]``,
    in eval mode and full precision, batched as :func:`singledir.nets.runs.evaluate` does."""
    was = net.training
    net.eval()
    loss = {g: 0.0 for g in members}
    correct = {g: 0 for g in members}
    try:
        with torch.no_grad():
            for idx in batches(ys.shape[1], batch_size):
                out = net(net.shared(x[idx].to(device)))  # in full precision, as train.evaluate
                for g in members:
                    yy = ys[g, idx].to(device)
                    loss[g] += F.cross_entropy(out[g].float(), yy, reduction="sum").item()
                    correct[g] += (out[g].argmax(1) == yy).sum().item()
    finally:
        net.train(was)
    n = max(ys.shape[1], 1)
    return {g: (loss[g] / n, correct[g] / n) for g in members}


class GroupRun:
    """A group in training: its members stacked (:func:`singledir.nets.stacked.stack`), their
    optimizer, data orders, dropout generators, histories and checkpoints, which members diverged
    (:meth:`snapshot` holds all of it, :meth:`restore` takes it back), and the epoch loop
    (:meth:`run`)."""

    def __init__(self, configs, datasets, device):
        self.configs, self.device = list(configs), device
        self.G = len(configs)
        self.cfg = configs[0].train
        ds0 = datasets[0]
        members, self.drop_gens = [], []
        for c, ds in zip(configs, datasets):
            torch.manual_seed(c.seed)  # each member built exactly as a solo run builds it
            m = build_model(c.model, ds.input_shape, ds.n_classes)
            if not isinstance(c.model, MLPConfig):
                m = m.to(memory_format=torch.channels_last)
            members.append(m)
            g = torch.Generator(device=device)
            if device.type == "cpu":  # dropout continues the global stream, as in a solo run
                g.set_state(torch.get_rng_state())
            else:
                g.manual_seed(c.seed)
            self.drop_gens.append(g)
        self.net = stack(members).to(device)
        self.order_gens = [torch.Generator().manual_seed(c.seed) for c in configs]
        self.opt = StackedOptimizer(list(self.net.parameters()), self.G, [c.train for c in configs])
        self.epoch = 0
        self.live = [True] * self.G
        self.frozen: dict[int, dict] = {}  # diverged members: their state at divergence
        self.history: list[list[dict]] = [[] for _ in configs]
        self.checkpoints: list[dict] = [{} for _ in configs]
        self.seconds = 0.0
        conv = isinstance(self.net, StackedConvNet)
        self.x_train = (ds0.x_train.permute(0, 2, 3, 1).contiguous() if conv else ds0.x_train).to(device)
        self.y_train = torch.stack([ds.y_train for ds in datasets]).to(device)  # [G, N]: each member's labels
        self.y_test = ds0.y_test.unsqueeze(0).expand(self.G, -1)
        self.x_train_nchw, self.x_test = ds0.x_train, ds0.x_test

    def state(self, g: int) -> dict[str, torch.Tensor]:
        return self.frozen.get(g) or self.net.member_state(g)

    def evaluate(self, epoch) -> None:
        members = [g for g in range(self.G) if self.live[g]]
        if not members:
            return
        tr = evaluate_members(self.net, self.x_train_nchw, self.y_train, members, self.cfg, self.device)
        te = evaluate_members(self.net, self.x_test, self.y_test, members, self.cfg, self.device)
        for g in members:
            self.history[g].append({"epoch": epoch, "train_loss": tr[g][0], "train_acc": tr[g][1],
                                    "test_loss": te[g][0], "test_acc": te[g][1]})

    def checkpoint(self, epoch) -> None:
        for g in range(self.G):
            if self.live[g]:
                self.checkpoints[g][epoch] = self.net.member_state(g)

    def snapshot(self) -> dict:
        return {"net": {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()},
                "opt": self.opt.state_dict(), "epoch": self.epoch, "live": list(self.live),
                "frozen": {str(g): s for g, s in self.frozen.items()},
                "order_gens": [g.get_state() for g in self.order_gens],
                "drop_gens": [g.get_state().cpu() for g in self.drop_gens],
                "history": self.history, "checkpoints": [{str(k): v for k, v in c.items()} for c in self.checkpoints],
                "seconds": self.seconds}

    def restore(self, snap: dict) -> None:
        self.net.load_state_dict(snap["net"])
        self.opt.load_state_dict(snap["opt"], self.device)
        self.epoch = int(snap["epoch"])
        self.live = list(snap["live"])
        self.frozen = {int(g): s for g, s in snap["frozen"].items()}
        for g, s in zip(self.order_gens, snap["order_gens"]):
            g.set_state(s)
        for g, s in zip(self.drop_gens, snap["drop_gens"]):
            g.set_state(s.to(g.device) if g.device.type != "cpu" else s)
        self.history = snap["history"]
        self.checkpoints = [{epoch_of(k): v for k, v in c.items()} for c in snap["checkpoints"]]
        self.seconds = float(snap["seconds"])

    def run(self, progress: bool | None, snapshot: Callable[["GroupRun"], None] | None,
            on_epoch: Callable[[int], None] | None) -> None:
        from tqdm import tqdm

        cfg, G = self.cfg, self.G
        n = self.y_train.shape[1]
        inner = inner_checkpoints(cfg, n)
        if self.epoch == 0:
            if 0 in cfg.checkpoints:
                self.checkpoint(0)
            if cfg.epochs == 0 or 0 in cfg.checkpoints:
                self.evaluate(0)
        bar = tqdm(range(self.epoch + 1, cfg.epochs + 1), desc=f"train group of {G}",
                   disable=(not sys.stderr.isatty()) if progress is None else not progress, leave=False)
        for epoch in bar:
            t0 = time.perf_counter()
            self.train_epoch(epoch, n, inner)
            self.epoch = epoch
            if not any(self.live):
                break
            if is_eval_epoch(cfg, epoch):
                self.evaluate(epoch)
                accs = [self.history[g][-1]["train_acc"] for g in range(G) if self.live[g]]
                bar.set_postfix(min_train_acc=f"{min(accs):.3f}")
            if epoch in cfg.checkpoints:
                self.checkpoint(epoch)
            self.seconds += time.perf_counter() - t0
            if snapshot is not None:
                snapshot(self)
            if on_epoch is not None:
                on_epoch(epoch)

    def train_epoch(self, epoch: int, n: int, inner: dict) -> None:
        """One epoch's optimizer steps over ``n`` training images, each member in its own order; a
        member whose loss is not finite is frozen as it was before that step, and the epoch ends when
        none is left; the checkpoints inside the epoch (``inner``) are evaluated and kept."""
        cfg, G, dev = self.cfg, self.G, self.device
        self.net.train()
        order = torch.stack([torch.randperm(n, generator=g) for g in self.order_gens]).to(dev)
        for step, s0 in enumerate(range(0, n, cfg.batch_size), 1):
            idx = order[:, s0:s0 + cfg.batch_size]
            xb = self.net.batch(self.x_train, idx)
            yb = self.y_train.gather(1, idx)
            acts: list | None = [] if cfg.selectivity_alpha else None
            with autocast(cfg, dev):
                out = self.net(xb, self.drop_gens, acts=acts)
            B = yb.shape[1]
            losses = F.cross_entropy(out.float().reshape(G * B, -1), yb.reshape(-1),
                                     reduction="none").view(G, B).mean(1)
            losses = _reg.regularized(losses, cfg.selectivity_alpha, self.net, acts, yb, out.shape[-1])
            finite = torch.isfinite(losses).tolist()
            for g in range(G):
                if self.live[g] and not finite[g]:  # diverged: keep the state before this step
                    self.frozen[g] = self.net.member_state(g)
                    self.history[g].append(nan_row(epoch))
                    self.live[g] = False
            active = [g for g in range(G) if self.live[g]]
            if not active:
                return
            loss = losses[active].sum() if len(active) < G else losses.sum()
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            c = inner.get((epoch, step))
            if c is not None:
                self.evaluate(c)
                self.checkpoint(c)
