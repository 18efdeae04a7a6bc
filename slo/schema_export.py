"""JSON Schemas exported from the models, and the names they ship under in the package."""

from __future__ import annotations

import json
from typing import Any

from slo.evidence import SCHEMA_VERSION, PacketDocument
from slo.spec import Gate

SCHEMA_FILES = {"gate": "gate.schema.json", "evidence": "evidence.schema.json"}
_BASE_ID = "https://gatepack.dev/schemas"


def build_schema(name: str) -> dict[str, Any]:
    """The JSON Schema for ``gate`` or ``evidence``, straight from the pydantic models."""
    if name == "gate":
        schema = Gate.model_json_schema(by_alias=True)
        schema["$id"] = f"{_BASE_ID}/gate/v1.json"
    elif name == "evidence":
        schema = PacketDocument.model_json_schema()  # the packet as written, not the in-memory model
        schema["$id"] = f"{_BASE_ID}/evidence/{SCHEMA_VERSION}.json"
    else:
        raise KeyError(name)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def render_schema(name: str) -> str:
    """The schema as the text shipped in ``slo/schemas/`` (stable key order, trailing newline)."""
    return json.dumps(build_schema(name), indent=2, sort_keys=True) + "\n"
