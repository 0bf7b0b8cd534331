"""deploy/compose: the local stack parses and is wired as the service expects."""

from __future__ import annotations

from typing import Any

import pytest

from service.config.settings import Settings
from tests.deploy.files import COMPOSE, ROOT, load, names_read_by_service

HEALTHY = {"condition": "service_healthy"}


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    found: dict[str, Any] = load(COMPOSE / "compose.yaml")["services"]
    return found


def test_the_stack(services: dict[str, Any]) -> None:
    assert set(services) == {"ach-risk", "emulator", "postgres", "prometheus"}
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
