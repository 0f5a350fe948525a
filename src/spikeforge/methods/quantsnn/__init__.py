"""Quantised spiking network trained on-chip-style to retain a spatio-temporal pattern: the learning
workload of Schaefer, Faley, Neftci, Joshi (ISCAS 2020), used to compare synaptic-memory encodings
(:mod:`spikeforge.energy.memory`)."""

from spikeforge.methods.quantsnn.model import (
    LIFParams,
    QuantSNN,
    superspike,
    van_rossum_distance,
    van_rossum_filter,
    wage_codes,
    wage_quantise,
    wage_sigma,
)
from spikeforge.methods.quantsnn.target import poisson_input, smiley_raster
from spikeforge.methods.quantsnn.train import TrainConfig, TrainResult, train_population

__all__ = [
    "LIFParams",
    "QuantSNN",
    "TrainConfig",
    "TrainResult",
    "poisson_input",
    "smiley_raster",
    "superspike",
    "train_population",
    "van_rossum_distance",
    "van_rossum_filter",
    "wage_codes",
    "wage_quantise",
    "wage_sigma",
]
