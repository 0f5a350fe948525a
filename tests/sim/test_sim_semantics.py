"""Hand-computed multi-tick cases for the core semantics (DESIGN.md; ``spikeforge.sim.reference``).

Every case spells out the membrane potential V tick by tick in comments, asserts the spike raster of the
fast engine, and checks that the plain-loop reference agrees spike for spike and count for count.
Notation: ``t0: 2+3 → 5 spike → 0`` = at tick 0, V goes from 2 by input 3 to 5, fires, resets to 0.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import (
    MEMORYLESS,
    SIM_DEVICE,
    assert_counts_equal,
    blank,
    inputs,
    neuron,
    outputs,
    raster,
    run_checked,
    spikes_of,
    tiny_chip,
)
from spikeforge.deploy import Deployment
from spikeforge.sim import SimResult, simulate

run = run_checked  # the fast engine, checked against the reference


def trace(r: SimResult, core: int, j: int) -> np.ndarray:
    """(B, ticks) spikes of one neuron."""
    assert r.spikes is not None
    return r.spikes[:, core, j, :].T


# ------------------------------------------------------------------------------------------- reset modes
def test_reset_modes() -> None:
    # axon 0 (type 0) carries +2, axon 1 (type 1) carries -3 to all four neurons; α = 3, β = 100, κ = 1.
    chip = tiny_chip(2, 4, membrane_bits=8)
    d = blank(chip, n_inputs=2)
    d.crossbar[0] = 1
    d.axon_type[0] = [0, 1]
    for j, (gamma, rv) in enumerate([(0, 0), (1, 0), (2, 0), (0, 2)]):
        neuron(d, 0, j, weights=[2, -3], threshold=3, reset_mode=gamma, reset_value=rv, neg_threshold=100)
    inputs(d, (0, 0, 0), (1, 0, 1))
    # ticks 0-4: axon 0 (+2); ticks 5-7: axon 1 (-3)
    x = spikes_of(["10"] * 5 + ["01"] * 3)
    r = run(d, x, ticks=8)
    # γ=0, R=0: t0 2 | t1 4 spike→0 | t2 2 | t3 4 spike→0 | t4 2 | t5 -1 | t6 -4 | t7 -7
    np.testing.assert_array_equal(trace(r, 0, 0), raster("01010000"))
    # γ=1 (V ← V−α): t0 2 | t1 4 spike→1 | t2 3 spike→0 | t3 2 | t4 4 spike→1 | t5 -2 | t6 -5 | t7 -8
    np.testing.assert_array_equal(trace(r, 0, 1), raster("01101000"))
    # γ=2 (no reset): t0 2 | t1 4 s | t2 6 s | t3 8 s | t4 10 s | t5 7 s | t6 4 s | t7 1
    np.testing.assert_array_equal(trace(r, 0, 2), raster("01111110"))
    # γ=0, R=2: t0 2 | t1 4 s→2 | t2 4 s→2 | t3 s→2 | t4 s→2 | t5 -1 | t6 -4 | t7 -7
    np.testing.assert_array_equal(trace(r, 0, 3), raster("01111000"))
    assert r.counts.spikes.tolist() == [2 + 3 + 6 + 4]


# ------------------------------------------------------------------------------------------- negative floor
def test_floor_modes() -> None:
    # weights +2 (axon 0) / -3 (axon 1); α = 1, γ = 0.
    chip = tiny_chip(2, 3, membrane_bits=8)
    d = blank(chip, n_inputs=2)
    d.crossbar[0] = 1
    d.axon_type[0] = [0, 1]
    neuron(d, 0, 0, weights=[2, -3], threshold=1, floor_mode=1, neg_threshold=5, reset_value=0)
    neuron(d, 0, 1, weights=[2, -3], threshold=1, floor_mode=0, neg_threshold=5, reset_value=2)
    neuron(d, 0, 2, weights=[2, -3], threshold=1, floor_mode=1, neg_threshold=0, reset_value=0)
    inputs(d, (0, 0, 0), (1, 0, 1))
    x = spikes_of(["01", "01", "10", "10", "10", "10"])  # -3, -3, then +2 x4
    r = run(d, x, ticks=6)
    # κ=1, β=5 (saturate at -5): t0 -3 | t1 -6 → -5 | t2 -3 | t3 -1 | t4 1 spike→0 | t5 2 spike→0
    np.testing.assert_array_equal(trace(r, 0, 0), raster("000011"))
    # κ=0, β=5, R=2 (reset to -R): t0 -3 | t1 -6 → -2 | t2 0 | t3 2 spike→2 | t4 4 s→2 | t5 4 s→2
    np.testing.assert_array_equal(trace(r, 0, 1), raster("000111"))
    # κ=1, β=0 (floor at 0): t0 -3 → 0 | t1 → 0 | t2 2 s→0 | t3 s | t4 s | t5 s
    np.testing.assert_array_equal(trace(r, 0, 2), raster("001111"))


@pytest.mark.parametrize(("gamma", "kappa", "after"), [
    (0, 1, -3), (1, 1, -3), (2, 1, -3),  # κ = 1: saturate at −β whatever γ
    (0, 0, -4),  # κ = 0, γ = 0: V ← −R
    (1, 0, -7),  # κ = 0, γ = 1: V ← V + β  (−10 + 3)
    (2, 0, -10),  # κ = 0, γ = 2: V unchanged
])
def test_negative_reset_table(gamma: int, kappa: int, after: int) -> None:
    """The negative-threshold row of TrueNorth's reset table (Cassidy et al. 2013): β = 3, R = 4; input −10
    at t0 (V = −10 < −β), +13 at t1. V after t0 is pinned by two probes: α = after + 13 fires at t1, α =
    after + 14 does not."""
    d = blank(tiny_chip(2, 2, membrane_bits=8), n_inputs=2)
    d.crossbar[0] = 1
    d.axon_type[0] = [0, 1]
    for j, alpha in enumerate((after + 13, after + 14)):
        neuron(d, 0, j, weights=[-10, 13], threshold=alpha, neg_threshold=3, reset_value=4, reset_mode=gamma,
               floor_mode=kappa)
    inputs(d, (0, 0, 0), (1, 0, 1))
    r = run(d, spikes_of(["10", "01"]), ticks=2)
    np.testing.assert_array_equal(trace(r, 0, 0), raster("01"))
    np.testing.assert_array_equal(trace(r, 0, 1), raster("00"))


def test_leak_reversal() -> None:
    """ε = 1: the leak is multiplied by sgn(V). V0 = −10, λ = −3, α = 2, γ = 0, R = 0, β large:
    t0 −10+3 → −7 | t1 −4 | t2 −1 | t3 2 spike → 0 | from then sgn(0) = 0: V stays 0, never fires.
    Without reversal: −13, −16, ... never fires."""
    d = blank(tiny_chip(1, 2, membrane_bits=8))
    for j in range(2):
        neuron(d, 0, j, leak=-3, threshold=2, neg_threshold=100, v_init=-10, leak_reversal=j == 0)
    r = run(d, np.zeros((1, 1, 1), np.uint8), ticks=8)
    np.testing.assert_array_equal(trace(r, 0, 0), raster("00010000"))
    np.testing.assert_array_equal(trace(r, 0, 1), raster("00000000"))


def test_floor_not_applied_in_the_tick_a_neuron_fires() -> None:
    # α = 1, γ = 0 with R = -10 (below -β = -5), κ = 1; input +2 every tick.
    chip = tiny_chip(1, 1, membrane_bits=8)
    d = blank(chip)
    d.crossbar[0, 0, 0] = 1
    neuron(d, 0, 0, weights=[2], threshold=1, reset_value=-10, floor_mode=1, neg_threshold=5)
    inputs(d, (0, 0, 0))
    r = run(d, spikes_of(["1"] * 5), ticks=5)
    # t0 2 spike → -10 (the floor is an "else": not applied while firing)
    # t1 -8 < -5 → -5 | t2 -3 | t3 -1 | t4 1 spike
    # (had the floor hit V=-10 at t0: t1 -3 | t2 -1 | t3 1 spike → "10010")
    np.testing.assert_array_equal(trace(r, 0, 0), raster("10001"))


# ------------------------------------------------------------------------------------------- saturation
def test_saturation_at_the_top() -> None:
    # 4-bit membrane: V ∈ [-8, 7]. α = 7, γ = 1 (subtract), input +5 every tick.
    d = blank(tiny_chip(1, 1, membrane_bits=4))
    d.crossbar[0, 0, 0] = 1
    neuron(d, 0, 0, weights=[5], threshold=7, reset_mode=1, neg_threshold=100)
    inputs(d, (0, 0, 0))
    r = run(d, spikes_of(["1"] * 3), ticks=3)
    # t0 5 | t1 10 → sat 7, spike → 0 | t2 5        (unsaturated: t1 10 → 3, t2 8 spike → "011")
    np.testing.assert_array_equal(trace(r, 0, 0), raster("010"))


def test_saturation_applies_after_integrating_then_again_after_leak() -> None:
    # 4-bit membrane. α = 6, γ = 1, leak -3, input +7 every tick.
    d = blank(tiny_chip(1, 1, membrane_bits=4))
    d.crossbar[0, 0, 0] = 1
    neuron(d, 0, 0, weights=[7], threshold=6, reset_mode=1, leak=-3, neg_threshold=100)
    inputs(d, (0, 0, 0))
    r = run(d, spikes_of(["1"] * 3), ticks=3)
    # t0 0+7 = 7, leak → 4 | t1 4+7 = 11 → sat 7, leak → 4 | t2 same → never reaches 6
    # (one clamp after the leak instead: t1 4+7-3 = 8 → 7 ≥ 6 spike)
    np.testing.assert_array_equal(trace(r, 0, 0), raster("000"))


def test_leak_alone_saturates() -> None:
    # 4-bit membrane, no synapses, leak +3, α = 7, γ = 1 (subtract)
    d = blank(tiny_chip(1, 1, membrane_bits=4))
    neuron(d, 0, 0, leak=3, threshold=7, reset_mode=1)
    r = run(d, spikes_of(["0"] * 9), ticks=9)
    # t0 3 | t1 6 | t2 9 → sat 7, spike → 0 | t3 3 | t4 6 | t5 7 spike → 0 | t6 3 | t7 6 | t8 7 spike
    # (unsaturated: t2 9 spike → 2 | t3 5 | t4 8 spike → 1 | t5 4 | t6 7 spike → 0 | ... → "001010100")
    np.testing.assert_array_equal(trace(r, 0, 0), raster("001001001"))


def test_saturation_at_the_bottom() -> None:
    # 4-bit membrane: V ∈ [-8, 7]. α = 7, γ = 0, κ = 1 with β = 100 (the floor is never reached:
    # saturation at -8 comes first). Axon 0 (type 0) +5, axon 1 (type 1) -5.
    d = blank(tiny_chip(2, 1, membrane_bits=4), n_inputs=2)
    d.crossbar[0, :, 0] = 1
    d.axon_type[0] = [0, 1]
    neuron(d, 0, 0, weights=[5, -5], threshold=7, neg_threshold=100)
    inputs(d, (0, 0, 0), (1, 0, 1))
    r = run(d, spikes_of(["01", "01", "10", "10", "10", "10"]), ticks=6)
    # t0 -5 | t1 -10 → sat -8 | t2 -3 | t3 2 | t4 7 spike → 0 | t5 5
    # (unsaturated: -5, -10, -5, 0, 5, 10 spike → "000001")
    np.testing.assert_array_equal(trace(r, 0, 0), raster("000010"))


# ------------------------------------------------------------------------------------------- leak
def test_leak() -> None:
    d = blank(tiny_chip(1, 2, membrane_bits=8))
    d.crossbar[0, 0, 1] = 1
    # neuron 0: no input, leak +1, α = 5, reset to 0: V 1, 2, 3, 4, 5 spike → 0, 1, 2, 3, 4, 5 spike
    neuron(d, 0, 0, leak=1, threshold=5)
    # neuron 1: input +4 at t0, leak -1, α = 3: t0 4-1 = 3 spike (leak acts before the threshold) → 0;
    #           then no input: t1 -1 | t2 -2 | t3 -3 → κ=1, β=2 → -2 | ... stays at -2
    neuron(d, 0, 1, weights=[4], leak=-1, threshold=3, floor_mode=1, neg_threshold=2)
    inputs(d, (0, 0, 0))
    x = spikes_of(["1"] + ["0"] * 9)
    r = run(d, x, ticks=10)
    np.testing.assert_array_equal(trace(r, 0, 0), raster("0000100001"))
    np.testing.assert_array_equal(trace(r, 0, 1), raster("1000000000"))


# ------------------------------------------------------------------------------------------- delays
@pytest.mark.parametrize("delay", [1, 3, 15])
def test_delay_chain(delay: int) -> None:
    # core 0 neuron 0 relays input channel 0 (α = 1, +1) to core 1 axon 0 with the given delay;
    # core 1 neuron 0 relays it off-chip (output class 0).
    d = blank(tiny_chip(1, 1), n_cores=2, ticks_per_input=3)
    d.crossbar[:, 0, 0] = 1
    neuron(d, 0, 0, weights=[1], threshold=1, dest=(1, 0, delay))
    neuron(d, 1, 0, weights=[1], threshold=1)
    inputs(d, (0, 0, 0))
    outputs(d, (1, 0, 0))
    ticks = 3 + delay + 1
    x = spikes_of(["1", "0", "1"])  # input spikes at ticks 0 and 2
    r = run(d, x, ticks=ticks)
    want0 = np.zeros(ticks, bool)
    want0[[0, 2]] = True
    want1 = np.zeros(ticks, bool)
    want1[[0 + delay, 2 + delay]] = True  # a spike sent at t arrives, and is relayed, exactly at t + delay
    np.testing.assert_array_equal(trace(r, 0, 0)[0], want0)
    np.testing.assert_array_equal(trace(r, 1, 0)[0], want1)
    assert r.class_counts.tolist() == [[2]]
    # the default window is ticks_per_input + latency, and latency is the delay
    r2 = simulate(d, x, device=SIM_DEVICE)
    assert r2.latency == delay and r2.ticks == 3 + delay
    assert r2.class_counts.tolist() == [[2]]


# ------------------------------------------------------------------------------------------- merging
def test_two_neurons_to_one_axon_in_one_tick_merge() -> None:
    # core 0 neurons 0 and 1 both relay input channel 0 to core 1 axon 0 (delay 1).
    # core 1 neuron 0: +1 per axon-0 event, α = 2, γ = 0.
    d = blank(tiny_chip(1, 2), n_cores=2)
    d.crossbar[0, 0, :] = 1
    d.crossbar[1, 0, 0] = 1
    for j in (0, 1):
        neuron(d, 0, j, weights=[1], threshold=1, dest=(1, 0, 1))
    neuron(d, 1, 0, weights=[1], threshold=2)
    inputs(d, (0, 0, 0))
    r = run(d, spikes_of(["1", "0", "1", "0"]), ticks=4)
    # core 0: both neurons fire at t0 and t2. core 1 axon 0 receives ONE event at t1 and at t3:
    # t1 V = 1 | t2 1 | t3 2 spike.  (Unmerged: t1 V = 2 spike.)
    np.testing.assert_array_equal(trace(r, 1, 0), raster("0001"))
    # axon events: t0 input, t1 merged, t2 input, t3 merged = 4; spikes 2 + 2 + 1 = 5
    assert r.counts.axon_events.tolist() == [4]
    assert r.counts.spikes.tolist() == [5]
    # synaptic events: 2 per input event (axon 0 of core 0 reaches 2 neurons) + 1 per merged event
    assert r.counts.synaptic_events.tolist() == [2 + 1 + 2 + 1]


def test_inputs_and_routed_spikes_merge_on_one_axon() -> None:
    # channels 0 and 1 both map to core 0 axon 0; neuron 0 of core 0 counts events (+1, α = 2).
    # core 0 neuron 1 relays channel 2 (axon 1) to core 0 axon 0 with delay 1.
    d = blank(tiny_chip(2, 2), n_inputs=3)
    d.crossbar[0, 0, 0] = 1
    d.crossbar[0, 1, 1] = 1
    neuron(d, 0, 0, weights=[1], threshold=2)
    neuron(d, 0, 1, weights=[1], threshold=1, dest=(0, 0, 1))
    inputs(d, (0, 0, 0), (1, 0, 0), (2, 0, 1))
    # t0: ch0 + ch1 → one event on axon 0 (V0 = 1); ch2 → neuron 1 fires, due on axon 0 at t1
    # t1: ch0 + relayed spike → one event (V0 = 2 spike)
    # t2: nothing
    x = spikes_of(["111", "100", "000"])
    r = run(d, x, ticks=3)
    np.testing.assert_array_equal(trace(r, 0, 0), raster("010"))
    np.testing.assert_array_equal(trace(r, 0, 1), raster("100"))
    # axon events: t0 axon 0 + axon 1, t1 axon 0 = 3
    assert r.counts.axon_events.tolist() == [3]


# ------------------------------------------------------------------------------------------- memoryless
def test_memoryless_neuron_by_hand() -> None:
    # α=0, β=0, κ=1, γ=0, R=0, weights +2 / -3, leak -1: spikes iff input + leak ≥ 0, no state.
    d = blank(tiny_chip(2, 1, membrane_bits=8), n_inputs=2)
    d.crossbar[0, :, 0] = 1
    d.axon_type[0] = [0, 1]
    neuron(d, 0, 0, weights=[2, -3], leak=-1, **MEMORYLESS)
    inputs(d, (0, 0, 0), (1, 0, 1))
    # t0 (0,1): -3-1 = -4 → floor 0 | t1 (1,0): 2-1 = 1 spike → 0 (a neuron with memory would hold -4
    # and stay silent) | t2 (1,1): -2 → 0 | t3 (1,0): spike | t4 (0,0): -1 → 0
    r = run(d, spikes_of(["01", "10", "11", "10", "00"]), ticks=5)
    np.testing.assert_array_equal(trace(r, 0, 0), raster("01010"))


@settings(max_examples=30, deadline=None)
@given(
    w=st.lists(st.integers(-20, 20), min_size=3, max_size=3),
    leak=st.integers(-5, 5),
    pattern=st.lists(st.lists(st.booleans(), min_size=3, max_size=3), min_size=1, max_size=8),
)
def test_memoryless_neuron_is_a_threshold_of_the_current_input(w: list[int], leak: int,
                                                               pattern: list[list[bool]]) -> None:
    d = blank(tiny_chip(3, 1, membrane_bits=8), n_inputs=3)
    d.crossbar[0, :, 0] = 1
    d.axon_type[0] = [0, 1, 2]
    neuron(d, 0, 0, weights=w, leak=leak, **MEMORYLESS)
    inputs(d, (0, 0, 0), (1, 0, 1), (2, 0, 2))
    x = np.array([pattern], dtype=np.uint8)
    r = run(d, x, ticks=len(pattern))
    want = (x[0].astype(int) @ np.array(w) + leak) >= 0
    np.testing.assert_array_equal(trace(r, 0, 0)[0], want)


# ------------------------------------------------------------------------------------------- outputs
def test_output_class_counting() -> None:
    # n0: α=0, no input → fires every tick (V = 0 ≥ 0)           → class 1
    # n1: +1 from channel 0, α=1                                  → class 1
    # n2: +1 from channel 1, α=1                                  → class 0
    # n3: fires every tick like n0 but is not in the output map   → no class
    d = blank(tiny_chip(2, 4), n_inputs=2, n_classes=3)
    d.crossbar[0, 0, 1] = 1
    d.crossbar[0, 1, 2] = 1
    neuron(d, 0, 0, threshold=0)
    neuron(d, 0, 1, weights=[1], threshold=1)
    neuron(d, 0, 2, weights=[1], threshold=1)
    neuron(d, 0, 3, threshold=0)
    inputs(d, (0, 0, 0), (1, 0, 1))
    outputs(d, (0, 0, 1), (0, 1, 1), (0, 2, 0))
    x = np.concatenate([spikes_of(["10", "10", "01"]), spikes_of(["00", "00", "00"])])
    r = run(d, x, ticks=3, record_outputs=True)
    # input 0: class 1 = 3 (n0) + 2 (n1), class 0 = 1 (n2), class 2 = 0
    # input 1: class 1 = 3 (n0 only)
    assert r.class_counts.tolist() == [[1, 5, 0], [0, 3, 0]]
    assert r.predictions().tolist() == [1, 1]
    assert r.accuracy(np.array([1, 0])) == 0.5
    assert r.output_spikes is not None
    assert r.output_spikes.shape == (2, 3, 3)  # (inputs, ticks, output-map entries)
    np.testing.assert_array_equal(r.output_spikes[0], [[1, 1, 0], [1, 1, 0], [1, 0, 1]])
    assert r.counts.spikes.tolist() == [3 + 2 + 1 + 3, 3 + 3]


def test_predictions_break_ties_towards_the_lowest_class() -> None:
    d = blank(tiny_chip(1, 2), n_classes=2)
    neuron(d, 0, 0, threshold=0)
    neuron(d, 0, 1, threshold=0)
    outputs(d, (0, 0, 1), (0, 1, 0))
    r = run(d, spikes_of(["0", "0"]), ticks=2)
    assert r.class_counts.tolist() == [[2, 2]]
    assert r.predictions().tolist() == [0]


# ------------------------------------------------------------------------------------------- disabled
def test_disabled_neurons_never_integrate_fire_or_route() -> None:
    # core 0: neuron 0 is disabled but would fire every tick (α = 0, leak +5) and route to core 1;
    #         it also has a synapse from input channel 0. Core 0 has no enabled neuron at all.
    # core 1: neuron 0 relays axon 0 (α = 1); neuron 1 is disabled.
    d = blank(tiny_chip(1, 2), n_cores=2)
    d.crossbar[0, 0, 0] = 1
    d.crossbar[1, 0, :] = 1
    d.threshold[0, 0], d.leak[0, 0], d.weights[0, 0, 0] = 0, 5, 10
    d.dest_core[0, 0], d.dest_axon[0, 0], d.dest_delay[0, 0] = 1, 0, 1
    d.threshold[1, 1], d.leak[1, 1] = 0, 5
    neuron(d, 1, 0, weights=[1], threshold=1)
    inputs(d, (0, 0, 0))
    r = run(d, spikes_of(["1", "1", "1"]), ticks=4)
    assert not r.spikes.any()  # type: ignore[union-attr]
    assert r.counts.spikes.tolist() == [0]
    assert r.counts.axon_events.tolist() == [3]  # only the input deliveries; nothing is routed
    assert r.counts.neuron_updates.tolist() == [1 * 4]  # one enabled neuron x 4 ticks
    assert r.counts.core_ticks.tolist() == [1 * 4]  # only core 1 has an enabled neuron
    assert r.counts.hops.tolist() == [0]


# ------------------------------------------------------------------------------------------- counters
def counter_network() -> Deployment:
    """3 cores on a 2x2 mesh, 2 chips: core 0 at (chip 0, row 0, col 0), core 1 at (0, 1, 1), core 2 at
    (1, 0, 0). Input channel 0 → core 0 axon 0, which reaches neurons 0 and 1 of core 0; neuron 0 → core 1
    axon 0 (reaches 3 neurons, only neuron 0 has a non-zero weight), neuron 1 → core 2 axon 1 (reaches
    neuron 0). Every enabled neuron with weight +1 relays (α = 1)."""
    d = blank(tiny_chip(2, 3, mesh=(2, 2), max_chips=2), n_cores=3, n_classes=2)
    d.placement[:] = [[0, 0, 0], [0, 1, 1], [1, 0, 0]]
    d.crossbar[0, 0, [0, 1]] = 1
    d.crossbar[1, 0, :] = 1
    d.crossbar[2, 1, 0] = 1
    neuron(d, 0, 0, weights=[1], threshold=1, dest=(1, 0, 1))
    neuron(d, 0, 1, weights=[1], threshold=1, dest=(2, 1, 1))
    neuron(d, 1, 0, weights=[1], threshold=1)
    neuron(d, 1, 1, weights=[0], threshold=1)
    neuron(d, 1, 2, weights=[0], threshold=1)
    neuron(d, 2, 0, weights=[1], threshold=1)
    inputs(d, (0, 0, 0))
    outputs(d, (1, 0, 0), (2, 0, 1))
    return d


def test_event_counters_by_hand() -> None:
    d = counter_network()
    x = np.concatenate([spikes_of(["1", "0", "0"]), spikes_of(["0", "0", "0"])])
    r = run(d, x, ticks=3)
    c = r.counts
    # input 0 — t0: input event on core 0 axon 0 (2 synapses); neurons (0,0) and (0,1) spike.
    #   (0,0) → core 1: same chip, |0-1| + |0-1| = 2 hops.
    #   (0,1) → core 2: other chip, |0-0| + |0-0| + (2 rows + 2 cols) = 4 hops, 1 chip crossing.
    # t1: core 1 axon 0 event (3 synapses) → (1,0) spikes; core 2 axon 1 event (1 synapse) → (2,0) spikes.
    # t2: nothing.  Input 1: nothing at all.
    assert c.axon_events.tolist() == [3, 0]
    assert c.synaptic_events.tolist() == [2 + 3 + 1, 0]
    assert c.spikes.tolist() == [4, 0]
    assert c.hops.tolist() == [2 + 4, 0]
    assert c.chip_crossings.tolist() == [1, 0]
    assert c.active_cores.tolist() == [3, 0]
    assert c.core_ticks.tolist() == [3 * 3, 3 * 3]  # 3 cores tick for 3 ticks, active or not
    assert c.neuron_updates.tolist() == [6 * 3, 6 * 3]  # 6 enabled neurons x 3 ticks
    assert c.core_spikes.tolist() == [2, 1, 1]
    assert c.core_synaptic_events.tolist() == [2, 3, 1]
    assert c.ticks == 3 and c.n_cores == 3 and c.batch == 2
    assert r.class_counts.tolist() == [[1, 1], [0, 0]]
    assert c.mean()["spikes"] == 2.0
    # batching does not change anything
    r1 = simulate(d, x, ticks=3, batch_size=1, device=SIM_DEVICE)
    assert_counts_equal(r1.counts, c)
    np.testing.assert_array_equal(r1.class_counts, r.class_counts)
