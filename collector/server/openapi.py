"""The OpenAPI 3.1 document of the JSON API, written out here and kept in docs/openapi.json.

It is data, not generated from the handlers: tests check both ways that every route of the app is in the
document (and nothing else), and that docs/openapi.json is exactly this text.
"""

from __future__ import annotations

import json
from typing import Any

_ERROR = {"description": "", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _error(description: str) -> dict[str, Any]:
    return {**_ERROR, "description": description}


def _param(name: str, where: str, description: str, pattern: str | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", **extra}
    if pattern:
        schema["pattern"] = pattern
    return {"name": name, "in": where, "required": where == "path", "description": description, "schema": schema}


DIGEST = _param("digest", "path", "A packet digest, or at least its first 8 hex digits", "^(sha256:)?[0-9a-f]{8,64}$")
READ_ERRORS = {"400": _error("A malformed parameter"), "401": _error("A read token is required or was wrong")}
PACKET = {"application/json": {"schema": {"$ref": "#/components/schemas/Packet"}}}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "gatepack evidence API",
            "version": "1",
            "description": "Release-gate evidence packets: record (verified on arrival), find, read and compare.",
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}},
                },
                "Packet": {
                    "type": "object",
                    "description": "An evidence packet (see `gatepack schema evidence`)",
                },
                "Summary": {
                    "type": "object",
                    "required": ["digest", "gate", "verdict", "evaluated_at", "signed"],
                    "properties": {
                        "digest": {"type": "string"},
                        "gate": {"type": "string"},
                        "environment": {"type": ["string", "null"]},
                        "service": {"type": ["string", "null"]},
                        "release": {"type": ["string", "null"]},
                        "commit": {"type": ["string", "null"]},
                        "verdict": {"type": "string", "enum": ["pass", "warn", "fail", "no_data", "error"]},
                        "evaluated_at": {"type": "string"},
                        "key_id": {"type": ["string", "null"]},
                        "signed": {"type": "boolean"},
                    },
                },
                "Upload": {
                    "type": "object",
                    "description": "A packet file's exact text with the kept responses it names (--keep-responses)",
                    "required": ["packet"],
                    "additionalProperties": False,
                    "properties": {
                        "packet": {"type": "string", "description": "The packet or DSSE envelope file, as text"},
                        "responses": {
                            "type": "object",
                            "description": "sha256 of the response body -> base64 of its gzip file",
                            "additionalProperties": {"type": "string"},
                        },
                    },
                },
                "EvaluateRequest": {
                    "type": "object",
                    "description": "Optional. Gate variables and the packet's subject; or Flagger's webhook payload "
                    "with ?format=flagger (only its metadata is read: environment, service, release, commit, "
                    "token, var.NAME)",
                    "properties": {
                        "vars": {"type": "object", "additionalProperties": {"type": "string"}},
                        "subject": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                name: {"type": "string"} for name in ("environment", "service", "release", "commit")
                            },
                        },
                        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                },
                "Evaluation": {
                    "type": "object",
                    "required": ["gate", "decision", "pass", "verdict", "digest", "failing"],
                    "properties": {
                        "gate": {"type": "string"},
                        "decision": {
                            "type": "string",
                            "enum": ["pass", "fail", "error"],
                            "description": "error: a check could not be evaluated (never a pass)",
                        },
                        "pass": {"type": "boolean"},
                        "verdict": {"type": "string", "enum": ["pass", "warn", "fail", "no_data", "error"]},
                        "digest": {"type": "string"},
                        "new": {"type": "boolean"},
                        "evaluated_at": {"type": "string"},
                        "environment": {"type": ["string", "null"]},
                        "release": {"type": ["string", "null"]},
                        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                        "failing": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "check": {"type": "string"},
                                    "verdict": {"type": "string"},
                                    "reason": {"type": "string"},
                                },
                            },
                        },
                        "packet": {"type": "string"},
                        "board": {"type": "string"},
                    },
                },
                "Recorded": {
                    "type": "object",
                    "required": ["digest", "new", "signature"],
                    "properties": {
                        "digest": {"type": "string"},
                        "new": {"type": "boolean"},
                        "verdict": {"type": ["string", "null"]},
                        "signature": {"type": "string"},
                        "responses_added": {"type": "integer"},
                    },
                },
            },
        },
        "paths": {
            "/api/v1/packets": {
                "post": {
                    "operationId": "recordPacket",
                    "summary": "Record a packet or a signed DSSE envelope",
                    "description": "The digest and signature are checked as `gatepack verify` checks them and "
                    "the packet must match the evidence schema; on any failure nothing is stored.",
                    "security": [{"bearer": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/Packet"},
                                        {"$ref": "#/components/schemas/Upload"},
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "Recorded",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Recorded"}}},
                        },
                        "200": {
                            "description": "Already in the store (nothing changed)",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Recorded"}}},
                        },
                        "400": _error("Not a JSON object"),
                        "401": _error("A write token is required or was wrong"),
                        "403": _error("Writes are disabled (no write token configured)"),
                        "413": _error("The body is too large"),
                        "422": _error("Digest, signature or schema check failed; nothing stored"),
                    },
                },
                "get": {
                    "operationId": "listPackets",
                    "summary": "Packets matching every given filter, newest evaluation first",
                    "security": [{"bearer": []}],
                    "parameters": [
                        _param("gate", "query", "Gate id"),
                        _param("env", "query", "Environment"),
                        _param("release", "query", "Release"),
                        _param("verdict", "query", "Verdict", enum=["pass", "warn", "fail", "no_data", "error"]),
                        _param("limit", "query", "At most this many (1 to 1000, default 100)", "^[0-9]+$"),
                    ],
                    "responses": {
                        "200": {
                            "description": "Summaries",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "packets": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/Summary"},
                                            }
                                        },
                                    }
                                }
                            },
                        },
                        **READ_ERRORS,
                    },
                },
            },
            "/api/v1/packets/{digest}": {
                "get": {
                    "operationId": "getPacket",
                    "summary": "One packet",
                    "security": [{"bearer": []}],
                    "parameters": [DIGEST],
                    "responses": {
                        "200": {"description": "The packet", "content": PACKET},
                        "404": _error("No such packet"),
                        "409": _error("The digest prefix is ambiguous"),
                        **READ_ERRORS,
                    },
                }
            },
            "/api/v1/gates/{gate}/latest": {
                "get": {
                    "operationId": "latestPacket",
                    "summary": "The gate's newest packet (optionally in one environment)",
                    "security": [{"bearer": []}],
                    "parameters": [
                        _param("gate", "path", "Gate id", "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"),
                        _param("env", "query", "Environment"),
                    ],
                    "responses": {
                        "200": {"description": "The packet", "content": PACKET},
                        "404": _error("No packet for this gate"),
                        **READ_ERRORS,
                    },
                }
            },
            "/api/v1/gates/{gate}/evaluate": {
                "post": {
                    "operationId": "evaluateGate",
                    "summary": "Evaluate the gate now, store its packet, answer the verdict (Argo Rollouts, Flagger)",
                    "description": "Argo Rollouts' web provider: jsonPath {$.decision}, successCondition "
                    'result == "pass" (always 200). Flagger (?format=flagger): 200 on pass, 412 on fail, 424 when '
                    "a check could not be evaluated. Write or evaluate token (Flagger: metadata.token).",
                    "security": [{"bearer": []}],
                    "parameters": [
                        _param("gate", "path", "Gate id", "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"),
                        _param("format", "query", "Who reads the answer", enum=["argo", "flagger"]),
                        _param("fail_on", "query", "Whether warn fails the decision", enum=["fail", "warn"]),
                    ],
                    "requestBody": {
                        "required": False,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EvaluateRequest"}}},
                    },
                    "responses": {
                        "200": {
                            "description": "Evaluated (Argo: any decision; Flagger: pass)",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Evaluation"}}},
                        },
                        "400": _error("A malformed gate id, parameter or body"),
                        "401": _error("A write or evaluate token is required or was wrong"),
                        "403": _error("Evaluation is disabled (no write or evaluate token configured)"),
                        "404": _error("No such gate on this server"),
                        "412": {
                            "description": "Flagger: the gate failed",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Evaluation"}}},
                        },
                        "413": _error("The body is too large"),
                        "424": {
                            "description": "Flagger: a check could not be evaluated (backend fault)",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Evaluation"}}},
                        },
                        "429": _error("This gate is being evaluated already, or too many evaluations run at once"),
                    },
                }
            },
            "/api/v1/diff": {
                "get": {
                    "operationId": "diffPackets",
                    "summary": "Check by check, what changed from packet a to packet b",
                    "security": [{"bearer": []}],
                    "parameters": [
                        {
                            **_param("a", "query", "Older packet's digest", "^(sha256:)?[0-9a-f]{8,64}$"),
                            "required": True,
                        },
                        {
                            **_param("b", "query", "Newer packet's digest", "^(sha256:)?[0-9a-f]{8,64}$"),
                            "required": True,
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The diff (as `gatepack diff -f json`)",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        "404": _error("No such packet"),
                        "409": _error("A digest prefix is ambiguous"),
                        **READ_ERRORS,
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3.1",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
    }


def openapi_text() -> str:
    """docs/openapi.json's exact text (``python -m collector.server.openapi > docs/openapi.json``)."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(openapi_text(), end="")
