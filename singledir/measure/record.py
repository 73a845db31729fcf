"""Capture named layers' activations, or replace them, with forward hooks that never outlive their use.

>>> with capture(model, ["hidden.0", "hidden.1"]) as rec:
...     model(x)
>>> rec["hidden.0"].shape            # detached copies, concatenated over forward calls

:func:`hooked` is the one hook context of the package: :func:`capture` keeps every output,
:func:`latest` only the last one, and the perturbation engine passes setters that replace a
layer's output (ablation, noise).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Mapping, Sequence

import torch
from torch import nn

from ..data.dataset import batches
from ..nets.models import evaluating, get_layer


@contextmanager
def hooked(model: nn.Module, layers: Sequence[str],
           setters: Mapping[str, Callable[[torch.Tensor], torch.Tensor]] | None = None,
           keep: Callable[[str, torch.Tensor], None] | None = None) -> Iterator[dict[str, torch.Tensor]]:
    """Forward hooks on ``layers`` for the block, removed when it ends (also on error); unknown
    layer names fail before any hook is registered.

    Yields a dict holding each layer's latest output (detached, not copied: take it before the next
    call). ``setters[name](output)``, where given, replaces the layer's output; ``keep(name,
    output)`` is called on every output.
    """
    modules = {name: get_layer(model, name) for name in layers}
    setters = dict(setters or {})
    store: dict[str, torch.Tensor] = {}

    def hook(name, out):
        if name in setters:
            out = setters[name](out)
        store[name] = out.detach()
        if keep is not None:
            keep(name, out)
        return out if name in setters else None

    handles = []
    try:
        for name, m in modules.items():
            handles.append(m.register_forward_hook(lambda mod, i, o, _n=name: hook(_n, o)))
        yield store
    finally:
        for h in handles:
            h.remove()


class Recording:
    """Activations captured per layer; ``rec[name]`` concatenates every forward call's batch."""

    def __init__(self, names: Sequence[str]):
        self._chunks: dict[str, list[torch.Tensor]] = {n: [] for n in names}

    def _store(self, name: str, output: torch.Tensor) -> None:
        self._chunks[name].append(output.detach().clone())

    def __getitem__(self, name: str) -> torch.Tensor:
        chunks = self._chunks[name]
        if not chunks:
            raise KeyError(f"layer {name!r} was recorded but the model has not run")
        return torch.cat(chunks) if len(chunks) > 1 else chunks[0]

    def keys(self):
        return self._chunks.keys()


@contextmanager
def capture(model: nn.Module, layers: Sequence[str]) -> Iterator[Recording]:
    """Keep a detached copy of every output of ``layers`` while the block runs.

    Args:
        model: any torch module; layers are addressed by ``named_modules`` names.
        layers: the layers whose outputs to keep.

    Yields:
        a :class:`Recording`; ``rec[name]`` is ``[N, ...]`` over all forward calls in the block.
    """
    rec = Recording(layers)
    with hooked(model, layers, keep=rec._store):
        yield rec


@contextmanager
def latest(model: nn.Module, layers: Sequence[str]) -> Iterator[dict[str, torch.Tensor]]:
    """Like :func:`capture`, but streaming: ``store[name]`` is only the last forward call's output
    (detached, not copied); take it with ``store.pop(name)`` before the next call."""
    with hooked(model, layers) as store:
        yield store


def activations(model: nn.Module, x: torch.Tensor, layers: Sequence[str], batch_size: int = 1024) -> dict[str, torch.Tensor]:
    """Activations of ``layers`` for inputs ``x [N, ...]`` in eval mode: ``{name: [N, ...]}``.

    The model's train/eval mode is restored afterwards.
    """
    device = next(model.parameters()).device
    with evaluating(model), capture(model, layers) as rec:
        for idx in batches(len(x), batch_size):
            model(x[idx].to(device))
    return {n: rec[n].cpu() for n in layers}
