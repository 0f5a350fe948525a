"""Inputs read a block at a time: spike sources, per-axon draws made on demand, and long input sets pipelined
block by block give exactly the result of one array simulated at once."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import SIM_DEVICE, assert_counts_equal, feedforward, random_spikes, seeds
from spikeforge.data.encode import AxonDraws, axon_draws
from spikeforge.data.source import SpikeSource, input_shape
from spikeforge.deploy import Deployment
from spikeforge.evaluate import evaluate_deployment, run_simulation, stream_block
from spikeforge.hardware import check
from spikeforge.metrics.activity import Activity
from spikeforge.sim import CompiledDeployment, SimResult, simulate, simulate_pipelined


class Recorded(SpikeSource):
    """An array behind the source interface that records every read."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self.reads: list[tuple[int, int]] = []

    @property
    def shape(self) -> tuple[int, int, int]:
        return input_shape(self.x)

    def read(self, start: int, stop: int) -> np.ndarray:
        self.reads.append((start, stop))
        return self.x[start:stop].copy()


def stochastic_feedforward(rng: np.random.Generator, ticks_per_input: int) -> Deployment:
    """The pipelined tests' 4-core network with stochastic synapses and leaks (still memoryless)."""
    d = feedforward(rng, ticks_per_input)
    d.stochastic_synapse[:] = rng.random(d.stochastic_synapse.shape) < 0.5
    d.stochastic_leak[:] = rng.random(d.stochastic_leak.shape) < 0.5
    d.leak[d.stochastic_leak] = -255
    d.weights[:] = d.weights * 40
    d.prng_seed = int(rng.integers(0, 2**32))
    check(d)
    assert d.memoryless and d.stochastic
    return d


@settings(max_examples=12, deadline=None)
@given(seed=seeds, ticks_per_input=st.integers(1, 3), n=st.integers(1, 11), block=st.integers(1, 12),
       lanes=st.sampled_from([1, 2, 4]))
def test_pipelining_in_blocks_equals_one_stream(seed: int, ticks_per_input: int, n: int, block: int,
                                                lanes: int) -> None:
    rng = np.random.default_rng(seed)
    d = stochastic_feedforward(rng, ticks_per_input)
    x = random_spikes(rng, n, ticks_per_input, d.n_inputs, p=0.6)
    sim = CompiledDeployment(d, "cpu")
    whole = simulate_pipelined(sim, x, lanes=lanes)
    src = Recorded(x)
    blocked, used = run_simulation(sim, src, regime="pipelined", batch_size=lanes, block_size=block)
    assert used == "pipelined"
    np.testing.assert_array_equal(blocked.class_counts, whole.class_counts)
    assert_counts_equal(blocked.counts, whole.counts)
    # each block is a stream of its own: ceil(b / lanes) positions of T ticks, plus the latency
    starts = list(range(0, n, block))
    assert src.reads == [(s, min(s + block, n)) for s in starts]
    sizes = [min(block, n - s) for s in starts]
    assert blocked.ticks == sum(-(-b // min(lanes, b)) * ticks_per_input + 3 for b in sizes)
    # and both equal the sequential run, draw for draw
    seq = simulate(sim, x)
    np.testing.assert_array_equal(blocked.class_counts, seq.class_counts)
    np.testing.assert_array_equal(blocked.counts.spikes, seq.counts.spikes)


def test_first_offsets_the_stochastic_draws_to_the_inputs_place_in_a_longer_stream() -> None:
    rng = np.random.default_rng(3)
    d = stochastic_feedforward(rng, 2)
    x = random_spikes(rng, 9, 2, d.n_inputs, p=0.7)
    sim = CompiledDeployment(d, "cpu")
    seq = simulate(sim, x)
    pipe = simulate_pipelined(sim, x, lanes=2)
    for k in (1, 4):
        np.testing.assert_array_equal(simulate(sim, x[k:], first=k).class_counts, seq.class_counts[k:])
        np.testing.assert_array_equal(simulate_pipelined(sim, x[k:], lanes=3, first=k).class_counts,
                                      pipe.class_counts[k:])
    # without the offset the tail draws other numbers (the test would not notice a lost offset otherwise)
    assert any(not np.array_equal(simulate(sim, x[k:]).counts.spikes, seq.counts.spikes[k:]) for k in (1, 4))
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="first must be a non-negative input index"):
            simulate(sim, x, first=bad)  # type: ignore[arg-type]


def test_sequential_reads_a_source_one_batch_at_a_time() -> None:
    rng = np.random.default_rng(5)
    d = feedforward(rng, 1)
    x = random_spikes(rng, 7, 1, d.n_inputs, p=0.5)
    src = Recorded(x)
    r = simulate(d, src, batch_size=3, device=SIM_DEVICE)
    assert src.reads == [(0, 3), (3, 6), (6, 7)]
    ref = simulate(d, x, device=SIM_DEVICE)
    np.testing.assert_array_equal(r.class_counts, ref.class_counts)
    assert_counts_equal(r.counts, ref.counts)
    # metrics' replay reads it in batches too and counts what the array gives
    src.reads.clear()
    rep = Activity.replay(d, src, batch_size=4)
    assert src.reads == [(0, 4), (4, 7)]
    want = Activity.replay(d, x)
    assert not isinstance(rep, tuple) and not isinstance(want, tuple)
    np.testing.assert_array_equal(rep.effective_acs, want.effective_acs)
    np.testing.assert_array_equal(rep.synaptic_events, want.synaptic_events)
    assert rep.batch == 7


def test_a_source_with_bad_spikes_or_shape_is_refused() -> None:
    rng = np.random.default_rng(6)
    d = feedforward(rng, 1)
    x = random_spikes(rng, 5, 1, d.n_inputs)
    x[4, 0, 2] = 2
    with pytest.raises(ValueError, match="must be 0 or 1"):
        simulate(d, Recorded(x), batch_size=2, device=SIM_DEVICE)
    with pytest.raises(ValueError, match="input spikes have 3 channels, the deployment's input map expects 8"):
        simulate(d, Recorded(x[:, :, :3]), device=SIM_DEVICE)
    with pytest.raises(ValueError, match="must have shape"):
        input_shape(np.zeros((2, 1, 1, 3)))


def test_source_slicing() -> None:
    x = np.arange(24, dtype=np.uint8).reshape(4, 2, 3) % 2
    src = Recorded(x)
    assert len(src) == 4 and src.ndim == 3 and src.shape == (4, 2, 3)
    np.testing.assert_array_equal(src[1:3], x[1:3])
    np.testing.assert_array_equal(src[-1:], x[-1:])
    assert src[3:1].shape == (0, 2, 3)
    np.testing.assert_array_equal(np.asarray(src), x)
    with pytest.raises(ValueError, match="slice step must be 1"):
        src[::2]
    with pytest.raises(TypeError, match="index it with a slice"):
        src[0]  # type: ignore[index]


@settings(max_examples=25, deadline=None)
@given(seed=seeds, cuts=st.lists(st.integers(0, 13), max_size=5), shuffle=st.booleans())
def test_axon_draws_read_in_any_blocks_equal_one_read(seed: int, cuts: list[int], shuffle: bool) -> None:
    """Blocks read in order, out of order, or overlapping give the spikes of a single read of everything."""
    rng = np.random.default_rng(seed)
    x = rng.random((13, 2, 3)).astype(np.float32)
    source = rng.integers(0, 18, 40)  # 3 blocks of 6 pixels, with repeats and unused channels
    keys = [(int(v), 2) for v in rng.integers(0, 9, 3)]
    want = axon_draws(x, source, seed % 1000, keys)
    assert want.shape == (13, 1, 40) and want.dtype == np.uint8
    edges = sorted({0, 13, *cuts})
    blocks = list(itertools.pairwise(edges))
    if shuffle:
        blocks = blocks[::-1] + blocks[:1]
    src = AxonDraws(x, source, seed % 1000, keys)
    for a, b in blocks:
        np.testing.assert_array_equal(src.read(a, b), want[a:b], err_msg=f"block {a}:{b}")
    np.testing.assert_array_equal(np.asarray(src), want)


def test_axon_draws_source_errors() -> None:
    x = np.full((4, 6), 0.5, np.float32)
    src = AxonDraws(x, np.arange(6))
    for a, b in ((-1, 2), (2, 1), (0, 5)):
        with pytest.raises(IndexError, match="outside the 4 inputs"):
            src.read(a, b)
    with pytest.raises(ValueError, match="source must be a 1-D array"):
        AxonDraws(x, np.array([[0, 1]]))
    with pytest.raises(ValueError, match="2 keys for 3 blocks"):
        AxonDraws(x, np.array([0, 7, 13]), keys=[(0,), (1,)])


def test_evaluate_streams_a_long_source_in_memory_bounded_blocks() -> None:
    """``stream_block`` sizes the blocks from the memory budget; the blocked evaluation is the same result."""
    rng = np.random.default_rng(8)
    d = feedforward(rng, 1)
    d.chip = replace(d.chip, base="truenorth")  # a chip derived from TrueNorth: its energy constants apply
    x = random_spikes(rng, 40, 1, d.n_inputs, p=0.5)
    labels = rng.integers(0, 3, 40)
    sim = CompiledDeployment(d, "cpu")
    per_input = 3 * d.n_inputs + 64 * sim.C
    assert stream_block(sim, 4, d.n_inputs, budget=per_input * 4 * 3) == 12
    assert stream_block(sim, 4, d.n_inputs, budget=1) == 4  # never less than one position of every lane
    src = Recorded(x)
    blocked = evaluate_deployment(d, src, labels, batch_size=4, block_size=12)
    assert src.reads == [(0, 12), (12, 24), (24, 36), (36, 40)]
    whole = evaluate_deployment(d, x, labels, batch_size=4)
    for key in ("accuracy", "events_per_input", "uJ_per_image", "regime"):
        assert blocked[key] == whole[key], key
    with pytest.raises(ValueError, match="block_size must be >= 1"):
        run_simulation(sim, x, regime="pipelined", block_size=0)


def test_sim_result_concat() -> None:
    rng = np.random.default_rng(9)
    d = feedforward(rng, 2)
    x = random_spikes(rng, 6, 2, d.n_inputs)
    whole = simulate(d, x, record_outputs=True, record_spikes=True, device=SIM_DEVICE)
    parts = [simulate(d, x[a:b], record_outputs=True, record_spikes=True, device=SIM_DEVICE)
             for a, b in ((0, 2), (2, 6))]
    joined = SimResult.concat(parts, pipelined=False)
    assert joined.ticks == whole.ticks and joined.latency == whole.latency
    np.testing.assert_array_equal(joined.class_counts, whole.class_counts)
    assert_counts_equal(joined.counts, whole.counts)
    assert joined.output_spikes is not None and joined.spikes is not None
    np.testing.assert_array_equal(joined.output_spikes, whole.output_spikes)
    np.testing.assert_array_equal(joined.spikes, whole.spikes)
    assert SimResult.concat([simulate(d, x, device=SIM_DEVICE), *parts], pipelined=False).spikes is None
    with pytest.raises(ValueError, match="at least one part"):
        SimResult.concat([], pipelined=True)
