"""probabilistic method."""
