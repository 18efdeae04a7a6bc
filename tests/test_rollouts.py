"""``POST /api/v1/gates/{id}/evaluate`` over real HTTP: a real ``gatepack serve`` and a real Prometheus.

The Prometheus holds counters that end a minute ago, so "now" (the only time the endpoint evaluates at)
sees them: ``checkout`` answers 0.5 % of its requests with a 500, ``payments`` 5 %. The expected verdicts
come from those per-minute rates and the gate's target, never from what the server said. The examples in
``examples/rollouts/`` are read as their controllers would read them: Argo Rollouts' web provider (its
URL, headers, JSON body, ``jsonPath`` and ``successCondition``) and Flagger's webhook (its POST payload,
and "a status above 202 fails", from ``pkg/controller/webhook.go``).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import yaml

from collector.testing.openmetrics import Family, Series
from collector.testing.promserver import free_port
from slo.wire import response_digests
from tests.serverproc import READ, ROOT, WRITE, Served, serving

pytestmark = pytest.mark.integration

EVALUATE = "evaluate-token-0123456789abcdef"
PER_MINUTE = 1200.0
ERRORS = {"checkout": 6.0, "payments": 60.0}  # 0.5 % and 5 % of PER_MINUTE
TARGET = 0.01  # examples/rollouts/canary-gates.yaml: error ratio < 0.01
NOW = int(time.time()) // 60 * 60
TIMESTAMPS = np.arange(NOW - 3 * 3600, NOW - 60 + 1, 60)
EXAMPLES = ROOT / "examples" / "rollouts"

GATES = """\
apiVersion: gatepack/v1
kind: Gate
id: {id}
title: {id}
vars: {{service: {service}}}
checks:
  - id: error-ratio
    kind: threshold
    query: >-
      sum(increase(http_requests_total{{service="{{{{ service }}}}",code=~"5.."}}[30m]))
      / sum(increase(http_requests_total{{service="{{{{ service }}}}"}}[30m]))
    op: "<"
    target: {target}
"""


def families() -> list[Family]:
    requests = Family("http_requests", "counter", "requests by outcome")
    steps = np.arange(len(TIMESTAMPS), dtype=float)
    for service, errors in ERRORS.items():
        requests.series.append(
            Series(
                "http_requests_total", {"service": service, "code": "200"}, TIMESTAMPS, steps * (PER_MINUTE - errors)
            )
        )
        requests.series.append(
            Series("http_requests_total", {"service": service, "code": "500"}, TIMESTAMPS, steps * errors)
        )
    return requests and [requests]


def expected(service: str) -> tuple[float, str]:
    ratio = ERRORS[service] / PER_MINUTE
    return ratio, ("pass" if ratio < TARGET else "fail")


@pytest.fixture(scope="module")
def prometheus(prometheus_pool: Any) -> Any:
    return prometheus_pool.get(f"rollouts-{NOW}", families)


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("specs") / "gates.yaml"
    path.write_text(
        "---\n".join(GATES.format(id=f"canary-{s}", service=s, target=TARGET) for s in ERRORS), encoding="utf-8"
    )
    return path


TOKENS = {"GATEPACK_WRITE_TOKEN": WRITE, "GATEPACK_READ_TOKEN": READ, "GATEPACK_EVALUATE_TOKEN": EVALUATE}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, prometheus: Any, specs: Path) -> Iterator[tuple[Served, Path]]:
    tmp = tmp_path_factory.mktemp("rollouts")
    db = tmp / "evidence.db"
    args = ("--prometheus", prometheus.url, "--spec", str(specs), "--spec", str(EXAMPLES / "canary-gates.yaml"))
    with serving(db, tmp, TOKENS, (*args, "--keep-responses")) as served:
        yield served, db


@pytest.fixture(scope="module")
def down(tmp_path_factory: pytest.TempPathFactory, specs: Path) -> Iterator[tuple[Served, Path]]:
    """The same gates with a backend nothing listens on; this server also signs what it evaluates."""
    from collector.signing import write_keypair

    tmp = tmp_path_factory.mktemp("down")
    db = tmp / "evidence.db"
    write_keypair(tmp / "server.key")
    backend = f"http://127.0.0.1:{free_port()}"
    args = ("--prometheus", backend, "--spec", str(specs), "--timeout", "2", "--deadline", "10")
    with serving(db, tmp, TOKENS, (*args, "--sign", str(tmp / "server.key"))) as served:
        yield served, db


def evaluate(served: Served, gate: str, token: str | None = WRITE, body: Any = None, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    content = json.dumps(body).encode() if body is not None else b""
    return httpx.post(
        f"{served.url}/api/v1/gates/{gate}/evaluate", params=params, content=content, headers=headers, timeout=60
    )


def stored(db: Path) -> dict[str, tuple[str, str]]:
    with sqlite3.connect(db) as connection:
        return {d: (g, v) for d, g, v in connection.execute("SELECT digest, gate, verdict FROM gatepack_packets")}


@pytest.mark.parametrize("service", sorted(ERRORS))
def test_evaluate_answers_the_verdict_and_stores_the_packet(server: tuple[Served, Path], service: str) -> None:
    served, db = server
    ratio, verdict = expected(service)
    answer = evaluate(served, f"canary-{service}", body={"subject": {"environment": "prod", "release": "v9"}})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["verdict"] == verdict and body["decision"] == verdict and body["pass"] is (verdict == "pass")
    assert stored(db)[body["digest"]] == (f"canary-{service}", verdict)
    packet = httpx.get(f"{served.url}{body['packet']}", headers={"Authorization": f"Bearer {READ}"}).json()
    assert packet["digest"]["value"] == body["digest"]
    assert packet["subject"]["environment"] == "prod" and packet["subject"]["release"] == "v9"
    assert packet["checks"][0]["value"] == pytest.approx(ratio, rel=1e-9)
    # evaluated packets carry the same context series as collect's (for the board's charts): its last point is
    # the value query at the evaluation time, so it is the check's value
    context = packet["checks"][0]["context"]
    assert context["series"] == "value" and context["values"][-1] == pytest.approx(ratio, rel=1e-9)
    evaluated = packet["evaluation"]["time"]
    assert abs(time.time() - __import__("collector.timeutil", fromlist=["parse_time"]).parse_time(evaluated)) < 120
    assert [f["check"] for f in body["failing"]] == ([] if verdict == "pass" else ["error-ratio"])
    with sqlite3.connect(db) as connection:  # --keep-responses: every response the packet names is in the store
        kept = {row[0] for row in connection.execute("SELECT sha256 FROM gatepack_responses")}
    named = set(response_digests(packet))
    assert named and named <= kept


def test_vars_from_the_body_choose_the_series(server: tuple[Served, Path]) -> None:
    served, _ = server
    _, verdict = expected("payments")
    answer = evaluate(served, "canary-checkout", body={"vars": {"service": "payments"}})
    assert answer.json()["verdict"] == verdict == "fail"
    assert evaluate(served, "canary-checkout", body={"vars": {"nope": "x"}}).status_code == 400
    assert evaluate(served, "canary-checkout", body={"var": {"service": "payments"}}).status_code == 400


def test_flagger_mode_answers_with_the_status(server: tuple[Served, Path]) -> None:
    served, _ = server
    assert evaluate(served, "canary-checkout", format="flagger").status_code == 200
    failing = evaluate(served, "canary-payments", format="flagger")
    assert failing.status_code == 412 and failing.json()["decision"] == "fail"


@pytest.mark.parametrize("token", [None, "wrong-token-0123456789abcdef", READ])
def test_evaluation_needs_the_write_or_evaluate_token(server: tuple[Served, Path], token: str | None) -> None:
    served, db = server
    before = stored(db)
    assert evaluate(served, "canary-checkout", token=token).status_code == 401
    assert stored(db) == before
    assert evaluate(served, "canary-checkout", token=EVALUATE).status_code == 200


def test_unknown_gate_is_404_and_bad_ids_400(server: tuple[Served, Path]) -> None:
    served, _ = server
    assert evaluate(served, "no-such-gate").status_code == 404
    assert evaluate(served, "..%2F..%2Fetc").status_code in (400, 404)
    assert evaluate(served, "canary-checkout", format="spinnaker").status_code == 400


def test_a_backend_down_is_an_error_never_a_pass(down: tuple[Served, Path]) -> None:
    served, db = down
    argo = evaluate(served, "canary-checkout")
    assert argo.status_code == 200 and argo.json()["decision"] == "error" and argo.json()["pass"] is False
    assert argo.json()["failing"][0]["verdict"] == "error"
    assert stored(db)[argo.json()["digest"]][0] == "canary-checkout"
    with sqlite3.connect(db) as connection:  # --sign: the stored packet came with its DSSE envelope
        signed = {row[0] for row in connection.execute("SELECT digest FROM gatepack_envelopes")}
    assert argo.json()["digest"] in signed
    assert evaluate(served, "canary-checkout", format="flagger").status_code == 424


SLOW_GATES = """\
apiVersion: gatepack/v1
kind: Gate
id: slow-{n}
title: a backend that takes 2 s per query
checks:
  - id: slow
    kind: threshold
    query: slow_metric_{n}
    op: ">"
    target: 1
"""


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """tests/faulty_backend.py answers every query with "slow" in it after 2 s; one evaluation at a time in all."""
    from tests.faulty_backend import FaultyBackend

    tmp = tmp_path_factory.mktemp("slow")
    spec = tmp / "slow.yaml"
    spec.write_text("---\n".join(SLOW_GATES.format(n=n) for n in (1, 2)), encoding="utf-8")
    with FaultyBackend() as backend:
        args = ("--prometheus", backend.url, "--spec", str(spec), "--max-evaluations", "1")
        with serving(tmp / "evidence.db", tmp, TOKENS, args) as served:
            yield served


def test_one_evaluation_of_a_gate_at_a_time(slow: Served) -> None:
    import threading

    results: list[httpx.Response] = []
    first = threading.Thread(target=lambda: results.append(evaluate(slow, "slow-1")))
    first.start()
    time.sleep(0.7)  # the first evaluation now waits on its 2-second query
    again = evaluate(slow, "slow-1")
    other = evaluate(slow, "slow-2")  # --max-evaluations 1: another gate waits its turn too
    first.join()
    assert again.status_code == 429 and again.headers["Retry-After"].isdigit()
    assert other.status_code == 429
    assert results[0].status_code == 200 and results[0].json()["decision"] == "pass"  # 5 > 1
    assert evaluate(slow, "slow-1").status_code == 200  # the slot is free again


# --- the examples, read the way their controllers read them -------------------------------------------------


def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((EXAMPLES / name).read_text(encoding="utf-8")) if d]


def jsonpath(expression: str, document: Any) -> Any:
    """The subset of Kubernetes JSONPath the examples use: ``{$.a.b}`` (a dotted path from the root)."""
    match = re.fullmatch(r"\{\$((?:\.[A-Za-z_][A-Za-z0-9_]*)+)\}", expression)
    assert match, f"outside the tested subset: {expression}"
    for key in match.group(1).split(".")[1:]:
        document = document[key]
    return document


def success(condition: str, result: Any) -> bool:
    """Argo's ``successCondition`` for the one form the example uses: ``result == "literal"``."""
    match = re.fullmatch(r'result == "([^"]*)"', condition)
    assert match, f"outside the tested subset: {condition}"
    return str(result) == match.group(1)  # as text, as older controllers compare it


def substitute(value: Any, args: dict[str, str]) -> Any:
    if isinstance(value, str):
        return re.sub(r"\{\{\s*args\.([A-Za-z0-9_-]+)\s*\}\}", lambda m: args[m.group(1)], value)
    if isinstance(value, dict):
        return {k: substitute(v, args) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, args) for v in value]
    return value


def local(url: str, served: Served) -> str:
    return re.sub(r"^https?://[^/]+", served.url, url)


def test_argo_fixture_shapes_match_the_example(contract_fixtures: Path) -> None:
    """The example uses the same apiVersion/kind and metric fields as Argo's own AnalysisRun fixture."""
    fixture = yaml.safe_load((contract_fixtures / "gates/argo-rollouts/analysisrun.failed.yaml").read_text())
    template = next(d for d in documents("analysis-template.yaml") if d["kind"] == "AnalysisTemplate")
    assert template["apiVersion"] == fixture["apiVersion"]
    theirs, ours = fixture["spec"]["metrics"][0], template["spec"]["metrics"][0]
    assert set(theirs["provider"]["web"]) <= set(ours["provider"]["web"])  # url and jsonPath, and more
    assert {"successCondition", "provider", "name"} <= set(ours)
    canary = documents("flagger-canary.yaml")[0]
    flagger = yaml.safe_load((contract_fixtures / "gates/flagger/istio-canary.yaml").read_text())
    assert (canary["apiVersion"], canary["kind"]) == (flagger["apiVersion"], flagger["kind"])
    for hook in canary["spec"]["analysis"]["webhooks"]:
        assert set(hook) <= {"name", "type", "url", "timeout", "metadata", "muteAlert", "retries"}
        assert hook["type"] in {h["type"] for h in flagger["spec"]["analysis"]["webhooks"]}
        assert all(isinstance(v, str) for v in hook["metadata"].values())  # Flagger's metadata is map[string]string


@pytest.mark.parametrize("service", sorted(ERRORS))
def test_the_analysis_template_reads_the_real_answer(server: tuple[Served, Path], service: str) -> None:
    served, db = server
    _, verdict = expected(service)
    template = next(d for d in documents("analysis-template.yaml") if d["kind"] == "AnalysisTemplate")
    args = {a["name"]: a.get("value", "") for a in template["spec"]["args"]}
    args.update({"gatepack-token": EVALUATE, "service": service, "release": "1.4.0"})
    metric = template["spec"]["metrics"][0]
    web = substitute(metric["provider"]["web"], args)
    assert re.search(r"/api/v1/gates/canary-errors/evaluate\?format=argo$", web["url"])
    headers = {h["key"]: h["value"] for h in web["headers"]}
    answer = httpx.request(
        web["method"], local(web["url"], served), headers=headers, content=json.dumps(web["jsonBody"]), timeout=60
    )
    assert answer.status_code == 200, answer.text
    result = jsonpath(web["jsonPath"], answer.json())
    assert success(metric["successCondition"], result) is (verdict == "pass")
    assert stored(db)[answer.json()["digest"]] == ("canary-errors", verdict)


@pytest.mark.parametrize("service", sorted(ERRORS))
def test_the_flagger_webhooks_get_the_real_answer(server: tuple[Served, Path], service: str) -> None:
    served, _ = server
    _, verdict = expected(service)
    canary = documents("flagger-canary.yaml")[0]
    for hook in canary["spec"]["analysis"]["webhooks"]:
        assert re.search(r"/api/v1/gates/canary-errors/evaluate\?format=flagger$", hook["url"])
        metadata = {**hook["metadata"], "token": EVALUATE, "var.service": service}
        payload = {  # what Flagger posts: CanaryWebhookPayload, with no headers but Content-Type
            "name": canary["metadata"]["name"],
            "namespace": canary["metadata"]["namespace"],
            "phase": "Progressing",
            "checksum": "5f6b7c",
            "metadata": metadata,
        }
        answer = httpx.post(
            local(hook["url"], served),
            content=json.dumps(payload),
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        flagger_passes = answer.status_code <= 202  # pkg/controller/webhook.go: StatusCode > 202 is an error
        assert flagger_passes is (verdict == "pass"), answer.text
        assert answer.json()["verdict"] == verdict
    refused = httpx.post(local(hook["url"], served), content=json.dumps({"metadata": {}}), timeout=30)
    assert refused.status_code == 401


# --- POST /api/v1/packets with the kept responses (collect --keep-responses) ------------------------------


@pytest.fixture(scope="module")
def kept_packet(tmp_path_factory: pytest.TempPathFactory, prometheus: Any, specs: Path) -> Path:
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("kept")
    command = [sys.executable, "-m", "collector.cli", "collect", str(specs), "--gate", "canary-checkout"]
    command += ["--prometheus", prometheus.url, "--keep-responses", "-o", str(out), "-q"]
    ran = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    (packet,) = out.glob("canary-checkout-*.json")
    return packet


def post_upload(served: Served, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{served.url}/api/v1/packets", content=body, headers={"Authorization": f"Bearer {WRITE}"}, timeout=30
    )


def stored_responses(db: Path) -> dict[str, bytes]:
    import gzip

    with sqlite3.connect(db) as connection:
        return {s: gzip.decompress(b) for s, b in connection.execute("SELECT sha256, body_gz FROM gatepack_responses")}


def test_post_accepts_a_packet_with_its_kept_responses(server: tuple[Served, Path], kept_packet: Path) -> None:
    import base64
    import hashlib

    from collector.server.upload import upload_body

    served, db = server
    body = json.loads(upload_body(kept_packet))
    document = json.loads(kept_packet.read_text())
    named = set(response_digests(document))
    files = [kept_packet.parent / "responses" / f"{sha}.json.gz" for sha in sorted(named)]
    assert named and all(f.exists() for f in files) and set(body["responses"]) == named
    sha = next(iter(body["responses"]))
    tampered = {**body, "responses": {**body["responses"], sha: base64.b64encode(b"\x1f\x8b not gzip").decode()}}
    assert post_upload(served, json.dumps(tampered).encode()).status_code == 422
    assert document["digest"]["value"] not in stored(db)  # nothing stored on a rejection
    import gzip

    stray_body = b'{"status":"success","data":{"resultType":"vector","result":[]}}'
    stray = hashlib.sha256(stray_body).hexdigest()
    extra = {**body, "responses": {**body["responses"], stray: base64.b64encode(gzip.compress(stray_body)).decode()}}
    assert post_upload(served, json.dumps(extra).encode()).status_code == 422
    answer = post_upload(served, json.dumps(body).encode())
    assert answer.status_code == 201, answer.text
    assert answer.json()["digest"] == document["digest"]["value"]
    kept = stored_responses(db)
    for path in files:  # each body is in the store, and hashes to its name
        sha = path.name.removesuffix(".json.gz")
        assert hashlib.sha256(kept[sha]).hexdigest() == sha
    assert stray not in kept
