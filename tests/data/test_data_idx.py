"""IDX reader/writer: round trip, compression detection and every malformed-file error."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from spikeforge.data import DatasetError, read_idx, write_idx
from spikeforge.data import idx as idx_module
from spikeforge.data.idx import encode_idx

IDX_NATIVE_DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    array=st.sampled_from(IDX_NATIVE_DTYPES).flatmap(
        lambda dt: hnp.arrays(
            dtype=dt, shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5)
        )
    ),
    gz=st.booleans(),
)
def test_write_read_round_trip(tmp_path: Path, array: np.ndarray, gz: bool) -> None:
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == array.dtype.newbyteorder("=")
    assert back.shape == array.shape
    assert back.tobytes() == np.ascontiguousarray(array).tobytes()  # bitwise, so NaNs compare equal
    assert back.flags.writeable and back.flags.c_contiguous


def test_big_endian_input_and_header_layout(tmp_path: Path) -> None:
    a = np.arange(6, dtype=">i2").reshape(2, 3)
    data = encode_idx(a)
    assert data[:4] == bytes([0, 0, 0x0B, 2])
    assert data[4:12] == (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    write_idx(tmp_path / "x", a)
    np.testing.assert_array_equal(read_idx(tmp_path / "x"), np.arange(6).reshape(2, 3))


def test_compression_detected_from_content_not_name(tmp_path: Path) -> None:
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    (tmp_path / "gz-without-suffix").write_bytes(gzip.compress(encode_idx(a)))
    (tmp_path / "raw-with-suffix.gz").write_bytes(encode_idx(a))
    np.testing.assert_array_equal(read_idx(tmp_path / "gz-without-suffix"), a)
    np.testing.assert_array_equal(read_idx(tmp_path / "raw-with-suffix.gz"), a)


def test_gz_output_is_reproducible(tmp_path: Path) -> None:
    a = np.ones((2, 2), dtype=np.uint8)
    write_idx(tmp_path / "a.gz", a)
    write_idx(tmp_path / "b.gz", a)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


GOOD = encode_idx(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "truncated"),
        (b"\x00\x00\x08", "truncated"),
        (b"\x1f\x00\x08\x01" + GOOD[4:], "wrong magic"),
        (b"\x00\x01\x08\x03" + GOOD[4:], "wrong magic"),
        (b"\x00\x00\x07\x03" + GOOD[4:], "bad IDX dtype code 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (GOOD[:10], "truncated IDX header"),
        (GOOD[:-1], "truncated"),
        (GOOD[:16], "truncated"),
        (GOOD + b"\x00\x00", "2 trailing bytes"),
        (gzip.compress(GOOD)[:-8], "gzip"),
        (gzip.compress(GOOD)[:20], "gzip"),
    ],
    ids=[
        "empty",
        "short-magic",
        "magic-byte0",
        "magic-byte1",
        "dtype-code",
        "ndim-0",
        "short-header",
        "short-payload-by-1",
        "header-only",
        "trailing",
        "gzip-no-trailer",
        "gzip-truncated",
    ],
)
def test_malformed_files_raise_dataset_error_naming_file(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / "broken-idx"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=problem) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="cannot read") as info:
        read_idx(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(info.value)


@pytest.mark.parametrize("array", [np.zeros(3, dtype=np.int64), np.zeros(3, dtype=bool), np.float64(1.0)])
def test_write_rejects_unrepresentable_arrays(tmp_path: Path, array: np.ndarray) -> None:
    with pytest.raises(ValueError):
        write_idx(tmp_path / "x", array)
    assert list(tmp_path.iterdir()) == []


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.idx"
    write_idx(path, np.zeros(3, dtype=np.uint8))
    before = path.read_bytes()

    def failing_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(idx_module.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_idx(path, np.ones(5, dtype=np.uint8))
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["x.idx"]  # no temporary file left behind
