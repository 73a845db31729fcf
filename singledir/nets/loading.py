"""A network of one's own: built from a torchvision name, a module path or a file, with its weights
loaded strictly, and every problem named with its fix (chapter 7)."""
from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn


def read_state_dict(weights: str | Path) -> dict[str, torch.Tensor]:
    """The state dict in a file written by ``torch.save(model.state_dict(), path)`` (or a checkpoint
    dict holding it under ``state_dict`` or ``model``), read with ``weights_only=True``."""
    path = Path(str(weights)).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"weights file {str(weights)!r} does not exist; save one with "
                                f"torch.save(model.state_dict(), path), or give weights=None for random weights")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", str(e))  # torch colours part of its message for terminals
        found = re.search(r"Unsupported global: GLOBAL (\S+)", text)
        if found:
            raise ValueError(f"cannot read weights file {str(weights)!r} as a state dict ({type(e).__name__}: it "
                             f"holds a pickled {found.group(1)} object, not only tensors); save "
                             f"model.state_dict(), not the model object") from None
        detail = (text.strip().splitlines() or [""])[0].strip()
        raise ValueError(f"cannot read weights file {str(weights)!r} ({path.stat().st_size} bytes): it is truncated "
                         f"or damaged, or not a file written by torch.save ({type(e).__name__}: {detail}); "
                         f"copy or save it again") from None
    if isinstance(state, dict):
        for key in ("state_dict", "model"):
            if isinstance(state.get(key), dict):
                return state[key]
    return state


def load_state_dict(net: nn.Module, state: dict, weights: str | Path, spec: str) -> None:
    """Load ``state`` into ``net`` strictly; keys or shapes that differ raise a ValueError naming both."""
    try:
        result = net.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shapes that differ
        raise ValueError(f"weights file {str(weights)!r} does not fit {spec!r}: {str(e).strip()[:600]}") from None
    if result.missing_keys or result.unexpected_keys:
        unexpected = result.unexpected_keys
        prefixed = unexpected and all(k.startswith("module.") for k in unexpected)
        hint = ("; every key of the file has the prefix 'module.' that torch.nn.DataParallel or DistributedDataParallel "
                "adds: save model.module.state_dict(), or remove the prefix with "
                "{k.removeprefix('module.'): v for k, v in state.items()}"
                if prefixed and {k.removeprefix("module.") for k in unexpected} >= set(result.missing_keys) else "")
        raise ValueError(f"weights file {str(weights)!r} does not fit {spec!r}: missing "
                         f"{list(result.missing_keys)[:5]}, unexpected {list(result.unexpected_keys)[:5]}{hint}")


def load_network(spec: str, weights: str | Path | None = None, **kwargs) -> nn.Module:
    """A network named by ``spec``, with the state dict in ``weights`` loaded (strictly).

    ``spec`` is a torchvision architecture name (``"resnet18"``, ``"vgg11"``; see
    ``torchvision.models.list_models()``), or ``"module.path:name"`` / ``"path/to/file.py:name"``
    where ``name`` is an ``nn.Module`` subclass, a function returning one, or a module instance.
    ``kwargs`` go to the constructor (e.g. ``num_classes=10``). ``weights`` is a file written by
    ``torch.save(model.state_dict(), path)`` (a checkpoint dict holding it under ``state_dict`` or
    ``model`` also works); it is read with ``weights_only=True``. Without weights the network
    keeps its random initialization.

    >>> net = load_network("examples/lenet.py:LeNet", "lenet.pt")          # doctest: +SKIP
    >>> net = load_network("resnet18", "resnet18-f37072fd.pth")            # doctest: +SKIP
    """
    import importlib
    import importlib.util

    if not isinstance(spec, str) or not spec:
        raise TypeError(f"model spec must be a torchvision name or 'module:name', got {spec!r}")
    if ":" in spec:
        where, _, attr = spec.rpartition(":")
        if where.endswith(".py") or "/" in where:
            path = Path(where).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"model file {where!r} (from {spec!r}) does not exist")
            mod_spec = importlib.util.spec_from_file_location(f"_singledir_user_{path.stem}", path)
            module = importlib.util.module_from_spec(mod_spec)
            mod_spec.loader.exec_module(module)
        else:
            try:
                module = importlib.import_module(where)
            except ModuleNotFoundError as e:
                raise ModuleNotFoundError(f"cannot import {where!r} (from model spec {spec!r}): {e}; give an "
                                          f"importable module or a file path such as 'path/to/net.py:{attr}'") from None
        if not hasattr(module, attr):
            names = [n for n, v in vars(module).items() if isinstance(v, type) and issubclass(v, nn.Module)]
            raise AttributeError(f"{where!r} has no {attr!r}; nn.Module classes in it: {', '.join(names) or 'none'}")
        obj = getattr(module, attr)
        net = obj if isinstance(obj, nn.Module) else _construct(spec, lambda: obj(**kwargs), kwargs)
    else:
        import difflib

        import torchvision

        names = torchvision.models.list_models()
        if spec not in names:
            close = difflib.get_close_matches(spec, names, n=3)
            raise ValueError(f"unknown torchvision architecture {spec!r}" + (f"; did you mean {', '.join(close)}?" if close else "")
                             + "; or give 'module.path:name' / 'file.py:name' for a network of your own")
        net = _construct(spec, lambda: torchvision.models.get_model(spec, weights=None, **kwargs), kwargs)
    if not isinstance(net, nn.Module):
        raise TypeError(f"{spec!r} gave a {type(net).__name__}, not a torch nn.Module")
    if weights is not None:
        state = read_state_dict(weights)
        try:
            load_state_dict(net, state, weights, spec)
        except ValueError as e:
            raise ValueError(f"{str(e).rstrip('.')}{_num_classes_hint(net, state)}") from None
    return net.eval()


def _construct(spec: str, build, kwargs: dict) -> nn.Module:
    """``build()``, with a constructor's TypeError (an unknown or missing argument) naming the spec
    and the arguments given, and where they come from in a parameter file."""
    try:
        return build()
    except TypeError as e:
        raise TypeError(f"cannot build {spec!r} with arguments {kwargs}: {e}; change `model_kwargs:` in the "
                        "parameter file (chapter 7) to the constructor's arguments") from e  # keeps the traceback


def _num_classes_hint(net: nn.Module, state: dict) -> str:
    """When only the output layer's number of rows differs, the ``num_classes`` to give."""
    own = net.state_dict()
    diff = [k for k, v in state.items() if k in own and hasattr(v, "shape") and v.shape != own[k].shape]
    last = [k for k in own if k.endswith("weight")][-1:]
    if not diff or not last:
        return ""
    head = last[0].rsplit(".", 1)[0]
    if all(k.rsplit(".", 1)[0] == head and state[k].shape[1:] == own[k].shape[1:] for k in diff):
        n = state[last[0]].shape[0] if last[0] in state else None
        if n is not None:
            return (f". The weights have {n} outputs where the network has {own[last[0]].shape[0]}: give "
                    f"num_classes={n} (`model_kwargs: {{num_classes: {n}}}` in the parameter file)")
    return ""
