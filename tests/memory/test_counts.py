"""Access counts and footprints of tiny hand-worked examples (numbers derived by hand in the comments)."""

from __future__ import annotations

import numpy as np
import pytest

from spikeforge.energy.memory import (
    BitmapEncoding,
    ConvBitmap,
    ConvCSR,
    CSREncoding,
    DenseCrossbar,
    FuncBitmap,
    FuncPure,
    FuncRowCol,
    MemoryEnergyConstants,
    access_energy_pj,
    bank_rows,
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
    # row layout: 2 row pointers of ceil(log2(3+1)) = 2 bits, 2 bitmap words of 8 bits, 3 values of 4 bits
    assert enc.footprint_bits == 2 * 2 + 2 * 8 + 3 * 4
    enc.forward(X)
    c = enc.last_counts
    assert (mem(c, "rowptr").reads, mem(c, "bitmap").reads, mem(c, "values").reads) == (1, 1, 2)
    assert (c.ops["popcnt"], c.ops["ptr"], c.ops["acc"]) == (1, 2, 2)
    enc.backward(ERR)  # gather: both rows' pointer and word 0; both hold column 2
    c = enc.last_counts
    assert (mem(c, "rowptr").reads, mem(c, "bitmap").reads, mem(c, "values").reads) == (2, 2, 2)
    assert (c.ops["popcnt"], c.ops["acc"]) == (2, 2)
    enc.update(DELTA)  # pairs (0,2), (1,1): one bitmap word each; only (0,2) is stored
    c = enc.last_counts
    assert (mem(c, "rowptr").reads, mem(c, "bitmap").reads, c.ops["popcnt"]) == (2, 2, 2)
    assert (mem(c, "values").reads, mem(c, "values").writes, c.ops["upd"]) == (1, 1, 1)
    assert np.array_equal(enc.to_dense(), [[1, 0, 3], [0, 0, -1]])


def test_bitmap_pair_update_reads_words_for_the_running_rank() -> None:
    w = np.zeros((1, 24), np.int64)
    w[0, [1, 9, 20]] = [1, 2, 3]  # one synapse in each of the three 8-bit words
    enc = BitmapEncoding(w, 4, seg_bits=8)
    d = np.zeros((1, 24), np.int64)
    d[0, [20, 21]] = 1  # two touched pairs in word 2: words 0 and 1 are read once for the rank
    enc.update(d)
    c = enc.last_counts
    assert (mem(c, "bitmap").reads, c.ops["popcnt"], mem(c, "values").writes) == (2 + 2, 4, 1)
    assert enc.to_dense()[0, 20] == 4


def test_segment_bitmap_counts_and_footprint() -> None:
    enc = BitmapEncoding(W, 4, seg_bits=8, pointer="segment")
    # one 8-bit segment per row; pointer needs ceil(log2(3+1)) = 2 bits -> index words of 10 bits
    assert enc.footprint_bits == 2 * 10 + 3 * 4
    enc.forward(X)
    c = enc.last_counts
    assert mem(c, "index").reads == 1 and mem(c, "values").reads == 2
    assert (c.ops["popcnt"], c.ops["ptr"], c.ops["acc"]) == (1, 2, 2)
    enc.backward(ERR)  # gather: both rows' segment 0, both hold column 2
    c = enc.last_counts
    assert mem(c, "index").reads == 2 and mem(c, "values").reads == 2
    enc.update(DELTA)  # index words of (0,seg0) and (1,seg0); only (0,2) is stored
    c = enc.last_counts
    assert mem(c, "index").reads == 2
    assert (mem(c, "values").reads, mem(c, "values").writes, c.ops["upd"]) == (1, 1, 1)


def test_linked_csr_counts_and_footprint() -> None:
    enc = CSREncoding(W, 4)  # default: linked entries [col 2 | value 4 | row 1 | next 2]
    # rowptr 3 × 2 bits, entries 3 × 9 bits, colhead 3 × 2 bits
    assert enc.footprint_bits == 3 * 2 + 3 * 9 + 3 * 2
    enc.forward(X)  # row 0: 2 pointers, its 2 entries
    c = enc.last_counts
    assert (mem(c, "rowptr").reads, mem(c, "entries").reads, c.ops["acc"]) == (2, 2, 2)
    enc.backward(ERR)  # column 2: its head pointer, then entries (0,2) → (1,2) → end
    c = enc.last_counts
    assert (mem(c, "colhead").reads, mem(c, "entries").reads, mem(c, "rowptr").reads) == (1, 2, 0)
    assert (c.ops["ptr"], c.ops["acc"], c.ops["cmp"]) == (2, 2, 0)
    enc.update(DELTA)  # both rows touched: 4 pointers, 3 entries merged (3 + 2 cmp), RMW of entry (0,2)
    c = enc.last_counts
    assert (mem(c, "rowptr").reads, mem(c, "entries").reads, mem(c, "entries").writes) == (4, 3, 1)
    assert (c.ops["cmp"], c.ops["upd"]) == (5, 1)
    assert np.array_equal(enc.to_dense(), [[1, 0, 3], [0, 0, -1]])
    # the links survive the update: the transposed access still walks column 2
    assert np.array_equal(enc.backward(ERR), [3.0, -1.0])


def test_linked_csr_wide_entries_use_two_macros() -> None:
    w = np.zeros((70000, 4), np.int64)  # nnz 23334: column 2 + value 16 + row 17 + next 15 = 50 bits, one word
    w[::3, 1] = 5
    enc = CSREncoding(w, 16)
    assert "links" not in enc.memories and enc.memories["entries"].word_bits == 2 + 16 + 17 + 15


    class NarrowWords(CSREncoding):
        max_entry_bits = 8  # entries of 2 + 4 + 1 + 2 bits no longer fit: [col | value] and [row | next]

    enc2 = NarrowWords(W, 4)
    assert enc2.memories["entries"].word_bits == 6 and enc2.memories["links"].word_bits == 3
    assert enc2.footprint_bits == 3 * 2 + 3 * 6 + 3 * 3 + 3 * 2
    assert np.array_equal(enc2.backward(ERR), [2.0, -1.0])
    c = enc2.last_counts
    assert (mem(c, "entries").reads, mem(c, "links").reads) == (2, 2)
    enc2.update(DELTA)
    assert np.array_equal(enc2.to_dense(), [[1, 0, 3], [0, 0, -1]])


def test_csr_counts_and_footprint() -> None:
    enc = CSREncoding(W, 4, transpose="gather")
    # rowptr 3 × 2 bits, column indices 3 × 2 bits, values 3 × 4 bits
    assert enc.footprint_bits == 3 * 2 + 3 * 2 + 3 * 4
    enc.forward(X)
    c = enc.last_counts
    assert (mem(c, "rowptr").reads, mem(c, "cols").reads, mem(c, "values").reads, c.ops["acc"]) == (2, 2, 2, 2)
    enc.backward(ERR)  # gather over both rows: 4 pointer reads, all 3 indices checked, 2 values read
    c = enc.last_counts
    assert (mem(c, "rowptr").reads, mem(c, "cols").reads, mem(c, "values").reads) == (4, 3, 2)
    assert (c.ops["cmp"], c.ops["acc"]) == (3, 2)
    enc.update(DELTA)  # both rows touched: merge 3 indices with 2 touched columns, RMW of (0,2)
    c = enc.last_counts
    assert (mem(c, "rowptr").reads, mem(c, "cols").reads, mem(c, "values").reads) == (4, 3, 1)
    assert (mem(c, "values").writes, mem(c, "cols").writes, c.ops["cmp"], c.ops["upd"]) == (1, 0, 5, 1)


def test_packed_csc_csr_counts_and_footprint() -> None:
    enc = CSREncoding(W, 4, transpose="csc", split=False)
    # rowptr 3 × 2, entries 3 × (2 + 4), colptr 4 × 2, colperm 3 × (1-bit row + 2-bit pointer)
    assert enc.footprint_bits == 3 * 2 + 3 * 6 + 4 * 2 + 3 * 3
    enc.forward(X)
    assert (mem(enc.last_counts, "rowptr").reads, mem(enc.last_counts, "entries").reads) == (2, 2)
    enc.backward(ERR)  # column 2: 2 column pointers, 2 colperm words, 2 entries through the pointers
    c = enc.last_counts
    assert (mem(c, "colptr").reads, mem(c, "colperm").reads, mem(c, "entries").reads, c.ops["ptr"]) == (2, 2, 2, 2)


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


def test_sparse_and_functional_conv_counts_and_footprints() -> None:
    # one 3x3 plane with 2 non-zeros, 4-bit codes, a 3x3 map, one event at the centre (every target valid)
    k = np.zeros((1, 1, 3, 3), dtype=np.int64)
    k[0, 0, 0, 1], k[0, 0, 2, 2] = 2, -1
    x = np.zeros((1, 3, 3))
    x[0, 1, 1] = 1
    # PB-CSR: (planes + 1) row pointers of P = ⌈log2 (nnz + 1)⌉ = 2 bits, entries of ⌈log2 9⌉ = 4 offset bits +
    # 4 value bits: 2·2 + 2·8 = 20; the event reads both row pointers and both entries, decodes 2 targets
    csr = ConvCSR(k, 4, (3, 3))
    assert csr.footprint_bits == 20
    csr.forward(x)
    c = csr.last_counts
    assert (mem(c, "rowptr").reads, mem(c, "entries").reads, c.ops["addr"]) == (2, 2, 2)
    # PB-BMP: one index word [9-bit bitmap | 2-bit pointer] + 2 packed 4-bit values: 11 + 8 = 19; one index
    # read (popcount 1), then the 2 values at pointer + rank
    bmp = ConvBitmap(k, 4, (3, 3))
    assert bmp.footprint_bits == 19
    bmp.forward(x)
    c = bmp.last_counts
    assert (mem(c, "index").reads, mem(c, "values").reads, c.ops["popcnt"], c.ops["ptr"]) == (1, 2, 1, 2)
    # Func-BMP: the dense kernel (9 × 4 bits) + a 9-bit bitmap: 45; one bitmap read, the 2 set weights read at
    # their computed addresses (weight address + target address each)
    fbm = FuncBitmap(k, 4, (3, 3))
    assert fbm.footprint_bits == 45
    fbm.forward(x)
    c = fbm.last_counts
    assert (mem(c, "bitmap").reads, mem(c, "kernel").reads, c.ops["addr"]) == (1, 2, 4)
    # Func-Pure: the dense kernel alone (36 bits); all 9 weights read, zeros included: 9 accumulates, 18 addresses
    pure = FuncPure(k, 4, (3, 3))
    assert pure.footprint_bits == 36
    pure.forward(x)
    c = pure.last_counts
    assert (mem(c, "kernel").reads, c.ops["acc"], c.ops["addr"]) == (9, 9, 18)


def test_bank_rows() -> None:
    assert bank_rows(100) == 100 and bank_rows(4096) == 4096
    assert bank_rows(4097) == 2049  # 2 banks
    assert bank_rows(100352) == 3136  # ceil(100352/4096) = 25 -> 32 banks of 3136 rows


def test_energy_of_hand_counts() -> None:
    c = MemoryEnergyConstants(e_dec=1.0, e_bit=0.5, e_bl=0.01, e_row=0.1, e_line=0.2, write_factor=2.0,
                              e_acc=0.1, e_addr=0.0, e_ptr=0.0, e_cmp=0.0, e_popcnt=0.0, e_upd=0.0, leak=0.0)
    # 8-bit words, 16 deep (one bank of 16 rows): 1·log2(16) + 0.5·8 + 0.01·8·16 + 0.1·16 + 0.2·sqrt(128)
    assert access_energy_pj(8, 16, c) == pytest.approx(4 + 4 + 1.28 + 1.6 + 0.2 * np.sqrt(128))
    # 8192 deep: 2 banks of 4096 rows
    assert access_energy_pj(8, 8192, c) == pytest.approx(13 + 4 + 0.01 * 8 * 4096 + 0.1 * 4096 + 0.2 * 256)
    enc = DenseCrossbar(W, 4)
    enc.forward(X)
    e = pass_energy(enc.last_counts, c)
    per = access_energy_pj(4, 6, c)
    assert e.sram_read == pytest.approx(3 * per * 1e-12)
    assert e.controller == pytest.approx(3 * 0.1 * 1e-12)
    enc.update(DELTA)
    e = pass_energy(enc.last_counts, c)
    assert e.sram_write == pytest.approx(2 * 2.0 * per * 1e-12)


def test_footprints_against_published_memory_power() -> None:
    # "Memory Power" of the published rows is proportional to capacity (5.66e-8 per bit for every crossbar);
    # the crossbar and the row-pointer bitmap hold what the published memories hold
    from spikeforge.energy.memory.calibrate import build_encoding, config_from_row
    from spikeforge.energy.memory.reference import read_memory_power

    errs: dict[str, list[float]] = {}
    for row, power in read_memory_power():
        if row.layer == "fc" and row.structure in ("Crossbar", "PB-BMP"):
            fp = build_encoding(config_from_row(row)).footprint_bits
            errs.setdefault(row.structure, []).append(fp / (power / 5.66e-8) - 1)
    assert len(errs["Crossbar"]) == len(errs["PB-BMP"]) == 65
    assert max(abs(e) for e in errs["Crossbar"]) < 0.04
    assert abs(float(np.median(errs["PB-BMP"]))) < 0.01 and max(abs(e) for e in errs["PB-BMP"]) < 0.08


def test_linked_csr_footprint_against_published_memory_power() -> None:
    # PB-CSR holds b + ⌈log2 n_out⌉ + ⌈log2 n_in⌉ + ⌈log2(nnz+1)⌉ bits per stored synapse plus row and
    # column pointers -- what the linked layout stores (the three-array CSR is ~66 % smaller)
    from spikeforge.energy.memory.calibrate import build_encoding, config_from_row
    from spikeforge.energy.memory.reference import read_memory_power

    errs = [build_encoding(config_from_row(row)).footprint_bits / (power / 5.66e-8) - 1
            for row, power in read_memory_power() if row.layer == "fc" and row.structure == "PB-CSR"]
    assert len(errs) == 65
    assert abs(float(np.median(errs))) < 0.01 and max(abs(e) for e in errs) < 0.1
