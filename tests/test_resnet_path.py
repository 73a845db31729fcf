"""The ResNet path of chapter 5 on an ImageNet-style folder with a local weights file: a generated
folder of many classes with few images each (as an ImageNet subset has) and an untrained
torchvision ResNet-18 saved to disk."""

import nbformat
import numpy as np
import pytest
import torch
import torchvision
import yaml
from PIL import Image

from helpers import glued_values
from singledir.book import cli
from singledir.book import params as params_mod
from singledir.book import results
from singledir.nets.models import ResNetConfig, build_model

N_CLASSES = 150  # many classes, two images each per split


@pytest.fixture
def image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 2), ("test", 2)):
        for c in range(N_CLASSES):
            d = tmp_path / "imgs" / split / f"class{c}"
            d.mkdir(parents=True)
            for i in range(n):
                Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(d / f"{i}.png")
    return tmp_path / "imgs"


@pytest.fixture
def weights(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(num_classes=N_CLASSES).state_dict(), path)
    return path


def test_weights_file_loads_into_the_model(weights):
    net = build_model(ResNetConfig(arch="resnet18", weights=str(weights)), (3, 16, 16), N_CLASSES)
    saved = torch.load(weights, weights_only=True)
    assert all(torch.equal(v, saved[k]) for k, v in net.state_dict().items())
    with pytest.raises(ValueError, match="150 outputs but the data have 10 classes"):
        build_model(ResNetConfig(arch="resnet18", weights=str(weights)), (3, 16, 16), 10)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_model(ResNetConfig(weights="/nonexistent/r.pth"), (3, 16, 16), N_CLASSES)
    with pytest.raises(ValueError, match="unknown ResNet arch"):
        ResNetConfig(arch="vgg16")


def test_chapter_5_runs_the_imagenet_path_on_a_folder(image_folder, weights, tmp_path, monkeypatch):
    monkeypatch.setenv("SINGLEDIR_CACHE", str(tmp_path / "cache"))
    doc = yaml.safe_load((params_mod.ROOT / "params" / "smoke.yml").read_text())
    doc["chapters"]["05_selectivity"]["resnet"].update({
        "model": {"kind": "resnet", "arch": "resnet18", "weights": str(weights)},
        "dataset": f"folder:{image_folder}",
        "train": {"epochs": 0},
        "n_train": None,
        "layers": None,
        "metrics": ["accuracy", "loss", "top5"],
        "n_unit_data": N_CLASSES,  # one image per class: a class-stratified subset leaves none out
    })
    params = tmp_path / "folder.yml"
    params.write_text(yaml.safe_dump(doc))
    build_dir = tmp_path / "_build"
    cli.build(params, build_dir=build_dir, only=["05_selectivity"], html=False, progress=False)
    nb = nbformat.read(build_dir / "exec" / "05_selectivity.ipynb", as_version=4)
    glued = glued_values(nb)
    # resnet18: stem 64 + 2x64 + 2x128 + 2x256 + 2x512 channels
    assert float(glued["res_units"]) == 64 + 128 + 256 + 512 + 1024
    assert glued["res_data"] == repr(f"folder:{image_folder}")
    assert 0.0 <= float(glued["res_test"]) <= 1.0
    # the curve was measured with top-5 accuracy on the test images
    import pandas as pd

    [folder] = (tmp_path / "cache" / "sweeps").glob("resnet-*")
    curves = pd.read_parquet(folder / "curves.parquet")
    units = pd.read_parquet(folder / "units.parquet")
    assert "top5" in curves and curves.top5.between(0, 1).all()
    assert set(curves.layers) == {"layer3.1+layer4.0+layer4.1"}  # the paper's rule: the last three blocks
    assert len(units) == 64 + 128 + 256 + 512 + 1024 and units.selectivity.notna().any()
    assert "E9" in [f["id"] for f in results.chapter_findings(build_dir, ["05_selectivity"])]
