"""singledir.data.dataset: label corruption (METHODS.md, "Label corruption p"), stratified subsets, the
dataset registry and its errors, the held-out pool."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from singledir.data import dataset as dataset_mod
from singledir.data import raw as raw_mod
from singledir.data.raw import stratified_split
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
# Splits and subsets (the stratified split itself: test_raw.py)
# ---------------------------------------------------------------------------------------------
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
# Images that are not finite; the held-out pool (folder datasets: test_loaders.py)
# ---------------------------------------------------------------------------------------------
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
