"""Run reports: a self-contained folder with the deployment, its results, metrics, plots and an index."""

from spikeforge.report.plots import (
    REFERENCE_POINTS,
    plot_accuracy_energy,
    plot_chip_map,
    plot_layer_activity,
    plot_raster,
    utilisation,
)
from spikeforge.report.report import report_feed, report_inputs, write_report

__all__ = [
    "REFERENCE_POINTS",
    "plot_accuracy_energy",
    "plot_chip_map",
    "plot_layer_activity",
    "plot_raster",
    "report_feed",
    "report_inputs",
    "utilisation",
    "write_report",
]
