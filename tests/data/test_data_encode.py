"""Spike encoders: shapes, determinism, rate statistics, input validation, Encoder config."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikeforge.data import Encoder, bernoulli_encode, regular_encode, thermometer_encode, threshold_encode
from spikeforge.data import encode as encode_module


def test_threshold_uint8_and_float_agree() -> None:
    x8 = np.array([[[0, 127], [128, 255]]], dtype=np.uint8)
    out = threshold_encode(x8, ticks=3)
    assert out.shape == (1, 3, 4) and out.dtype == np.uint8 and out.flags.c_contiguous
    assert out[0].tolist() == [[0, 0, 1, 1]] * 3
    np.testing.assert_array_equal(threshold_encode(x8 / 255.0, ticks=3), out)
    np.testing.assert_array_equal(threshold_encode(x8.astype(np.float32) / 255, ticks=3), out)


def test_threshold_is_strict() -> None:
    x = np.array([[0.0, 0.25, 0.5, 1.0]])
    assert threshold_encode(x, threshold=0.0).ravel().tolist() == [0, 1, 1, 1]
    assert threshold_encode(x, threshold=0.5).ravel().tolist() == [0, 0, 0, 1]
    assert threshold_encode(x, threshold=1.0).ravel().tolist() == [0, 0, 0, 0]
    assert threshold_encode(np.array([[False, True]])).ravel().tolist() == [0, 1]


def test_channels_are_flattened_pixels() -> None:
    x = np.zeros((2, 3, 4, 5), dtype=np.uint8)
    x[1, 2, 3, 4] = 255
    out = threshold_encode(x, ticks=2)
    assert out.shape == (2, 2, 60)
    assert out[1, :, 59].tolist() == [1, 1] and out.sum() == 2


def test_bernoulli_is_deterministic_with_seed() -> None:
    x = np.random.default_rng(1).random((4, 8, 8))
    a = bernoulli_encode(x, 10, 123)
    assert a.shape == (4, 10, 64) and a.dtype == np.uint8 and set(np.unique(a)) <= {0, 1}
    np.testing.assert_array_equal(a, bernoulli_encode(x, 10, 123))
    np.testing.assert_array_equal(a, bernoulli_encode(x, 10, np.random.default_rng(123)))
    assert not np.array_equal(a, bernoulli_encode(x, 10, 124))
    gen = np.random.default_rng(5)
    assert not np.array_equal(bernoulli_encode(x, 10, gen), bernoulli_encode(x, 10, gen))


@pytest.mark.parametrize("as_uint8", [False, True])
def test_bernoulli_rate_matches_intensity(as_uint8: bool) -> None:
    p = np.array([0.0, 0.1, 0.25, 0.5, 0.9, 1.0])
    x = (np.rint(p * 255).astype(np.uint8) if as_uint8 else p)[None, :].repeat(200, axis=0)
    intensity = x[0] / 255.0 if as_uint8 else x[0]
    spikes = bernoulli_encode(x, ticks=100, rng=2024)
    rate = spikes.mean(axis=(0, 1))  # 20 000 Bernoulli draws per channel: sd <= 0.0036
    np.testing.assert_allclose(rate, intensity, atol=0.02)
    assert rate[0] == 0.0 and rate[-1] == 1.0  # exact at the ends


def test_bernoulli_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encode_module, "_CHUNK_ELEMENTS", 7)
    x = np.tile(np.array([0.0, 1.0, 0.5]), (5, 1))
    out = bernoulli_encode(x, 3, 0)
    assert out.shape == (5, 3, 3)
    assert (out[:, :, 0] == 0).all() and (out[:, :, 1] == 1).all()
    np.testing.assert_array_equal(out, bernoulli_encode(x, 3, 0))


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (np.array([[0.5, np.nan, np.nan]]), "2 NaN"),
        (np.array([[0.5, np.inf]]), "infinite"),
        (np.array([[0.5, 1.5]]), r"in \[0, 1\], got min=0.5 max=1.5"),
        (np.array([[-0.1, 0.5]]), r"in \[0, 1\], got min=-0.1"),
        (np.zeros(4), "ndim=1"),
        (np.zeros((1, 1, 1, 1, 1)), "ndim=5"),
        (np.zeros((2, 2), dtype=np.int64), "dtype must be uint8, bool or floating"),
        (np.array([["a", "b"]]), "dtype"),
    ],
)
@pytest.mark.parametrize("encoder", [threshold_encode, lambda x: bernoulli_encode(x, 2, 0),
                                     lambda x: regular_encode(x, 4)])
def test_invalid_input(x: np.ndarray, message: str, encoder: object) -> None:
    with pytest.raises(ValueError, match=message):
        encoder(x)  # type: ignore[operator]


@pytest.mark.parametrize("ticks", [0, -1, 1.5, True])
def test_invalid_ticks(ticks: object) -> None:
    with pytest.raises(ValueError, match="ticks must be an integer >= 1"):
        threshold_encode(np.zeros((1, 2)), ticks=ticks)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ticks must be an integer >= 1"):
        bernoulli_encode(np.zeros((1, 2)), ticks, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ticks must be an integer >= 1"):
        regular_encode(np.zeros((1, 2)), ticks)  # type: ignore[arg-type]


@pytest.mark.parametrize("threshold", [-0.1, 1.5, float("nan"), "0.5"])
def test_invalid_threshold(threshold: object) -> None:
    with pytest.raises(ValueError, match="threshold must be"):
        threshold_encode(np.zeros((1, 2)), threshold=threshold)  # type: ignore[arg-type]


def test_encoder_config() -> None:
    x = np.random.default_rng(0).integers(0, 256, (3, 4, 4), dtype=np.uint8)
    thr = Encoder.from_dict({"kind": "threshold", "ticks": 2, "threshold": 0.3})
    np.testing.assert_array_equal(thr.encode(x), threshold_encode(x, 2, 0.3))
    ber = Encoder(kind="bernoulli", ticks=4, seed=7)
    np.testing.assert_array_equal(ber.encode(x), bernoulli_encode(x, 4, 7))
    np.testing.assert_array_equal(ber.encode(x), ber.encode(x))
    np.testing.assert_array_equal(ber.encode(x, rng=8), bernoulli_encode(x, 4, 8))
    assert Encoder.from_dict(ber.to_dict()) == ber
    assert Encoder().to_dict() == {"kind": "threshold", "ticks": 1, "threshold": 0.5, "seed": 0, "levels": 1}
    thermo = Encoder.from_dict({"kind": "thermometer", "ticks": 2, "levels": 3})
    assert thermo.channels_per_pixel == 3 and thr.channels_per_pixel == 1
    np.testing.assert_array_equal(thermo.encode(x), thermometer_encode(x, 2, 3))


def test_thermometer_hand_computed() -> None:
    # thresholds 1/4, 2/4, 3/4 (strictly greater); level-major channels
    x = np.array([[0.0, 0.25, 0.3, 0.5, 0.76, 1.0]])
    out = thermometer_encode(x, ticks=2, levels=3)
    assert out.shape == (1, 2, 18) and out.dtype == np.uint8
    expect = np.array([[0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 1, 1]], np.uint8).reshape(-1)
    np.testing.assert_array_equal(out[0, 0], expect)
    np.testing.assert_array_equal(out[0, 1], expect)
    # one level is the 0.5 threshold code; uint8 and float inputs agree
    u = np.random.default_rng(1).integers(0, 256, (5, 7), dtype=np.uint8)
    np.testing.assert_array_equal(thermometer_encode(u, 1, 1), threshold_encode(u, 1, 0.5))
    np.testing.assert_array_equal(thermometer_encode(u, 1, 4), thermometer_encode(u / 255.0, 1, 4))
    # monotone: level k+1 implies level k
    t = thermometer_encode(u, 1, 4).reshape(5, 4, 7)
    assert np.all(t[:, 1:] <= t[:, :-1])


@pytest.mark.parametrize("levels", [0, 256, 1.5, True])
def test_thermometer_invalid_levels(levels: object) -> None:
    with pytest.raises(ValueError, match="levels must be"):
        thermometer_encode(np.zeros((1, 2)), levels=levels)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"kind": "poisson"}, "encoder kind must be one of"),
        ({"ticks": 0}, "ticks"),
        ({"threshold": 2}, "threshold"),
        ({"seed": 1.5}, "seed"),
        ({"kind": "thermometer", "levels": 0}, "levels"),
        ({"kind": "threshold", "tick": 3}, r"unknown encoder setting\(s\) \['tick'\]"),
    ],
)
def test_encoder_config_errors(config: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Encoder.from_dict(config)


def test_copy_draws_and_encode_for_deployment() -> None:
    from spikeforge.data.encode import copy_draws, encode_for_deployment, private_draws

    x = np.random.default_rng(0).integers(0, 256, (5, 4, 4)).astype(np.uint8)
    d = copy_draws(x, 48, seed=3)
    assert d.shape == (5, 1, 48)
    assert np.array_equal(d, private_draws(x, [(0, 0), (1, 0), (2, 0)], 3))
    # each block is that key's own draw, whatever the other blocks
    assert np.array_equal(d[:, :, 16:32], private_draws(x, [(1, 0)], 3))
    assert np.array_equal(encode_for_deployment(x, {"kind": "bernoulli-draws", "seed": 3}, 48), d)
    assert np.array_equal(encode_for_deployment(x, {"kind": "bernoulli-draws"}, 48, default_seed=3), d)
    assert np.array_equal(encode_for_deployment(x, {"kind": "threshold", "threshold": 0.25}, 16),
                          threshold_encode(x, 1, 0.25))
    with pytest.raises(ValueError, match="multiples of 16 channels, not 40"):
        copy_draws(x, 40)
    with pytest.raises(ValueError, match="one tick per image"):
        encode_for_deployment(x, {"kind": "bernoulli-draws", "ticks": 2}, 48)
    with pytest.raises(ValueError, match=r"unknown encoder setting\(s\) \['rate'\]"):
        encode_for_deployment(x, {"kind": "bernoulli-draws", "rate": 2}, 48)
    with pytest.raises(ValueError, match="NaN"):
        private_draws(np.full((2, 4), np.nan), [(0, 0)])


def test_regular_hand_computed() -> None:
    # T = 4, cumulative counts ⌊t·p + ½⌋ for t = 0..4: p = 0.25 → 0,0,1,1,1 (a spike at tick 1);
    # p = 0.5 → 0,1,1,2,2 (ticks 0, 2); p = 1 → every tick; p = 0 → none
    x = np.array([[0.0, 0.25, 0.5, 1.0]])
    s = regular_encode(x, 4)
    assert s.dtype == np.uint8 and s.shape == (1, 4, 4) and s.flags.c_contiguous
    np.testing.assert_array_equal(s[0].T, [[0, 0, 0, 0], [0, 1, 0, 0], [1, 0, 1, 0], [1, 1, 1, 1]])
    assert np.array_equal(Encoder(kind="regular", ticks=4).encode(x), s)
    assert np.array_equal(regular_encode(np.array([[0, 64, 128, 255]], np.uint8), 4).sum(1),
                          [[0, 1, 2, 4]])  # ⌊4·64/255 + ½⌋ = 1, ⌊4·128/255 + ½⌋ = 2


@settings(max_examples=40, deadline=None)
@given(ticks=st.integers(1, 64), v=st.integers(0, 255))
def test_regular_counts_round_and_spread_evenly(ticks: int, v: int) -> None:
    s = regular_encode(np.array([[v]], np.uint8), ticks)[0, :, 0]
    p = v / 255.0
    assert s.sum() == np.floor(ticks * p + 0.5)
    # evenly spaced: after any prefix of t ticks the count is ⌊t·p + ½⌋
    np.testing.assert_array_equal(np.cumsum(s), np.floor(np.arange(1, ticks + 1) * p + 0.5))


def test_an_empty_batch_encodes_to_an_empty_batch() -> None:
    assert threshold_encode(np.zeros((0, 4))).shape == (0, 1, 4)
    assert bernoulli_encode(np.zeros((0, 2, 2), np.uint8), 3, 1).shape == (0, 3, 4)


def test_a_bool_seed_is_refused() -> None:
    with pytest.raises(ValueError, match="rng must be a numpy Generator, an integer seed or None, got True"):
        bernoulli_encode(np.zeros((1, 4)), 2, True)  # type: ignore[arg-type]
