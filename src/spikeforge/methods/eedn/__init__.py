"""Eedn (Esser et al., PNAS 2016): convolutional networks of trinary-weight binary neurons on TrueNorth cores.

Train with :class:`EednNet` + :func:`train_eedn`, export with :meth:`EednNet.to_network` (batch norm folded
into integer thresholds, exactly), map with :func:`spikeforge.mapping.compile_network`. See
``docs/methods/eedn.md``.
"""

from spikeforge.methods.eedn.layers import OrPool2d, SpikeFn, TrinaryConv2d, fold_threshold, spike, trinarize
from spikeforge.methods.eedn.model import EednNet, auto_groups
from spikeforge.methods.eedn.train import TrainConfig, TrainLog, recalibrate_bn, train_eedn

__all__ = [
    "EednNet",
    "OrPool2d",
    "SpikeFn",
    "TrainConfig",
    "TrainLog",
    "TrinaryConv2d",
    "auto_groups",
    "fold_threshold",
    "recalibrate_bn",
    "spike",
    "train_eedn",
    "trinarize",
]
