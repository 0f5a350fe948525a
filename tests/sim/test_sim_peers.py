"""The throughput benchmark's network gives identical spike and synaptic-event totals in spikeforge, snnTorch and
Norse (the peers' IF neurons with threshold 0.5 fire on a strict '>' — "V ≥ 1" on integer potentials)."""

from __future__ import annotations

from types import ModuleType

import pytest
import torch

from helpers import load_script

pytestmark = pytest.mark.peers


def bench() -> ModuleType:
    return load_script("benchmarks/sim_throughput.py", "sim_throughput_bench")


@pytest.mark.parametrize("peer", ["snntorch", "norse"])
def test_peers_match_spikeforge_on_the_benchmark_network(peer: str) -> None:
    pytest.importorskip(peer)
    b = bench()
    d = b.build_deployment(seed=3)
    x = b.make_inputs(3, seed=4)
    w1, w2 = b.dense_weights(d)
    fan1, fan2 = b.peer_fanouts(d)
    ours = b.make_spikeforge(d, x)[0]()
    make = b.make_snntorch if peer == "snntorch" else b.make_norse
    theirs = make(w1, w2, torch.from_numpy(x).float(), fan1, fan2)[0]()
    assert theirs == ours
    assert ours[0] > 0 and ours[1] > 0
