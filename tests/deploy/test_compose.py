"""deploy/compose: the local stack parses and is wired as the service expects."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from service.config.settings import Settings
from tests.deploy.files import COMPOSE, ROOT, load, names_read_by_service

RULES = ROOT / "deploy" / "prometheus" / "rules" / "ach-risk.rules.yml"
GRAFANA = ROOT / "deploy" / "grafana"

HEALTHY = {"condition": "service_healthy"}


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    found: dict[str, Any] = load(COMPOSE / "compose.yaml")["services"]
    return found


def test_the_stack(services: dict[str, Any]) -> None:
    assert set(services) == {
        "ach-risk",
        "emulator",
        "postgres",
        "prometheus",
        "grafana",
    }
    assert services["postgres"]["image"].startswith("postgres:16")
    for name in ("ach-risk", "emulator"):
        build = services[name]["build"]
        assert (COMPOSE / build["context"] / build["dockerfile"]).resolve() == (
            ROOT / "Dockerfile"
        )


def test_every_server_has_a_healthcheck(services: dict[str, Any]) -> None:
    tests = {
        n: s["healthcheck"]["test"] for n, s in services.items() if "healthcheck" in s
    }
    assert set(tests) == {"ach-risk", "emulator", "postgres"}
    assert tests["ach-risk"] == ["CMD", "ach-risk", "health"]
    assert tests["postgres"][:2] == ["CMD", "pg_isready"]
    assert "http://127.0.0.1:8089/_emulator/calls" in " ".join(tests["emulator"])


def test_start_order_waits_for_health(services: dict[str, Any]) -> None:
    assert services["ach-risk"]["depends_on"] == {
        "postgres": HEALTHY,
        "emulator": HEALTHY,
    }
    assert services["prometheus"]["depends_on"] == {"ach-risk": HEALTHY}
    assert services["grafana"]["depends_on"] == {
        "prometheus": {"condition": "service_started"}
    }


def test_the_service_talks_to_the_emulator_and_postgres(
    services: dict[str, Any],
) -> None:
    env = services["ach-risk"]["environment"]
    assert env["PLAID_ENV"] == "emulator"
    assert env["PLAID_BASE_URL"] == "http://emulator:8089"
    assert services["emulator"]["command"] == ["emulator", "--listen", "0.0.0.0:8089"]
    assert env["ACH_RISK_DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in env["ACH_RISK_DATABASE_URL"]
    assert set(env) <= names_read_by_service(), set(env) - names_read_by_service()


def test_the_service_accepts_the_compose_environment(
    services: dict[str, Any],
) -> None:
    service = services["ach-risk"]
    env = dict(service["environment"])
    (mount,) = service["volumes"]
    source, target, _ = mount.split(":")
    assert env["ACH_RISK_API_KEYS_FILE"] == target
    env["ACH_RISK_API_KEYS_FILE"] = str(COMPOSE / source)
    env["ACH_RISK_LISTEN"] = "0.0.0.0:50051"  # the image's ENV
    settings = Settings.from_environ(env, metrics_listen="0.0.0.0:9464")
    assert settings.plaid.base_url == "http://emulator:8089"
    assert settings.server.api_key_hashes is not None
    assert "compose" in settings.server.api_key_hashes.values()
    assert not settings.state.development_fingerprint_key


def test_prometheus_scrapes_the_service() -> None:
    config = load(COMPOSE / "prometheus.yml")
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"] == [{"targets": ["ach-risk:9464"]}]


def mounts(service: dict[str, Any]) -> dict[str, Path]:
    """A service's bind mounts: the path in the container -> the file or folder here."""
    found = {}
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        if source.startswith("."):
            found[target] = (COMPOSE / source).resolve()
    return found


def test_every_mounted_path_exists(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for target, source in mounts(service).items():
            assert source.exists(), f"{name}: {source} (for {target}) does not exist"


def test_prometheus_loads_the_alerting_rules(services: dict[str, Any]) -> None:
    config = load(COMPOSE / "prometheus.yml")
    mounted = mounts(services["prometheus"])
    assert config["rule_files"], "no rule_files"
    for rule_file in config["rule_files"]:
        assert mounted.get(rule_file) == RULES, rule_file
    assert mounted["/etc/prometheus/prometheus.yml"] == COMPOSE / "prometheus.yml"


def test_grafana_is_pinned_local_and_provisioned(services: dict[str, Any]) -> None:
    grafana = services["grafana"]
    image, _, tag = grafana["image"].partition(":")
    assert image == "grafana/grafana"
    assert re.fullmatch(r"\d+\.\d+\.\d+", tag), "pin an exact Grafana version"
    assert grafana["ports"] == ["127.0.0.1:3000:3000"]
    env = grafana["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    mounted = mounts(grafana)
    provisioning = "/etc/grafana/provisioning/"
    assert mounted[provisioning + "datasources"] == GRAFANA / "provisioning/datasources"
    assert mounted[provisioning + "dashboards"] == GRAFANA / "provisioning/dashboards"

    (datasource,) = load(GRAFANA / "provisioning/datasources/prometheus.yaml")[
        "datasources"
    ]
    assert datasource["type"] == "prometheus"
    prometheus_port = services["prometheus"]["ports"][0].rsplit(":", 1)[1]
    assert datasource["url"] == f"http://prometheus:{prometheus_port}"

    (provider,) = load(GRAFANA / "provisioning/dashboards/ach-risk.yaml")["providers"]
    dashboards = mounted[provider["options"]["path"]]
    assert (dashboards / "ach-risk.json").is_file()
    home = env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    folder, _, file = home.rpartition("/")
    assert (mounted[folder] / file).is_file()
