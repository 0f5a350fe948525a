"""Where dataset files are looked for.

Data roots, in order of precedence:

1. the explicit ``data_dir`` argument (CLI ``--data-dir``);
2. the environment variable ``SPIKEFORGE_DATA`` (several roots may be separated by ``os.pathsep``);
3. the per-user cache, ``$XDG_CACHE_HOME/spikeforge`` or ``~/.cache/spikeforge``.

A dataset's files are looked for in ``ROOT/<dataset name>/`` (``ROOT/mnist/``,
``ROOT/fashion-mnist/``) of each root in turn, then in system folders (Fashion-MNIST:
``/usr/share/datasets/fashion-mnist/``, installed by the Debian package ``dataset-fashion-mnist``).
The first folder holding all four files wins. Each file may be gzipped (``NAME.gz``, preferred) or raw.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from ._specs import IDX_FILES, canonical_name
from .idx import DatasetError

__all__ = [
    "ENV_VAR",
    "SYSTEM_DIRS",
    "DatasetNotFoundError",
    "SearchPlace",
    "data_roots",
    "default_download_dir",
    "find_idx_file",
    "locate_dataset",
    "search_places",
    "user_cache_dir",
]

#: Environment variable naming the data root(s).
ENV_VAR = "SPIKEFORGE_DATA"

#: Dataset name -> system-wide folders searched after the data roots.
SYSTEM_DIRS: dict[str, tuple[Path, ...]] = {
    "fashion-mnist": (Path("/usr/share/datasets/fashion-mnist"),),
}

_SYSTEM_ORIGIN = {"fashion-mnist": "Debian package dataset-fashion-mnist"}


class DataDirWarning(UserWarning):
    """An explicit data directory does not exist; the dataset was found further down the search path."""


class DatasetNotFoundError(DatasetError):
    """No searched folder holds a complete copy of the requested dataset."""


@dataclass(frozen=True)
class SearchPlace:
    """One folder searched for a dataset, with where it came from (for error messages)."""

    path: Path
    origin: str


def _absolute(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` with ``~`` expanded, made absolute and normalised (symlinks kept)."""
    return Path(os.path.abspath(os.path.expanduser(path)))


def user_cache_dir() -> Path:
    """Return the per-user cache root: ``$XDG_CACHE_HOME/spikeforge``, else ``~/.cache/spikeforge``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "spikeforge"


def data_roots(data_dir: str | os.PathLike[str] | None = None) -> list[SearchPlace]:
    """List the data roots in order of precedence.

    Parameters
    ----------
    data_dir
        Explicit root (CLI ``--data-dir``); searched first when given.

    Returns
    -------
    list of SearchPlace
        ``data_dir`` (if given), each entry of ``$SPIKEFORGE_DATA`` (if set), then the user cache.
        Relative paths are resolved against the current directory.
    """
    roots: list[SearchPlace] = []
    if data_dir is not None:
        roots.append(SearchPlace(_absolute(data_dir), "data_dir / --data-dir"))
    for entry in os.environ.get(ENV_VAR, "").split(os.pathsep):
        if entry.strip():
            roots.append(SearchPlace(_absolute(entry.strip()), f"${ENV_VAR}"))
    roots.append(SearchPlace(user_cache_dir(), "user cache"))
    return roots


def search_places(name: str, data_dir: str | os.PathLike[str] | None = None) -> list[SearchPlace]:
    """List, in order, every folder searched for dataset ``name``.

    Returns
    -------
    list of SearchPlace
        ``ROOT/<name>`` for each root of :func:`data_roots`, then the dataset's system folders.
    """
    name = canonical_name(name)
    places = [SearchPlace(root.path / name, root.origin) for root in data_roots(data_dir)]
    origin = _SYSTEM_ORIGIN.get(name, "system folder")
    places.extend(SearchPlace(p, origin) for p in SYSTEM_DIRS.get(name, ()))
    return places


def default_download_dir(name: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder downloads of ``name`` go to: ``ROOT/<name>`` of the first data root."""
    return data_roots(data_dir)[0].path / canonical_name(name)


def find_idx_file(directory: Path, filename: str) -> Path | None:
    """Return ``directory/filename.gz`` if it is a file, else ``directory/filename``, else ``None``."""
    for candidate in (directory / f"{filename}.gz", directory / filename):
        if candidate.is_file():
            return candidate
    return None


def _diagnose(place: SearchPlace) -> tuple[dict[str, Path] | None, str]:
    """Return (the files, "") if ``place`` holds all four, else (None, why not)."""
    if not place.path.is_dir():
        return None, "no such folder" if not place.path.exists() else "not a folder"
    found = {f: find_idx_file(place.path, f) for f in IDX_FILES.values()}
    missing = [f"{f}[.gz]" for f, p in found.items() if p is None]
    if missing:
        return None, "missing " + ", ".join(missing)
    return {f: p for f, p in found.items() if p is not None}, ""


def locate_dataset(name: str, data_dir: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Find the four IDX files of an MNIST-layout dataset.

    Parameters
    ----------
    name
        ``"mnist"`` or ``"fashion-mnist"`` (aliases accepted).
    data_dir
        Explicit data root, searched first.

    Returns
    -------
    dict
        Canonical file name (e.g. ``"train-images-idx3-ubyte"``) -> path of the file found, all four
        from the first folder of :func:`search_places` that holds the complete set.

    Raises
    ------
    DatasetNotFoundError
        If no folder holds all four files. The message lists every folder searched, why each was
        rejected, and how to fix it.
    """
    name = canonical_name(name)
    report: list[str] = []
    hints: list[str] = []
    for place in search_places(name, data_dir):
        files, why = _diagnose(place)
        if files is not None:
            if data_dir is not None and not Path(data_dir).is_dir():
                warnings.warn(f"data directory {data_dir} does not exist; {name} was found in {place.path} "
                              f"({place.origin}) instead", DataDirWarning, stacklevel=2)
            return files
        report.append(f"  - {place.path}  ({place.origin}): {why}")
        root = place.path.parent
        if place.origin != _SYSTEM_ORIGIN.get(name) and find_idx_file(root, IDX_FILES["train_images"]):
            hints.append(f"note: {root} holds IDX files directly; move them into {place.path}/")
    if not os.environ.get(ENV_VAR, "").strip():
        report.append(f"  (${ENV_VAR} is not set)")
    fix = [
        f"To fix: put the four files in ROOT/{name}/ and set {ENV_VAR}=ROOT, or pass --data-dir ROOT",
        f"(data_dir=ROOT in Python), or download them: spikeforge data download {name}",
        f"(load_dataset({name!r}, download=True) in Python).",
    ]
    if name == "fashion-mnist":
        fix.append("On Debian/Ubuntu: apt-get install dataset-fashion-mnist.")
    lines = [
        f"dataset {name!r} not found; looked for {', '.join(f + '[.gz]' for f in IDX_FILES.values())} in:",
        *report,
        *hints,
        *fix,
    ]
    raise DatasetNotFoundError("\n".join(lines))
