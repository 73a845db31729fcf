"""The paper's networks (section 2.1, appendix A.2), with every layer that has units named.

A *unit* is one hidden unit of an MLP or one feature map of a conv layer, taken after the ReLU
(after batch norm where there is one). It is addressed by a layer name and an index, e.g.
``("hidden.1", 37)`` or ``("conv.4", 12)``.

Each model here is a chain of named stages (:meth:`stages`): the perturbation engine uses the
chain to run only what lies downstream of a perturbed layer.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .loading import load_state_dict, read_state_dict

# The paper's CIFAR-10 conv net: 11 conv layers, 3x3 kernels.
PAPER_CHANNELS = (64, 64, 128, 128, 128, 256, 256, 256, 512, 512, 512)
PAPER_STRIDES = (1, 1, 2, 1, 1, 2, 1, 1, 2, 1, 1)


@dataclass(frozen=True)
class MLPConfig:
    """A ReLU MLP: ``widths`` hidden units per layer, dropout after each hidden layer (0 = none)."""

    widths: tuple[int, ...] = (128, 128)
    dropout: float = 0.0  # probability of dropping a hidden unit while training

    def __post_init__(self):
        if any(int(w) != w for w in self.widths):
            raise ValueError(f"MLP widths {self.widths} must be integers")
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if not self.widths or any(w <= 0 for w in self.widths):
            raise ValueError(f"MLP widths {self.widths} must be one or more positive integers")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout {self.dropout} must be in [0, 1)")


@dataclass(frozen=True)
class ConvNetConfig:
    """The paper's 11-layer conv net; ``width`` multiplies every layer's channel count."""

    channels: tuple[int, ...] = PAPER_CHANNELS
    strides: tuple[int, ...] = PAPER_STRIDES
    width: float = 1.0  # channel multiplier: 0.25 is the paper's net with channels / 4
    batch_norm: bool = True

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        object.__setattr__(self, "strides", tuple(int(s) for s in self.strides))
        if len(self.channels) != len(self.strides) or not self.channels:
            raise ValueError(f"conv net needs one stride per layer: {len(self.channels)} channel "
                             f"counts, {len(self.strides)} strides")
        if self.width <= 0 or any(c <= 0 for c in self.channels):
            raise ValueError(f"conv net width {self.width} and channels {self.channels} must be positive")
        if any(s not in (1, 2) for s in self.strides):
            raise ValueError(f"strides {self.strides} must each be 1 or 2")

    @property
    def layer_channels(self) -> tuple[int, ...]:
        return tuple(max(1, round(c * self.width)) for c in self.channels)


RESNETS = ("resnet18", "resnet34", "resnet50")


@dataclass(frozen=True)
class ResNetConfig:
    """A torchvision ResNet, unchanged but for the number of input channels; its units are the
    outputs of the stem (``relu``) and of every residual block (``layer1.0`` ...). ``weights``: a
    local state-dict file (e.g. torchvision's ImageNet ResNet-50 weights) loaded with
    ``weights_only=True``."""

    arch: str = "resnet18"
    weights: str | None = None

    def __post_init__(self):
        if self.arch not in RESNETS:
            raise ValueError(f"unknown ResNet arch {self.arch!r}; allowed: {', '.join(RESNETS)}")


ModelConfig = MLPConfig | ConvNetConfig | ResNetConfig


class Chain(nn.Module):
    """A network that is a chain of named stages; ``unit_layers`` names the stages that have units."""

    unit_layers: tuple[str, ...] = ()

    def stages(self) -> list[tuple[str, nn.Module]]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _, stage in self.stages():
            x = stage(x)
        return x


class MLP(Chain):
    """``flatten -> hidden.0 -> drop.0 -> hidden.1 -> drop.1 -> ... -> out``.

    ``hidden.i`` is ``Linear + ReLU``: its output is the layer's units.
    """

    def __init__(self, in_features: int, n_classes: int, config: MLPConfig = MLPConfig()):
        super().__init__()
        self.config = config
        self.flatten = nn.Flatten()
        sizes = (in_features, *config.widths)
        self.hidden = nn.ModuleList(nn.Sequential(nn.Linear(a, b), nn.ReLU()) for a, b in zip(sizes, sizes[1:]))
        self.drop = nn.ModuleList(nn.Dropout(config.dropout) for _ in config.widths)
        self.out = nn.Linear(sizes[-1], n_classes)
        self.unit_layers = tuple(f"hidden.{i}" for i in range(len(config.widths)))

    def stages(self):
        s = [("flatten", self.flatten)]
        for i, (h, d) in enumerate(zip(self.hidden, self.drop)):
            s += [(f"hidden.{i}", h), (f"drop.{i}", d)]
        return s + [("out", self.out)]


class ConvNet(Chain):
    """``conv.0 ... conv.10 -> pool -> flatten -> out``; ``conv.i`` is ``Conv3x3 (+BN) + ReLU``.

    After the last conv layer, the feature maps are averaged over space (global average pooling)
    and a linear layer gives the logits.
    """

    def __init__(self, in_channels: int, n_classes: int, config: ConvNetConfig = ConvNetConfig()):
        super().__init__()
        self.config = config
        blocks = []
        c_in = in_channels
        for c, s in zip(config.layer_channels, config.strides):
            layers: list[nn.Module] = [nn.Conv2d(c_in, c, 3, stride=s, padding=1, bias=not config.batch_norm)]
            if config.batch_norm:
                layers.append(nn.BatchNorm2d(c))
            layers.append(nn.ReLU())
            blocks.append(nn.Sequential(*layers))
            c_in = c
        self.conv = nn.ModuleList(blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.out = nn.Linear(c_in, n_classes)
        self.unit_layers = tuple(f"conv.{i}" for i in range(len(blocks)))

    def stages(self):
        return [(f"conv.{i}", b) for i, b in enumerate(self.conv)] + [
            ("pool", self.pool), ("flatten", self.flatten), ("out", self.out)]


def build_model(config: ModelConfig, input_shape: tuple[int, ...], n_classes: int) -> Chain:
    """The network for ``config`` on inputs of ``input_shape`` (``(C, H, W)``) and ``n_classes``.

    Example:
        >>> net = build_model(MLPConfig(widths=(128, 128)), (1, 28, 28), 10)
        >>> net.unit_layers
        ('hidden.0', 'hidden.1')
    """
    if isinstance(config, MLPConfig):
        n_in = 1
        for d in input_shape:
            n_in *= int(d)
        return MLP(n_in, n_classes, config)
    if isinstance(config, ConvNetConfig):
        return ConvNet(int(input_shape[0]), n_classes, config)
    if isinstance(config, ResNetConfig):
        return _resnet(config, int(input_shape[0]), n_classes)
    raise TypeError(f"unknown model config {config!r}; use MLPConfig, ConvNetConfig or ResNetConfig")


def _resnet(config: ResNetConfig, in_channels: int, n_classes: int) -> nn.Module:
    import torchvision

    net = getattr(torchvision.models, config.arch)(num_classes=n_classes)
    if in_channels != 3:
        net.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
    if config.weights is not None:
        state = read_state_dict(config.weights)
        n_out = state["fc.weight"].shape[0] if "fc.weight" in state else n_classes
        if n_out != n_classes:
            raise ValueError(f"weights {config.weights} have {n_out} outputs but the data have {n_classes} classes")
        load_state_dict(net, state, config.weights, config.arch)
    return net


def model_config_from_dict(d: dict) -> ModelConfig:
    """``{"kind": "mlp", "widths": [...]}`` or ``{"kind": "convnet", ...}`` as a config object."""
    d = dict(d)
    kind = d.pop("kind", None)
    kinds = {"mlp": MLPConfig, "convnet": ConvNetConfig, "resnet": ResNetConfig}
    if kind not in kinds:
        raise ValueError(f"unknown model kind {kind!r}; allowed: {', '.join(kinds)}")
    cls = kinds[kind]
    allowed = set(cls.__dataclass_fields__)
    unknown = set(d) - allowed
    if unknown:
        raise ValueError(f"unknown {kind} parameter(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    return cls(**d)


def describe(config: ModelConfig) -> str:
    """A short human-readable name, e.g. ``MLP 128-128`` or ``conv net 11 layers x0.125, BN``."""
    if isinstance(config, MLPConfig):
        drop = f", dropout {config.dropout:g}" if config.dropout else ""
        return f"MLP {'-'.join(map(str, config.widths))}{drop}"
    if isinstance(config, ConvNetConfig):
        chans = "paper channels" if config.channels == PAPER_CHANNELS else f"channels {list(config.channels)}"
        return (f"conv net {len(config.channels)} layers, {chans} x{config.width:g}, "
                f"{'BN' if config.batch_norm else 'no BN'}")
    if isinstance(config, ResNetConfig):
        return f"torchvision {config.arch}" + (f" ({Path(config.weights).name})" if config.weights else "")
    raise TypeError(f"unknown model config {config!r}")


def model_config_to_dict(config: ModelConfig) -> dict:
    from dataclasses import asdict

    kind = {MLPConfig: "mlp", ConvNetConfig: "convnet", ResNetConfig: "resnet"}[type(config)]
    d = asdict(config)
    return {"kind": kind, **{k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}}


# ---------------------------------------------------------------------------------------------
# Layers of any network
# ---------------------------------------------------------------------------------------------
def unit_layer_names(model: nn.Module) -> tuple[str, ...]:
    """Names of the layers whose outputs are units.

    The project's models declare them; a torchvision ResNet's are its residual blocks
    (``layer1.0``, ...) and its stem (``relu``); any other module's are its activation modules
    (``nn.ReLU`` and the like, each used once), or, if it has none, every named submodule.
    """
    declared = getattr(model, "unit_layers", None)
    if declared:
        return tuple(declared)
    if _is_resnet(model):
        return ("relu", *(f"layer{i}.{j}" for i in range(1, 5) for j in range(len(getattr(model, f"layer{i}")))))
    acts = tuple(n for n, m in model.named_modules() if n and isinstance(m, ACTIVATIONS))
    return acts or tuple(n for n, _ in model.named_modules() if n)


ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Mish, nn.Hardswish, nn.Softplus,
               nn.Tanh, nn.Sigmoid)


@contextmanager
def evaluating(model: nn.Module):
    """Eval mode and no gradients for the block; every submodule's mode is restored after, also
    on error. The one guard every measurement uses."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        for m, t in modes:
            m.training = t


def get_layer(model: nn.Module, name: str) -> nn.Module:
    """The submodule called ``name``; an unknown name lists the layers that have units."""
    modules = dict(model.named_modules())
    if name not in modules or not name:
        raise KeyError(f"layer {name!r} does not exist in {type(model).__name__}; layers with units: "
                       f"{', '.join(unit_layer_names(model))}")
    return modules[name]


def _is_resnet(model: nn.Module) -> bool:
    return all(hasattr(model, a) for a in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer4", "avgpool", "fc"))


def model_stages(model: nn.Module) -> list[tuple[str, nn.Module]] | None:
    """The model as a chain of named stages whose composition is its forward pass, or None.

    Known for the project's models, ``nn.Sequential`` and torchvision ResNets (whose residual
    blocks chain). For any other module None: the engine then perturbs with hooks on full passes.
    """
    if isinstance(model, Chain):
        return model.stages()
    if isinstance(model, nn.Sequential):
        return list(model.named_children())
    if _is_resnet(model):
        s = [("conv1", model.conv1), ("bn1", model.bn1), ("relu", model.relu), ("maxpool", model.maxpool)]
        for i in range(1, 5):
            s += [(f"layer{i}.{j}", b) for j, b in enumerate(getattr(model, f"layer{i}"))]
        return s + [("avgpool", model.avgpool), ("flatten", nn.Flatten()), ("fc", model.fc)]
    return None
