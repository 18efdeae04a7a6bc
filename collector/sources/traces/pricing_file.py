"""Read a price table file (gatepack YAML, LiteLLM JSON, Langfuse JSON) and record its digest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml

from slo.evidence import InputFile
from slo.pricing import PriceTable, PricingError, detect_table


def load_pricing(path: Path) -> tuple[PriceTable, InputFile]:
    """The table and its provenance; :class:`PricingError` (exit 2) for an unreadable or unknown file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PricingError(f"cannot read price table: {exc.strerror or exc}", source=str(path)) from None
    try:
        document = json.loads(data) if data.lstrip()[:1] in (b"{", b"[") else yaml.safe_load(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PricingError(f"not valid JSON: {exc}", source=str(path)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise PricingError(f"not valid YAML: {getattr(exc, 'problem', exc)}", source=str(path), line=line) from None
    table = detect_table(document, str(path))
    digest = hashlib.sha256(data).hexdigest()
    return table, InputFile(path=str(path), sha256=digest, size=len(data), role="pricing", format=table.format)
