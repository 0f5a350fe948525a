"""Fixtures for the data-layer tests: an isolated data environment and tiny fake IDX datasets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from spikeforge.data import locate
from spikeforge.data.idx import write_idx

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Hide $SPIKEFORGE_DATA, the real user cache and system folders; return the fake cache root."""
    monkeypatch.delenv(locate.ENV_VAR, raising=False)
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setattr(locate, "SYSTEM_DIRS", {})
    return cache / "spikeforge"


def write_fake(
    folder: Path,
    *,
    n_train: int = 6,
    n_test: int = 4,
    n_train_labels: int | None = None,
    shape: tuple[int, int] = (3, 2),
    gz: bool = True,
    seed: int = 0,
    label_max: int = 10,
) -> dict[str, np.ndarray]:
    """Write a tiny MNIST-layout dataset into ``folder``; return the arrays written, by role."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
        "train_labels": rng.integers(
            0, label_max, n_train if n_train_labels is None else n_train_labels
        ).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
        "test_labels": rng.integers(0, label_max, n_test).astype(np.uint8),
    }
    for role, array in arrays.items():
        write_idx(folder / (FILES[role] + (".gz" if gz else "")), array)
    return arrays


@pytest.fixture
def fake() -> Callable[..., dict[str, np.ndarray]]:
    """Return :func:`write_fake`, the writer of tiny fake MNIST-layout datasets."""
    return write_fake
