"""Chapter 7's way in for a network of one's own: load_network, the example LeNet, and the chapter's
numbers against the package run here."""
from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest
import torch
from torch import nn

from helpers import glued
from singledir.book import params as params_mod
from singledir.book.keys import chapter_key
from singledir.measure.units import analyze
from singledir.data.dataset import load_dataset, stratified_subset
from singledir.nets.loading import load_network
from singledir.nets.models import unit_layer_names

ROOT = params_mod.ROOT
LENET = "examples/lenet.py:LeNet"
TINY = f"{ROOT / 'tests' / 'test_own_model.py'}:Tiny"


class Tiny(nn.Module):
    def __init__(self, width: int = 3):
        super().__init__()
        self.fc = nn.Linear(2, width)
        self.act = nn.ReLU()
        self.out = nn.Linear(width, 2)

    def forward(self, x):
        return self.out(self.act(self.fc(x)))


def make_tiny(width: int = 3):
    return Tiny(width)


def test_torchvision_names_and_their_suggestions():
    net = load_network("resnet18", num_classes=7)
    assert net.fc.out_features == 7 and not net.training
    with pytest.raises(ValueError, match=r"unknown torchvision architecture 'resnet19'.*resnet18"):
        load_network("resnet19")


def test_a_module_path_a_file_path_a_class_a_factory_and_an_instance(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "tests"))
    assert isinstance(load_network("test_own_model:Tiny", width=5), Tiny)
    assert load_network("test_own_model:make_tiny", width=4).fc.out_features == 4
    assert isinstance(load_network(f"{ROOT / 'examples' / 'lenet.py'}:LeNet"), nn.Module)
    src = tmp_path / "mynet.py"
    src.write_text("from torch import nn\nnet = nn.Sequential(nn.Linear(2, 2), nn.ReLU())\n")
    assert isinstance(load_network(f"{src}:net")[1], nn.ReLU)
    with pytest.raises(AttributeError, match=r"has no 'Nope'.*Tiny"):
        load_network("test_own_model:Nope")
    with pytest.raises(ModuleNotFoundError, match="cannot import 'no_such_module'"):
        load_network("no_such_module:Net")
    with pytest.raises(FileNotFoundError, match="missing.py"):
        load_network(f"{tmp_path}/missing.py:Net")


def test_weights_are_loaded_exactly_and_bad_files_are_named(tmp_path):
    torch.manual_seed(0)
    src = Tiny()
    path = tmp_path / "w.pt"
    torch.save(src.state_dict(), path)
    net = load_network(TINY, path)
    for k, v in src.state_dict().items():
        assert torch.equal(net.state_dict()[k], v)
    ckpt = tmp_path / "ckpt.pt"
    torch.save({"epoch": 3, "state_dict": src.state_dict()}, ckpt)  # a training checkpoint
    assert torch.equal(load_network(TINY, ckpt).fc.weight, src.fc.weight)
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_network(TINY, tmp_path / "nope.pt")
    with pytest.raises(ValueError, match="does not fit"):  # shapes differ
        load_network(TINY, path, width=4)
    torch.save({"other.weight": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"missing \['fc.weight'"):
        load_network(TINY, tmp_path / "other.pt")
    torch.save(src, tmp_path / "module.pt")  # a pickled module, not a state dict
    with pytest.raises(ValueError, match="save model.state_dict"):
        load_network(TINY, tmp_path / "module.pt")


def test_a_pickled_module_is_named_without_terminal_colour_codes(tmp_path):
    from singledir.nets.loading import read_state_dict

    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")
    with pytest.raises(ValueError) as e:
        read_state_dict(tmp_path / "module.pt")
    msg = str(e.value)
    assert "\x1b" not in msg and "[1m" not in msg
    assert "torch.nn.modules.linear.Linear" in msg and "save model.state_dict()" in msg


def test_units_of_any_network_are_its_activation_modules():
    lenet = load_network(LENET)
    assert unit_layer_names(lenet) == ("features.1", "features.4", "classifier.2", "classifier.4")


def test_example_script_writes_a_state_dict_atomically(tmp_path):
    out = tmp_path / "w" / "lenet.pt"
    proc = subprocess.run([sys.executable, "examples/lenet.py", "--epochs", "1", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    assert "test accuracy" in proc.stdout
    assert [p.name for p in out.parent.iterdir()] == ["lenet.pt"]  # no partial file left
    net = load_network(LENET, out)
    ds = load_dataset("mnist5k")
    with torch.no_grad():
        acc = (net(ds.x_test).argmax(1) == ds.y_test).float().mean().item()
    assert acc > 0.5  # one epoch of LeNet on 4000 digits: far above chance (0.1)


def test_chapter_key_follows_the_files_a_parameter_names(tmp_path, monkeypatch):
    src = ROOT / "chapters" / "07_your_model.md"
    w = tmp_path / "w.pt"
    w.write_bytes(b"one")
    monkeypatch.setenv("MYW", str(tmp_path))
    params = {"weights": "$MYW/w.pt", "model": LENET}
    k1 = chapter_key(src, params)
    w.write_bytes(b"two")
    k2 = chapter_key(src, params)
    assert k1 != k2
    assert chapter_key(src, params) == k2
    assert (ROOT / "examples" / "lenet.py") in params_mod._named_files(params)  # the model's source file too
    assert params_mod._named_files({"data": "folder:/tmp", "n": 3}) == []


def test_chapter_numbers_are_the_package_numbers(smoke_build):
    """The smoke chapter's AUC is what analyze() gives here on the same network and data."""
    nb = nbformat.read(smoke_build.build_dir / "exec" / "07_your_model.ipynb", as_version=4)
    params = params_mod.load_params(ROOT / "params" / "smoke.yml", params_mod.chapter_paths())["07_your_model"]
    net = load_network(LENET, smoke_build.cache / "examples" / "lenet-mnist5k.pt")
    ds = load_dataset(params["dataset"])
    report = analyze(net, train_data=(ds.x_train, ds.y_train),
                     curve_data=stratified_subset(ds.x_train, ds.y_train, params["n_curve"]),
                     test_data=stratified_subset(ds.x_test, ds.y_test, params["units"]["n_data"]),
                     layers=list(unit_layer_names(net)),
                     grid=params["curves"]["grid"], repetitions=params["repetitions"])
    assert float(glued(nb, "own_auc")) == pytest.approx(report.auc, abs=1e-6)
    assert int(glued(nb, "own_n_units")) == 6 + 16 + 120 + 84
    assert int(glued(nb, "own_dead")) == int(report.units.dead.sum())


def test_a_truncated_weights_file_is_called_damaged_not_a_pickled_module(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "w.pt"
    torch.save(Tiny().state_dict(), path)
    path.write_bytes(path.read_bytes()[:200])  # a copy that stopped early
    with pytest.raises(ValueError, match=r"\(200 bytes\): it is truncated or damaged") as e:
        load_network(TINY, path)
    assert "state_dict()" not in str(e.value) and "copy or save it again" in str(e.value)


def test_keys_with_the_data_parallel_prefix_are_explained(tmp_path):
    torch.manual_seed(0)
    wrapped = nn.DataParallel(Tiny())  # a training script that used DataParallel saves its keys with "module."
    torch.save(wrapped.state_dict(), tmp_path / "dp.pt")
    with pytest.raises(ValueError, match=r"unexpected \['module.fc.weight'.*every key of the file has the prefix "
                                         r"'module.'.*DataParallel.*model.module.state_dict\(\)"):
        load_network(TINY, tmp_path / "dp.pt")
    torch.save({"other.weight": torch.zeros(1)}, tmp_path / "other.pt")  # another mismatch: no such hint
    with pytest.raises(ValueError) as e:
        load_network(TINY, tmp_path / "other.pt")
    assert "module." not in str(e.value)


def test_the_follow_up_measures_work_on_a_network_of_ones_own():
    """Chapter 8's measures take any module with named layers, as chapter 7's analyses do: the
    example LeNet (untrained, seeded), measured as ``method="auto"`` chooses and with hooks, gives the
    same per-class damage and ordered curves, and fitted constants."""
    from singledir.measure import ablations

    torch.manual_seed(0)
    net = load_network(f"{ROOT / 'examples' / 'lenet.py'}:LeNet").eval()
    layers = list(unit_layer_names(net))[-2:]
    x, y = torch.randn(60, 1, 28, 28), torch.arange(60) % 10
    results = {}
    for method in ("auto", "naive"):
        damage = ablations.class_damage(net, (x, y), layers, method=method)
        assert set(damage.layer) == set(layers) and damage["class"].nunique() == 10
        scores = torch.rand(damage[damage.layer == layers[-1]].unit.nunique(), generator=torch.Generator().manual_seed(1))
        curves = ablations.ordered_ablation(net, (x, y), layers[-1], scores.numpy(), grid=3, random_repetitions=1,
                                            method=method)
        assert set(curves.order) == {"descending", "ascending", "random"}
        results[method] = damage, curves
    for auto, naive in zip(results["auto"], results["naive"]):
        assert auto["accuracy"].to_numpy() == pytest.approx(naive["accuracy"].to_numpy())
    constants = ablations.fit_ablation_constants(net, (x, y), layers[-1], steps=1)
    assert set(constants) == {layers[-1]} and torch.isfinite(constants[layers[-1]]).all()
