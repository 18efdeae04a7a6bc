"""The Docker dev stack, checked without Docker: Compose schema, mounts, configs the services load, the image.

``tests/test_dashboards_stack.py`` covers Prometheus, the Pushgateway and Grafana's dashboards; this file
covers the whole compose file against the Compose specification's JSON schema (vendored by
check-jsonschema), Tempo and the OpenTelemetry Collector wiring, Grafana's Tempo data source and the
Dockerfile gatepack's service builds.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.conftest import ROOT

COMPOSE_FILE = ROOT / "docker-compose.yml"
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"


def compose_validator() -> jsonschema.protocols.Validator:
    """A validator of the schema's own draft (2020-12 today), with format checks on."""
    schema = compose_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def compose_schema() -> dict[str, Any]:
    """The Compose specification schema check-jsonschema vendors (``--builtin-schema vendor.compose-spec``)."""
    schema = resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / "compose-spec.json"
    return json.loads(schema.read_text(encoding="utf-8"))


def bind_mounts(service: str) -> dict[str, str]:
    """Container path → host path of a service's bind mounts (named volumes are skipped)."""
    result = {}
    for volume in SERVICES[service].get("volumes", []):
        host, container, *_ = volume.split(":")
        if host.startswith("."):
            result[container] = host
    return result


def mounted(service: str, container_path: str) -> Path:
    return ROOT / bind_mounts(service)[container_path]


def command_flag(service: str, flag: str) -> str:
    """The value of ``flag=VALUE`` in a service's command list."""
    [value] = [arg.split("=", 1)[1] for arg in SERVICES[service]["command"] if arg.startswith(f"{flag}=")]
    return value


def test_compose_file_is_valid_against_the_compose_specification():
    validator = compose_validator()
    errors = sorted(validator.iter_errors(COMPOSE), key=lambda e: list(e.path))
    assert not errors, [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors]


def test_the_schema_check_catches_a_broken_compose_file():
    """The schema is strict enough to matter: a typo'd key and a wrong type are rejected."""
    validator = compose_validator()
    broken = json.loads(json.dumps(COMPOSE))
    broken["services"]["tempo"]["healthchek"] = broken["services"]["tempo"].pop("healthcheck")
    broken["services"]["grafana"]["ports"] = "127.0.0.1:3000:3000"
    messages = [e.message for e in validator.iter_errors(broken)]
    assert any("healthchek" in m for m in messages), messages
    assert len(messages) >= 2, messages


def test_the_stack_has_every_service_the_issue_names():
    assert {"prometheus", "grafana", "tempo", "pushgateway", "otel-collector", "gatepack"} <= set(SERVICES)


def test_every_bind_mount_exists_and_named_volumes_are_declared():
    declared = set(COMPOSE.get("volumes") or {})
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            host = volume.split(":")[0]
            if host.startswith("."):
                assert (ROOT / host).exists(), f"{name} mounts missing {host}"
            else:
                assert host in declared, f"{name} uses undeclared volume {host}"


def test_published_ports_are_loopback_only_and_images_pinned_to_a_version():
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
        image = service["image"]
        tag = image.rsplit(":", 1)[1] if ":" in image else ""
        assert re.fullmatch(r"v?\d+\.\d+\.\d+|dev", tag), f"{name}: {image} is not pinned"
        assert tag != "dev" or "build" in service, f"{name}: only the locally built image may be :dev"
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name


def test_depends_on_waits_for_healthy_services_that_exist():
    for name, service in SERVICES.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in SERVICES, (name, dependency)
            assert condition == {"condition": "service_healthy"}, (name, dependency)
            assert "healthcheck" in SERVICES[dependency], dependency


def test_the_otel_collector_receives_otlp_and_exports_traces_to_tempo():
    config = yaml.safe_load(mounted("otel-collector", "/etc/otelcol/config.yml").read_text(encoding="utf-8"))
    assert command_flag("otel-collector", "--config") == "/etc/otelcol/config.yml"
    pipelines = config["service"]["pipelines"]
    traces = pipelines["traces"]
    for kind in ("receivers", "processors", "exporters"):
        for component in traces.get(kind, []):
            assert component in config[kind], f"traces pipeline uses undefined {kind[:-1]} {component}"
    assert "otlp" in traces["receivers"]
    protocols = config["receivers"]["otlp"]["protocols"]
    published = {str(p).rsplit(":", 1)[1] for p in SERVICES["otel-collector"]["ports"]}
    for protocol in ("grpc", "http"):
        port = protocols[protocol]["endpoint"].rsplit(":", 1)[1]
        assert port in published, f"OTLP {protocol} port {port} not published"
    [exporter] = [config["exporters"][e] for e in traces["exporters"] if e.split("/")[0] == "otlp"]
    host, port = exporter["endpoint"].rsplit(":", 1)
    assert host == "tempo" and "tempo" in SERVICES
    tempo = yaml.safe_load(mounted("tempo", "/etc/tempo/tempo.yml").read_text(encoding="utf-8"))
    tempo_grpc = tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    assert tempo_grpc.rsplit(":", 1)[1] == port, "the collector exports to a port Tempo does not listen on"
    for extension in config["service"].get("extensions", []):
        assert extension in config["extensions"], extension


def test_tempo_config_matches_its_command_published_port_and_volume():
    assert command_flag("tempo", "-config.file") == "/etc/tempo/tempo.yml"
    tempo = yaml.safe_load(mounted("tempo", "/etc/tempo/tempo.yml").read_text(encoding="utf-8"))
    http_port = str(tempo["server"]["http_listen_port"])
    assert any(str(p).endswith(f":{http_port}") for p in SERVICES["tempo"]["ports"])
    assert f":{http_port}/ready" in SERVICES["tempo"]["healthcheck"]["test"][-1]
    data_volume = {v.split(":")[1] for v in SERVICES["tempo"]["volumes"] if not v.startswith(".")}
    storage = tempo["storage"]["trace"]
    for path in (storage["wal"]["path"], storage["local"]["path"]):
        assert any(path.startswith(f"{mount}/") for mount in data_volume), f"{path} is not on a volume"


def test_grafana_provisions_a_tempo_datasource_pointing_at_the_tempo_service():
    sources = []
    for path in sorted((PROVISIONING / "datasources").glob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert document["apiVersion"] == 1, path
        sources.extend(document["datasources"])
    uids = [s["uid"] for s in sources]
    assert len(uids) == len(set(uids)), uids
    assert sum(bool(s.get("isDefault")) for s in sources) == 1
    [tempo] = [s for s in sources if s["type"] == "tempo"]
    tempo_port = yaml.safe_load(mounted("tempo", "/etc/tempo/tempo.yml").read_text())["server"]["http_listen_port"]
    assert tempo["url"] == f"http://tempo:{tempo_port}"
    for link in tempo.get("jsonData", {}).values():
        if isinstance(link, dict) and "datasourceUid" in link:
            assert link["datasourceUid"] in uids, link
    assert "tempo" in SERVICES["grafana"]["depends_on"]


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and backslash continuations joined."""
    joined = re.sub(r"\\\n", " ", text)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            result.append((instruction.upper(), arguments.strip()))
    return result


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_dockerfile_builds_gatepack_from_python_slim_as_a_non_root_user():
    build = SERVICES["gatepack"]["build"]
    steps = dockerfile_instructions((ROOT / build["context"] / build["dockerfile"]).read_text(encoding="utf-8"))
    [base] = [args for op, args in steps if op == "FROM"]
    assert re.fullmatch(r"python:3\.11-slim", base), base
    assert any(op == "RUN" and "pip install ." in args for op, args in steps)
    users = [args for op, args in steps if op == "USER"]
    assert users and users[-1] not in ("root", "0"), users
    [entrypoint] = [json.loads(args) for op, args in steps if op == "ENTRYPOINT"]
    assert entrypoint == ["gatepack"]
    assert SERVICES["gatepack"]["healthcheck"]["test"][1] == "gatepack"


def test_dockerfile_copy_sources_exist_and_are_not_dockerignored():
    build = SERVICES["gatepack"]["build"]
    context = ROOT / build["context"]
    steps = dockerfile_instructions((context / build["dockerfile"]).read_text(encoding="utf-8"))
    ignored = {p.rstrip("/") for p in dockerignore_patterns()}
    copies = [shlex.split(args) for op, args in steps if op == "COPY"]
    assert copies
    sources = [source for *sources, _destination in copies for source in sources if not source.startswith("--")]
    for source in sources:
        assert (context / source).exists(), f"COPY {source}: not in the build context"
        assert source.rstrip("/").removeprefix("./") not in ignored, f"COPY {source} is excluded by .dockerignore"
    # what `pip install .` needs: the project file, the readme it names and every wheel package
    pyproject = (context / "pyproject.toml").read_text(encoding="utf-8")
    [packages] = re.findall(r"^packages = (\[.*\])$", pyproject, flags=re.MULTILINE)
    needed = {"pyproject.toml", "README.md", *json.loads(packages)}
    copied = {source.rstrip("/").removeprefix("./") for source in sources}
    assert needed <= copied, needed - copied


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_service_healthcheck_probes_its_own_published_port_or_runs_a_command(service):
    check = SERVICES[service]["healthcheck"]["test"]
    urls = [arg for arg in check if arg.startswith("http://")]
    published = {str(p).rsplit(":", 1)[1] for p in SERVICES[service].get("ports", [])}
    for url in urls:
        assert url.startswith("http://127.0.0.1:"), url
        assert url.split(":")[2].split("/")[0] in published, (service, url)


def test_check_jsonschema_cli_accepts_the_compose_file():
    """The same check a user runs: ``check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml``."""
    cli = Path(sys.executable).parent / "check-jsonschema"
    ran = subprocess.run(
        [str(cli), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)], capture_output=True, text=True
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
