"""CIFAR-10 python-batch loader, on small files written here in the standard format."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from spikeforge.data.cifar import find_cifar10, load_cifar10, read_cifar_batch
from spikeforge.data.idx import DatasetError
from spikeforge.data.locate import DatasetNotFoundError


def write_batch(
    path: Path, n: int, seed: int, *, str_keys: bool = False, **override: object
) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = rng.integers(0, 10, n).tolist()
    d: dict[object, object] = {b"batch_label": b"test", b"labels": labels, b"data": data,
                               b"filenames": [f"img{i}.png".encode() for i in range(n)]}
    if str_keys:
        d = {k.decode() if isinstance(k, bytes) else k: v for k, v in d.items()}
    for k, v in override.items():
        d[k.encode()] = v
    with open(path, "wb") as fh:
        pickle.dump(d, fh, protocol=2)
    return data, labels


@pytest.fixture
def cifar_root(tmp_path: Path) -> Path:
    folder = tmp_path / "root" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i in range(1, 6):
        write_batch(folder / f"data_batch_{i}", 4, i)
    write_batch(folder / "test_batch", 3, 9, str_keys=True)
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({b"label_names": [f"c{i}".encode() for i in range(10)]}, fh, protocol=2)
    return tmp_path / "root"


def test_read_batch_layout(tmp_path: Path) -> None:
    data, labels = write_batch(tmp_path / "b", 5, 0)
    x, y = read_cifar_batch(tmp_path / "b")
    assert x.shape == (5, 3, 32, 32) and x.dtype == np.uint8
    np.testing.assert_array_equal(x[2, 1].ravel(), data[2, 1024:2048])  # green plane
    assert y.tolist() == labels and y.dtype == np.int64


def test_load_from_root_and_folder(cifar_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPIKEFORGE_DATA", raising=False)
    ds = load_cifar10(cifar_root)
    assert ds.x_train.shape == (20, 3, 32, 32) and ds.x_test.shape == (3, 3, 32, 32)
    assert ds.classes[3] == "c3"
    assert find_cifar10(cifar_root / "cifar-10-batches-py") == cifar_root / "cifar-10-batches-py"
    gray = ds.grayscale()
    assert gray.x_train.shape == (20, 32, 32) and gray.n_classes == 10
    monkeypatch.setenv("SPIKEFORGE_DATA", str(cifar_root))
    assert load_cifar10().y_test.shape == (3,)


def test_not_found_lists_places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPIKEFORGE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(DatasetNotFoundError, match="cifar-10-batches-py"):
        load_cifar10(tmp_path)


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ({"data": np.zeros((4, 100), np.uint8)}, "3072"),
        ({"data": np.zeros((4, 3072), np.float32)}, "uint8"),
        ({"labels": [0, 1, 2]}, "labels"),
        ({"labels": [0, 1, 2, 10]}, "outside"),
    ],
)
def test_bad_batches(tmp_path: Path, override: dict[str, object], match: str) -> None:
    write_batch(tmp_path / "b", 4, 0, **override)
    with pytest.raises(DatasetError, match=match):
        read_cifar_batch(tmp_path / "b")


def test_missing_key_and_garbage(tmp_path: Path) -> None:
    with open(tmp_path / "k", "wb") as fh:
        pickle.dump({b"data": np.zeros((1, 3072), np.uint8)}, fh, protocol=2)
    with pytest.raises(DatasetError, match="missing key 'labels'"):
        read_cifar_batch(tmp_path / "k")
    (tmp_path / "g").write_bytes(b"not a pickle")
    with pytest.raises(DatasetError, match="cannot read"):
        read_cifar_batch(tmp_path / "g")
    with open(tmp_path / "l", "wb") as fh:
        pickle.dump([1, 2, 3], fh)
    with pytest.raises(DatasetError, match="dict"):
        read_cifar_batch(tmp_path / "l")


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned",))


def test_refuses_code_in_pickle(tmp_path: Path) -> None:
    with open(tmp_path / "evil", "wb") as fh:
        pickle.dump({b"data": _Evil(), b"labels": []}, fh, protocol=2)
    with pytest.raises(DatasetError, match="refusing to unpickle"):
        read_cifar_batch(tmp_path / "evil")
