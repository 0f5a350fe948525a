"""Static facts about the supported datasets: file names, canonical hashes, classes, mirrors.

Kept in one private module so that :mod:`.locate`, :mod:`.download` and :mod:`.datasets` share a
single source of truth without importing each other in a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

from .idx import DatasetError

__all__ = ["DATASET_ALIASES", "DIGITS_CSV_SHA256", "IDX_FILES", "SPECS", "IdxDatasetSpec", "canonical_name"]

#: Role -> canonical file name (the ``.gz`` suffix is optional on disk).
IDX_FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class IdxDatasetSpec:
    """Description of an MNIST-layout dataset (four IDX files).

    Attributes
    ----------
    name
        Canonical dataset name, also the sub-folder looked for under each data root.
    classes
        Human-readable class names, index = label.
    sha256
        Canonical file name -> SHA-256 of the *uncompressed* IDX content.
    mirrors
        Base URLs, tried in order, each serving ``<file>.gz``.
    """

    name: str
    classes: tuple[str, ...]
    sha256: dict[str, str]
    mirrors: tuple[str, ...]


SPECS: dict[str, IdxDatasetSpec] = {
    "mnist": IdxDatasetSpec(
        name="mnist",
        classes=tuple(str(i) for i in range(10)),
        sha256={
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
    ),
    # Hashes computed from Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1. Debian re-gzipped
    # the files (the .gz MD5s differ from Zalando's), but the uncompressed content is the original.
    "fashion-mnist": IdxDatasetSpec(
        name="fashion-mnist",
        classes=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        sha256={
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    ),
}

#: SHA-256 of scikit-learn's bundled ``datasets/data/digits.csv.gz``, uncompressed.
DIGITS_CSV_SHA256 = "6ebb3d2fee246a4e99363262ddf8a00a3c41bee6014c373ed9d9216ba7f651b8"

#: Accepted spellings -> canonical name.
DATASET_ALIASES: dict[str, str] = {
    "mnist": "mnist",
    "fashion-mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "fmnist": "fashion-mnist",
    "digits": "digits",
    "sklearn-digits": "digits",
}


def canonical_name(name: str) -> str:
    """Return the canonical dataset name for ``name`` (case-insensitive, ``_`` treated as ``-``).

    Raises
    ------
    DatasetError
        If ``name`` is not a known dataset.
    """
    key = name.strip().lower().replace("_", "-")
    if key not in DATASET_ALIASES:
        import difflib

        known = ", ".join(sorted(set(DATASET_ALIASES.values())))
        close = difflib.get_close_matches(key, list(DATASET_ALIASES), n=1, cutoff=0.6)
        hint = f"did you mean {DATASET_ALIASES[close[0]]!r}? " if close else ""
        raise DatasetError(f"unknown dataset {name!r} ({hint}known: {known}; or the path of a .npz file)")
    return DATASET_ALIASES[key]
