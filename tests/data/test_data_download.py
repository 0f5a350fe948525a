"""Checksum-verified download, with urllib replaced by a fake server (no network in tests)."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from spikeforge.data import (
    DatasetError,
    DownloadError,
    _specs,
    download_dataset,
    fetch_verified,
    load_dataset,
)
from spikeforge.data.download import uncompressed_sha256
from spikeforge.data.idx import encode_idx

RAW = encode_idx(np.arange(20, dtype=np.uint8).reshape(5, 2, 2))
RAW_SHA = hashlib.sha256(RAW).hexdigest()


class FakeServer:
    """Stands in for ``urllib.request.urlopen``: serves ``routes[url]`` bytes or raises them."""

    def __init__(self, routes: dict[str, bytes | Exception]) -> None:
        self.routes = routes
        self.requested: list[str] = []

    def __call__(self, request: urllib.request.Request, timeout: float | None = None) -> io.BytesIO:
        url = request.full_url
        self.requested.append(url)
        answer = self.routes.get(url, urllib.error.HTTPError(url, 404, "Not Found", None, None))  # type: ignore[arg-type]
        if isinstance(answer, Exception):
            raise answer
        return io.BytesIO(answer)


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, bytes | Exception]], FakeServer]:
    def install(routes: dict[str, bytes | Exception]) -> FakeServer:
        server = FakeServer(routes)
        monkeypatch.setattr(urllib.request, "urlopen", server)
        return server

    return install


def test_uncompressed_sha256_ignores_compression(tmp_path: Path) -> None:
    (tmp_path / "raw").write_bytes(RAW)
    (tmp_path / "z.gz").write_bytes(gzip.compress(RAW))
    assert uncompressed_sha256(tmp_path / "raw") == uncompressed_sha256(tmp_path / "z.gz") == RAW_SHA


def test_fetch_verified_good_file(tmp_path: Path, serve: Callable[..., FakeServer]) -> None:
    serve({"https://m/a.gz": gzip.compress(RAW)})
    dest = fetch_verified(["https://m/a.gz"], tmp_path / "a.gz", RAW_SHA)
    assert gzip.decompress(dest.read_bytes()) == RAW
    assert os.listdir(tmp_path) == ["a.gz"]


def test_bad_checksum_is_rejected_and_leaves_nothing(
    tmp_path: Path, serve: Callable[..., FakeServer]
) -> None:
    tampered = bytearray(RAW)
    tampered[-1] ^= 1
    server = serve(
        {"https://m1/a.gz": gzip.compress(bytes(tampered)), "https://m2/a.gz": b"\x1f\x8bnot gzip"}
    )
    with pytest.raises(DownloadError) as info:
        fetch_verified(["https://m1/a.gz", "https://m2/a.gz"], tmp_path / "a.gz", RAW_SHA)
    msg = str(info.value)
    assert "https://m1/a.gz: checksum mismatch" in msg and "https://m2/a.gz" in msg
    assert server.requested == ["https://m1/a.gz", "https://m2/a.gz"]
    assert os.listdir(tmp_path) == []  # neither the destination nor a temporary file


def test_existing_file_untouched_when_download_fails(
    tmp_path: Path, serve: Callable[..., FakeServer]
) -> None:
    (tmp_path / "a.gz").write_bytes(b"old")
    serve({"https://m/a.gz": b"wrong"})
    with pytest.raises(DownloadError):
        fetch_verified(["https://m/a.gz"], tmp_path / "a.gz", RAW_SHA)
    assert (tmp_path / "a.gz").read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["a.gz"]


def test_falls_back_to_next_mirror(tmp_path: Path, serve: Callable[..., FakeServer]) -> None:
    server = serve(
        {"https://m1/a.gz": urllib.error.URLError("no route"), "https://m2/a.gz": gzip.compress(RAW)}
    )
    fetch_verified(["https://m1/a.gz", "https://m2/a.gz"], tmp_path / "a.gz", RAW_SHA)
    assert server.requested == ["https://m1/a.gz", "https://m2/a.gz"]


def test_download_dataset_uses_mirrors_and_skips_verified_files(
    isolated: Path, tmp_path: Path, serve: Callable[..., FakeServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    contents = {
        f: encode_idx(np.full((3, 2, 2) if "images" in f else (3,), i, dtype=np.uint8))
        for i, f in enumerate(_specs.IDX_FILES.values())
    }
    spec = dataclasses.replace(
        _specs.SPECS["mnist"], sha256={f: hashlib.sha256(c).hexdigest() for f, c in contents.items()}
    )
    monkeypatch.setitem(_specs.SPECS, "mnist", spec)
    base = spec.mirrors[1]
    server = serve({f"{base}{f}.gz": gzip.compress(c) for f, c in contents.items()})
    folder = download_dataset("mnist", tmp_path)
    assert folder == tmp_path / "mnist"
    assert sorted(os.listdir(folder)) == sorted(f"{f}.gz" for f in contents)
    assert len(server.requested) == 8  # first mirror 404s, second serves each file
    server.requested.clear()
    download_dataset("mnist", tmp_path)
    assert server.requested == []  # all present and verified
    assert load_dataset("mnist", tmp_path).y_test.tolist() == [3, 3, 3]


def test_load_with_download_rejects_bad_checksum(
    isolated: Path, tmp_path: Path, serve: Callable[..., FakeServer]
) -> None:
    base = _specs.SPECS["fashion-mnist"].mirrors[0]
    serve({f"{base}{f}.gz": gzip.compress(RAW) for f in _specs.IDX_FILES.values()})
    with pytest.raises(DownloadError, match="checksum mismatch"):
        load_dataset("fashion-mnist", tmp_path, download=True)
    assert os.listdir(tmp_path) == []  # nothing kept, not even the empty folder


def test_download_goes_to_env_root_then_cache(
    isolated: Path, tmp_path: Path, serve: Callable[..., FakeServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve({})
    with pytest.raises(DownloadError, match=f"into {isolated / 'mnist'}; every mirror failed"):
        download_dataset("mnist")
    assert server.requested and not isolated.exists()  # a failed download leaves no empty folders behind
    monkeypatch.setenv("SPIKEFORGE_DATA", str(tmp_path / "env"))
    (tmp_path / "env").mkdir()
    with pytest.raises(DownloadError, match=str(tmp_path / "env" / "mnist")):
        download_dataset("mnist")
    assert os.listdir(tmp_path / "env") == []  # the root existed before: it stays, empty


def test_digits_has_nothing_to_download() -> None:
    with pytest.raises(DatasetError, match="nothing to download"):
        download_dataset("digits")
