"""Word-addressed SRAM macros that really hold the encoded synapses and count every access.

Each encoding in :mod:`spikeforge.energy.memory.encodings` keeps its state in one or more :class:`SRAM`
objects. The *only* way an encoding touches its storage is :meth:`SRAM.read` / :meth:`SRAM.write`, which
gather/scatter whole words from the backing ``uint64`` array and increment the read/write counters by the
number of words moved. Controller work that is not a memory access (accumulating a synaptic contribution,
pointer arithmetic, index comparisons, bitmap decoding, the add of a weight update) is counted through
:class:`OpCounter`. Counts therefore come from execution: they are exactly the accesses the vectorised
numpy code performed to produce its (checked) result.

Fields are packed little-end first: ``word = f0 | f1 << w0 | f2 << (w0 + w1) | ...``; signed fields are
stored in two's complement. Words are at most 64 bits wide.

Reference: Schaefer, Faley, Neftci, Joshi, "Memory Organization for Energy-Efficient Learning and
Inference in Digital Neuromorphic Accelerators", ISCAS 2020 (arXiv:2003.11639).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from math import ceil, log2

import numpy as np

#: Controller operation kinds counted by :class:`OpCounter` (see ``docs/memory-organisation.md``).
OP_KINDS: tuple[str, ...] = ("acc", "addr", "ptr", "cmp", "popcnt", "upd")

MAX_WORD_BITS = 64


def bits_for(n: int) -> int:
    """Bits needed to hold the integers 0..n-1 (at least 1): ``max(1, ceil(log2 n))``."""
    return max(1, ceil(log2(n))) if n > 1 else 1


def weight_range(bits: int, signed: bool) -> tuple[int, int]:
    """Inclusive integer range of a ``bits``-bit weight: two's complement when ``signed``."""
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def to_field(values: np.ndarray, bits: int) -> np.ndarray:
    """Integers (two's complement for negatives) → unsigned ``bits``-bit field values (uint64)."""
    mask = np.uint64((1 << bits) - 1)
    return np.asarray(values, dtype=np.int64).astype(np.uint64) & mask


def from_field(field_values: np.ndarray, bits: int, signed: bool) -> np.ndarray:
    """Unsigned ``bits``-bit field values → int64, sign-extended when ``signed``."""
    v = np.asarray(field_values, dtype=np.uint64).astype(np.int64)
    if signed:
        v = np.where(v >= (1 << (bits - 1)), v - (1 << bits), v)
    return v


def pack(fields: Iterable[tuple[np.ndarray, int]]) -> np.ndarray:
    """Pack ``(values, bits)`` fields (already unsigned, see :func:`to_field`) into uint64 words."""
    out: np.ndarray | None = None
    shift = 0
    for values, bits in fields:
        v = np.asarray(values, dtype=np.uint64) << np.uint64(shift)
        out = v if out is None else out | v
        shift += bits
    if shift > MAX_WORD_BITS:
        raise ValueError(f"packed word of {shift} bits exceeds {MAX_WORD_BITS}")
    assert out is not None
    return out


def unpack(words: np.ndarray, offset: int, bits: int) -> np.ndarray:
    """The unsigned field of ``bits`` bits at bit ``offset`` of each word."""
    return (np.asarray(words, dtype=np.uint64) >> np.uint64(offset)) & np.uint64((1 << bits) - 1)


@dataclass
class SRAM:
    """One SRAM macro: ``depth`` words of ``word_bits`` bits, with access counters.

    The energy model (:mod:`spikeforge.energy.memory.model`) prices an access by the macro's word width
    and capacity, so every encoding declares each of its memories separately.
    """

    name: str
    word_bits: int
    depth: int
    data: np.ndarray = field(repr=False)
    reads: int = 0
    writes: int = 0

    @classmethod
    def from_words(cls, name: str, word_bits: int, words: np.ndarray) -> SRAM:
        """A macro initialised with ``words`` (uint64, 1-D). An empty array still yields depth 1 (a macro
        always exists once the encoding needs it)."""
        if not 1 <= word_bits <= MAX_WORD_BITS:
            raise ValueError(f"{name}: word width {word_bits} outside 1..{MAX_WORD_BITS}")
        w = np.asarray(words, dtype=np.uint64).ravel()
        if w.size == 0:
            w = np.zeros(1, np.uint64)
        return cls(name=name, word_bits=word_bits, depth=int(w.size), data=w.copy())

    @property
    def footprint_bits(self) -> int:
        """Capacity in bits, ``word_bits · depth``."""
        return self.word_bits * self.depth

    def read(self, addr: np.ndarray) -> np.ndarray:
        """Read the words at ``addr`` (any shape); counts ``addr.size`` reads."""
        a = np.asarray(addr, dtype=np.int64)
        self.reads += int(a.size)
        return self.data[a]

    def write(self, addr: np.ndarray, words: np.ndarray) -> None:
        """Write ``words`` at ``addr``; counts ``addr.size`` writes."""
        a = np.asarray(addr, dtype=np.int64)
        self.writes += int(a.size)
        self.data[a] = np.asarray(words, dtype=np.uint64)

    def reset_counts(self) -> None:
        """Zero the access counters (the contents are untouched)."""
        self.reads = 0
        self.writes = 0


@dataclass
class OpCounter:
    """Controller operations performed during a pass, by kind (see :data:`OP_KINDS`)."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OP_KINDS, 0))

    def add(self, kind: str, n: int | np.integer) -> None:
        """Count ``n`` operations of ``kind``."""
        if kind not in self.counts:
            raise KeyError(f"unknown controller operation {kind!r}; known: {OP_KINDS}")
        self.counts[kind] += int(n)

    def reset(self) -> None:
        """Zero every counter."""
        for k in self.counts:
            self.counts[k] = 0


@dataclass(frozen=True)
class MemoryCounts:
    """Accesses to one macro during one pass."""

    name: str
    word_bits: int
    depth: int
    reads: int
    writes: int

    @property
    def footprint_bits(self) -> int:
        """Capacity of the macro in bits."""
        return self.word_bits * self.depth

    @property
    def bits_moved(self) -> int:
        """Bits read plus bits written."""
        return self.word_bits * (self.reads + self.writes)


@dataclass(frozen=True)
class PassCounts:
    """Everything one pass (forward, backward or update) did to the synaptic memory."""

    encoding: str
    pass_name: str
    memories: tuple[MemoryCounts, ...]
    ops: dict[str, int]

    @property
    def footprint_bits(self) -> int:
        """Total capacity of the encoding's macros."""
        return sum(m.footprint_bits for m in self.memories)

    @property
    def accesses(self) -> int:
        """Word reads plus word writes over all macros; the model's cycle count (one port, one access per
        cycle)."""
        return sum(m.reads + m.writes for m in self.memories)

    def __add__(self, other: PassCounts) -> PassCounts:
        """Sum two passes over the same encoding (e.g. several ticks)."""
        if [m.name for m in self.memories] != [m.name for m in other.memories]:
            raise ValueError("cannot add counts of different encodings")
        mems = tuple(
            MemoryCounts(a.name, a.word_bits, a.depth, a.reads + b.reads, a.writes + b.writes)
            for a, b in zip(self.memories, other.memories, strict=True)
        )
        ops = {k: self.ops.get(k, 0) + other.ops.get(k, 0) for k in OP_KINDS}
        name = self.pass_name if self.pass_name == other.pass_name else f"{self.pass_name}+{other.pass_name}"
        return PassCounts(self.encoding, name, mems, ops)

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly view."""
        return {
            "encoding": self.encoding,
            "pass": self.pass_name,
            "footprint_bits": self.footprint_bits,
            "memories": [
                {"name": m.name, "word_bits": m.word_bits, "depth": m.depth, "reads": m.reads,
                 "writes": m.writes}
                for m in self.memories
            ],
            "ops": dict(self.ops),
        }
