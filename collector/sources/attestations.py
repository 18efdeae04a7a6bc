"""The attestations file: read it for ``collect``, append to it for ``attest``.

One JSON document, ``{"attestations": [...]}``, kept in the repository or CI workspace next to the
specs. Writes are atomic, so a crash never leaves half a file, and the file is recorded (path and
sha256) in every packet whose checks it answered.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from collector.sinks.files import sha256_file, write_atomic
from collector.sources.base import LocalSource, RunContext
from slo.attestation import AttestationRecord, evaluate_attestation
from slo.errors import InputError
from slo.evidence import InputFile
from slo.results import CheckResult
from slo.spec import AttestationCheck

DEFAULT_PATH = Path("gatepack-attestations.json")


class AttestationFileError(InputError):
    """An attestations file that exists but cannot be used."""


def load_attestations(path: Path) -> list[AttestationRecord]:
    """Every record in ``path``; a missing file is an empty list (nothing attested yet)."""
    if not path.exists():
        return []
    try:
        document = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AttestationFileError(f"{path}: not a readable JSON attestations file: {exc}") from None
    items = document.get("attestations") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise AttestationFileError(f'{path}: expected {{"attestations": [...]}}')
    records: list[AttestationRecord] = []
    for index, item in enumerate(items):
        try:
            records.append(AttestationRecord.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise AttestationFileError(f"{path}: attestations[{index}].{where}: {first['msg']}") from None
    return records


def dump_attestations(records: list[AttestationRecord]) -> bytes:
    items = [r.model_dump(exclude_none=True) for r in sorted(records, key=lambda r: (r.gate, r.item, r.at))]
    return (json.dumps({"attestations": items}, indent=2, sort_keys=True) + "\n").encode("utf-8")


def append_attestation(path: Path, record: AttestationRecord) -> None:
    """Add ``record`` to the file (earlier records are kept: the history is evidence too)."""
    write_atomic(path, dump_attestations([*load_attestations(path), record]))


def input_file(path: Path) -> InputFile | None:
    """The packet's record of the attestations file, or None when it does not exist."""
    if not path.exists():
        return None
    sha, size = sha256_file(path)
    return InputFile(path=str(path), sha256=sha, size=size, role="attestations", format="gatepack-attestations")


class AttestationSource(LocalSource[AttestationCheck]):
    """``attestation`` checks answered from the loaded records of one attestations file."""

    name = "attestations"
    kinds = frozenset({"attestation"})
    check_type = AttestationCheck
    noun = "an attestation"

    def __init__(self, records: list[AttestationRecord], source: str | None = None, path: Path | None = None) -> None:
        self.records = records
        self.source = source
        self.path = path
        self._used = False

    def inputs(self) -> list[InputFile]:
        """The file is evidence only when some check read it."""
        record = input_file(self.path) if self._used and self.path is not None else None
        return [record] if record else []

    def decide(self, check: AttestationCheck, context: RunContext) -> CheckResult:
        self._used = True
        return evaluate_attestation(check, context.gate.id, self.records, context.evaluated_at, self.source)
