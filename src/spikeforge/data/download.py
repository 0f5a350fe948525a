"""Checksum-verified download of MNIST and Fashion-MNIST from public mirrors.

Every file is streamed into a temporary file next to its destination, its *uncompressed* content is
checked against the canonical SHA-256, and only then is it moved into place with ``os.replace``. A
failed or corrupt download therefore never leaves a partial file behind. Mirrors are tried in order.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import tempfile
import urllib.request
import zlib
from collections.abc import Sequence
from pathlib import Path

from spikeforge.fileio import output_mode

from ._specs import IDX_FILES, SPECS, canonical_name
from .idx import DatasetError
from .locate import default_download_dir, find_idx_file

__all__ = ["MAX_DOWNLOAD_BYTES", "DownloadError", "download_dataset", "fetch_verified", "uncompressed_sha256"]

#: Refuse responses larger than this (the largest canonical file is ~26 MiB gzipped).
MAX_DOWNLOAD_BYTES = 256 * 2**20
_CHUNK = 2**20
_USER_AGENT = "spikeforge-data/0.1 (+https://pypi.org/project/spikeforge/)"


class DownloadError(DatasetError):
    """Every mirror failed for a file (network error or checksum mismatch)."""


def uncompressed_sha256(path: str | os.PathLike[str]) -> str:
    """Compute the SHA-256 hex digest of a file's content after gunzipping it if it is gzipped.

    Parameters
    ----------
    path
        File to hash; gzip is detected from the content (magic ``1f 8b``), not the name.

    Returns
    -------
    str
        64-character lowercase hex digest of the uncompressed bytes.

    Raises
    ------
    DatasetError
        If the file cannot be read or its gzip stream is corrupt or truncated.
    """
    p = Path(path)
    digest = hashlib.sha256()
    try:
        with p.open("rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DatasetError(f"{p}: corrupt or truncated gzip stream ({exc})") from exc
    except OSError as exc:
        raise DatasetError(f"{p}: cannot read file ({exc.strerror or exc})") from exc
    return digest.hexdigest()


def _stream(url: str, tmp: Path, timeout: float) -> None:
    """Stream ``url`` into the file ``tmp`` (truncating it), refusing over-large responses."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    total = 0
    with urllib.request.urlopen(request, timeout=timeout) as response, tmp.open("wb") as out:
        while chunk := response.read(_CHUNK):
            total += len(chunk)
            if total > MAX_DOWNLOAD_BYTES:
                raise DatasetError(f"response larger than {MAX_DOWNLOAD_BYTES} bytes")
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())


def fetch_verified(
    urls: Sequence[str], dest: str | os.PathLike[str], sha256: str, *, timeout: float = 60.0
) -> Path:
    """Download the first URL whose uncompressed content has the expected SHA-256 to ``dest``.

    Parameters
    ----------
    urls
        Candidate URLs (mirrors of the same file), tried in order.
    dest
        Final path. Its folder must exist. The bytes are stored as served (gzipped or not).
    sha256
        Expected SHA-256 hex digest of the *uncompressed* content.
    timeout
        Socket timeout in seconds for each request.

    Returns
    -------
    pathlib.Path
        ``dest``, which now holds verified content.

    Raises
    ------
    DownloadError
        If every URL failed; the message lists each URL and its failure. ``dest`` is left untouched
        and no temporary file remains.
    """
    dest = Path(dest)
    failures: list[str] = []
    for url in urls:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            _stream(url, tmp, timeout)
            got = uncompressed_sha256(tmp)
            if got != sha256.lower():
                failures.append(f"  - {url}: checksum mismatch (sha256 {got}, expected {sha256})")
                continue
            os.chmod(tmp, output_mode(dest))  # not mkstemp's owner-only mode
            os.replace(tmp, dest)
            return dest
        except (OSError, ValueError, http.client.HTTPException) as exc:  # URLError, DatasetError included
            failures.append(f"  - {url}: {exc}")
        finally:
            tmp.unlink(missing_ok=True)
    raise DownloadError(f"could not download {dest.name} into {dest.parent}; every mirror failed:\n"
                        + "\n".join(failures))


def download_dataset(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    timeout: float = 60.0,
) -> Path:
    """Download the four IDX files of ``name`` into ``ROOT/<name>/`` and verify them.

    Parameters
    ----------
    name
        ``"mnist"`` or ``"fashion-mnist"`` (aliases accepted).
    data_dir
        Root to download into; default: the first root of :func:`~spikeforge.data.locate.data_roots`
        (``$SPIKEFORGE_DATA`` if set, else the user cache).
    force
        Download even files already present with the right checksum.
    timeout
        Socket timeout in seconds for each request.

    Returns
    -------
    pathlib.Path
        The folder holding the verified files (``NAME.gz`` for each canonical name).

    Raises
    ------
    DownloadError
        If a file could not be obtained from any mirror with the canonical checksum.
    DatasetError
        If ``name`` is unknown or has nothing to download (scikit-learn's digits are bundled).
    """
    name = canonical_name(name)
    if name not in SPECS:
        raise DatasetError(f"dataset {name!r} is bundled with its library; there is nothing to download")
    spec = SPECS[name]
    folder = default_download_dir(name, data_dir)
    created = [d for d in (folder, *folder.parents) if not d.exists()]  # innermost first
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for filename in IDX_FILES.values():
            expected = spec.sha256[filename]
            present = find_idx_file(folder, filename)
            if present is not None and not force:
                try:
                    if uncompressed_sha256(present) == expected:
                        continue
                except DatasetError:
                    pass
            urls = [f"{base.rstrip('/')}/{filename}.gz" for base in spec.mirrors]
            fetch_verified(urls, folder / f"{filename}.gz", expected, timeout=timeout)
    except BaseException:
        for d in created:  # leave no empty folders behind a failed download
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()
        raise
    return folder
