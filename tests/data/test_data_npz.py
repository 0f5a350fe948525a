"""Your own data as a .npz file: reading, conversions, errors, and use through recipes and the CLI."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from spikeforge.cli import main
from spikeforge.data import DatasetError, load_dataset, load_npz_dataset, save_npz_dataset
from spikeforge.deploy import load


def _arrays(n_train: int = 12, n_test: int = 6, shape: tuple[int, int] = (5, 4)) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"x_train": rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
            "y_train": np.arange(n_train) % 3, "x_test": rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
            "y_test": np.arange(n_test) % 3}


def _npz(tmp_path: Path, name: str = "mine.npz", **arrays: np.ndarray) -> Path:
    p = tmp_path / name
    np.savez(p, **arrays)
    return p


def test_a_npz_dataset_reads_like_a_shipped_one(tmp_path: Path) -> None:
    a = _arrays()
    ds = load_dataset(str(_npz(tmp_path, **a)))
    assert ds.name == "mine" and ds.n_classes == 3 and ds.classes == ("0", "1", "2")
    assert np.array_equal(ds.x_train, a["x_train"]) and ds.y_train.dtype == np.int64
    assert np.array_equal(ds.y_test, a["y_test"])


def test_round_trip_with_class_names(tmp_path: Path) -> None:
    digits = load_dataset("digits")
    back = load_npz_dataset(save_npz_dataset(digits, tmp_path / "digits-copy.npz"))
    assert back.name == "digits-copy" and back.classes == digits.classes and back.n_classes == 10
    for k in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(back, k), getattr(digits, k)), k
    with pytest.raises(ValueError, match=r"must end in \.npz"):
        save_npz_dataset(digits, tmp_path / "x.bin")


def test_float_bool_and_channel_images_are_converted(tmp_path: Path) -> None:
    a = _arrays()
    ds = load_npz_dataset(_npz(tmp_path, x_train=a["x_train"] / 255.0, y_train=a["y_train"].astype(np.float32),
                               x_test=a["x_test"][:, None] > 127, y_test=a["y_test"].astype(np.int16),
                               classes=np.array(["a", "b", "c"])))
    assert np.array_equal(ds.x_train, a["x_train"])  # round(x * 255) recovers the bytes
    assert set(np.unique(ds.x_test)) <= {0, 255} and ds.x_test.shape == (6, 5, 4)
    assert ds.classes == ("a", "b", "c") and ds.y_train.dtype == np.int64
    last = load_npz_dataset(_npz(tmp_path, "b.npz", **{**a, "x_test": a["x_test"][..., None]}))
    assert np.array_equal(last.x_test, a["x_test"])


@pytest.mark.parametrize(("change", "match"), [
    ({"x_test": None}, r"missing array\(s\) \['x_test'\]"),
    ({"x_train": np.full((12, 5, 4), np.nan)}, r"x_train: 240 non-finite value\(s\)"),
    ({"x_train": np.full((12, 5, 4), 1.5)}, r"x_train: float images must lie in \[0, 1\]"),
    ({"x_train": np.full((12, 5, 4), 300, np.int32)}, r"x_train: integer images must lie in 0..255"),
    ({"x_train": np.zeros((12, 5, 4, 3), np.uint8)}, r"x_train: expected grayscale images \(N, H, W\)"),
    ({"x_test": np.zeros((6, 4, 4), np.uint8)}, r"x_train images are \(5, 4\) but x_test images are \(4, 4\)"),
    ({"y_train": np.full(12, 0.5)}, "y_train: labels must be whole numbers"),
    ({"y_train": -np.ones(12, int)}, "y_train: negative label -1"),
    ({"y_train": np.full(12, 1e20)}, "y_train: label 1e[+]20 is far beyond any class index"),
    ({"y_train": np.full(12, 2**63 + 5, np.uint64)}, "y_train: label 9223372036854775813 is far beyond"),
    ({"y_train": np.zeros((12, 2), int)}, r"y_train: expected labels \(N,\)"),
    ({"y_train": np.zeros(11, int)}, "12 train images but 11 train labels"),  # from the Dataset checks
    ({"classes": np.array(["a", "b"])}, "label 2 but only 2 class names"),
    ({"classes": np.arange(3)}, "classes must be a 1-D array of strings"),
    ({"x_train": np.ones((12, 5, 4), np.int64)}, "x_train: int64 images hold only 0 and 1, which integer images"),
    ({"x_test": np.eye(5, 4, dtype=np.uint8)[None].repeat(6, 0)}, "x_test: uint8 images hold only 0 and 1"),
    ({"x_train": np.zeros((0, 5, 4), np.uint8), "y_train": np.zeros(0, int)}, "x_train holds no images"),
])
def test_bad_arrays_are_named(tmp_path: Path, change: dict[str, np.ndarray | None], match: str) -> None:
    a = {**_arrays(), **change}
    path = _npz(tmp_path, **{k: v for k, v in a.items() if v is not None})
    with pytest.raises(DatasetError, match=match) as err:
        load_npz_dataset(path)
    assert str(path) in str(err.value)  # the file, not only the dataset's name


def test_unreadable_and_pickled_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(str(tmp_path / "none.npz"))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DatasetError, match=r"bad\.npz: not a \.npz file \(a zip archive of \.npy arrays"):
        load_npz_dataset(bad)
    np.save(tmp_path / "one.npy", np.zeros(3))  # a lone .npy saved under a .npz name: no pickle advice
    (tmp_path / "one.npy").rename(tmp_path / "one.npz")
    with pytest.raises(DatasetError, match=r"not a \.npz file"):
        load_npz_dataset(tmp_path / "one.npz")
    a = _arrays()
    objs = _npz(tmp_path, "obj.npz", **{**a, "y_train": np.array([{"x": 1}] * 12, dtype=object)})
    with pytest.raises(DatasetError, match=r"not a readable \.npz dataset"):  # allow_pickle=False
        load_npz_dataset(objs)


def test_fingerprint_follows_the_content(tmp_path: Path) -> None:
    a = _arrays()
    ds = load_npz_dataset(_npz(tmp_path, **a))
    assert ds.source == str(tmp_path / "mine.npz") and load_dataset("digits").source == ""
    same = load_npz_dataset(_npz(tmp_path, "other-name.npz", **a))
    assert same.fingerprint() == ds.fingerprint() and len(ds.fingerprint()) == 16
    flipped = load_npz_dataset(_npz(tmp_path, "mine.npz", **{**a, "y_train": 2 - a["y_train"]}))
    assert flipped.name == ds.name and flipped.fingerprint() != ds.fingerprint()


def test_a_checkpoint_of_other_data_under_the_same_name_is_not_resumed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Edit your .npz file and rerun into the same folder: training starts afresh, it does not resume."""
    digits = load_dataset("digits")
    path = save_npz_dataset(digits, tmp_path / "d.npz")
    args = ["run", "binary-small", "--out", str(tmp_path / "o"), "--no-report", "--json",
            "--set", f"data.dataset={path}", "--set", "train.epochs=1", "--set", "network.window=8",
            "--set", "network.name=d", "--set", "network.stride=8", "--set", "network.input_neurons=16",
            "--set", "network.output_neurons=50"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 0  # the same data: the finished checkpoint is resumed, nothing retrained
    assert "resumed from" in capsys.readouterr().err
    flipped = dataclasses.replace(digits, y_train=(digits.y_train + 1) % 10)
    save_npz_dataset(flipped, path)
    assert main(args) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "was written with other settings" in err and "resumed from" not in err


def test_recipes_and_the_cli_take_npz_datasets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save_npz_dataset(load_dataset("digits"), tmp_path / "my-digits.npz")
    recipe = tmp_path / "r.toml"
    recipe.write_text('name = "r"\nmethod = "template"\n[data]\ndataset = "my-digits.npz"\n'
                      '[encoding]\nkind = "threshold"\nticks = 1\nthreshold = 0.3\n')
    assert main(["run", str(recipe), "--out", str(tmp_path / "o"), "--json"]) == 0  # the report too
    res = json.loads(capsys.readouterr().out)
    plain = main(["run", "template-digits", "--out", str(tmp_path / "p"), "--json", "--no-report"])
    assert plain == 0
    ref = json.loads(capsys.readouterr().out)
    assert res["accuracy"] == ref["accuracy"] and res["dataset"] == "my-digits"
    dep = str(tmp_path / "o" / "deployment.sfd")
    assert load(dep).provenance["dataset"] == "my-digits"
    assert main(["simulate", dep, "-d", str(tmp_path / "my-digits.npz"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == ref["accuracy"]
    assert main(["simulate", dep, "-d", str(tmp_path / "nope.npz")]) == 2
    assert "nope.npz does not exist" in " ".join(capsys.readouterr().err.split())


def test_data_verify_checks_and_summarises_a_npz_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _npz(tmp_path, **_arrays())
    assert main(["data", "verify", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["status"] == "ok" and info["train"] == 12 and info["shape"] == [5, 4]
    assert info["train_per_class"] == [4, 4, 4] and info["classes"] == ["0", "1", "2"]
    assert main(["data", "verify", str(path)]) == 0
    assert "12 train / 6 test images of 5x4, 3 classes" in " ".join(capsys.readouterr().out.split())
    bad = _npz(tmp_path, "bad.npz", **{**_arrays(), "x_train": np.full((12, 5, 4), np.nan)})
    assert main(["data", "verify", str(bad)]) == 2
    assert "non-finite" in capsys.readouterr().err
    assert main(["data", "download", str(path)]) == 2
    assert "use: spikeforge data verify" in " ".join(capsys.readouterr().err.split())
