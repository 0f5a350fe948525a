"""Your own data: an image-classification dataset in one NumPy ``.npz`` file.

Wherever a dataset name is accepted (``load_dataset``, a recipe's ``[data] dataset``, ``spikeforge simulate
-d``, ``convert -d``), the path of a ``.npz`` file works too. The file holds four arrays:

* ``x_train``, ``x_test`` — grayscale images ``(N, H, W)`` (or ``(N, H, W, 1)`` / ``(N, 1, H, W)``), either
  ``uint8`` 0..255 (0 = background), ``bool``, or floats in ``[0, 1]`` (scaled by 255 and rounded); integer
  images that hold only 0 and 1 are refused (as intensities out of 255 they would be almost black: binary
  images are ``bool``); each split holds at least one image;
* ``y_train``, ``y_test`` — integer labels ``(N,)`` in ``[0, n_classes)``;

and optionally ``classes``, the class names (its length is ``n_classes``; otherwise ``n_classes`` is the
largest label + 1). The dataset is named after the file (``my-data.npz`` → ``my-data``). Files are read with
``allow_pickle=False``. Write one with :func:`save_npz_dataset`.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from spikeforge.data.datasets import Dataset
from spikeforge.data.idx import DatasetError
from spikeforge.fileio import atomic_output

__all__ = ["is_npz_dataset", "load_npz_dataset", "save_npz_dataset"]

_REQUIRED = ("x_train", "y_train", "x_test", "y_test")


def is_npz_dataset(name: str | os.PathLike[str]) -> bool:
    """Whether ``name`` names a ``.npz`` dataset file rather than a shipped dataset."""
    return str(name).lower().endswith(".npz")


def load_npz_dataset(path: str | os.PathLike[str]) -> Dataset:
    """Read a ``.npz`` dataset (see the module docstring).

    Raises:
        DatasetError: the file is missing, unreadable or not an ``.npz``; an array is missing, holds objects,
            has the wrong shape, non-finite or out-of-range values, or labels outside ``[0, n_classes)``;
            the message names the file and the array.
    """
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"dataset file {p} does not exist")
    if not zipfile.is_zipfile(p):
        raise DatasetError(f"{p}: not a .npz file (a zip archive of .npy arrays, as numpy.savez writes); see "
                           "docs/datasets.md for the arrays it must hold")
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise DatasetError(f"{p}: not a readable .npz dataset ({e})") from None
    missing = [k for k in _REQUIRED if k not in arrays]
    if missing:
        raise DatasetError(f"{p}: missing array(s) {missing}; it holds {sorted(arrays)}; a dataset needs "
                           f"{list(_REQUIRED)} (+ optional 'classes')")
    xs = {k: _images(arrays[k], f"{p}: {k}") for k in ("x_train", "x_test")}
    ys = {k: _labels(arrays[k], f"{p}: {k}") for k in ("y_train", "y_test")}
    for k, x in xs.items():
        if not len(x):
            raise DatasetError(f"{p}: {k} holds no images")
    if xs["x_train"].shape[1:] != xs["x_test"].shape[1:]:
        raise DatasetError(f"{p}: x_train images are {xs['x_train'].shape[1:]} but x_test images are "
                           f"{xs['x_test'].shape[1:]}")
    top = max((int(y.max()) for y in ys.values() if y.size), default=-1)
    if "classes" in arrays:
        names = arrays["classes"]
        if names.ndim != 1 or names.dtype.kind not in "US":
            raise DatasetError(f"{p}: classes must be a 1-D array of strings, got {names.dtype} {names.shape}")
        classes = tuple(str(c) for c in names)
        if top >= len(classes):
            raise DatasetError(f"{p}: label {top} but only {len(classes)} class names")
    else:
        classes = tuple(str(i) for i in range(top + 1))
    if not classes:
        raise DatasetError(f"{p}: no labels")
    try:
        return Dataset(p.stem, xs["x_train"], ys["y_train"], xs["x_test"], ys["y_test"], len(classes), classes,
                       source=str(p))
    except DatasetError as e:  # name the file, not just its stem
        raise DatasetError(f"{p}: {str(e).removeprefix(p.stem + ': ')}") from None


def save_npz_dataset(ds: Dataset, path: str | os.PathLike[str]) -> Path:
    """Write ``ds`` as a ``.npz`` dataset that :func:`load_npz_dataset` reads back (atomically)."""
    p = Path(path)
    if not is_npz_dataset(p):
        raise ValueError(f"{p}: a dataset file must end in .npz")
    with atomic_output(p) as tmp:
        np.savez_compressed(tmp, x_train=ds.x_train, y_train=ds.y_train, x_test=ds.x_test, y_test=ds.y_test,
                            classes=np.asarray(ds.classes, dtype=str))
    return p


def _images(x: np.ndarray, where: str) -> np.ndarray:
    if x.ndim == 4 and 1 in (x.shape[1], x.shape[3]):
        x = x[:, 0] if x.shape[1] == 1 else x[..., 0]
    if x.ndim != 3:
        raise DatasetError(f"{where}: expected grayscale images (N, H, W), got shape {x.shape}")
    if x.dtype.kind in "iu" and x.size and 0 <= x.min() and x.max() == 1:
        raise DatasetError(f"{where}: {x.dtype} images hold only 0 and 1, which integer images read as "
                           "intensities out of 255 (almost black); store binary images as bool, as uint8 0/255, "
                           "or as floats in [0, 1]")
    if x.dtype == np.uint8:
        return x
    if x.dtype == np.bool_:
        return x.astype(np.uint8) * np.uint8(255)
    if x.dtype.kind == "f":
        if not np.all(np.isfinite(x)):
            raise DatasetError(f"{where}: {int(np.sum(~np.isfinite(x)))} non-finite value(s) (NaN or inf)")
        if x.size and (x.min() < 0 or x.max() > 1):
            raise DatasetError(f"{where}: float images must lie in [0, 1], got [{x.min():g}, {x.max():g}]")
        return np.rint(x * 255).astype(np.uint8)
    if x.dtype.kind in "iu":
        if x.size and (x.min() < 0 or x.max() > 255):
            raise DatasetError(f"{where}: integer images must lie in 0..255, got {x.min()}..{x.max()}")
        return x.astype(np.uint8)
    raise DatasetError(f"{where}: images must be uint8, bool or float, got {x.dtype}")


def _labels(y: np.ndarray, where: str) -> np.ndarray:
    if y.ndim != 1:
        raise DatasetError(f"{where}: expected labels (N,), got shape {y.shape}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise DatasetError(f"{where}: labels must be whole numbers")
    elif y.dtype.kind not in "iu":
        raise DatasetError(f"{where}: labels must be integers, got {y.dtype}")
    if y.size and y.min() < 0:
        raise DatasetError(f"{where}: negative label {int(y.min())}")
    if y.size and y.max() > 2**31:  # before the cast to int64, which would wrap a huge value round
        raise DatasetError(f"{where}: label {y.max()} is far beyond any class index")
    return y.astype(np.int64)
