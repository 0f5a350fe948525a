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
``PB-BMP``    pointer-based bitmap: per row segment of ``seg_bits`` columns an index word
              ``[bitmap | pointer]``; the non-zero values packed row-major in a value macro. A value's
              address is ``pointer + popcount(bitmap below its bit)``. Transposed access gathers row by
              row over the segments that hold active errors (the bitmap filters the active columns).
``PB-CSR``    pointer-based compressed sparse row: row pointers + ``[column index | value]`` entries,
              plus a column index for the transposed access (column pointers + ``[row | entry pointer]``),
              so the backward pass never searches the rows.
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
    """PB-BMP: pointer-based bitmap.

    Index macro, one word per (row ``i``, segment ``s``) of ``S = seg_bits`` columns:
    ``[bitmap_S | pointer_P]`` where bit ``p`` says whether synapse ``(i, s·S+p)`` exists and the pointer
    is the address in the value macro of the segment's first non-zero. Value macro: the non-zero codes
    in row-major order, one per word. ``P = ⌈log2(nnz+1)⌉``.

    Forward, row ``i``: read the row's ``⌈n_out/S⌉`` index words (decode each: one ``popcnt``), then one
    value read per set bit at ``pointer + rank`` (one ``ptr``). Backward: for every row, read the index
    word of each segment holding an active error, prefix-popcount it, read the values of the set bits
    whose column is active (``transpose="gather"``, default; ``"column"`` processes one error event at a
    time and reads the index word of every row per event). Update: read the index word of every segment
    holding a touched pair (the bitmap tells which pairs exist), then read-modify-write the touched
    stored values. Footprint: ``n_in·⌈n_out/S⌉·(S+P) + nnz·bits``.
    """

    kind: ClassVar[str] = "PB-BMP"

    def __init__(
        self,
        weights: np.ndarray,
        bits: int,
        signed: bool | None = None,
        seg_bits: int = 8,
        transpose: str = "gather",
    ) -> None:
        self.seg = int(seg_bits)
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
        if S + self.ptr_bits > 64:
            raise ValueError(f"index word {S}+{self.ptr_bits} bits exceeds 64; use smaller seg_bits")
        pad = np.zeros((self.n_in, self.n_seg * S), bool)
        pad[:, : self.n_out] = mask
        seg_bits = pad.reshape(self.n_in * self.n_seg, S)
        weights_of_bit = np.left_shift(np.uint64(1), np.arange(S, dtype=np.uint64))
        bitmap = (seg_bits.astype(np.uint64) * weights_of_bit).sum(axis=1, dtype=np.uint64)
        counts = seg_bits.sum(axis=1)
        ptr = (np.cumsum(counts) - counts).astype(np.int64)
        index = pack([(bitmap, S), (to_field(ptr, self.ptr_bits), self.ptr_bits)])
        values = to_field(w[mask], self.bits)
        self.memories = {
            "index": SRAM.from_words("index", S + self.ptr_bits, index),
            "values": SRAM.from_words("values", self.bits, values),
        }

    def _bits(self, bitmap: np.ndarray) -> np.ndarray:
        return ((bitmap[..., None] >> np.arange(self.seg, dtype=np.uint64)) & np.uint64(1)).astype(bool)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        t, i, v, n_t = _events(x, self.n_in)
        words = self.memories["index"].read(i[:, None] * self.n_seg + np.arange(self.n_seg)[None, :])
        self.ops.add("popcnt", words.size)
        bm = unpack(words, 0, self.seg)
        ptr = unpack(words, self.seg, self.ptr_bits).astype(np.int64)
        bits = self._bits(bm)  # (E, n_seg, S)
        rank = np.cumsum(bits, axis=-1) - 1
        e, s, p = np.nonzero(bits)
        addr = ptr[e, s] + rank[e, s, p]
        self.ops.add("ptr", addr.size)
        self.ops.add("acc", addr.size)
        w = self._decode(self.memories["values"].read(addr))
        y = _scatter(t[e], s * self.seg + p, v[e] * w, n_t, self.n_out)
        return y.reshape((*x.shape[:-1], self.n_out))

    def _backward(self, err: np.ndarray) -> np.ndarray:
        if self.transpose == "column":
            return self._backward_column(err)
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

    def _backward_column(self, err: np.ndarray) -> np.ndarray:
        """One error event (column ``j``) at a time: every row's index word holding bit ``j`` is read and
        prefix-popcounted; the value is read when the bit is set."""
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
        i, j = np.nonzero(d != 0)
        seg_id = i * self.n_seg + j // S
        uniq, inv = np.unique(seg_id, return_inverse=True)
        words = self.memories["index"].read(uniq)  # every segment holding a touched pair
        self.ops.add("popcnt", uniq.size)
        bm = unpack(words, 0, S)[inv]
        ptr = unpack(words, S, self.ptr_bits).astype(np.int64)[inv]
        present = ((bm >> (j % S).astype(np.uint64)) & np.uint64(1)).astype(bool)
        i, j, bm, ptr = i[present], j[present], bm[present], ptr[present]
        below = (np.left_shift(np.uint64(1), (j % S).astype(np.uint64)) - np.uint64(1)) & bm
        addr = ptr + np.bitwise_count(below).astype(np.int64)
        self.ops.add("ptr", addr.size)
        self.ops.add("upd", addr.size)
        vals = self.memories["values"]
        new = self._saturate(self._decode(vals.read(addr)) + d[i, j])
        vals.write(addr, to_field(new, self.bits))

    def structure(self) -> np.ndarray:
        S = self.seg
        bm = unpack(self.memories["index"].data, 0, S).reshape(self.n_in, self.n_seg)
        return self._bits(bm).reshape(self.n_in, self.n_seg * S)[:, : self.n_out]

    def to_dense(self) -> np.ndarray:
        mask = self.structure()
        out = np.zeros((self.n_in, self.n_out), np.int64)
        out[mask] = self._decode(self.memories["values"].data[: self.nnz])
        return out


class CSREncoding(FCEncoding):
    """PB-CSR: pointer-based compressed sparse row (index-based).

    Macros: ``rowptr`` (``n_in+1`` words of ``P`` bits) and ``entries`` (``nnz`` words
    ``[column I_c | value]``), ``I_c = ⌈log2 n_out⌉``, ``P = ⌈log2(nnz+1)⌉``.
    Footprint ``(n_in+1)·P + nnz·(I_c+bits)``.

    Forward, row ``i``: 2 row-pointer reads, one entry read per stored synapse of the row.
    Backward (``transpose``):

    * ``"gather"`` (default): per tick with errors, every row's 2 pointers and all its entries are read;
      each entry's column is checked against the error vector (``cmp``) and accumulated if active;
    * ``"search"``: one error event (column ``j``) at a time, every row's pointers are read and the
      column-sorted entries binary-searched for ``j`` (one entry read and one ``cmp`` per probe);
    * ``"csc"``: an extra column index (``colptr`` ``n_out+1`` × ``P``, ``colidx`` ``nnz`` ×
      ``[row I_r | entry pointer P]``): 2 column-pointer reads, then per synapse one ``colidx`` read and
      one entry read through the pointer (``ptr``); footprint ``+ (n_out+1)·P + nnz·(I_r+P)``.

    Update, per touched row: 2 row-pointer reads, merge the row's entries (read) with the touched
    columns (one ``cmp`` per element of either list), write back the touched stored entries.
    """

    kind: ClassVar[str] = "PB-CSR"

    def __init__(
        self, weights: np.ndarray, bits: int, signed: bool | None = None, transpose: str = "gather"
    ) -> None:
        if transpose not in ("gather", "search", "csc"):
            raise ValueError("transpose must be 'gather', 'search' or 'csc'")
        self.transpose = transpose
        super().__init__(weights, bits, signed)

    def _build(self, w: np.ndarray) -> None:
        mask = w != 0
        self.nnz = int(mask.sum())
        self.ic = bits_for(self.n_out)
        self.ir = bits_for(self.n_in)
        self.ptr_bits = bits_for(self.nnz + 1)
        rows, cols = np.nonzero(mask)  # row-major order = entry order
        rowptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))])
        entries = pack([(to_field(cols, self.ic), self.ic), (to_field(w[rows, cols], self.bits), self.bits)])
        order = np.lexsort((rows, cols))  # column-major order of the synapses
        colptr = np.concatenate([[0], np.cumsum(mask.sum(axis=0))])
        colidx = pack([(to_field(rows[order], self.ir), self.ir), (to_field(order, self.ptr_bits), self.ptr_bits)])
        self.memories = {
            "rowptr": SRAM.from_words("rowptr", self.ptr_bits, to_field(rowptr, self.ptr_bits)),
            "entries": SRAM.from_words("entries", self.ic + self.bits, entries),
        }
        if self.transpose == "csc":
            self.memories["colptr"] = SRAM.from_words("colptr", self.ptr_bits, to_field(colptr, self.ptr_bits))
            self.memories["colidx"] = SRAM.from_words("colidx", self.ir + self.ptr_bits, colidx)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        t, i, v, n_t = _events(x, self.n_in)
        rp = self.memories["rowptr"].read(np.stack([i, i + 1], axis=1)).astype(np.int64)
        owner, addr = _expand_ranges(rp[:, 0], rp[:, 1] - rp[:, 0])
        words = self.memories["entries"].read(addr)
        col = unpack(words, 0, self.ic).astype(np.int64)
        w = self._decode(unpack(words, self.ic, self.bits))
        self.ops.add("acc", addr.size)
        y = _scatter(t[owner], col, v[owner] * w, n_t, self.n_out)
        return y.reshape((*x.shape[:-1], self.n_out))

    def _backward(self, err: np.ndarray) -> np.ndarray:
        if self.transpose == "search":
            return self._backward_search(err)
        if self.transpose == "gather":
            return self._backward_gather(err)
        t, j, v, n_t = _events(err, self.n_out)
        cp = self.memories["colptr"].read(np.stack([j, j + 1], axis=1)).astype(np.int64)
        owner, addr = _expand_ranges(cp[:, 0], cp[:, 1] - cp[:, 0])
        cw = self.memories["colidx"].read(addr)
        row = unpack(cw, 0, self.ir).astype(np.int64)
        eptr = unpack(cw, self.ir, self.ptr_bits).astype(np.int64)
        w = self._decode(unpack(self.memories["entries"].read(eptr), self.ic, self.bits))
        self.ops.add("ptr", eptr.size)
        self.ops.add("acc", eptr.size)
        out = _scatter(t[owner], row, v[owner] * w, n_t, self.n_in)
        return out.reshape((*np.asarray(err).shape[:-1], self.n_in))

    def _backward_gather(self, err: np.ndarray) -> np.ndarray:
        """Row-wise gather per tick with any error: read every row's pointers and entries, accumulate the
        entries whose column carries an error (one ``cmp`` per entry for the column check)."""
        e2 = np.asarray(err, dtype=np.float64).reshape(-1, self.n_out)
        ticks = np.flatnonzero(np.any(e2 != 0, axis=1))
        rows = np.tile(np.arange(self.n_in), ticks.size)
        tk = np.repeat(ticks, self.n_in)
        rp = self.memories["rowptr"].read(np.stack([rows, rows + 1], axis=1)).astype(np.int64)
        owner, addr = _expand_ranges(rp[:, 0], rp[:, 1] - rp[:, 0])
        words = self.memories["entries"].read(addr)
        self.ops.add("cmp", addr.size)
        col = unpack(words, 0, self.ic).astype(np.int64)
        ev = e2[tk[owner], col]
        hit = ev != 0
        self.ops.add("acc", int(hit.sum()))
        w = self._decode(unpack(words[hit], self.ic, self.bits))
        out = _scatter(tk[owner][hit], rows[owner][hit], ev[hit] * w, e2.shape[0], self.n_in)
        return out.reshape((*np.asarray(err).shape[:-1], self.n_in))

    def _backward_search(self, err: np.ndarray) -> np.ndarray:
        """One error event (column ``j``) at a time: for every row read both row pointers and binary-search
        the row's column-sorted entries for ``j`` (each probe one entry read and one ``cmp``)."""
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
        ent = self.memories["entries"]
        while act.size:
            mid = (lo[act] + hi[act]) // 2
            words = ent.read(mid)
            self.ops.add("cmp", mid.size)
            col = unpack(words, 0, self.ic).astype(np.int64)
            tg = target[act]
            hit = col == tg
            found[act[hit]] = mid[hit]
            found_w[act[hit]] = self._decode(unpack(words[hit], self.ic, self.bits))
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
        ent = self.memories["entries"]
        words = ent.read(addr)
        # merge of the row's sorted entries with its sorted touched columns: one compare per element
        self.ops.add("cmp", addr.size + np.count_nonzero(d[rows]))
        col = unpack(words, 0, self.ic).astype(np.int64)
        dd = d[rows[owner], col]
        hit = dd != 0
        self.ops.add("upd", int(hit.sum()))
        new = self._saturate(self._decode(unpack(words[hit], self.ic, self.bits)) + dd[hit])
        ent.write(addr[hit], pack([(col[hit].astype(np.uint64), self.ic), (to_field(new, self.bits), self.bits)]))

    def _entries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rp = self.memories["rowptr"].data.astype(np.int64)
        lengths = np.diff(rp)
        rows = np.repeat(np.arange(self.n_in), lengths)
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
