"""Calibration of the memory energy model against the published results of Schaefer et al. (ISCAS 2020).

For every published configuration the matching encoding is *built and executed*: a synthetic weight
tensor with exactly the published density (random positions and non-zero codes, seeded by the
configuration) is stored, then one full forward pass (every input spikes), one full backward pass (every
output carries an error) and one update (every stored weight touched) run on it -- the convention of
the published data, whose "Backward Energy" includes the update. The counts are priced by
:func:`~spikeforge.energy.memory.model.energy_from_features`, and the thirteen constants are fitted by
least squares on ``log(E_model / E_published)`` (soft-L1 loss, a weak pull towards the priors).

Layer geometry read from the CSV: fully connected ``n_in = image_size²`` (784 for 28) → ``Out Length``;
convolution ``C_in = 1`` → ``C_out = Channels``, ``k = Filter Size``, ``H = W = Image Size``, "same"
padding (the published conv energies scale exactly with ``H²``).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares

from spikeforge.energy.memory.conv import CONV_ENCODINGS, ConvEncoding
from spikeforge.energy.memory.encodings import FC_ENCODINGS, FCEncoding, SynapticEncoding
from spikeforge.energy.memory.model import (
    PARAM_NAMES,
    PJ,
    PRIOR_CONSTANTS,
    MemoryEnergyConstants,
    energy_from_features,
    features,
)
from spikeforge.energy.memory.reference import PublishedRow
from spikeforge.energy.memory.sram import PassCounts, weight_range

PASSES: tuple[str, ...] = ("forward", "backward", "update")


@dataclass(frozen=True)
class LayerConfig:
    """A layer, its encoding, weight width and density."""

    layer: str  # "fc" | "conv"
    structure: str
    bits: int
    density: float
    n_in: int = 0  # fc
    n_out: int = 0  # fc
    c_in: int = 1  # conv
    c_out: int = 0  # conv
    k: int = 0  # conv
    hw: int = 0  # conv

    @property
    def n_weights(self) -> int:
        """Number of weight positions (dense)."""
        return self.n_in * self.n_out if self.layer == "fc" else self.c_out * self.c_in * self.k * self.k

    def seed(self) -> int:
        """Deterministic seed derived from the configuration."""
        return zlib.crc32(repr((self.layer, self.bits, round(self.density, 6), self.n_in, self.n_out, self.c_in,
                                self.c_out, self.k, self.hw)).encode())


def config_from_row(r: PublishedRow) -> LayerConfig:
    """The :class:`LayerConfig` a published row describes."""
    if r.layer == "fc":
        assert r.out_length is not None
        return LayerConfig("fc", r.structure, r.weight_bits, round(r.density, 6), n_in=r.n_in, n_out=r.out_length)
    return LayerConfig("conv", r.structure, r.weight_bits, round(r.density, 6), c_in=1, c_out=r.channels,
                       k=r.filter_size, hw=round(r.image_size))


def synthetic_weights(cfg: LayerConfig, signed: bool = True) -> np.ndarray:
    """Integer codes with exactly ``round(density · N)`` non-zeros at random positions, values uniform over
    the non-zero codes of the ``bits``-bit range; seeded by the configuration."""
    rng = np.random.default_rng(cfg.seed())
    lo, hi = weight_range(cfg.bits, signed and cfg.bits > 1)
    n = cfg.n_weights
    nnz = round(cfg.density * n)
    codes = np.array([v for v in range(lo, hi + 1) if v != 0], dtype=np.int64)
    flat = np.zeros(n, np.int64)
    flat[rng.choice(n, size=nnz, replace=False)] = rng.choice(codes, size=nnz)
    if cfg.layer == "fc":
        return flat.reshape(cfg.n_in, cfg.n_out)
    return flat.reshape(cfg.c_out, cfg.c_in, cfg.k, cfg.k)


def build_encoding(cfg: LayerConfig, weights: np.ndarray | None = None) -> SynapticEncoding:
    """The encoding ``cfg.structure`` holding ``weights`` (synthetic ones by default)."""
    w = synthetic_weights(cfg) if weights is None else weights
    if cfg.layer == "fc":
        return FC_ENCODINGS[cfg.structure](w, cfg.bits)
    return CONV_ENCODINGS[cfg.structure](w, cfg.bits, (cfg.hw, cfg.hw))


def full_pass_counts(enc: SynapticEncoding) -> dict[str, PassCounts]:
    """Counts of one full forward, backward and update pass (all inputs, all errors, all weights)."""
    x: np.ndarray
    err: np.ndarray
    delta: np.ndarray
    if isinstance(enc, FCEncoding):
        x, err = np.ones(enc.n_in), np.ones(enc.n_out)
        delta = np.ones((enc.n_in, enc.n_out), np.int64)
    elif isinstance(enc, ConvEncoding):
        x, err = np.ones((enc.c_in, enc.h, enc.w)), np.ones((enc.c_out, enc.ho, enc.wo))
        delta = np.ones((enc.c_out, enc.c_in, enc.k, enc.k), np.int64)
    else:
        raise TypeError(f"unknown encoding {type(enc).__name__}")
    counts, _ = enc.run_passes(x, err, delta)
    return counts


_COUNT_CACHE: dict[LayerConfig, dict[str, PassCounts]] = {}


def config_counts(cfg: LayerConfig) -> dict[str, PassCounts]:
    """:func:`full_pass_counts` of the synthetic layer ``cfg`` (memoised per process)."""
    if cfg not in _COUNT_CACHE:
        _COUNT_CACHE[cfg] = full_pass_counts(build_encoding(cfg))
    return _COUNT_CACHE[cfg]


@dataclass(frozen=True)
class CalibrationEntry:
    """Model against published energy for one row and one quantity."""

    source: str
    layer: str
    structure: str
    bits: int
    density: float
    geometry: str
    quantity: str  # "forward" | "backward+update"
    published_j: float
    model_j: float

    @property
    def rel_error(self) -> float:
        """``model / published − 1``."""
        return self.model_j / self.published_j - 1.0

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly view."""
        return {"source": self.source, "layer": self.layer, "structure": self.structure, "bits": self.bits,
                "density": self.density, "geometry": self.geometry, "quantity": self.quantity,
                "published_j": self.published_j, "model_j": self.model_j, "rel_error": self.rel_error}


@dataclass
class CalibrationResult:
    """Fitted constants and the model-vs-published table."""

    constants: MemoryEnergyConstants
    entries: list[CalibrationEntry]
    fitted_on: list[str]
    cost: float
    extra: dict[str, float] = field(default_factory=dict)

    def median_rel_error(self, source: str | None = "energy_results") -> float:
        """Median of ``|model/published − 1|`` over the entries of ``source`` (all when None)."""
        errs = [abs(e.rel_error) for e in self.entries if source is None or e.source == source]
        return float(np.median(errs)) if errs else float("nan")

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly view."""
        return {"constants": self.constants.to_dict(), "fitted_on": self.fitted_on, "cost": self.cost,
                "median_rel_error": {s: self.median_rel_error(s) for s in sorted({e.source for e in self.entries})},
                "entries": [e.to_dict() for e in self.entries]}


def _geometry(cfg: LayerConfig) -> str:
    if cfg.layer == "fc":
        return f"{cfg.n_in}x{cfg.n_out}"
    return f"{cfg.c_in}->{cfg.c_out}ch k{cfg.k} {cfg.hw}x{cfg.hw}"


def _feature_rows(rows: Sequence[PublishedRow]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[LayerConfig]]:
    """Feature matrices (forward, backward+update) and published energies (pJ) for ``rows``."""
    ff, fb, pub, cfgs = [], [], [], []
    for r in rows:
        cfg = config_from_row(r)
        c = config_counts(cfg)
        ff.append(features(c["forward"]))
        fb.append(features(c["backward"]) + features(c["update"]))
        pub.append((r.forward_j / PJ, r.backward_update_j / PJ))
        cfgs.append(cfg)
    return np.array(ff), np.array(fb), np.array(pub), cfgs


def evaluate(rows: Sequence[PublishedRow], constants: MemoryEnergyConstants) -> list[CalibrationEntry]:
    """Model against published energies for ``rows`` with fixed constants."""
    ff, fb, pub, cfgs = _feature_rows(rows)
    p = constants.vector()
    mf, mb = energy_from_features(ff, p), energy_from_features(fb, p)
    out = []
    for r, cfg, a, b, (pf, pb) in zip(rows, cfgs, mf, mb, pub, strict=True):
        for q, m, pv in (("forward", a, pf), ("backward+update", b, pb)):
            out.append(CalibrationEntry(r.source, r.layer, r.structure, r.weight_bits, r.density, _geometry(cfg),
                                        q, float(pv) * PJ, float(m) * PJ))
    return out


def _relative_pairs(rows: Sequence[PublishedRow], cfgs: Sequence[LayerConfig]) -> np.ndarray:
    """Index pairs (a, b) of rows describing the same layer (source, geometry, bits, density) under two
    encodings: the calibration also matches ``log(E_a / E_b)`` of their totals, the relative energies
    the paper's conclusions rest on."""
    groups: dict[tuple[object, ...], list[int]] = {}
    for n, (r, c) in enumerate(zip(rows, cfgs, strict=True)):
        key = (r.source, c.layer, c.n_in, c.n_out, c.c_out, c.k, c.hw, c.bits, c.density)
        groups.setdefault(key, []).append(n)
    pairs = []
    for idx in groups.values():
        first: dict[str, int] = {}
        for n in idx:
            first.setdefault(rows[n].structure, n)
        names = sorted(first)
        for a in range(len(names)):
            for b in range(a + 1, len(names)):
                pairs.append((first[names[a]], first[names[b]]))
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def calibrate(
    rows: Sequence[PublishedRow],
    prior: MemoryEnergyConstants = PRIOR_CONSTANTS,
    prior_weight: float = 0.02,
    relative_weight: float = 0.0,
    report_rows: Iterable[PublishedRow] = (),
) -> CalibrationResult:
    """Fit the thirteen constants to ``rows``: log-space least squares (soft-L1 loss) on every forward and
    backward+update energy, plus ``relative_weight`` times the log-ratios of the per-iteration totals of
    different encodings of the same layer, plus a weak pull (``prior_weight``) towards the priors."""
    rows = list(rows)
    ff, fb, pub, cfgs = _feature_rows(rows)
    f_all = np.concatenate([ff, fb])
    y_all = np.log(np.concatenate([pub[:, 0], pub[:, 1]]))
    pairs = _relative_pairs(rows, cfgs)
    pub_tot = pub.sum(axis=1)
    y_rel = np.log(pub_tot[pairs[:, 0]] / pub_tot[pairs[:, 1]]) if pairs.size else np.zeros(0)
    p0 = np.log(prior.vector())
    n = len(rows)

    def resid(lp: np.ndarray) -> np.ndarray:
        m = np.maximum(energy_from_features(f_all, np.exp(lp)), 1e-30)
        tot = m[:n] + m[n:]
        rel = np.log(tot[pairs[:, 0]] / tot[pairs[:, 1]]) - y_rel if pairs.size else np.zeros(0)
        return np.concatenate([np.log(m) - y_all, relative_weight * rel, prior_weight * (lp - p0)])

    best = None
    shift = np.zeros_like(p0)
    shift[[PARAM_NAMES.index(n) for n in ("e_dec", "e_bit", "e_bl", "e_row", "e_line")]] = 2.0
    shift[PARAM_NAMES.index("leak")] = -2.0
    for start in (p0, p0 + 2.0, p0 - 2.0, p0 + shift):
        sol = least_squares(resid, start, loss="soft_l1", f_scale=0.2, max_nfev=4000)
        if best is None or sol.cost < best.cost:
            best = sol
    assert best is not None
    sources = sorted({r.source for r in rows})
    constants = MemoryEnergyConstants.from_vector(
        np.exp(best.x), source=f"calibrated on {', '.join(sources)} ({len(rows)} rows)"
    )
    entries = evaluate(rows + list(report_rows), constants)
    return CalibrationResult(constants, entries, sources, float(best.cost),
                             {n: float(v) for n, v in zip(PARAM_NAMES, np.exp(best.x), strict=True)})
