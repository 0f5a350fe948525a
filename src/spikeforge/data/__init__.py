"""Data layer: IDX files, datasets (MNIST, Fashion-MNIST, digits, your own ``.npz``), locating, downloading,
spike encoding.

See ``docs/datasets.md`` for where data is looked for and how to download and verify it.
"""

from .cifar import CifarDataset, load_cifar10
from .datasets import DIGITS_N_TRAIN, Dataset, FileCheck, list_datasets, load_dataset, verify_dataset
from .download import DownloadError, download_dataset, fetch_verified, uncompressed_sha256
from .encode import Encoder, EncoderKind, bernoulli_encode, regular_encode, thermometer_encode, threshold_encode
from .idx import DatasetError, read_idx, write_idx
from .locate import (
    ENV_VAR,
    DatasetNotFoundError,
    SearchPlace,
    data_roots,
    locate_dataset,
    search_places,
    user_cache_dir,
)
from .npz import is_npz_dataset, load_npz_dataset, save_npz_dataset

__all__ = [
    "DIGITS_N_TRAIN",
    "ENV_VAR",
    "CifarDataset",
    "Dataset",
    "DatasetError",
    "DatasetNotFoundError",
    "DownloadError",
    "Encoder",
    "EncoderKind",
    "FileCheck",
    "SearchPlace",
    "bernoulli_encode",
    "data_roots",
    "download_dataset",
    "fetch_verified",
    "is_npz_dataset",
    "list_datasets",
    "load_cifar10",
    "load_dataset",
    "load_npz_dataset",
    "locate_dataset",
    "read_idx",
    "regular_encode",
    "save_npz_dataset",
    "search_places",
    "thermometer_encode",
    "threshold_encode",
    "uncompressed_sha256",
    "user_cache_dir",
    "verify_dataset",
    "write_idx",
]
