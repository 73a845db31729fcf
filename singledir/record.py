"""Capture named layers' activations with forward hooks that never outlive their use.

>>> with record(model, ["hidden.0", "hidden.1"]) as rec:
...     model(x)
>>> rec["hidden.0"].shape            # detached copies, concatenated over forward calls
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import torch
from torch import nn

from .data import batches
from .models import get_layer


class Recording:
    """Activations captured per layer; ``rec[name]`` concatenates every forward call's batch."""

    def __init__(self, names: Sequence[str]):
        self._chunks: dict[str, list[torch.Tensor]] = {n: [] for n in names}

    def _store(self, name: str, module: nn.Module, inputs, output) -> None:
        self._chunks[name].append(output.detach().clone())

    def __getitem__(self, name: str) -> torch.Tensor:
        chunks = self._chunks[name]
        if not chunks:
            raise KeyError(f"layer {name!r} was recorded but the model has not run")
        return torch.cat(chunks) if len(chunks) > 1 else chunks[0]

    def keys(self):
        return self._chunks.keys()


@contextmanager
def _hooked(model: nn.Module, layers: Sequence[str], keep: Callable[[str, torch.Tensor], None]) -> Iterator[None]:
    """Call ``keep(name, output)`` on every forward call of ``layers``; the hooks are removed when
    the block ends, also on error. Unknown layer names fail before any hook is registered."""
    modules = {name: get_layer(model, name) for name in layers}
    handles = []
    try:
        for name, m in modules.items():
            handles.append(m.register_forward_hook(lambda mod, i, o, _n=name: keep(_n, o)))
        yield
    finally:
        for h in handles:
            h.remove()


@contextmanager
def record(model: nn.Module, layers: Sequence[str]) -> Iterator[Recording]:
    """Register forward hooks on ``layers`` and remove them when the block ends, also on error.

    Args:
        model: any torch module; layers are addressed by ``named_modules`` names.
        layers: the layers whose outputs to keep.

    Yields:
        a :class:`Recording`; ``rec[name]`` is ``[N, ...]`` over all forward calls in the block.
    """
    rec = Recording(layers)
    with _hooked(model, layers, lambda name, out: rec._store(name, None, None, out)):
        yield rec


@contextmanager
def latest(model: nn.Module, layers: Sequence[str]) -> Iterator[dict[str, torch.Tensor]]:
    """Like :func:`record`, but streaming: ``store[name]`` is only the last forward call's output
    (detached, not copied); take it with ``store.pop(name)`` before the next call."""
    store: dict[str, torch.Tensor] = {}
    with _hooked(model, layers, lambda name, out: store.__setitem__(name, out.detach())):
        yield store


@torch.no_grad()
def activations(model: nn.Module, x: torch.Tensor, layers: Sequence[str], batch_size: int = 1024) -> dict[str, torch.Tensor]:
    """Activations of ``layers`` for inputs ``x [N, ...]`` in eval mode: ``{name: [N, ...]}``.

    The model's train/eval mode is restored afterwards.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with record(model, layers) as rec:
            for idx in batches(len(x), batch_size):
                model(x[idx].to(device))
        return {n: rec[n].cpu() for n in layers}
    finally:
        model.train(was_training)
