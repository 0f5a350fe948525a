"""From a trained network of binary neurons to cores: a small IR and an automatic mapping compiler.

See ``docs/mapping.md``. Build a :class:`Network` of :class:`Dense` / :class:`Conv2d` layers (integer
weights and thresholds, y = 1[W x ≥ θ]), then ``dep, report = compile_network(net, "truenorth")``.
"""

from spikeforge.mapping.compiler import (
    CoreCountError,
    FanInError,
    LayerReport,
    MappingError,
    MappingReport,
    ThresholdRangeError,
    WeightEncodingError,
    compile_network,
    mesh_order,
)
from spikeforge.mapping.ir import (
    Conv2d,
    Dense,
    IRError,
    Layer,
    Network,
    connections,
    or_pool,
    reference_forward,
    round_robin_classes,
)

__all__ = [
    "Conv2d",
    "CoreCountError",
    "Dense",
    "FanInError",
    "IRError",
    "Layer",
    "LayerReport",
    "MappingError",
    "MappingReport",
    "Network",
    "ThresholdRangeError",
    "WeightEncodingError",
    "compile_network",
    "connections",
    "mesh_order",
    "or_pool",
    "reference_forward",
    "round_robin_classes",
]
