"""Tick-accurate, bit-exact simulation of deployments, with event counting."""

from spikeforge.sim.counts import EventCounts
from spikeforge.sim.engine import CompiledDeployment, SimResult, simulate, simulate_pipelined
from spikeforge.sim.reference import simulate_reference
from spikeforge.sim.topology import Topology, TopologyError, analyse

__all__ = [
    "CompiledDeployment",
    "EventCounts",
    "SimResult",
    "Topology",
    "TopologyError",
    "analyse",
    "simulate",
    "simulate_pipelined",
    "simulate_reference",
]
