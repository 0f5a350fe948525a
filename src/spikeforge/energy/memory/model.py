"""Energy of the synaptic memory: per-access SRAM energy as a function of word width and macro size,
controller operations and leakage, priced from the counts an encoding produced while it ran.

For one pass with counts from :class:`~spikeforge.energy.memory.sram.PassCounts`::

    E = Σ_m [R_m · E_acc(w_m, D_m) + W_m · ρ_w · E_acc(w_m, D_m)]        (SRAM dynamic)
      + Σ_op N_op · e_op                                               (controller)
      + λ · F · A                                                      (leakage)

    E_acc(w, D) = e_dec · log2(D) + w · (e_bit + e_wire · sqrt(w · D))   [pJ]

with ``R_m, W_m`` the word reads and writes of macro ``m`` (``w_m`` bits wide, ``D_m`` words deep),
``N_op`` the controller operations by kind, ``F`` the footprint in bits and ``A`` the total number of
accesses (one access per cycle on a single-ported macro, so ``A`` cycles of leakage).

The ``sqrt(capacity)`` term is the CACTI-style scaling of bit-line/word-line energy with array size; the
priors below reproduce Horowitz's 45 nm SRAM figures (64-bit read: 10 pJ at 8 KB, 20 pJ at 32 KB,
100 pJ at 1 MB) to within 10 %. Controller priors are Horowitz's 45 nm adder energies. All constants
are then calibrated against the published results of Schaefer et al. (ISCAS 2020), see
:mod:`spikeforge.energy.memory.calibrate`; the fitted values and their fit error are reported there.

Sources:
* M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014, 10-14 (table of
  45 nm energies: 8/32 KB and 1 MB SRAM reads, 8/32-bit integer add).
* N. Muralimanohar, R. Balasubramonian, N. Jouppi, "CACTI 6.0", HP Labs HPL-2009-85 (bit-line and
  decoder energy scaling with array rows/columns).
* C. Schaefer, P. Faley, E. Neftci, S. Joshi, ISCAS 2020 (arXiv:2003.11639): system-level (controller +
  SRAM) energies of each encoding, the calibration target.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from spikeforge.energy.memory.sram import OP_KINDS, PassCounts

PJ = 1e-12

#: Names of the free constants, in the order used by the calibration's parameter vector.
PARAM_NAMES: tuple[str, ...] = (
    "e_dec", "e_bit", "e_wire", "write_factor", "e_acc", "e_addr", "e_ptr", "e_cmp", "e_popcnt", "e_upd", "leak",
)


@dataclass(frozen=True)
class MemoryEnergyConstants:
    """Constants of the memory energy model, all in pJ (``write_factor`` is a ratio, ``leak`` is pJ per
    bit per access cycle)."""

    e_dec: float = 0.1  # per address bit per access (decoder, word-line drive)
    e_bit: float = 0.02  # per bit accessed (sense amplifier / write driver, I/O)
    e_wire: float = 5.3e-4  # per bit per sqrt(capacity bit) (bit-line swing)
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


def access_energy_pj(word_bits: int, depth: int, c: MemoryEnergyConstants) -> float:
    """Read energy of one word access, ``e_dec·log2 D + w·(e_bit + e_wire·sqrt(w·D))`` in pJ."""
    return float(
        c.e_dec * np.log2(max(depth, 2)) + word_bits * (c.e_bit + c.e_wire * np.sqrt(word_bits * depth))
    )


def features(counts: PassCounts) -> np.ndarray:
    """The pass reduced to the linear features of the model (see :func:`energy_from_features`)."""
    f = np.zeros(6)
    for m in counts.memories:
        lg = np.log2(max(m.depth, 2))
        wire = m.word_bits * np.sqrt(m.word_bits * m.depth)
        f[0] += m.reads * lg
        f[1] += m.reads * m.word_bits
        f[2] += m.reads * wire
        f[3] += m.writes * lg
        f[4] += m.writes * m.word_bits
        f[5] += m.writes * wire
    ops = np.array([counts.ops.get(k, 0) for k in OP_KINDS], dtype=np.float64)
    leak = float(counts.footprint_bits) * float(counts.accesses)
    return np.concatenate([f[:6], ops, [leak]])


def energy_from_features(f: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Energy in pJ from feature rows ``f (..., 13)`` (see :func:`features`) and a parameter vector in
    :data:`PARAM_NAMES` order."""
    e_dec, e_bit, e_wire, rho = params[0], params[1], params[2], params[3]
    reads = e_dec * f[..., 0] + e_bit * f[..., 1] + e_wire * f[..., 2]
    writes = rho * (e_dec * f[..., 3] + e_bit * f[..., 4] + e_wire * f[..., 5])
    ops = f[..., 6:12] @ params[4:10]
    return reads + writes + ops + params[10] * f[..., 12]


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
    f = features(counts)
    p = c.vector()
    read = p[0] * f[0] + p[1] * f[1] + p[2] * f[2]
    write = p[3] * (p[0] * f[3] + p[1] * f[4] + p[2] * f[5])
    ctrl = float(np.dot(p[4:10], f[6:12]))
    leak = p[10] * f[12]
    return PassEnergy(counts.pass_name, read * PJ, write * PJ, ctrl * PJ, leak * PJ)


#: Constants fitted by :func:`spikeforge.energy.memory.calibrate.calibrate` on ``energy_results.csv`` and
#: ``frontier.csv`` (280 rows; the benchmark ``benchmarks/memory_organisation.py`` re-fits them and
#: reports the fit error). Values in pJ.
CALIBRATED_CONSTANTS = MemoryEnergyConstants(
    e_dec=0.15040761016163876,
    e_bit=0.00010178800089031317,
    e_wire=0.0018952616383476866,
    write_factor=0.0008439872745361783,
    e_acc=0.07837075345761403,
    e_addr=0.0008299491492184885,
    e_ptr=0.001560282904708248,
    e_cmp=3.88283130735631,
    e_popcnt=0.01276875396055859,
    e_upd=19.286004327178873,
    leak=2.4523726103752367e-07,
    source="calibrated on energy_results.csv + frontier.csv (Schaefer et al. 2020), 280 rows",
)
