"""Reading and writing IDX files, the container format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number ``0x00 0x00 <dtype code> <ndim>``, then ``ndim`` big-endian
``uint32`` dimension sizes, then the array data in C order and big-endian byte order. Files may be
gzip-compressed (detected from the content, not the file name).
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from spikeforge.fileio import atomic_output

__all__ = [
    "IDX_DTYPES",
    "DatasetError",
    "atomic_write_bytes",
    "encode_idx",
    "parse_idx",
    "read_idx",
    "write_idx",
]

#: IDX dtype code -> big-endian numpy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


class DatasetError(ValueError):
    """A data file or dataset is missing, malformed or inconsistent.

    The message always names the file (or dataset) and the problem.
    """


def _decompress(raw: bytes, source: str) -> bytes:
    """Return ``raw`` gunzipped if it starts with the gzip magic, else ``raw`` unchanged."""
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise DatasetError(f"{source}: corrupt or truncated gzip stream ({exc})") from exc


def parse_idx(data: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode the bytes of an uncompressed IDX file into an array.

    Parameters
    ----------
    data
        The complete, uncompressed file content.
    source
        Name used in error messages (normally the file path).

    Returns
    -------
    numpy.ndarray
        A writeable, C-contiguous array in native byte order whose dtype and shape are those
        declared in the header.

    Raises
    ------
    DatasetError
        If the header is truncated, the magic number is wrong, the dtype code is unknown, the
        number of dimensions is zero, or the payload is shorter (truncated) or longer (trailing
        bytes) than the header declares.
    """
    if len(data) < 4:
        raise DatasetError(f"{source}: truncated IDX file: {len(data)} bytes, shorter than the 4-byte magic")
    if data[0] != 0 or data[1] != 0:
        raise DatasetError(
            f"{source}: wrong magic number 0x{data[:4].hex()}: an IDX file starts with 0x0000 "
            "(is this an IDX file?)"
        )
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DatasetError(f"{source}: bad IDX dtype code 0x{code:02X} (known codes: {known})")
    if ndim == 0:
        raise DatasetError(f"{source}: IDX header declares 0 dimensions")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DatasetError(
            f"{source}: truncated IDX header: {ndim} dimensions need {header_len} bytes, file has {len(data)}"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = header_len + dtype.itemsize * int(np.prod(shape, dtype=object))
    if len(data) < expected:
        raise DatasetError(
            f"{source}: truncated IDX file: shape {shape} of {dtype.name} needs {expected} bytes, "
            f"file has {len(data)}"
        )
    if len(data) > expected:
        raise DatasetError(
            f"{source}: {len(data) - expected} trailing bytes after the IDX payload "
            f"(shape {shape} of {dtype.name} needs {expected} bytes)"
        )
    flat = np.frombuffer(data, dtype=dtype, offset=header_len)
    return flat.reshape(shape).astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file, raw or gzip-compressed, into an array.

    Parameters
    ----------
    path
        File to read. Compression is detected from the content (gzip magic ``1f 8b``).

    Returns
    -------
    numpy.ndarray
        The array stored in the file, in native byte order, with the header's dtype and shape
        (e.g. ``uint8`` of shape ``(60000, 28, 28)`` for MNIST training images).

    Raises
    ------
    DatasetError
        If the file cannot be read or is not a well-formed IDX file; the message names the file.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{p}: cannot read file ({exc.strerror or exc})") from exc
    return parse_idx(_decompress(raw, str(p)), str(p))


def _idx_code(dtype: np.dtype) -> int:
    """Return the IDX dtype code for ``dtype`` (byte order ignored)."""
    for code, idx_dtype in IDX_DTYPES.items():
        if idx_dtype.kind == dtype.kind and idx_dtype.itemsize == dtype.itemsize:
            return code
    supported = ", ".join(d.newbyteorder("=").name for d in IDX_DTYPES.values())
    raise ValueError(f"dtype {dtype} cannot be stored in IDX (supported: {supported})")


def encode_idx(array: np.ndarray) -> bytes:
    """Return the uncompressed IDX encoding of ``array``.

    Parameters
    ----------
    array
        Array with 1 to 255 dimensions, each smaller than 2**32, of a dtype listed in
        :data:`IDX_DTYPES` (uint8, int8, int16, int32, float32, float64).

    Returns
    -------
    bytes
        Magic number, big-endian dimension sizes, then the big-endian C-order payload.
    """
    a = np.asarray(array)
    code = _idx_code(a.dtype)
    if not 1 <= a.ndim <= 255:
        raise ValueError(f"IDX stores arrays with 1 to 255 dimensions, got {a.ndim}")
    if any(d >= 2**32 for d in a.shape):
        raise ValueError(f"IDX dimension sizes must be < 2**32, got shape {a.shape}")
    header = bytes([0, 0, code, a.ndim]) + np.asarray(a.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(a, dtype=IDX_DTYPES[code]).tobytes()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then ``os.replace``).

    Readers see either the old file or the complete new one, never a partial file; on error the
    temporary file is removed.
    """
    p = Path(path)
    with atomic_output(p) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write ``array`` to ``path`` as an IDX file, atomically.

    Parameters
    ----------
    path
        Destination. A name ending in ``.gz`` is gzip-compressed (with a zero timestamp, so the
        output is byte-for-byte reproducible); any other name is written uncompressed.
    array
        Array to store; see :func:`encode_idx` for the supported dtypes and shapes.

    Raises
    ------
    ValueError
        If the dtype or shape cannot be represented in IDX.
    """
    p = Path(path)
    data = encode_idx(array)
    if p.name.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    atomic_write_bytes(p, data)
