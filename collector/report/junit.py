"""JUnit XML for CI systems: one test suite per gate, one test case per check.

CI tools (GitHub Actions reporters, GitLab, Jenkins) show JUnit natively, so a failing gate check
appears next to failing unit tests with its reason. A check whose effect on the gate is ``fail`` is a
``<failure>``; ``skip`` is ``<skipped>``; pass and warn pass, with the reason in ``<system-out>``.

Reasons quote label values and backend errors: control characters are escaped (XML 1.0 forbids most
of them outright, and a CI log viewer would otherwise run them as terminal sequences).
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from collector.report.safe import escape_controls
from slo.evidence import EvidencePacket
from slo.formatting import quantity
from slo.results import Effect


def _attr(text: str) -> str:
    """One line of outside text, safe for XML 1.0 and for the terminal a CI viewer shows it in."""
    return escape_controls(text)


def junit_xml(packets: list[EvidencePacket]) -> bytes:
    """The JUnit document for ``packets`` (UTF-8 bytes with an XML declaration)."""
    root = ET.Element("testsuites", name="gatepack")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for packet in packets:
        suite = ET.SubElement(root, "testsuite", name=_attr(packet.gate.id), timestamp=_attr(packet.evaluation.time))
        counts = {"tests": 0, "failures": 0, "skipped": 0}
        for check in packet.checks:
            counts["tests"] += 1
            case = ET.SubElement(suite, "testcase", name=_attr(check.id), classname=_attr(f"gatepack.{packet.gate.id}"))
            value = quantity(check.value, check.unit) if check.value is not None else "no value"
            message = _attr(f"{check.verdict.value}: {check.reason}")
            body = "\n".join(
                _attr(line)
                for line in (
                    check.title,
                    f"value: {value}",
                    f"objective: {check.objective or '-'}",
                    f"reason: {check.reason}",
                )
            )
            if check.effect is Effect.FAIL:
                counts["failures"] += 1
                kind = "error" if check.verdict.value == "error" else check.verdict.value
                ET.SubElement(case, "failure", message=message, type=kind).text = body
            elif check.effect is Effect.SKIP:
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=message)
            else:
                ET.SubElement(case, "system-out").text = message
        for key, number in counts.items():
            suite.set(key, str(number))
            totals[key] += number
        suite.set("errors", "0")
    for key, number in totals.items():
        root.set(key, str(number))
    root.set("errors", "0")
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
