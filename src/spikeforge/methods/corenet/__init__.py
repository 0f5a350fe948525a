"""Shared core-network machinery for the Esser 2015 (probabilistic) and Jimeno Yepes 2016 (binary) methods:
topology (:mod:`.topology`), the torch skeleton (:mod:`.torchnet`), training (:mod:`.train`), the deployment
builder (:mod:`.build`) and simulator-based evaluation (:mod:`.evaluate`)."""

from spikeforge.methods.corenet.build import build_deployment, evaluate_binary_network
from spikeforge.methods.corenet.topology import (
    CoreLayer,
    NetworkSpec,
    build_network,
    get_network,
    large_network,
    small_network,
)

__all__ = [
    "CoreLayer",
    "NetworkSpec",
    "build_deployment",
    "build_network",
    "evaluate_binary_network",
    "get_network",
    "large_network",
    "small_network",
]
