"""binary method."""
