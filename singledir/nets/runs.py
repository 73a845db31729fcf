"""What a trained network is: its run config, its key, its cache entry, and what the training loops share.

A :class:`RunConfig` names everything that determines a trained network: the dataset and its
label corruption, the model, the optimizer settings and the seed. A finished run is cached under
:func:`network_key`: the full config and the code version of the modules that train
(:data:`TRAINING_MODULE` and everything it imports). This module lies below both the solo loop
(:mod:`singledir.nets.solo`) and the group trainer (:mod:`singledir.nets.groups`), which
:func:`singledir.nets.training.train_network` chooses between.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn

from ..base.cache import Cache, code_version, config_key
from ..data.dataset import Dataset, batches, fingerprint, load_dataset
from .models import (ConvNetConfig, MLPConfig, ModelConfig, build_model, evaluating, model_config_from_dict,
                     model_config_to_dict)

OPTIMIZERS = ("adam", "sgd")
PRECISIONS = ("fp32", "bf16")
TRAINING_MODULE = "singledir.nets.training"  # its import closure is the code version of a trained network
# CPU threads a small network (an MLP or the project's conv net) trains on. One: such a network
# keeps two cores' threads busy only in part (benchmarks/bench_decisive_training.py), so a machine's
# cores train several at once in worker processes (the sweeps' "processes" executor), and its
# weights do not depend on how many cores the machine has. None: the process's thread count.
SMALL_NETWORK_THREADS: int | None = 1


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
    # loss = cross-entropy - selectivity_alpha * the units' mean class selectivity on each batch
    # (singledir.regularize; Leavitt & Morcos 2021): > 0 more selective units, < 0 less; 0 = off
    selectivity_alpha: float = 0.0

    def __post_init__(self):
        try:
            points = {float(c) for c in self.checkpoints}
        except (TypeError, ValueError):
            raise ValueError(f"checkpoints {self.checkpoints!r} must be numbers of epochs") from None
        object.__setattr__(self, "checkpoints", tuple(int(c) if c == int(c) else c for c in sorted(points)))
        if isinstance(self.selectivity_alpha, bool) or not isinstance(self.selectivity_alpha, (int, float)) \
                or not math.isfinite(self.selectivity_alpha):
            raise ValueError(f"selectivity_alpha {self.selectivity_alpha!r} must be a finite number "
                             "(0 = no selectivity regularizer, > 0 more selective units, < 0 less)")
        object.__setattr__(self, "selectivity_alpha", float(self.selectivity_alpha))
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
    model: ModelConfig = field(default_factory=MLPConfig)
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
        d["model"] = model_config_to_dict(self.model)
        d["train"]["checkpoints"] = list(self.train.checkpoints)
        if d["train"]["selectivity_alpha"] == 0:  # off: left out, so the keys of runs without it stay as they were
            del d["train"]["selectivity_alpha"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        d = dict(d)
        allowed = set(cls.__dataclass_fields__)
        unknown = set(d) - allowed
        if unknown:
            raise ValueError(f"unknown run parameter(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
        if "model" in d and isinstance(d["model"], dict):
            d["model"] = model_config_from_dict(d["model"])
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


def small_network(config: RunConfig) -> bool:
    """Whether ``config``'s network trains on :data:`SMALL_NETWORK_THREADS` threads, in a worker
    process (:mod:`singledir.nets.workers`): an MLP or the project's conv net, unless that setting is None."""
    return SMALL_NETWORK_THREADS is not None and isinstance(config.model, (MLPConfig, ConvNetConfig))


# Networks per group on the CPU, on one thread each (SMALL_NETWORK_THREADS), measured on this
# book's 2-core AVX-512 machine with two worker processes side by side (seconds per network and
# epoch, benchmarks/bench_decisive_training.py): 784-128-128 MLPs 0.058 at 4, 0.053 at 8, 0.080
# at 15 (two processes then contend for memory); the conv net at 1/8 width with batch norm 0.595
# alone, 0.53 at 2 and at 4; without batch norm alone. (On two threads in one process, as the
# book trained before, the AVX2 machines gave MLPs 16 and batch-norm conv nets 8.)
CPU_GROUP_SIZES = {"mlp": 8, "convnet_bn": 2, "convnet": 1}
# Conv nets per group on a GPU: a fixed size, as on the CPU (see fixed_group_size); not measured,
# since no GPU was lent to this project's machines (eight paper-width conv nets fit an H200 many times).
GPU_CONV_GROUP_SIZE = 8


def network_kind(config: RunConfig) -> str | None:
    """``"mlp"``, ``"convnet_bn"`` or ``"convnet"`` (the keys of :data:`CPU_GROUP_SIZES`); None
    for a network that never trains in a group."""
    m = config.model
    if isinstance(m, MLPConfig):
        return "mlp"
    if isinstance(m, ConvNetConfig):
        return "convnet_bn" if m.batch_norm else "convnet"
    return None


def fixed_group_size(config: RunConfig, device: torch.device | str) -> int | None:
    """The size of every group ``config``'s network trains in on ``device``, so that its bits are
    those of its config whatever it was trained beside; None where any size gives the same bits.

    An MLP member computes its products member by member and equals its group of one bit for bit
    in a group of any size (measured: groups of 1, 2, 8 and 11), so None. A conv-net member does
    not: oneDNN vectorizes grouped convolutions and batch norm across the group's channels, so its
    rounding depends on the group's size (measured: the book's conv net rounds one way alone and
    another in groups of 2 to 9; a conv net of 4 channels another way again in a group of 4),
    though never on its group-mates or its place among them (same size, any seeds and labels
    beside it, any position: bit-identical). So a conv net always trains in groups of exactly
    :data:`CPU_GROUP_SIZES` (its kind's measured best; on a GPU :data:`GPU_CONV_GROUP_SIZE`):
    :func:`singledir.nets.groups.train_group` splits what it is handed into groups of that size and
    fills the last with copies of its members. Any other network trains alone (1)."""
    kind = network_kind(config)
    if kind is None:
        return 1
    if kind == "mlp":
        return None
    return CPU_GROUP_SIZES[kind] if torch.device(device).type == "cpu" else GPU_CONV_GROUP_SIZE


def training_threads(config: RunConfig) -> int:
    """The CPU threads ``config``'s network trains on: :data:`SMALL_NETWORK_THREADS` for a small
    network, the process's thread count for any other (a ResNet, a model of one's own)."""
    return int(SMALL_NETWORK_THREADS) if small_network(config) else torch.get_num_threads()


@contextlib.contextmanager
def torch_threads(n: int):
    """Run the block on ``n`` CPU threads, then restore the process's thread count."""
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def load_run_dataset(config: RunConfig) -> Dataset:
    """The dataset a run trains on, corrupted with the run's seed."""
    return load_dataset(config.dataset, corruption=config.corruption, corruption_seed=config.seed,
                              n_train=config.n_train, n_test=config.n_test, image_size=config.image_size,
                              unused_to_test=config.unused_to_test, n_pool=config.n_pool)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024,
             device: torch.device | None = None) -> tuple[float, float]:
    """(mean cross-entropy loss, accuracy) of ``model`` on ``x [N, ...]``, ``y [N]``, in eval mode."""
    device = device or next(model.parameters()).device
    loss, correct = 0.0, 0
    with evaluating(model):
        for idx in batches(len(y), batch_size):
            out = model(x[idx].to(device))
            yy = y[idx].to(device)
            loss += F.cross_entropy(out, yy, reduction="sum").item()
            correct += (out.argmax(1) == yy).sum().item()
    n = max(len(y), 1)
    return loss / n, correct / n


def state_of(model: nn.Module) -> dict[str, torch.Tensor]:
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


def nan_row(epoch) -> dict:
    return {"epoch": epoch, "train_loss": math.nan, "train_acc": math.nan, "test_loss": math.nan, "test_acc": math.nan}


def network_key(config: RunConfig, device: torch.device) -> str:
    """The cache key of a trained run: its config, the code version, the device type, the CPU
    threads it trains on (:func:`training_threads`: floating-point reductions split differently
    across threads, so the same seed gives bit-identical weights only on the same setting) and, for
    a conv net, the size of the group it trains in (:func:`fixed_group_size`, for the same reason)."""
    key = {"run": config.to_dict(), "code": code_version(TRAINING_MODULE), "device": device.type,
           "threads": training_threads(config) if device.type == "cpu" else None}
    if fixed_group_size(config, device) is not None:  # a conv net's bits depend on its group's size
        key["group"] = fixed_group_size(config, device)
    data = fingerprint(config.dataset)
    if data:  # a registered dataset's loader, a folder's files
        key["data"] = data
    return config_key(key)


def load_cached(config: RunConfig, device: torch.device, ds: Dataset | None = None) -> "TrainedRun | None":
    """The cached run of ``config``, or None."""
    hit = Cache("runs").get(network_key(config, device))
    if hit is None:
        return None
    ds = ds or load_run_dataset(config)
    model = build_model(config.model, ds.input_shape, ds.n_classes)
    model.load_state_dict(hit["state"])
    if not isinstance(config.model, MLPConfig):
        model = model.to(memory_format=torch.channels_last)
    return TrainedRun(config, model.to(device).eval(), hit["history"],
                      {epoch_of(k): v for k, v in hit["checkpoints"].items()},
                      bool(hit["diverged"]), from_cache=True, seconds=float(hit["seconds"]))


def store_run(run: "TrainedRun", device: torch.device, meta: dict | None = None) -> None:
    """Cache a freshly trained run under :func:`network_key`."""
    Cache("runs").put(
        network_key(run.config, device),
        {"state": state_of(run.model), "history": run.history,
         "checkpoints": {str(k): v for k, v in run.checkpoints.items()},
         "diverged": run.diverged, "seconds": run.seconds},
        meta={"config": run.config.to_dict(), "code_version": code_version(TRAINING_MODULE), "device": str(device), **(meta or {})})


def epoch_of(key: str) -> int | float:
    v = float(key)
    return int(v) if v == int(v) else v


