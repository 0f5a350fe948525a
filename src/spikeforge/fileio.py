"""Atomic output files: readers see the old file or the complete new one, never a half-written one.

Every file spikeforge writes (deployments, models, checkpoints, results, reports, plots) goes through a
temporary file in the destination's folder, renamed over the destination with :func:`os.replace` only once
it is complete; on any error (or Ctrl-C) the temporary file is removed and the destination is untouched.
The finished file gets the permissions a plain ``open(path, "w")`` would give it (``0o666`` less the umask),
or keeps those of the file it replaces — not the owner-only ``0o600`` of a temporary file.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["atomic_output", "output_mode", "torch_save_atomic", "write_json_atomic", "write_text_atomic"]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def output_mode(path: str | os.PathLike[str]) -> int:
    """The mode ``path`` would have if written in place: its current one, else ``0o666 & ~umask``."""
    try:
        return Path(path).stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path (same folder, same suffix, so writers that infer a format from the name still
    work) to write; on success it replaces ``path``, on error it is deleted. Creates the parent folder."""
    p = Path(path)
    if p.is_dir():  # refuse before anything is written, naming the destination (not the temporary file)
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file to write (name a file, e.g. one inside it)",
                                str(p))
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.stem}.", suffix=f".tmp{p.suffix}", dir=p.parent)
    except OSError as e:  # name the file the caller asked for, not the temporary one
        raise _renamed(e, path=p) from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, output_mode(p))
        os.replace(tmp, p)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        if tmp in (e.filename, getattr(e, "filename2", None)):
            raise _renamed(e, path=p) from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _renamed(e: OSError, *, path: Path) -> OSError:
    """``e`` as if raised for ``path`` (the destination) rather than for the temporary file."""
    return e if e.errno is None else type(e)(e.errno, e.strerror, str(path))


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically (numpy scalars as numbers, other objects as
    strings)."""
    text = json.dumps(data, indent=2, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    write_text_atomic(path, text + "\n")


def torch_save_atomic(obj: Any, path: str | os.PathLike[str]) -> None:
    """``torch.save(obj, path)`` atomically."""
    import torch

    with atomic_output(path) as tmp:
        torch.save(obj, tmp)


def file_digest(path: str | os.PathLike[str]) -> str:
    """sha256 (first 16 hex digits) of a file's bytes, read in blocks; ``"missing"`` if there is none."""
    import hashlib

    p = Path(path)
    if not p.is_file():
        return "missing"
    h = hashlib.sha256()
    with p.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]
