"""Shared fixtures: a real emulator over HTTP and a real gRPC server on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
import structlog
import yaml
from google.type.money_pb2 import Money

from plaid_emulator import RunningEmulator, default_scenario_path, start_emulator
from service._proto.achrisk.v1 import risk_service_pb2 as pb
from service._proto.achrisk.v1 import risk_service_pb2_grpc as pb_grpc
from service.app.ports import SignalSource
from service.config.settings import Settings
from service.main import RunningService, Store, start_service
from service.ops.logs import processors
from service.ops.tracing import Tracing
from tests.store.postgres import postgres_server, postgres_url

__all__ = ["postgres_server", "postgres_url"]  # PostgreSQL fixtures for every package
PACKAGED_CONFIG = Path(__file__).parents[1] / "service" / "config/emulator.toml"


def default_scenario() -> dict[str, Any]:
    """The packaged scenario as a dict, for tests that change it and PUT it back."""
    with default_scenario_path().open() as f:
        loaded: dict[str, Any] = yaml.safe_load(f)
    return loaded


def without_rate_limits(scenario: dict[str, Any] | None = None) -> dict[str, Any]:
    """`scenario` (the packaged one by default) with Plaid's rate limits off.

    The emulator enforces Plaid's documented limits by default (20 evaluations a second
    per client, 70 an hour per Item, 5 balance gets a minute per Item). A test that sends
    more at once to one Item measures the service (batching, draining, replicas,
    throughput), not Plaid's quota: it runs on this, and says why where it does.
    """
    return (scenario or default_scenario()) | {"rate_limits": {"enabled": False}}


def scenario_file(where: Path, scenario: dict[str, Any]) -> Path:
    """`scenario` written as YAML under `where`, for an emulator process."""
    path = where / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return path


@dataclass
class EmulatorAdmin:
    """The emulator's admin API, as a test uses it."""

    url: str
    http: aiohttp.ClientSession

    async def calls(self) -> list[dict[str, Any]]:
        async with self.http.get(f"{self.url}/_emulator/calls") as response:
            body: dict[str, Any] = await response.json()
            return list(body["calls"])

    async def call_for(self, txid: str) -> dict[str, Any]:
        matching = [c for c in await self.calls() if c["client_transaction_id"] == txid]
        assert len(matching) == 1, matching
        return matching[0]

    async def put_scenario(self, scenario: Mapping[str, Any]) -> None:
        async with self.http.put(f"{self.url}/_emulator/scenario", json=scenario) as r:
            assert r.status == 200, await r.text()

    async def fault(self, **fault: Any) -> None:
        async with self.http.post(f"{self.url}/_emulator/faults", json=fault) as r:
            assert r.status == 200, await r.text()

    async def reset(self) -> None:
        async with self.http.post(f"{self.url}/_emulator/reset") as r:
            assert r.status == 200


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    running = await start_emulator()
    yield running
    await running.close()


@pytest.fixture
async def admin(emulator: RunningEmulator) -> AsyncIterator[EmulatorAdmin]:
    async with aiohttp.ClientSession() as http:
        yield EmulatorAdmin(emulator.url, http)


@dataclass
class Harness:
    """A started service wired to the test's emulator, with a gRPC stub."""

    service: RunningService
    channel: grpc.aio.Channel
    stub: pb_grpc.RiskDecisionServiceStub


async def start_harness(
    emulator_url: str,
    config: Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    database_url: str,
    signal_source: SignalSource | None = None,
    store: Store | None = None,
    tracing: Tracing | None = None,
) -> Harness:
    """The service as `ach-risk serve` builds it, but for the fakes given."""
    environ = {
        "PLAID_ENV": "emulator",
        "PLAID_BASE_URL": emulator_url,
        "ACH_RISK_DATABASE_URL": database_url,
        "ACH_RISK_METRICS_LISTEN": "127.0.0.1:0",
        **(env or {}),
    }
    settings = Settings.from_environ(
        environ, listen="127.0.0.1:0", config_path=str(config or PACKAGED_CONFIG)
    )
    service = await start_service(
        settings, signal_source=signal_source, store=store, tracing=tracing
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{service.port}")
    return Harness(service, channel, pb_grpc.RiskDecisionServiceStub(channel))


async def stop_harness(harness: Harness) -> None:
    await harness.channel.close()
    await harness.service.stop(grace_s=1.0)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A fresh SQLite ledger per test (modules on both stores override it)."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def both_stores_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh ledger on each store in turn: SQLite, then the embedded PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def packaged_config_plus(where: Path, extra: str) -> Path:
    """The packaged emulator config with `extra` TOML appended, written under `where`."""
    config = where / "config.toml"
    config.write_text(PACKAGED_CONFIG.read_text() + "\n" + extra)
    return config


@pytest.fixture
async def harness(
    emulator: RunningEmulator, database_url: str
) -> AsyncIterator[Harness]:
    running = await start_harness(emulator.url, database_url=database_url)
    yield running
    await stop_harness(running)


def usd(amount: str) -> Money:
    """google.type.Money from a decimal string, exactly."""
    units, _, cents = amount.partition(".")
    nanos = int((cents or "0").ljust(9, "0")) * (-1 if units.startswith("-") else 1)
    return Money(currency_code="USD", units=int(units), nanos=nanos)


_counter = iter(range(1, 1_000_000))


def payment(
    access_token: str = "access-sandbox-checking-ok",
    account_id: str = "checking-ok",
    amount: str = "50.00",
    rail: pb.PaymentRail = pb.PAYMENT_RAIL_ACH_STANDARD,
    ruleset_key: str = "",
    **extra: Any,
) -> pb.EvaluatePaymentRequest:
    """A valid request with a fresh client_transaction_id unless one is given."""
    extra.setdefault("client_transaction_id", f"txn-{next(_counter):06d}")
    return pb.EvaluatePaymentRequest(
        access_token=access_token,
        account_id=account_id,
        amount=usd(amount),
        rail=rail,
        ruleset_key=ruleset_key,
        **extra,
    )


@pytest.fixture(autouse=True)
def production_log_processors() -> None:
    """In-process services log through the same processors as `ach-risk serve` (whose
    tracebacks carry no locals), written to whatever sys.stdout is at the time so that
    pytest captures it; structlog's defaults would print locals, tokens included."""
    structlog.configure(
        processors=processors(console=True), cache_logger_on_first_use=False
    )


# Secrets and PII the tests send; none may appear in anything the code prints or logs.
NEVER_LOGGED = (
    "access-sandbox-",  # access tokens of the default scenario
    "access-probe-",  # the credentials probe's token
    "emulator-secret",  # the Plaid secret in emulator mode
    "secret-xyz",  # the adapter tests' Plaid secret
    "test-api-key-",  # API keys (the fixtures hold only their hashes)
    "ada@example.com",  # user PII sent to Plaid
    "Lovelace",
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Fail any test whose captured output (stdout, stderr, logs) carries a secret."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.failed:
        return  # a failing test's own message may quote its inputs
    for section, text in report.sections:
        leaked = [s for s in NEVER_LOGGED if s in text]
        if leaked:
            report.outcome = "failed"
            report.longrepr = f"{section} contains {leaked}: secrets or PII were logged"
            return


async def scrape(harness: Harness) -> str:
    """The service's Prometheus text."""
    port = harness.service.metrics_port
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        assert response.status == 200
        return await response.text()


def sample(text: str, line_prefix: str) -> float:
    """The value of the first series starting with `line_prefix`; 0 when absent."""
    for line in text.splitlines():
        if line.startswith(line_prefix):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
