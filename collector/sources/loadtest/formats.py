"""Format names for ``--format`` and the reader module behind each; import-light (no pandas) for the CLI."""

from __future__ import annotations

# format name → reader module under collector.sources.loadtest. Order matters for detection: more specific
# sniffers first.
READERS: dict[str, str] = {
    "k6-summary": "k6_summary",
    "k6-csv": "k6_csv",
    "k6-ndjson": "k6_ndjson",
    "locust": "locust",
    "hey": "hey",
    "jmeter": "jmeter",
    "gatling": "gatling",
}
