"""CIFAR-10 from the standard "python version" batches (``cifar-10-batches-py/``), for users who have the data.

The folder holds ``data_batch_1`` … ``data_batch_5`` (10 000 images each), ``test_batch`` (10 000) and
optionally ``batches.meta`` (class names). Each batch is a Python pickle of a dict with ``data`` — a
``uint8`` array (10 000, 3072): 1024 red, then 1024 green, then 1024 blue values of a 32x32 image in row-major
order — and ``labels`` — 10 000 ints in 0..9 (Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html).

Trust caveat: pickle is the distribution format, and unpickling arbitrary data can run code. The batches
are read with a *restricted* unpickler that only resolves the few numpy names an array needs (anything else —
e.g. ``os.system`` — raises :class:`~spikeforge.data.idx.DatasetError`), but only load files you obtained
from a source you trust, and prefer checking them against the published archive's checksum.

Where it is looked for: ``<root>/cifar-10-batches-py`` and ``<root>/cifar-10/cifar-10-batches-py`` for each
data root (``data_dir``, ``$SPIKEFORGE_DATA``, the user cache), or a path given directly.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spikeforge.data.datasets import Dataset
from spikeforge.data.idx import DatasetError
from spikeforge.data.locate import DatasetNotFoundError, data_roots

__all__ = ["CIFAR10_CLASSES", "CifarDataset", "find_cifar10", "load_cifar10", "read_cifar_batch"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
FOLDER = "cifar-10-batches-py"

_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise DatasetError(f"refusing to unpickle {module}.{name}: a CIFAR batch only holds arrays, lists and "
                               "strings (is this file really a CIFAR-10 batch?)")
        if module.startswith("numpy.core"):
            module = module.replace("numpy.core", "numpy._core", 1)
        return super().find_class(module, name)


def _key(d: dict[Any, Any], name: str) -> Any:
    for k in (name, name.encode()):
        if k in d:
            return d[k]
    raise KeyError(name)


def read_cifar_batch(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read one batch: images (N, 3, 32, 32) uint8 (channels first) and labels (N,) int64.

    Raises:
        DatasetError: unreadable file, not a dict, missing ``data``/``labels``, wrong shapes or dtype,
            labels outside 0..9, or a pickle that references anything but numpy array internals.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            obj = _RestrictedUnpickler(fh, encoding="bytes").load()
    except DatasetError:
        raise
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError) as e:
        raise DatasetError(f"{path}: cannot read a CIFAR-10 batch ({type(e).__name__}: {e})") from e
    if not isinstance(obj, dict):
        raise DatasetError(f"{path}: expected a pickled dict, got {type(obj).__name__}")
    try:
        data = np.asarray(_key(obj, "data"))
        labels = np.asarray(_key(obj, "labels"))
    except KeyError as e:
        keys = sorted(k.decode() if isinstance(k, bytes) else str(k) for k in obj)
        raise DatasetError(f"{path}: missing key {e.args[0]!r} (keys present: {keys})") from None
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DatasetError(f"{path}: 'data' must be uint8 (N, 3072), got {data.dtype} {data.shape}")
    if labels.ndim != 1 or labels.shape[0] != data.shape[0]:
        raise DatasetError(f"{path}: {data.shape[0]} images but labels of shape {labels.shape}")
    if labels.dtype.kind not in "iu" and labels.size:
        raise DatasetError(f"{path}: labels must be integers, got {labels.dtype}")
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DatasetError(f"{path}: labels span [{labels.min()}, {labels.max()}], outside 0..9")
    return data.reshape(-1, 3, 32, 32).copy(), labels


@dataclass(frozen=True, eq=False)
class CifarDataset:
    """CIFAR-10 in memory: ``x_*`` uint8 (N, 3, 32, 32) channels first, ``y_*`` int64 (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...] = CIFAR10_CLASSES
    name: str = "cifar-10"
    n_classes: int = 10

    def grayscale(self) -> Dataset:
        """A :class:`~spikeforge.data.Dataset` of 32x32 luma images (ITU-R BT.601: 0.299 R + 0.587 G +
        0.114 B, rounded), for the spikeforge tools that take (N, H, W) images."""
        def luma(x: np.ndarray) -> np.ndarray:
            y = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
            return np.clip(np.rint(y), 0, 255).astype(np.uint8)

        return Dataset(name="cifar-10-gray", x_train=luma(self.x_train), y_train=self.y_train,
                       x_test=luma(self.x_test), y_test=self.y_test, n_classes=10, classes=self.classes)


def find_cifar10(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The first ``cifar-10-batches-py`` folder found (see module docstring); ``data_dir`` may also be that
    folder itself. Raises :class:`DatasetNotFoundError` listing the places searched."""
    tried: list[str] = []
    cands: list[Path] = []
    if data_dir is not None and Path(data_dir).name == FOLDER:
        cands.append(Path(data_dir))
    for root in data_roots(data_dir):
        cands += [root.path / FOLDER, root.path / "cifar-10" / FOLDER]
    for c in cands:
        if (c / TEST_BATCH).is_file() and all((c / b).is_file() for b in TRAIN_BATCHES):
            return c
        tried.append(str(c))
    raise DatasetNotFoundError("CIFAR-10 (python batches) not found; looked for data_batch_1..5 and test_batch in:\n  "
                               + "\n  ".join(tried)
                               + "\nDownload cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html "
                               "and extract it into one of these roots.")


def load_cifar10(data_dir: str | os.PathLike[str] | None = None) -> CifarDataset:
    """Load the 50 000 training and 10 000 test images (see :func:`find_cifar10`, :func:`read_cifar_batch`)."""
    folder = find_cifar10(data_dir)
    parts = [read_cifar_batch(folder / b) for b in TRAIN_BATCHES]
    x_test, y_test = read_cifar_batch(folder / TEST_BATCH)
    classes = CIFAR10_CLASSES
    meta = folder / "batches.meta"
    if meta.is_file():
        try:
            with open(meta, "rb") as fh:
                m = _RestrictedUnpickler(fh, encoding="bytes").load()
            names = _key(m, "label_names")
            names = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
            if len(names) == 10:
                classes = names
        except (DatasetError, KeyError, OSError, pickle.UnpicklingError, EOFError, TypeError):
            pass  # class names are optional; the defaults are the published ones
    return CifarDataset(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                        x_test, y_test, classes)
