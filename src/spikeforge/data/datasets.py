"""Image-classification datasets: MNIST, Fashion-MNIST and scikit-learn's 8x8 digits.

All datasets come as a :class:`Dataset` of ``uint8`` images ``(N, H, W)`` and ``int64`` labels.

* ``"mnist"`` and ``"fashion-mnist"``: 60 000 train / 10 000 test images of 28x28, read from the
  canonical IDX files found by :func:`~spikeforge.data.locate.locate_dataset` (optionally downloaded).
* ``"digits"``: scikit-learn's bundled 1 797 images of 8x8 (no network). Pixel values 0..16 are
  rescaled to 0..255 by ``round(v * 255 / 16)``. Split: the first 1 437 samples (in the order
  ``sklearn.datasets.load_digits`` returns them) are the training set, the last 360 the test set;
  no shuffling, so the split is deterministic and independent of any seed.
"""

from __future__ import annotations

import importlib.resources
import os
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ._specs import DIGITS_CSV_SHA256, IDX_FILES, SPECS, canonical_name
from .download import download_dataset, uncompressed_sha256
from .idx import DatasetError, read_idx
from .locate import DatasetNotFoundError, locate_dataset

__all__ = [
    "DIGITS_N_TRAIN",
    "Dataset",
    "FileCheck",
    "list_datasets",
    "load_dataset",
    "verify_dataset",
]

#: Number of leading scikit-learn digits samples used for training (the remaining 360 are the test set).
DIGITS_N_TRAIN = 1437


@dataclass(frozen=True, eq=False)
class Dataset:
    """An image-classification dataset split into train and test sets.

    Attributes
    ----------
    name
        Canonical dataset name.
    x_train, x_test
        ``uint8`` images of shape ``(N, H, W)``, 0 = black background.
    y_train, y_test
        ``int64`` labels of shape ``(N,)``, in ``[0, n_classes)``.
    n_classes
        Number of classes.
    classes
        Class names, index = label.
    source
        The file a user dataset was read from (:mod:`spikeforge.data.npz`); ``""`` for the shipped datasets,
        whose files are checksum-verified, so that their name identifies their content.

    Raises
    ------
    DatasetError
        On construction, if dtypes, shapes, counts or label ranges are inconsistent.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    classes: tuple[str, ...]
    source: str = ""

    def __post_init__(self) -> None:
        """Check dtypes, shapes, image/label counts and label range."""
        if len(self.classes) != self.n_classes:
            raise DatasetError(f"{self.name}: {len(self.classes)} class names for n_classes={self.n_classes}")
        for split, x, y in (("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test)):
            if x.dtype != np.uint8 or x.ndim != 3:
                raise DatasetError(f"{self.name}: x_{split} must be uint8 (N, H, W), got {x.dtype} {x.shape}")
            if y.dtype != np.int64 or y.ndim != 1:
                raise DatasetError(f"{self.name}: y_{split} must be int64 (N,), got {y.dtype} {y.shape}")
            if x.shape[0] != y.shape[0]:
                raise DatasetError(
                    f"{self.name}: {x.shape[0]} {split} images but {y.shape[0]} {split} labels"
                )
            if y.size and (y.min() < 0 or y.max() >= self.n_classes):
                raise DatasetError(
                    f"{self.name}: {split} labels span [{y.min()}, {y.max()}], outside [0, {self.n_classes})"
                )
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise DatasetError(
                f"{self.name}: train images are {self.x_train.shape[1:]}, test images {self.x_test.shape[1:]}"
            )

    def fingerprint(self) -> str:
        """sha256 (first 16 hex digits) of the images and labels of both splits, with their shapes: what a
        training checkpoint records of a user dataset, so that another file under the same name (or the same
        file edited) is never resumed as if it were the data the checkpoint was trained on."""
        import hashlib

        h = hashlib.sha256()
        for a in (self.x_train, self.y_train, self.x_test, self.y_test):
            h.update(str((a.dtype.str, a.shape)).encode())
            h.update(np.ascontiguousarray(a).data)
        return h.hexdigest()[:16]

    @property
    def image_shape(self) -> tuple[int, int]:
        """Return ``(H, W)``, the shape of one image."""
        return (int(self.x_train.shape[1]), int(self.x_train.shape[2]))

    @property
    def n_pixels(self) -> int:
        """Return ``H * W``, the number of input channels after flattening one image."""
        h, w = self.image_shape
        return h * w

    def __repr__(self) -> str:
        """Summarise the dataset without printing the arrays."""
        return (
            f"Dataset(name={self.name!r}, train={self.x_train.shape[0]}, test={self.x_test.shape[0]}, "
            f"image_shape={self.image_shape}, n_classes={self.n_classes})"
        )


class FileCheck(NamedTuple):
    """Result of checking one file in :func:`verify_dataset`.

    ``status`` is ``"ok"``, ``"mismatch"`` (readable, wrong SHA-256), ``"missing"`` or ``"unreadable"``;
    ``sha256`` is the digest of the uncompressed content, ``""`` when it could not be computed.
    """

    file: str
    status: str
    sha256: str


def list_datasets() -> list[str]:
    """Return the canonical names of the supported datasets, sorted."""
    return sorted([*SPECS, "digits"])


def _load_digits() -> Dataset:
    """Build the digits :class:`Dataset` from scikit-learn's bundled copy (see module docstring)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.rint(np.asarray(bunch.images, dtype=np.float64) * (255.0 / 16.0)).astype(np.uint8)
    labels = np.asarray(bunch.target, dtype=np.int64)
    n = DIGITS_N_TRAIN
    return Dataset(
        name="digits",
        x_train=images[:n].copy(),
        y_train=labels[:n].copy(),
        x_test=images[n:].copy(),
        y_test=labels[n:].copy(),
        n_classes=10,
        classes=tuple(str(i) for i in range(10)),
    )


def _read_split(
    images_path: os.PathLike[str], labels_path: os.PathLike[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Read one images/labels IDX pair and check that they describe the same samples."""
    x = read_idx(images_path)
    y = read_idx(labels_path)
    if x.dtype != np.uint8 or x.ndim != 3:
        raise DatasetError(f"{images_path}: expected uint8 images (N, H, W), got {x.dtype} {x.shape}")
    if y.dtype != np.uint8 or y.ndim != 1:
        raise DatasetError(f"{labels_path}: expected uint8 labels (N,), got {y.dtype} {y.shape}")
    if x.shape[0] != y.shape[0]:
        raise DatasetError(
            f"label/image count mismatch: {images_path} has {x.shape[0]} images but "
            f"{labels_path} has {y.shape[0]} labels"
        )
    return x, y.astype(np.int64)


def load_dataset(
    name: str, data_dir: str | os.PathLike[str] | None = None, *, download: bool = False
) -> Dataset:
    """Load a dataset into memory.

    Parameters
    ----------
    name
        One of :func:`list_datasets` (``"mnist"``, ``"fashion-mnist"``, ``"digits"``); case and
        ``_``/``-`` are ignored. Or the path of your own ``.npz`` dataset file
        (:mod:`spikeforge.data.npz`).
    data_dir
        Explicit data root (CLI ``--data-dir``), searched before ``$SPIKEFORGE_DATA`` and the user
        cache; files are looked for in ``data_dir/<name>/``. Ignored for ``"digits"``.
    download
        If the files are not found, download them (checksum-verified) into the first data root,
        then load them. Off by default: nothing touches the network unless asked.

    Returns
    -------
    Dataset
        Train and test images (``uint8``, ``(N, H, W)``) and labels (``int64``).

    Raises
    ------
    DatasetNotFoundError
        If the files are not found and ``download`` is false; the message lists where it looked.
    DatasetError
        If a file is malformed, or images and labels disagree in count or range.
    """
    if str(name).lower().endswith(".npz"):
        from .npz import load_npz_dataset

        return load_npz_dataset(name)
    name = canonical_name(name)
    if name == "digits":
        return _load_digits()
    spec = SPECS[name]
    try:
        files = locate_dataset(name, data_dir)
    except DatasetNotFoundError:
        if not download:
            raise
        download_dataset(name, data_dir)
        files = locate_dataset(name, data_dir)
    x_train, y_train = _read_split(files[IDX_FILES["train_images"]], files[IDX_FILES["train_labels"]])
    x_test, y_test = _read_split(files[IDX_FILES["test_images"]], files[IDX_FILES["test_labels"]])
    return Dataset(
        name=name,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        n_classes=len(spec.classes),
        classes=spec.classes,
    )


def _check(path: os.PathLike[str] | None, label: str, expected: str) -> FileCheck:
    """Hash one file and compare it with ``expected``."""
    if path is None:
        return FileCheck(label, "missing", "")
    try:
        digest = uncompressed_sha256(path)
    except DatasetError:
        return FileCheck(str(path), "unreadable", "")
    return FileCheck(str(path), "ok" if digest == expected else "mismatch", digest)


def verify_dataset(name: str, data_dir: str | os.PathLike[str] | None = None) -> list[FileCheck]:
    """Check a dataset's files against the canonical SHA-256 of their uncompressed content.

    Parameters
    ----------
    name
        One of :func:`list_datasets`.
    data_dir
        Explicit data root, as for :func:`load_dataset`.

    Returns
    -------
    list of FileCheck
        One ``(file, status, sha256)`` per file, status ``"ok"``, ``"mismatch"``, ``"missing"`` or
        ``"unreadable"``. For MNIST-layout datasets these are the four files of the folder that
        :func:`load_dataset` would read; for ``"digits"`` it is scikit-learn's bundled
        ``digits.csv.gz``.

    Raises
    ------
    DatasetNotFoundError
        If no folder holds all four files (the message lists where it looked).
    """
    name = canonical_name(name)
    if name == "digits":
        resource = importlib.resources.files("sklearn.datasets.data") / "digits.csv.gz"
        with importlib.resources.as_file(resource) as path:
            return [_check(path if path.is_file() else None, str(path), DIGITS_CSV_SHA256)]
    spec = SPECS[name]
    files = locate_dataset(name, data_dir)
    checks = []
    for filename in IDX_FILES.values():
        checks.append(_check(files.get(filename), filename, spec.sha256[filename]))
    return checks
