"""Training and conversion methods; each produces a :class:`~spikeforge.deploy.Deployment`."""
