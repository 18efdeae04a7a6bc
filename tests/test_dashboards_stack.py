"""The dev stack serves the shipped dashboards: compose mounts, Grafana provisioning and Prometheus config agree.

Docker is not available here, so the files are checked for what would break ``docker compose up``:
a mounted path that does not exist, a provisioning path that is not where the dashboards are
mounted, a published port open beyond loopback, an unpinned image, a Prometheus config that
``promtool`` rejects.
"""

from __future__ import annotations

import subprocess
import sys

import yaml

from collector.testing.promserver import find_binary
from slo.generate.dashboards import OVERVIEW_FILE
from tests.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"


def mounts(service: str) -> dict[str, str]:
    """Container path → host path of a service's bind mounts."""
    result = {}
    for volume in COMPOSE["services"][service].get("volumes", []):
        host, container, *_ = volume.split(":")
        if host.startswith("."):
            result[container] = host
    return result


def test_every_bind_mount_exists():
    for name in COMPOSE["services"]:
        for host in mounts(name).values():
            assert (ROOT / host).exists(), f"{name} mounts missing {host}"


def test_grafana_provisions_the_shipped_dashboards_from_where_compose_mounts_them():
    grafana = mounts("grafana")
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "gatepack.yml").read_text())["providers"]
    assert grafana["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    for provider in providers:
        assert provider["type"] == "file"
        host = grafana[provider["options"]["path"]]
        assert (ROOT / host / OVERVIEW_FILE).is_file()
        assert len(list((ROOT / host).glob("*.json"))) >= 13
    home = COMPOSE["services"]["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{providers[0]['options']['path']}/{OVERVIEW_FILE}"


def test_the_default_datasource_is_the_compose_prometheus():
    sources = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())["datasources"]
    default = next(s for s in sources if s.get("isDefault"))
    assert default["type"] == "prometheus"  # what every dashboard's `datasource` variable selects
    assert default["url"] == "http://prometheus:9090" and "prometheus" in COMPOSE["services"]


def test_ports_are_loopback_only_images_pinned_and_healthchecked():
    for name, service in COMPOSE["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), image
        assert "healthcheck" in service, name


def test_promtool_accepts_the_mounted_prometheus_config():
    config = ROOT / mounts("prometheus")["/etc/prometheus/prometheus.yml"]
    result = subprocess.run([find_binary("promtool"), "check", "config", str(config)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_stack_runs_the_rules_the_catalog_generates_and_scrapes_the_pushgateway(tmp_path):
    """The dashboards read recording rules and pushed verdicts: the stack must have both, in sync."""
    rules_dir = ROOT / mounts("prometheus")["/etc/prometheus/rules"]
    regenerated = tmp_path / "catalog.yml"
    result = subprocess.run(
        [sys.executable, "-m", "collector.cli", "rules", "-o", str(regenerated)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    shipped = rules_dir / "catalog.yml"
    assert shipped.read_text() == regenerated.read_text(), "regenerate: gatepack rules -o deploy/rules/catalog.yml"
    check = subprocess.run([find_binary("promtool"), "check", "rules", str(shipped)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    config = yaml.safe_load((ROOT / mounts("prometheus")["/etc/prometheus/prometheus.yml"]).read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    [push] = [job for job in config["scrape_configs"] if job["job_name"] == "pushgateway"]
    assert push["honor_labels"] is True and push["static_configs"][0]["targets"] == ["pushgateway:9091"]
