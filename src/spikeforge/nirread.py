"""Reading a NIR (HDF5) file in a child process, so that a damaged file cannot hang the caller.

HDF5 has no checksums, and some single flipped bytes make the HDF5 library loop forever in C code, where
neither Ctrl-C nor a timeout in the reading process can stop it. The child is a plain ``python -m
spikeforge.nirread FILE`` (not ``multiprocessing``, which would re-run an unguarded user script) that imports
only ``nir`` and hands the graph back pickled on its stdout.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["NIRReadError", "read_graph", "read_timeout_s"]


class NIRReadError(ValueError):
    """The file is not a readable NIR graph, or reading it did not finish."""


def read_timeout_s(path: str | os.PathLike[str]) -> float:
    """How long reading ``path`` may take before it counts as stuck: 60 s, plus 1 s per MB."""
    return 60.0 + Path(path).stat().st_size / 1e6


def read_graph(path: str | os.PathLike[str], timeout_s: float | None = None) -> Any:
    """The ``nir.NIRGraph`` in ``path``, read in a child process that is stopped after ``timeout_s`` (default
    :func:`read_timeout_s`) or on Ctrl-C. Raises :class:`NIRReadError` naming the file."""
    p = Path(path)
    timeout = read_timeout_s(p) if timeout_s is None else timeout_s
    try:  # run() kills the child on a timeout and on Ctrl-C
        here = str(Path(__file__).resolve().parents[1])  # this spikeforge, even when not installed
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}
        done = subprocess.run([sys.executable, "-m", "spikeforge.nirread", str(p)], capture_output=True,
                              timeout=timeout, check=False, env=env)
    except subprocess.TimeoutExpired:
        raise NIRReadError(f"{p}: reading it did not finish in {timeout:.0f} s: the HDF5 file is damaged (a valid "
                           "NIR file of this size reads in seconds)") from None
    if done.returncode != 0:
        last = (done.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[-1]
        raise NIRReadError(f"{p}: reading it failed ({last})")
    graph, why = pickle.loads(done.stdout)
    if graph is None:
        raise NIRReadError(f"{p}: not a readable NIR file: {why}")
    return graph


def _main(path: str) -> int:
    try:
        import nir

        out: tuple[Any, str] = (nir.read(path), "")
    except Exception as e:  # h5py / nir raise many kinds for a foreign or damaged file
        out = (None, f"{type(e).__name__}: {e}")
    sys.stdout.buffer.write(pickle.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1]))
