"""The Deployment: everything a chip needs to run a network.

A deployment is stored struct-of-arrays over its cores (all cores share the chip preset's shape
``A = n_axons``, ``N = n_neurons``, ``T = n_axon_types``):

==================  ===========  ======  =====================================================
field               shape        dtype   meaning (DESIGN.md / Merolla 2014 symbols)
==================  ===========  ======  =====================================================
crossbar            (C, A, N)    int16   w_ij; binary on TrueNorth
axon_type           (C, A)       int8    G_i ∈ [0, T)
weights             (C, N, T)    int32   s_j[G], signed per-type weight
leak                (C, N)       int32   λ_j
threshold           (C, N)       int32   α_j ≥ 0 (fire when V ≥ α)
neg_threshold       (C, N)       int32   β_j ≥ 0 (floor at −β)
reset_mode          (C, N)       int8    γ_j: 0 → V ← R, 1 → V ← V − (α + η), 2 → unchanged
reset_value         (C, N)       int32   R_j
floor_mode          (C, N)       int8    κ_j: 1 → saturate at −β, 0 → below −(β + η) reset by γ
v_init              (C, N)       int32   V0_j, the potential at the start of every input
enabled             (C, N)       bool    disabled neurons never integrate, leak or fire
dest_core           (C, N)       int32   destination core of the neuron's spikes, −1 = off-core
dest_axon           (C, N)       int32   destination axon (ignored when dest_core = −1)
dest_delay          (C, N)       int32   delay in ticks, 1..15 on TrueNorth
placement           (C, 3)       int32   (chip, row, col) of each core on the mesh
input_channel       (K,)         int32   input map: channel k of the encoded input drives ...
input_core          (K,)         int32   ... axon input_axon of core input_core
input_axon          (K,)         int32
output_core         (M,)         int32   output map: neuron (output_core, output_neuron) ...
output_neuron       (M,)         int32   ... votes for class output_class
output_class        (M,)         int32
stochastic_synapse  (C, N, T)    bool    b_j^G: synapses of type G add sgn(s)·[|s| ≥ ρ] instead of s
stochastic_leak     (C, N)       bool    c_j: the leak adds sgn(λ)·[|λ| ≥ ρ] instead of λ
leak_reversal       (C, N)       bool    ε_j: the leak is multiplied by sgn(V) (Ω_j)
threshold_mask      (C, N)       int32   M_j = 2^k − 1: threshold α_j + η_j with η_j = ρ & M_j
==================  ===========  ======  =====================================================

The last four (format version 2; Cassidy et al. 2013) default to off, and ``prng_seed`` seeds the
pseudo-random numbers ρ of the stochastic modes (:mod:`spikeforge.sim.prng`).

An input channel spiking at tick t reaches its axons at tick t; a neuron spiking at tick t reaches its
destination axon at tick t + delay. Several sources reaching one axon in the same tick merge into one
spike (an axon carries one bit per tick). The class score of an input is the number of spikes its output
neurons emit while that input is processed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from spikeforge.hardware.spec import ChipSpec, get_chip

if TYPE_CHECKING:
    from spikeforge.deploy.neuron import NeuronParams

FORMAT_VERSION = 2

#: Format versions :func:`spikeforge.deploy.io.load` reads (1: before the stochastic modes and leak reversal).
READABLE_VERSIONS = (1, 2)

#: (name, dtype, shape spec) for every array field; shape symbols resolved by :func:`expected_shapes`.
ARRAY_FIELDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("crossbar", "int16", ("C", "A", "N")),
    ("axon_type", "int8", ("C", "A")),
    ("weights", "int32", ("C", "N", "T")),
    ("leak", "int32", ("C", "N")),
    ("threshold", "int32", ("C", "N")),
    ("neg_threshold", "int32", ("C", "N")),
    ("reset_mode", "int8", ("C", "N")),
    ("reset_value", "int32", ("C", "N")),
    ("floor_mode", "int8", ("C", "N")),
    ("v_init", "int32", ("C", "N")),
    ("enabled", "bool", ("C", "N")),
    ("dest_core", "int32", ("C", "N")),
    ("dest_axon", "int32", ("C", "N")),
    ("dest_delay", "int32", ("C", "N")),
    ("placement", "int32", ("C", "3")),
    ("input_channel", "int32", ("K",)),
    ("input_core", "int32", ("K",)),
    ("input_axon", "int32", ("K",)),
    ("output_core", "int32", ("M",)),
    ("output_neuron", "int32", ("M",)),
    ("output_class", "int32", ("M",)),
    ("stochastic_synapse", "bool", ("C", "N", "T")),
    ("stochastic_leak", "bool", ("C", "N")),
    ("leak_reversal", "bool", ("C", "N")),
    ("threshold_mask", "int32", ("C", "N")),
)

#: The array fields added in format version 2, with the fill value of files written before.
V2_FIELDS: dict[str, int] = {"stochastic_synapse": 0, "stochastic_leak": 0, "leak_reversal": 0, "threshold_mask": 0}


def require_deployment(obj: object, where: str) -> Deployment:
    """``obj`` if it is a :class:`Deployment`, else a ``TypeError`` that says what was passed (a path: load it)."""
    if isinstance(obj, Deployment):
        return obj
    import os

    if isinstance(obj, str | os.PathLike):
        raise TypeError(f"{where}: expected a Deployment, got the path {str(obj)!r}; load it first: "
                        "spikeforge.load(path)")
    raise TypeError(f"{where}: expected a Deployment, got {type(obj).__name__}")


class DeploymentError(ValueError):
    """A deployment is malformed (shapes, dtypes, or references), before any design rule is applied."""


@dataclass
class Deployment:
    """A network mapped onto cores of a chip preset. See the module docstring for every field.

    Build one with :meth:`empty` and fill the arrays, or through a method's mapping code. Validate with
    :meth:`validate` (structure) and :func:`spikeforge.hardware.check` (design rules).
    """

    chip: ChipSpec
    n_inputs: int
    n_classes: int
    crossbar: np.ndarray
    axon_type: np.ndarray
    weights: np.ndarray
    leak: np.ndarray
    threshold: np.ndarray
    neg_threshold: np.ndarray
    reset_mode: np.ndarray
    reset_value: np.ndarray
    floor_mode: np.ndarray
    v_init: np.ndarray
    enabled: np.ndarray
    dest_core: np.ndarray
    dest_axon: np.ndarray
    dest_delay: np.ndarray
    placement: np.ndarray
    input_channel: np.ndarray
    input_core: np.ndarray
    input_axon: np.ndarray
    output_core: np.ndarray
    output_neuron: np.ndarray
    output_class: np.ndarray
    ticks_per_input: int = 1
    input_shape: tuple[int, ...] = ()
    provenance: dict[str, Any] = field(default_factory=dict)
    core_labels: list[str] = field(default_factory=list)
    stochastic_synapse: np.ndarray = None  # type: ignore[assignment]  # filled by __post_init__
    stochastic_leak: np.ndarray = None  # type: ignore[assignment]
    leak_reversal: np.ndarray = None  # type: ignore[assignment]
    threshold_mask: np.ndarray = None  # type: ignore[assignment]
    prng_seed: int = 0

    def __post_init__(self) -> None:
        """Fields left out (the stochastic modes and leak reversal) are off: zeros of their shape."""
        shapes = self.expected_shapes()
        for name, dtype, _ in ARRAY_FIELDS:
            if name in V2_FIELDS and getattr(self, name) is None:
                setattr(self, name, np.full(shapes[name], V2_FIELDS[name], dtype))

    # ------------------------------------------------------------------ construction
    @classmethod
    def empty(
        cls,
        chip: ChipSpec | str,
        n_cores: int,
        n_inputs: int,
        n_classes: int,
        *,
        ticks_per_input: int = 1,
        input_shape: tuple[int, ...] = (),
        provenance: dict[str, Any] | None = None,
    ) -> Deployment:
        """A deployment of ``n_cores`` blank cores: no synapses, every neuron disabled, placed row-major on
        chip 0, 1, ... and memoryless (α = β = 0, γ = 0, R = 0, κ = 1), empty input and output maps."""
        spec = get_chip(chip) if isinstance(chip, str) else chip
        if not isinstance(spec, ChipSpec):
            raise TypeError(f"Deployment.empty: chip must be a preset name, a chip file or a ChipSpec, got "
                            f"{type(chip).__name__}")
        for name, v, least in (("n_cores", n_cores, 0), ("n_inputs", n_inputs, 0), ("n_classes", n_classes, 1),
                               ("ticks_per_input", ticks_per_input, 1)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < least:
                raise DeploymentError(f"{name} must be an integer >= {least}, got {v!r}")
        c, a, n, t = n_cores, spec.core.n_axons, spec.core.n_neurons, spec.core.n_axon_types
        idx = np.arange(c)
        per = spec.cores_per_chip
        placement = np.stack(
            [idx // per, (idx % per) // spec.mesh_cols, (idx % per) % spec.mesh_cols], axis=1
        ).astype(np.int32)
        z32 = lambda: np.zeros((c, n), np.int32)  # noqa: E731
        return cls(
            chip=spec,
            n_inputs=n_inputs,
            n_classes=n_classes,
            crossbar=np.zeros((c, a, n), np.int16),
            axon_type=np.zeros((c, a), np.int8),
            weights=np.zeros((c, n, t), np.int32),
            leak=z32(),
            threshold=z32(),
            neg_threshold=z32(),
            reset_mode=np.zeros((c, n), np.int8),
            reset_value=z32(),
            floor_mode=np.ones((c, n), np.int8),
            v_init=z32(),
            enabled=np.zeros((c, n), bool),
            dest_core=np.full((c, n), -1, np.int32),
            dest_axon=z32(),
            dest_delay=np.ones((c, n), np.int32),
            placement=placement,
            input_channel=np.zeros(0, np.int32),
            input_core=np.zeros(0, np.int32),
            input_axon=np.zeros(0, np.int32),
            output_core=np.zeros(0, np.int32),
            output_neuron=np.zeros(0, np.int32),
            output_class=np.zeros(0, np.int32),
            ticks_per_input=ticks_per_input,
            input_shape=tuple(input_shape),
            provenance=dict(provenance or {}),
            core_labels=[""] * c,
        )

    # ------------------------------------------------------------------ properties
    @property
    def n_cores(self) -> int:
        """Number of cores used."""
        return int(self.crossbar.shape[0])

    @property
    def n_chips(self) -> int:
        """The highest chip index of the placement + 1 (chips 0..n_chips−1; an unused chip index in between
        counts; :func:`spikeforge.energy.estimate_energy` charges only the chips actually holding cores)."""
        return int(self.placement[:, 0].max()) + 1 if self.n_cores else 0

    def memoryless_neurons(self) -> np.ndarray:
        """(C, N) bool: the neuron is memoryless, α = β = 0, γ = 0, R = 0, V0 = 0, no threshold mask (either
        κ, any leak mode), enabled or not.

        Such a neuron's potential is 0 after every tick: it fires iff V ≥ 0 and resets to R = 0, otherwise
        V < −β = 0 is floored to 0 (κ = 1: −β; κ = 0, γ = 0: −R). No state carries from one tick to the
        next. (A stochastic threshold would leave 0 ≤ V < η in place.)"""
        return ((self.threshold == 0) & (self.neg_threshold == 0) & (self.reset_mode == 0)
                & (self.reset_value == 0) & (self.v_init == 0) & (self.threshold_mask == 0))

    @property
    def stochastic(self) -> bool:
        """Whether any enabled neuron uses a stochastic synapse, leak or threshold mode."""
        en = self.enabled.astype(bool)
        return bool(self.stochastic_synapse[en].any() or self.stochastic_leak[en].any()
                    or np.any(self.threshold_mask[en] != 0))

    @property
    def memoryless(self) -> bool:
        """Whether every enabled neuron is memoryless (:meth:`memoryless_neurons`): only then may inputs be
        streamed back to back (pipelined) with the same result as on a fresh network."""
        return bool(np.all(self.memoryless_neurons()[self.enabled.astype(bool)]))

    def arrays(self) -> dict[str, np.ndarray]:
        """All array fields by name, in :data:`ARRAY_FIELDS` order."""
        return {name: getattr(self, name) for name, _, _ in ARRAY_FIELDS}

    def expected_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape every array must have, from the chip preset and the map lengths."""
        sym = {
            "C": np.shape(self.crossbar)[0] if np.ndim(self.crossbar) else 0,
            "A": self.chip.core.n_axons,
            "N": self.chip.core.n_neurons,
            "T": self.chip.core.n_axon_types,
            "3": 3,
            "K": int(np.asarray(self.input_channel).shape[0]),
            "M": int(np.asarray(self.output_core).shape[0]),
        }
        return {name: tuple(sym[s] for s in spec) for name, _, spec in ARRAY_FIELDS}

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Check structure: every array present with the right dtype kind and shape, map lengths agree,
        references inside bounds, counts positive. Raises :class:`DeploymentError` naming every problem.

        This is structural only; :func:`spikeforge.hardware.check` applies the chip's design rules.
        """
        problems: list[str] = []
        shapes = self.expected_shapes()
        for name, dtype, _ in ARRAY_FIELDS:
            arr = getattr(self, name)
            if not isinstance(arr, np.ndarray):
                problems.append(f"{name}: expected a numpy array, got {type(arr).__name__}")
                continue
            want_kind = np.dtype(dtype).kind
            if arr.dtype.kind != want_kind and not (want_kind == "i" and arr.dtype.kind == "u"):
                problems.append(f"{name}: dtype {arr.dtype} is not of kind {dtype}")
            elif want_kind == "i" and arr.size and not np.can_cast(arr.dtype, dtype):
                info = np.iinfo(dtype)  # a wider integer array: its values must survive the cast to the file's dtype
                lo, hi = int(arr.min()), int(arr.max())
                if lo < info.min or hi > info.max:
                    problems.append(f"{name}: values in [{lo}, {hi}] do not fit its stored type {dtype} "
                                    f"[{info.min}, {info.max}]")
            if arr.shape != shapes[name]:
                problems.append(f"{name}: shape {arr.shape}, expected {shapes[name]}")
        for name in ("n_inputs", "n_classes", "ticks_per_input"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                problems.append(f"{name}: expected an integer, got {v!r}")
        if not isinstance(self.input_shape, tuple) or not all(
                isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 1 for k in self.input_shape):
            problems.append(f"input_shape: expected a tuple of integers >= 1, got {self.input_shape!r}")
        elif self.input_shape and isinstance(self.n_inputs, (int, np.integer)) and \
                self.n_inputs % int(np.prod(self.input_shape)) != 0:
            # channels are the raw input's values, or a whole number of copies / levels of each
            problems.append(f"input_shape {tuple(int(k) for k in self.input_shape)} has "
                            f"{int(np.prod(self.input_shape))} values, which do not divide n_inputs = "
                            f"{self.n_inputs} input channels")
        if not isinstance(self.core_labels, list) or not all(isinstance(k, str) for k in self.core_labels):
            problems.append(f"core_labels: expected a list of strings, got {type(self.core_labels).__name__}")
        if problems:
            raise DeploymentError("malformed deployment:\n  " + "\n  ".join(problems))
        if len(self.input_core) != len(self.input_axon):
            problems.append("input map: input_channel, input_core and input_axon differ in length")
        if not (len(self.output_core) == len(self.output_neuron) == len(self.output_class)):
            problems.append("output map: output_core, output_neuron and output_class differ in length")
        if self.n_inputs < 0 or self.n_classes < 1:
            problems.append(f"n_inputs={self.n_inputs} must be >= 0 and n_classes={self.n_classes} >= 1")
        if self.ticks_per_input < 1:
            problems.append(f"ticks_per_input={self.ticks_per_input} must be >= 1")
        if isinstance(self.prng_seed, bool) or not isinstance(self.prng_seed, (int, np.integer)) \
                or not 0 <= int(self.prng_seed) < 2**32:
            problems.append(f"prng_seed={self.prng_seed!r} must be an integer in [0, 2^32)")
        c = self.n_cores
        bad = np.flatnonzero((self.input_channel < 0) | (self.input_channel >= self.n_inputs))
        if bad.size:
            k = bad[0]
            problems.append(f"input map entry {k}: channel {self.input_channel[k]} not in [0, {self.n_inputs})")
        bad = np.flatnonzero((self.input_core < 0) | (self.input_core >= c))
        if bad.size:
            problems.append(f"input map entry {bad[0]}: core {self.input_core[bad[0]]} not in [0, {c})")
        bad = np.flatnonzero((self.output_core < 0) | (self.output_core >= c))
        if bad.size:
            problems.append(f"output map entry {bad[0]}: core {self.output_core[bad[0]]} not in [0, {c})")
        bad = np.flatnonzero((self.output_class < 0) | (self.output_class >= self.n_classes))
        if bad.size:
            k = bad[0]
            problems.append(f"output map entry {k}: class {self.output_class[k]} not in [0, {self.n_classes})")
        if len(self.core_labels) != c:
            problems.append(f"core_labels has {len(self.core_labels)} entries for {c} cores")
        for name in ("crossbar", "weights", "leak", "threshold", "v_init"):
            arr = getattr(self, name)
            if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
                problems.append(f"{name}: contains NaN or infinity")
        if problems:
            raise DeploymentError("malformed deployment:\n  " + "\n  ".join(problems))

    def normalised(self) -> Deployment:
        """A copy with every array cast to its canonical dtype (see :data:`ARRAY_FIELDS`)."""
        kw: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, dtype, _ in ARRAY_FIELDS:
            kw[name] = np.ascontiguousarray(np.asarray(kw[name]).astype(dtype, copy=False))
        kw["provenance"] = dict(self.provenance)
        kw["core_labels"] = list(self.core_labels)
        kw["input_shape"] = tuple(int(s) for s in self.input_shape)
        return Deployment(**kw)

    def per_axon_inputs(self) -> tuple[Deployment, np.ndarray]:
        """The same network with one input channel per input-map entry: ``(deployment, source)``.

        Entry ``k`` of the input map (channel ``c_k`` → axon ``input_axon[k]`` of core ``input_core[k]``)
        becomes channel ``k`` of the returned deployment (``n_inputs = K``, ``input_shape = (K,)``), and
        ``source[k] = c_k`` says which channel of this deployment it carries. Fed ``x[..., source]`` it
        behaves exactly like this deployment fed ``x``; fed *independent* spikes per entry it models an input
        encoder that addresses every axon separately (each axon its own Bernoulli draw of its channel's
        intensity: :func:`spikeforge.data.encode.axon_draws`), as the host of a chip whose input spikes are
        packets to (core, axon) does. Cores, neurons and routes are shared with this deployment (not copied).
        """
        source = np.asarray(self.input_channel, np.int32).copy()
        kw: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        k = len(source)
        kw.update(n_inputs=k, input_shape=(k,), input_channel=np.arange(k, dtype=np.int32),
                  provenance={**self.provenance, "per_axon_inputs": {"channels": int(self.n_inputs)}},
                  core_labels=list(self.core_labels))
        return Deployment(**kw), source

    # ------------------------------------------------------------------ helpers used by mappers
    def effective_weights(self) -> np.ndarray:
        """W_eff[c, i, j] = w_ij · s_j[G_i] as int32 (C, A, N): the signed weight axon i applies to neuron j
        (for a stochastic synapse type, the weight it would apply deterministically; see
        :meth:`expected_weights`)."""
        cores = np.arange(self.n_cores)[:, None]  # (C, 1)
        s_by_axon = np.asarray(self.weights, dtype=np.int32)[cores, :, self.axon_type.astype(np.intp)]  # (C, A, N)
        s_by_axon *= self.crossbar
        return s_by_axon

    def expected_weights(self) -> np.ndarray:
        """E[W_ij] per spike as float64 (C, A, N): w_ij · s_j[G_i], or, for a stochastic synapse type
        (b_j^{G_i} = 1), w_ij · sgn(s) · (|s| + 1) / 256 — the probability that |s| ≥ ρ for ρ uniform on
        0 … 255 (Cassidy et al. 2013)."""
        cores = np.arange(self.n_cores)[:, None]
        types = self.axon_type.astype(np.intp)
        s = np.asarray(self.weights, dtype=np.float64)[cores, :, types]  # (C, A, N)
        sto = np.asarray(self.stochastic_synapse, bool)[cores, :, types]
        s = np.where(sto, np.sign(s) * np.minimum(np.abs(s) + 1, 256) / 256, s)
        return s * self.crossbar

    def set_neurons(self, core: int, neurons: int | slice | np.ndarray | list[int], params: NeuronParams,
                    *, dest: tuple[int, int, int] | None = None) -> None:
        """Enable ``neurons`` of ``core`` with ``params`` (:class:`~spikeforge.deploy.neuron.NeuronParams`) and
        route their spikes to ``dest`` = (core, axon, delay), or off-core
        (:func:`~spikeforge.deploy.neuron.set_neurons`)."""
        from spikeforge.deploy.neuron import set_neurons

        set_neurons(self, core, neurons, params, dest=dest)

    def concat(self, other: Deployment, *, class_offset: int = 0, share_inputs: bool = True) -> Deployment:
        """Place ``other``'s cores after this deployment's (e.g. ensemble copies on distinct cores).

        Destinations and the output map of ``other`` are shifted by this deployment's core count; with
        ``share_inputs`` both read the same input channels, otherwise ``other``'s channels follow ours.
        Placement is recomputed row-major over the combined core count.
        """
        if other.chip != self.chip:
            raise DeploymentError(f"cannot concatenate deployments for {self.chip.name} and {other.chip.name}")
        off = self.n_cores
        shift = lambda a: np.where(a >= 0, a + off, a)  # noqa: E731
        in_off = 0 if share_inputs else self.n_inputs
        n_inputs = max(self.n_inputs, other.n_inputs) if share_inputs else self.n_inputs + other.n_inputs
        cat = np.concatenate
        total = self.n_cores + other.n_cores
        out = Deployment.empty(
            self.chip, total, n_inputs, max(self.n_classes, other.n_classes + class_offset),
            ticks_per_input=max(self.ticks_per_input, other.ticks_per_input),
            input_shape=self.input_shape, provenance=dict(self.provenance),
        )
        for name, _, spec in ARRAY_FIELDS:
            if spec[0] == "C" and name != "placement":
                setattr(out, name, cat([getattr(self, name), getattr(other, name)]))
        out.dest_core = cat([self.dest_core, shift(other.dest_core)]).astype(np.int32)
        out.input_channel = cat([self.input_channel, other.input_channel + in_off]).astype(np.int32)
        out.input_core = cat([self.input_core, other.input_core + off]).astype(np.int32)
        out.input_axon = cat([self.input_axon, other.input_axon]).astype(np.int32)
        out.output_core = cat([self.output_core, other.output_core + off]).astype(np.int32)
        out.output_neuron = cat([self.output_neuron, other.output_neuron]).astype(np.int32)
        out.output_class = cat([self.output_class, other.output_class + class_offset]).astype(np.int32)
        out.core_labels = list(self.core_labels) + list(other.core_labels)
        out.prng_seed = self.prng_seed  # cores, not seeds, tell the copies' draws apart
        return out

    def __eq__(self, other: object) -> bool:
        """Same chip, scalars, maps, provenance and labels, and every array equal element by element (the
        dtype of an array may differ: a loaded deployment holds the file's canonical dtypes)."""
        if not isinstance(other, Deployment):
            return NotImplemented
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if not np.array_equal(np.asarray(a), np.asarray(b)):
                    return False
            elif a != b:
                return False
        return True

    __hash__ = None  # type: ignore[assignment]  # mutable arrays: not hashable

    def __repr__(self) -> str:
        """One line (the arrays are left out: ``summary()`` and the fields have the detail), e.g.
        ``Deployment(truenorth: 5 cores on 1 chip, 784 inputs -> 250 output neurons / 10 classes, ...)``."""
        prov = self.provenance
        made = ", ".join(f"{k}={prov[k]}" for k in ("method", "dataset") if isinstance(prov.get(k), str))
        return (f"Deployment({self.chip.name}: {self.n_cores} cores on {self.n_chips} chip"
                f"{'s' if self.n_chips != 1 else ''}, {self.n_inputs} inputs -> {len(self.output_core)} output "
                f"neurons / {self.n_classes} classes, {int(self.enabled.sum())} neurons, "
                f"{int(np.count_nonzero(self.crossbar))} synapses, {self.ticks_per_input} tick(s) per input"
                f"{', ' + self.mode_summary() if self.stochastic else ''}{', ' + made if made else ''})")

    def summary(self) -> dict[str, Any]:
        """Headline numbers for listings: cores, chips, neurons in use, synapses, maps."""
        return {
            "chip": self.chip.name,
            "cores": self.n_cores,
            "chips": self.n_chips,
            "neurons_enabled": int(self.enabled.sum()),
            "synapses": int(np.count_nonzero(self.crossbar)),
            "inputs": self.n_inputs,
            "input_map_entries": len(self.input_channel),
            "classes": self.n_classes,
            "output_neurons": len(self.output_core),
            "ticks_per_input": self.ticks_per_input,
            "neuron_modes": self.mode_summary(),
            "provenance": dict(self.provenance),
        }

    def mode_summary(self) -> str:
        """Enabled neurons using the stochastic modes and leak reversal, e.g. ``"deterministic"`` or
        ``"stochastic synapses 12, stochastic leak 3, threshold mask 0, leak reversal 1 (PRN seed 7)"``."""
        en = self.enabled.astype(bool)
        n = {"stochastic synapses": int((self.stochastic_synapse.any(axis=2) & en).sum()),
             "stochastic leak": int((self.stochastic_leak.astype(bool) & en).sum()),
             "threshold mask": int(((self.threshold_mask != 0) & en).sum()),
             "leak reversal": int((self.leak_reversal.astype(bool) & en).sum())}
        if not any(n.values()):
            return "deterministic"
        return ", ".join(f"{k} {v}" for k, v in n.items()) + f" (PRN seed {self.prng_seed})"
