"""The evidence store on a real SQLite file and a real PostgreSQL server, behind the same tests.

Expected rows are computed by filtering the test's own list of packets in Python, never read back from
the store first. Concurrency and crash tests use processes (``subprocess``), not threads.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.store import StoreError, open_store
from slo.dsse import envelope_for_packet
from slo.evidence import (
    canonical_bytes,
    compute_digest,
    verify_bytes,
)
from slo.results import Verdict
from slo.wire import outcomes_of
from tests.conftest import unavailable
from tests.helpers import make_packet
from tests.pgserver import PostgresUnavailable, create_database, running_postgres

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    try:
        with running_postgres() as url:
            yield url
    except PostgresUnavailable as exc:
        unavailable(str(exc))


@pytest.fixture(params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "store" / "evidence.db")
    base = request.getfixturevalue("postgres_server")
    return create_database(base, f"t_{uuid.uuid4().hex[:12]}")


def test_record_find_get_and_idempotence(target: str):
    specs = [
        dict(gate="checkout", env="prod", release="v1", verdict=Verdict.PASS, minute=1),
        dict(gate="checkout", env="prod", release="v2", verdict=Verdict.FAIL, minute=5),
        dict(gate="checkout", env="staging", release="v2", verdict=Verdict.PASS, minute=3),
        dict(gate="search", env="prod", release="v2", verdict=Verdict.WARN, minute=4),
    ]
    packets = [make_packet(**s) for s in specs]
    digests = [json.loads(p)["digest"]["value"] for p in packets]
    with open_store(target) as store:
        assert [store.record(p).new for p in packets] == [True] * 4
        assert [store.record(p).new for p in packets] == [False] * 4  # a no-op the second time
        assert store.count() == 4

        def expected(**where: object) -> list[str]:
            rows = [(s, d) for s, d in zip(specs, digests, strict=True) if all(s[k] == v for k, v in where.items())]
            return [d for s, d in sorted(rows, key=lambda r: r[0]["minute"], reverse=True)]

        assert [r.digest for r in store.find(gate="checkout")] == expected(gate="checkout")
        assert [r.digest for r in store.find(environment="prod", release="v2")] == expected(env="prod", release="v2")
        assert [r.digest for r in store.find(verdict="pass")] == expected(verdict=Verdict.PASS)
        since = [d for s, d in sorted(zip(specs, digests), key=lambda r: -r[0]["minute"]) if s["minute"] >= 4]
        assert [r.digest for r in store.find(since="2026-01-01T00:04:00Z")] == since
        assert store.get("latest", gate="checkout").digest == digests[1]  # minute 5
        assert store.get(digests[2][:10]).packet == packets[2]  # bytes back exactly as recorded
        with pytest.raises(StoreError, match="no packet"):
            store.get("latest", gate="nope")
        with pytest.raises(StoreError, match="neither a digest"):
            store.get("xyz")


def test_envelopes_and_responses_are_kept_and_tampering_is_refused(target: str):
    body = b'{"status":"success","data":{"resultType":"vector","result":[]}}'
    sha = hashlib.sha256(body).hexdigest()
    plain = make_packet(response=body)
    key = Ed25519PrivateKey.from_private_bytes(bytes(32))
    signed = envelope_for_packet(plain, key)
    with open_store(target) as store:
        first = store.record(plain, {sha: gzip.compress(body), "f" * 64: b"unrelated"})
        assert first.new and first.responses_added == 1  # responses the packet does not name are not taken
        again = store.record(signed)  # the same packet, now signed: the envelope joins the row
        assert not again.new
        found = store.get(first.digest)
        assert found.envelope == signed and found.packet == plain
        assert store.response(sha) == body and store.response("f" * 64) is None
        forged = json.loads(plain)
        forged["verdict"] = "fail"
        with pytest.raises(StoreError, match="digest mismatch"):
            store.record(canonical_bytes(forged))
        assert store.count() == 1


WRITER = textwrap.dedent(
    """
    import sys
    from collector.store import open_store
    from tests.helpers import make_packet
    target, me = sys.argv[1], int(sys.argv[2])
    with open_store(target) as store:
        for i in range(20):  # shared by every writer
            store.record(make_packet(gate="shared", minute=i))
        for i in range(5):  # this writer's own
            store.record(make_packet(gate=f"own{me}", minute=i))
    """
)


def test_concurrent_writer_processes_lose_nothing(target: str):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, target, str(n)], env=env, stderr=subprocess.PIPE, cwd=ROOT)
        for n in range(4)
    ]
    for proc in procs:
        _, stderr = proc.communicate(timeout=180)
        assert proc.returncode == 0, stderr.decode()[-2000:]
    with open_store(target) as store:
        assert store.count() == 20 + 4 * 5
        assert len(store.find(gate="shared", limit=None)) == 20
        for n in range(4):
            assert len(store.find(gate=f"own{n}", limit=None)) == 5
        for row in store.find(limit=None):
            assert verify_bytes(row.packet).ok


CRASHER = textwrap.dedent(
    """
    import sys
    from collector.store import open_store
    from tests.helpers import make_packet
    with open_store(sys.argv[1]) as store:
        i = 0
        while True:
            body = (b'{"status":"success","i":%d}' % i) * 2000
            import gzip, hashlib
            store.record(make_packet(gate="crash", minute=i % 60, value=float(i), response=body),
                         {hashlib.sha256(body).hexdigest(): gzip.compress(body)})
            print(i, flush=True)
            i += 1
    """
)


def test_a_writer_killed_mid_write_leaves_nothing_half_visible(target: str):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHER, target], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT
    )
    assert proc.stdout is not None
    confirmed = -1
    deadline = time.monotonic() + 120
    while confirmed < 8 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        confirmed = int(line)
    os.kill(proc.pid, signal.SIGKILL)  # somewhere inside the next record
    proc.wait()
    assert confirmed >= 8, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
    with open_store(target) as store:
        rows = store.find(gate="crash", limit=None)
        assert confirmed + 1 <= len(rows) <= confirmed + 2  # every confirmed one, at most the one in flight
        for row in rows:
            document = json.loads(row.packet)
            assert verify_bytes(row.packet).ok and compute_digest(document) == row.digest
            [query] = outcomes_of(document["checks"][0], document)
            assert store.response(query["response_sha256"]) is not None  # a packet never without its responses
        store.record(make_packet(gate="after"))  # and the store still takes writes
        assert store.count() == len(rows) + 1


def test_bad_store_targets_are_one_line_errors(tmp_path: Path):
    with pytest.raises(StoreError, match="use a file path"):
        open_store("mysql://u:secret@host/db")
    with pytest.raises(StoreError) as caught:
        open_store("postgresql://u:secret@127.0.0.1:1/db")
    assert "secret" not in str(caught.value) and "cannot open the store" in str(caught.value)


def test_migrated_schema_is_the_declared_one_at_the_head_revision(target: str):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from collector.store.schema import HEAD_REVISION, metadata

    with open_store(target) as store, store.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert context.get_current_revision() == HEAD_REVISION
        assert compare_metadata(context, metadata) == []  # migrations and schema.py describe the same tables
    script = ScriptDirectory(str(ROOT / "collector" / "store" / "migrations"))
    assert script.get_current_head() == HEAD_REVISION
    with open_store(target) as again:  # opening an up-to-date store changes nothing
        assert again.count() == 0
