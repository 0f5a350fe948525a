"""Synaptic-memory encodings of a fully connected weight matrix, after Schaefer et al. (ISCAS 2020).

A layer ``W`` of shape ``(n_in, n_out)`` holds integer weight codes of ``bits`` bits (two's complement
when signed). Row ``i`` is presynaptic input ``i``; column ``j`` is postsynaptic neuron ``j``. Every
encoding stores ``W`` in its own macros (:class:`~spikeforge.energy.memory.sram.SRAM`) and executes
three passes on that storage, each checked against the dense reference:

* forward   ``y = x · W``         -- one event per non-zero input ``x_i`` (a spike), row access;
* backward  ``e = δ · Wᵀ``        -- the transposed access: errors ``δ_j`` of the output neurons go back;
* update    ``W ← sat(W + ΔW)``   -- read-modify-write of every stored weight with ``ΔW_ij ≠ 0``.

Sparse encodings keep their structure fixed during an update (a pruned synapse stays pruned, a weight
that becomes 0 stays stored), which is how on-chip learning with a fixed connectivity works.

Encodings (names as in the paper and its published CSV files):

``Crossbar``  dense array, one synapse per word (``weights_per_word`` packs more); row access reads
              ``⌈n_out/k⌉`` words, column access one word per row.
``PB-BMP``    pointer-based bitmap: one bit per synapse position in a bitmap macro (``seg_bits``-bit words),
              one pointer per row to the row's first value, the non-zero values packed row-major in a
              value macro. A value's address is ``pointer + popcount(bits before it)``. The transposed
              access gathers row by row (the bitmap filters the active columns).
``PB-CSR``    pointer-based compressed sparse row: row pointers and one entry word per stored synapse,
              ``[column | value | row | next]``, where ``next`` links the entries of the same column
              (column head pointers start the lists) -- the transposed access follows the pointers. This
              is the footprint the published PB-CSR memory power implies. Options: the classic
              three-array CSR whose transposed access reads every row's indices and checks them against
              the active errors, packed ``[column | value]`` entries, a column index (CSC pointers), binary
              search per error event.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from math import ceil
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from spikeforge.energy.memory.sram import (
    SRAM,
    MemoryCounts,
    OpCounter,
    PassCounts,
    bits_for,
    from_field,
    pack,
    to_field,
    unpack,
    weight_range,
)


def _expand_ranges(start: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges ``[start_e, start_e + length_e)``: (owner index e per element, element address)."""
    length = np.asarray(length, dtype=np.int64)
    owner = np.repeat(np.arange(length.size), length)
    first = np.cumsum(length) - length
    addr = np.repeat(np.asarray(start, dtype=np.int64), length) + (np.arange(owner.size) - first[owner])
    return owner, addr


def _events(a: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Non-zero entries of ``a`` reshaped to ``(T, width)``: (tick, index, value, T)."""
    a2 = np.asarray(a, dtype=np.float64).reshape(-1, width)
    t, i = np.nonzero(a2)
    return t, i, a2[t, i], a2.shape[0]


def _scatter(t: np.ndarray, col: np.ndarray, val: np.ndarray, n_t: int, width: int) -> np.ndarray:
    """``out[t, col] += val`` summed over duplicates, shape ``(n_t, width)``."""
    flat = np.bincount(t * width + col, weights=val, minlength=n_t * width)
    return flat.reshape(n_t, width)


class SynapticEncoding(ABC):
    """Base class: storage in SRAM macros, three counted passes, footprint in bits."""

    #: Name used in the paper and the published CSV files.
    kind: ClassVar[str] = ""
    #: ``"fc"`` or ``"conv"``.
    layer: ClassVar[str] = "fc"

    def __init__(self, bits: int, signed: bool | None = None) -> None:
        if not 1 <= bits <= 16:
            raise ValueError(f"weight bits must be in 1..16, got {bits}")
        self.bits = int(bits)
        self.signed = bits > 1 if signed is None else bool(signed)
        self.lo, self.hi = weight_range(self.bits, self.signed)
        self.memories: dict[str, SRAM] = {}
        self.ops = OpCounter()
        self.last_counts: PassCounts | None = None

    # ----------------------------------------------------------------- bookkeeping
    def _check_codes(self, w: np.ndarray) -> np.ndarray:
        w = np.asarray(w)
        if not np.issubdtype(w.dtype, np.integer):
            if not np.all(np.equal(np.round(w), w)):
                raise ValueError("weights must be integer codes; quantise first (see quantise_codes)")
        w = w.astype(np.int64)
        if w.size and (w.min() < self.lo or w.max() > self.hi):
            raise ValueError(f"weight codes outside [{self.lo}, {self.hi}] for {self.bits}-bit weights")
        return w

    def _begin(self) -> None:
        for m in self.memories.values():
            m.reset_counts()
        self.ops.reset()

    def _finish(self, pass_name: str) -> PassCounts:
        counts = PassCounts(
            encoding=self.kind,
            pass_name=pass_name,
            memories=tuple(
                MemoryCounts(m.name, m.word_bits, m.depth, m.reads, m.writes) for m in self.memories.values()
            ),
            ops=dict(self.ops.counts),
        )
        self.last_counts = counts
        return counts

    def _decode(self, field_values: np.ndarray) -> np.ndarray:
        return from_field(field_values, self.bits, self.signed)

    def _saturate(self, w: np.ndarray) -> np.ndarray:
        return np.clip(w, self.lo, self.hi)

    @property
    def footprint_bits(self) -> int:
        """Total capacity of the encoding's macros in bits."""
        return sum(m.footprint_bits for m in self.memories.values())

    # ----------------------------------------------------------------- passes
    def forward(self, x: np.ndarray) -> np.ndarray:
        """Forward pass (spikes in → currents out); counts land in :attr:`last_counts`."""
        self._begin()
        y = self._forward(np.asarray(x))
        self._finish("forward")
        return y

    def backward(self, err: np.ndarray) -> np.ndarray:
        """Backward pass, the transposed access (errors of the outputs → errors of the inputs)."""
        self._begin()
        e = self._backward(np.asarray(err))
        self._finish("backward")
        return e

    def update(self, delta: np.ndarray) -> None:
        """Weight update ``W ← saturate(W + ΔW)`` on the stored synapses (read-modify-write)."""
        self._begin()
        self._update(np.asarray(delta))
        self._finish("update")

    def run_passes(
        self, x: np.ndarray, err: np.ndarray, delta: np.ndarray
    ) -> tuple[dict[str, PassCounts], dict[str, np.ndarray]]:
        """Forward, backward and update in turn: (counts per pass, results ``y`` and ``e``)."""
        y = self.forward(x)
        c_f = self.last_counts
        e = self.backward(err)
        c_b = self.last_counts
        self.update(delta)
        c_u = self.last_counts
        assert c_f is not None and c_b is not None and c_u is not None
        return {"forward": c_f, "backward": c_b, "update": c_u}, {"forward": y, "backward": e}

    @abstractmethod
    def _forward(self, x: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _backward(self, err: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _update(self, delta: np.ndarray) -> None: ...

    @abstractmethod
    def to_dense(self) -> np.ndarray:
        """The stored weights decoded to a dense integer array (no accesses counted)."""

    @abstractmethod
    def structure(self) -> np.ndarray:
        """Boolean mask of the synapses this encoding stores (all of them for dense layouts)."""


class FCEncoding(SynapticEncoding):
    """Common shape handling for fully connected layers."""

    layer: ClassVar[str] = "fc"

    def __init__(self, weights: np.ndarray, bits: int, signed: bool | None = None) -> None:
        super().__init__(bits, signed)
        w = self._check_codes(weights)
        if w.ndim != 2:
            raise ValueError(f"FC weights must be 2-D (n_in, n_out), got shape {w.shape}")
        self.n_in, self.n_out = (int(s) for s in w.shape)
        self._build(w)

    @abstractmethod
    def _build(self, w: np.ndarray) -> None: ...


class DenseCrossbar(FCEncoding):
    """Dense crossbar: every synapse stored, ``k = weights_per_word`` per word, row-major.

    Forward, row ``i``: read words ``i·⌈n_out/k⌉ … +⌈n_out/k⌉−1``; accumulate all ``n_out`` synapses.
    Backward, column ``j``: read word ``i·⌈n_out/k⌉ + ⌊j/k⌋`` of every row (``n_in`` reads).
    Update: read, modify and write each word holding a touched synapse.
    Footprint: ``n_in · ⌈n_out/k⌉ · k·bits``.
    """

    kind: ClassVar[str] = "Crossbar"

    def __init__(
        self, weights: np.ndarray, bits: int, signed: bool | None = None, weights_per_word: int = 1
    ) -> None:
        self.k = max(1, min(int(weights_per_word), 64 // bits))
        super().__init__(weights, bits, signed)

    def _build(self, w: np.ndarray) -> None:
        self.wpr = ceil(self.n_out / self.k)
        pad = np.zeros((self.n_in, self.wpr * self.k), np.int64)
        pad[:, : self.n_out] = w
        slots = to_field(pad, self.bits).reshape(self.n_in * self.wpr, self.k)
        words = pack((slots[:, s], self.bits) for s in range(self.k))
        self.memories = {"weights": SRAM.from_words("weights", self.k * self.bits, words)}

    def _slots(self, words: np.ndarray) -> np.ndarray:
        """Words (...,) → decoded weights (..., k)."""
        return np.stack([self._decode(unpack(words, s * self.bits, self.bits)) for s in range(self.k)], -1)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        t, i, v, n_t = _events(x, self.n_in)
        mem = self.memories["weights"]
        words = mem.read(i[:, None] * self.wpr + np.arange(self.wpr)[None, :])
        w = self._slots(words).reshape(len(i), self.wpr * self.k)[:, : self.n_out]
        self.ops.add("acc", w.size)
        sel = sp.csr_matrix((v, (t, np.arange(len(i)))), shape=(n_t, len(i)))
        return np.asarray(sel @ w.astype(np.float64)).reshape((*x.shape[:-1], self.n_out))

    def _backward(self, err: np.ndarray) -> np.ndarray:
        t, j, v, n_t = _events(err, self.n_out)
        mem = self.memories["weights"]
        words = mem.read(np.arange(self.n_in)[None, :] * self.wpr + (j // self.k)[:, None])
        shift = ((j % self.k) * self.bits).astype(np.uint64)[:, None]
        w = self._decode((words >> shift) & np.uint64((1 << self.bits) - 1))
        self.ops.add("acc", w.size)
        sel = sp.csr_matrix((v, (t, np.arange(len(j)))), shape=(n_t, len(j)))
        return np.asarray(sel @ w.astype(np.float64)).reshape((*err.shape[:-1], self.n_in))

    def _update(self, delta: np.ndarray) -> None:
        d = np.asarray(delta, dtype=np.int64).reshape(self.n_in, self.n_out)
        pad = np.zeros((self.n_in, self.wpr * self.k), np.int64)
        pad[:, : self.n_out] = d
        pad = pad.reshape(self.n_in * self.wpr, self.k)
        touched_words = np.flatnonzero(np.any(pad != 0, axis=1))
        self.ops.add("upd", np.count_nonzero(pad))
        mem = self.memories["weights"]
        old = self._slots(mem.read(touched_words))
        new = self._saturate(old + pad[touched_words])
        mem.write(touched_words, pack((to_field(new[:, s], self.bits), self.bits) for s in range(self.k)))

    def to_dense(self) -> np.ndarray:
        w = self._slots(self.memories["weights"].data).reshape(self.n_in, self.wpr * self.k)
        return w[:, : self.n_out].copy()

    def structure(self) -> np.ndarray:
        return np.ones((self.n_in, self.n_out), bool)


class BitmapEncoding(FCEncoding):
    """PB-BMP: pointer-based bitmap. One bit per synapse position says whether the synapse exists; the
    non-zero codes are packed row-major in a ``values`` macro (one per word) and found through a pointer
    plus the rank of the bit (``address = pointer + popcount(bits before it)``).

    Two index layouts (``pointer``):

    * ``"row"`` (default): a ``rowptr`` macro of ``n_in`` words of ``P`` bits (address of the row's first
      value) and a ``bitmap`` macro of ``n_in·⌈n_out/S⌉`` words of ``S = seg_bits`` bits. Footprint
      ``n_in·P + n_in·⌈n_out/S⌉·S + nnz·bits`` -- one bit per position plus one pointer per row, the
      footprint the published memory power of PB-BMP implies (see ``docs/memory-organisation.md``).
    * ``"segment"``: one ``index`` word ``[bitmap_S | pointer_P]`` per row segment of ``S`` columns;
      footprint ``n_in·⌈n_out/S⌉·(S+P) + nnz·bits``.

    ``P = ⌈log2(nnz+1)⌉``.

    Forward, row ``i``: read the row pointer (``"row"``) and the row's ``⌈n_out/S⌉`` bitmap words (one
    ``popcnt`` each), then one value read per set bit at ``pointer + rank`` (one ``ptr``, one ``acc``).

    Backward (``transpose``): ``"gather"`` (default) processes a tick at once: for every row it reads
    the row's pointer and its bitmap words up to the last segment holding an active error (prefix
    popcounts give the ranks), then the values of the set ∧ active bits. ``"column"`` processes one error
    event (column ``j``) at a time: for every row the pointer and the words up to the one holding bit
    ``j``, and the value when bit ``j`` is set.

    Update (``update_access``): ``"pair"`` (default) walks the gradient element by element, row by row:
    the row pointer once per touched row, and for every touched pair the bitmap word holding it (bit test
    and prefix popcount; words before the last touched one that hold no touched pair are read once for
    the running rank), then read-modify-write of the touched stored values. The published PB-BMP energies
    carry this per-position cost: their backward + update energy has a fixed part of ≈ 9 pJ per synapse
    position (≈ 0.9 µJ for 784×128 at any density). ``"word"`` reads each needed bitmap word once per
    touched row. The ``"segment"`` layout reads each index word holding a touched pair once.

    Layout choices (``seg_bits = 8``, row pointers, gather, pair update) were selected by the
    calibration's fit error and the published footprint (``docs/memory-organisation.md``).
    """

    kind: ClassVar[str] = "PB-BMP"

    def __init__(
        self,
        weights: np.ndarray,
        bits: int,
        signed: bool | None = None,
        seg_bits: int = 8,
        transpose: str = "gather",
        pointer: str = "row",
        update_access: str = "pair",
    ) -> None:
        self.seg = int(seg_bits)
        if update_access not in ("pair", "word"):
            raise ValueError("update_access must be 'pair' or 'word'")
        self.update_access = update_access
        if not 1 <= self.seg <= 64:
            raise ValueError("seg_bits must be in 1..64")
        if pointer not in ("row", "segment"):
            raise ValueError("pointer must be 'row' or 'segment'")
        self.pointer = pointer
        if transpose not in ("column", "gather"):
            raise ValueError("transpose must be 'column' or 'gather'")
        self.transpose = transpose
        super().__init__(weights, bits, signed)

    def _build(self, w: np.ndarray) -> None:
        S = self.seg
        self.n_seg = ceil(self.n_out / S)
        mask = w != 0
        self.nnz = int(mask.sum())
        self.ptr_bits = bits_for(self.nnz + 1)
        pad = np.zeros((self.n_in, self.n_seg * S), bool)
        pad[:, : self.n_out] = mask
        seg_bits = pad.reshape(self.n_in * self.n_seg, S)
        weights_of_bit = np.left_shift(np.uint64(1), np.arange(S, dtype=np.uint64))
        bitmap = (seg_bits.astype(np.uint64) * weights_of_bit).sum(axis=1, dtype=np.uint64)
        values = to_field(w[mask], self.bits)
        if self.pointer == "row":
            counts = mask.sum(axis=1)
            rowptr = (np.cumsum(counts) - counts).astype(np.int64)
            self.memories = {
                "rowptr": SRAM.from_words("rowptr", self.ptr_bits, to_field(rowptr, self.ptr_bits)),
                "bitmap": SRAM.from_words("bitmap", S, bitmap),
                "values": SRAM.from_words("values", self.bits, values),
            }
            return
        if S + self.ptr_bits > 64:
            raise ValueError(f"index word {S}+{self.ptr_bits} bits exceeds 64; use smaller seg_bits")
        counts = seg_bits.sum(axis=1)
        ptr = (np.cumsum(counts) - counts).astype(np.int64)
        index = pack([(bitmap, S), (to_field(ptr, self.ptr_bits), self.ptr_bits)])
        self.memories = {
            "index": SRAM.from_words("index", S + self.ptr_bits, index),
            "values": SRAM.from_words("values", self.bits, values),
        }

    def _bits(self, bitmap: np.ndarray) -> np.ndarray:
        return ((bitmap[..., None] >> np.arange(self.seg, dtype=np.uint64)) & np.uint64(1)).astype(bool)

    def _read_rows(self, rows: np.ndarray, n_words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row layout: read the pointers of ``rows`` (1-D) and their first ``n_words[r]`` bitmap words
        (one ``popcnt`` each). Returns (pointer per row, bits ``(len(rows), n_seg·S)``, zero beyond the
        words read)."""
        ptr = self.memories["rowptr"].read(rows).astype(np.int64)
        owner, seg = _expand_ranges(np.zeros_like(rows), n_words)
        words = self.memories["bitmap"].read(rows[owner] * self.n_seg + seg)
        self.ops.add("popcnt", words.size)
        full = np.zeros((rows.size, self.n_seg), np.uint64)
        full[owner, seg] = words
        return ptr, self._bits(full).reshape(rows.size, self.n_seg * self.seg)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        t, i, v, n_t = _events(x, self.n_in)
        if self.pointer == "row":
            ptr, bits = self._read_rows(i, np.full(i.size, self.n_seg))
            rank = np.cumsum(bits, axis=-1) - 1
            e, col = np.nonzero(bits)
            addr = ptr[e] + rank[e, col]
        else:
            words = self.memories["index"].read(i[:, None] * self.n_seg + np.arange(self.n_seg)[None, :])
            self.ops.add("popcnt", words.size)
            bm = unpack(words, 0, self.seg)
            sptr = unpack(words, self.seg, self.ptr_bits).astype(np.int64)
            sbits = self._bits(bm)  # (E, n_seg, S)
            srank = np.cumsum(sbits, axis=-1) - 1
            e, s, p = np.nonzero(sbits)
            addr = sptr[e, s] + srank[e, s, p]
            col = s * self.seg + p
        self.ops.add("ptr", addr.size)
        self.ops.add("acc", addr.size)
        w = self._decode(self.memories["values"].read(addr))
        y = _scatter(t[e], col, v[e] * w, n_t, self.n_out)
        return y.reshape((*x.shape[:-1], self.n_out))

    def _backward(self, err: np.ndarray) -> np.ndarray:
        if self.transpose == "column":
            if self.pointer == "row":
                return self._backward_column_row(err)
            return self._backward_column(err)
        if self.pointer == "row":
            return self._backward_gather_row(err)
        e2 = np.asarray(err, dtype=np.float64).reshape(-1, self.n_out)
        n_t = e2.shape[0]
        S = self.seg
        flat = np.zeros((n_t, self.n_seg * S), bool)
        flat[:, : self.n_out] = e2 != 0
        active = flat.reshape(n_t, self.n_seg, S)
        pt, ps = np.nonzero(active.any(axis=-1))  # (tick, segment) pairs with active errors
        words = self.memories["index"].read(np.arange(self.n_in)[None, :] * self.n_seg + ps[:, None])
        self.ops.add("popcnt", words.size)
        bm = unpack(words, 0, S)
        ptr = unpack(words, S, self.ptr_bits).astype(np.int64)
        bits = self._bits(bm)  # (pairs, n_in, S)
        rank = np.cumsum(bits, axis=-1) - 1
        hit = bits & active[pt, ps][:, None, :]
        q, i, p = np.nonzero(hit)
        addr = ptr[q, i] + rank[q, i, p]
        self.ops.add("ptr", addr.size)
        self.ops.add("acc", addr.size)
        w = self._decode(self.memories["values"].read(addr))
        col = ps[q] * S + p
        out = _scatter(pt[q], i, e2[pt[q], col] * w, n_t, self.n_in)
        return out.reshape((*np.asarray(err).shape[:-1], self.n_in))

    def _backward_gather_row(self, err: np.ndarray) -> np.ndarray:
        """Row layout, one tick at a time: every row's pointer and its bitmap words up to the last segment
        holding an active error; the values of the set ∧ active bits."""
        e2 = np.asarray(err, dtype=np.float64).reshape(-1, self.n_out)
        n_t = e2.shape[0]
        ticks = np.flatnonzero(np.any(e2 != 0, axis=1))
        out = np.zeros((n_t, self.n_in))
        rows = np.arange(self.n_in)
        for tk in ticks:
            n_words = int(np.flatnonzero(e2[tk])[-1]) // self.seg + 1
            ptr, bits = self._read_rows(rows, np.full(self.n_in, n_words))
            rank = np.cumsum(bits, axis=-1) - 1
            act = np.zeros(self.n_seg * self.seg, bool)
            act[: self.n_out] = e2[tk] != 0
            i, col = np.nonzero(bits & act[None, :])
            addr = ptr[i] + rank[i, col]
            self.ops.add("ptr", addr.size)
            self.ops.add("acc", addr.size)
            w = self._decode(self.memories["values"].read(addr))
            out[tk] = np.bincount(i, weights=e2[tk, col] * w, minlength=self.n_in)
        return out.reshape((*np.asarray(err).shape[:-1], self.n_in))

    def _backward_column_row(self, err: np.ndarray) -> np.ndarray:
        """Row layout, one error event (column ``j``) at a time: every row's pointer and its bitmap words
        ``0..⌊j/S⌋``; the value when bit ``j`` is set, at ``pointer + popcount(bits before j)``."""
        S = self.seg
        t, j, v, n_t = _events(err, self.n_out)
        n_ev = j.size
        ev = np.repeat(np.arange(n_ev), self.n_in)
        row = np.tile(np.arange(self.n_in), n_ev)
        col = j[ev]
        ptr = self.memories["rowptr"].read(row).astype(np.int64)
        n_words = col // S + 1
        owner, seg = _expand_ranges(np.zeros_like(row), n_words)
        words = self.memories["bitmap"].read(row[owner] * self.n_seg + seg)
        self.ops.add("popcnt", words.size)
        last = seg == (col // S)[owner]
        below = np.where(last, words & (np.left_shift(np.uint64(1), (col % S).astype(np.uint64)[owner])
                                        - np.uint64(1)), words)
        rank = np.bincount(owner, weights=np.bitwise_count(below), minlength=row.size).astype(np.int64)
        present = np.zeros(row.size, bool)
        present[owner[last]] = ((words[last] >> (col % S).astype(np.uint64)[owner[last]]) & np.uint64(1)) == 1
        q = np.flatnonzero(present)
        addr = ptr[q] + rank[q]
        self.ops.add("ptr", addr.size)
        self.ops.add("acc", addr.size)
        w = self._decode(self.memories["values"].read(addr))
        out = _scatter(t[ev[q]], row[q], v[ev[q]] * w, n_t, self.n_in)
        return out.reshape((*np.asarray(err).shape[:-1], self.n_in))

    def _backward_column(self, err: np.ndarray) -> np.ndarray:
        """Segment layout, one error event (column ``j``) at a time: every row's index word holding bit
        ``j`` is read and prefix-popcounted; the value is read when the bit is set."""
        S = self.seg
        t, j, v, n_t = _events(err, self.n_out)
        words = self.memories["index"].read(np.arange(self.n_in)[None, :] * self.n_seg + (j // S)[:, None])
        self.ops.add("popcnt", words.size)
        bm = unpack(words, 0, S)
        ptr = unpack(words, S, self.ptr_bits).astype(np.int64)
        bit = (j % S).astype(np.uint64)[:, None]
        q, i = np.nonzero(((bm >> bit) & np.uint64(1)).astype(bool))
        below = bm[q, i] & (np.left_shift(np.uint64(1), bit[q, 0]) - np.uint64(1))
        addr = ptr[q, i] + np.bitwise_count(below).astype(np.int64)
        self.ops.add("ptr", addr.size)
        self.ops.add("acc", addr.size)
        w = self._decode(self.memories["values"].read(addr))
        out = _scatter(t[q], i, v[q] * w, n_t, self.n_in)
        return out.reshape((*np.asarray(err).shape[:-1], self.n_in))

    def _update(self, delta: np.ndarray) -> None:
        S = self.seg
        d = np.asarray(delta, dtype=np.int64).reshape(self.n_in, self.n_out)
        if self.pointer == "row" and self.update_access == "pair":
            # gradient elements one at a time, row by row: the row pointer once per touched row, and for
            # every touched pair the bitmap word holding it (bit test + prefix popcount); words before the
            # last touched one that hold no touched pair are read once for the running rank
            i, j = np.nonzero(d != 0)
            rows = np.unique(i)
            ptr = np.zeros(self.n_in, np.int64)
            ptr[rows] = self.memories["rowptr"].read(rows)
            words = self.memories["bitmap"].read(i * self.n_seg + j // S)
            last_seg = np.zeros(self.n_in, np.int64)
            np.maximum.at(last_seg, i, j // S)
            owner, seg = _expand_ranges(np.zeros_like(rows), last_seg[rows] + 1)
            need = rows[owner] * self.n_seg + seg
            extra = np.setdiff1d(need, i * self.n_seg + j // S)
            extra_words = self.memories["bitmap"].read(extra)
            self.ops.add("popcnt", words.size + extra_words.size)
            known = np.zeros(self.n_in * self.n_seg, np.uint64)
            known[extra] = extra_words
            known[i * self.n_seg + j // S] = words
            bits = self._bits(known).reshape(self.n_in, self.n_seg * S)
            rank_row = np.cumsum(bits, axis=1) - 1
            present = bits[i, j]
            i, j = i[present], j[present]
            addr = ptr[i] + rank_row[i, j]
        elif self.pointer == "row":
            rows = np.flatnonzero(np.any(d != 0, axis=1))
            last_col = self.n_out - 1 - np.argmax(d[rows, ::-1] != 0, axis=1)
            ptr, bits = self._read_rows(rows, last_col // S + 1)
            rank = np.cumsum(bits, axis=-1) - 1
            touched = np.zeros_like(bits)
            touched[:, : self.n_out] = d[rows] != 0
            r, j = np.nonzero(bits & touched)
            addr = ptr[r] + rank[r, j]
            i = rows[r]
        else:
            i, j = np.nonzero(d != 0)
            seg_id = i * self.n_seg + j // S
            uniq, inv = np.unique(seg_id, return_inverse=True)
            words = self.memories["index"].read(uniq)  # every segment holding a touched pair
            self.ops.add("popcnt", uniq.size)
            bm = unpack(words, 0, S)[inv]
            sptr = unpack(words, S, self.ptr_bits).astype(np.int64)[inv]
            present = ((bm >> (j % S).astype(np.uint64)) & np.uint64(1)).astype(bool)
            i, j, bm, sptr = i[present], j[present], bm[present], sptr[present]
            below = (np.left_shift(np.uint64(1), (j % S).astype(np.uint64)) - np.uint64(1)) & bm
            addr = sptr + np.bitwise_count(below).astype(np.int64)
        self.ops.add("ptr", addr.size)
        self.ops.add("upd", addr.size)
        vals = self.memories["values"]
        new = self._saturate(self._decode(vals.read(addr)) + d[i, j])
        vals.write(addr, to_field(new, self.bits))

    def structure(self) -> np.ndarray:
        S = self.seg
        if self.pointer == "row":
            bm = self.memories["bitmap"].data[: self.n_in * self.n_seg].reshape(self.n_in, self.n_seg)
        else:
            bm = unpack(self.memories["index"].data, 0, S)[: self.n_in * self.n_seg].reshape(self.n_in, self.n_seg)
        return self._bits(bm).reshape(self.n_in, self.n_seg * S)[:, : self.n_out]

    def to_dense(self) -> np.ndarray:
        mask = self.structure()
        out = np.zeros((self.n_in, self.n_out), np.int64)
        out[mask] = self._decode(self.memories["values"].data[: self.nnz])
        return out


class CSREncoding(FCEncoding):
    """PB-CSR: pointer-based compressed sparse row (index-based).

    Row index: ``rowptr`` (``n_in+1`` words of ``P`` bits), ``P = ⌈log2(nnz+1)⌉``. Per stored synapse a
    column index (``I_c = ⌈log2 n_out⌉`` bits) and a value; ``I_r = ⌈log2 n_in⌉``.

    Layouts and transposed accesses (``transpose``):

    * ``"linked"`` (default): one ``entries`` macro of ``nnz`` words ``[column I_c | value | row I_r |
      next P]`` in row-major order, where ``next`` is the address of the next entry of the same column
      (``nnz`` ends a list), plus ``colhead`` (``n_out`` words of ``P`` bits, the first entry of each
      column). Footprint ``(n_in+1)·P + n_out·P + nnz·(I_c + bits + I_r + P)`` -- the footprint the
      published memory power of PB-CSR implies (``docs/memory-organisation.md``). Backward, per error
      event (column ``j``): the column head, then one entry read per synapse of the column, following
      the ``next`` pointers (one ``ptr`` each). An entry wider than 64 bits is kept as two macros read
      at the same address, ``entries`` ``[column | value]`` and ``links`` ``[row | next]``;
    * ``"gather"``: the classic three-array CSR (``split=True``: ``cols`` ``nnz × I_c`` and ``values``
      ``nnz × bits``; ``split=False``: packed ``[column | value]`` entries); per tick with errors, every
      row's 2 pointers and the column indices of all its synapses are read and checked against the
      error vector (``cmp``); the values of the hits are read;
    * ``"csc"``: the three-array CSR plus a pointer index for the transposed access -- ``colptr``
      (``n_out+1`` × ``P``) and ``colperm`` (``nnz`` words ``[row I_r | entry pointer P]``, column-major):
      per error event 2 column-pointer reads, then per synapse of the column one ``colperm`` read and
      the value read through the pointer (``ptr``);
    * ``"search"``: the three-array CSR; per error event, every row's pointers, then a binary search of
      the row's column-sorted indices for ``j`` (one index read and one ``cmp`` per probe), the value on
      a hit.

    Forward, row ``i``: 2 row-pointer reads; per stored synapse its entry (linked or packed: one read;
    split: column index and value, two reads).

    Update, per touched row: 2 row-pointer reads, merge the row's column indices (read) with the touched
    columns (one ``cmp`` per element of either list), read-modify-write the touched stored values (the
    whole entry word when packed or linked).
    """

    kind: ClassVar[str] = "PB-CSR"
    #: Widest linked entry kept in one word (a :class:`SRAM` word is a ``uint64``).
    max_entry_bits: ClassVar[int] = 64

    def __init__(
        self,
        weights: np.ndarray,
        bits: int,
        signed: bool | None = None,
        transpose: str = "linked",
        split: bool = True,
    ) -> None:
        if transpose not in ("linked", "gather", "search", "csc"):
            raise ValueError("transpose must be 'linked', 'gather', 'search' or 'csc'")
        self.transpose = transpose
        self.linked = transpose == "linked"
        self.split = bool(split) and not self.linked
        super().__init__(weights, bits, signed)

    def _build(self, w: np.ndarray) -> None:
        mask = w != 0
        self.nnz = int(mask.sum())
        self.ic = bits_for(self.n_out)
        self.ir = bits_for(self.n_in)
        self.ptr_bits = bits_for(self.nnz + 1)
        rows, cols = np.nonzero(mask)  # row-major order = entry order
        rowptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))])
        self.memories = {"rowptr": SRAM.from_words("rowptr", self.ptr_bits, to_field(rowptr, self.ptr_bits))}
        entry = [(to_field(cols, self.ic), self.ic), (to_field(w[rows, cols], self.bits), self.bits)]
        if self.linked:
            order = np.lexsort((rows, cols))  # column-major order of the entries
            nxt = np.full(self.nnz, self.nnz, np.int64)  # nnz ends a column's list
            same = cols[order[1:]] == cols[order[:-1]]
            nxt[order[:-1][same]] = order[1:][same]
            head = np.full(self.n_out, self.nnz, np.int64)
            first = np.ones(order.size, bool)
            first[1:] = ~same
            head[cols[order[first]]] = order[first]
            link = [(to_field(rows, self.ir), self.ir), (to_field(nxt, self.ptr_bits), self.ptr_bits)]
            self.entry_bits = self.ic + self.bits + self.ir + self.ptr_bits
            if self.entry_bits <= self.max_entry_bits:
                self.memories["entries"] = SRAM.from_words("entries", self.entry_bits, pack(entry + link))
            else:
                self.memories["entries"] = SRAM.from_words("entries", self.ic + self.bits, pack(entry))
                self.memories["links"] = SRAM.from_words("links", self.ir + self.ptr_bits, pack(link))
            self.memories["colhead"] = SRAM.from_words("colhead", self.ptr_bits, to_field(head, self.ptr_bits))
            return
        if self.split:
            self.memories["cols"] = SRAM.from_words("cols", self.ic, entry[0][0])
            self.memories["values"] = SRAM.from_words("values", self.bits, entry[1][0])
        else:
            self.memories["entries"] = SRAM.from_words("entries", self.ic + self.bits, pack(entry))
        if self.transpose == "csc":
            order = np.lexsort((rows, cols))  # column-major order of the synapses
            colptr = np.concatenate([[0], np.cumsum(mask.sum(axis=0))])
            colperm = pack([(to_field(rows[order], self.ir), self.ir),
                            (to_field(order, self.ptr_bits), self.ptr_bits)])
            self.memories["colptr"] = SRAM.from_words("colptr", self.ptr_bits, to_field(colptr, self.ptr_bits))
            self.memories["colperm"] = SRAM.from_words("colperm", self.ir + self.ptr_bits, colperm)

    # ------------------------------------------------------------------ entry access (counted)
    def _read_links(self, addr: np.ndarray, words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row and next-entry pointer of linked entries ``addr`` (``words``: their entry words, already
        read; a two-macro entry reads its ``links`` word here)."""
        if "links" in self.memories:
            words, off = self.memories["links"].read(addr), 0
        else:
            off = self.ic + self.bits
        row = unpack(words, off, self.ir).astype(np.int64)
        return row, unpack(words, off + self.ir, self.ptr_bits).astype(np.int64)

    def _read_cols(self, addr: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Column indices of entries ``addr``; packed layouts get the value words along (else None)."""
        if self.split:
            return unpack(self.memories["cols"].read(addr), 0, self.ic).astype(np.int64), None
        words = self.memories["entries"].read(addr)
        return unpack(words, 0, self.ic).astype(np.int64), words

    def _read_values(self, addr: np.ndarray, words: np.ndarray | None = None) -> np.ndarray:
        """Decoded values of entries ``addr`` (from ``words`` already read by a packed layout)."""
        if words is not None:
            return self._decode(unpack(words, self.ic, self.bits))
        if self.split:
            return self._decode(self.memories["values"].read(addr))
        return self._decode(unpack(self.memories["entries"].read(addr), self.ic, self.bits))

    def _write_values(self, addr: np.ndarray, words: np.ndarray | None, val: np.ndarray) -> None:
        """Write values ``val`` of entries ``addr``; packed and linked layouts rewrite the entry words
        ``words`` (read before) with the new value field."""
        if self.split:
            self.memories["values"].write(addr, to_field(val, self.bits))
            return
        assert words is not None
        field = np.uint64(((1 << self.bits) - 1) << self.ic)
        new = (np.asarray(words, np.uint64) & ~field) | (to_field(val, self.bits) << np.uint64(self.ic))
        self.memories["entries"].write(addr, new)

    # ------------------------------------------------------------------ passes
    def _forward(self, x: np.ndarray) -> np.ndarray:
        t, i, v, n_t = _events(x, self.n_in)
        rp = self.memories["rowptr"].read(np.stack([i, i + 1], axis=1)).astype(np.int64)
        owner, addr = _expand_ranges(rp[:, 0], rp[:, 1] - rp[:, 0])
        col, words = self._read_cols(addr)
        w = self._read_values(addr, words)
        self.ops.add("acc", addr.size)
        y = _scatter(t[owner], col, v[owner] * w, n_t, self.n_out)
        return y.reshape((*x.shape[:-1], self.n_out))

    def _backward(self, err: np.ndarray) -> np.ndarray:
        if self.linked:
            return self._backward_linked(err)
        if self.transpose == "search":
            return self._backward_search(err)
        if self.transpose == "gather":
            return self._backward_gather(err)
        t, j, v, n_t = _events(err, self.n_out)
        cp = self.memories["colptr"].read(np.stack([j, j + 1], axis=1)).astype(np.int64)
        owner, addr = _expand_ranges(cp[:, 0], cp[:, 1] - cp[:, 0])
        cw = self.memories["colperm"].read(addr)
        row = unpack(cw, 0, self.ir).astype(np.int64)
        eptr = unpack(cw, self.ir, self.ptr_bits).astype(np.int64)
        w = self._read_values(eptr)
        self.ops.add("ptr", eptr.size)
        self.ops.add("acc", eptr.size)
        out = _scatter(t[owner], row, v[owner] * w, n_t, self.n_in)
        return out.reshape((*np.asarray(err).shape[:-1], self.n_in))

    def _backward_linked(self, err: np.ndarray) -> np.ndarray:
        """Per error event (column ``j``): read the column's head pointer, then follow the ``next``
        pointers through the column's entries (one entry read, one ``ptr`` and one ``acc`` each)."""
        t, j, v, n_t = _events(err, self.n_out)
        cur = self.memories["colhead"].read(j).astype(np.int64)
        ev = np.flatnonzero(cur < self.nnz)
        cur = cur[ev]
        out = np.zeros((n_t, self.n_in))
        while ev.size:
            words = self.memories["entries"].read(cur)
            row, nxt = self._read_links(cur, words)
            w = self._read_values(cur, words)
            self.ops.add("ptr", cur.size)
            self.ops.add("acc", cur.size)
            np.add.at(out, (t[ev], row), v[ev] * w)
            live = nxt < self.nnz
            ev, cur = ev[live], nxt[live]
        return out.reshape((*np.asarray(err).shape[:-1], self.n_in))

    def _backward_gather(self, err: np.ndarray) -> np.ndarray:
        """Row-wise gather per tick with any error: read every row's pointers and column indices, check
        each against the error vector (one ``cmp``), read and accumulate the values of the hits."""
        e2 = np.asarray(err, dtype=np.float64).reshape(-1, self.n_out)
        ticks = np.flatnonzero(np.any(e2 != 0, axis=1))
        rows = np.tile(np.arange(self.n_in), ticks.size)
        tk = np.repeat(ticks, self.n_in)
        rp = self.memories["rowptr"].read(np.stack([rows, rows + 1], axis=1)).astype(np.int64)
        owner, addr = _expand_ranges(rp[:, 0], rp[:, 1] - rp[:, 0])
        col, words = self._read_cols(addr)
        self.ops.add("cmp", addr.size)
        ev = e2[tk[owner], col]
        hit = ev != 0
        self.ops.add("acc", int(hit.sum()))
        w = self._read_values(addr[hit], None if words is None else words[hit])
        out = _scatter(tk[owner][hit], rows[owner][hit], ev[hit] * w, e2.shape[0], self.n_in)
        return out.reshape((*np.asarray(err).shape[:-1], self.n_in))

    def _backward_search(self, err: np.ndarray) -> np.ndarray:
        """One error event (column ``j``) at a time: for every row read both row pointers and binary-search
        the row's column-sorted indices for ``j`` (each probe one index read and one ``cmp``); the value
        is read on a hit."""
        t, j, v, n_t = _events(err, self.n_out)
        n_ev = t.size
        ev = np.repeat(np.arange(n_ev), self.n_in)
        row = np.tile(np.arange(self.n_in), n_ev)
        rp = self.memories["rowptr"].read(np.stack([row, row + 1], axis=1)).astype(np.int64)
        lo, hi = rp[:, 0].copy(), rp[:, 1].copy()
        target = j[ev]
        found = np.full(ev.size, -1, np.int64)
        found_w = np.zeros(ev.size, np.int64)
        act = np.flatnonzero(lo < hi)
        while act.size:
            mid = (lo[act] + hi[act]) // 2
            col, words = self._read_cols(mid)
            self.ops.add("cmp", mid.size)
            tg = target[act]
            hit = col == tg
            found[act[hit]] = mid[hit]
            found_w[act[hit]] = self._read_values(mid[hit], None if words is None else words[hit])
            lo[act] = np.where(col < tg, mid + 1, lo[act])
            hi[act] = np.where(col > tg, mid, hi[act])
            act = act[~hit]
            act = act[lo[act] < hi[act]]
        ok = found >= 0
        self.ops.add("acc", int(ok.sum()))
        out = _scatter(t[ev[ok]], row[ok], v[ev[ok]] * found_w[ok], n_t, self.n_in)
        return out.reshape((*np.asarray(err).shape[:-1], self.n_in))

    def _update(self, delta: np.ndarray) -> None:
        d = np.asarray(delta, dtype=np.int64).reshape(self.n_in, self.n_out)
        rows = np.flatnonzero(np.any(d != 0, axis=1))
        rp = self.memories["rowptr"].read(np.stack([rows, rows + 1], axis=1)).astype(np.int64)
        owner, addr = _expand_ranges(rp[:, 0], rp[:, 1] - rp[:, 0])
        col, words = self._read_cols(addr)
        # merge of the row's sorted entries with its sorted touched columns: one compare per element
        self.ops.add("cmp", addr.size + np.count_nonzero(d[rows]))
        dd = d[rows[owner], col]
        hit = dd != 0
        self.ops.add("upd", int(hit.sum()))
        hw = None if words is None else words[hit]
        new = self._saturate(self._read_values(addr[hit], hw) + dd[hit])
        self._write_values(addr[hit], hw, new)

    def _entries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rp = self.memories["rowptr"].data.astype(np.int64)
        lengths = np.diff(rp)
        rows = np.repeat(np.arange(self.n_in), lengths)
        if self.split:
            cols = unpack(self.memories["cols"].data[: self.nnz], 0, self.ic).astype(np.int64)
            return rows, cols, self._decode(self.memories["values"].data[: self.nnz])
        words = self.memories["entries"].data[: self.nnz]
        return rows, unpack(words, 0, self.ic).astype(np.int64), self._decode(unpack(words, self.ic, self.bits))

    def structure(self) -> np.ndarray:
        rows, cols, _ = self._entries()
        m = np.zeros((self.n_in, self.n_out), bool)
        m[rows, cols] = True
        return m

    def to_dense(self) -> np.ndarray:
        rows, cols, vals = self._entries()
        out = np.zeros((self.n_in, self.n_out), np.int64)
        out[rows, cols] = vals
        return out


#: Fully connected encodings by published name.
FC_ENCODINGS: dict[str, type[FCEncoding]] = {
    DenseCrossbar.kind: DenseCrossbar,
    BitmapEncoding.kind: BitmapEncoding,
    CSREncoding.kind: CSREncoding,
}


def dense_reference(
    w: np.ndarray, x: np.ndarray, err: np.ndarray, delta: np.ndarray, mask: np.ndarray, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The dense reference of the three passes: ``x·W``, ``δ·Wᵀ`` and ``clip(W + ΔW·mask)``."""
    wf = np.asarray(w, dtype=np.float64)
    y = np.asarray(x, dtype=np.float64) @ wf
    e = np.asarray(err, dtype=np.float64) @ wf.T
    new = np.clip(np.asarray(w, np.int64) + np.asarray(delta, np.int64) * mask, lo, hi)
    return y, e, new
