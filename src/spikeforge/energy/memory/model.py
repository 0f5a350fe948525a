"""Energy of the synaptic memory: per-access SRAM energy as a function of word width and macro size,
controller operations and leakage, priced from the counts an encoding produced while it ran.

For one pass with counts from :class:`~spikeforge.energy.memory.sram.PassCounts`::

    E = Σ_m [R_m · E_acc(w_m, D_m) + W_m · ρ_w · E_acc(w_m, D_m)]        (SRAM dynamic)
      + Σ_op N_op · e_op                                               (controller)
      + λ · F · A                                                      (leakage)

    E_acc(w, D) = e_dec·log2 D + e_bit·w + e_bl·w·r + e_row·r + e_line·sqrt(w·D)            [pJ]
    n_b = 2^⌈log2 ⌈D/R⌉⌉ banks of r = ⌈D/n_b⌉ rows,  R = BANK_ROWS = 4096

with ``R_m, W_m`` the word reads and writes of macro ``m`` (``w_m`` bits wide, ``D_m`` words deep),
``N_op`` the controller operations by kind, ``F`` the footprint in bits and ``A`` the total number of
accesses (one access per cycle on a single-ported macro, so ``A`` cycles of leakage).

Banked macro (CACTI-style organisation): a memory compiler splits a deep macro into a power-of-two number
of banks so that no bit line spans more than ``R`` rows. Per access: the decoder (``log2 D`` address
bits), the sense amplifiers / drivers of the ``w`` bits, the bit lines of the ``w`` accessed columns
(length ``r``, the rows of one bank), the precharge of the bank's columns (``∝ r``, independent of the
word width because the compiler gives banks a fixed number of columns and multiplexes them), and the
word line plus the address/data routing (H-tree) across the whole array, whose side grows as
``sqrt(w·D)``. The per-access energy therefore grows with depth until a macro is split, drops when the
bank count doubles, and then grows with the routing only -- the sawtooth of the published energies
(e.g. PB-CSR, ``energy_results.csv``). ``R = 4096`` was selected by the calibration's fit error among
``R ∈ {1024, 2048, 4096, 8192, 16384}`` (see ``docs/memory-organisation.md``).

The priors below reproduce Horowitz's 45 nm SRAM figures (64-bit read: 10 pJ at 8 KB, 20 pJ at
32 KB, 100 pJ at 1 MB) to within 12 %. Controller priors are Horowitz's 45 nm adder energies. All
constants are then calibrated against the published results of Schaefer et al. (ISCAS 2020), see
:mod:`spikeforge.energy.memory.calibrate`; the fitted values and their fit error are reported there.

Sources:
* M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014, 10-14 (table of
  45 nm energies: 8/32 KB and 1 MB SRAM reads, 8/32-bit integer add).
* N. Muralimanohar, R. Balasubramonian, N. Jouppi, "CACTI 6.0", HP Labs HPL-2009-85 (banks/sub-arrays,
  bit-line, word-line, decoder and H-tree energies as functions of the array organisation).
* C. Schaefer, P. Faley, E. Neftci, S. Joshi, ISCAS 2020 (arXiv:2003.11639): system-level (controller +
  SRAM) energies of each encoding, the calibration target.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from math import ceil, log2

import numpy as np

from spikeforge.energy.memory.sram import OP_KINDS, PassCounts

PJ = 1e-12

#: Most rows on one bit line: deeper macros are split into a power-of-two number of banks.
BANK_ROWS = 4096

#: Access features per access kind: ``log2 D``, ``w``, ``w·r``, ``r``, ``sqrt(w·D)`` (``r`` rows per bank).
N_ACCESS_FEATURES = 5

#: Names of the free constants, in the order used by the calibration's parameter vector.
PARAM_NAMES: tuple[str, ...] = (
    "e_dec", "e_bit", "e_bl", "e_row", "e_line", "write_factor",
    "e_acc", "e_addr", "e_ptr", "e_cmp", "e_popcnt", "e_upd", "leak",
)


@dataclass(frozen=True)
class MemoryEnergyConstants:
    """Constants of the memory energy model, all in pJ (``write_factor`` is a ratio, ``leak`` is pJ per
    bit per access cycle)."""

    e_dec: float = 0.1  # per address bit per access (decoder, word-line drive)
    e_bit: float = 0.02  # per bit accessed (sense amplifier / write driver, I/O)
    e_bl: float = 1e-5  # per accessed bit per bank row (bit-line swing)
    e_row: float = 1e-4  # per bank row (precharge of the bank's columns)
    e_line: float = 0.032  # per sqrt(capacity bit) (word line, H-tree routing)
    write_factor: float = 1.2  # write energy / read energy
    e_acc: float = 0.05  # accumulate a synaptic contribution (16-bit add, Horowitz)
    e_addr: float = 0.05  # functional address generation (counter step, 16-bit add)
    e_ptr: float = 0.1  # pointer arithmetic of sparse layouts (pointer + rank, 32-bit add, Horowitz)
    e_cmp: float = 0.05  # index comparison
    e_popcnt: float = 0.1  # bitmap decode / prefix popcount
    e_upd: float = 0.03  # weight add of an update (8-bit add, Horowitz)
    leak: float = 1e-5  # leakage per bit per cycle (≈10 pW/bit at 1 GHz)
    source: str = "prior (Horowitz ISSCC 2014, CACTI-style scaling)"

    def vector(self) -> np.ndarray:
        """The constants as a vector in :data:`PARAM_NAMES` order."""
        return np.array([getattr(self, n) for n in PARAM_NAMES], dtype=np.float64)

    @classmethod
    def from_vector(cls, v: np.ndarray, source: str) -> MemoryEnergyConstants:
        """Constants from a vector in :data:`PARAM_NAMES` order."""
        return cls(**{n: float(x) for n, x in zip(PARAM_NAMES, v, strict=True)}, source=source)

    def to_dict(self) -> dict[str, float | str]:
        """JSON-friendly view."""
        return asdict(self)

    def with_source(self, source: str) -> MemoryEnergyConstants:
        """A copy with another provenance string."""
        return replace(self, source=source)


#: Priors (not calibrated).
PRIOR_CONSTANTS = MemoryEnergyConstants()


def bank_rows(depth: int, max_rows: int = BANK_ROWS) -> int:
    """Rows per bank ``r = ⌈D/n_b⌉`` with ``n_b = 2^⌈log2 ⌈D/R⌉⌉`` banks."""
    banks = 1 << max(0, ceil(log2(ceil(max(depth, 1) / max_rows))))
    return ceil(max(depth, 1) / banks)


def _access_features(word_bits: int, depth: int) -> np.ndarray:
    """``(log2 D, w, w·r, r, sqrt(w·D))`` of one access."""
    r = bank_rows(depth)
    return np.array([np.log2(max(depth, 2)), word_bits, word_bits * r, r, np.sqrt(word_bits * depth)], float)


def access_energy_pj(word_bits: int, depth: int, c: MemoryEnergyConstants) -> float:
    """Read energy of one word access in pJ:
    ``e_dec·log2 D + e_bit·w + e_bl·w·r + e_row·r + e_line·sqrt(w·D)`` (``r`` = :func:`bank_rows`)."""
    return float(_access_features(word_bits, depth) @ np.array([c.e_dec, c.e_bit, c.e_bl, c.e_row, c.e_line]))


def features(counts: PassCounts) -> np.ndarray:
    """The pass reduced to the linear features of the model (see :func:`energy_from_features`): per access
    kind (reads, writes) the sums of :func:`_access_features`; the operation counts; footprint ×
    accesses."""
    f = np.zeros(2 * N_ACCESS_FEATURES)
    for m in counts.memories:
        per = _access_features(m.word_bits, m.depth)
        f[:N_ACCESS_FEATURES] += m.reads * per
        f[N_ACCESS_FEATURES:] += m.writes * per
    ops = np.array([counts.ops.get(k, 0) for k in OP_KINDS], dtype=np.float64)
    leak = float(counts.footprint_bits) * float(counts.accesses)
    return np.concatenate([f, ops, [leak]])


def _split(f: np.ndarray, params: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(SRAM read, SRAM write, controller, leakage) energies in pJ of feature rows ``f``."""
    n = N_ACCESS_FEATURES
    acc = params[:n]  # e_dec, e_bit, e_bl, e_row, e_line
    rho = params[n]
    ops = params[n + 1 : n + 1 + len(OP_KINDS)]
    leak = params[n + 1 + len(OP_KINDS)]
    reads = f[..., :n] @ acc
    writes = rho * (f[..., n : 2 * n] @ acc)
    ctrl = f[..., 2 * n : 2 * n + len(OP_KINDS)] @ ops
    return reads, writes, ctrl, leak * f[..., -1]


def energy_from_features(f: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Energy in pJ from feature rows ``f (..., 17)`` (see :func:`features`) and a parameter vector in
    :data:`PARAM_NAMES` order: ``E = Σ_access feature·(e_dec, e_bit, e_bl, e_row, e_line) (writes × ρ_w) +
    Σ_op N_op·e_op + λ·F·A``."""
    reads, writes, ctrl, leak = _split(f, params)
    return reads + writes + ctrl + leak


@dataclass(frozen=True)
class PassEnergy:
    """Energy of one pass, split into its terms (joules)."""

    pass_name: str
    sram_read: float
    sram_write: float
    controller: float
    leakage: float

    @property
    def total(self) -> float:
        """Sum of the terms (J)."""
        return self.sram_read + self.sram_write + self.controller + self.leakage

    def to_dict(self) -> dict[str, float | str]:
        """JSON-friendly view."""
        return {"pass": self.pass_name, "sram_read_j": self.sram_read, "sram_write_j": self.sram_write,
                "controller_j": self.controller, "leakage_j": self.leakage, "total_j": self.total}


def pass_energy(counts: PassCounts, c: MemoryEnergyConstants) -> PassEnergy:
    """Price one pass's counts with constants ``c``."""
    read, write, ctrl, leak = _split(features(counts), c.vector())
    return PassEnergy(counts.pass_name, float(read) * PJ, float(write) * PJ, float(ctrl) * PJ, float(leak) * PJ)


#: Constants fitted by :func:`spikeforge.energy.memory.calibrate.calibrate` on ``energy_results.csv`` and
#: ``frontier.csv`` (280 rows; the benchmark ``benchmarks/memory_organisation.py`` re-fits them and
#: reports the fit error). Values in pJ.
CALIBRATED_CONSTANTS = MemoryEnergyConstants(
    e_dec=0.00041373296500356104,
    e_bit=0.002384445885777175,
    e_bl=6.694020817171436e-05,
    e_row=0.0010432015530052116,
    e_line=0.012457524863164047,
    write_factor=0.001466481468507404,
    e_acc=0.7528712427348948,
    e_addr=0.0026887262424921316,
    e_ptr=0.0018330402385853225,
    e_cmp=4.706735126354775,
    e_popcnt=1.1617924652563758,
    e_upd=10.164908318075586,
    leak=4.059503994253077e-09,
    source="calibrated on energy_results.csv + frontier.csv (Schaefer et al. 2020), 280 rows; "
           "PB-CSR in the linked layout",
)
