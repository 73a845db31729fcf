"""One network trained alone with ``torch.optim``: the plain PyTorch loop that grouped training
(:mod:`singledir.nets.groups`) reproduces bit for bit, and the path for networks that cannot be grouped
(a ResNet)."""
from __future__ import annotations

import sys

import torch
import torch.nn.functional as F
from torch import nn

from ..data.dataset import Dataset, batches
from . import regularize as _reg
from .models import MLPConfig, build_model
from .runs import (RunConfig, TrainConfig, autocast, evaluate, inner_checkpoints, is_eval_epoch, nan_row,
                   state_of, torch_threads, training_threads)


def _optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def _history_row(epoch, model, ds, device) -> dict:
    tr_loss, tr_acc = evaluate(model, ds.x_train, ds.y_train, device=device)
    te_loss, te_acc = evaluate(model, ds.x_test, ds.y_test, device=device)
    return {"epoch": epoch, "train_loss": tr_loss, "train_acc": tr_acc, "test_loss": te_loss, "test_acc": te_acc}


def fit(config: RunConfig, ds: Dataset, device: torch.device,
         progress: bool | None) -> tuple[nn.Module, list[dict], dict, bool]:
    """One network trained alone with ``torch.optim``: the reference that grouped training
    (:mod:`singledir.nets.groups`) reproduces, and the path for networks that cannot be grouped.
    On the CPU it trains on :func:`singledir.nets.runs.training_threads` threads, as a group does."""
    if device.type != "cpu":
        return _fit(config, ds, device, progress)
    with torch_threads(training_threads(config)):
        return _fit(config, ds, device, progress)


def _fit(config: RunConfig, ds: Dataset, device: torch.device,
         progress: bool | None) -> tuple[nn.Module, list[dict], dict, bool]:
    torch.manual_seed(config.seed)
    model = build_model(config.model, ds.input_shape, ds.n_classes).to(device)
    if not isinstance(config.model, MLPConfig):
        model = model.to(memory_format=torch.channels_last)
    opt = _optimizer(model, config.train)
    g = torch.Generator().manual_seed(config.seed)
    cfg = config.train
    history: list[dict] = []
    checkpoints = {0: state_of(model)} if 0 in cfg.checkpoints else {}
    x_train, y_train = ds.x_train.to(device), ds.y_train.to(device)
    inner = inner_checkpoints(cfg, len(y_train))
    diverged = False
    from tqdm import tqdm

    if cfg.epochs == 0 or 0 in cfg.checkpoints:  # an untrained or loaded network: its history is its evaluation
        history.append(_history_row(0, model, ds, device))
    bar = tqdm(range(1, cfg.epochs + 1), desc=f"train seed={config.seed} p={config.corruption}",
               disable=(not sys.stderr.isatty()) if progress is None else not progress, leave=False)
    for epoch in bar:
        model.train()
        for step, idx in enumerate(batches(len(y_train), cfg.batch_size, g), 1):
            idx = idx.to(device)
            with autocast(cfg, device):
                if cfg.selectivity_alpha:
                    out, acts = _reg.forward_with_units(model, x_train[idx])
                else:
                    out = model(x_train[idx])
            loss = F.cross_entropy(out.float(), y_train[idx])
            if cfg.selectivity_alpha:
                loss = loss - cfg.selectivity_alpha * _reg.selectivity_regularizer(acts, y_train[idx], ds.n_classes)
            if not torch.isfinite(loss):
                diverged = True
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            c = inner.get((epoch, step))
            if c is not None:
                history.append(_history_row(c, model, ds, device))
                checkpoints[c] = state_of(model)
        if diverged:
            history.append(nan_row(epoch))
            break
        if is_eval_epoch(cfg, epoch):
            history.append(_history_row(epoch, model, ds, device))
            bar.set_postfix(train_acc=f"{history[-1]['train_acc']:.3f}", test_acc=f"{history[-1]['test_acc']:.3f}")
        if epoch in cfg.checkpoints:
            checkpoints[epoch] = state_of(model)
    return model.eval(), history, checkpoints, diverged
