"""GitHub Actions annotations: one ``::error`` (or ``::warning``) line per check that needs a reviewer's eye.

The runner reads workflow commands from the step's output and percent-decodes them, so the message
(data) escapes ``%``, CR and LF, and property values (``title=``) additionally escape ``:`` and ``,``
(the rules of GitHub's own toolkit, ``@actions/core``). A check reason can then never end the
command early or inject a second command on a new line.
"""

from __future__ import annotations

from collections.abc import Mapping

from slo.evidence import EvidencePacket
from slo.results import Effect, Verdict


def in_github_actions(env: Mapping[str, str]) -> bool:
    return env.get("GITHUB_ACTIONS", "").lower() == "true"


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(packets: list[EvidencePacket]) -> list[str]:
    """``::error`` for every check that fails its gate, ``::warning`` for warnings; passing checks say nothing."""
    lines: list[str] = []
    for packet in packets:
        for check in packet.checks:
            if check.effect is Effect.FAIL:
                command = "error"
            elif check.verdict is Verdict.WARN or check.effect is Effect.WARN:
                command = "warning"
            else:
                continue
            title = escape_property(f"gatepack {packet.gate.id}/{check.id}: {check.verdict.value}")
            lines.append(f"::{command} title={title}::{escape_data(check.reason or check.verdict.value)}")
    return lines
