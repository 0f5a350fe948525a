"""Synaptic-memory encodings of a convolution layer, including the functional encodings of
Schaefer et al. (ISCAS 2020): the kernel is stored once and the controller generates addresses.

Geometry: input ``(C_in, H, W)``, kernel ``K`` of shape ``(C_out, C_in, k, k)``, stride 1, zero padding
``p`` (default ``k // 2``: "same"), output ``(C_out, H_o, W_o)`` with ``H_o = H + 2p − k + 1``::

    y[co, Y, X] = Σ_{ci, dy, dx} K[co, ci, dy, dx] · x[ci, Y + dy − p, X + dx − p]           (forward)
    e[ci, y, x] = Σ_{co, dy, dx} K[co, ci, dy, dx] · δ[co, y − dy + p, x − dx + p]           (backward)
    K ← sat(K + ΔK)                                                                        (update)

The forward pass is driven by input events ``(ci, y, x)`` (scatter to ``Y = y − dy + p``,
``X = x − dx + p``), the backward pass by error events ``(co, Y, X)`` (gather from the receptive field),
each reading the *same* kernel storage -- the transposed access costs the functional encodings nothing
extra. The update receives the kernel gradient ``ΔK`` (accumulated by the learning engine) and
read-modify-writes the touched kernel weights.

Encodings (published names):

``Func-RowCol`` dense kernel, one word per kernel row (``k`` weights); row/column counters generate the
                word address and the ``k`` target addresses. Rows whose targets fall outside the map are
                skipped.
``Func-Pure``   dense kernel, one weight per word; every weight address is computed arithmetically.
``Func-BMP``    functional addresses plus a ``k²``-bit bitmap per ``(co, ci)`` plane: read the bitmap
                word, then only the non-zero weights (for pruned kernels).
``PB-BMP``      the kernel planes in pointer-based bitmap form: index word ``[bitmap k² | pointer]`` per
                plane and the non-zeros packed in a value macro (``pointer + rank`` addressing).
``PB-CSR``      index-based: per plane a row pointer pair and ``[offset index | value]`` entries; the
                controller must read every entry of a plane to learn where it points, and the update
                scans the plane's entries to find the touched ones.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

import numpy as np

from spikeforge.energy.memory.encodings import SynapticEncoding, _expand_ranges
from spikeforge.energy.memory.sram import SRAM, bits_for, pack, to_field, unpack


def conv_reference(kernel: np.ndarray, x: np.ndarray, pad: int) -> np.ndarray:
    """Dense reference of the forward pass (cross-correlation, zero padding ``pad``, stride 1).

    ``x``: ``(..., C_in, H, W)`` → ``(..., C_out, H_o, W_o)``."""
    k = kernel.shape[-1]
    xs = np.asarray(x, dtype=np.float64)
    lead = xs.shape[:-3]
    xs = xs.reshape((-1, *xs.shape[-3:]))
    h, w = xs.shape[-2:]
    ho, wo = h + 2 * pad - k + 1, w + 2 * pad - k + 1
    xp = np.zeros((xs.shape[0], xs.shape[1], h + 2 * pad, w + 2 * pad))
    xp[:, :, pad : pad + h, pad : pad + w] = xs
    kf = np.asarray(kernel, dtype=np.float64)
    y = np.zeros((xs.shape[0], kernel.shape[0], ho, wo))
    for dy in range(k):
        for dx in range(k):
            y += np.einsum("oc,tcyx->toyx", kf[:, :, dy, dx], xp[:, :, dy : dy + ho, dx : dx + wo])
    return y.reshape(lead + y.shape[1:])


def conv_backward_reference(kernel: np.ndarray, err: np.ndarray, pad: int, in_hw: tuple[int, int]) -> np.ndarray:
    """Dense reference of the backward pass: ``δ (..., C_out, H_o, W_o)`` → ``e (..., C_in, H, W)``."""
    k = kernel.shape[-1]
    es = np.asarray(err, dtype=np.float64)
    lead = es.shape[:-3]
    es = es.reshape((-1, *es.shape[-3:]))
    ho, wo = es.shape[-2:]
    h, w = in_hw
    out = np.zeros((es.shape[0], kernel.shape[1], h + 2 * pad, w + 2 * pad))
    kf = np.asarray(kernel, dtype=np.float64)
    for dy in range(k):
        for dx in range(k):
            out[:, :, dy : dy + ho, dx : dx + wo] += np.einsum("oc,toyx->tcyx", kf[:, :, dy, dx], es)
    out = out[:, :, pad : pad + h, pad : pad + w]
    return out.reshape(lead + out.shape[1:])


class ConvEncoding(SynapticEncoding):
    """Shape handling and the event plumbing common to the convolution encodings."""

    layer: ClassVar[str] = "conv"

    def __init__(
        self,
        kernel: np.ndarray,
        bits: int,
        in_hw: tuple[int, int],
        signed: bool | None = None,
        pad: int | None = None,
    ) -> None:
        super().__init__(bits, signed)
        kern = self._check_codes(kernel)
        if kern.ndim != 4 or kern.shape[2] != kern.shape[3]:
            raise ValueError(f"kernel must be (C_out, C_in, k, k), got {kern.shape}")
        self.c_out, self.c_in, self.k = int(kern.shape[0]), int(kern.shape[1]), int(kern.shape[2])
        self.h, self.w = (int(v) for v in in_hw)
        self.pad = self.k // 2 if pad is None else int(pad)
        self.ho = self.h + 2 * self.pad - self.k + 1
        self.wo = self.w + 2 * self.pad - self.k + 1
        self.n_planes = self.c_out * self.c_in
        self._build(kern)

    @abstractmethod
    def _build(self, kernel: np.ndarray) -> None: ...

    # ----------------------------------------------------------------- event helpers
    def _in_events(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        a = np.asarray(x, dtype=np.float64).reshape(-1, self.c_in, self.h, self.w)
        t, c, yy, xx = np.nonzero(a)
        return t, c, yy, xx, a[t, c, yy, xx], np.asarray(a.shape[0])

    def _err_events(self, err: np.ndarray) -> tuple[np.ndarray, ...]:
        a = np.asarray(err, dtype=np.float64).reshape(-1, self.c_out, self.ho, self.wo)
        t, c, yy, xx = np.nonzero(a)
        return t, c, yy, xx, a[t, c, yy, xx], np.asarray(a.shape[0])

    def _target(self, yy: np.ndarray, xx: np.ndarray, dy: np.ndarray, dx: np.ndarray, forward: bool):
        """Target coordinates and validity for the scatter (forward) or gather (backward)."""
        if forward:
            ty, tx = yy - dy + self.pad, xx - dx + self.pad
            ok = (ty >= 0) & (ty < self.ho) & (tx >= 0) & (tx < self.wo)
        else:
            ty, tx = yy + dy - self.pad, xx + dx - self.pad
            ok = (ty >= 0) & (ty < self.h) & (tx >= 0) & (tx < self.w)
        return ty, tx, ok

    def _accumulate(self, n_t: int, t, c, ty, tx, val, forward: bool, x_shape: tuple[int, ...]) -> np.ndarray:
        ch, hh, ww = (self.c_out, self.ho, self.wo) if forward else (self.c_in, self.h, self.w)
        idx = ((t * ch + c) * hh + ty) * ww + tx
        self.ops.add("acc", idx.size)
        out = np.bincount(idx, weights=val, minlength=n_t * ch * hh * ww).reshape(n_t, ch, hh, ww)
        return out.reshape((*x_shape[:-3], ch, hh, ww))

    def _plane_pairs(self, events_c: np.ndarray, forward: bool) -> tuple[np.ndarray, np.ndarray]:
        """(event index, plane index) for every plane an event touches: all C_out planes of input
        channel ci (forward) or all C_in planes of output channel co (backward)."""
        n = events_c.size
        if forward:
            other = np.arange(self.c_out)
            ev = np.repeat(np.arange(n), self.c_out)
            plane = np.tile(other, n) * self.c_in + np.repeat(events_c, self.c_out)
        else:
            other = np.arange(self.c_in)
            ev = np.repeat(np.arange(n), self.c_in)
            plane = np.repeat(events_c, self.c_in) * self.c_in + np.tile(other, n)
        return ev, plane

    def _pass(self, a: np.ndarray, forward: bool) -> np.ndarray:
        t, c, yy, xx, v, n_t = self._in_events(a) if forward else self._err_events(a)
        ev, plane = self._plane_pairs(c, forward)
        ev2, plane2, dy, dx, w = self._read_planes(ev, plane, yy, xx, forward)
        ty, tx, ok = self._target(yy[ev2], xx[ev2], dy, dx, forward)
        ev2, plane2, ty, tx, w = ev2[ok], plane2[ok], ty[ok], tx[ok], w[ok]
        out_c = plane2 // self.c_in if forward else plane2 % self.c_in
        return self._accumulate(int(n_t), t[ev2], out_c, ty, tx, v[ev2] * w, forward, np.asarray(a).shape)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        return self._pass(x, True)

    def _backward(self, err: np.ndarray) -> np.ndarray:
        return self._pass(err, False)

    @abstractmethod
    def _read_planes(self, ev, plane, yy, xx, forward: bool) -> tuple[np.ndarray, ...]:
        """Read what the (event, plane) pairs need: returns (event, plane, dy, dx, weight) per synapse
        read (targets may still be out of range for index-based layouts, which must read to know)."""

    def _valid_offsets(self, ev, plane, yy, xx, forward: bool):
        """All (pair, dy, dx) whose target is inside the map: the functional address generator's loop."""
        kk = self.k * self.k
        pair = np.repeat(np.arange(ev.size), kk)
        o = np.tile(np.arange(kk), ev.size)
        dy, dx = o // self.k, o % self.k
        _, _, ok = self._target(yy[ev[pair]], xx[ev[pair]], dy, dx, forward)
        return pair[ok], dy[ok], dx[ok]

    def structure(self) -> np.ndarray:
        return np.ones((self.c_out, self.c_in, self.k, self.k), bool)


class FuncRowCol(ConvEncoding):
    """Func-RowCol: dense kernel, one word per kernel row; footprint ``C_out·C_in·k·(k·bits)``.

    Per (event, plane): for each kernel row ``dy`` whose target row is inside the map, one word read
    (``addr``: the row counter) and ``k`` target addresses (``addr``) -- targets outside are dropped."""

    kind: ClassVar[str] = "Func-RowCol"

    def _build(self, kernel: np.ndarray) -> None:
        if self.k * self.bits > 64:
            raise ValueError("Func-RowCol needs k·bits ≤ 64")
        rows = to_field(kernel, self.bits).reshape(self.n_planes * self.k, self.k)
        words = pack((rows[:, s], self.bits) for s in range(self.k))
        self.memories = {"kernel": SRAM.from_words("kernel", self.k * self.bits, words)}

    def _row_weights(self, words: np.ndarray) -> np.ndarray:
        return np.stack([self._decode(unpack(words, s * self.bits, self.bits)) for s in range(self.k)], -1)

    def _read_planes(self, ev, plane, yy, xx, forward):
        k = self.k
        pair = np.repeat(np.arange(ev.size), k)
        dy = np.tile(np.arange(k), ev.size)
        y0 = yy[ev[pair]]
        ty = y0 - dy + self.pad if forward else y0 + dy - self.pad
        lim = self.ho if forward else self.h
        ok = (ty >= 0) & (ty < lim)
        pair, dy = pair[ok], dy[ok]
        words = self.memories["kernel"].read(plane[pair] * k + dy)
        self.ops.add("addr", words.size)
        w = self._row_weights(words)  # (n, k)
        n = pair.size
        self.ops.add("addr", n * k)
        return (np.repeat(ev[pair], k), np.repeat(plane[pair], k), np.repeat(dy, k),
                np.tile(np.arange(k), n), w.reshape(-1))

    def _update(self, delta: np.ndarray) -> None:
        d = np.asarray(delta, dtype=np.int64).reshape(self.n_planes * self.k, self.k)
        rows = np.flatnonzero(np.any(d != 0, axis=1))
        self.ops.add("upd", np.count_nonzero(d))
        mem = self.memories["kernel"]
        new = self._saturate(self._row_weights(mem.read(rows)) + d[rows])
        mem.write(rows, pack((to_field(new[:, s], self.bits), self.bits) for s in range(self.k)))

    def to_dense(self) -> np.ndarray:
        w = self._row_weights(self.memories["kernel"].data)
        return w.reshape(self.c_out, self.c_in, self.k, self.k)


class FuncPure(ConvEncoding):
    """Func-Pure: dense kernel, one weight per word at the computed address
    ``((co·C_in + ci)·k + dy)·k + dx``; footprint ``C_out·C_in·k²·bits``."""

    kind: ClassVar[str] = "Func-Pure"

    def _build(self, kernel: np.ndarray) -> None:
        self.memories = {"kernel": SRAM.from_words("kernel", self.bits, to_field(kernel.ravel(), self.bits))}

    def _read_planes(self, ev, plane, yy, xx, forward):
        pair, dy, dx = self._valid_offsets(ev, plane, yy, xx, forward)
        kk = self.k * self.k
        w = self._decode(self.memories["kernel"].read(plane[pair] * kk + dy * self.k + dx))
        self.ops.add("addr", 2 * pair.size)  # weight address + target address
        return ev[pair], plane[pair], dy, dx, w

    def _update(self, delta: np.ndarray) -> None:
        d = np.asarray(delta, dtype=np.int64).ravel()
        idx = np.flatnonzero(d)
        self.ops.add("upd", idx.size)
        mem = self.memories["kernel"]
        new = self._saturate(self._decode(mem.read(idx)) + d[idx])
        mem.write(idx, to_field(new, self.bits))

    def to_dense(self) -> np.ndarray:
        return self._decode(self.memories["kernel"].data).reshape(self.c_out, self.c_in, self.k, self.k)


class _BitmapPlanes(ConvEncoding):
    """Shared bitmap handling: a ``k²``-bit bitmap per plane (bit ``dy·k + dx``)."""

    def _plane_bitmaps(self, kernel: np.ndarray) -> np.ndarray:
        kk = self.k * self.k
        m = (kernel.reshape(self.n_planes, kk) != 0).astype(np.uint64)
        return (m * np.left_shift(np.uint64(1), np.arange(kk, dtype=np.uint64))).sum(axis=1, dtype=np.uint64)

    def _set_bits(self, bm: np.ndarray) -> np.ndarray:
        kk = self.k * self.k
        return ((bm[:, None] >> np.arange(kk, dtype=np.uint64)) & np.uint64(1)).astype(bool)

    def _bitmap_hits(self, bm, ev, yy, xx, forward):
        """Set bits whose target is inside the map: (pair, offset, rank among the plane's set bits)."""
        bits = self._set_bits(bm)
        rank = np.cumsum(bits, axis=1) - 1
        pair, o = np.nonzero(bits)
        dy, dx = o // self.k, o % self.k
        _, _, ok = self._target(yy[ev[pair]], xx[ev[pair]], dy, dx, forward)
        return pair[ok], o[ok], rank[pair[ok], o[ok]]


class FuncBitmap(_BitmapPlanes):
    """Func-BMP: functional addresses into a dense kernel, plus a ``k²``-bit bitmap per plane so only
    non-zero weights are read. Footprint ``C_out·C_in·k²·(bits + 1)``."""

    kind: ClassVar[str] = "Func-BMP"

    def _build(self, kernel: np.ndarray) -> None:
        kk = self.k * self.k
        if kk > 64:
            raise ValueError("Func-BMP needs k² ≤ 64")
        self.memories = {
            "bitmap": SRAM.from_words("bitmap", kk, self._plane_bitmaps(kernel)),
            "kernel": SRAM.from_words("kernel", self.bits, to_field(kernel.ravel(), self.bits)),
        }

    def _read_planes(self, ev, plane, yy, xx, forward):
        bm = self.memories["bitmap"].read(plane)
        self.ops.add("popcnt", bm.size)
        pair, o, _ = self._bitmap_hits(bm, ev, yy, xx, forward)
        w = self._decode(self.memories["kernel"].read(plane[pair] * self.k * self.k + o))
        self.ops.add("addr", 2 * pair.size)
        return ev[pair], plane[pair], o // self.k, o % self.k, w

    def _update(self, delta: np.ndarray) -> None:
        kk = self.k * self.k
        d = np.asarray(delta, dtype=np.int64).reshape(self.n_planes, kk)
        planes = np.flatnonzero(np.any(d != 0, axis=1))
        bm = self.memories["bitmap"].read(planes)
        self.ops.add("popcnt", bm.size)
        bits = self._set_bits(bm)
        q, o = np.nonzero(bits & (d[planes] != 0))
        idx = planes[q] * kk + o
        self.ops.add("addr", idx.size)
        self.ops.add("upd", idx.size)
        mem = self.memories["kernel"]
        new = self._saturate(self._decode(mem.read(idx)) + d[planes[q], o])
        mem.write(idx, to_field(new, self.bits))

    def structure(self) -> np.ndarray:
        return self._set_bits(self.memories["bitmap"].data).reshape(self.c_out, self.c_in, self.k, self.k)

    def to_dense(self) -> np.ndarray:
        w = self._decode(self.memories["kernel"].data).reshape(self.c_out, self.c_in, self.k, self.k)
        return np.where(self.structure(), w, 0)


class ConvBitmap(_BitmapPlanes):
    """PB-BMP for a convolution: per plane an index word ``[bitmap k² | pointer P]``, the non-zero
    weights packed in a value macro, value address ``pointer + rank``. Footprint
    ``C_out·C_in·(k² + P) + nnz·bits``."""

    kind: ClassVar[str] = "PB-BMP"

    def _build(self, kernel: np.ndarray) -> None:
        kk = self.k * self.k
        flat = kernel.reshape(self.n_planes, kk)
        mask = flat != 0
        self.nnz = int(mask.sum())
        self.ptr_bits = bits_for(self.nnz + 1)
        if kk + self.ptr_bits > 64:
            raise ValueError("PB-BMP conv needs k² + pointer bits ≤ 64")
        counts = mask.sum(axis=1)
        ptr = np.cumsum(counts) - counts
        index = pack([(self._plane_bitmaps(kernel), kk), (to_field(ptr, self.ptr_bits), self.ptr_bits)])
        self.memories = {
            "index": SRAM.from_words("index", kk + self.ptr_bits, index),
            "values": SRAM.from_words("values", self.bits, to_field(flat[mask], self.bits)),
        }

    def _read_planes(self, ev, plane, yy, xx, forward):
        kk = self.k * self.k
        words = self.memories["index"].read(plane)
        self.ops.add("popcnt", words.size)
        bm = unpack(words, 0, kk)
        ptr = unpack(words, kk, self.ptr_bits).astype(np.int64)
        pair, o, rank = self._bitmap_hits(bm, ev, yy, xx, forward)
        w = self._decode(self.memories["values"].read(ptr[pair] + rank))
        self.ops.add("ptr", pair.size)
        self.ops.add("addr", pair.size)
        return ev[pair], plane[pair], o // self.k, o % self.k, w

    def _update(self, delta: np.ndarray) -> None:
        kk = self.k * self.k
        d = np.asarray(delta, dtype=np.int64).reshape(self.n_planes, kk)
        planes = np.flatnonzero(np.any(d != 0, axis=1))
        words = self.memories["index"].read(planes)
        self.ops.add("popcnt", words.size)
        bm = unpack(words, 0, kk)
        ptr = unpack(words, kk, self.ptr_bits).astype(np.int64)
        bits = self._set_bits(bm)
        rank = np.cumsum(bits, axis=1) - 1
        q, o = np.nonzero(bits & (d[planes] != 0))
        addr = ptr[q] + rank[q, o]
        self.ops.add("ptr", addr.size)
        self.ops.add("upd", addr.size)
        mem = self.memories["values"]
        new = self._saturate(self._decode(mem.read(addr)) + d[planes[q], o])
        mem.write(addr, to_field(new, self.bits))

    def structure(self) -> np.ndarray:
        kk = self.k * self.k
        bm = unpack(self.memories["index"].data, 0, kk)
        return self._set_bits(bm).reshape(self.c_out, self.c_in, self.k, self.k)

    def to_dense(self) -> np.ndarray:
        mask = self.structure().reshape(self.n_planes, -1)
        out = np.zeros(mask.shape, np.int64)
        out[mask] = self._decode(self.memories["values"].data[: self.nnz])
        return out.reshape(self.c_out, self.c_in, self.k, self.k)


class ConvCSR(ConvEncoding):
    """PB-CSR for a convolution (index-based): ``rowptr`` (``C_out·C_in + 1`` words of ``P`` bits) and
    per non-zero an entry ``[offset ⌈log2 k²⌉ | value]``. Every (event, plane) reads both row pointers and
    all the plane's entries (the offset is only known after the read; ``addr`` decodes the target).
    The update reads the row pointers of each touched plane, scans its entries (``cmp``) and writes the
    touched ones. Footprint ``(C_out·C_in + 1)·P + nnz·(⌈log2 k²⌉ + bits)``."""

    kind: ClassVar[str] = "PB-CSR"

    def _build(self, kernel: np.ndarray) -> None:
        kk = self.k * self.k
        flat = kernel.reshape(self.n_planes, kk)
        mask = flat != 0
        self.nnz = int(mask.sum())
        self.ob = bits_for(kk)
        self.ptr_bits = bits_for(self.nnz + 1)
        q, o = np.nonzero(mask)
        rowptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))])
        entries = pack([(to_field(o, self.ob), self.ob), (to_field(flat[q, o], self.bits), self.bits)])
        self.memories = {
            "rowptr": SRAM.from_words("rowptr", self.ptr_bits, to_field(rowptr, self.ptr_bits)),
            "entries": SRAM.from_words("entries", self.ob + self.bits, entries),
        }

    def _read_planes(self, ev, plane, yy, xx, forward):
        rp = self.memories["rowptr"].read(np.stack([plane, plane + 1], axis=1)).astype(np.int64)
        pair, addr = _expand_ranges(rp[:, 0], rp[:, 1] - rp[:, 0])
        words = self.memories["entries"].read(addr)
        self.ops.add("addr", addr.size)
        o = unpack(words, 0, self.ob).astype(np.int64)
        w = self._decode(unpack(words, self.ob, self.bits))
        return ev[pair], plane[pair], o // self.k, o % self.k, w

    def _update(self, delta: np.ndarray) -> None:
        kk = self.k * self.k
        d = np.asarray(delta, dtype=np.int64).reshape(self.n_planes, kk)
        planes = np.flatnonzero(np.any(d != 0, axis=1))
        rp = self.memories["rowptr"].read(np.stack([planes, planes + 1], axis=1)).astype(np.int64)
        owner, addr = _expand_ranges(rp[:, 0], rp[:, 1] - rp[:, 0])
        ent = self.memories["entries"]
        words = ent.read(addr)
        self.ops.add("cmp", addr.size + np.count_nonzero(d[planes]))
        o = unpack(words, 0, self.ob).astype(np.int64)
        dd = d[planes[owner], o]
        hit = dd != 0
        self.ops.add("upd", int(hit.sum()))
        new = self._saturate(self._decode(unpack(words[hit], self.ob, self.bits)) + dd[hit])
        ent.write(addr[hit], pack([(o[hit].astype(np.uint64), self.ob), (to_field(new, self.bits), self.bits)]))

    def _entries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rp = self.memories["rowptr"].data.astype(np.int64)
        q = np.repeat(np.arange(self.n_planes), np.diff(rp))
        words = self.memories["entries"].data[: self.nnz]
        return q, unpack(words, 0, self.ob).astype(np.int64), self._decode(unpack(words, self.ob, self.bits))

    def structure(self) -> np.ndarray:
        q, o, _ = self._entries()
        m = np.zeros((self.n_planes, self.k * self.k), bool)
        m[q, o] = True
        return m.reshape(self.c_out, self.c_in, self.k, self.k)

    def to_dense(self) -> np.ndarray:
        q, o, v = self._entries()
        out = np.zeros((self.n_planes, self.k * self.k), np.int64)
        out[q, o] = v
        return out.reshape(self.c_out, self.c_in, self.k, self.k)


#: Convolution encodings by published name.
CONV_ENCODINGS: dict[str, type[ConvEncoding]] = {
    ConvBitmap.kind: ConvBitmap,
    ConvCSR.kind: ConvCSR,
    FuncRowCol.kind: FuncRowCol,
    FuncBitmap.kind: FuncBitmap,
    FuncPure.kind: FuncPure,
}
