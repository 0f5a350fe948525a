"""Readers for the published energy results of Schaefer et al. (ISCAS 2020).

Three CSV files (copies in ``published/``, provenance in ``published/PROVENANCE.md``):

* ``energy_results.csv`` (214 rows): the later, final run; "Backward Energy" = backward + update.
* ``frontier.csv`` (66 rows): the two layers of the 700→400→250 workload (image size 26.46 ≙ 700 inputs,
  20 ≙ 400 inputs) at the densities the trained networks reached per bit width.
* ``pf_res.csv`` (311 rows, many repeated): an earlier run, the source of the paper's 58 %; its header
  order is wrong, the values are read as forward E, backward E, forward t, backward t, update E,
  update t, memory power.

All files have CRLF line endings and leading spaces in fields; "Sparsity" is the density.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

#: Environment variable that points at another directory with the three CSV files.
ENV_VAR = "SPIKEFORGE_MEMORY_REFERENCE"


def reference_dir() -> Path:
    """Directory holding the CSVs: ``$SPIKEFORGE_MEMORY_REFERENCE`` or the packaged copy."""
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else Path(__file__).with_name("published")


@dataclass(frozen=True)
class PublishedRow:
    """One published configuration and its energies (J)."""

    source: str
    weight_bits: int
    channels: int
    filter_size: int
    image_size: float
    layer: str  # "fc" or "conv"
    structure: str  # Crossbar, PB-BMP, PB-CSR, Func-RowCol, Func-BMP, Func-Pure
    density: float
    out_length: int | None
    forward_j: float
    backward_j: float  # backward + update for energy_results / frontier; backward only for pf_res
    update_j: float | None  # pf_res only

    @property
    def backward_update_j(self) -> float:
        """Backward plus update energy (J)."""
        return self.backward_j + (self.update_j or 0.0)

    @property
    def n_in(self) -> int:
        """Inputs of the layer: ``round(image_size²)`` (784 for 28, 700 for 26.46)."""
        return round(self.image_size**2)


def _read(name: str) -> tuple[list[str], list[list[str]]]:
    with open(reference_dir() / name, newline="", encoding="utf-8") as fh:
        rows = [[c.strip() for c in r] for r in csv.reader(fh) if r]
    return rows[0], rows[1:]


def _layer(s: str) -> str:
    return "fc" if s == "FullyConnected" else "conv"


def load_energy_results() -> list[PublishedRow]:
    """The 214 rows of ``energy_results.csv`` (backward includes the update)."""
    _, rows = _read("energy_results.csv")
    return [
        PublishedRow("energy_results", int(float(r[0])), int(r[1]), int(r[2]), float(r[3]), _layer(r[4]), r[5],
                     float(r[6]), int(r[7]), float(r[8]), float(r[9]), None)
        for r in rows
    ]


def load_frontier() -> list[PublishedRow]:
    """The 66 rows of ``frontier.csv`` (backward includes the update)."""
    _, rows = _read("frontier.csv")
    return [
        PublishedRow("frontier", int(float(r[0])), int(r[1]), int(r[2]), float(r[3]), _layer(r[4]), r[5],
                     float(r[6]), int(r[7]), float(r[8]), float(r[9]), None)
        for r in rows
    ]


def load_pf_res(unique: bool = True) -> list[PublishedRow]:
    """Rows of ``pf_res.csv`` read in the physically consistent column order (see module docstring);
    duplicates dropped when ``unique``."""
    _, rows = _read("pf_res.csv")
    out: list[PublishedRow] = []
    seen: set[tuple[str, ...]] = set()
    for r in rows:
        if unique and tuple(r) in seen:
            continue
        seen.add(tuple(r))
        out.append(PublishedRow("pf_res", int(float(r[0])), int(r[1]), int(r[2]), float(r[3]), _layer(r[4]), r[5],
                                float(r[6]), None, float(r[7]), float(r[8]), float(r[11])))
    return out


def published_conv_reduction(rows: list[PublishedRow], bits: int = 8, channels: int = 32, filter_size: int = 3,
                             image_size: float = 28) -> float:
    """Published reduction of backward + update energy, Func-RowCol against PB-CSR (fraction)."""
    sel = {r.structure: r for r in rows if r.layer == "conv" and r.weight_bits == bits and r.channels == channels
           and r.filter_size == filter_size and r.image_size == image_size}
    return 1.0 - sel["Func-RowCol"].backward_update_j / sel["PB-CSR"].backward_update_j


def read_memory_power() -> list[tuple[PublishedRow, float]]:
    """(row, "Memory Power") of every row of ``energy_results.csv`` and ``frontier.csv``. The column is
    proportional to the capacity of the encoding's memory (crossbars: 5.66e-8 per bit at every width and
    size, ±1 %), so it gives the published footprint in bits."""
    out: list[tuple[PublishedRow, float]] = []
    for name, rows in (("energy_results.csv", load_energy_results()), ("frontier.csv", load_frontier())):
        _, raw = _read(name)
        out += [(r, float(x[12])) for r, x in zip(rows, raw, strict=True)]
    return out
