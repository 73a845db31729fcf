"""The README's "Extending" paths, exercised: a dataset added to the registry, a per-unit measure
added to the unit table (with the cache keys that follow it), and the pieces of an experiment."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from singledir.data import dataset as dataset_mod
from singledir.data import raw
from singledir.experiments import sweep as sweep_mod
from singledir.measure import units as units_mod
from singledir.nets import runs
from singledir.nets import training
from singledir.nets.models import MLPConfig, build_model
from singledir.nets.runs import RunConfig, TrainConfig


def _blobs(split_seed: int = 0, **_):
    """Two classes of 4x4 one-channel images: bright top rows or bright bottom rows."""
    rng = np.random.default_rng(split_seed)
    y = np.arange(200) % 2
    x = rng.uniform(0, 0.2, size=(200, 1, 4, 4)).astype(np.float32)
    x[y == 0, :, :2] += 0.7
    x[y == 1, :, 2:] += 0.7
    return x[:150], y[:150], x[150:], y[150:], ("top", "bottom")


@pytest.fixture
def blobs():
    dataset_mod.register_dataset("test_blobs", _blobs)
    yield "test_blobs"
    raw.DATASETS.pop("test_blobs", None)
    dataset_mod._raw.cache_clear()


def test_a_registered_dataset_trains_and_keys_its_loader(blobs, monkeypatch, tmp_path):
    ds = dataset_mod.load_dataset(blobs, n_train=100)
    assert ds.classes == ("top", "bottom") and ds.x_train.shape == (100, 1, 4, 4) and len(ds.y_test) == 50
    cfg = RunConfig(dataset=blobs, model=MLPConfig(widths=(8,)), train=TrainConfig(epochs=5, batch_size=32, lr=0.01))
    run = training.train_network(cfg, device="cpu")
    assert run.final["test_acc"] > 0.9
    key = runs.network_key(cfg, torch.device("cpu"))

    def _blobs_v2(split_seed: int = 0, **_):  # another loader under the same name: another key
        return _blobs(split_seed + 1)

    dataset_mod.register_dataset(blobs, _blobs_v2, replace=True)
    assert runs.network_key(cfg, torch.device("cpu")) != key
    with pytest.raises(ValueError, match="already registered"):
        dataset_mod.register_dataset(blobs, _blobs)
    with pytest.raises(ValueError, match="already registered; choose another name$"):
        dataset_mod.register_dataset("mnist5k", _blobs, replace=True)
    with pytest.raises(ValueError, match="without ':'"):
        dataset_mod.register_dataset("folder:x", _blobs)


def test_a_folder_dataset_is_keyed_by_its_files(tmp_path):
    from PIL import Image

    for split in ("train", "test"):
        for c in ("a", "b"):
            (tmp_path / split / c).mkdir(parents=True)
            for i in range(3):
                Image.fromarray(np.full((4, 4), 40 * i, dtype=np.uint8)).save(tmp_path / split / c / f"{i}.png")
    name = f"folder:{tmp_path}"
    before = dataset_mod.fingerprint(name)
    assert before and dataset_mod.fingerprint("mnist5k") == ""
    Image.fromarray(np.full((4, 4), 255, dtype=np.uint8)).save(tmp_path / "train" / "a" / "new.png")
    assert dataset_mod.fingerprint(name) != before


def test_a_registered_unit_measure_is_a_column_and_part_of_the_sweep_key(monkeypatch, tmp_path):
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path))
    monkeypatch.setattr(units_mod, "UNIT_MEASURES", dict(units_mod.UNIT_MEASURES))  # registrations end with the test
    torch.manual_seed(0)
    net = build_model(MLPConfig(widths=(6, 5)), (1, 2, 2), 3).eval()
    x, y = torch.randn(60, 1, 2, 2), torch.arange(60) % 3
    units_mod.register_unit_measure("sparsity", lambda a, labels: (a > 0).float().mean(0))
    t = units_mod.unit_table(net, (x, y), ["hidden.0", "hidden.1"], importance=False)
    assert "sparsity" in t and t.sparsity.between(0, 1).all() and len(t) == 11
    fp = units_mod.measures_fingerprint()
    assert fp
    units_mod.register_unit_measure("sparsity", lambda a, labels: (a > 0.5).float().mean(0))
    assert units_mod.measures_fingerprint() != fp  # an edited measure is recomputed
    # a sweep's cached units table follows the registered measures
    cfg = RunConfig(dataset="digits", n_train=100, n_test=60, model=MLPConfig(widths=(8,)),
                    train=TrainConfig(epochs=1, batch_size=50))
    m = sweep_mod.Measurements(grid=3, repetitions=1, units=True, n_unit_data=60)
    r1 = sweep_mod.run_sweep([cfg], m)
    assert "sparsity" in r1.units
    units_mod.register_unit_measure("firing", lambda a, labels: a.mean(0))
    r2 = sweep_mod.run_sweep([cfg], m)
    assert r2.runs.attrs["computed"] == 1 and "firing" in r2.units
    with pytest.raises(ValueError, match="must be an identifier and not one of"):
        units_mod.register_unit_measure("selectivity", lambda a, labels: a.mean(0))
    units_mod.register_unit_measure("bad", lambda a, labels: a.mean())
    with pytest.raises(ValueError, match="one per unit"):
        units_mod.unit_table(net, (x, y), ["hidden.0"], importance=False)
