"""The demo world: a small SaaS's telemetry for every catalog gate, and ``python -m collector.demo``."""
