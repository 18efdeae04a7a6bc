"""Trace backends: OTLP JSON files, Jaeger's query API and Grafana Tempo, decoded into :class:`slo.traces.Span`."""
