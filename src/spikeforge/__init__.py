"""spikeforge: turn a learning task into an energy-efficient spiking network on a TrueNorth-class chip.

The one object that crosses every boundary is the :class:`~spikeforge.deploy.Deployment`: training methods
produce it, the simulator and the energy model consume it, exports read it.
"""

__version__ = "0.1.0"
