"""spikeforge: turn a learning task into an energy-efficient spiking network on a TrueNorth-class chip.

The one object that crosses every boundary is the :class:`~spikeforge.deploy.Deployment`: training methods
produce it, the simulator and the energy model consume it, exports read it.

The most used entry points are importable from the top level; each is loaded on first use (``import
spikeforge`` itself loads neither torch nor numpy)::

    import spikeforge as sf

    dep = sf.load("runs/binary-small/deployment.sfd")
    sf.check(dep)                                           # design rules; raises DesignRuleError
    ds = sf.load_dataset("mnist")
    print(sf.evaluate_deployment(dep, sf.threshold_encode(ds.x_test), ds.y_test)["accuracy"])

The subpackages (``spikeforge.hardware``, ``.deploy``, ``.sim``, ``.energy``, ``.data``, ``.methods``,
``.mapping``, ``.interop``, ``.report``) hold the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Top-level name → the module that defines it (loaded lazily by :func:`__getattr__`).
_EXPORTS: dict[str, str] = {
    # chip model
    "ChipSpec": "spikeforge.hardware",
    "get_chip": "spikeforge.hardware",
    "load_chip": "spikeforge.hardware",
    "check": "spikeforge.hardware",
    "DesignRuleError": "spikeforge.hardware",
    # deployment
    "Deployment": "spikeforge.deploy",
    "load": "spikeforge.deploy",
    "save": "spikeforge.deploy",
    # simulation and evaluation
    "simulate": "spikeforge.sim",
    "simulate_pipelined": "spikeforge.sim",
    "evaluate_deployment": "spikeforge.evaluate",
    # energy
    "estimate_energy": "spikeforge.energy",
    "memory_report": "spikeforge.energy.memory",
    # data
    "load_dataset": "spikeforge.data",
    "threshold_encode": "spikeforge.data",
    "bernoulli_encode": "spikeforge.data",
    "regular_encode": "spikeforge.data",
    # recipes, reports, interchange
    "load_recipe": "spikeforge.recipes",
    "run_recipe": "spikeforge.pipeline",
    "run_sweep": "spikeforge.sweep",
    "compare_runs": "spikeforge.report.compare",
    "write_report": "spikeforge.report",
    "export_nir": "spikeforge.interop",
    "import_nir": "spikeforge.interop",
}

__all__ = [  # the names of _EXPORTS (checked by tests/api/test_toplevel.py)
    "ChipSpec",
    "Deployment",
    "DesignRuleError",
    "__version__",
    "bernoulli_encode",
    "check",
    "compare_runs",
    "estimate_energy",
    "evaluate_deployment",
    "export_nir",
    "get_chip",
    "import_nir",
    "load",
    "load_chip",
    "load_dataset",
    "load_recipe",
    "memory_report",
    "regular_encode",
    "run_recipe",
    "run_sweep",
    "save",
    "simulate",
    "simulate_pipelined",
    "threshold_encode",
    "write_report",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from spikeforge.data import bernoulli_encode, load_dataset, regular_encode, threshold_encode
    from spikeforge.deploy import Deployment, load, save
    from spikeforge.energy import estimate_energy
    from spikeforge.energy.memory import memory_report
    from spikeforge.evaluate import evaluate_deployment
    from spikeforge.hardware import ChipSpec, DesignRuleError, check, get_chip, load_chip
    from spikeforge.interop import export_nir, import_nir
    from spikeforge.pipeline import run_recipe
    from spikeforge.recipes import load_recipe
    from spikeforge.report import write_report
    from spikeforge.report.compare import compare_runs
    from spikeforge.sim import simulate, simulate_pipelined
    from spikeforge.sweep import run_sweep


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'spikeforge' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
