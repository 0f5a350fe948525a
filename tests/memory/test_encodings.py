"""Each encoding's three passes equal the dense reference (property tests over shapes, densities, bits)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from spikeforge.energy.memory import (
    CONV_ENCODINGS,
    FC_ENCODINGS,
    CSREncoding,
    conv_backward_reference,
    conv_reference,
    dense_reference,
)
from spikeforge.energy.memory.sram import weight_range

SETTINGS = settings(max_examples=25, deadline=None)


def _codes(rng: np.random.Generator, shape: tuple[int, ...], bits: int, density: float, signed: bool) -> np.ndarray:
    lo, hi = weight_range(bits, signed)
    w = rng.integers(lo, hi + 1, shape)
    w[rng.random(shape) >= density] = 0
    return w


@SETTINGS
@given(
    n_in=st.integers(1, 40), n_out=st.integers(1, 70), bits=st.integers(1, 16),
    density=st.floats(0.0, 1.0), ticks=st.integers(1, 3), seed=st.integers(0, 2**31 - 1),
    name=st.sampled_from(sorted(FC_ENCODINGS)),
)
def test_fc_passes_equal_dense_reference(n_in, n_out, bits, density, ticks, seed, name) -> None:
    rng = np.random.default_rng(seed)
    signed = bits > 1
    w = _codes(rng, (n_in, n_out), bits, density, signed)
    enc = FC_ENCODINGS[name](w, bits)
    assert np.array_equal(enc.to_dense(), w)
    x = (rng.random((ticks, n_in)) < 0.4) * rng.integers(1, 3, (ticks, n_in))
    err = rng.normal(size=(ticks, n_out)) * (rng.random((ticks, n_out)) < 0.5)
    delta = rng.integers(-3, 4, (n_in, n_out)) * (rng.random((n_in, n_out)) < 0.5)
    y = enc.forward(x)
    e = enc.backward(err)
    enc.update(delta)
    lo, hi = weight_range(bits, signed)
    y_ref, e_ref, w_ref = dense_reference(w, x, err, delta, w != 0 if name != "Crossbar" else np.ones_like(w, bool),
                                          lo, hi)
    assert np.allclose(y, y_ref)
    assert np.allclose(e, e_ref)
    assert np.array_equal(enc.to_dense(), w_ref)


@SETTINGS
@given(
    c_in=st.integers(1, 3), c_out=st.integers(1, 4), k=st.sampled_from([1, 3, 5]), h=st.integers(3, 9),
    w=st.integers(3, 9), bits=st.integers(2, 12), density=st.floats(0.0, 1.0), seed=st.integers(0, 2**31 - 1),
    name=st.sampled_from(sorted(CONV_ENCODINGS)),
)
def test_conv_passes_equal_dense_reference(c_in, c_out, k, h, w, bits, density, seed, name) -> None:
    rng = np.random.default_rng(seed)
    kern = _codes(rng, (c_out, c_in, k, k), bits, density, True)
    if name == "Func-RowCol" and k * bits > 64:
        return
    enc = CONV_ENCODINGS[name](kern, bits, (h, w))
    assert np.array_equal(enc.to_dense(), kern)
    x = (rng.random((2, c_in, h, w)) < 0.3).astype(float)
    err = rng.normal(size=(2, c_out, enc.ho, enc.wo)) * (rng.random((2, c_out, enc.ho, enc.wo)) < 0.5)
    delta = rng.integers(-3, 4, kern.shape)
    y = enc.forward(x)
    e = enc.backward(err)
    enc.update(delta)
    assert np.allclose(y, conv_reference(kern, x, enc.pad))
    assert np.allclose(e, conv_backward_reference(kern, err, enc.pad, (h, w)))
    lo, hi = weight_range(bits, True)
    assert np.array_equal(enc.to_dense(), np.clip(kern + delta * enc.structure(), lo, hi))


def test_sparse_structure_is_fixed_during_update() -> None:
    w = np.array([[1, 0], [0, -2]])
    for name in ("PB-BMP", "PB-CSR"):
        enc = FC_ENCODINGS[name](w, 4)
        enc.update(np.array([[-1, 5], [5, 0]]))
        assert np.array_equal(enc.to_dense(), np.array([[0, 0], [0, -2]]))
        assert np.array_equal(enc.structure(), w != 0)


class _NarrowCSR(CSREncoding):
    max_entry_bits = 16  # most linked entries split into [col | value] and [row | next] macros


@SETTINGS
@given(
    n_in=st.integers(1, 40), n_out=st.integers(1, 70), bits=st.integers(1, 16),
    density=st.floats(0.0, 1.0), ticks=st.integers(1, 3), seed=st.integers(0, 2**31 - 1),
    option=st.sampled_from(["linked", "linked-narrow", "gather", "gather-packed", "search", "csc", "csc-packed"]),
)
def test_csr_options_equal_dense_reference(n_in, n_out, bits, density, ticks, seed, option) -> None:
    rng = np.random.default_rng(seed)
    signed = bits > 1
    w = _codes(rng, (n_in, n_out), bits, density, signed)
    if option == "linked-narrow":
        enc: CSREncoding = _NarrowCSR(w, bits)
    else:
        transpose, _, packed = option.partition("-")
        enc = CSREncoding(w, bits, transpose=transpose, split=not packed)
    assert np.array_equal(enc.to_dense(), w)
    x = (rng.random((ticks, n_in)) < 0.4) * rng.integers(1, 3, (ticks, n_in))
    err = rng.normal(size=(ticks, n_out)) * (rng.random((ticks, n_out)) < 0.5)
    delta = rng.integers(-3, 4, (n_in, n_out)) * (rng.random((n_in, n_out)) < 0.5)
    y, e = enc.forward(x), enc.backward(err)
    enc.update(delta)
    lo, hi = weight_range(bits, signed)
    y_ref, e_ref, w_ref = dense_reference(w, x, err, delta, w != 0, lo, hi)
    assert np.allclose(y, y_ref) and np.allclose(e, e_ref)
    assert np.array_equal(enc.to_dense(), w_ref)
    # the stored links / indices still describe the updated weights
    assert np.allclose(enc.backward(err), np.asarray(err, float) @ w_ref.T)
