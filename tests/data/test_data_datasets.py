"""Datasets: loading, search order, not-found and consistency errors, verification, real data."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from spikeforge.data import (
    DIGITS_N_TRAIN,
    Dataset,
    DatasetError,
    DatasetNotFoundError,
    list_datasets,
    load_dataset,
    locate,
    search_places,
    verify_dataset,
)
from spikeforge.data import datasets as datasets_module
from spikeforge.data.idx import write_idx

Fake = Callable[..., dict[str, np.ndarray]]


def test_list_datasets() -> None:
    assert list_datasets() == ["digits", "fashion-mnist", "mnist"]


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(DatasetError, match=r"unknown dataset 'cifar'.*digits, fashion-mnist, mnist"):
        load_dataset("cifar")


@pytest.mark.parametrize("gz", [True, False])
def test_load_fake_mnist_from_data_dir(isolated: Path, tmp_path: Path, fake: Fake, gz: bool) -> None:
    arrays = fake(tmp_path / "root" / "mnist", gz=gz)
    ds = load_dataset("MNIST", tmp_path / "root")
    assert ds.name == "mnist" and ds.n_classes == 10 and ds.classes[3] == "3"
    assert ds.image_shape == (3, 2) and ds.n_pixels == 6
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.int64
    np.testing.assert_array_equal(ds.x_train, arrays["train_images"])
    np.testing.assert_array_equal(ds.y_test, arrays["test_labels"])
    assert "train=6" in repr(ds)


def test_search_order_data_dir_then_env_then_cache(
    isolated: Path, tmp_path: Path, fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake(isolated / "mnist", n_train=1)
    assert load_dataset("mnist").x_train.shape[0] == 1  # user cache
    fake(tmp_path / "env" / "mnist", n_train=2)
    monkeypatch.setenv(locate.ENV_VAR, str(tmp_path / "env"))
    assert load_dataset("mnist").x_train.shape[0] == 2  # $SPIKEFORGE_DATA beats the cache
    fake(tmp_path / "arg" / "mnist", n_train=3)
    assert load_dataset("mnist", data_dir=tmp_path / "arg").x_train.shape[0] == 3  # data_dir beats both
    # An incomplete data_dir falls through to the next place.
    (tmp_path / "arg" / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    assert load_dataset("mnist", data_dir=tmp_path / "arg").x_train.shape[0] == 2
    # a data_dir that does not exist at all (a typo?) falls through too, but says so
    with pytest.warns(locate.DataDirWarning, match=r"data directory .*nope does not exist; mnist was found in"):
        assert load_dataset("mnist", data_dir=tmp_path / "nope").x_train.shape[0] == 2


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(DatasetError, match=r"unknown dataset 'mnsit' \(did you mean 'mnist'\?"):
        load_dataset("mnsit")


def test_relative_env_path_and_pathsep_list(
    isolated: Path, tmp_path: Path, fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake(tmp_path / "second" / "fashion-mnist")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(locate.ENV_VAR, os.pathsep.join(["first", "second"]))
    places = search_places("fashion_mnist")
    assert [p.path for p in places[:2]] == [
        tmp_path / "first/fashion-mnist",
        tmp_path / "second/fashion-mnist",
    ]
    assert load_dataset("fashion-mnist").classes[0] == "T-shirt/top"


def test_fashion_found_in_system_dir(
    isolated: Path, tmp_path: Path, fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake(tmp_path / "usr-share" / "fashion-mnist")
    monkeypatch.setattr(locate, "SYSTEM_DIRS", {"fashion-mnist": (tmp_path / "usr-share" / "fashion-mnist",)})
    assert load_dataset("fashion-mnist").x_test.shape == (4, 3, 2)
    with pytest.raises(DatasetNotFoundError):  # the Debian path is for Fashion-MNIST only
        load_dataset("mnist")


def test_not_found_lists_every_place_and_the_fixes(isolated: Path, tmp_path: Path) -> None:
    partial = tmp_path / "partial" / "fashion-mnist"
    partial.mkdir(parents=True)
    write_idx(partial / "train-images-idx3-ubyte.gz", np.zeros((1, 2, 2), dtype=np.uint8))
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("fashion-mnist", data_dir=tmp_path / "partial")
    msg = str(info.value)
    assert str(partial) in msg and "missing train-labels-idx1-ubyte[.gz]" in msg
    assert str(isolated / "fashion-mnist") in msg and "user cache" in msg and "no such folder" in msg
    assert "$SPIKEFORGE_DATA is not set" in msg
    for fix in (
        "SPIKEFORGE_DATA=ROOT",
        "--data-dir ROOT",
        "download=True",
        "apt-get install dataset-fashion-mnist",
    ):
        assert fix in msg
    assert isinstance(info.value, DatasetError)


def test_not_found_hints_at_files_placed_directly_in_root(isolated: Path, tmp_path: Path, fake: Fake) -> None:
    fake(tmp_path / "flat")
    with pytest.raises(DatasetNotFoundError, match=r"holds IDX files directly; move them into .*flat/mnist/"):
        load_dataset("mnist", data_dir=tmp_path / "flat")


def test_label_image_count_mismatch_names_both_files(isolated: Path, tmp_path: Path, fake: Fake) -> None:
    fake(tmp_path / "mnist", n_train=5, n_train_labels=4)
    with pytest.raises(DatasetError, match="label/image count mismatch") as info:
        load_dataset("mnist", tmp_path)
    assert "train-images-idx3-ubyte.gz has 5 images" in str(info.value)
    assert "train-labels-idx1-ubyte.gz has 4 labels" in str(info.value)


def test_labels_out_of_range(isolated: Path, tmp_path: Path, fake: Fake) -> None:
    fake(tmp_path / "mnist", label_max=250, n_train=50)
    with pytest.raises(DatasetError, match=r"labels span .* outside \[0, 10\)"):
        load_dataset("mnist", tmp_path)


def test_wrong_array_kind_in_file(isolated: Path, tmp_path: Path, fake: Fake) -> None:
    fake(tmp_path / "mnist")
    write_idx(tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz", np.zeros((4, 6), dtype=np.uint8))
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte.gz: expected uint8 images \(N, H, W\)"):
        load_dataset("mnist", tmp_path)


def test_malformed_file_error_propagates(isolated: Path, tmp_path: Path, fake: Fake) -> None:
    fake(tmp_path / "mnist", gz=False)
    path = tmp_path / "mnist" / "train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(DatasetError, match="truncated") as info:
        load_dataset("mnist", tmp_path)
    assert str(path) in str(info.value)


def test_download_flag_fetches_then_loads(
    isolated: Path, tmp_path: Path, fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, object]] = []

    def fake_download(name: str, data_dir: object = None) -> Path:
        calls.append((name, data_dir))
        fake(tmp_path / "mnist")
        return tmp_path / "mnist"

    monkeypatch.setattr(datasets_module, "download_dataset", fake_download)
    with pytest.raises(DatasetNotFoundError):
        load_dataset("mnist", tmp_path)
    assert calls == []
    assert load_dataset("mnist", tmp_path, download=True).x_train.shape == (6, 3, 2)
    assert calls == [("mnist", tmp_path)]


def test_verify_reports_mismatch_and_unreadable(isolated: Path, tmp_path: Path, fake: Fake) -> None:
    fake(tmp_path / "mnist", gz=False)
    bad = tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(b"\x1f\x8b garbage")  # shadows the raw file: .gz is preferred
    checks = verify_dataset("mnist", tmp_path)
    assert [c.status for c in checks] == ["mismatch", "mismatch", "mismatch", "unreadable"]
    first = tmp_path / "mnist" / "train-images-idx3-ubyte"
    assert checks[0] == (str(first), "mismatch", hashlib.sha256(first.read_bytes()).hexdigest())
    assert checks[3].file == str(bad) and checks[3].sha256 == ""


def test_verify_not_found(isolated: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError):
        verify_dataset("mnist", tmp_path)


def test_dataset_is_frozen_and_validated() -> None:
    x = np.zeros((2, 3, 3), dtype=np.uint8)
    y = np.array([0, 1], dtype=np.int64)
    ds = Dataset("toy", x, y, x, y, 2, ("a", "b"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "other"  # type: ignore[misc]
    with pytest.raises(DatasetError, match="2 train images but 1 train labels"):
        Dataset("toy", x, y[:1], x, y, 2, ("a", "b"))
    with pytest.raises(DatasetError, match="y_test must be int64"):
        Dataset("toy", x, y, x, y.astype(np.int32), 2, ("a", "b"))
    with pytest.raises(DatasetError, match="class names"):
        Dataset("toy", x, y, x, y, 3, ("a", "b"))
    with pytest.raises(DatasetError, match="test images"):
        Dataset("toy", x, y, x[:, :2], y, 2, ("a", "b"))


def test_digits_split_is_deterministic_and_offline() -> None:
    from sklearn.datasets import load_digits

    ds = load_dataset("digits")
    assert ds.image_shape == (8, 8) and ds.n_classes == 10
    assert (ds.x_train.shape[0], ds.x_test.shape[0]) == (DIGITS_N_TRAIN, 1797 - DIGITS_N_TRAIN)
    assert ds.x_train.dtype == np.uint8 and ds.x_train.max() == 255 and ds.x_train.min() == 0
    target = load_digits().target
    np.testing.assert_array_equal(ds.y_train, target[:DIGITS_N_TRAIN])
    np.testing.assert_array_equal(ds.y_test, target[DIGITS_N_TRAIN:])
    np.testing.assert_array_equal(load_dataset("digits").x_test, ds.x_test)
    [check] = verify_dataset("digits")
    assert check.status == "ok" and check.file.endswith("digits.csv.gz")


MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.skipif(
    not os.environ.get(locate.ENV_VAR),
    reason="real MNIST test needs SPIKEFORGE_DATA (e.g. SPIKEFORGE_DATA=../shared/datasets, as CI sets it)",
)
def test_real_mnist_from_env() -> None:
    ds = load_dataset("mnist")
    assert ds.x_train.shape == (60000, 28, 28) and ds.x_test.shape == (10000, 28, 28)
    assert np.bincount(ds.y_train).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(ds.y_test).tolist() == MNIST_TEST_COUNTS
    assert ds.x_train.max() == 255
    assert [c.status for c in verify_dataset("mnist")] == ["ok"] * 4


@pytest.mark.skipif(
    not Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").is_file()
    and not os.environ.get(locate.ENV_VAR),
    reason="needs Fashion-MNIST: apt-get install dataset-fashion-mnist, or SPIKEFORGE_DATA/fashion-mnist",
)
def test_real_fashion_mnist() -> None:
    try:
        ds = load_dataset("fashion-mnist")
    except DatasetNotFoundError as exc:
        pytest.skip(f"Fashion-MNIST not installed: {exc}")
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    assert [c.status for c in verify_dataset("fashion-mnist")] == ["ok"] * 4
