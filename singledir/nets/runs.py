"""Seeded, deterministic training with an on-disk cache of finished runs.

A :class:`RunConfig` names everything that determines a trained network: the dataset and its
label corruption, the model, the optimizer settings and the seed. :func:`train` returns the same
weights, bit for bit on the CPU, for the same config; a finished run is cached under a key made of
the full config and the code version of the data, model and training modules.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn

from . import cache as _cache
from . import data as _data
from . import models as _models
from .progress import timed

OPTIMIZERS = ("adam", "sgd")
PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class TrainConfig:
    """Optimizer settings. Defaults: the paper's Adam on the MNIST MLP, scaled to minutes."""

    epochs: int = 20
    batch_size: int = 128  # examples per step
    lr: float = 1e-3  # learning rate
    optimizer: str = "adam"  # "adam" or "sgd" (with momentum)
    momentum: float = 0.9  # SGD only
    weight_decay: float = 0.0  # L2 coefficient
    # epochs after which the weights are kept and evaluated: 0 = at initialization, 3 = after the
    # third epoch, 0.25 = a quarter of the way through the first epoch (rounded to a step)
    checkpoints: tuple[float, ...] = ()
    eval_every: int = 1  # evaluate train and test loss and accuracy every this many epochs (and the last)
    precision: str = "fp32"  # "fp32", or "bf16": the forward pass under bfloat16 autocast (a GPU option)

    def __post_init__(self):
        try:
            points = {float(c) for c in self.checkpoints}
        except (TypeError, ValueError):
            raise ValueError(f"checkpoints {self.checkpoints!r} must be numbers of epochs") from None
        object.__setattr__(self, "checkpoints", tuple(int(c) if c == int(c) else c for c in sorted(points)))
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; allowed: {', '.join(PRECISIONS)}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; allowed: {', '.join(OPTIMIZERS)}")
        if int(self.epochs) != self.epochs or self.epochs < 0:
            raise ValueError(f"epochs {self.epochs} must be a non-negative integer")
        if int(self.batch_size) != self.batch_size or self.batch_size <= 0:
            raise ValueError(f"batch_size {self.batch_size} must be a positive integer")
        if not self.lr > 0:
            raise ValueError(f"learning rate lr={self.lr} must be positive")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay {self.weight_decay} must be >= 0")
        if int(self.eval_every) != self.eval_every or self.eval_every < 1:
            raise ValueError(f"eval_every {self.eval_every} must be a positive integer")
        object.__setattr__(self, "eval_every", int(self.eval_every))
        object.__setattr__(self, "epochs", int(self.epochs))
        object.__setattr__(self, "batch_size", int(self.batch_size))
        bad = [c for c in self.checkpoints if not 0 <= c <= self.epochs]
        if bad:
            raise ValueError(f"checkpoint epochs {bad} lie outside [0, epochs={self.epochs}]")


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one trained network."""

    dataset: str = "mnist5k"
    corruption: float = 0.0  # fraction of training labels shuffled
    model: _models.ModelConfig = field(default_factory=_models.MLPConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    seed: int = 0  # initialization, data order and label corruption
    n_train: int | None = None  # stratified subset of the training set (None = all)
    n_test: int | None = None
    image_size: int | None = None  # resize folder: images to this square size
    unused_to_test: bool = False  # the pool's training images n_train leaves out join the test set
    n_pool: int | None = None  # n_train is drawn from a stratified subset of this many training images (None = all)

    def __post_init__(self):
        if not 0.0 <= float(self.corruption) <= 1.0:
            raise ValueError(f"corruption {self.corruption} is outside [0, 1]")
        if self.n_train is not None and self.n_pool is not None and int(self.n_train) > int(self.n_pool):
            raise ValueError(f"n_train {self.n_train} is larger than n_pool {self.n_pool}, the training images it "
                             "is drawn from; use n_train <= n_pool (or n_pool None for the whole training split)")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["model"] = _models.model_config_to_dict(self.model)
        d["train"]["checkpoints"] = list(self.train.checkpoints)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        d = dict(d)
        allowed = set(cls.__dataclass_fields__)
        unknown = set(d) - allowed
        if unknown:
            raise ValueError(f"unknown run parameter(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
        if "model" in d and isinstance(d["model"], dict):
            d["model"] = _models.model_config_from_dict(d["model"])
        if "train" in d and isinstance(d["train"], dict):
            t_allowed = set(TrainConfig.__dataclass_fields__)
            t_unknown = set(d["train"]) - t_allowed
            if t_unknown:
                raise ValueError(f"unknown train parameter(s) {sorted(t_unknown)}; allowed: {sorted(t_allowed)}")
            d["train"] = TrainConfig(**d["train"])
        return cls(**d)

    def with_(self, **changes) -> "RunConfig":
        return replace(self, **changes)


@dataclass
class TrainedRun:
    """A trained network with its history (one dict per evaluated epoch) and kept checkpoints."""

    config: RunConfig
    model: nn.Module
    history: list[dict]
    checkpoints: dict[int, dict[str, torch.Tensor]]
    diverged: bool = False
    from_cache: bool = False
    seconds: float = 0.0  # training time when it was computed

    def at_epoch(self, epoch: int) -> nn.Module:
        """A copy of the model with the weights kept after ``epoch``."""
        if epoch not in self.checkpoints:
            raise KeyError(f"no checkpoint at epoch {epoch}; kept: {sorted(self.checkpoints)}")
        import copy

        m = copy.deepcopy(self.model)
        m.load_state_dict(self.checkpoints[epoch])
        return m.eval()

    @property
    def final(self) -> dict:
        return self.history[-1] if self.history else {}


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def code_version() -> str:
    """Version of the code that determines trained weights."""
    return _cache.code_version_of(__name__)  # this module and every singledir module it imports


def load_run_dataset(config: RunConfig) -> _data.Dataset:
    """The dataset a run trains on, corrupted with the run's seed."""
    return _data.load_dataset(config.dataset, corruption=config.corruption, corruption_seed=config.seed,
                              n_train=config.n_train, n_test=config.n_test, image_size=config.image_size,
                              unused_to_test=config.unused_to_test, n_pool=config.n_pool)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024,
             device: torch.device | None = None) -> tuple[float, float]:
    """(mean cross-entropy loss, accuracy) of ``model`` on ``x [N, ...]``, ``y [N]``, in eval mode."""
    device = device or next(model.parameters()).device
    loss, correct = 0.0, 0
    with _models.evaluating(model):
        for idx in _data.batches(len(y), batch_size):
            out = model(x[idx].to(device))
            yy = y[idx].to(device)
            loss += F.cross_entropy(out, yy, reduction="sum").item()
            correct += (out.argmax(1) == yy).sum().item()
    n = max(len(y), 1)
    return loss / n, correct / n


def _optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def steps_per_epoch(n: int, batch_size: int) -> int:
    return max(1, math.ceil(n / batch_size))


def inner_checkpoints(cfg: TrainConfig, n: int) -> dict[tuple[int, int], float]:
    """``{(epoch, step): checkpoint}`` for checkpoints that fall inside an epoch (1-based epoch and
    step): 0.25 with 16 steps per epoch is step 4 of epoch 1."""
    spe = steps_per_epoch(n, cfg.batch_size)
    out = {}
    for c in cfg.checkpoints:
        if c != int(c):
            whole = math.floor(c)
            out[(whole + 1, max(1, min(spe, round((c - whole) * spe))))] = c
    return out


def is_eval_epoch(cfg: TrainConfig, epoch: int) -> bool:
    """Whether the history gets an entry after ``epoch`` (checkpoints are always evaluated)."""
    return epoch % cfg.eval_every == 0 or epoch == cfg.epochs or epoch in cfg.checkpoints


def autocast(cfg: TrainConfig, device: torch.device):
    """The forward pass's precision context: bfloat16 autocast for ``precision="bf16"``."""
    import contextlib

    if cfg.precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _history_row(epoch, model, ds, device) -> dict:
    tr_loss, tr_acc = evaluate(model, ds.x_train, ds.y_train, device=device)
    te_loss, te_acc = evaluate(model, ds.x_test, ds.y_test, device=device)
    return {"epoch": epoch, "train_loss": tr_loss, "train_acc": tr_acc, "test_loss": te_loss, "test_acc": te_acc}


def nan_row(epoch) -> dict:
    return {"epoch": epoch, "train_loss": math.nan, "train_acc": math.nan, "test_loss": math.nan, "test_acc": math.nan}


def _fit(config: RunConfig, ds: _data.Dataset, device: torch.device,
         progress: bool | None) -> tuple[nn.Module, list[dict], dict, bool]:
    """One network trained alone with ``torch.optim``: the reference that grouped training
    (:mod:`singledir.ensemble`) reproduces, and the path for networks that cannot be grouped."""
    torch.manual_seed(config.seed)
    model = _models.build_model(config.model, ds.input_shape, ds.n_classes).to(device)
    if not isinstance(config.model, _models.MLPConfig):
        model = model.to(memory_format=torch.channels_last)
    opt = _optimizer(model, config.train)
    g = torch.Generator().manual_seed(config.seed)
    cfg = config.train
    history: list[dict] = []
    checkpoints = {0: _state(model)} if 0 in cfg.checkpoints else {}
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
        for step, idx in enumerate(_data.batches(len(y_train), cfg.batch_size, g), 1):
            idx = idx.to(device)
            with autocast(cfg, device):
                out = model(x_train[idx])
            loss = F.cross_entropy(out.float(), y_train[idx])
            if not torch.isfinite(loss):
                diverged = True
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            c = inner.get((epoch, step))
            if c is not None:
                history.append(_history_row(c, model, ds, device))
                checkpoints[c] = _state(model)
        if diverged:
            history.append(nan_row(epoch))
            break
        if is_eval_epoch(cfg, epoch):
            history.append(_history_row(epoch, model, ds, device))
            bar.set_postfix(train_acc=f"{history[-1]['train_acc']:.3f}", test_acc=f"{history[-1]['test_acc']:.3f}")
        if epoch in cfg.checkpoints:
            checkpoints[epoch] = _state(model)
    return model.eval(), history, checkpoints, diverged


def run_key(config: RunConfig, device: torch.device) -> str:
    """The cache key of a trained run: its config, the code version, and the device type and CPU
    thread count (floating-point reductions split differently across threads, so the same seed
    gives bit-identical weights only on the same setting)."""
    key = {"run": config.to_dict(), "code": code_version(), "device": device.type,
           "threads": torch.get_num_threads() if device.type == "cpu" else None}
    data = _data.fingerprint(config.dataset)
    if data:  # a registered dataset's loader, a folder's files
        key["data"] = data
    return _cache.config_key(key)


def load_cached(config: RunConfig, device: torch.device, ds: _data.Dataset | None = None) -> "TrainedRun | None":
    """The cached run of ``config``, or None."""
    hit = _cache.Cache("runs").get(run_key(config, device))
    if hit is None:
        return None
    ds = ds or load_run_dataset(config)
    model = _models.build_model(config.model, ds.input_shape, ds.n_classes)
    model.load_state_dict(hit["state"])
    if not isinstance(config.model, _models.MLPConfig):
        model = model.to(memory_format=torch.channels_last)
    return TrainedRun(config, model.to(device).eval(), hit["history"],
                      {_epoch(k): v for k, v in hit["checkpoints"].items()},
                      bool(hit["diverged"]), from_cache=True, seconds=float(hit["seconds"]))


def store_run(run: "TrainedRun", device: torch.device, meta: dict | None = None) -> None:
    """Cache a freshly trained run under :func:`run_key`."""
    _cache.Cache("runs").put(
        run_key(run.config, device),
        {"state": _state(run.model), "history": run.history,
         "checkpoints": {str(k): v for k, v in run.checkpoints.items()},
         "diverged": run.diverged, "seconds": run.seconds},
        meta={"config": run.config.to_dict(), "code_version": code_version(), "device": str(device), **(meta or {})})


def _epoch(key: str) -> int | float:
    v = float(key)
    return int(v) if v == int(v) else v


@timed("training")
def train(config: RunConfig, *, use_cache: bool = True, device: torch.device | str | None = None,
          progress: bool | None = None, dataset: _data.Dataset | None = None) -> TrainedRun:
    """Train the network ``config`` describes, or load it from the cache.

    Training is deterministic on the CPU: same config, same weights bit for bit. A run whose loss
    becomes NaN or infinite stops and is returned with ``diverged=True`` (and cached as such).

    Args:
        config: the run.
        use_cache: read and write the result cache (``$SINGLEDIR_CACHE``).
        device: defaults to the GPU when one is present.
        progress: a progress bar over epochs (default: when stderr is a terminal).
        dataset: the run's dataset if already loaded (must be ``load_run_dataset(config)``).

    Example:
        >>> run = train(RunConfig(dataset="digits", train=TrainConfig(epochs=5)))
        >>> run.final["test_acc"] > 0.8
        True
    """
    device = torch.device(device) if device is not None else default_device()
    if use_cache:
        hit = load_cached(config, device, dataset)
        if hit is not None:
            return hit
    from . import ensemble

    if ensemble.groupable(config):  # one code path for a network alone and in a group
        return ensemble.train_group([config], device=device, progress=progress, use_cache=use_cache,
                                    datasets=[dataset] if dataset is not None else None)[0]
    ds = dataset or load_run_dataset(config)
    t0 = time.perf_counter()
    model, history, checkpoints, diverged = _fit(config, ds, device, progress)
    run = TrainedRun(config, model, history, checkpoints, diverged, from_cache=False,
                     seconds=time.perf_counter() - t0)
    if use_cache:
        store_run(run, device)
    return run
