"""promql."""
