"""Access counts and footprints of tiny hand-worked examples (numbers derived by hand in the comments)."""

from __future__ import annotations

import numpy as np
import pytest

from spikeforge.energy.memory import (
    BitmapEncoding,
    CSREncoding,
    DenseCrossbar,
    FuncRowCol,
    MemoryEnergyConstants,
    access_energy_pj,
    pass_energy,
)

# 2 inputs × 3 outputs, 4-bit signed codes, nnz = 3
W = np.array([[1, 0, 2], [0, 0, -1]])
X = np.array([1.0, 0.0])  # one input event: row 0
ERR = np.array([0.0, 0.0, 1.0])  # one error event: column 2
DELTA = np.array([[0, 0, 1], [0, 1, 0]])  # touches (0,2) stored and (1,1) not stored


def mem(counts, name):
    return next(m for m in counts.memories if m.name == name)


def test_crossbar_counts_and_footprint() -> None:
    enc = DenseCrossbar(W, 4)
    assert enc.footprint_bits == 6 * 4  # 6 words of one 4-bit weight
    enc.forward(X)
    c = enc.last_counts
    assert (mem(c, "weights").reads, c.ops["acc"]) == (3, 3)  # row 0: 3 words, 3 accumulates
    enc.backward(ERR)
    c = enc.last_counts
    assert (mem(c, "weights").reads, c.ops["acc"]) == (2, 2)  # column 2: one word per row
    enc.update(DELTA)
    c = enc.last_counts
    assert (mem(c, "weights").reads, mem(c, "weights").writes, c.ops["upd"]) == (2, 2, 2)


def test_packed_crossbar_counts() -> None:
    enc = DenseCrossbar(W, 4, weights_per_word=2)  # words hold columns (0,1) and (2,pad)
    assert enc.footprint_bits == 2 * 2 * 8
    enc.forward(X)
    assert mem(enc.last_counts, "weights").reads == 2
    enc.backward(ERR)
    assert mem(enc.last_counts, "weights").reads == 2


def test_bitmap_counts_and_footprint() -> None:
    enc = BitmapEncoding(W, 4, seg_bits=8)
    # one 8-bit segment per row; pointer needs ceil(log2(3+1)) = 2 bits -> index words of 10 bits
    assert enc.footprint_bits == 2 * 10 + 3 * 4
    enc.forward(X)
    c = enc.last_counts
    assert mem(c, "index").reads == 1 and mem(c, "values").reads == 2
    assert (c.ops["popcnt"], c.ops["ptr"], c.ops["acc"]) == (1, 2, 2)
    enc.backward(ERR)  # gather: both rows' segment 0, both hold column 2
    c = enc.last_counts
    assert mem(c, "index").reads == 2 and mem(c, "values").reads == 2
    assert (c.ops["popcnt"], c.ops["acc"]) == (2, 2)
    enc.update(DELTA)  # index words of (0,seg0) and (1,seg0); only (0,2) is stored
    c = enc.last_counts
    assert mem(c, "index").reads == 2
    assert (mem(c, "values").reads, mem(c, "values").writes, c.ops["upd"]) == (1, 1, 1)


def test_csr_counts_and_footprint() -> None:
    enc = CSREncoding(W, 4)
    # rowptr 3 × 2 bits, entries 3 × (2-bit column + 4-bit value)
    assert enc.footprint_bits == 3 * 2 + 3 * 6
    enc.forward(X)
    c = enc.last_counts
    assert (mem(c, "rowptr").reads, mem(c, "entries").reads, c.ops["acc"]) == (2, 2, 2)
    enc.backward(ERR)  # gather over both rows: 4 pointer reads, all 3 entries checked
    c = enc.last_counts
    assert (mem(c, "rowptr").reads, mem(c, "entries").reads, c.ops["cmp"], c.ops["acc"]) == (4, 3, 3, 2)
    enc.update(DELTA)  # both rows touched: merge 3 entries with 2 touched columns
    c = enc.last_counts
    assert (mem(c, "rowptr").reads, mem(c, "entries").reads, mem(c, "entries").writes) == (4, 3, 1)
    assert (c.ops["cmp"], c.ops["upd"]) == (5, 1)


def test_func_rowcol_counts() -> None:
    k = np.arange(9).reshape(1, 1, 3, 3) - 4
    enc = FuncRowCol(k, 4, (3, 3))
    assert enc.footprint_bits == 3 * 12  # three kernel rows of 3 × 4 bits
    x = np.zeros((1, 3, 3))
    x[0, 1, 1] = 1  # centre: every row and every target valid
    enc.forward(x)
    c = enc.last_counts
    assert (mem(c, "kernel").reads, c.ops["acc"], c.ops["addr"]) == (3, 9, 3 + 9)
    x = np.zeros((1, 3, 3))
    x[0, 0, 0] = 1  # corner: 2 valid kernel rows, 2 × 2 valid targets
    enc.forward(x)
    c = enc.last_counts
    assert (mem(c, "kernel").reads, c.ops["acc"]) == (2, 4)


def test_energy_of_hand_counts() -> None:
    c = MemoryEnergyConstants(e_dec=1.0, e_bit=0.5, e_wire=0.01, write_factor=2.0, e_acc=0.1, e_addr=0.0,
                              e_ptr=0.0, e_cmp=0.0, e_popcnt=0.0, e_upd=0.0, leak=0.0)
    # 8-bit words, 16 deep: 1·log2(16) + 8·(0.5 + 0.01·sqrt(128))
    assert access_energy_pj(8, 16, c) == pytest.approx(4 + 8 * (0.5 + 0.01 * np.sqrt(128)))
    enc = DenseCrossbar(W, 4)
    enc.forward(X)
    e = pass_energy(enc.last_counts, c)
    per = access_energy_pj(4, 6, c)
    assert e.sram_read == pytest.approx(3 * per * 1e-12)
    assert e.controller == pytest.approx(3 * 0.1 * 1e-12)
    enc.update(DELTA)
    e = pass_energy(enc.last_counts, c)
    assert e.sram_write == pytest.approx(2 * 2.0 * per * 1e-12)
