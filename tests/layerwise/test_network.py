"""The converted network on the chip: simulator == tick model (exactly), tick model vs rate model."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import SIM_DEVICE
from spikeforge.data import regular_encode
from spikeforge.hardware import ChipSpec, CoreSpec, check
from spikeforge.methods.layerwise.ann import forward
from spikeforge.methods.layerwise.convert import ConvertOptions, convert, make_constraints
from spikeforge.methods.layerwise.deploy import build_deployment
from spikeforge.methods.layerwise.network import Block, SpikingNet, Stage
from spikeforge.sim import simulate

#: TrueNorth-style core with 64 axons: fan-in 16 inputs (4 axon copies each), so a 64-input layer is restructured
SMALL_TN = ChipSpec(name="small-tn", core=CoreSpec(n_axons=64, n_neurons=64), mesh_rows=8, mesh_cols=8, max_chips=4)


def test_regular_encode_counts():
    x = np.array([[0.0, 0.26, 0.5, 1.0]])
    s = regular_encode(x, 8)
    assert s.shape == (1, 8, 4)
    assert s.sum(axis=1).tolist() == [[0, 2, 4, 8]]


@pytest.mark.parametrize("chip", ["small-tn", "loihi-like"])
def test_simulator_equals_tick_model(digits_mlp, chip):
    layers, x, _, xt, _ = digits_mlp
    spec = SMALL_TN if chip == "small-tn" else chip
    cons = make_constraints("digital", spec, ticks=8)
    net, rep = convert(layers, x[:200], cons, options=ConvertOptions(cd_passes=1))
    if chip == "small-tn":
        assert [s["kind"] for s in rep.stages] == ["partial", "combine", "partial", "combine", "dense"]
    dep = build_deployment(net, spec)
    check(dep)
    spikes = regular_encode(xt[:24], 8)
    res = simulate(dep, spikes, device=SIM_DEVICE)
    assert np.array_equal(res.class_counts, net.class_counts(spikes))


def _random_stage(rng, n_in, n_out, nonneg):
    lo = 0 if nonneg else -6
    w = rng.integers(lo, 7, size=(n_out, n_in))
    alpha = np.abs(w).sum(axis=1) + rng.integers(1, 5, n_out)  # per-tick drive ≤ α
    v0 = (rng.random(n_out) * alpha).astype(np.int64)  # 0 ≤ V0 < α
    return Stage("s", "dense", n_in, [Block(np.arange(n_out), np.arange(n_in), w)], alpha, v0, np.arange(n_out))


def test_rate_model_exact_for_monotone_drive():
    # nonnegative weights, per-tick drive ≤ α, 0 ≤ V0 < α: count = ⌊S/α⌋ exactly (docs, "Neuron model")
    rng = np.random.default_rng(0)
    net = SpikingNet([_random_stage(rng, 9, 7, True), _random_stage(rng, 7, 5, True)], 9, 5, 16, True, 2**18)
    spikes = (rng.random((50, 16, 9)) < 0.4).astype(np.uint8)
    tick = net.run(spikes, keep=True)
    rate = net.rate_counts(spikes.sum(axis=1))
    for a, b in zip(tick, rate, strict=True):
        assert np.array_equal(a, b)


def test_tick_count_is_floor_of_running_max_for_mixed_signs():
    # mixed-sign weights: the count is ⌊max_t S_t / α⌋ (S_t the running drive sum), not ⌊S_T / α⌋
    rng = np.random.default_rng(1)
    st = _random_stage(rng, 8, 6, False)
    net = SpikingNet([st], 8, 6, 20, True, 2**18)
    spikes = (rng.random((80, 20, 8)) < 0.5).astype(np.uint8)
    counts = net.run(spikes)[0]
    s_t = st.v_init[None, None, :] + np.cumsum(spikes.astype(np.int64) @ st.blocks[0].w.T, axis=1)
    predicted = np.maximum(np.floor(s_t.max(axis=1) / st.threshold), 0)
    assert np.array_equal(counts, predicted)
    rate = net.rate_counts(spikes.sum(axis=1))[0]
    assert np.all(counts >= rate)


def test_rate_model_tolerance_on_converted_net(digits_mlp):
    # documented tolerance: on a converted net the rate model predicts the tick model's class on ≥ 90 % of inputs
    layers, x, _, xt, _ = digits_mlp
    cons = make_constraints("digital", "loihi-like", ticks=16)
    net, _ = convert(layers, x[:200], cons, options=ConvertOptions(cd_passes=1))
    spikes = net.pad_input(regular_encode(xt, 16))
    tick = net.class_counts(spikes)
    rate = net.scores(net.rate_counts(spikes.sum(axis=1))[-1])
    assert np.mean(tick.argmax(1) == rate.argmax(1)) >= 0.9


@pytest.mark.parametrize("constraints", ["analog", "hybrid"])
def test_analog_and_hybrid_agree_with_ann(digits_mlp, constraints):
    layers, x, _, xt, _ = digits_mlp
    cons = make_constraints(constraints, ticks=32)
    net, _ = convert(layers, x[:300], cons)
    pred = net.class_counts(regular_encode(xt, 32)).argmax(1)
    ann = forward(layers, xt)[-1].argmax(1)
    assert np.mean(pred == ann) >= 0.85
    if constraints == "hybrid":
        for st in net.stages:
            w = st.dense_weight()
            for row in w:  # at most 2L + 1 distinct levels per neuron
                assert len(np.unique(row[row != 0])) <= 6


def test_milp_combiners_keep_simulator_equality(digits_mlp):
    # the optional exact MILP for the combining neurons' (s⁺, s⁻, bias) yields a valid, exactly simulated net
    layers, x, _, xt, _ = digits_mlp
    cons = make_constraints("digital", SMALL_TN, ticks=8)
    net, _ = convert(layers, x[:120], cons, options=ConvertOptions(cd_passes=1, milp_combiners=True))
    dep = build_deployment(net, SMALL_TN)
    check(dep)
    spikes = regular_encode(xt[:12], 8)
    assert np.array_equal(simulate(dep, spikes, device=SIM_DEVICE).class_counts, net.class_counts(spikes))


@pytest.mark.parametrize("constraints", ["analog", "digital"])
def test_layer_choice_never_worse_than_normalised_on_held_out_rows(digits_mlp, constraints):
    # the guard of the layer-wise solve: per neuron, the kept solution's held-out error ≤ the normalised one's
    from spikeforge.methods.layerwise.convert import _choose

    layers, x, *_ = digits_mlp
    cons = make_constraints(constraints, "loihi-like" if constraints == "digital" else None, ticks=16)
    counts = regular_encode(x[:400], 16).sum(axis=1) / 16
    z = forward(layers, x[:400])[0]
    s = np.percentile(z[z > 0], 99.9)
    y = np.clip(z / s, 0, 1)
    ch = _choose(counts, y, cons, ConvertOptions(), "layerwise", (layers[0].w / s, layers[0].b / s))
    assert ch.err_va is not None and ch.err_va_norm is not None
    assert ch.err_va <= ch.err_va_norm + 1e-12
    assert sum(v for k, v in ch.pick.items() if not k.startswith("relax:")) == y.shape[1] or constraints == "analog"


def test_mse_scale_minimises_the_rate_code_error():
    from spikeforge.methods.layerwise.convert import MSE_SCALE_PERCENTILES, _mse_scale

    rng = np.random.default_rng(2)
    a = np.maximum(rng.standard_t(3, size=20000), 0.0)

    def err(s, levels):
        pos = a[a > 0]
        return np.mean((pos - s * np.round(np.clip(pos / s, 0, 1) * levels) / levels) ** 2)

    for levels in (8, 32, 256):
        s = _mse_scale(a, levels)
        assert all(err(s, levels) <= err(c, levels) + 1e-15 for c in np.percentile(a[a > 0], MSE_SCALE_PERCENTILES))
    assert _mse_scale(a, 8) < _mse_scale(a, 256)  # coarser codes clip more


def test_selection_tally_sums_blocks():
    # the per-layer report of a restructured layer adds its blocks' errors and picks; a block without a
    # held-out selection (the normalisation baseline) adds its fit error only
    from spikeforge.methods.layerwise.choose import Chosen, SelectionTally

    w, b = np.zeros((2, 3)), np.zeros(2)
    t = SelectionTally()
    t.add(Chosen(w, b, err=1.5, pick={"lp": 2}, err_va=0.25, err_va_norm=0.5))
    t.add(Chosen(w, b, err=0.5, pick={"lp": 1, "norm": 3}, err_va=1.0, err_va_norm=2.0))
    t.add(Chosen(w, b, err=2.0))
    assert (t.err, t.picks, t.err_va, t.err_va_norm) == (4.0, {"lp": 3, "norm": 3}, 1.25, 2.5)


def test_digital_constraints_refuse_a_chip_too_narrow_for_the_type_weights() -> None:
    """TrueNorth-style digital weights are 4-bit codes over type weights m, 2m, 4m, -8m: a chip whose weights
    stop at ±7 cannot hold them (it used to give m = 0, every weight 0 and a network at chance)."""
    import dataclasses

    from spikeforge.hardware import get_chip

    tn = get_chip("truenorth")
    assert make_constraints("digital", tn).level_spec().m == 31  # type: ignore[union-attr]
    narrow = dataclasses.replace(tn, name="w4", core=dataclasses.replace(tn.core, weight_min=-7, weight_max=7))
    with pytest.raises(ValueError, match=r"needs weight_max >= 8 and weight_min <= -8; its weight range is \[-7, 7\]"):
        make_constraints("digital", narrow).level_spec()
    lopsided = dataclasses.replace(tn, name="w", core=dataclasses.replace(tn.core, weight_min=-8, weight_max=255))
    assert make_constraints("digital", lopsided).level_spec().m == 1  # type: ignore[union-attr]
