"""Interoperability with other neuromorphic tools: NIR export and import (``docs/nir.md``).

The ``nir`` package is imported lazily, when a graph is written or read, so that ``spikeforge`` itself does
not depend on it.
"""

from spikeforge.interop.nir import (
    Feature,
    NIRExportError,
    NIRImportError,
    NIRImportWarning,
    NIRPlan,
    NIRUnavailableError,
    align_to_chip,
    deployment_to_nir,
    export_nir,
    export_nir_file,
    import_nir,
    import_nir_file,
    nir_to_deployment,
    output_tick_offsets,
    plan_nir,
)

__all__ = [
    "Feature",
    "NIRExportError",
    "NIRImportError",
    "NIRImportWarning",
    "NIRPlan",
    "NIRUnavailableError",
    "align_to_chip",
    "deployment_to_nir",
    "export_nir",
    "export_nir_file",
    "import_nir",
    "import_nir_file",
    "nir_to_deployment",
    "output_tick_offsets",
    "plan_nir",
]
